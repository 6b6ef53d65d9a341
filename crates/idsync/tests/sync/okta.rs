//! Okta end to end: backfill through the Users API (link paging, the
//! deprovisioned users listed apart, rate limits), and event hooks whose
//! events name users the refresher then fetches.

use std::collections::BTreeMap;
use std::time::Duration;

use idsync_emulator::{Delivery, Emulator, ProviderKind, WebhookEvent, WebhookTarget};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::*;

const TABLE: &str = "neon_identity.users_sync";
const CONNECTION: &str = "okta";

fn deprovisioned(user: &Value) -> bool {
    user["status"] == "DEPROVISIONED"
}

/// How the table differs from the emulated org, if it does: every user has
/// a row, soft-deleted exactly when deprovisioned, live rows hold the user
/// as the API returns it (and with `deleted_json`, deleted rows too), and
/// every other row is soft-deleted.
async fn mismatch(pool: &PgPool, emu: &Emulator, deleted_json: bool) -> Option<String> {
    let rows: BTreeMap<String, Row> = rows(pool, TABLE)
        .await
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let users = emu.users();
    for user in &users {
        let id = user["id"].as_str().unwrap_or_default();
        let Some(row) = rows.get(id) else {
            return Some(format!("user {id} has no row"));
        };
        if row.deleted != deprovisioned(user) {
            return Some(format!(
                "user {id} ({}): deleted = {}",
                user["status"], row.deleted
            ));
        }
        if (!row.deleted || deleted_json) && &row.raw_json != user {
            return Some(format!("user {id}: raw_json differs"));
        }
    }
    let known: std::collections::HashSet<&str> =
        users.iter().filter_map(|u| u["id"].as_str()).collect();
    rows.values()
        .find(|r| !r.deleted && !known.contains(r.id.as_str()))
        .map(|r| format!("row {} is live but Okta has no such user", r.id))
}

/// Polls until the table mirrors the org. The refresher works through its
/// queue at its own pace, so the deadline is generous.
async fn converged(pool: &PgPool, emu: &Emulator) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let Some(problem) = mismatch(pool, emu, false).await else {
            return;
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "the table never converged: {problem}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// List pages a backfill fetches: the default list, then the deprovisioned.
fn pages(emu: &Emulator) -> u64 {
    let users = emu.users();
    let gone = users.iter().filter(|u| deprovisioned(u)).count();
    let listed = users.len() - gone;
    (listed.div_ceil(200) + gone.div_ceil(200)) as u64
}

#[tokio::test]
async fn okta_backfill_of_2500_users_is_exact() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 2_500).await;
    let gone = emu.users().iter().filter(|u| deprovisioned(u)).count();
    assert!(gone > 50, "some users are deprovisioned: {gone}");
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "backfill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pages(&emu), 13);
    assert_eq!(emu.list_request_count(), 13, "each page fetched once");
    assert_eq!(mismatch(&db.pool, &emu, true).await, None);
    assert_eq!(
        count(
            &db.pool,
            &format!("SELECT count(*) FROM {TABLE} WHERE deleted_at IS NOT NULL")
        )
        .await,
        gone as i64
    );

    // A second run changes nothing.
    let out = cli(&cfg.path(), &["backfill"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("0 added, 0 updated, 0 deleted, 2500 unchanged"),
        "{stdout}"
    );
}

#[tokio::test]
async fn rate_limited_okta_backfill_still_completes() {
    let db = postgres().await;
    // 5 + 1 pages at one request a second: every answer says none are
    // left, so the client waits for each reset (or is refused and waits).
    let emu = slow_emulator(ProviderKind::Okta, 1_000).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mismatch(&db.pool, &emu, true).await, None);
    assert!(emu.list_request_count() >= pages(&emu));
}

/// Calls the emulated Users API with the org's token.
async fn api(emu: &Emulator, method: reqwest::Method, path: &str) -> StatusCode {
    reqwest::Client::new()
        .request(method, format!("{}{path}", emu.base_url()))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .send()
        .await
        .unwrap()
        .status()
}

/// At least `n` events of every kind the hook carries: sign-ups, profile
/// edits, deletes, and lifecycle operations through the API.
async fn make_events(emu: &Emulator, n: usize, seed: u64) -> Vec<WebhookEvent> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut events = Vec::new();
    while events.len() < n {
        let ids = emu.user_ids();
        let id = &ids[rng.random_range(0..ids.len())];
        let status = emu.user(id).unwrap()["status"].as_str().unwrap().to_owned();
        let op = match (rng.random_range(0..10), status.as_str()) {
            (0..5, _) => None,
            (5, "ACTIVE") => Some("suspend"),
            (5, "SUSPENDED") => Some("unsuspend"),
            (6, "DEPROVISIONED" | "STAGED") => Some("activate"),
            (6 | 7, _) => Some("deactivate"),
            (8, "DEPROVISIONED") => Some("delete"),
            _ => None,
        };
        match op {
            None => {
                emu.random_change();
            }
            Some("delete") => {
                let answer =
                    api(emu, reqwest::Method::DELETE, &format!("/api/v1/users/{id}")).await;
                assert_eq!(answer, StatusCode::NO_CONTENT);
            }
            Some(op) => {
                let path = format!("/api/v1/users/{id}/lifecycle/{op}");
                let answer = api(emu, reqwest::Method::POST, &path).await;
                assert_eq!(answer, StatusCode::OK, "{op} of a {status} user");
            }
        }
        events.extend(emu.take_events());
    }
    events
}

#[tokio::test]
async fn event_hooks_in_shuffled_duplicated_batches_converge() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 500).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;

    let events = make_events(&emu, 2_000, 11).await;
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(kinds.len() >= 7, "{kinds:?}");
    let outcomes = sender(&server, CONNECTION, &emu)
        .send_all(
            &events,
            Delivery::Shuffled {
                duplicates: 0.2,
                seed: 5,
            },
        )
        .await;
    let sent = events.len() + (events.len() as f64 * 0.2).round() as usize;
    assert_eq!(outcomes.len(), sent.div_ceil(50), "batches of 50");
    for (delivery, outcome) in &outcomes {
        assert_eq!(outcome.as_ref().ok(), Some(&StatusCode::OK), "{delivery}");
    }
    converged(&db.pool, &emu).await;
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.deliveries WHERE connection = 'okta'"
        )
        .await,
        events.len() as i64,
        "each event recorded once"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_authorization_is_refused_and_records_nothing() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 5).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let id = emu.user_ids()[0].clone();
    emu.update_user(&id).unwrap();
    let events = emu.take_events();

    let wrong = emu
        .sender(WebhookTarget {
            url: server.webhook_url(CONNECTION),
            secret: "whsec_not-the-secret".into(),
        })
        .unwrap();
    assert_eq!(
        wrong.send(&events[0]).await.unwrap(),
        StatusCode::UNAUTHORIZED
    );
    let body = json!({
        "eventType": "com.okta.event_hook",
        "data": {"events": [serde_json::from_str::<Value>(&events[0].body).unwrap()]},
    });
    let missing = reqwest::Client::new()
        .post(server.webhook_url(CONNECTION))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    for table in ["idsync.deliveries", "idsync.refresh_queue"] {
        assert_eq!(
            count(&db.pool, &format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }

    // The same event with the secret is taken.
    let right = sender(&server, CONNECTION, &emu);
    assert_eq!(right.send(&events[0]).await.unwrap(), StatusCode::OK);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM idsync.deliveries").await,
        1
    );
}

#[tokio::test]
async fn the_verification_request_is_answered_exactly() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 0).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    let http = reqwest::Client::new();
    let answer = http
        .get(server.webhook_url(CONNECTION))
        .header("x-okta-verification-challenge", "X1UoasMA-ko4ACqgstRtvN")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body, json!({"verification": "X1UoasMA-ko4ACqgstRtvN"}));

    let unchallenged = http
        .get(server.webhook_url(CONNECTION))
        .send()
        .await
        .unwrap();
    assert!(
        unchallenged.status().is_client_error(),
        "{}",
        unchallenged.status()
    );
}

#[tokio::test]
async fn events_taken_while_the_api_is_down_are_refreshed_once_it_is_back() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 50).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;

    emu.set_unavailable(true);
    for _ in 0..40 {
        emu.random_change();
    }
    let events = emu.take_events();
    let outcomes = sender(&server, CONNECTION, &emu)
        .send_all(&events, Delivery::InOrder)
        .await;
    for (delivery, outcome) in &outcomes {
        assert_eq!(outcome.as_ref().ok(), Some(&StatusCode::OK), "{delivery}");
    }
    wait_for_count(
        &db.pool,
        "SELECT count(*) FROM idsync.refresh_queue WHERE attempts > 0",
        1,
    )
    .await;
    assert!(mismatch(&db.pool, &emu, false).await.is_some());

    emu.set_unavailable(false);
    converged(&db.pool, &emu).await;
    wait_for("the refresh queue to empty", async || {
        count(&db.pool, "SELECT count(*) FROM idsync.refresh_queue").await == 0
    })
    .await;
}

/// `idsync connect` with `public_url` pointing at the running server.
async fn connect(cfg: &ConfigDir, public_url: &str, extra: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_idsync"))
        .arg("--config")
        .arg(cfg.path())
        .arg("connect")
        .arg(CONNECTION)
        .args(extra)
        .env_remove("DATABASE_URL")
        .env("IDSYNC_PUBLIC_URL", public_url)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn connect_registers_verifies_and_activates_the_event_hook_once() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 0).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    let hooks = || async {
        let keys: BTreeMap<&str, String> = emu.connection_keys().into_iter().collect();
        reqwest::Client::new()
            .get(format!("{}/api/v1/eventHooks", emu.base_url()))
            .header("authorization", format!("SSWS {}", keys["api_token"]))
            .send()
            .await
            .unwrap()
            .json::<Vec<Value>>()
            .await
            .unwrap()
    };

    let (ok, dry) = connect(&cfg, &server.base, &["--dry-run"]).await;
    assert!(ok, "{dry}");
    assert!(dry.contains("would create event hook"), "{dry}");
    assert!(hooks().await.is_empty(), "a dry run changes nothing");

    let (ok, first) = connect(&cfg, &server.base, &[]).await;
    assert!(ok, "{first}");
    assert!(first.contains("did create event hook"), "{first}");
    assert!(first.contains("ACTIVE, VERIFIED"), "{first}");
    let registered = hooks().await;
    assert_eq!(registered.len(), 1);
    let hook = &registered[0];
    assert_eq!(
        hook["channel"]["config"]["uri"],
        server.webhook_url(CONNECTION)
    );
    assert_eq!(hook["verificationStatus"], "VERIFIED");
    assert_eq!(hook["status"], "ACTIVE");
    let events: Vec<&str> = hook["events"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(events.contains(&"user.lifecycle.deactivate"), "{events:?}");
    assert!(
        events.contains(&"user.account.update_profile"),
        "{events:?}"
    );

    let (ok, second) = connect(&cfg, &server.base, &[]).await;
    assert!(ok, "{second}");
    assert!(second.contains("nothing to change"), "{second}");
    assert_eq!(hooks().await.len(), 1, "no second hook");
}

/// The org delivers to the hook `idsync connect` registered, with the
/// configured Authorization value (idsync refuses and records nothing
/// otherwise), until the hook is deactivated through the API.
#[tokio::test]
async fn the_registered_hook_delivers_changes_until_deactivated() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 5).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let (ok, said) = connect(&cfg, &server.base, &[]).await;
    assert!(ok && said.contains("ACTIVE, VERIFIED"), "{said}");
    let deliveries = "SELECT count(*) FROM idsync.deliveries WHERE connection = 'okta'";
    assert_eq!(count(&db.pool, deliveries).await, 0);
    let ids = emu.user_ids();
    let stored = async |id: &str| -> Option<String> {
        sqlx::query_scalar(&format!(
            "SELECT raw_json->>'lastUpdated' FROM {TABLE} WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
    };
    let changed = |id: &str| {
        emu.user(id).unwrap()["lastUpdated"]
            .as_str()
            .map(str::to_owned)
    };

    emu.update_user(&ids[0]).unwrap();
    assert_eq!(emu.registered_deliveries_queued(), 1);
    let updated = changed(&ids[0]);
    assert!(updated.is_some());
    wait_for("the change to arrive through the hook", async || {
        stored(&ids[0]).await == updated
    })
    .await;
    assert_eq!(
        count(&db.pool, deliveries).await,
        1,
        "one event, recorded once"
    );

    let hook = &hooks(&emu).await[0];
    let path = format!(
        "{}/api/v1/eventHooks/{}/lifecycle/deactivate",
        emu.base_url(),
        hook["id"].as_str().unwrap()
    );
    let answer = okta_client(&emu, reqwest::Method::POST, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let before = stored(&ids[1]).await;
    emu.update_user(&ids[1]).unwrap();
    assert_ne!(changed(&ids[1]), before);
    assert_eq!(
        emu.registered_deliveries_queued(),
        1,
        "nothing for an inactive hook"
    );
    // Long enough for a delivery that should not happen to have arrived.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(count(&db.pool, deliveries).await, 1);
    assert_eq!(stored(&ids[1]).await, before);
}

fn okta_client(emu: &Emulator, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, url)
        .header("authorization", format!("SSWS {}", emu.config().api_key))
}

/// The org's event hooks, as its API lists them.
async fn hooks(emu: &Emulator) -> Vec<Value> {
    let url = format!("{}/api/v1/eventHooks", emu.base_url());
    okta_client(emu, reqwest::Method::GET, &url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn connect_explains_a_hook_okta_cannot_verify() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 0).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    // Okta must reach idsync: a public_url where nothing listens fails
    // verification, and connect says so instead of claiming success.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (ok, text) = connect(&cfg, &nowhere, &[]).await;
    drop(server);
    assert!(!ok, "{text}");
    assert!(text.contains("could not set up Okta's push"), "{text}");
}

/// The table apart from the rows of `except`, as text.
async fn others(pool: &PgPool, except: &[&str]) -> String {
    sqlx::query_scalar(&format!(
        "SELECT string_agg(t::text, E'\\n' ORDER BY id) FROM {TABLE} t WHERE id <> ALL($1)"
    ))
    .bind(except)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Runs `incremental` or a full reconcile of the configured connection in
/// this process, with no margin: the emulator and the database read the
/// same clock, and the changes are made later on the emulator's.
async fn reconcile_now(
    cfg: &ConfigDir,
    pool: &PgPool,
    incremental: bool,
) -> idsync_store::runs::RunCounts {
    let config = idsync::config::Config::load_from(&cfg.path(), true, std::iter::empty()).unwrap();
    let conn = &config.connections[0];
    let target = idsync_sync::JobTarget {
        pool,
        connection: conn.name.as_str(),
        table: &conn.table,
        provider: &conn.provider,
    };
    let progress = idsync_sync::LogProgress::new(CONNECTION);
    let margin = chrono::TimeDelta::zero();
    let report = if incremental {
        idsync_sync::incremental_reconcile_with_margin(target, &progress, margin).await
    } else {
        idsync_sync::reconcile_with_margin(target, &progress, margin).await
    };
    report.unwrap().counts
}

fn deleted_at_is_set(id: &str) -> String {
    format!("SELECT count(*) FROM {TABLE} WHERE id = '{id}' AND deleted_at IS NOT NULL")
}

/// Changes Okta announced to nobody: the incremental pass lists only the
/// changed users (one page instead of the whole org), applies them,
/// deactivations included, and leaves the rest alone; a user deleted
/// outright is not in any listing of changes, so only the full pass finds it.
#[tokio::test]
async fn incremental_reconcile_applies_only_the_changed_users() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 1_000).await;
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());

    emu.set_emit_webhooks(false);
    // The emulator's clock is the database's (one host, no offset): these
    // changes are later than the backfill's start and earlier than the
    // start of every pass below.
    let live: Vec<String> = emu
        .users()
        .iter()
        .filter(|u| u["status"] == "ACTIVE")
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let (updated, deactivated, gone) = ([&live[0], &live[1]], &live[2], &live[3]);
    for id in updated {
        emu.update_user(id).unwrap();
    }
    let path = format!("/api/v1/users/{deactivated}/lifecycle/deactivate");
    assert_eq!(
        api(&emu, reqwest::Method::POST, &path).await,
        StatusCode::OK
    );
    let created = emu.create_user()["id"].as_str().unwrap().to_owned();
    assert!(emu.delete_user(gone));
    assert!(emu.take_events().is_empty());
    let changed = [updated[0].as_str(), updated[1], deactivated, &created, gone];
    let untouched = others(&db.pool, &changed).await;

    let before = emu.list_request_count();
    let counts = reconcile_now(&cfg, &db.pool, true).await;
    assert_eq!(
        emu.list_request_count() - before,
        1,
        "one page of changes, not {} pages",
        pages(&emu)
    );
    assert_eq!(
        (
            counts.seen,
            counts.added,
            counts.updated,
            counts.deleted,
            counts.unchanged
        ),
        (4, 1, 2, 1, 0),
        "{counts:?}"
    );
    assert_eq!(others(&db.pool, &changed).await, untouched);
    assert_eq!(count(&db.pool, &deleted_at_is_set(deactivated)).await, 1);
    assert_eq!(
        mismatch(&db.pool, &emu, false).await,
        Some(format!("row {gone} is live but Okta has no such user")),
        "everything else matches (a deactivated row keeps its last live profile)"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.sync_runs
              WHERE kind = 'incremental_reconcile' AND status = 'completed' AND seen = 4"
        )
        .await,
        1
    );

    let before = emu.list_request_count();
    let counts = reconcile_now(&cfg, &db.pool, false).await;
    assert_eq!(emu.list_request_count() - before, pages(&emu));
    assert_eq!(counts.deleted, 1, "{counts:?}");
    assert_eq!(count(&db.pool, &deleted_at_is_set(gone)).await, 1);
    assert_eq!(mismatch(&db.pool, &emu, false).await, None);

    // The next incremental pass starts from the full one: nothing changed.
    let before = emu.list_request_count();
    let counts = reconcile_now(&cfg, &db.pool, true).await;
    assert_eq!((emu.list_request_count() - before, counts.seen), (1, 0));
}

/// A provider that cannot list changed users gets full passes only: asked
/// for an incremental one, `idsync reconcile` says so and records no run.
#[tokio::test]
async fn stack_auth_cannot_reconcile_incrementally() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 5).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());
    let out = cli(&cfg.path(), &["reconcile", "--incremental"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot list the users changed since a time"),
        "{stderr}"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.sync_runs WHERE kind <> 'backfill'"
        )
        .await,
        0
    );
    let out = cli(&cfg.path(), &["reconcile", "--full"]).await;
    assert!(out.status.success());
}
