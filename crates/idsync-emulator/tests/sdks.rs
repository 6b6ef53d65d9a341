//! The providers' official SDKs, unchanged but for their base URL, against
//! the emulators: every call must decode, and what the SDK saw must agree
//! with the emulator (each user listed once, in order; a created user
//! listed; a deleted user gone).
//!
//! The SDKs are pinned in `tests/sdk/` (`package-lock.json`,
//! `requirements.txt`) and installed by `scripts/test.sh`. A missing SDK
//! fails its test: an SDK test that skips would hide a broken emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind};
use serde_json::Value;
use tokio::process::Command;

/// Enough users for several pages of four.
const SEED_USERS: usize = 25;

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

async fn start(kind: ProviderKind) -> Emulator {
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = SEED_USERS;
    config.rng_seed = 11;
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Runs an SDK script against `emu` and returns the JSON it prints.
async fn run(emu: &Emulator, mut command: Command, what: &str) -> Value {
    let config = emu.config();
    let output = command
        .current_dir(sdk_dir())
        .env("EMULATOR_URL", emu.base_url())
        .env("EMULATOR_API_KEY", &config.api_key)
        .env("EMULATOR_PROJECT_ID", &config.project_id)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {what} ({e}); install the SDKs with scripts/sdk-test-deps.sh, which scripts/test.sh runs"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{what} printed no result ({e}):\n{stdout}\n{stderr}"))
}

fn node(script: &str, args: &[&str]) -> Command {
    let modules = sdk_dir().join("node_modules");
    assert!(
        modules.is_dir(),
        "{} is missing: install the SDKs with scripts/sdk-test-deps.sh, which scripts/test.sh runs",
        modules.display()
    );
    let mut command = Command::new("node");
    command.arg(script).args(args);
    command
}

fn python(script: &str) -> Command {
    let python = std::env::var_os("IDSYNC_SDK_PYTHON").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/sdk-venv/bin/python"),
        PathBuf::from,
    );
    assert!(
        python.exists(),
        "{} is missing: install the SDKs with scripts/sdk-test-deps.sh, which scripts/test.sh runs",
        python.display()
    );
    let mut command = Command::new(python);
    command.arg(script);
    command
}

/// The ids a default list returns, in sign-up order.
fn listed_by_default(emu: &Emulator) -> Vec<Value> {
    emu.users()
        .into_iter()
        // Stack Auth leaves restricted (and anonymous) users out unless
        // asked; Clerk users have no such flag.
        .filter(|u| u["is_restricted"] != Value::Bool(true))
        .map(|u| u["id"].clone())
        .collect()
}

/// Checks the script's findings against the emulator.
fn check_agrees(emu: &Emulator, listed: &[Value], result: &Value) {
    assert!(
        listed.len() > 8,
        "too few users for paging: {}",
        listed.len()
    );
    assert_eq!(result["before"].as_array().unwrap(), listed, "{result}");
    assert_eq!(result["count"], listed.len(), "{result}");
    assert_eq!(result["after"].as_array().unwrap(), listed, "{result}");
    let created = result["created"].as_str().unwrap();
    assert_eq!(emu.user(created), None, "the deleted user is still there");
    let events: Vec<String> = emu
        .take_events()
        .into_iter()
        .filter(|e| {
            let body: Value = serde_json::from_str(&e.body).unwrap();
            body["data"]["id"] == created
        })
        .map(|e| e.event_type)
        .collect();
    assert_eq!(events, ["user.created", "user.updated", "user.deleted"]);
}

async fn stack_auth_sdk(package: &str) {
    let emu = start(ProviderKind::StackAuth).await;
    let listed = listed_by_default(&emu);
    let result = run(&emu, node("stack.mjs", &[package]), package).await;
    check_agrees(&emu, &listed, &result);
}

#[tokio::test]
async fn stack_auth_js_sdk_current() {
    // 2.8.108 sends only the `x-hexclave-*` headers.
    stack_auth_sdk("@stackframe/js").await;
}

#[tokio::test]
async fn stack_auth_js_sdk_2_8_102() {
    // 2.8.102 validates the user object strictly (restrictions, country,
    // risk scores).
    stack_auth_sdk("stack-old").await;
}

#[tokio::test]
async fn clerk_node_sdk() {
    let emu = start(ProviderKind::Clerk).await;
    let listed = listed_by_default(&emu);
    let result = run(&emu, node("clerk.mjs", &[]), "@clerk/backend").await;
    check_agrees(&emu, &listed, &result);
}

#[tokio::test]
async fn clerk_python_sdk() {
    let emu = start(ProviderKind::Clerk).await;
    let listed = listed_by_default(&emu);
    let result = run(&emu, python("clerk.py"), "clerk-backend-api").await;
    check_agrees(&emu, &listed, &result);
}

/// Okta's Node SDK lists (following `link` headers), gets, creates,
/// updates, deactivates and deletes users.
#[tokio::test]
async fn okta_node_sdk() {
    let emu = start(ProviderKind::Okta).await;
    // Deactivate one seeded user so the default list has one to leave out,
    // whatever the seed made.
    let deactivated = emu.user_ids()[2].clone();
    let answer = reqwest::Client::new()
        .delete(format!("{}/api/v1/users/{deactivated}", emu.base_url()))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    assert_eq!(emu.user(&deactivated).unwrap()["status"], "DEPROVISIONED");
    // Okta's default list leaves deactivated users out.
    let listed: Vec<Value> = emu
        .users()
        .into_iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .map(|u| u["id"].clone())
        .collect();
    assert!(
        listed.len() > 8,
        "too few users for paging: {}",
        listed.len()
    );
    assert!(!listed.contains(&Value::from(deactivated.as_str())));
    emu.take_events();
    let lists_before = emu.list_request_count();

    let result = run(&emu, node("okta.mjs", &[]), "@okta/okta-sdk-nodejs").await;

    assert_eq!(result["before"].as_array().unwrap(), &listed, "{result}");
    assert_eq!(result["count"], listed.len(), "{result}");
    assert_eq!(result["known"], listed[0], "{result}");
    // Pages of four: the SDK followed the `next` links of five full lists
    // (before, with the created user, with it deactivated, the deactivated
    // filter, after).
    let pages = emu.list_request_count() - lists_before;
    assert!(
        pages >= 4 * (listed.len() as u64).div_ceil(4),
        "only {pages} list requests"
    );
    let not_found = serde_json::json!({ "status": 404, "errorCode": "E0000007" });
    assert_eq!(result["unknown"], not_found, "{result}");
    let created = result["created"].as_str().unwrap();
    assert_eq!(result["listedCreated"], true, "{result}");
    assert_eq!(result["updatedLastName"], "Renamed", "{result}");
    assert_eq!(result["deactivatedStatus"], "DEPROVISIONED", "{result}");
    assert_eq!(result["listedDeactivated"], false, "{result}");
    assert_eq!(result["deprovisionedListed"], true, "{result}");
    assert_eq!(result["gone"], not_found, "{result}");
    assert_eq!(emu.user(created), None, "the deleted user is still there");
    assert_eq!(result["after"].as_array().unwrap(), &listed, "{result}");

    let events: Vec<String> = emu
        .take_events()
        .into_iter()
        .filter(|e| {
            let body: Value = serde_json::from_str(&e.body).unwrap();
            body["target"][0]["id"] == created
        })
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        events,
        [
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.account.update_profile",
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
        ]
    );
}

/// Okta's Python SDK lists users (following `link` headers), gets,
/// creates (activated), updates, deactivates and deletes one, and lists
/// groups and apps.
#[tokio::test]
async fn okta_python_sdk() {
    let emu = start(ProviderKind::Okta).await;
    let api = |method: reqwest::Method, path: &str| {
        reqwest::Client::new()
            .request(method, format!("{}{path}", emu.base_url()))
            .header("authorization", format!("SSWS {}", emu.config().api_key))
    };
    // One deactivated seeded user for the default list to leave out, and
    // one app to list.
    let deactivated = emu.user_ids()[2].clone();
    let answer = api(
        reqwest::Method::DELETE,
        &format!("/api/v1/users/{deactivated}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(answer.status(), 204);
    let app: Value = api(reqwest::Method::POST, "/api/v1/apps")
        .json(&serde_json::json!({
            "name": "oidc_client",
            "label": "Python SDK quotes",
            "signOnMode": "OPENID_CONNECT",
            "credentials": { "oauthClient": { "token_endpoint_auth_method": "client_secret_basic" } },
            "settings": { "oauthClient": {
                "application_type": "web",
                "redirect_uris": ["http://localhost:3000/api/auth/callback/okta"],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
            } },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<Value> = emu
        .users()
        .into_iter()
        .filter(|u| u["status"] != "DEPROVISIONED")
        .map(|u| u["id"].clone())
        .collect();
    assert!(
        listed.len() > 8,
        "too few users for paging: {}",
        listed.len()
    );
    emu.take_events();
    let lists_before = emu.list_request_count();

    let result = run(&emu, python("okta_python.py"), "okta (PyPI)").await;

    assert_eq!(result["before"].as_array().unwrap(), &listed, "{result}");
    assert_eq!(result["count"], listed.len(), "{result}");
    assert_eq!(result["known"], listed[0], "{result}");
    // Pages of four, through five full lists.
    let pages = emu.list_request_count() - lists_before;
    assert!(
        pages >= 4 * (listed.len() as u64).div_ceil(4),
        "only {pages} list requests"
    );
    let not_found = serde_json::json!({ "status": 404, "errorCode": "E0000007" });
    assert_eq!(result["unknown"], not_found, "{result}");
    let created = result["created"].as_str().unwrap();
    assert_eq!(result["listedCreated"], true, "{result}");
    assert_eq!(result["updatedLastName"], "Renamed", "{result}");
    assert_eq!(result["deactivatedStatus"], "DEPROVISIONED", "{result}");
    assert_eq!(result["listedDeactivated"], false, "{result}");
    assert_eq!(result["deprovisionedListed"], true, "{result}");
    assert_eq!(result["gone"], not_found, "{result}");
    assert_eq!(emu.user(created), None, "the deleted user is still there");
    assert_eq!(result["after"].as_array().unwrap(), &listed, "{result}");

    let names: Vec<&str> = result["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Everyone", "Engineering", "Sales"], "{result}");
    assert_eq!(result["groups"][0]["type"], "BUILT_IN", "{result}");
    assert_eq!(
        result["apps"],
        serde_json::json!([{ "id": app["id"], "label": "Python SDK quotes", "signOnMode": "OPENID_CONNECT" }]),
        "{result}"
    );

    let events: Vec<String> = emu
        .take_events()
        .into_iter()
        .filter(|e| {
            let body: Value = serde_json::from_str(&e.body).unwrap();
            body["target"][0]["id"] == created
        })
        .map(|e| e.event_type)
        .collect();
    assert_eq!(
        events,
        [
            "user.lifecycle.create",
            "user.lifecycle.activate",
            "user.account.update_profile",
            "user.lifecycle.deactivate",
            "user.lifecycle.delete.initiated",
        ]
    );
}

/// Okta's Node SDK finds groups (`q`, `filter`, paging), lists members,
/// creates an OIDC web app, finds it by label, reads its secret, and
/// assigns it to a group, against the emulator's Groups and Apps APIs.
#[tokio::test]
async fn okta_node_sdk_groups_and_apps() {
    let emu = start(ProviderKind::Okta).await;
    let result = run(&emu, node("okta_apps.mjs", &[]), "@okta/okta-sdk-nodejs").await;

    assert_eq!(
        result["listedNames"],
        serde_json::json!(["Everyone", "Engineering", "Sales"]),
        "the SDK followed the next link: {result}"
    );
    assert_eq!(result["everyone"]["type"], "BUILT_IN", "{result}");
    assert_eq!(result["everyone"]["created"], true, "{result}");
    assert_eq!(
        result["builtIn"],
        serde_json::json!([result["everyone"]["id"]])
    );
    assert_eq!(result["engineering"]["name"], "Engineering", "{result}");
    assert_eq!(result["engineering"]["type"], "OKTA_GROUP", "{result}");
    // Engineering holds every third seeded user.
    let every_third: Vec<Value> = emu
        .user_ids()
        .into_iter()
        .step_by(3)
        .map(Value::from)
        .collect();
    assert_eq!(result["members"].as_array().unwrap(), &every_third);

    let created = &result["created"];
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["className"], "OpenIdConnectApplication", "{result}");
    assert_eq!(created["signOnMode"], "OPENID_CONNECT");
    assert_eq!(created["clientId"], id);
    assert_eq!(
        created["redirectUris"],
        serde_json::json!(["http://localhost:3000/api/auth/callback/okta"])
    );
    assert_eq!(
        created["postLogoutRedirectUris"],
        serde_json::json!(["http://localhost:3000"])
    );
    assert_eq!(
        created["grantTypes"],
        serde_json::json!(["authorization_code"])
    );
    assert_eq!(created["applicationType"], "web");
    let secret = created["clientSecret"].as_str().unwrap();
    assert_eq!(result["found"], serde_json::json!([id]), "{result}");
    assert_eq!(result["readLabel"], "SDK quotes");
    assert_eq!(
        result["readSecret"],
        Value::Null,
        "a read never shows the secret"
    );
    assert_eq!(
        result["secrets"],
        serde_json::json!([{ "status": "ACTIVE", "clientSecret": secret }])
    );
    assert_eq!(result["assignment"]["id"], result["engineering"]["id"]);
    assert_eq!(result["assignment"]["priority"], 0);
    assert_eq!(
        result["assignments"],
        serde_json::json!([result["engineering"]["id"]])
    );

    // What the SDK made is what the issuer sees.
    let client = emu.oidc_client(id).unwrap();
    assert!(client.secret_matches(secret));
    let users = emu.user_ids();
    assert!(emu.may_sign_in(&client, &users[0]));
    assert!(!emu.may_sign_in(&client, &users[1]));
}
