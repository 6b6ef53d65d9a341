//! An Okta event hook batch with events idsync can never store (a target
//! user id over 255 bytes or with a control character): those events
//! alone are refused and recorded (rule 7); the rest of the batch is
//! taken and refreshed.

use idsync_emulator::ProviderKind;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

const CONNECTION: &str = "okta";

/// An event like `event`, about a user with id `target`.
fn retargeted(event: &Value, uuid: &str, target: &str) -> Value {
    let mut event = event.clone();
    event["uuid"] = json!(uuid);
    event["target"][0]["id"] = json!(target);
    event
}

#[tokio::test]
async fn a_batch_refuses_only_its_unusable_events() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 4).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let ids = emu.user_ids();
    emu.update_user(&ids[0]).unwrap();
    emu.update_user(&ids[1]).unwrap();
    let good: Vec<Value> = emu
        .take_events()
        .iter()
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect();
    assert_eq!(good.len(), 2);
    let long = format!("00u{}", "x".repeat(300));
    let bad = [
        retargeted(&good[0], "bad-long-1", &long),
        retargeted(&good[0], "bad-ctrl-1", "00u\u{1}x"),
    ];
    let post = |events: Vec<Value>| {
        let body = json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
            "data": { "events": events },
        });
        reqwest::Client::new()
            .post(server.webhook_url(CONNECTION))
            .header("authorization", &emu.config().webhook_secret)
            .json(&body)
            .send()
    };

    let resp = post(vec![
        good[0].clone(),
        bad[0].clone(),
        bad[1].clone(),
        good[1].clone(),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["queued"], 2, "{answer}");
    assert_eq!(answer["refused"], 2, "{answer}");

    // The good events' users are refreshed to what Okta has now.
    for id in &ids[..2] {
        let want = emu.user(id).unwrap();
        wait_for(&format!("{id} refreshed"), async || {
            let row: Value =
                sqlx::query_scalar("SELECT raw_json FROM neon_identity.users_sync WHERE id = $1")
                    .bind(id)
                    .fetch_one(&db.pool)
                    .await
                    .unwrap();
            row == want
        })
        .await;
    }
    // The refused ones are recorded with their event ids and reasons, and
    // claimed nowhere.
    wait_for_count(
        &db.pool,
        "SELECT count(*) FROM idsync.errors WHERE connection = 'okta' AND message_id IS NOT NULL",
        2,
    )
    .await;
    let recorded: Vec<(String, String)> = sqlx::query_as(
        "SELECT message_id, message FROM idsync.errors WHERE connection = 'okta' AND message_id IS NOT NULL ORDER BY message_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(recorded[0].0, "bad-ctrl-1");
    assert!(
        recorded[0]
            .1
            .contains("user id contains a control character"),
        "{recorded:?}"
    );
    assert_eq!(recorded[1].0, "bad-long-1");
    assert!(
        recorded[1].1.contains("user id is 303 bytes long"),
        "{recorded:?}"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.deliveries WHERE message_id LIKE 'bad-%'"
        )
        .await,
        0
    );

    // A batch of nothing but unusable events gets a 422, which Okta does
    // not retry.
    let resp = post(bad.to_vec()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
