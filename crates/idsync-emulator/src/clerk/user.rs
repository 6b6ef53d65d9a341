//! Clerk's user object (Backend API `User`, `EmailAddress` and its
//! verification variants), and the made-up users and edits the emulator
//! produces.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use serde_json::{Value, json};

use crate::emulator::Core;
use crate::state::{Inner, StoredUser};
use crate::{ksuid, seed};

/// How long an emailed one-time code stays valid.
const OTP_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// How an address was verified. The SDKs pick the verification model by
/// its `object`, and each model allows only its own strategies.
#[derive(Debug, Clone, Copy)]
pub(super) enum Verified {
    /// The user typed the code Clerk emailed (`verification_otp`).
    EmailCode,
    /// Added through the Backend API, verified by fiat (`verification_admin`).
    Admin,
}

fn verification(how: Verified, at_ms: i64) -> Value {
    match how {
        Verified::EmailCode => json!({
            "object": "verification_otp",
            "status": "verified",
            "strategy": "email_code",
            "attempts": 1,
            "expire_at": at_ms + OTP_LIFETIME_MS,
        }),
        Verified::Admin => json!({
            "object": "verification_admin",
            "status": "verified",
            "strategy": "admin",
            "attempts": null,
            "expire_at": null,
        }),
    }
}

/// An address added (and verified) at `at_ms`.
pub(super) fn email_json(id: &str, address: &str, how: Verified, at_ms: i64) -> Value {
    json!({
        "id": id,
        "object": "email_address",
        "email_address": address,
        "reserved": false,
        "verification": verification(how, at_ms),
        "linked_to": [],
        "matches_sso_connection": false,
        "created_at": at_ms,
        "updated_at": at_ms,
    })
}

pub(super) fn email_id(inner: &mut Inner, at_ms: i64) -> String {
    format!(
        "idn_{}",
        ksuid::generate(at_ms.div_euclid(1000), &mut inner.rng)
    )
}

pub(super) struct Fields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub emails: Vec<Value>,
    pub primary_email_address_id: Option<String>,
    pub password_enabled: bool,
    pub external_id: Option<String>,
    pub public_metadata: Value,
    pub private_metadata: Value,
    pub unsafe_metadata: Value,
    pub last_sign_in_ms: Option<i64>,
}

pub(super) fn user_json(
    core: &Core,
    id: &str,
    f: Fields,
    created_ms: i64,
    updated_ms: i64,
) -> Value {
    // Clerk's default avatar URL encodes which instance and user it is for.
    let avatar = json!({ "type": "default", "iid": core.instance_id, "rid": id }).to_string();
    json!({
        "id": id,
        "object": "user",
        "username": f.username,
        "first_name": f.first_name,
        "last_name": f.last_name,
        "image_url": format!("https://img.clerk.com/{}", URL_SAFE_NO_PAD.encode(avatar)),
        "profile_image_url": "https://www.gravatar.com/avatar?d=mp",
        "has_image": false,
        "primary_email_address_id": f.primary_email_address_id,
        "primary_phone_number_id": null,
        "primary_web3_wallet_id": null,
        "password_enabled": f.password_enabled,
        "password_last_updated_at": f.password_enabled.then_some(created_ms),
        "two_factor_enabled": false,
        "totp_enabled": false,
        "backup_code_enabled": false,
        // Nobody here turned multi-factor on (or off again).
        "mfa_enabled_at": null,
        "mfa_disabled_at": null,
        "email_addresses": f.emails,
        "phone_numbers": [],
        "web3_wallets": [],
        "passkeys": [],
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "external_id": f.external_id,
        "public_metadata": f.public_metadata,
        "private_metadata": f.private_metadata,
        "unsafe_metadata": f.unsafe_metadata,
        "last_sign_in_at": f.last_sign_in_ms,
        "last_active_at": f.last_sign_in_ms,
        "banned": false,
        "locked": false,
        "lockout_expires_in_seconds": null,
        "verification_attempts_remaining": 100,
        "delete_self_enabled": true,
        "create_organization_enabled": true,
        "create_organizations_limit": null,
        // The instance asks for no legal acceptance at sign-up.
        "legal_accepted_at": null,
        "locale": null,
        "bypass_client_trust": false,
        "created_at": created_ms,
        "updated_at": updated_ms,
    })
}

/// Wraps a user object for the store; every address must be unique.
pub(super) fn stored(json: Value) -> StoredUser {
    let emails = json["email_addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["email_address"].as_str())
        .map(str::to_lowercase)
        .collect();
    StoredUser {
        created_ms: json["created_at"].as_i64().unwrap_or_default(),
        updated_ms: json["updated_at"].as_i64().unwrap_or_default(),
        emails,
        json,
    }
}

pub(super) fn generate(
    core: &Core,
    inner: &mut Inner,
    created_ms: i64,
    until_ms: i64,
) -> (String, StoredUser) {
    let id = format!(
        "user_{}",
        ksuid::generate(created_ms.div_euclid(1000), &mut inner.rng)
    );
    let person = seed::person(&mut inner.rng);
    let email_count = match inner.rng.random_range(0..100) {
        0..4 => 0,
        4..16 => inner.rng.random_range(2..=3),
        _ => 1,
    };
    let mut emails = Vec::new();
    for _ in 0..email_count {
        let idn = email_id(inner, created_ms);
        let address = seed::fresh_email(inner, &person.handle);
        emails.push(email_json(&idn, &address, Verified::EmailCode, created_ms));
    }
    // With several addresses the primary is often not the first one.
    let primary = match emails.len() {
        0 => None,
        1 => Some(0),
        n => Some(inner.rng.random_range(1..n)),
    };
    let username = inner.rng.random_bool(0.3).then(|| {
        let serial = inner.next_serial();
        format!("{}{serial}", person.handle.replace('.', "_"))
    });
    let rng = &mut inner.rng;
    let until_ms = until_ms.max(created_ms);
    let updated_ms = rng.random_range(created_ms..=until_ms);
    let fields = Fields {
        first_name: person.first,
        last_name: person.last,
        username,
        primary_email_address_id: primary.and_then(|i| emails[i]["id"].as_str().map(str::to_owned)),
        emails,
        password_enabled: rng.random_bool(0.7),
        external_id: None,
        public_metadata: json!({}),
        private_metadata: json!({}),
        unsafe_metadata: json!({}),
        last_sign_in_ms: rng
            .random_bool(0.85)
            .then(|| rng.random_range(created_ms..=until_ms)),
    };
    let json = user_json(core, &id, fields, created_ms, updated_ms);
    (id, stored(json))
}

/// `updated_at` strictly increases per user, even within one millisecond.
pub(super) fn touch(json: &mut Value, now_ms: i64) {
    let previous = json["updated_at"].as_i64().unwrap_or(i64::MIN);
    json["updated_at"] = json!(now_ms.max(previous.saturating_add(1)));
}

/// A new name, and now and then a new primary email address.
pub(super) fn changed(inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
    let mut json = user.json.clone();
    let current = [json["first_name"].as_str(), json["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let person = loop {
        let person = seed::person(&mut inner.rng);
        let name = [person.first.as_deref(), person.last.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name != current {
            break person;
        }
    };
    json["first_name"] = json!(person.first);
    json["last_name"] = json!(person.last);
    if inner.rng.random_bool(0.3) {
        let idn = email_id(inner, now_ms);
        let address = seed::fresh_email(inner, &person.handle);
        if let Some(list) = json["email_addresses"].as_array_mut() {
            list.push(email_json(&idn, &address, Verified::EmailCode, now_ms));
            // Keep at most three: drop the oldest, which is never the new primary.
            if list.len() > 3 {
                list.remove(0);
            }
        }
        json["primary_email_address_id"] = json!(idn);
    }
    touch(&mut json, now_ms);
    stored(json)
}
