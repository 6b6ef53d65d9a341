//! `/oauth2/v1/token`: client authentication, the authorization code grant
//! with PKCE, and the ID and access tokens.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::{Map, Value, json};
use url::form_urlencoded;

use super::claims::full_name;
use super::clients::{OidcClient, TokenAuthMethod, lookup};
use super::errors::{OAuthError, invalid_client, invalid_grant, invalid_request, no_store, oauth};
use super::{Access, Grant, Issuer, TOKEN_TTL_S, now_ms, secret};
use crate::config::alphanumeric;
use crate::emulator::Core;
use crate::okta::user::Status;

/// The org's id (`00o` and 17 characters), the `idp` of users who signed
/// in with their Okta password. Derived from the seed apart from the
/// users' rng, like the org's other ids.
fn org_id(core: &Core) -> String {
    let mut rng = StdRng::seed_from_u64(core.config.rng_seed ^ 0x6f69_6463);
    format!("00o{}", alphanumeric(&mut rng, 17))
}

/// Form fields by name; `Err` names one given twice.
fn form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut fields = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if fields.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(invalid_request(
                "The request contained multiple parameters with the same name.",
            ));
        }
    }
    Ok(fields)
}

/// RFC 6749 §2.3.1: the client id and secret, each form-urlencoded, in
/// `Authorization: Basic`.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Authenticates the client the way its app says it must.
fn authenticate(
    core: &Core,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<OidcClient, OAuthError> {
    let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let (method, client_id, secret) = match (header, fields.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(invalid_request(
                "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.",
            ));
        }
        (Some(header), None) => {
            let (id, secret) = basic_credentials(header).ok_or_else(|| {
                invalid_client("Found Authentication header but was not valid client credentials.")
            })?;
            (TokenAuthMethod::ClientSecretBasic, id, secret)
        }
        (None, Some(secret)) => {
            let id = fields
                .get("client_id")
                .ok_or_else(|| invalid_client("No client credentials found."))?;
            (
                TokenAuthMethod::ClientSecretPost,
                id.clone(),
                secret.clone(),
            )
        }
        (None, None) => return Err(invalid_client("No client credentials found.")),
    };
    let client = lookup(core, &client_id)
        .ok_or_else(|| invalid_client("Invalid value for 'client_id' parameter."))?;
    if client.token_auth_method != method {
        return Err(invalid_client(
            "Client authentication failed. Either the client or the client credentials are invalid.",
        ));
    }
    verify_slices_are_equal(client.client_secret.as_bytes(), secret.as_bytes()).map_err(|_| {
        invalid_client("The client secret supplied for a confidential client is invalid.")
    })?;
    Ok(client)
}

/// RFC 7636 §4.6 with `S256`.
fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(invalid_request(
            "PKCE code challenge should be specified in the authorize request for code verification.",
        )),
        (Some(_), None) => Err(invalid_request(
            "PKCE code verifier is required by the application.",
        )),
        (Some(challenge), Some(verifier)) => {
            let computed = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
            verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes())
                .map_err(|_| invalid_grant("PKCE verification failed."))
        }
    }
}

/// The grant behind a code, checked against this token request.
fn redeem(
    core: &Core,
    issuer: &Issuer,
    client: &OidcClient,
    fields: &HashMap<String, String>,
) -> Result<(Grant, Value), OAuthError> {
    match fields.get("grant_type").map(String::as_str) {
        None => {
            return Err(invalid_request(
                "The token request must specify a 'grant_type'. Valid values: [authorization_code]",
            ));
        }
        Some("authorization_code") => {}
        Some(_) => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server. Configured grant types: [authorization_code].",
            ));
        }
    }
    let code = fields
        .get("code")
        .ok_or_else(|| invalid_request("The required parameter 'code' is missing."))?;
    let grant = issuer
        .redeem(code, now_ms(core))
        .ok_or_else(|| invalid_grant("The authorization code is invalid or has expired."))?;
    if grant.request.client_id != client.client_id {
        return Err(invalid_grant(
            "The grant was issued to another client. Please make sure the 'client_id' matches the one used at the authorize request.",
        ));
    }
    if fields.get("redirect_uri") != Some(&grant.request.redirect_uri) {
        return Err(invalid_grant(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        ));
    }
    check_pkce(
        grant.request.code_challenge.as_deref(),
        fields.get("code_verifier").map(String::as_str),
    )?;
    // A user deactivated since signing in gets no tokens.
    let user = {
        let inner = core.lock();
        inner.store.get(&grant.user_id).map(|u| u.json.clone())
    }
    .filter(|u| Status::of(u) == Some(Status::Active))
    .ok_or_else(|| invalid_grant("The authorization code is invalid or has expired."))?;
    Ok((grant, user))
}

fn server_error(detail: &str) -> OAuthError {
    oauth(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        &format!("Failed to create the id_token: {detail}"),
    )
}

/// The ID token, claims as the org authorization server sets them for the
/// code flow, in Okta's order: `name` (scope `profile`), `email` (scope
/// `email`), `preferred_username` (scope `profile`); the rest of the
/// profile is for userinfo.
fn id_token(
    core: &Core,
    issuer: &Issuer,
    grant: &Grant,
    user: &Value,
    access_token: &str,
) -> Result<String, OAuthError> {
    let scoped = |scope: &str| grant.request.scopes.iter().any(|s| s == scope);
    let profile = &user["profile"];
    let iat = Utc::now().timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(grant.user_id));
    if scoped("profile") {
        claims.insert("name".into(), json!(full_name(user)));
    }
    if scoped("email") {
        claims.insert("email".into(), profile["email"].clone());
    }
    claims.extend([
        ("ver".to_owned(), json!(1)),
        ("iss".to_owned(), json!(core.base_url)),
        ("aud".to_owned(), json!(grant.request.client_id)),
        ("iat".to_owned(), json!(iat)),
        ("exp".to_owned(), json!(iat + TOKEN_TTL_S)),
        ("jti".to_owned(), json!(format!("ID.{}", secret()))),
        ("amr".to_owned(), json!(["pwd"])),
        ("idp".to_owned(), json!(org_id(core))),
    ]);
    if let Some(nonce) = &grant.request.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    if scoped("profile") {
        claims.insert("preferred_username".into(), profile["login"].clone());
    }
    claims.insert("auth_time".into(), json!(grant.auth_time));
    // OpenID Connect Core §3.1.3.6: the left half of the token's SHA-256.
    let hash = digest(&SHA256, access_token.as_bytes());
    let at_hash = URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16]);
    claims.insert("at_hash".into(), json!(at_hash));
    let key = issuer.key().map_err(|e| server_error(&e.to_string()))?;
    key.sign_jwt(&claims)
        .map_err(|e| server_error(&e.to_string()))
}

pub(super) async fn token(
    State(core): State<Arc<Core>>,
    Extension(issuer): Extension<Arc<Issuer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&core, &issuer, &headers, &body) {
        Ok(answer) => no_store(Json(answer).into_response()),
        Err(error) => error.into_response(),
    }
}

fn exchange(
    core: &Core,
    issuer: &Issuer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let fields = form(body)?;
    let client = authenticate(core, headers, &fields)?;
    let (grant, user) = redeem(core, issuer, &client, &fields)?;
    let scope = grant.request.scopes.join(" ");
    let access_token = issuer.issue_token(
        Access {
            user_id: grant.user_id.clone(),
            scopes: grant.request.scopes.clone(),
        },
        now_ms(core),
    );
    let id_token = id_token(core, issuer, &grant, &user, &access_token)?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL_S,
        "access_token": access_token,
        "scope": scope,
        "id_token": id_token,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("0oa%3A1:s%2Bc+r"));
        assert_eq!(
            basic_credentials(&header),
            Some(("0oa:1".to_owned(), "s+c r".to_owned()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!"), None);
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(check_pkce(Some(challenge), Some(verifier)), Ok(()));
        assert_eq!(
            check_pkce(Some(challenge), Some("wrong")).unwrap_err().code,
            "invalid_grant"
        );
        assert_eq!(
            check_pkce(Some(challenge), None).unwrap_err().code,
            "invalid_request"
        );
        assert_eq!(
            check_pkce(None, Some(verifier)).unwrap_err().code,
            "invalid_request"
        );
        assert_eq!(check_pkce(None, None), Ok(()));
    }
}
