//! The protocol beyond the two sequences: bad input writes nothing,
//! concurrent PATCHes, paging, projections, discovery, `id_source`.

use serde_json::json;

use crate::common;
use crate::harness::{self, USERS};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn create(scim: &harness::Scim, user_name: &str) -> String {
    let created = scim
        .call("POST", "/Users", Some(json!({"userName": user_name, "emails": [{"value": format!("{user_name}@example.com"), "type": "work"}]})))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bad_input_gets_its_scim_error_and_writes_nothing() {
    let scim = harness::start("").await;
    let id = create(&scim, "ada").await;
    create(&scim, "bob").await;
    let before = scim.snapshot().await;
    let user = format!("/Users/{id}");
    let patch = |ops: serde_json::Value| Some(json!({"schemas":[PATCH_OP],"Operations":ops}));

    let cases: Vec<(&str, harness::Answer, u16, Option<&str>)> = vec![
        (
            "no token",
            scim.call_with("POST", "/Users", Some(json!({"userName":"x"})), None)
                .await,
            401,
            None,
        ),
        (
            "wrong token",
            scim.call_with("DELETE", &user, None, Some("wrong-token"))
                .await,
            401,
            None,
        ),
        (
            "malformed JSON",
            scim.raw("POST", "/Users", b"{\"userName\": ".to_vec())
                .await,
            400,
            Some("invalidSyntax"),
        ),
        (
            "malformed PATCH",
            scim.raw("PATCH", &user, b"not json".to_vec()).await,
            400,
            Some("invalidSyntax"),
        ),
        (
            "unknown path",
            scim.call(
                "PATCH",
                &user,
                patch(json!([{"op":"replace","path":"favoriteColor","value":"red"}])),
            )
            .await,
            400,
            Some("invalidPath"),
        ),
        (
            "remove without path",
            scim.call("PATCH", &user, patch(json!([{"op":"remove"}])))
                .await,
            400,
            Some("noTarget"),
        ),
        (
            "bad filter",
            scim.call("GET", "/Users?filter=userName%20co%20%22a%22", None)
                .await,
            400,
            Some("invalidFilter"),
        ),
        (
            "unfilterable attribute",
            scim.call("GET", "/Users?filter=title%20eq%20%22a%22", None)
                .await,
            400,
            Some("invalidFilter"),
        ),
        (
            "oversized body",
            scim.raw(
                "POST",
                "/Users",
                json!({"userName": "big", "nickName": "x".repeat(1024 * 1024)})
                    .to_string()
                    .into_bytes(),
            )
            .await,
            413,
            None,
        ),
        (
            "unknown user",
            scim.call(
                "PATCH",
                "/Users/nobody",
                patch(json!([{"op":"replace","value":{"active":false}}])),
            )
            .await,
            404,
            None,
        ),
        (
            "unknown group",
            scim.call("DELETE", "/Groups/nobody", None).await,
            404,
            None,
        ),
        (
            "userName taken, by PATCH",
            scim.call(
                "PATCH",
                &user,
                patch(json!([{"op":"replace","path":"userName","value":"BOB"}])),
            )
            .await,
            409,
            Some("uniqueness"),
        ),
        (
            "no userName",
            scim.call("POST", "/Users", Some(json!({"displayName":"x"})))
                .await,
            400,
            Some("invalidValue"),
        ),
        (
            "stale If-Match",
            {
                scim.call("GET", &user, None).await;
                let request = reqwest::Client::new()
                .patch(format!("{}{user}", scim.base))
                .bearer_auth(harness::TOKEN)
                .header("if-match", "W/\"1\"")
                .body(json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"nickName":"x"}}]}).to_string());
                let r = request.send().await.unwrap();
                harness::Answer {
                    status: r.status().as_u16(),
                    headers: r.headers().clone(),
                    body: r.json().await.unwrap(),
                }
            },
            412,
            None,
        ),
    ];
    for (what, answer, status, scim_type) in cases {
        assert_eq!(answer.status, status, "{what}: {:?}", answer.body);
        assert_eq!(
            answer.header("content-type"),
            Some("application/scim+json"),
            "{what}"
        );
        assert_eq!(
            answer.body["schemas"],
            json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
            "{what}"
        );
        assert_eq!(answer.body["status"], json!(status.to_string()), "{what}");
        assert_eq!(answer.body["scimType"].as_str(), scim_type, "{what}");
    }
    assert_eq!(scim.snapshot().await, before, "nothing written");

    // The console and `status` see the requests and their outcomes.
    let logged = common::count(
        scim.pool(),
        "SELECT count(*) FROM idsync.served_requests WHERE outcome = 'refused'",
    )
    .await;
    assert!(logged >= 1, "refusals are logged");
}

#[tokio::test]
async fn concurrent_patches_of_one_user_both_take_effect() {
    let scim = harness::start("").await;
    let id = create(&scim, "grace").await;
    let user = format!("/Users/{id}");
    for round in 0..5 {
        let (a, b) = tokio::join!(
            scim.call("PATCH", &user, Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"add","path":"phoneNumbers","value":[{"value":format!("a{round}"),"type":"work"}]}]}))),
            scim.call("PATCH", &user, Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"add","path":"phoneNumbers","value":[{"value":format!("b{round}"),"type":"home"}]}]}))),
        );
        assert_eq!((a.status, b.status), (200, 200));
    }
    let (_, _, raw, _) = harness::user_row(scim.pool(), &id).await.unwrap();
    let mut phones: Vec<&str> = raw["phoneNumbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    phones.sort_unstable();
    assert_eq!(
        phones,
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"],
        "no lost update"
    );
}

#[tokio::test]
async fn lists_page_and_project() {
    let scim = harness::start("").await;
    for n in 0..5 {
        create(&scim, &format!("user{n}")).await;
    }
    let page = scim
        .call(
            "GET",
            "/Users?startIndex=2&count=2&attributes=userName",
            None,
        )
        .await;
    assert_eq!(page.body["totalResults"], json!(5));
    assert_eq!(page.body["startIndex"], json!(2));
    assert_eq!(page.body["itemsPerPage"], json!(2));
    let resources = page.body["Resources"].as_array().unwrap();
    assert_eq!(resources[0]["userName"], "user1");
    assert_eq!(resources[1]["userName"], "user2");
    let keys: Vec<&String> = resources[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let none = scim.call("GET", "/Users?count=0", None).await;
    assert_eq!(none.body["totalResults"], json!(5));
    assert_eq!(none.body["Resources"], json!([]));
    let excluded = scim
        .call(
            "GET",
            "/Users?excludedAttributes=emails&filter=username%20eq%20%22USER3%22",
            None,
        )
        .await;
    assert_eq!(excluded.body["totalResults"], json!(1));
    assert_eq!(excluded.body["Resources"][0]["userName"], "user3");
    assert!(excluded.body["Resources"][0].get("emails").is_none());
}

#[tokio::test]
async fn discovery_documents_announce_what_is_served() {
    let scim = harness::start("").await;
    let spc = scim.call("GET", "/ServiceProviderConfig", None).await;
    assert_eq!(spc.status, 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["bulk"]["supported"], false);
    assert_eq!(spc.body["filter"]["supported"], true);
    let types = scim.call("GET", "/ResourceTypes", None).await;
    let names: Vec<&str> = types.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["User", "Group"]);
    assert_eq!(
        scim.call("GET", "/ResourceTypes/Group", None).await.body["endpoint"],
        "/Groups"
    );
    let schemas = scim.call("GET", "/Schemas", None).await;
    assert_eq!(schemas.body["totalResults"], json!(3));
    let user = scim
        .call(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    assert_eq!(user.status, 200);
    assert!(
        user.body["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
    );
    assert_eq!(
        scim.call_with("GET", "/Schemas", None, None).await.status,
        401
    );
    assert_eq!(scim.call("GET", "/Bulk", None).await.status, 404);
    // Searching several resource types at once: 501, which RFC 7644 allows.
    let search = scim
        .call(
            "POST",
            "/.search",
            Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})),
        )
        .await;
    assert_eq!(search.status, 501);
    assert_eq!(search.body["status"], "501");
}

#[tokio::test]
async fn id_source_user_name_keys_rows_by_user_name() {
    let scim = harness::start("id_source = \"user_name\"").await;
    let id = create(&scim, "Ada.Lovelace@example.com").await;
    assert_eq!(id, "Ada.Lovelace@example.com");
    let encoded = "/Users/Ada.Lovelace%40example.com";
    assert_eq!(scim.call("GET", encoded, None).await.status, 200);
    assert_eq!(
        common::count(
            scim.pool(),
            &format!("SELECT count(*) FROM {USERS} WHERE id = 'Ada.Lovelace@example.com'")
        )
        .await,
        1
    );
    // No backfill for a SCIM connection, and healthy without one.
    let health: serde_json::Value = reqwest::Client::new()
        .get(scim.server.url("/api/v1/connections/idp"))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["health"], "healthy", "{health}");
    assert!(
        health["webhook_url"]
            .as_str()
            .unwrap()
            .ends_with("/scim/idp/v2")
    );
    assert_eq!(health["served"]["groups"], json!(0));
    assert_eq!(
        common::count(scim.pool(), "SELECT count(*) FROM idsync.sync_runs").await,
        0
    );
}

#[tokio::test]
async fn status_console_and_admin_api_show_scim_and_offer_no_user_management() {
    let scim = harness::start("").await;
    let id = create(&scim, "hopper").await;
    let group = scim
        .call(
            "POST",
            "/Groups",
            Some(json!({"displayName": "Admins", "members": [{"value": id}]})),
        )
        .await;
    assert_eq!(group.status, 201);
    scim.call("GET", "/Users?filter=userName%20eq%20%22nobody%22", None)
        .await;
    // Request records are written in the background.
    common::wait_for_count(
        scim.pool(),
        "SELECT count(*) FROM idsync.served_requests",
        3,
    )
    .await;

    let client = reqwest::Client::new();
    let api = |path: &str| {
        client
            .get(scim.server.url(path))
            .bearer_auth(common::ADMIN_TOKEN)
    };
    let conn: serde_json::Value = api("/api/v1/connections/idp")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(conn["served"]["groups"], json!(1));
    assert_eq!(conn["served"]["memberships"], json!(1));
    let requests = conn["served"]["recent_requests"].as_array().unwrap();
    // Recorded in the background, so in no particular order.
    assert!(
        requests
            .iter()
            .any(|r| r["method"] == "GET" && r["path"] == "/Users" && r["outcome"] == "listed")
    );
    assert!(
        requests
            .iter()
            .any(|r| r["path"] == "/Groups" && r["status"] == 201 && r["outcome"] == "created")
    );

    // User management and jobs are refused: the identity provider owns the data.
    let created = client
        .post(scim.server.url("/api/v1/connections/idp/users"))
        .bearer_auth(common::ADMIN_TOKEN)
        .json(&json!({"email": "x@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 422);
    let backfill = client
        .post(scim.server.url("/api/v1/connections/idp/backfill"))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(backfill.status(), 422);
    assert_eq!(
        common::count(scim.pool(), "SELECT count(*) FROM idsync.sync_runs").await,
        0
    );

    // The console's connection page: the base URL, the steps, the
    // requests; no jobs, no webhook, no user management.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .post(scim.server.url("/login"))
        .form(&[("token", common::ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("idsync_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .expect("a session cookie");
    let page = |path: &str| {
        browser
            .get(scim.server.url(path))
            .header("cookie", cookie.clone())
            .send()
    };
    let html = page("/connections/idp")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&scim.base), "the SCIM base URL is shown");
    assert!(html.contains("Recent requests"));
    assert!(html.contains("SCIM 2.0 endpoint"));
    assert!(html.contains("POST /Groups"));
    assert!(html.contains("Entra ID:") && html.contains("Okta:") && html.contains("OneLogin:"));
    for absent in ["Backfill now", "Reconcile now", "Recent deliveries"] {
        assert!(!html.contains(absent), "{absent}");
    }
    let users = page("/connections/idp/users")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(users.contains("hopper"));
    assert!(!users.contains("Create user"));
    let user = page(&format!("/connections/idp/users/{id}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!user.contains("Delete user"));

    // `idsync status` shows the groups and the requests.
    let cfg = common::config_file(
        &scim.db.url,
        &format!(
            "[[connections]]\nname = \"idp\"\nprovider = \"scim\"\nschema = \"app\"\nbearer_token = \"{}\"\n",
            harness::TOKEN
        ),
    );
    let out = common::cli(&cfg.path(), &["status"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("groups:         1 active, 1 memberships"),
        "{text}"
    );
    assert!(text.contains("POST /Groups → 201 created"), "{text}");
    let out = common::cli(&cfg.path(), &["backfill"]).await;
    assert!(out.status.success(), "skipped among all connections");
    assert!(String::from_utf8_lossy(&out.stderr).contains("idp: skipped"));
}

#[tokio::test]
async fn a_nul_in_a_user_name_or_a_filter_is_cleaned_not_a_database_error() {
    let scim = harness::start("").await;
    // Rule 7: Postgres text cannot hold U+0000; the name is stored with
    // U+FFFD (a second one is a duplicate), and a filter naming it in that
    // form finds it; a filter holding U+0000 is refused as a bad filter.
    let created = scim
        .call("POST", "/Users", Some(json!({"userName": "ad\u{0}a"})))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let again = scim
        .call("POST", "/Users", Some(json!({"userName": "ad\u{0}a"})))
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    let refused = scim
        .call("GET", "/Users?filter=userName%20eq%20%22ad%00a%22", None)
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["scimType"], "invalidFilter");
    let found = scim
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22ad%EF%BF%BDa%22",
            None,
        )
        .await;
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.body["totalResults"], json!(1));
    assert_eq!(found.body["Resources"][0]["userName"], "ad\u{FFFD}a");
}
