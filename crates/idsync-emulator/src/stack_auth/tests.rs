use std::collections::HashSet;

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::tests::{per_minute, start};
use crate::{Emulator, ProviderKind};

fn authed(emu: &Emulator, request: RequestBuilder) -> RequestBuilder {
    let config = emu.config();
    request
        .header("X-Stack-Access-Type", "server")
        .header("X-Stack-Project-Id", &config.project_id)
        .header("X-Stack-Secret-Server-Key", &config.api_key)
}

async fn get(emu: &Emulator, path: &str) -> (StatusCode, Value) {
    let response = authed(emu, Client::new().get(format!("{}{path}", emu.base_url())))
        .send()
        .await
        .unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Follows `next_cursor` to the end; returns every id in page order.
async fn list_all(emu: &Emulator, limit: usize, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let cursor_param = cursor.map(|c| format!("&cursor={c}")).unwrap_or_default();
        let (status, page) = get(
            emu,
            &format!("/api/v1/users?limit={limit}{query}{cursor_param}"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["is_paginated"], json!(true));
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page["pagination"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn pagination_covers_every_user_exactly_once() {
    let emu = start(ProviderKind::StackAuth, 10_000, None).await;
    let all = emu.user_ids();
    assert_eq!(all.len(), 10_000);
    let users = emu.users();
    let with = |field: &str| -> HashSet<&str> {
        users
            .iter()
            .filter(|u| u[field] == json!(true))
            .map(|u| u["id"].as_str().unwrap())
            .collect()
    };
    let anonymous = with("is_anonymous");
    assert!((300..800).contains(&anonymous.len()), "{}", anonymous.len());
    // Some sign-ups were restricted by a rule; listed only when asked.
    let restricted = with("is_restricted");
    assert!(restricted.len() > anonymous.len(), "{}", restricted.len());
    assert!(restricted.len() < anonymous.len() + 300);
    assert!(restricted.is_superset(&anonymous));
    for user in &users {
        // Stack's schema: a reason exactly when restricted, and admin
        // details only with an admin restriction.
        assert_eq!(
            user["is_restricted"],
            json!(user["restricted_reason"].is_object())
        );
        if user["restricted_by_admin"] != json!(true) {
            assert!(user["restricted_by_admin_reason"].is_null(), "{user}");
            assert!(
                user["restricted_by_admin_private_details"].is_null(),
                "{user}"
            );
        }
        assert!(user["risk_scores"]["sign_up"]["bot"].as_u64().unwrap() <= 100);
    }
    let signups: Vec<i64> = users
        .iter()
        .map(|u| u["signed_up_at_millis"].as_i64().unwrap())
        .collect();
    assert!(signups.windows(2).all(|w| w[0] < w[1]));
    assert!(*signups.last().unwrap() < emu.now().timestamp_millis());

    assert_eq!(list_all(&emu, 200, "&include_anonymous=true").await, all);
    let visible: Vec<String> = all
        .iter()
        .filter(|id| !restricted.contains(id.as_str()))
        .cloned()
        .collect();
    assert_eq!(list_all(&emu, 200, "").await, visible);
    assert_eq!(
        emu.list_request_count() as usize,
        50 + visible.len().div_ceil(200)
    );
}

#[tokio::test]
async fn descending_order_and_cursor_edge_cases() {
    let emu = start(ProviderKind::StackAuth, 30, None).await;
    let mut newest_first = emu.user_ids();
    newest_first.reverse();
    assert_eq!(
        list_all(&emu, 7, "&include_anonymous=true&desc=true").await,
        newest_first
    );
    let (_, page) = get(&emu, "/api/v1/users?limit=10&include_anonymous=true").await;
    let next = page["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(next, emu.user_ids()[10]);
    assert!(emu.delete_user(&next));
    let (status, page) = get(
        &emu,
        &format!("/api/v1/users?limit=10&include_anonymous=true&cursor={next}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["pagination"]["next_cursor"], Value::Null);

    let (status, body) = get(&emu, "/api/v1/users?cursor=nope").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("SCHEMA_ERROR"))
    );
    let (status, _) = get(&emu, "/api/v1/users?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Without a limit Stack returns everything in one page.
    let (_, page) = get(&emu, "/api/v1/users?include_anonymous=true").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 29);
}

#[tokio::test]
async fn auth_failures_use_stack_known_errors() {
    let emu = start(ProviderKind::StackAuth, 1, None).await;
    let url = format!("{}/api/v1/users", emu.base_url());
    let client = Client::new();
    let config = emu.config().clone();
    let cases = [
        (
            client.get(&url),
            StatusCode::BAD_REQUEST,
            "ACCESS_TYPE_REQUIRED",
        ),
        (
            client
                .get(&url)
                .header("X-Stack-Access-Type", "server")
                .header("X-Stack-Project-Id", &config.project_id),
            StatusCode::UNAUTHORIZED,
            "SERVER_AUTHENTICATION_REQUIRED",
        ),
        (
            client
                .get(&url)
                .header("X-Stack-Access-Type", "server")
                .header("X-Stack-Project-Id", &config.project_id)
                .header("X-Stack-Secret-Server-Key", "ssk_wrong"),
            StatusCode::UNAUTHORIZED,
            "INVALID_SECRET_SERVER_KEY",
        ),
        (
            client
                .get(&url)
                .header("X-Stack-Access-Type", "server")
                .header("X-Stack-Project-Id", "00000000-0000-4000-8000-000000000000")
                .header("X-Stack-Secret-Server-Key", &config.api_key),
            StatusCode::UNAUTHORIZED,
            "INVALID_SECRET_SERVER_KEY",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["x-stack-known-error"], code);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], json!(code));
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let emu = start(ProviderKind::StackAuth, 5, per_minute(3)).await;
    for _ in 0..3 {
        assert_eq!(get(&emu, "/api/v1/users").await.0, StatusCode::OK);
    }
    let response = authed(
        &emu,
        Client::new().get(format!("{}/api/v1/users", emu.base_url())),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], json!("RATE_LIMITED"));
    assert_eq!(emu.list_request_count(), 4);
}

#[tokio::test]
async fn crud_routes_change_users_and_emit_events() {
    let emu = start(ProviderKind::StackAuth, 3, None).await;
    let client = Client::new();
    let base = emu.base_url();
    let response = authed(&emu, client.post(format!("{base}/api/v1/users")))
        .json(&json!({
            "primary_email": "Zoe@Example.com",
            "display_name": "Zoë Ångström",
            "password": "hunter2hunter2",
            "primary_email_auth_enabled": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["primary_email"], json!("zoe@example.com"));
    assert_eq!(user["has_password"], json!(true));
    assert_eq!(user["selected_team"], Value::Null);

    let again = authed(&emu, client.post(format!("{base}/api/v1/users")))
        .json(&json!({ "primary_email": "zoe@example.com", "primary_email_auth_enabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let patched: Value = authed(&emu, client.patch(format!("{base}/api/v1/users/{id}")))
        .json(&json!({ "display_name": "Øyvind Ødegård" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["display_name"], json!("Øyvind Ødegård"));
    assert_eq!(get(&emu, &format!("/api/v1/users/{id}")).await.1, patched);

    let deleted = authed(&emu, client.delete(format!("{base}/api/v1/users/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        deleted.json::<Value>().await.unwrap(),
        json!({ "success": true })
    );
    let (status, body) = get(&emu, &format!("/api/v1/users/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("USER_NOT_FOUND"))
    );

    let events = emu.take_events();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["user.created", "user.updated", "user.deleted"]);
    let bodies: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect();
    assert_eq!(bodies[0], json!({ "type": "user.created", "data": user }));
    assert_eq!(bodies[1]["data"], patched);
    assert_eq!(
        bodies[2],
        json!({ "type": "user.deleted", "data": { "id": id, "teams": [] } })
    );
    assert!(emu.take_events().is_empty());
}

#[tokio::test]
async fn query_filters_and_injected_failures() {
    let emu = start(ProviderKind::StackAuth, 200, None).await;
    let target = emu
        .users()
        .into_iter()
        .find(|u| u["primary_email"].is_string() && u["is_anonymous"] == json!(false))
        .unwrap();
    let email = target["primary_email"].as_str().unwrap().to_uppercase();
    let (_, page) = get(&emu, &format!("/api/v1/users?query={email}")).await;
    let items = page["items"].as_array().unwrap();
    assert!(items.contains(&target));
    let needle = email.to_lowercase();
    assert!(
        items
            .iter()
            .all(|u| u["primary_email"].as_str().unwrap().contains(&needle))
    );

    emu.fail_list_requests_after(Some(1));
    assert_eq!(get(&emu, "/api/v1/users?limit=5").await.0, StatusCode::OK);
    assert_eq!(
        get(&emu, "/api/v1/users?limit=5").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    emu.fail_list_requests_after(None);
    assert_eq!(get(&emu, "/api/v1/users?limit=5").await.0, StatusCode::OK);
    assert_eq!(emu.list_request_count(), 4);
}

#[tokio::test]
async fn read_user_route_answers_the_user_or_user_not_found() {
    let emu = start(ProviderKind::StackAuth, 3, per_minute(4)).await;
    let id = emu.user_ids()[1].clone();
    let url = format!("{}/api/v1/users/{id}", emu.base_url());
    let (status, user) = get(&emu, &format!("/api/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Some(user), emu.user(&id));

    // The same server-key checks as listing.
    let response = Client::new()
        .get(&url)
        .header("X-Stack-Access-Type", "server")
        .header("X-Stack-Project-Id", &emu.config().project_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["x-stack-known-error"],
        "SERVER_AUTHENTICATION_REQUIRED"
    );

    assert!(emu.delete_user(&id));
    let response = authed(&emu, Client::new().get(&url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-stack-known-error"], "USER_NOT_FOUND");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "code": "USER_NOT_FOUND", "error": "User not found." })
    );

    let (status, body) = get(&emu, "/api/v1/users/not-a-uuid").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("SCHEMA_ERROR"))
    );
    // Reads share the rate limit with every other route.
    let (status, body) = get(&emu, &format!("/api/v1/users/{id}")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMITED"))
    );
}

#[tokio::test]
async fn hexclave_headers_and_the_error_status_override() {
    let emu = start(ProviderKind::StackAuth, 3, per_minute(3)).await;
    let config = emu.config();
    let hexclave = |request: RequestBuilder| {
        request
            .header("X-Hexclave-Access-Type", "server")
            .header("X-Hexclave-Project-Id", &config.project_id)
            .header("X-Hexclave-Secret-Server-Key", &config.api_key)
    };
    let url = format!("{}/api/v1/users", emu.base_url());
    let response = hexclave(Client::new().get(&url)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // As the SDKs ask: errors come as 200, the real status in headers.
    let missing = format!("{url}/{}", "00000000-0000-4000-8000-000000000000");
    let response = hexclave(Client::new().get(&missing))
        .header("X-Hexclave-Override-Error-Status", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    for name in ["x-stack-actual-status", "x-hexclave-actual-status"] {
        assert_eq!(headers[name], "404");
    }
    for name in ["x-stack-known-error", "x-hexclave-known-error"] {
        assert_eq!(headers[name], "USER_NOT_FOUND");
    }

    // Without the override the status is the real one.
    let response = Client::new()
        .get(&url)
        .header("X-Hexclave-Access-Type", "server")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["x-hexclave-known-error"],
        "ACCESS_TYPE_WITHOUT_PROJECT_ID"
    );
}

#[tokio::test]
async fn admin_restrictions_country_and_risk_scores() {
    let emu = start(ProviderKind::StackAuth, 0, None).await;
    let client = Client::new();
    let url = format!("{}/api/v1/users", emu.base_url());
    let response = authed(&emu, client.post(&url))
        .json(&json!({ "display_name": "Kai", "country_code": " no " }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    let fields = [
        "is_restricted",
        "restricted_reason",
        "restricted_by_admin",
        "restricted_by_admin_reason",
        "restricted_by_admin_private_details",
        "country_code",
        "risk_scores",
    ];
    assert_eq!(
        fields.map(|f| user[f].clone()),
        [
            json!(false),
            Value::Null,
            json!(false),
            Value::Null,
            Value::Null,
            json!("NO"),
            json!({ "sign_up": { "bot": 0, "free_trial_abuse": 0 } }),
        ]
    );
    let user_url = format!("{url}/{}", user["id"].as_str().unwrap());

    // A reason without the restriction is refused, as Stack's schema does.
    let response = authed(&emu, client.patch(&user_url))
        .json(&json!({ "restricted_by_admin_reason": "spam" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let restrict = json!({
        "restricted_by_admin": true,
        "restricted_by_admin_reason": "spam",
        "restricted_by_admin_private_details": "reported twice",
    });
    let response = authed(&emu, client.patch(&user_url))
        .json(&restrict)
        .send()
        .await
        .unwrap();
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["is_restricted"], json!(true));
    assert_eq!(
        user["restricted_reason"],
        json!({ "type": "restricted_by_administrator" })
    );
    assert_eq!(user["restricted_by_admin_reason"], json!("spam"));
    // Restricted users are listed only when asked for.
    let (_, page) = get(&emu, "/api/v1/users").await;
    assert_eq!(page["items"], json!([]));
    let (_, page) = get(&emu, "/api/v1/users?include_restricted=true").await;
    assert_eq!(page["items"][0]["id"], user["id"]);

    let response = authed(&emu, client.patch(&user_url))
        .json(&json!({ "restricted_by_admin": false }))
        .send()
        .await
        .unwrap();
    let user: Value = response.json().await.unwrap();
    assert_eq!(
        fields.map(|f| user[f].clone())[..5],
        [
            json!(false),
            Value::Null,
            json!(false),
            Value::Null,
            Value::Null
        ]
    );
}
