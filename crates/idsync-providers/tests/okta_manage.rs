//! Managing Okta users through the adapter, against the Okta emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind};
use idsync_providers::manage::{NewUser, UserUpdate};
use idsync_providers::{ApiError, registry};

#[tokio::test]
async fn create_update_and_two_step_delete() {
    let emu = Emulator::start(
        EmulatorConfig::new(ProviderKind::Okta),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let okta = registry::configure("okta", "test", emu.connection_keys()).unwrap();

    let one_word = NewUser {
        email: "ada@example.com".into(),
        name: Some("Ada".into()),
        password: None,
    };
    let err = okta.create_user(&one_word).await.unwrap_err();
    assert!(matches!(err, ApiError::Unsupported(_)), "{err}");
    assert!(emu.users().is_empty(), "nothing was created");

    let user = okta
        .create_user(&NewUser {
            name: Some("Ada Lovelace".into()),
            ..one_word
        })
        .await
        .unwrap();
    let id = user["id"].as_str().unwrap().to_owned();
    // Activated without a password: Okta waits for the user to set one.
    assert_eq!(user["status"], "PROVISIONED");
    assert_eq!(user["profile"]["lastName"], "Lovelace");

    let update = UserUpdate {
        name: Some("Ada King".into()),
        email: None,
    };
    let updated = okta.update_user(&id, &update).await.unwrap();
    assert_eq!(updated["profile"]["lastName"], "King");
    assert_eq!(updated["profile"]["email"], "ada@example.com");

    okta.delete_user(&id).await.unwrap();
    assert_eq!(
        okta.get_user(&id).await.unwrap(),
        None,
        "deleted, not only deactivated"
    );
}
