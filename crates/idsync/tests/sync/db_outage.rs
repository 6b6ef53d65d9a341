//! The database goes away: webhooks get 503, the provider's retry lands
//! after it is back, nothing is lost.

use idsync_emulator::ProviderKind;

use crate::common::*;

#[tokio::test]
async fn database_down_answers_503_and_the_retry_lands() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    let s = sender(&server, "main", &emu);
    for _ in 0..5 {
        emu.create_user();
    }
    let events = emu.take_events();
    deliver_all(&s, &events[..2]).await;

    db.pool.close().await;
    db.server.stop().await.unwrap();
    for e in &events[2..] {
        let status = s.send(e).await.unwrap();
        assert_eq!(status.as_u16(), 503, "webhook while the database is down");
    }
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "the process itself is fine");

    db.server.restart().await.unwrap();
    // The provider retries the failed messages (same svix-id).
    deliver_all(&s, &events[2..]).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    assert_mirrors(&pool, "neon_identity.users_sync", &emu).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM idsync.deliveries").await,
        5
    );
}
