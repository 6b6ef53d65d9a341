//! Several idsync processes on one database.

use futures::StreamExt;
use idsync_emulator::ProviderKind;

use crate::common::*;

#[tokio::test]
async fn two_servers_share_the_webhook_load_and_converge() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let a = serve(&cfg).await;
    let b = serve(&cfg).await;
    for _ in 0..300 {
        emu.random_change();
        emu.advance_clock(chrono::Duration::milliseconds(3));
    }
    let events = emu.take_events();
    let (sa, sb) = (sender(&a, "main", &emu), sender(&b, "main", &emu));
    // Every event goes to both replicas at once, as a retry racing its
    // original would.
    let statuses: Vec<u16> = futures::stream::iter(events.iter())
        .map(|e| {
            let (sa, sb) = (&sa, &sb);
            async move {
                let (x, y) = tokio::join!(sa.send(e), sb.send(e));
                [x.unwrap().as_u16(), y.unwrap().as_u16()]
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_mirrors(&db.pool, "neon_identity.users_sync", &emu).await;
    let outcomes: Vec<(String, i64)> =
        sqlx::query_as("SELECT outcome, count(*) FROM idsync.deliveries GROUP BY 1 ORDER BY 1")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let total: i64 = outcomes.iter().map(|o| o.1).sum();
    assert_eq!(total, 300, "each message recorded once: {outcomes:?}");
}

#[tokio::test]
async fn reconcile_runs_on_one_process_at_a_time() {
    let db = postgres().await;
    // 5 pages at one request a second: a pass of several seconds.
    let emu = slow_emulator(ProviderKind::StackAuth, 1_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["migrate"]).await.status.success());
    let path = cfg.path();
    let (first, second) = tokio::join!(cli(&path, &["reconcile"]), async {
        // Start the second once the first holds the lock and is listing.
        let running =
            "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'reconcile' AND status = 'running'";
        wait_for_count(&db.pool, running, 1).await;
        cli(&path, &["reconcile"]).await
    });
    let outs = [first, second];
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "exactly one reconcile ran");
    let refused = outs.iter().find(|o| !o.status.success()).unwrap();
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("already running"), "{msg}");
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'reconcile'"
        )
        .await,
        1
    );
    // The lock is released afterwards: a later pass runs.
    assert!(cli(&cfg.path(), &["reconcile"]).await.status.success());
}
