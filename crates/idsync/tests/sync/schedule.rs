//! The reconcile schedule lives in the database, shared by replicas and
//! kept across restarts.

use idsync_emulator::ProviderKind;

use crate::common::*;

const RECONCILES: &str =
    "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'reconcile' AND status = 'completed'";

/// A server started when the last listing is older than the interval
/// reconciles at once, instead of an interval after its own start (so
/// replicas restarted more often than the interval still reconcile).
#[tokio::test]
async fn an_overdue_reconcile_runs_at_start() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 20).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());
    // The backfill (the last full listing) finished two hours ago.
    sqlx::query(
        "UPDATE idsync.sync_runs SET started_at = now() - interval '2 hours',
                finished_at = now() - interval '2 hours'",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let _server = serve_owning(
        cfg,
        &[(
            "IDSYNC_CONNECTIONS__MAIN__RECONCILE_INTERVAL",
            "1h".to_owned(),
        )],
    )
    .await;
    wait_for_count(&db.pool, RECONCILES, 1).await;
    // That pass is now the last listing: the next is an hour away.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'reconcile'"
        )
        .await,
        1
    );
}

/// Moves every run of the connection two hours into the past.
async fn age_runs(pool: &sqlx::PgPool) {
    sqlx::query(
        "UPDATE idsync.sync_runs SET started_at = started_at - interval '2 hours',
                finished_at = finished_at - interval '2 hours'",
    )
    .execute(pool)
    .await
    .unwrap();
}

fn runs_of(kind: &str) -> String {
    format!("SELECT count(*) FROM idsync.sync_runs WHERE kind = '{kind}' AND status = 'completed'")
}

/// For Okta, an overdue round is incremental while a full pass completed
/// within `full_reconcile_interval`, and full once none did.
#[tokio::test]
async fn serve_reconciles_okta_incrementally_between_full_passes() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 20).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());
    assert!(cli(&cfg.path(), &["reconcile"]).await.status.success());
    age_runs(&db.pool).await;

    let hourly = |full: &str| {
        vec![
            (
                "IDSYNC_CONNECTIONS__MAIN__RECONCILE_INTERVAL",
                "1h".to_owned(),
            ),
            (
                "IDSYNC_CONNECTIONS__MAIN__FULL_RECONCILE_INTERVAL",
                full.to_owned(),
            ),
        ]
    };
    // The full pass started two hours ago, within a day.
    let server = serve_at(&cfg.path(), &hourly("24h")).await;
    wait_for_count(&db.pool, &runs_of("incremental_reconcile"), 1).await;
    drop(server);
    assert_eq!(count(&db.pool, &runs_of("reconcile")).await, 1);

    // Two hours later, with full passes hourly: this one is full.
    age_runs(&db.pool).await;
    let _server = serve_at(&cfg.path(), &hourly("1h")).await;
    wait_for_count(&db.pool, &runs_of("reconcile"), 2).await;
    assert_eq!(count(&db.pool, &runs_of("incremental_reconcile")).await, 1);
}
