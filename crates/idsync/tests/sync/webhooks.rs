//! Webhook ingress: bad input, redelivery, ordering, deletes.

use std::time::Duration;

use futures::StreamExt;
use idsync_emulator::{ProviderKind, WebhookEvent};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::common::*;

const TABLE: &str = "neon_identity.users_sync";

fn signed(secret: &str, id: &str, ts: i64, body: &str) -> reqwest::header::HeaderMap {
    let sig = svix::webhooks::Webhook::new(secret)
        .unwrap()
        .sign(id, ts, body.as_bytes())
        .unwrap();
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("svix-id", id.parse().unwrap());
    h.insert("svix-timestamp", ts.to_string().parse().unwrap());
    h.insert("svix-signature", sig.parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    h
}

#[tokio::test]
async fn bad_input_gets_its_status_and_writes_nothing() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    let good = sender(&server, "main", &emu);
    emu.create_user();
    deliver_all(&good, &emu.take_events()).await;
    let before = snapshot(&db.pool, TABLE).await;
    assert!(!before.is_empty());

    let secret = emu.config().webhook_secret.clone();
    let now = chrono::Utc::now().timestamp();
    let user =
        json!({"type": "user.created", "data": {"id": "intruder", "display_name": "Mallory"}})
            .to_string();
    let url = server.webhook_url("main");
    let http = reqwest::Client::new();

    let mut cases: Vec<(&str, String, reqwest::header::HeaderMap, String, u16)> = vec![
        (
            "unsigned",
            url.clone(),
            reqwest::header::HeaderMap::new(),
            user.clone(),
            401,
        ),
        (
            "mis-signed",
            url.clone(),
            signed(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_1",
                now,
                &user,
            ),
            user.clone(),
            401,
        ),
        (
            "stale timestamp",
            url.clone(),
            signed(&secret, "msg_2", now - 301, &user),
            user.clone(),
            401,
        ),
        (
            "future timestamp",
            url.clone(),
            // Far enough ahead to stay outside the window however slowly the
            // cases before it run; the exact edges are in `signatures`.
            signed(&secret, "msg_3", now + 3600, &user),
            user.clone(),
            401,
        ),
        (
            "malformed json",
            url.clone(),
            signed(&secret, "msg_4", now, "{\"type\":"),
            "{\"type\":".into(),
            400,
        ),
        (
            "unknown connection",
            server.webhook_url("nope"),
            signed(&secret, "msg_6", now, &user),
            user.clone(),
            404,
        ),
    ];
    let no_id = json!({"type": "user.updated", "data": {"display_name": "x"}}).to_string();
    cases.push((
        "missing user id",
        url.clone(),
        signed(&secret, "msg_5", now, &no_id),
        no_id,
        400,
    ));
    let huge = json!({"type": "user.created", "data": {"id": "big", "server_metadata": {"blob": "x".repeat(1024 * 1024)}}}).to_string();
    cases.push((
        "oversized",
        url.clone(),
        signed(&secret, "msg_7", now, &huge),
        huge,
        413,
    ));
    // Signed for one body, sent with another.
    let tampered = user.replace("Mallory", "Admin");
    cases.push((
        "tampered",
        url.clone(),
        signed(&secret, "msg_8", now, &user),
        tampered,
        401,
    ));

    for (what, url, headers, body, status) in cases {
        let resp = http
            .post(&url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{what}");
        let err: serde_json::Value = resp.json().await.unwrap();
        assert!(
            err["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {err}"
        );
        assert_eq!(
            snapshot(&db.pool, TABLE).await,
            before,
            "{what} changed the table"
        );
    }
    // The rejections are visible in `status` (recorded asynchronously; the
    // unknown connection has no connection to record them under).
    let sql = "SELECT count(*) FROM idsync.errors WHERE source = 'webhook'";
    wait_for_count(&db.pool, sql, 8).await;
}

#[tokio::test]
async fn redelivery_is_a_noop_and_other_events_are_acknowledged() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("clerk", &emu)]);
    let server = serve(&cfg).await;
    let s = sender(&server, "clerk", &emu);
    emu.create_user();
    let events = emu.take_events();
    let first = s.send(&events[0]).await.unwrap();
    assert_eq!(first.as_u16(), 200);
    let before = snapshot(&db.pool, TABLE).await;

    let resp = reqwest::Client::new()
        .post(server.webhook_url("clerk"))
        .headers(signed(
            &emu.config().webhook_secret,
            &events[0].msg_id,
            chrono::Utc::now().timestamp(),
            &events[0].body,
        ))
        .body(events[0].body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["outcome"], "duplicate");
    assert_eq!(snapshot(&db.pool, TABLE).await, before);

    let session = json!({"type": "session.created", "object": "event", "data": {"id": "sess_1"}, "timestamp": 1}).to_string();
    let resp = reqwest::Client::new()
        .post(server.webhook_url("clerk"))
        .headers(signed(
            &emu.config().webhook_secret,
            "msg_session",
            chrono::Utc::now().timestamp(),
            &session,
        ))
        .body(session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["outcome"],
        "ignored"
    );
    assert_eq!(snapshot(&db.pool, TABLE).await, before);
}

/// 1,000 random changes, delivered shuffled with duplicates and 16 at a
/// time, end in the provider's final state.
async fn converges(kind: ProviderKind) {
    let db = postgres().await;
    let emu = emulator(kind, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    emu.advance_clock(chrono::Duration::seconds(-2000));
    for _ in 0..1000 {
        emu.random_change();
        // Stack Auth events carry second-resolution times: one change per
        // second of provider time keeps every user's versions distinct.
        emu.advance_clock(chrono::Duration::seconds(1));
    }
    let mut events: Vec<WebhookEvent> = emu.take_events();
    assert_eq!(events.len(), 1000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let dups: Vec<WebhookEvent> = events
        .iter()
        .filter(|_| rng.random_bool(0.2))
        .cloned()
        .collect();
    events.extend(dups);
    events.shuffle(&mut rng);

    let s = sender(&server, "main", &emu);
    let statuses: Vec<u16> = futures::stream::iter(events.iter())
        .map(|e| {
            let s = &s;
            async move { s.send(e).await.unwrap().as_u16() }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200), "all accepted");
    assert_mirrors(&db.pool, TABLE, &emu).await;
    let deleted = count(
        &db.pool,
        "SELECT count(*) FROM neon_identity.users_sync WHERE deleted_at IS NOT NULL",
    )
    .await;
    assert!(deleted > 0, "some users were deleted along the way");
    let logged = count(&db.pool, "SELECT count(*) FROM idsync.deliveries").await;
    assert_eq!(logged, 1000, "each message logged once");
}

#[tokio::test]
async fn clerk_changes_shuffled_with_duplicates_converge() {
    converges(ProviderKind::Clerk).await;
}

#[tokio::test]
async fn stack_auth_changes_shuffled_with_duplicates_converge() {
    converges(ProviderKind::StackAuth).await;
}

async fn stale_update_after_delete_does_not_resurrect(kind: ProviderKind) {
    let db = postgres().await;
    let emu = emulator(kind, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    let s = sender(&server, "main", &emu);
    let user = emu.create_user();
    let id = user["id"].as_str().unwrap().to_owned();
    emu.advance_clock(chrono::Duration::seconds(5));
    emu.update_user(&id).unwrap();
    emu.advance_clock(chrono::Duration::seconds(5));
    assert!(emu.delete_user(&id));
    let events = emu.take_events();
    let (created, updated, deleted) = (&events[0], &events[1], &events[2]);

    deliver_all(&s, &[created.clone(), deleted.clone()]).await;
    let after_delete = rows(&db.pool, TABLE).await;
    assert!(after_delete[0].deleted);
    assert_eq!(
        after_delete[0].raw_json, user,
        "soft delete keeps the last profile"
    );

    let resp = s.send(updated).await.unwrap();
    assert_eq!(resp.as_u16(), 200);
    let after = rows(&db.pool, TABLE).await;
    assert_eq!(
        after, after_delete,
        "{kind:?}: stale update changed the row"
    );

    // A delete delivered before its create leaves a tombstone the
    // create cannot overwrite.
    let other = emu.create_user();
    emu.advance_clock(chrono::Duration::seconds(5));
    emu.delete_user(other["id"].as_str().unwrap());
    let events = emu.take_events();
    deliver_all(&s, &[events[1].clone(), events[0].clone()]).await;
    let rows = rows(&db.pool, TABLE).await;
    let row = rows
        .iter()
        .find(|r| r.id == other["id"].as_str().unwrap())
        .unwrap();
    assert!(
        row.deleted,
        "{kind:?}: create after delete resurrected the user"
    );
}

#[tokio::test]
async fn stack_auth_stale_update_after_delete_does_not_resurrect() {
    stale_update_after_delete_does_not_resurrect(ProviderKind::StackAuth).await;
}

#[tokio::test]
async fn clerk_stale_update_after_delete_does_not_resurrect() {
    stale_update_after_delete_does_not_resurrect(ProviderKind::Clerk).await;
}

/// Postgres text and jsonb cannot hold U+0000; a user who types one into
/// their profile is stored with U+FFFD instead of failing the batch.
#[tokio::test]
async fn a_nul_character_in_a_profile_is_stored_replaced() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("clerk", &emu)]);
    let server = serve(&cfg).await;
    // After serve's first backfill, which would otherwise list the user with
    // its real name at the same version.
    backfilled(&db.pool, 1).await;
    let user = emu.create_user();
    let event = emu.take_events().remove(0);
    let mut body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
    body["data"]["first_name"] = json!("Ada\u{0}");
    body["data"]["last_name"] = json!(null);
    body["data"]["public_metadata"] = json!({"note\u{0}": ["x\u{0}y"]});
    let body = body.to_string();
    assert!(body.contains("\\u0000"));

    let resp = reqwest::Client::new()
        .post(server.webhook_url("clerk"))
        .headers(signed(
            &emu.config().webhook_secret,
            &event.msg_id,
            chrono::Utc::now().timestamp(),
            &body,
        ))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (name, raw): (Option<String>, serde_json::Value) =
        sqlx::query_as("SELECT name, raw_json FROM neon_identity.users_sync WHERE id = $1")
            .bind(user["id"].as_str().unwrap())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(name.as_deref(), Some("Ada\u{FFFD}"));
    assert_eq!(
        raw["public_metadata"],
        json!({"note\u{FFFD}": ["x\u{FFFD}y"]})
    );
}

/// A delivery the database refuses (here, by a trigger the user added to
/// the table) fails alone: the others of its batch are applied.
#[tokio::test]
async fn one_refused_delivery_does_not_fail_its_batch() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("clerk", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let s = sender(&server, "clerk", &emu);
    emu.create_user();
    let blocker = emu.take_events().remove(0);
    let users: Vec<String> = (0..11)
        .map(|_| emu.create_user()["id"].as_str().unwrap().to_owned())
        .collect();
    let events = emu.take_events();
    let poison = &users[0];
    sqlx::raw_sql(&format!(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.id = '{poison}' THEN RAISE EXCEPTION 'refused by a test trigger'; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON neon_identity.users_sync
           FOR EACH ROW EXECUTE FUNCTION refuse();"
    ))
    .execute(&db.pool)
    .await
    .unwrap();

    // Hold the applier on a table lock with one delivery, so the next ones
    // queue up and are applied together once it is released.
    let mut lock = db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE neon_identity.users_sync IN EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let first = tokio::spawn({
        let s = sender(&server, "clerk", &emu);
        async move { s.send(&blocker).await.unwrap() }
    });
    wait_for_count(
        &db.pool,
        "SELECT count(*) FROM pg_locks WHERE NOT granted",
        1,
    )
    .await;
    let rest =
        tokio::spawn(
            async move { futures::future::join_all(events.iter().map(|e| s.send(e))).await },
        );
    // Time for the requests to reach the applier's queue (not observable
    // from here); if they were slower, they would only form smaller batches.
    tokio::time::sleep(Duration::from_millis(500)).await;
    lock.commit().await.unwrap();

    assert_eq!(first.await.unwrap().as_u16(), 200);
    let statuses: Vec<u16> = rest
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap().as_u16())
        .collect();
    assert_eq!(statuses[0], 503, "the refused delivery asks for a retry");
    assert!(
        statuses[1..].iter().all(|&c| c == 200),
        "the others of its batch: {statuses:?}"
    );
    let active = count(
        &db.pool,
        "SELECT count(*) FROM neon_identity.users_sync WHERE deleted_at IS NULL",
    )
    .await;
    assert_eq!(active, 11, "the blocker and ten of the eleven");
}
