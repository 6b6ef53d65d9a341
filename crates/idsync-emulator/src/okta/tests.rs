use std::collections::HashSet;

use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::user::parse_iso;
use crate::tests::{per_minute, receiver, start};
use crate::{Delivery, Emulator, ProviderKind, WebhookTarget};

pub(super) async fn call(
    emu: &Emulator,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let url = if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{}{url}", emu.base_url())
    };
    let mut request = Client::new().request(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("SSWS {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

pub(super) async fn send(
    emu: &Emulator,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let token = emu.config().api_key.clone();
    call(emu, method, url, Some(&token), body).await
}

fn links(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

pub(super) fn next(headers: &HeaderMap) -> Option<String> {
    links(headers).iter().find_map(|l| {
        l.strip_suffix(">; rel=\"next\"")
            .map(|l| l.trim_start_matches('<').to_owned())
    })
}

/// Follows the `next` links from `first`: the ids and the pages fetched.
async fn list_all(emu: &Emulator, first: &str) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut url = Some(first.to_owned());
    let mut pages = 0;
    while let Some(u) = url {
        let (status, headers, page) = send(emu, Method::GET, &u, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        let page = page.as_array().unwrap();
        assert!(page.len() <= 200);
        ids.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        url = next(&headers);
        if let Some(next) = &url {
            assert!(next.starts_with(&format!("{}/api/v1/users?after=", emu.base_url())));
        }
    }
    (ids, pages)
}

fn ids_where(emu: &Emulator, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    emu.users()
        .iter()
        .filter(|u| keep(u))
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn paging_lists_each_user_once_and_deprovisioned_only_by_filter() {
    let emu = start(ProviderKind::Okta, 1_030, None).await;
    let deprovisioned = |u: &Value| u["status"] == "DEPROVISIONED";
    let listed = ids_where(&emu, |u| !deprovisioned(u));
    let gone = ids_where(&emu, deprovisioned);
    assert!((20..=90).contains(&gone.len()), "about 5%: {}", gone.len());

    let (ids, pages) = list_all(&emu, "/api/v1/users").await;
    assert_eq!(ids, listed, "every listed user once, in sign-up order");
    assert_eq!(pages, listed.len().div_ceil(200));
    let filter = "/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22";
    let (ids, _) = list_all(&emu, filter).await;
    assert_eq!(ids, gone);
    let (ids, _) = list_all(
        &emu,
        "/api/v1/users?search=status+eq+%22DEPROVISIONED%22&limit=7",
    )
    .await;
    assert_eq!(ids, gone, "search pages too, keeping its expression");

    // Small pages, a capped large one, and a cursor naming a deleted user.
    let (ids, pages) = list_all(&emu, "/api/v1/users?limit=100").await;
    assert_eq!(
        (ids.len(), pages),
        (listed.len(), listed.len().div_ceil(100))
    );
    let (_, headers, page) = send(&emu, Method::GET, "/api/v1/users?limit=1000", None).await;
    assert_eq!(page.as_array().unwrap().len(), 200);
    assert_eq!(
        links(&headers)[0],
        format!("<{}/api/v1/users?limit=1000>; rel=\"self\"", emu.base_url())
    );
    let cursor = listed[9].clone();
    assert!(emu.delete_user(&cursor));
    let (_, _, page) = send(
        &emu,
        Method::GET,
        &format!("/api/v1/users?after={cursor}&limit=3"),
        None,
    )
    .await;
    let after: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(after, listed[10..13]);

    // lastUpdated, by filter and by search.
    let users = emu.users();
    let mut times: Vec<i64> = users
        .iter()
        .map(|u| parse_iso(u["lastUpdated"].as_str().unwrap()).unwrap())
        .collect();
    times.sort_unstable();
    let since = super::user::iso(times[times.len() / 2]);
    let newer: HashSet<String> = ids_where(&emu, |u| {
        u["lastUpdated"].as_str().unwrap() > since.as_str()
    })
    .into_iter()
    .collect();
    // A filtered list has no default exclusion: deactivated users are in it.
    assert!(gone.iter().any(|id| newer.contains(id)));
    for param in ["filter", "search"] {
        let url = format!("/api/v1/users?{param}=lastUpdated%20gt%20%22{since}%22");
        let (ids, _) = list_all(&emu, &url).await;
        assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), newer);
        assert_eq!(ids.len(), newer.len());
    }
    let (status, _, body) = send(
        &emu,
        Method::GET,
        "/api/v1/users?filter=profile.city%20eq%20%22Oslo%22",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "E0000031");
}

#[tokio::test]
async fn errors_have_okta_shapes_and_tokens_are_checked() {
    let emu = start(ProviderKind::Okta, 3, None).await;
    let (status, _, body) = send(
        &emu,
        Method::GET,
        "/api/v1/users/00u0000000000000000x",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errorCode"], "E0000007");
    assert_eq!(
        body["errorSummary"],
        "Not found: Resource not found: 00u0000000000000000x (User)"
    );
    assert_eq!(body["errorLink"], "E0000007");
    assert_eq!(body["errorCauses"], json!([]));
    let error_id = body["errorId"].as_str().unwrap();
    assert!(
        error_id.starts_with("oae") && error_id.len() == 25,
        "{error_id}"
    );

    let id = emu.user_ids()[0].clone();
    let path = format!("/api/v1/users/{id}");
    for token in [None, Some("00wrong")] {
        let (status, _, body) = call(&emu, Method::GET, &path, token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
    }
    let bearer = Client::new()
        .get(format!("{}{path}", emu.base_url()))
        .bearer_auth(&emu.config().api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED, "only SSWS");
    let (status, _, user) = send(&emu, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Some(user.clone()), emu.user(&id));
    // By login too.
    let login = user["profile"]["login"].as_str().unwrap();
    let (_, _, by_login) = send(&emu, Method::GET, &format!("/api/v1/users/{login}"), None).await;
    assert_eq!(by_login["id"], id.as_str());
}

#[tokio::test]
async fn users_look_like_okta_users() {
    let emu = start(ProviderKind::Okta, 300, None).await;
    let users = emu.users();
    let statuses: HashSet<&str> = users
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    for s in [
        "STAGED",
        "PROVISIONED",
        "ACTIVE",
        "SUSPENDED",
        "DEPROVISIONED",
    ] {
        assert!(statuses.contains(s), "{s}");
    }
    for u in &users {
        let id = u["id"].as_str().unwrap();
        assert!(id.len() == 20 && id.starts_with("00u"));
        for key in ["created", "lastUpdated"] {
            assert!(parse_iso(u[key].as_str().unwrap()).is_some());
        }
        let p = &u["profile"];
        assert!(p["firstName"].is_string() && p["lastName"].is_string());
        assert_eq!(p["login"], p["email"]);
        assert!(p.get("mobilePhone").is_some() && p.get("secondEmail").is_some());
        assert_eq!(
            u["credentials"]["provider"],
            json!({"type": "OKTA", "name": "OKTA"})
        );
        assert!(u["type"]["id"].as_str().unwrap().starts_with("oty"));
        assert_eq!(
            u["_links"]["self"]["href"],
            format!("{}/api/v1/users/{id}", emu.base_url())
        );
        if u["status"] == "ACTIVE" {
            assert!(
                u["_links"]["suspend"]["href"]
                    .as_str()
                    .unwrap()
                    .ends_with("/lifecycle/suspend")
            );
        }
        if u["status"] == "STAGED" {
            assert!(u["activated"].is_null() && u["statusChanged"].is_null());
        }
    }
}

#[tokio::test]
async fn rate_limit_headers_on_every_answer_then_429() {
    let open = start(ProviderKind::Okta, 1, None).await;
    let (_, headers, _) = send(&open, Method::GET, "/api/v1/users", None).await;
    for h in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        assert!(headers.contains_key(h), "{h}");
    }

    let emu = start(ProviderKind::Okta, 1, per_minute(3)).await;
    let now = chrono::Utc::now().timestamp();
    let number = |h: &HeaderMap, name: &str| h[name].to_str().unwrap().parse::<i64>().unwrap();
    for remaining in [2, 1, 0] {
        let (status, headers, _) = send(&emu, Method::GET, "/api/v1/users/nobody", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(number(&headers, "x-rate-limit-limit"), 3);
        assert_eq!(number(&headers, "x-rate-limit-remaining"), remaining);
        assert!(number(&headers, "x-rate-limit-reset") > now);
    }
    let (status, headers, body) = send(&emu, Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["errorCode"], "E0000047");
    assert_eq!(number(&headers, "x-rate-limit-remaining"), 0);
    assert!(number(&headers, "x-rate-limit-reset") >= now + 59);
}

#[tokio::test]
async fn lifecycle_create_update_and_two_step_delete() {
    let emu = start(ProviderKind::Okta, 0, None).await;
    let profile = json!({"firstName": "Zoë", "lastName": "Ångström", "email": "zoe@example.com", "login": "zoe@example.com"});
    let (status, _, staged) = send(
        &emu,
        Method::POST,
        "/api/v1/users?activate=false",
        Some(json!({"profile": profile})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{staged}");
    assert_eq!(staged["status"], "STAGED");
    assert!(staged["profile"]["mobilePhone"].is_null());
    let id = staged["id"].as_str().unwrap().to_owned();
    let (status, _, taken) = send(
        &emu,
        Method::POST,
        "/api/v1/users",
        Some(json!({"profile": profile})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(taken["errorCode"], "E0000001");
    assert_eq!(
        taken["errorCauses"][0]["errorSummary"],
        "login: An object with this field already exists in the current organization"
    );
    let (status, _, blank) = send(
        &emu,
        Method::POST,
        "/api/v1/users",
        Some(json!({"profile": {"email": "a@b.c", "login": "a@b.c", "firstName": "A"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(blank["errorSummary"], "Api validation failed: lastName");

    let lifecycle = |op: &str| format!("/api/v1/users/{id}/lifecycle/{op}");
    let (status, _, refused) = send(&emu, Method::POST, &lifecycle("suspend"), None).await;
    assert_eq!(
        (status, refused["errorCode"].as_str()),
        (StatusCode::FORBIDDEN, Some("E0000038"))
    );
    let (status, _, answer) = send(
        &emu,
        Method::POST,
        &format!("{}?sendEmail=false", lifecycle("activate")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer["activationToken"].is_string());
    assert_eq!(
        emu.user(&id).unwrap()["status"],
        "PROVISIONED",
        "no password yet"
    );

    let (status, _, updated) = send(
        &emu,
        Method::POST,
        &format!("/api/v1/users/{id}"),
        Some(json!({"profile": {"lastName": "Ödegård"}, "credentials": {"password": {"value": "correct horse"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["profile"]["lastName"], "Ödegård");
    assert_eq!(
        updated["profile"]["firstName"], "Zoë",
        "a partial update keeps the rest"
    );
    assert!(updated["lastUpdated"].as_str() > staged["lastUpdated"].as_str());
    assert_eq!(updated["credentials"]["password"], json!({}));

    let (status, _, created) = send(
        &emu,
        Method::POST,
        "/api/v1/users?activate=true",
        Some(json!({"profile": {"firstName": "Kai", "lastName": "Smith", "email": "kai@example.com", "login": "kai@example.com"}, "credentials": {"password": {"value": "correct horse"}}})),
    )
    .await;
    assert_eq!(created["status"], "ACTIVE", "{status} {created}");
    let kai = created["id"].as_str().unwrap().to_owned();
    let kai_op = |op: &str| format!("/api/v1/users/{kai}/lifecycle/{op}");
    for (op, status) in [
        ("suspend", "SUSPENDED"),
        ("unsuspend", "ACTIVE"),
        ("deactivate", "DEPROVISIONED"),
        ("activate", "ACTIVE"),
    ] {
        let (code, _, _) = send(&emu, Method::POST, &kai_op(op), None).await;
        assert_eq!(code, StatusCode::OK, "{op}");
        assert_eq!(emu.user(&kai).unwrap()["status"], status, "{op}");
    }
    let path = format!("/api/v1/users/{kai}");
    let (status, _, _) = send(&emu, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(emu.user(&kai).unwrap()["status"], "DEPROVISIONED");
    let (status, _, _) = send(&emu, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(emu.user(&kai), None);
    let (status, _, _) = send(&emu, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let types: Vec<String> = emu
        .take_events()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        types,
        [
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.account.update_profile",
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.lifecycle.suspend",
            "user.lifecycle.unsuspend",
            "user.lifecycle.deactivate",
            "user.lifecycle.activate",
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
        ]
    );
}

#[tokio::test]
async fn event_hook_deliveries_batch_events_with_the_secret() {
    let emu = start(ProviderKind::Okta, 50, None).await;
    for _ in 0..60 {
        emu.random_change();
    }
    let events = emu.take_events();
    assert!(events.len() >= 60);
    let (url, mut rx) = receiver().await;
    let secret = emu.config().webhook_secret.clone();
    let sender = emu
        .sender(WebhookTarget {
            url,
            secret: secret.clone(),
        })
        .unwrap();
    let outcomes = sender.send_all(&events, Delivery::InOrder).await;
    assert_eq!(outcomes.len(), events.len().div_ceil(50));
    assert!(
        outcomes
            .iter()
            .all(|(_, r)| r.as_ref().is_ok_and(|s| s.is_success()))
    );

    let mut delivered = Vec::new();
    while let Ok((headers, body)) = rx.try_recv() {
        assert_eq!(headers["authorization"], secret.as_str());
        assert_eq!(headers["content-type"], "application/json");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["eventType"], "com.okta.event_hook");
        assert_eq!(body["eventTypeVersion"], "1.0");
        assert_eq!(body["cloudEventsVersion"], "0.1");
        assert_eq!(body["contentType"], "application/json");
        assert!(
            body["source"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/api/v1/eventHooks/who", emu.base_url()))
        );
        assert!(
            outcomes
                .iter()
                .any(|(id, _)| body["eventId"] == id.as_str())
        );
        for e in body["data"]["events"].as_array().unwrap() {
            let target = &e["target"][0];
            assert_eq!(target["type"], "User");
            assert!(target["id"].as_str().unwrap().starts_with("00u"));
            assert!(e["published"].is_string() && e["displayMessage"].is_string());
            delivered.push(e["uuid"].as_str().unwrap().to_owned());
        }
    }
    let ids: Vec<String> = events.iter().map(|e| e.msg_id.clone()).collect();
    assert_eq!(delivered, ids);
    let types: HashSet<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(
        types.contains("user.lifecycle.create") && types.contains("user.account.update_profile")
    );
    assert!(types.contains("user.lifecycle.delete.initiated"));

    // Auto-delivery goes the Okta way too.
    let (url, mut rx) = receiver().await;
    emu.auto_deliver(Some(WebhookTarget {
        url,
        secret: secret.clone(),
    }))
    .unwrap();
    emu.update_user(&emu.user_ids()[0]).unwrap();
    let (headers, body) = rx.recv().await.unwrap();
    assert_eq!(headers["authorization"], secret.as_str());
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["data"]["events"][0]["eventType"],
        "user.account.update_profile"
    );
}
