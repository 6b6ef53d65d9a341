//! Reading one user by id against the emulators: found, gone, and the
//! answers that must not be read as "gone".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idsync_core::ChangeKind;
use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind};
use idsync_providers::{ApiError, Provider, registry};

async fn emulator(kind: ProviderKind) -> Emulator {
    let mut c = EmulatorConfig::new(kind);
    c.seed_users = 3;
    Emulator::start(c, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The provider as a connection to `emu` configures it, at `api_url` (Okta's
/// `org_url`).
fn provider(emu: &Emulator, api_url: &str) -> Provider {
    let keys = emu.connection_keys().into_iter().map(|(k, v)| {
        (
            k,
            if k == "api_url" || k == "org_url" {
                api_url.to_owned()
            } else {
                v
            },
        )
    });
    registry::configure(&emu.config().kind.to_string(), "test", keys).unwrap()
}

async fn get_user_answers_the_user_or_none_once_deleted(kind: ProviderKind) {
    let emu = emulator(kind).await;
    let p = provider(&emu, &emu.base_url());
    let id = emu.user_ids()[1].clone();
    assert_eq!(p.get_user(&id).await.unwrap(), emu.user(&id), "{kind:?}");
    assert!(emu.delete_user(&id));
    assert_eq!(p.get_user(&id).await.unwrap(), None, "{kind:?}");
    // Ids that would change the path are refused before any request.
    assert!(matches!(
        p.get_user("../users").await,
        Err(ApiError::Unsupported(_))
    ));
}

async fn a_404_that_is_not_the_providers_user_error_is_an_error(kind: ProviderKind) {
    let emu = emulator(kind).await;
    // A wrong API URL: every path is a plain 404.
    let p = provider(&emu, &format!("{}/wrong", emu.base_url()));
    let id = emu.user_ids()[0].clone();
    let err = p.get_user(&id).await.unwrap_err();
    assert!(
        matches!(err, ApiError::Status { status: 404, .. }),
        "{kind:?}: {err}"
    );
}

async fn current_change_is_versioned_like_a_listed_user(kind: ProviderKind) {
    let emu = emulator(kind).await;
    let p = provider(&emu, &emu.base_url());
    let listed = p.list_page(None).await.unwrap().changes.remove(0);
    // Okta's list leaves deactivated users out, so take a listed one.
    let id = match kind {
        ProviderKind::Okta => listed.user_id.as_str().to_owned(),
        _ => emu.user_ids()[0].clone(),
    };
    let before = chrono::Utc::now();
    let change = p.current_change(&id).await.unwrap().unwrap();
    assert!(
        matches!(&change.kind, ChangeKind::Upsert(p) if Some(&p.raw_json) == emu.user(&id).as_ref())
    );
    match kind {
        // The user's own update time.
        ProviderKind::Clerk | ProviderKind::Okta => assert_eq!(change.version, listed.version),
        // The whole second before the request.
        ProviderKind::StackAuth => {
            let version = change.version.at();
            assert_eq!(version.timestamp_subsec_nanos(), 0);
            assert!(version < before && before - version <= chrono::TimeDelta::seconds(2));
        }
    }
    assert!(emu.delete_user(&id));
    assert_eq!(p.current_change(&id).await.unwrap(), None);
}

// One test per provider, so a failure in one does not hide the others.
macro_rules! per_provider {
    ($check:ident: $($name:ident => $kind:expr),+) => {
        $(
            #[tokio::test]
            async fn $name() {
                $check($kind).await;
            }
        )+
    };
}

per_provider!(get_user_answers_the_user_or_none_once_deleted:
    stack_auth_get_user => ProviderKind::StackAuth,
    clerk_get_user => ProviderKind::Clerk,
    okta_get_user => ProviderKind::Okta);

per_provider!(a_404_that_is_not_the_providers_user_error_is_an_error:
    stack_auth_plain_404 => ProviderKind::StackAuth,
    clerk_plain_404 => ProviderKind::Clerk,
    okta_plain_404 => ProviderKind::Okta);

per_provider!(current_change_is_versioned_like_a_listed_user:
    stack_auth_current_change => ProviderKind::StackAuth,
    clerk_current_change => ProviderKind::Clerk,
    okta_current_change => ProviderKind::Okta);
