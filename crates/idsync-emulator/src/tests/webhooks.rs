use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use svix::webhooks::Webhook;
use tokio::sync::mpsc;

use super::start;
use crate::{Delivery, ProviderKind, WebhookSender, WebhookTarget, ksuid};

/// A tiny endpoint that passes every delivery to the test.
pub(crate) async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/hook",
            post(
                |State(tx): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let _ = tx.send((headers, body));
                    "ok"
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx)
}

#[tokio::test]
async fn deliveries_verify_with_the_svix_library() {
    let emu = start(ProviderKind::StackAuth, 5, None).await;
    let (url, mut rx) = receiver().await;
    let secret = emu.config().webhook_secret.clone();
    let sender = WebhookSender::new(WebhookTarget {
        url,
        secret: secret.clone(),
    })
    .unwrap();
    emu.create_user();
    let event = emu.take_events().pop().unwrap();
    assert_eq!(sender.send(&event).await.unwrap(), reqwest::StatusCode::OK);

    let (headers, body) = rx.recv().await.unwrap();
    assert_eq!(body, event.body.as_bytes());
    assert_eq!(headers["svix-id"], event.msg_id.as_str());
    assert_eq!(headers["content-type"], "application/json");
    let verifier = Webhook::new(&secret).unwrap();
    verifier.verify(&body, &headers).unwrap();
    let tampered = [&body[..], b" "].concat();
    assert!(verifier.verify(&tampered, &headers).is_err());
}

#[tokio::test]
async fn event_times_come_from_the_emulator_clock() {
    let emu = start(ProviderKind::Clerk, 5, None).await;
    emu.advance_clock(chrono::Duration::minutes(-30));
    let before = emu.now().timestamp();
    emu.create_user();
    emu.advance_clock(chrono::Duration::seconds(1));
    let id = emu.user_ids().pop().unwrap();
    emu.update_user(&id).unwrap();
    let events = emu.take_events();
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(ksuid::timestamp(&event.msg_id), Some(event.created_at));
        assert!(event.msg_id.starts_with("msg_") && event.msg_id.len() == 31);
    }
    assert!((before..=before + 1).contains(&events[0].created_at));
    assert!(events[1].created_at > events[0].created_at);
    assert!(events[0].created_at < chrono::Utc::now().timestamp() - 1700);

    // Silenced changes leave no events behind.
    emu.set_emit_webhooks(false);
    emu.random_change();
    assert!(emu.take_events().is_empty());
}

#[tokio::test]
async fn shuffled_delivery_with_duplicates_sends_every_event() {
    let emu = start(ProviderKind::StackAuth, 20, None).await;
    for _ in 0..30 {
        emu.random_change();
    }
    let events = emu.take_events();
    assert_eq!(events.len(), 30);
    let (url, mut rx) = receiver().await;
    let secret = emu.config().webhook_secret.clone();
    let sender = WebhookSender::new(WebhookTarget { url, secret }).unwrap();
    let outcomes = sender
        .send_all(
            &events,
            Delivery::Shuffled {
                duplicates: 0.3,
                seed: 9,
            },
        )
        .await;
    assert_eq!(outcomes.len(), 39);
    assert!(
        outcomes
            .iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|s| s.is_success()))
    );
    let mut received = Vec::new();
    while let Ok((headers, _)) = rx.try_recv() {
        received.push(headers["svix-id"].to_str().unwrap().to_owned());
    }
    assert_eq!(received.len(), 39);
    assert!(events.iter().all(|e| received.contains(&e.msg_id)));
    let in_order: Vec<&str> = events.iter().map(|e| e.msg_id.as_str()).collect();
    assert_ne!(received[..30], in_order[..]);
}

#[tokio::test]
async fn auto_delivery_sends_each_event_as_it_happens() {
    let emu = start(ProviderKind::Clerk, 3, None).await;
    let (url, mut rx) = receiver().await;
    let secret = emu.config().webhook_secret.clone();
    emu.auto_deliver(Some(WebhookTarget {
        url,
        secret: secret.clone(),
    }))
    .unwrap();
    let id = emu.user_ids()[0].clone();
    assert!(emu.delete_user(&id));
    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    Webhook::new(&secret)
        .unwrap()
        .verify(&body, &headers)
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["type"], "user.deleted");
    assert_eq!(body["data"]["id"], id.as_str());
    // The outbox keeps the event too.
    assert_eq!(emu.take_events().len(), 1);
    emu.auto_deliver(None).unwrap();
    emu.shutdown().await;
}
