//! `idsync create-app` against the Okta emulator: the OIDC web app of
//! Neon's guide, its redirects, grant and assignment, idempotent by label;
//! `--dry-run` and a rerun change nothing; an unknown group is a clear
//! error. The command never opens the database, so the configuration
//! names one that does not exist.

use std::collections::BTreeMap;

use idsync_emulator::{Emulator, ProviderKind};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const CONNECTION: &str = "okta";
const NO_DATABASE: &str = "postgres://nobody@127.0.0.1:1/none";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn create_app(cfg: &ConfigDir, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_idsync"))
        .arg("--config")
        .arg(cfg.path())
        .arg("create-app")
        .arg(CONNECTION)
        .args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `NAME=value` lines of stdout.
fn env_of(run: &Run) -> BTreeMap<String, String> {
    run.stdout
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

async fn okta(emu: &Emulator, method: Method, path: &str) -> Value {
    let keys: BTreeMap<&str, String> = emu.connection_keys().into_iter().collect();
    let resp = reqwest::Client::new()
        .request(method, format!("{}{path}", emu.base_url()))
        .header("authorization", format!("SSWS {}", keys["api_token"]))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

async fn apps(emu: &Emulator) -> Vec<Value> {
    okta(emu, Method::GET, "/api/v1/apps")
        .await
        .as_array()
        .unwrap()
        .clone()
}

async fn group_id(emu: &Emulator, name: &str) -> String {
    let found = okta(emu, Method::GET, &format!("/api/v1/groups?q={name}")).await;
    found[0]["id"].as_str().unwrap().to_owned()
}

async fn assigned(emu: &Emulator, app: &str) -> Vec<String> {
    let list = okta(emu, Method::GET, &format!("/api/v1/apps/{app}/groups")).await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_app_makes_the_guides_web_app_once() {
    let emu = emulator(ProviderKind::Okta, 20).await;
    let cfg = config(NO_DATABASE, &[Conn::new(CONNECTION, &emu)]);
    let url = ["--app-url", "http://localhost:3000/"];

    let dry = create_app(&cfg, &[&url[..], &["--dry-run"]].concat()).await;
    assert!(dry.ok, "{}", dry.stderr);
    assert!(
        dry.stderr
            .contains("would create OIDC web app \"idsync okta\""),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr.contains("would assign the new app to Everyone"),
        "{}",
        dry.stderr
    );
    assert!(!dry.stdout.contains("AUTH_OKTA_SECRET"), "{}", dry.stdout);
    assert!(apps(&emu).await.is_empty(), "a dry run creates nothing");

    let first = create_app(&cfg, &url).await;
    assert!(first.ok, "{}", first.stderr);
    assert!(
        first.stderr.contains("did create OIDC web app"),
        "{}",
        first.stderr
    );
    let all = apps(&emu).await;
    assert_eq!(all.len(), 1);
    let app = &all[0];
    let id = app["id"].as_str().unwrap();
    assert_eq!(app["label"], "idsync okta");
    assert_eq!(app["name"], "oidc_client");
    assert_eq!(app["signOnMode"], "OPENID_CONNECT");
    assert_eq!(app["status"], "ACTIVE");
    let settings = &app["settings"]["oauthClient"];
    assert_eq!(
        settings["redirect_uris"],
        json!(["http://localhost:3000/api/auth/callback/okta"])
    );
    assert_eq!(
        settings["post_logout_redirect_uris"],
        json!(["http://localhost:3000"])
    );
    assert_eq!(settings["grant_types"], json!(["authorization_code"]));
    assert_eq!(settings["response_types"], json!(["code"]));
    assert_eq!(settings["application_type"], "web");
    assert_eq!(assigned(&emu, id).await, [group_id(&emu, "Everyone").await]);

    // The lines the quotes example reads, and nothing else, on stdout.
    let env = env_of(&first);
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        ["AUTH_OKTA_ID", "AUTH_OKTA_ISSUER", "AUTH_OKTA_SECRET"]
    );
    assert_eq!(env["AUTH_OKTA_ISSUER"], emu.base_url());
    assert_eq!(
        env["AUTH_OKTA_ID"],
        app["credentials"]["oauthClient"]["client_id"]
    );
    let client = emu.oidc_client(&env["AUTH_OKTA_ID"]).unwrap();
    assert!(client.secret_matches(&env["AUTH_OKTA_SECRET"]));
    assert!(emu.may_sign_in(&client, &emu.user_ids()[1]));
    assert!(!first.stderr.contains(&env["AUTH_OKTA_SECRET"]));

    // A rerun finds the app by its label, changes nothing, and prints the
    // same settings (the secret read back through /credentials/secrets).
    let before = apps(&emu).await;
    let second = create_app(&cfg, &url).await;
    assert!(second.ok, "{}", second.stderr);
    assert!(
        second.stderr.contains("nothing to change"),
        "{}",
        second.stderr
    );
    assert_eq!(env_of(&second), env);
    assert_eq!(apps(&emu).await, before, "nothing changed");
    let dry = create_app(&cfg, &[&url[..], &["--dry-run"]].concat()).await;
    assert!(dry.stderr.contains("nothing to change"), "{}", dry.stderr);
}

#[tokio::test]
async fn create_app_assigns_a_group_and_puts_back_what_differs() {
    let emu = emulator(ProviderKind::Okta, 20).await;
    let cfg = config(NO_DATABASE, &[Conn::new(CONNECTION, &emu)]);
    let first = create_app(
        &cfg,
        &[
            "--app-url",
            "http://localhost:3000",
            "--group",
            "Engineering",
            "--label",
            "Quotes",
        ],
    )
    .await;
    assert!(first.ok, "{}", first.stderr);
    let all = apps(&emu).await;
    let id = all[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(all[0]["label"], "Quotes");
    let engineering = group_id(&emu, "Engineering").await;
    assert_eq!(assigned(&emu, &id).await, [engineering.as_str()]);
    // Engineering holds every third user: the first may sign in, the
    // second not.
    let client = emu.oidc_client(&env_of(&first)["AUTH_OKTA_ID"]).unwrap();
    let users = emu.user_ids();
    assert!(emu.may_sign_in(&client, &users[0]));
    assert!(!emu.may_sign_in(&client, &users[1]));

    // Someone edits the redirect in the Admin Console; a dry run says what
    // it would put back and changes nothing; the run puts it back.
    let mut edited = all[0].clone();
    edited["settings"]["oauthClient"]["redirect_uris"] = json!(["https://elsewhere.example/cb"]);
    let keys: BTreeMap<&str, String> = emu.connection_keys().into_iter().collect();
    let resp = reqwest::Client::new()
        .put(format!("{}/api/v1/apps/{id}", emu.base_url()))
        .header("authorization", format!("SSWS {}", keys["api_token"]))
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let args = ["--app-url", "http://localhost:3000", "--label", "Quotes"];
    let dry = create_app(&cfg, &[&args[..], &["--dry-run"]].concat()).await;
    assert!(dry.ok, "{}", dry.stderr);
    assert!(
        dry.stderr
            .contains(&format!("would update app {id}: sign-in redirect URIs")),
        "{}",
        dry.stderr
    );
    assert!(!dry.stderr.contains("unassign"), "{}", dry.stderr);
    assert_eq!(assigned(&emu, &id).await, [engineering.as_str()], "dry run");

    // Without --group the app is for everyone; the admin's Engineering
    // assignment is left as it is, and said so.
    let fixed = create_app(&cfg, &args).await;
    assert!(fixed.ok, "{}", fixed.stderr);
    let app = okta(&emu, Method::GET, &format!("/api/v1/apps/{id}")).await;
    assert_eq!(
        app["settings"]["oauthClient"]["redirect_uris"],
        json!(["http://localhost:3000/api/auth/callback/okta"])
    );
    let everyone = group_id(&emu, "Everyone").await;
    let mut both = assigned(&emu, &id).await;
    both.sort();
    let mut expected = vec![engineering.clone(), everyone.clone()];
    expected.sort();
    assert_eq!(both, expected);
    assert!(
        fixed
            .stderr
            .contains(&format!("and to groups {engineering} (left as they are)")),
        "{}",
        fixed.stderr
    );
    assert_eq!(apps(&emu).await.len(), 1, "no second app");
    assert_eq!(
        env_of(&fixed)["AUTH_OKTA_SECRET"],
        env_of(&first)["AUTH_OKTA_SECRET"]
    );

    // Limiting it to Engineering again takes it away from Everyone, which
    // would let every user in.
    let limited = create_app(&cfg, &[&args[..], &["--group", "Engineering"]].concat()).await;
    assert!(limited.ok, "{}", limited.stderr);
    assert!(
        limited.stderr.contains(&format!(
            "unassign app {id} from Everyone (it is limited to Engineering)"
        )),
        "{}",
        limited.stderr
    );
    assert_eq!(assigned(&emu, &id).await, [engineering.as_str()]);
}

#[tokio::test]
async fn create_app_refuses_an_unknown_group_and_creates_nothing() {
    let emu = emulator(ProviderKind::Okta, 5).await;
    let cfg = config(NO_DATABASE, &[Conn::new(CONNECTION, &emu)]);
    let run = create_app(
        &cfg,
        &["--app-url", "http://localhost:3000", "--group", "Eng"],
    )
    .await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("Okta has no group named \"Eng\" (groups starting with it: Engineering)"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert!(apps(&emu).await.is_empty());
    let bad = create_app(&cfg, &["--app-url", "localhost:3000"]).await;
    assert!(!bad.ok);
    assert!(
        bad.stderr.contains("must be an http:// or https:// URL"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn providers_without_an_apps_api_say_so() {
    let emu = emulator(ProviderKind::StackAuth, 0).await;
    let cfg = config(NO_DATABASE, &[Conn::new(CONNECTION, &emu)]);
    let run = create_app(&cfg, &["--app-url", "http://localhost:3000"]).await;
    assert!(!run.ok);
    assert!(
        run.stderr
            .contains("Stack Auth's API cannot create sign-in apps"),
        "{}",
        run.stderr
    );
}
