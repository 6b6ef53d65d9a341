//! Configuration errors stop idsync before it does anything, naming the key.

use std::path::Path;

use crate::common::*;

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("idsync.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn stack(extra: &str) -> String {
    format!(
        "database_url = \"postgres://postgres@127.0.0.1:1/none\"\n[[connections]]\nname = \"main\"\nprovider = \"stack_auth\"\nproject_id = \"p1\"\nsecret_server_key = \"ssk_supersecret123\"\nwebhook_secret = \"{SECRET}\"\n{extra}"
    )
}

#[tokio::test]
async fn bad_configuration_exits_non_zero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            stack("").replace("stack_auth", "okta-ish"),
            "connections[0] (main).provider: unknown provider \"okta-ish\"",
        ),
        (
            stack("").replace("secret_server_key = \"ssk_supersecret123\"\n", ""),
            "connections[0] (main).secret_server_key: missing",
        ),
        (
            stack("schema = \"Public; drop table x\"\n"),
            "connections[0] (main).schema: \"Public; drop table x\" is not a valid SQL identifier",
        ),
        (
            stack("reconcile_interval = \"every hour\"\n"),
            "connections[0] (main).reconcile_interval: \"every hour\" is not a duration",
        ),
        (
            stack("full_reconcile_interval = \"daily\"\n"),
            "connections[0] (main).full_reconcile_interval: \"daily\" is not a duration",
        ),
        (
            format!(
                "{}\n[[connections]]\nname = \"second\"\nprovider = \"clerk\"\nsecret_key = \"sk_test_x\"\nwebhook_secret = \"{SECRET}\"\n",
                stack("")
            ),
            "connections[1] (second): table neon_identity.users_sync is already used by another connection",
        ),
        (
            stack("").replace(SECRET, "not-a-secret"),
            "connections[0] (main).webhook_secret: not a Svix signing secret",
        ),
        (
            stack("colour = \"blue\"\n"),
            "connections[0] (main).colour: not a key of Stack Auth connections (they take: project_id, secret_server_key, webhook_secret, api_url)",
        ),
    ];
    for (text, expected) in cases {
        let path = write(dir.path(), &text);
        let out = cli(&path, &["migrate"]).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted: {text}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
        assert!(
            !stderr.contains("ssk_supersecret123"),
            "secret leaked: {stderr}"
        );
        assert!(
            !stderr.contains("database unavailable") && !stderr.contains("migration failed"),
            "did something before failing: {stderr}"
        );
    }
    let missing = cli(&dir.path().join("nope.toml"), &["migrate"]).await;
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml: no such file"));
}

#[tokio::test]
async fn environment_overrides_the_file_and_secrets_come_from_files() {
    let db = postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("clerk.key");
    std::fs::write(&key_file, "sk_test_fromfile\n").unwrap();
    // Only a name in the file: provider and secrets from the environment.
    let path = write(
        dir.path(),
        "[[connections]]\nname = \"my-clerk\"\nprovider = \"stack_auth\"\n",
    );
    let out = tokio::process::Command::new(bin())
        .args(["--config", path.to_str().unwrap(), "migrate"])
        .env("DATABASE_URL", &db.url)
        .env("IDSYNC_CONNECTIONS__MY_CLERK__PROVIDER", "clerk")
        .env("IDSYNC_CONNECTIONS__MY_CLERK__SECRET_KEY_FILE", &key_file)
        .env("IDSYNC_CONNECTIONS__MY_CLERK__WEBHOOK_SECRET", SECRET)
        .env("IDSYNC_CONNECTIONS__MY_CLERK__TABLE", "clerk_users")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("my-clerk: neon_identity.clerk_users ready")
    );
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('neon_identity.clerk_users') IS NOT NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(exists);
}

#[tokio::test]
async fn delivery_retention_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    for (value, expected) in [
        ("5m", "delivery_retention: \"5m\" is too short"),
        ("a week", "delivery_retention: \"a week\" is not a duration"),
    ] {
        let path = write(
            dir.path(),
            &format!("delivery_retention = \"{value}\"\n{}", stack("")),
        );
        let out = cli(&path, &["migrate"]).await;
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
