//! Stack Auth's server user object (`usersCrudServerReadSchema`), and the
//! made-up users and edits the emulator produces.

use rand::Rng;
use serde_json::{Value, json};

use crate::seed;
use crate::state::{Inner, StoredUser};
use crate::uuid::uuid_v4;

/// Where sign-ups come from, for `country_code` (captured from the
/// sign-up request's geo headers).
const COUNTRIES: &[&str] = &[
    "US", "US", "US", "DE", "GB", "FR", "IN", "BR", "JP", "CN", "VN", "NG", "TR", "PL", "SE", "NO",
    "CA", "AU", "KR", "RU",
];

/// An administrator's restriction: whether it is on, the reason shown to
/// the user, and private notes for other admins.
#[derive(Default)]
pub(super) struct AdminRestriction {
    pub on: bool,
    pub reason: Option<String>,
    pub private_details: Option<String>,
}

/// The pieces of a user that the server API lets one set.
pub(super) struct Fields {
    pub display_name: Option<String>,
    pub primary_email: Option<String>,
    pub primary_email_verified: bool,
    pub primary_email_auth_enabled: bool,
    pub has_password: bool,
    pub otp_auth_enabled: bool,
    pub passkey_auth_enabled: bool,
    pub is_anonymous: bool,
    pub client_metadata: Value,
    pub client_read_only_metadata: Value,
    pub server_metadata: Value,
    pub restriction: AdminRestriction,
    pub country_code: Option<String>,
    /// Sign-up risk scores (0-100): bot, free-trial abuse.
    pub risk_scores: Value,
}

/// Scores of a sign-up nobody evaluated (users created through the API).
pub(super) fn no_risk() -> Value {
    risk_scores(0, 0)
}

fn risk_scores(bot: u8, free_trial_abuse: u8) -> Value {
    json!({ "sign_up": { "bot": bot, "free_trial_abuse": free_trial_abuse } })
}

pub(super) fn user_json(id: &str, f: Fields, signed_up_ms: i64, last_active_ms: i64) -> Value {
    let mut user = json!({
        "id": id,
        "primary_email": f.primary_email,
        "primary_email_verified": f.primary_email_verified,
        "primary_email_auth_enabled": f.primary_email_auth_enabled,
        "display_name": f.display_name,
        "selected_team": null,
        "selected_team_id": null,
        "profile_image_url": null,
        "signed_up_at_millis": signed_up_ms,
        "has_password": f.has_password,
        "otp_auth_enabled": f.otp_auth_enabled,
        "passkey_auth_enabled": f.passkey_auth_enabled,
        "auth_with_email": f.has_password || f.otp_auth_enabled,
        "requires_totp_mfa": false,
        "client_metadata": f.client_metadata,
        "client_read_only_metadata": f.client_read_only_metadata,
        "server_metadata": f.server_metadata,
        "last_active_at_millis": last_active_ms,
        "is_anonymous": f.is_anonymous,
        "restricted_by_admin": f.restriction.on,
        "restricted_by_admin_reason": f.restriction.reason,
        "restricted_by_admin_private_details": f.restriction.private_details,
        "country_code": f.country_code,
        "risk_scores": f.risk_scores,
        "oauth_providers": [],
    });
    set_restricted(&mut user);
    user
}

/// Derives `is_restricted` and `restricted_reason` from what causes a
/// restriction. Anonymous users must sign up first, and an administrator
/// may restrict anyone. (Stack's third cause, an unverified email in a
/// project that requires verification, is off in the emulated project.)
pub(super) fn set_restricted(user: &mut Value) {
    let reason = if user["is_anonymous"] == json!(true) {
        Some("anonymous")
    } else if user["restricted_by_admin"] == json!(true) {
        Some("restricted_by_administrator")
    } else {
        None
    };
    user["is_restricted"] = json!(reason.is_some());
    user["restricted_reason"] = json!(reason.map(|r| json!({ "type": r })));
}

/// Wraps a user object for the store. Only an address used for sign-in
/// must be unique in Stack Auth.
pub(super) fn stored(json: Value, updated_ms: i64) -> StoredUser {
    let auth_email = json["primary_email_auth_enabled"]
        .as_bool()
        .unwrap_or(false)
        .then(|| json["primary_email"].as_str().map(str::to_lowercase))
        .flatten();
    StoredUser {
        created_ms: json["signed_up_at_millis"].as_i64().unwrap_or_default(),
        updated_ms,
        emails: auth_email.into_iter().collect(),
        json,
    }
}

pub(super) fn generate(inner: &mut Inner, created_ms: i64, until_ms: i64) -> (String, StoredUser) {
    let id = uuid_v4(&mut inner.rng);
    let anonymous = inner.rng.random_bool(0.05);
    let person = seed::person(&mut inner.rng);
    let email = (!anonymous && inner.rng.random_bool(0.96))
        .then(|| seed::fresh_email(inner, &person.handle));
    let rng = &mut inner.rng;
    let mut fields = Fields {
        display_name: if anonymous { None } else { person.display },
        primary_email_verified: email.is_some() && rng.random_bool(0.85),
        primary_email_auth_enabled: email.is_some() && rng.random_bool(0.9),
        primary_email: email,
        has_password: !anonymous && rng.random_bool(0.6),
        otp_auth_enabled: !anonymous && rng.random_bool(0.2),
        passkey_auth_enabled: !anonymous && rng.random_bool(0.05),
        is_anonymous: anonymous,
        client_metadata: json!({}),
        client_read_only_metadata: json!({}),
        server_metadata: json!({}),
        restriction: AdminRestriction::default(),
        country_code: None,
        risk_scores: no_risk(),
    };
    let last_active = rng.random_range(created_ms..=until_ms.max(created_ms));
    // Drawn after the fields above, so those stay what earlier versions
    // of the emulator generated for the same seed.
    fields.country_code = rng
        .random_bool(0.9)
        .then(|| COUNTRIES[rng.random_range(0..COUNTRIES.len())].to_owned());
    // Most sign-ups look human; a few score high, and some of those an
    // admin (or a sign-up rule) restricted.
    let bot = if rng.random_bool(0.95) {
        rng.random_range(0..20)
    } else {
        rng.random_range(60..=100)
    };
    fields.risk_scores = risk_scores(bot, rng.random_range(0..30));
    if bot >= 90 && !anonymous {
        fields.restriction = AdminRestriction {
            on: true,
            reason: Some("Your account is under review.".to_owned()),
            private_details: Some(format!("sign-up rule: bot score {bot} >= 90")),
        };
    }
    let json = user_json(&id, fields, created_ms, last_active);
    (id, stored(json, created_ms))
}

/// A new name, and now and then a new (unverified) primary email.
pub(super) fn changed(inner: &mut Inner, user: &StoredUser, now_ms: i64) -> StoredUser {
    let mut json = user.json.clone();
    let person = seed::different_person(&mut inner.rng, json["display_name"].as_str());
    json["display_name"] = json!(person.display);
    if !json["is_anonymous"].as_bool().unwrap_or(false) && inner.rng.random_bool(0.3) {
        let handle = seed::person(&mut inner.rng).handle;
        json["primary_email"] = json!(seed::fresh_email(inner, &handle));
        json["primary_email_verified"] = json!(false);
    }
    stored(json, now_ms)
}
