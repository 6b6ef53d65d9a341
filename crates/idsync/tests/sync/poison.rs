//! Rule 7 end to end: correctly signed deliveries that Postgres used to
//! refuse on every retry (so the provider got 503 forever) are stored with
//! the offending field cleaned, or refused with a 4xx and its reason.

use idsync_emulator::ProviderKind;
use serde_json::json;

use crate::common::*;

async fn post_signed(server: &Server, secret: &str, id: &str, body: &str) -> reqwest::Response {
    let now = chrono::Utc::now().timestamp();
    let sig = svix::webhooks::Webhook::new(secret)
        .unwrap()
        .sign(id, now, body.as_bytes())
        .unwrap();
    reqwest::Client::new()
        .post(server.webhook_url("main"))
        .header("svix-id", id)
        .header("svix-timestamp", now.to_string())
        .header("svix-signature", sig)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sign_up_time_out_of_range_and_a_nul_event_type_are_stored_cleaned() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let secret = emu.config().webhook_secret.clone();

    let far = json!({"type": "user.created", "data": {
        "id": "u1", "display_name": "Ada", "signed_up_at_millis": -8_000_000_000_000_000_i64}})
    .to_string();
    let resp = post_signed(&server, &secret, "msg_far", &far).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["outcome"],
        "inserted"
    );
    let created: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT created_at FROM neon_identity.users_sync WHERE id = 'u1'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(created, None);

    let nul = json!({"type": "user.updated\u{0}", "data": {"id": "u1"}}).to_string();
    let resp = post_signed(&server, &secret, "msg_nul", &nul).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["outcome"],
        "ignored"
    );
    let logged: String =
        sqlx::query_scalar("SELECT event_type FROM idsync.deliveries WHERE message_id = 'msg_nul'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(logged, "user.updated\u{FFFD}");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM neon_identity.users_sync").await,
        1
    );
    // Both are recorded as stored cleaned, with their reasons.
    let recorded: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, message FROM idsync.errors ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].0, "msg_far");
    assert!(recorded[0].1.contains("created_at out of Postgres's range"));
    assert_eq!(recorded[1].0, "msg_nul");
    assert!(recorded[1].1.contains("event type"));
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("idsync_deliveries_cleaned_total{connection=\"main\"} 2")),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_over_long_message_id_is_refused_with_its_reason_and_recorded() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let secret = emu.config().webhook_secret.clone();

    let id = format!("msg_{}", "x".repeat(3_000));
    let body =
        json!({"type": "user.created", "object": "event", "timestamp": 1_700_000_000_000_i64,
        "data": {"id": "user_1", "updated_at": 1_700_000_000_000_i64}})
        .to_string();
    let resp = post_signed(&server, &secret, &id, &body).await;
    assert_eq!(
        resp.status().as_u16(),
        422,
        "a delivery that can never be stored"
    );
    let error: String = resp.json::<serde_json::Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("delivery refused"), "{error}");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM idsync.deliveries").await,
        0
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM neon_identity.users_sync").await,
        0
    );
    // The refusal is recorded (asynchronously) with a storable id.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let recorded: Option<String> = sqlx::query_scalar(
            "SELECT message_id FROM idsync.errors WHERE connection = 'main' AND message_id IS NOT NULL",
        )
        .fetch_optional(&db.pool)
        .await
        .unwrap();
        if let Some(shown) = recorded {
            assert!(shown.len() < 200, "{shown}");
            assert!(shown.starts_with("msg_xxx"), "{shown}");
            // The admin API lists it among the rejections, with its reason.
            let listed: serde_json::Value = reqwest::Client::new()
                .get(server.url("/api/v1/connections/main/deliveries"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let rejected = &listed["rejected"];
            assert_eq!(
                rejected.as_array().unwrap().len(),
                1,
                "recorded once: {listed}"
            );
            let rejected = &rejected[0];
            assert_eq!(rejected["message_id"], shown.as_str(), "{listed}");
            assert!(
                rejected["message"]
                    .as_str()
                    .unwrap()
                    .contains("3004 bytes long"),
                "{listed}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "refusal not recorded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
