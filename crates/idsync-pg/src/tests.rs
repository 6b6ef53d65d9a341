//! These start real servers: they need PostgreSQL installed (see the crate docs).

use std::time::Instant;

use super::*;

/// `RUST_LOG=idsync_pg=debug cargo test -p idsync-pg -- --nocapture` shows
/// what the crate does.
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

async fn select_1(pg: &PgServer) -> Result<String, PgError> {
    pg.psql("postgres", "select 1").await
}

#[test]
fn encodes_database_names() {
    assert_eq!(percent_encode("idsync_test-1"), "idsync_test-1");
    assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
}

#[tokio::test]
async fn temp_server_stop_restart_and_cleanup() {
    init_logs();
    let t = Instant::now();
    let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
    eprintln!("temp server started in {:?}", t.elapsed());
    assert_eq!(select_1(&pg).await.unwrap(), "1");
    assert_eq!(
        pg.url(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port())
    );
    let data_dir = pg.data_dir().to_path_buf();
    assert!(data_dir.join("PG_VERSION").exists());

    pg.psql(
        "postgres",
        "create table t(x int); insert into t values (42)",
    )
    .await
    .unwrap();
    pg.stop().await.unwrap();
    assert!(select_1(&pg).await.is_err(), "server should be down");
    pg.stop().await.unwrap(); // idempotent

    let t = Instant::now();
    pg.restart().await.unwrap();
    eprintln!("restarted in {:?}", t.elapsed());
    assert_eq!(pg.psql("postgres", "select x from t").await.unwrap(), "42");
    // Restart while running: stops and starts again, same port.
    let port = pg.port();
    pg.restart().await.unwrap();
    assert_eq!(pg.port(), port);
    assert_eq!(select_1(&pg).await.unwrap(), "1");

    let root = data_dir.parent().unwrap().to_path_buf();
    drop(pg);
    assert!(!data_dir.exists(), "data dir should be removed on drop");
    assert!(!root.exists(), "temp root should be removed on drop");
    // Nothing listens any more.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn two_servers_at_once() {
    let (a, b) = tokio::join!(
        PgServer::start(PgOptions::temporary()),
        PgServer::start(PgOptions::temporary())
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    a.psql("postgres", "create table only_in_a(x int)")
        .await
        .unwrap();
    assert_eq!(
        a.psql(
            "postgres",
            "select count(*) from pg_tables where tablename = 'only_in_a'"
        )
        .await
        .unwrap(),
        "1"
    );
    assert_eq!(
        b.psql(
            "postgres",
            "select count(*) from pg_tables where tablename = 'only_in_a'"
        )
        .await
        .unwrap(),
        "0"
    );
    // Stopping one leaves the other alone.
    a.stop().await.unwrap();
    assert_eq!(select_1(&b).await.unwrap(), "1");
}

#[tokio::test]
async fn create_database_and_settings() {
    let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
    let url = pg.create_database("idsync test").await.unwrap();
    assert_eq!(url, pg.url_for("idsync test"));
    assert!(url.ends_with("/idsync%20test"));
    assert_eq!(
        pg.psql("idsync test", "select current_database()")
            .await
            .unwrap(),
        "idsync test"
    );
    assert!(matches!(
        pg.create_database("idsync test").await,
        Err(PgError::CommandFailed { .. })
    ));
    let settings = pg
        .psql(
            "postgres",
            "select string_agg(name || '=' || setting, ',' order by name) from pg_settings \
             where name in ('fsync', 'listen_addresses', 'max_connections', \
             'server_encoding', 'unix_socket_directories')",
        )
        .await
        .unwrap();
    assert_eq!(
        settings,
        "fsync=off,listen_addresses=127.0.0.1,max_connections=200,\
         server_encoding=UTF8,unix_socket_directories="
    );
}

#[tokio::test]
async fn persistent_server_keeps_data_and_refuses_a_second_start() {
    let root = tempfile::tempdir().unwrap();
    if env::env().await.unwrap().run_as.is_some() {
        // As root, postgres must be able to enter the (0700) temp dir.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = root.path().join(".idsync/pgdata");

    let pg = PgServer::start(PgOptions::persistent(&dir)).await.unwrap();
    assert!(dir.join("PG_VERSION").exists());
    pg.psql(
        "postgres",
        "create table kept(x int); insert into kept values (7)",
    )
    .await
    .unwrap();

    match PgServer::start(PgOptions::persistent(&dir)).await {
        Err(e @ PgError::AlreadyRunning { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("port {}", pg.port())), "{msg}");
        }
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    drop(pg);
    assert!(
        dir.join("PG_VERSION").exists(),
        "persistent data must survive drop"
    );
    assert!(!dir.join("postmaster.pid").exists());

    // A stale postmaster.pid (crash, then the pid was reused or is gone)
    // must not block the next start. Our own pid is alive but no postmaster.
    std::fs::write(
        dir.join("postmaster.pid"),
        format!(
            "{}\n{}\n0\n5432\n\n127.0.0.1\n0 0\nready\n",
            std::process::id(),
            dir.display()
        ),
    )
    .unwrap();
    let pg = PgServer::start(PgOptions::persistent(&dir)).await.unwrap();
    assert_eq!(
        pg.psql("postgres", "select x from kept").await.unwrap(),
        "7"
    );
}

#[tokio::test]
async fn refuses_a_directory_that_is_not_a_cluster() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("notes.txt"), "hello").unwrap();
    let err = PgServer::start(PgOptions::persistent(root.path()))
        .await
        .unwrap_err();
    assert!(matches!(err, PgError::NotADataDir { .. }), "{err}");
}

#[tokio::test]
async fn reports_a_taken_port() {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = PgServer::start(PgOptions::temporary().with_port(port))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PgError::PortInUse { port: p } if p == port),
        "{err}"
    );
}

#[tokio::test]
async fn start_failure_quotes_the_log() {
    let root = tempfile::tempdir().unwrap();
    if env::env().await.unwrap().run_as.is_some() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = root.path().join("pgdata");
    drop(PgServer::start(PgOptions::persistent(&dir)).await.unwrap());
    // Break the config: the server refuses to start and says why in its log.
    let conf = dir.join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nshared_buffers = 'lots'\n");
    std::fs::write(&conf, text).unwrap();
    let err = PgServer::start(PgOptions::persistent(&dir))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, PgError::StartFailed { .. }), "{msg}");
    assert!(msg.contains("shared_buffers"), "{msg}");
}

/// Not an assertion on speed (machines differ); prints the per-start cost.
#[tokio::test]
async fn start_timing() {
    init_logs();
    // Warm the template and discovery.
    drop(PgServer::start(PgOptions::temporary()).await.unwrap());
    let n = 5;
    let t = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
        let started = s.elapsed();
        assert_eq!(select_1(&pg).await.unwrap(), "1");
        drop(pg);
        eprintln!("start {started:?}, start+query+drop {:?}", s.elapsed());
    }
    eprintln!("average start+query+drop: {:?}", t.elapsed() / n);
}

#[test]
fn server_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<PgServer>();
    check::<PgError>();
}

/// Run by `cleanup_after_the_owner_is_killed` in a child process: starts a
/// server, says where, and waits to be killed.
#[tokio::test]
#[ignore = "helper, run by cleanup_after_the_owner_is_killed"]
async fn watchdog_child() {
    if std::env::var_os("IDSYNC_PG_WATCHDOG_CHILD").is_none() {
        return;
    }
    let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
    println!("READY {} {}", pg.port(), pg.data_dir().display());
    tokio::time::sleep(std::time::Duration::from_secs(300)).await;
}

#[test]
fn cleanup_after_the_owner_is_killed() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::watchdog_child",
            "--ignored",
            "--nocapture",
        ])
        .env("IDSYNC_PG_WATCHDOG_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map(Result::unwrap)
        .find(|l| l.starts_with("READY "))
        .expect("child did not start a server");
    let mut parts = line.split_whitespace().skip(1);
    let port: u16 = parts.next().unwrap().parse().unwrap();
    let data_dir = PathBuf::from(parts.next().unwrap());
    assert!(data_dir.join("postmaster.pid").exists());

    // SIGKILL: no destructor runs in the child.
    child.kill().unwrap();
    child.wait().unwrap();

    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while (data_dir.exists() || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        && Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        !data_dir.exists(),
        "watchdog should remove {}",
        data_dir.display()
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "watchdog should stop the server on port {port}"
    );
}
