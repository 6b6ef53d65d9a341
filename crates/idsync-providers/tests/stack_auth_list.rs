//! The Stack Auth list client against the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idsync_core::Secret;
use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind};
use idsync_providers::{Provider, RetryPolicy};

async fn start(users: usize) -> (Emulator, Provider) {
    let mut c = EmulatorConfig::new(ProviderKind::StackAuth);
    c.seed_users = users;
    let emu = Emulator::start(c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let c = emu.config();
    let p = Provider::stack_auth(
        &emu.base_url(),
        &c.project_id,
        Secret::new(c.api_key.clone()),
        RetryPolicy::default(),
    );
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

#[tokio::test]
async fn wrong_key_is_reported_as_unauthorized() {
    let (emu, _) = start(1).await;
    let p = Provider::stack_auth(
        &emu.base_url(),
        &emu.config().project_id,
        Secret::new("ssk_wrong"),
        RetryPolicy::default(),
    );
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
