//! The admin API: authentication, every documented route, pagination,
//! jobs on demand, user management through the provider, health, metrics.

use std::collections::BTreeSet;

use idsync_emulator::{ProviderKind, WebhookTarget};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

fn api(server: &Server, path: &str) -> String {
    format!("{}/api/v1{path}", server.base)
}

async fn get_json(server: &Server, path: &str) -> Value {
    let resp = Client::new()
        .get(api(server, path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn every_documented_route_exists_and_requires_the_token() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 30).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let user = emu.user_ids()[3].clone();

    let doc: Value = reqwest::get(api(&server, "/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 6, "{paths:?}");
    let http = Client::new();
    let mut checked = 0;
    for (path, item) in paths {
        for method in ["get", "post", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            // One job at a time per connection: let the previous one finish.
            wait_for("jobs", async || {
                count(
                    &db.pool,
                    "SELECT count(*) FROM idsync.sync_runs WHERE status = 'running'",
                )
                .await
                    == 0
            })
            .await;
            let url = format!(
                "{}{}",
                server.base,
                path.replace("{name}", "main").replace("{id}", &user)
            );
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = match (method, path.ends_with("/users")) {
                ("post", true) => json!({"email": "new.person@example.com", "name": "New Person"}),
                ("patch", _) => json!({"name": "Renamed"}),
                _ => json!({}),
            };
            let none = http
                .request(m.clone(), &url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                none.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} without token"
            );
            assert_eq!(
                none.headers()[WWW_AUTHENTICATE],
                "Bearer",
                "{method} {path} without token"
            );
            let wrong = http
                .request(m.clone(), &url)
                .bearer_auth("test-admin-token-012345678X")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(
                wrong.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with a wrong token"
            );
            assert_eq!(
                wrong.headers()[WWW_AUTHENTICATE],
                "Bearer error=\"invalid_token\"",
                "{method} {path} with a wrong token"
            );
            // A finished run releases the job lock just after its row says
            // so: a 409 then means "a moment", so ask again.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let ok = loop {
                let answer = http
                    .request(m.clone(), &url)
                    .bearer_auth(ADMIN_TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if answer.status() != StatusCode::CONFLICT || std::time::Instant::now() > deadline {
                    break answer;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            };
            let status = ok.status().as_u16().to_string();
            assert!(
                op["responses"].get(&status).is_some(),
                "{method} {path} answered {status}, not a documented response"
            );
            assert!(
                ok.status().is_success(),
                "{method} {path} answered {status}: {}",
                ok.text().await.unwrap()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10, "operations exercised");

    // The document is valid OpenAPI, checked by an independent validator.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(file.path())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends `req` and returns its status and JSON error message, asserting the
/// body is the API's `{"error": ...}` JSON.
async fn error_of(req: RequestBuilder) -> (StatusCode, String) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let content_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    let text = resp.text().await.unwrap();
    assert_eq!(content_type, "application/json", "{status}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let message = body["error"].as_str().unwrap_or_else(|| panic!("{text}"));
    (status, message.to_owned())
}

#[tokio::test]
async fn bad_requests_answer_json_errors() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 5).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    let user = emu.user_ids()[0].clone();
    let http = Client::new();
    let users = api(&server, "/connections/main/users");
    let one = api(&server, &format!("/connections/main/users/{user}"));
    // A well-formed Stack Auth id that no user has.
    let nobody_id = "00000000-0000-4000-8000-000000000000";
    let nobody = api(&server, &format!("/connections/main/users/{nobody_id}"));

    // The scheme is case-insensitive (RFC 7235).
    for scheme in ["bearer", "BEARER"] {
        let resp = http
            .get(api(&server, "/connections"))
            .header(AUTHORIZATION, format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{scheme}");
    }

    // axum's own rejections, with axum's status, as JSON.
    let (status, message) = error_of(
        http.get(format!("{users}?limit=abc"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("limit"), "{message}");
    let (status, _) = error_of(
        http.get(api(&server, "/connections/main/deliveries?limit=-x"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = error_of(
        http.post(&users)
            .bearer_auth(ADMIN_TOKEN)
            .header(CONTENT_TYPE, "application/json")
            .body("{\"email\":"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "malformed JSON");
    let (status, _) = error_of(
        http.post(&users)
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"name": "No Email"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "missing field");
    let (status, _) = error_of(
        http.patch(&one)
            .bearer_auth(ADMIN_TOKEN)
            .body("{\"name\": \"x\"}"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no content type"
    );

    // A changed email is checked as a new one is.
    let (status, message) = error_of(
        http.patch(&one)
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"email": "not-an-email"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(message, "email is not an email address");

    // A user the provider does not have is a 404, not a refusal.
    let (status, message) = error_of(
        http.patch(&nobody)
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"name": "Nobody"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{message}");
    assert_eq!(message, format!("the provider has no user {nobody_id:?}"));
    let (status, message) = error_of(http.delete(&nobody).bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{message}");
    assert_eq!(message, format!("the provider has no user {nobody_id:?}"));
}

#[tokio::test]
async fn user_pages_are_stable_while_users_arrive_and_search_finds_them() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 120).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let original: BTreeSet<String> = emu.user_ids().into_iter().collect();
    let s = sender(&server, "main", &emu);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(a) => format!("/connections/main/users?limit=25&after={a}"),
            None => "/connections/main/users?limit=25".to_owned(),
        };
        let page = get_json(&server, &q).await;
        seen.extend(
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        // New sign-ups land between page reads.
        emu.create_user();
        deliver_all(&s, &emu.take_events()).await;
        match page["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_owned()),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user listed twice");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "id order");
    assert!(
        original.iter().all(|id| unique.contains(id)),
        "every original user listed"
    );

    let user = emu
        .users()
        .into_iter()
        .find(|u| u["primary_email_address_id"].is_string())
        .unwrap();
    let email = user["email_addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == user["primary_email_address_id"])
        .unwrap()["email_address"]
        .as_str()
        .unwrap()
        .to_owned();
    let prefix = &email[..email.find('@').unwrap()];
    let found = get_json(
        &server,
        &format!("/connections/main/users?search={}", prefix.to_uppercase()),
    )
    .await;
    assert!(
        found["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == user["id"]),
        "search by email prefix, any case"
    );
    let by_id = get_json(
        &server,
        &format!(
            "/connections/main/users?search={}",
            user["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(by_id["users"].as_array().unwrap().len(), 1);
    let none = get_json(&server, "/connections/main/users?search=%25").await;
    assert_eq!(
        none["users"].as_array().unwrap().len(),
        0,
        "LIKE wildcards are literal"
    );
    let detail = get_json(
        &server,
        &format!("/connections/main/users/{}", user["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(detail["raw_json"], user);
    assert_eq!(detail["id"], user["id"]);
    assert_eq!(detail["email"], email.as_str());
    assert!(detail["deleted_at"].is_null());
    let deleted = get_json(&server, "/connections/main/users?state=deleted").await;
    assert_eq!(deleted["users"].as_array().unwrap().len(), 0);
    let missing = Client::new()
        .get(api(&server, "/connections/main/users/nobody"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let unknown = Client::new()
        .get(api(&server, "/connections/nope"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn users_created_and_deleted_through_the_api_arrive_through_sync() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 5).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    emu.auto_deliver(Some(WebhookTarget {
        url: server.webhook_url("main"),
        secret: emu.config().webhook_secret.clone(),
    }))
    .unwrap();
    let http = Client::new();
    let created = http.post(api(&server, "/connections/main/users")).bearer_auth(ADMIN_TOKEN)
        .json(&json!({"email": "Grace.Hopper@example.com", "name": "Grace Hopper", "password": "correct horse battery"}))
        .send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let row = async |id: &str| {
        sqlx::query_as::<_, (Option<String>, bool)>(
            "SELECT email, deleted_at IS NOT NULL FROM neon_identity.users_sync WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
    };
    wait_for("the created user's webhook", async || {
        row(&id).await.is_some()
    })
    .await;
    assert_eq!(
        row(&id).await,
        Some((Some("grace.hopper@example.com".into()), false))
    );

    let bad = http
        .post(api(&server, "/connections/main/users"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"email": "grace.hopper@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        bad.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "duplicate email refused by the provider"
    );

    let del = http
        .delete(api(&server, &format!("/connections/main/users/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    wait_for("the deleted user's webhook", async || {
        row(&id).await.is_some_and(|r| r.1)
    })
    .await;

    let deliveries = get_json(&server, "/connections/main/deliveries").await;
    let outcomes: Vec<&str> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"inserted") && outcomes.contains(&"deleted"),
        "{outcomes:?}"
    );
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "idsync_webhook_deliveries_total{connection=\"main\",outcome=\"inserted\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("idsync_apply_batch_size_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn health_jobs_on_demand_and_a_failing_connection() {
    let db = postgres().await;
    // 10 pages at one request a second.
    let slow = slow_emulator(ProviderKind::StackAuth, 2000).await;
    let down = emulator(ProviderKind::Clerk, 3).await;
    let mut other = Conn::new("gone", &down);
    other.table = "gone_users";
    let cfg = config(&db.url, &[Conn::new("main", &slow), other]);
    down.clone().shutdown().await;
    let server = serve(&cfg).await;

    // "main" is in its first, rate-limited backfill (once it has started).
    wait_for("main's first backfill to start", async || {
            count(
                &db.pool,
                "SELECT count(*) FROM idsync.sync_runs WHERE connection = 'main' AND status = 'running'",
            )
            .await
                == 1
        })
    .await;
    let main = get_json(&server, "/connections/main").await;
    assert_eq!(main["health"], "degraded", "{main}");
    assert!(
        main["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("initial backfill in progress"),
        "{main}"
    );
    let busy = Client::new()
        .post(api(&server, "/connections/main/reconcile"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::CONFLICT);

    // The provider behind "gone" is unreachable: its first backfill fails.
    wait_for("the failing verdict", async || {
        let c = get_json(&server, "/connections/gone").await;
        c["health"] == "failing"
    })
    .await;
    let gone = get_json(&server, "/connections/gone").await;
    assert!(
        gone["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("last backfill failed: provider API unreachable"),
        "{gone}"
    );
    // Its provider is down: trying again later may work.
    let (status, message) = error_of(
        Client::new()
            .post(api(&server, "/connections/gone/users"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"email": "ada@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{message}");
    assert!(message.starts_with("provider API: "), "{message}");
    assert_eq!(gone["webhook_url"], server.webhook_url("gone"));

    backfilled(&db.pool, 1).await;
    let main = get_json(&server, "/connections/main").await;
    assert_eq!(main["health"], "healthy", "{main}");
    assert_eq!(main["active_users"], 2000);

    let started = Client::new()
        .post(api(&server, "/connections/main/reconcile"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    wait_for("reconcile", async || {
        get_json(&server, "/connections/main").await["last_reconcile"]["status"] == "completed"
    })
    .await;
    let list = get_json(&server, "/connections").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "gone"]);
}

/// Whose fault a failure is decides its status: a query the database
/// refuses is idsync's problem (500, details only in the log), a database
/// that is down is a reason to try again (503 with `Retry-After`).
#[tokio::test]
async fn a_database_error_answers_500_and_a_database_down_503() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 3).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let http = Client::new();
    let users = api(&server, "/connections/main/users");

    // The table was changed behind idsync's back: retrying will not help.
    sqlx::query("ALTER TABLE neon_identity.users_sync RENAME COLUMN email TO mail")
        .execute(&db.pool)
        .await
        .unwrap();
    let resp = http
        .get(&users)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(resp.headers().get(RETRY_AFTER).is_none());
    let (_, message) = error_of(http.get(&users).bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(message, "internal error", "no database details leak");

    db.pool.close().await;
    db.server.stop().await.unwrap();
    let resp = http
        .get(&users)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[RETRY_AFTER], "5");
    let (_, message) = error_of(http.get(&users).bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(message, "database unavailable, try again");
}
