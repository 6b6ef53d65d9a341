//! Event hooks registered through the API receive the org's events, as
//! Okta delivers them.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::tests::send;
use crate::tests::start;
use crate::{Emulator, ProviderKind, WebhookTarget};

type Received = mpsc::UnboundedReceiver<(HeaderMap, Bytes)>;

/// An endpoint that answers Okta's verification GET and records each POST.
async fn endpoint() -> (String, Received) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route(
            "/okta",
            get(|headers: HeaderMap| async move {
                let challenge = headers["x-okta-verification-challenge"].to_str().unwrap();
                axum::Json(json!({ "verification": challenge }))
            })
            .post(
                |State(tx): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let _ = tx.send((headers, body));
                },
            ),
        )
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/okta"), rx)
}

async fn register(emu: &Emulator, uri: &str, items: &[&str]) -> String {
    let (status, _, hook) = send(
        emu,
        Method::POST,
        "/api/v1/eventHooks",
        Some(json!({
            "name": "idsync",
            "events": { "type": "EVENT_TYPE", "items": items },
            "channel": {
                "type": "HTTP",
                "version": "1.0.0",
                "config": {
                    "uri": uri,
                    "headers": [{ "key": "X-Other-Header", "value": "other" }],
                    "authScheme": { "type": "HEADER", "key": "Authorization", "value": "hook-secret" },
                },
            },
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hook}");
    hook["id"].as_str().unwrap().to_owned()
}

async fn lifecycle(emu: &Emulator, id: &str, op: &str) -> Value {
    let path = format!("/api/v1/eventHooks/{id}/lifecycle/{op}");
    let (status, _, hook) = send(emu, Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{op}: {hook}");
    hook
}

/// The events of every delivery received until `want` distinct uuids have
/// arrived: (headers, body) per delivery, and the uuids.
async fn receive(rx: &mut Received, want: usize) -> (Vec<(HeaderMap, Value)>, Vec<String>) {
    let mut deliveries = Vec::new();
    let mut uuids = Vec::new();
    while {
        let mut distinct = uuids.clone();
        distinct.sort();
        distinct.dedup();
        distinct.len() < want
    } {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a delivery")
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        for e in body["data"]["events"].as_array().unwrap() {
            uuids.push(e["uuid"].as_str().unwrap().to_owned());
        }
        deliveries.push((headers, body));
    }
    (deliveries, uuids)
}

#[tokio::test]
async fn an_active_verified_hook_gets_its_event_types_until_deactivated() {
    let emu = start(ProviderKind::Okta, 20, None).await;
    let (uri, mut rx) = endpoint().await;
    let id = register(
        &emu,
        &uri,
        &["user.lifecycle.create", "user.account.update_profile"],
    )
    .await;

    // Created ACTIVE but not verified: nothing is delivered yet.
    emu.create_user();
    assert_eq!(emu.registered_deliveries_queued(), 0);
    assert_eq!(
        lifecycle(&emu, &id, "verify").await["verificationStatus"],
        "VERIFIED"
    );

    let ids = emu.user_ids();
    for user in &ids[..10] {
        emu.update_user(user).unwrap();
    }
    // A deletion's events are not among the hook's types.
    emu.delete_user(&ids[10]);
    let events = emu.take_events();
    let wanted: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type == "user.account.update_profile")
        .map(|e| e.msg_id.as_str())
        .collect();
    assert_eq!(wanted.len(), 10);
    assert_eq!(emu.registered_deliveries_queued(), 10);

    let (deliveries, uuids) = receive(&mut rx, 10).await;
    for (headers, body) in &deliveries {
        assert_eq!(headers["authorization"], "hook-secret");
        assert_eq!(headers["x-other-header"], "other");
        assert_eq!(body["eventType"], "com.okta.event_hook");
        assert_eq!(
            body["source"],
            format!("{}/api/v1/eventHooks/{id}", emu.base_url())
        );
    }
    let mut distinct = uuids.clone();
    distinct.sort();
    distinct.dedup();
    let mut expected: Vec<String> = wanted.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(distinct, expected, "exactly the subscribed events");
    // Events close together share a delivery, and some come twice.
    assert!(deliveries.len() < 10, "{} deliveries", deliveries.len());
    assert!(uuids.len() > 10, "no duplicates among {}", uuids.len());

    // An inactive hook gets nothing, and only an inactive one is deleted.
    let path = format!("/api/v1/eventHooks/{id}");
    let (status, _, refused) = send(&emu, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["errorCode"], "E0000006");
    assert_eq!(
        lifecycle(&emu, &id, "deactivate").await["status"],
        "INACTIVE"
    );
    emu.update_user(&ids[0]).unwrap();
    assert_eq!(emu.registered_deliveries_queued(), 10);
    let (status, _, _) = send(&emu, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = send(&emu, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_event_reaches_a_url_once_when_auto_delivery_names_the_hook_too() {
    let emu = start(ProviderKind::Okta, 5, None).await;
    let (uri, mut rx) = endpoint().await;
    let id = register(&emu, &uri, &["user.account.update_profile"]).await;
    lifecycle(&emu, &id, "verify").await;
    let (other, mut other_rx) = crate::tests::receiver().await;
    emu.auto_deliver(Some(WebhookTarget {
        url: uri.clone(),
        secret: "auto-secret".to_owned(),
    }))
    .unwrap();
    let user = emu.user_ids()[0].clone();
    emu.update_user(&user).unwrap();
    let (deliveries, _) = receive(&mut rx, 1).await;
    assert!(
        deliveries
            .iter()
            .all(|(h, _)| h["authorization"] == "hook-secret"),
        "auto-delivery sent it to the hook's URL as well"
    );

    // A different auto-delivery URL still gets every event.
    emu.auto_deliver(Some(WebhookTarget {
        url: other,
        secret: "auto-secret".to_owned(),
    }))
    .unwrap();
    emu.update_user(&user).unwrap();
    let (headers, _) = other_rx.recv().await.unwrap();
    assert_eq!(headers["authorization"], "auto-secret");
    receive(&mut rx, 1).await;
    // Nothing from the auto-delivery reached the hook's URL.
    while let Ok((headers, _)) = rx.try_recv() {
        assert_eq!(headers["authorization"], "hook-secret");
    }
}
