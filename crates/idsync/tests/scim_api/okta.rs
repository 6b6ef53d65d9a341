//! What Okta sends (developer.okta.com, SCIM 2.0 protocol reference):
//! look up by userName, create with a placeholder password, PUT updates,
//! PATCH deactivate and reactivate, group push, membership PATCHes,
//! group delete.

use serde_json::json;

use crate::common;
use crate::harness::{self, GROUPS, MEMBERS, USERS};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn okta_provisions_updates_deactivates_and_pushes_groups() {
    let scim = harness::start("").await;
    let pool = scim.pool();

    // 1. Does the user exist?
    let found = scim
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100",
            None,
        )
        .await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["totalResults"], json!(0));
    assert_eq!(found.body["startIndex"], json!(1));
    assert!(
        found.body["itemsPerPage"].is_u64(),
        "integers, as Okta requires"
    );

    // 2. Create, with the placeholder password Okta always sends.
    let created = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.header("content-type"),
        Some("application/scim+json")
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id, "00ujl29u0le5T6Aj10h7",
        "id_source defaults to externalId"
    );
    assert!(created.body.get("password").is_none(), "never returned");
    assert!(
        created
            .header("location")
            .unwrap()
            .ends_with("/scim/idp/v2/Users/00ujl29u0le5T6Aj10h7")
    );
    assert_eq!(
        created.body["meta"]["location"],
        json!(created.header("location").unwrap())
    );
    assert_eq!(
        created.body["meta"]["version"],
        json!(created.header("etag").unwrap())
    );
    let (name, email, raw, deleted) = harness::user_row(pool, &id).await.unwrap();
    assert_eq!(name.as_deref(), Some("Test User"));
    assert_eq!(email.as_deref(), Some("test.user@okta.local"));
    assert!(!deleted);
    assert_eq!(raw["name"], json!({"givenName":"Test","familyName":"User"}));
    assert_eq!(
        common::count(
            pool,
            &format!("SELECT count(*) FROM {USERS} WHERE raw_json::text LIKE '%1mz050nq%'")
        )
        .await,
        0,
        "the password is never stored"
    );

    // Creating it again: 409 uniqueness.
    let again = scim
        .call(
            "POST",
            "/Users",
            Some(json!({"userName":"TEST.USER@okta.local","externalId":"00uother"})),
        )
        .await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["scimType"], "uniqueness");

    // 3. Update: GET, then a full PUT.
    let got = scim.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(got.status, 200);
    let mut user = got.body.clone();
    user["name"]["familyName"] = json!("Userton");
    user["displayName"] = json!("Test Userton");
    user["password"] = json!("1mz050nq");
    let put = scim.call("PUT", &format!("/Users/{id}"), Some(user)).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["name"]["familyName"], "Userton");
    assert_ne!(put.header("etag"), got.header("etag"));
    let (name, ..) = harness::user_row(pool, &id).await.unwrap();
    assert_eq!(name.as_deref(), Some("Test Userton"));

    // 4. Deactivate: path-less replace.
    let deactivate =
        json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"active":false}}]});
    let off = scim
        .call("PATCH", &format!("/Users/{id}"), Some(deactivate.clone()))
        .await;
    assert_eq!(off.status, 200);
    assert_eq!(off.body["active"], json!(false));
    let (_, _, raw, deleted) = harness::user_row(pool, &id).await.unwrap();
    assert!(deleted, "deprovisioned: deleted_at set");
    assert_eq!(
        raw["active"],
        json!(false),
        "raw_json holds the current resource"
    );
    // Still served (Okta reads it back), and found by userName.
    let got = scim.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["active"], json!(false));
    let found = scim
        .call(
            "GET",
            "/Users?filter=userName%20eq%20%22test.user%40okta.local%22",
            None,
        )
        .await;
    assert_eq!(found.body["totalResults"], json!(1));
    // The same PATCH again writes nothing.
    let before = scim.snapshot().await;
    let same = scim
        .call("PATCH", &format!("/Users/{id}"), Some(deactivate))
        .await;
    assert_eq!(same.status, 200);
    assert_eq!(same.header("etag"), off.header("etag"));
    assert_eq!(scim.snapshot().await, before, "no churn");

    // Re-enable.
    let on = scim
        .call("PATCH", &format!("/Users/{id}"), Some(json!({"schemas":[PATCH_OP],"Operations":[{"op":"replace","value":{"active":true}}]})))
        .await;
    assert_eq!(on.status, 200);
    let (.., deleted) = harness::user_row(pool, &id).await.unwrap();
    assert!(!deleted, "reactivation clears deleted_at");

    // 5. Group push, with no members.
    let group = scim
        .call("POST", "/Groups", Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]})))
        .await;
    assert_eq!(group.status, 201, "{:?}", group.body);
    let gid = group.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        common::count(
            pool,
            &format!(
                "SELECT count(*) FROM {GROUPS} WHERE name = 'Test SCIMv2' AND deleted_at IS NULL"
            )
        )
        .await,
        1
    );

    // A second user to move between.
    let other = scim
        .call("POST", "/Users", Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"other@okta.local","externalId":"00uother","active":true})))
        .await;
    assert_eq!(other.status, 201);

    // 6. Membership: rename (sent with every update) and add.
    let add = scim
        .call("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas":[PATCH_OP],"Operations":[
            {"op":"replace","value":{"id":gid,"displayName":"Test SCIMv2"}},
            {"op":"add","path":"members","value":[{"value":id,"display":"test.user@okta.local"},{"value":"00uother","display":"other@okta.local"}]}]})))
        .await;
    assert_eq!(add.status, 200, "{:?}", add.body);
    assert_eq!(
        harness::members(pool, &gid).await,
        [id.clone(), "00uother".to_owned()]
    );
    // Remove one by filter path, add it back, in one request.
    let moved = scim
        .call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas":[PATCH_OP],"Operations":[
            {"op":"remove","path":format!("members[value eq \"{id}\"]")}]})),
        )
        .await;
    assert_eq!(moved.status, 200);
    assert_eq!(harness::members(pool, &gid).await, ["00uother"]);
    let removed_at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(&format!(
        "SELECT deleted_at FROM {MEMBERS} WHERE group_id = $1 AND user_id = $2"
    ))
    .bind(&gid)
    .bind(&id)
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(removed_at.is_some(), "a removed membership is soft-deleted");
    // Full sync replaces the members.
    let synced = scim
        .call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(json!({"schemas":[PATCH_OP],"Operations":[
            {"op":"replace","path":"members","value":[{"value":id}]}]})),
        )
        .await;
    assert_eq!(synced.status, 200);
    assert_eq!(harness::members(pool, &gid).await, [id.as_str()]);

    // Apps join users and groups on the table ids.
    let joined: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT u.name, g.name FROM {USERS} u JOIN {MEMBERS} m ON m.user_id = u.id AND m.deleted_at IS NULL
           JOIN {GROUPS} g ON g.id = m.group_id AND g.deleted_at IS NULL WHERE u.deleted_at IS NULL"
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        joined,
        [("Test Userton".to_owned(), "Test SCIMv2".to_owned())]
    );

    // 7. Unlink pushed group → delete.
    let gone = scim.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(gone.status, 204);
    assert_eq!(
        scim.call("GET", &format!("/Groups/{gid}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        common::count(
            pool,
            &format!("SELECT count(*) FROM {GROUPS} WHERE deleted_at IS NOT NULL")
        )
        .await,
        1
    );
    assert_eq!(harness::members(pool, &gid).await, Vec::<String>::new());
}
