//! What Microsoft Entra ID sends (learn.microsoft.com, "Tutorial: Develop
//! and plan provisioning for a SCIM endpoint" and the SCIM compatibility
//! page): capitalised ops, string booleans without `aadOptscim062020`,
//! dotted and URN keys with it, `$ref: null` members, hard deletes.

use serde_json::json;

use crate::common;
use crate::harness::{self, GROUPS, USERS};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn ops(operations: serde_json::Value) -> Option<serde_json::Value> {
    Some(json!({"schemas":[PATCH_OP],"Operations":operations}))
}

#[tokio::test]
async fn entra_provisions_users_and_groups_in_both_patch_dialects() {
    let scim = harness::start("").await;
    let pool = scim.pool();
    let oid = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef";

    let matched = scim
        .call(
            "GET",
            "/Users?filter=userName+eq+%22Test_User_dfeef4c5-5681-4387-b016-bdf221e82081%22",
            None,
        )
        .await;
    assert_eq!(matched.status, 200);
    assert_eq!(matched.body["Resources"], json!([]));
    assert_eq!(matched.body["totalResults"], json!(0));

    let sent = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",ENTERPRISE],"externalId":oid,"userName":"Test_User_dfeef4c5-5681-4387-b016-bdf221e82081","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_11bb6b8e-f2b6-4a2e-a4b5-ee6ab5d4e3a8@testuser.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]});
    let created = scim.call("POST", "/Users", Some(sent.clone())).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.body["id"], oid,
        "objectId mapped to externalId is the table id"
    );
    // Round-trips as sent: nothing added, nothing reordered.
    let mut expected = sent.clone();
    expected["id"] = json!(oid);
    let mut answered = created.body.clone();
    answered["meta"] = json!({"resourceType":"User"});
    assert_eq!(answered, expected);
    let by_external = scim
        .call(
            "GET",
            &format!("/Users?filter=externalId%20eq%20%22{oid}%22"),
            None,
        )
        .await;
    assert_eq!(by_external.body["totalResults"], json!(1));

    // Update: a value-filter path and a dotted path.
    let updated = scim
        .call("PATCH", &format!("/Users/{oid}"), ops(json!([
            {"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
            {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}])))
        .await;
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let (_, email, raw, _) = harness::user_row(pool, oid).await.unwrap();
    assert_eq!(email.as_deref(), Some("updatedEmail@microsoft.com"));
    assert_eq!(
        raw["emails"],
        json!([{"primary":true,"type":"work","value":"updatedEmail@microsoft.com"}])
    );
    assert_eq!(raw["name"]["familyName"], "updatedFamilyName");
    let by_email = scim
        .call(
            "GET",
            "/Users?filter=emails.value%20eq%20%22UPDATEDEMAIL%40microsoft.com%22",
            None,
        )
        .await;
    assert_eq!(by_email.body["totalResults"], json!(1));

    // Disable, legacy form: "Replace" with the string "False".
    let disabled = scim
        .call(
            "PATCH",
            &format!("/Users/{oid}"),
            ops(json!([{"op":"Replace","path":"active","value":"False"}])),
        )
        .await;
    assert_eq!(disabled.status, 200);
    assert_eq!(disabled.body["active"], json!(false));
    let (.., deleted) = harness::user_row(pool, oid).await.unwrap();
    assert!(deleted);
    let enabled = scim
        .call(
            "PATCH",
            &format!("/Users/{oid}"),
            ops(json!([{"op":"Replace","path":"active","value":"True"}])),
        )
        .await;
    assert_eq!(enabled.body["active"], json!(true));
    assert!(!harness::user_row(pool, oid).await.unwrap().3);

    // With aadOptscim062020: one path-less replace of dotted and URN keys.
    let flagged = scim
        .call(
            "PATCH",
            &format!("/Users/{oid}"),
            ops(json!([{"op":"replace","value":{
            "displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}])),
        )
        .await;
    assert_eq!(flagged.status, 200, "{:?}", flagged.body);
    let (name, _, raw, _) = harness::user_row(pool, oid).await.unwrap();
    assert_eq!(name.as_deref(), Some("Bjfe"));
    assert_eq!(
        raw["name"],
        json!({"formatted":"givenName familyName","familyName":"Unua","givenName":"Kkom"})
    );
    assert_eq!(raw[ENTERPRISE], json!({"employeeNumber":"Aklq"}));
    let off = scim
        .call(
            "PATCH",
            &format!("/Users/{oid}"),
            ops(json!([{"op":"replace","path":"active","value":false}])),
        )
        .await;
    assert_eq!(off.body["active"], json!(false));
    scim.call(
        "PATCH",
        &format!("/Users/{oid}"),
        ops(json!([{"op":"replace","path":"active","value":true}])),
    )
    .await;

    // Group create, then Entra's lookup.
    let gid = "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159";
    let group = scim
        .call("POST", "/Groups", Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":gid,"displayName":"displayName","meta":{"resourceType":"Group"}})))
        .await;
    assert_eq!(group.status, 201, "{:?}", group.body);
    assert_eq!(group.body["id"], gid);
    let lookup = scim
        .call(
            "GET",
            "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22",
            None,
        )
        .await;
    assert_eq!(lookup.body["totalResults"], json!(1));

    // Add member ($ref null), remove it the legacy way, add, remove the flagged way.
    let add = ops(json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":oid}]}]));
    assert_eq!(
        scim.call("PATCH", &format!("/Groups/{gid}"), add.clone())
            .await
            .status,
        200
    );
    assert_eq!(harness::members(pool, gid).await, [oid]);
    let member_raw: serde_json::Value =
        sqlx::query_scalar("SELECT raw_json FROM app.group_members_sync")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(member_raw, json!({"value": oid}), "null $ref not stored");
    let lookup = scim
        .call(
            "GET",
            "/Groups?excludedAttributes=members&filter=displayName%20eq%20%22displayName%22",
            None,
        )
        .await;
    assert!(lookup.body["Resources"][0].get("members").is_none());
    let got = scim.call("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(got.body["members"], json!([{"value": oid}]));

    let remove = ops(json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":oid}]}]));
    assert_eq!(
        scim.call("PATCH", &format!("/Groups/{gid}"), remove)
            .await
            .status,
        200
    );
    assert!(harness::members(pool, gid).await.is_empty());
    scim.call("PATCH", &format!("/Groups/{gid}"), add).await;
    assert_eq!(harness::members(pool, gid).await, [oid]);
    let remove = ops(json!([{"op":"remove","path":format!("members[value eq \"{oid}\"]")}]));
    assert_eq!(
        scim.call("PATCH", &format!("/Groups/{gid}"), remove)
            .await
            .status,
        200
    );
    assert!(harness::members(pool, gid).await.is_empty());

    // Hard delete: 204, then 404; the row is soft-deleted.
    let gone = scim.call("DELETE", &format!("/Users/{oid}"), None).await;
    assert_eq!(gone.status, 204);
    let missing = scim.call("GET", &format!("/Users/{oid}"), None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(missing.body["status"], "404");
    let (name, _, _, deleted) = harness::user_row(pool, oid).await.unwrap();
    assert!(deleted);
    assert_eq!(
        name.as_deref(),
        Some("Bjfe"),
        "the row keeps its last profile"
    );
    assert_eq!(
        scim.call("DELETE", &format!("/Users/{oid}"), None)
            .await
            .status,
        404
    );
    let listed = scim.call("GET", "/Users", None).await;
    assert_eq!(listed.body["totalResults"], json!(0));

    // Created again: 201, deleted_at cleared.
    let again = scim.call("POST", "/Users", Some(sent)).await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert!(!harness::user_row(pool, oid).await.unwrap().3);
    assert_eq!(
        common::count(pool, &format!("SELECT count(*) FROM {USERS}")).await,
        1
    );

    assert_eq!(
        scim.call("DELETE", &format!("/Groups/{gid}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        common::count(
            pool,
            &format!("SELECT count(*) FROM {GROUPS} WHERE deleted_at IS NULL")
        )
        .await,
        0
    );
}
