//! OpenID Connect claims from an Okta user: the profile attributes each
//! scope releases, as Okta maps them.

use serde_json::{Map, Value, json};

use crate::okta::user::parse_iso;

/// The scopes the org authorization server grants in this emulator.
pub(super) const SCOPES: &[&str] = &["openid", "profile", "email", "address", "phone"];

/// `firstName lastName`, as Okta forms the `name` claim.
pub(super) fn full_name(user: &Value) -> Option<String> {
    let profile = &user["profile"];
    let name = [profile["firstName"].as_str(), profile["lastName"].as_str()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn has(scopes: &[String], scope: &str) -> bool {
    scopes.iter().any(|s| s == scope)
}

/// Userinfo: `sub` and every claim of the granted scopes the user has.
pub(super) fn userinfo(user: &Value, scopes: &[String]) -> Map<String, Value> {
    let profile = &user["profile"];
    let attr = |name: &str| profile.get(name).filter(|v| !v.is_null()).cloned();
    let mut claims = Map::new();
    claims.insert("sub".into(), user["id"].clone());
    let mut set = |claim: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(claim.to_owned(), value);
        }
    };
    if has(scopes, "profile") {
        set("name", full_name(user).map(Value::from));
        set("nickname", attr("nickName"));
        set("given_name", attr("firstName"));
        set("middle_name", attr("middleName"));
        set("family_name", attr("lastName"));
        set("preferred_username", attr("login"));
        set("profile", attr("profileUrl"));
        // Okta's defaults for a profile that sets neither.
        set("locale", Some(attr("locale").unwrap_or(json!("en_US"))));
        set(
            "zoneinfo",
            Some(attr("timezone").unwrap_or(json!("America/Los_Angeles"))),
        );
        let updated = user["lastUpdated"].as_str().and_then(parse_iso);
        set("updated_at", updated.map(|ms| json!(ms.div_euclid(1000))));
    }
    if has(scopes, "email") {
        set("email", attr("email"));
        set("email_verified", Some(json!(true)));
    }
    if has(scopes, "phone") {
        set("phone_number", attr("mobilePhone"));
    }
    if has(scopes, "address") {
        let parts = [
            ("street_address", "streetAddress"),
            ("locality", "city"),
            ("region", "state"),
            ("postal_code", "zipCode"),
            ("country", "countryCode"),
        ];
        let address: Map<String, Value> = parts
            .iter()
            .filter_map(|(claim, name)| attr(name).map(|v| ((*claim).to_owned(), v)))
            .collect();
        set(
            "address",
            (!address.is_empty()).then_some(Value::Object(address)),
        );
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_release_their_claims_only() {
        let user = json!({
            "id": "00u1", "lastUpdated": "2026-01-02T03:04:05.678Z",
            "profile": {
                "firstName": "Ada", "lastName": "Lovelace", "login": "ada@example.com",
                "email": "ada@example.org", "mobilePhone": null, "city": "London"
            }
        });
        let scopes = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let all = userinfo(
            &user,
            &scopes(&["openid", "profile", "email", "address", "phone"]),
        );
        assert_eq!(all["sub"], "00u1");
        assert_eq!(all["name"], "Ada Lovelace");
        assert_eq!(all["preferred_username"], "ada@example.com");
        assert_eq!(all["email"], "ada@example.org");
        assert_eq!(all["updated_at"], 1_767_323_045);
        assert_eq!(all["address"], json!({ "locality": "London" }));
        assert!(!all.contains_key("phone_number"));
        let openid = userinfo(&user, &scopes(&["openid"]));
        assert_eq!(openid.len(), 1, "{openid:?}");
        let email = userinfo(&user, &scopes(&["openid", "email"]));
        assert!(email.contains_key("email") && !email.contains_key("name"));
    }
}
