//! The Stack Auth list client against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind, RateLimit};
use idsync_providers::{Page, Provider, registry};

async fn start(users: usize) -> (Emulator, Provider) {
    start_limited(users, None).await
}

async fn start_limited(users: usize, rate_limit: Option<RateLimit>) -> (Emulator, Provider) {
    let mut c = EmulatorConfig::new(ProviderKind::StackAuth);
    c.seed_users = users;
    c.rate_limit = rate_limit;
    let emu = Emulator::start(c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let p = registry::configure("stack_auth", "test", emu.connection_keys()).unwrap();
    (emu, p)
}

#[tokio::test]
async fn listing_survives_the_cursor_user_being_deleted_between_pages() {
    let (emu, provider) = start(450).await;
    let ids = emu.user_ids();
    let first = provider.list_page(None).await.unwrap();
    assert_eq!(first.changes.len(), 200);
    // The next page would start at ids[200]; it is deleted meanwhile.
    assert!(emu.delete_user(&ids[200]));
    let second = provider.list_page(first.next.as_ref()).await.unwrap();
    let third = provider.list_page(second.next.as_ref()).await.unwrap();
    assert!(third.next.is_none());
    // Re-listed from the last user read: nothing skipped, nothing twice.
    let pages = [first, second, third];
    let got: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.changes.iter().map(|c| c.user_id.as_str()))
        .collect();
    let want: Vec<&str> = ids
        .iter()
        .filter(|id| *id != &ids[200])
        .map(String::as_str)
        .collect();
    assert!(
        got == want,
        "pages differ from the users: {} vs {}",
        got.len(),
        want.len()
    );
}

/// Follows the cursors from `first` to the end; every id listed.
async fn list_from(provider: &Provider, first: Page) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut page = first;
    for _ in 0..20 {
        ids.extend(page.changes.iter().map(|c| c.user_id.to_string()));
        let Some(next) = page.next else {
            return ids;
        };
        page = provider.list_page(Some(&next)).await.unwrap();
    }
    panic!("the listing does not end");
}

#[tokio::test]
async fn listing_starts_over_when_the_cursor_and_last_read_users_are_both_deleted() {
    let (emu, provider) = start(450).await;
    let ids = emu.user_ids();
    let first = provider.list_page(None).await.unwrap();
    assert_eq!(first.changes.last().unwrap().user_id.as_str(), ids[199]);
    // Both the next page's first user and the last user read are gone:
    // neither cursor can be listed from.
    assert!(emu.delete_user(&ids[200]));
    assert!(emu.delete_user(&ids[199]));
    let mut listed = list_from(&provider, first).await;
    listed.sort();
    listed.dedup();
    // Every user still there, plus the one read before it was deleted.
    let mut want: Vec<String> = ids.iter().filter(|id| **id != ids[200]).cloned().collect();
    want.sort();
    assert!(
        listed == want,
        "{} users listed, {} expected",
        listed.len(),
        want.len()
    );
}

#[tokio::test]
async fn listed_version_is_the_whole_second_before_the_request() {
    let limit = RateLimit {
        requests: 1,
        per: Duration::from_secs(1),
    };
    let (_emu, provider) = start_limited(3, Some(limit)).await;
    provider.list_page(None).await.unwrap();
    // This request is rate-limited, so its answer comes a second or more
    // after it was first sent: the version must not move with the answer.
    let before = chrono::Utc::now();
    let page = provider.list_page(None).await.unwrap();
    assert!(chrono::Utc::now() - before >= chrono::TimeDelta::seconds(1));
    for change in &page.changes {
        let version = change.version.at();
        assert_eq!(version.timestamp_subsec_nanos(), 0, "whole seconds");
        assert!(version < before, "{version} is not before {before}");
        assert!(before - version <= chrono::TimeDelta::seconds(2));
    }
}

#[tokio::test]
async fn wrong_key_is_reported_as_unauthorized() {
    let (emu, _) = start(1).await;
    let keys = emu.connection_keys().into_iter().map(|(k, v)| {
        let v = if k == "secret_server_key" {
            "ssk_wrong".to_owned()
        } else {
            v
        };
        (k, v)
    });
    let p = registry::configure("stack_auth", "test", keys).unwrap();
    let err = p.list_page(None).await.unwrap_err();
    assert!(
        matches!(
            err,
            idsync_providers::ApiError::Unauthorized { status: 401, .. }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("ssk_wrong"));
}
