use std::collections::HashSet;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::tests::{per_minute, start};
use crate::{Emulator, ProviderKind};

async fn send(
    emu: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Client::new()
        .request(method, format!("{}{path}", emu.base_url()))
        .bearer_auth(&emu.config().api_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (
        response.status(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn get(emu: &Emulator, path: &str) -> (StatusCode, Value) {
    send(emu, reqwest::Method::GET, path, None).await
}

async fn list_all(emu: &Emulator, order_by: &str) -> Vec<String> {
    let mut ids = Vec::new();
    loop {
        let path = format!(
            "/v1/users?limit=500&offset={}&order_by={order_by}",
            ids.len()
        );
        let (status, page) = get(emu, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let page = page.as_array().unwrap().clone();
        ids.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        if page.len() < 500 {
            return ids;
        }
    }
}

#[tokio::test]
async fn offset_pagination_covers_every_user_exactly_once() {
    let emu = start(ProviderKind::Clerk, 1_200, None).await;
    let all = emu.user_ids();
    assert_eq!(list_all(&emu, "created_at").await, all);
    let mut newest_first = all.clone();
    newest_first.reverse();
    assert_eq!(list_all(&emu, "-created_at").await, newest_first);
    let by_updated = list_all(&emu, "%2Bupdated_at").await;
    assert_eq!(
        by_updated.iter().collect::<HashSet<_>>(),
        all.iter().collect()
    );
    assert_eq!(emu.list_request_count(), 9);

    // Default: 10 users, newest first.
    let (_, page) = get(&emu, "/v1/users").await;
    let page: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, newest_first[..10]);
    assert_eq!(
        get(&emu, "/v1/users/count").await.1,
        json!({ "object": "total_count", "total_count": 1_200 })
    );

    // An update moves the user to the end of +updated_at.
    let first = all[0].clone();
    emu.update_user(&first).unwrap();
    assert_eq!(list_all(&emu, "updated_at").await.last(), Some(&first));
}

#[tokio::test]
async fn seeded_users_are_varied() {
    let emu = start(ProviderKind::Clerk, 1_000, None).await;
    let users = emu.users();
    let no_email = users
        .iter()
        .filter(|u| u["email_addresses"] == json!([]) && u["primary_email_address_id"].is_null())
        .count();
    assert!(no_email > 10, "{no_email}");
    let primary_not_first = users
        .iter()
        .filter(|u| {
            let emails = u["email_addresses"].as_array().unwrap();
            emails.len() >= 2 && emails[0]["id"] != u["primary_email_address_id"]
        })
        .count();
    assert!(primary_not_first > 50, "{primary_not_first}");
    assert!(
        users
            .iter()
            .any(|u| u["first_name"].as_str().is_some_and(|n| !n.is_ascii()))
    );
    assert!(users.iter().any(|u| u["first_name"].is_null()));
    let ids: HashSet<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1_000);
    assert!(
        ids.iter()
            .all(|id| id.starts_with("user_") && id.len() == 32)
    );
    let emails: Vec<&str> = users
        .iter()
        .flat_map(|u| u["email_addresses"].as_array().unwrap())
        .map(|e| e["email_address"].as_str().unwrap())
        .collect();
    assert_eq!(emails.iter().collect::<HashSet<_>>().len(), emails.len());
    // Same seed, same people (ids embed the sign-up time, so they differ).
    let twin = start(ProviderKind::Clerk, 1_000, None).await;
    let names = |users: Vec<Value>| {
        users
            .iter()
            .map(|u| u["first_name"].clone())
            .collect::<Vec<_>>()
    };
    assert!(names(twin.users()) == names(users));
}

#[tokio::test]
async fn auth_and_parameter_errors_use_clerk_errors() {
    let emu = start(ProviderKind::Clerk, 3, None).await;
    let url = format!("{}/v1/users", emu.base_url());
    for request in [
        Client::new().get(&url),
        Client::new().get(&url).bearer_auth("sk_test_wrong"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], json!("authentication_invalid"));
        assert!(body["errors"][0]["long_message"].is_string());
    }
    for query in ["limit=501", "limit=0", "offset=-1", "order_by=email"] {
        let (status, body) = get(&emu, &format!("/v1/users?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(body["errors"][0]["code"].is_string());
    }
    let (status, body) = get(&emu, "/v1/users/user_nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errors"][0]["code"], json!("resource_not_found"));
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let emu = start(ProviderKind::Clerk, 3, per_minute(2)).await;
    assert_eq!(get(&emu, "/v1/users").await.0, StatusCode::OK);
    assert_eq!(get(&emu, "/v1/users/count").await.0, StatusCode::OK);
    let response = Client::new()
        .get(format!("{}/v1/users", emu.base_url()))
        .bearer_auth(&emu.config().api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], json!("too_many_requests"));
}

#[tokio::test]
async fn crud_routes_change_users_and_emit_events() {
    let emu = start(ProviderKind::Clerk, 2, None).await;
    let (status, user) = send(
        &emu,
        reqwest::Method::POST,
        "/v1/users",
        Some(json!({
            "email_address": ["li.lei@example.com", "lei@example.org"],
            "first_name": "雷",
            "last_name": "李",
            "password": "correct horse battery",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(user["object"], json!("user"));
    assert_eq!(
        user["primary_email_address_id"],
        user["email_addresses"][0]["id"]
    );
    assert_eq!(user["password_enabled"], json!(true));
    assert_eq!(user["created_at"], user["updated_at"]);

    let (status, _) = send(
        &emu,
        reqwest::Method::POST,
        "/v1/users",
        Some(json!({ "email_address": ["LEI@example.org"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (status, patched) = send(
        &emu,
        reqwest::Method::PATCH,
        &format!("/v1/users/{id}"),
        Some(json!({ "first_name": "梅梅", "last_name": "韩" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["first_name"], json!("梅梅"));
    assert!(patched["updated_at"].as_i64() > user["updated_at"].as_i64());

    let (status, deleted) = send(
        &emu,
        reqwest::Method::DELETE,
        &format!("/v1/users/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        deleted,
        json!({ "object": "user", "id": id, "deleted": true })
    );

    let events = emu.take_events();
    let bodies: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.body).unwrap())
        .collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["user.created", "user.updated", "user.deleted"]);
    assert_eq!(bodies[0]["data"], user);
    assert_eq!(bodies[1]["data"], patched);
    assert_eq!(bodies[2]["data"], deleted);
    for (event, body) in events.iter().zip(&bodies) {
        assert_eq!(body["object"], json!("event"));
        assert!(body["instance_id"].as_str().unwrap().starts_with("ins_"));
        assert_eq!(
            body["event_attributes"]["http_request"]["client_ip"],
            json!("127.0.0.1")
        );
        assert_eq!(
            body["timestamp"].as_i64().unwrap().div_euclid(1000),
            event.created_at
        );
    }
}

#[tokio::test]
async fn updated_at_strictly_increases_per_user() {
    let emu = start(ProviderKind::Clerk, 1, None).await;
    let id = emu.user_ids()[0].clone();
    // Set the clock back: updated_at must still move forward.
    emu.advance_clock(chrono::Duration::days(-400));
    let mut last = emu.user(&id).unwrap()["updated_at"].as_i64().unwrap();
    for _ in 0..5 {
        let updated = emu.update_user(&id).unwrap()["updated_at"]
            .as_i64()
            .unwrap();
        assert!(updated > last);
        last = updated;
    }
}

#[tokio::test]
async fn read_user_route_answers_the_user_or_resource_not_found() {
    let emu = start(ProviderKind::Clerk, 3, per_minute(3)).await;
    let id = emu.user_ids()[1].clone();
    let (status, user) = get(&emu, &format!("/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Some(user), emu.user(&id));

    let response = Client::new()
        .get(format!("{}/v1/users/{id}", emu.base_url()))
        .bearer_auth("sk_test_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    assert!(emu.delete_user(&id));
    let (status, body) = get(&emu, &format!("/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body["errors"],
        json!([{ "message": "not found", "long_message": "Resource not found", "code": "resource_not_found" }])
    );
    assert!(body["clerk_trace_id"].is_string());

    // Reads share the rate limit with every other route.
    let (status, body) = get(&emu, &format!("/v1/users/{id}")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["errors"][0]["code"], json!("too_many_requests"));
}

#[tokio::test]
async fn users_carry_every_field_the_sdk_models_require() {
    let emu = start(ProviderKind::Clerk, 50, None).await;
    let (_, created) = send(
        &emu,
        reqwest::Method::POST,
        "/v1/users",
        Some(json!({ "email_address": ["kai@example.com"], "password": "correct horse" })),
    )
    .await;
    let required = [
        "mfa_enabled_at",
        "mfa_disabled_at",
        "enterprise_accounts",
        "legal_accepted_at",
        "last_active_at",
        "lockout_expires_in_seconds",
        "verification_attempts_remaining",
    ];
    for user in emu.users() {
        for field in required {
            assert!(user.get(field).is_some(), "{field} missing in {user}");
        }
        for email in user["email_addresses"].as_array().unwrap() {
            assert!(email["created_at"].is_i64() && email["updated_at"].is_i64());
            let verification = &email["verification"];
            // Seeded users verified their addresses with an emailed code.
            let expected = if user["id"] == created["id"] {
                ("verification_admin", "admin")
            } else {
                ("verification_otp", "email_code")
            };
            assert_eq!(
                (
                    verification["object"].as_str(),
                    verification["strategy"].as_str()
                ),
                (Some(expected.0), Some(expected.1)),
                "{verification}"
            );
            assert!(verification.get("attempts").is_some());
            assert!(verification.get("expire_at").is_some());
        }
    }
    assert!(created["password_last_updated_at"].is_i64());
}
