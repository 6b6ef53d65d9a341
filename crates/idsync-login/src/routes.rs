//! The routes, at the paths Auth.js uses (so an Okta app integration set up
//! per Neon's guide works unchanged):
//!
//! - `GET  /api/auth/signin[?provider=ID][&return_to=/path]`: to the
//!   provider (or a chooser page when several are configured and none named);
//! - `GET  /api/auth/callback/{provider}`: the provider's answer;
//! - `GET  /api/auth/signout`: a confirmation form;
//! - `POST /api/auth/signout`: ends the session, then the issuer's session
//!   when it has an `end_session_endpoint`.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::{Key, PrivateCookieJar};
use serde::Deserialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::Auth;
use crate::error::LoginError;
use crate::jit::change_from_claims;
use crate::pages::{self, Choice};
use crate::session::{Flow, Session, read_flow, read_session};

impl axum::extract::FromRef<Auth> for Key {
    fn from_ref(auth: &Auth) -> Key {
        auth.0.key.clone()
    }
}

pub(crate) fn router<S: Clone + Send + Sync + 'static>(auth: Auth) -> Router<S> {
    Router::new()
        .route("/api/auth/signin", get(signin))
        .route("/api/auth/callback/{provider}", get(callback))
        .route("/api/auth/signout", get(signout_confirm).post(signout))
        .with_state(auth)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `return_to` if it is a path of this application, else `/`. Refusing
/// anything else (`//evil.example`, `https://...`, `/\evil`) keeps the
/// sign-in from being an open redirect.
pub(crate) fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() <= 2048
                && !p.chars().any(|c| c.is_control() || c == '\\') =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[derive(Debug, Deserialize)]
struct SigninQuery {
    provider: Option<String>,
    return_to: Option<String>,
}

async fn signin(
    State(auth): State<Auth>,
    jar: PrivateCookieJar,
    Query(q): Query<SigninQuery>,
) -> Response {
    let base = auth.0.base.path.as_str();
    let providers = auth.0.providers.as_slice();
    let provider = match (q.provider.as_deref(), providers) {
        (Some(id), _) => match auth.provider(id) {
            Some(p) => p,
            None => return LoginError::UnknownProvider(id.to_owned()).into_page(base),
        },
        (None, [only]) => only,
        (None, _) => {
            let choices: Vec<Choice> = providers
                .iter()
                .map(|p| Choice {
                    name: p.display_name.clone(),
                    href: auth.signin_url(Some(&p.id), q.return_to.as_deref()),
                })
                .collect();
            return Html(pages::chooser(&choices).into_string()).into_response();
        }
    };
    let start = match provider.start(&auth.0.http).await {
        Ok(s) => s,
        Err(e) => return e.into_page(base),
    };
    let flow = Flow::new(
        provider.id.clone(),
        start.state,
        start.nonce,
        start.pkce_verifier,
        safe_return_to(q.return_to.as_deref()),
        now(),
    );
    let jar = auth.0.cookies.write_flow(jar, &flow);
    tracing::debug!(provider = %provider.id, "sign-in started");
    (jar, Redirect::to(start.url.as_str())).into_response()
}

/// The authorization response (RFC 6749 §4.1.2), plus `iss` (RFC 9207).
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
}

async fn callback(
    State(auth): State<Auth>,
    jar: PrivateCookieJar,
    Path(provider_id): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let flow = read_flow(&jar, now());
    // Whatever happens, this sign-in attempt is over.
    let jar = auth.0.cookies.clear_flow(jar);
    match complete(&auth, &provider_id, flow, q).await {
        Ok(session) => {
            let to = format!("{}{}", auth.0.base.path, session.1);
            let jar = auth.0.cookies.write_session(jar, session.0);
            (jar, Redirect::to(&to)).into_response()
        }
        Err(e) => (jar, e.into_page(&auth.0.base.path)).into_response(),
    }
}

/// Checks the answer against the sign-in in flight, finishes it with the
/// provider, syncs the user and returns the new session and where to go.
async fn complete(
    auth: &Auth,
    provider_id: &str,
    flow: Option<Flow>,
    q: CallbackQuery,
) -> Result<(Session, String), LoginError> {
    let provider = auth
        .provider(provider_id)
        .ok_or_else(|| LoginError::UnknownProvider(provider_id.to_owned()))?;
    let label = provider.label();
    if let Some(code) = q.error {
        return Err(if code == "access_denied" {
            LoginError::AccessDenied {
                provider: label,
                description: q.error_description,
            }
        } else {
            LoginError::ProviderError {
                provider: label,
                code,
                description: q.error_description,
            }
        });
    }
    let flow = flow.ok_or_else(|| LoginError::FlowMissing {
        provider: Some(label.clone()),
    })?;
    let state_matches = q
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(flow.state.as_bytes())));
    if flow.provider != provider.id || !state_matches {
        return Err(LoginError::StateMismatch { provider: label });
    }
    // RFC 9207: an issuer that names itself must be the one we went to
    // (defends against mix-up between several configured issuers).
    if let Some(iss) = q.iss.as_deref()
        && iss != provider.issuer()
    {
        return Err(LoginError::InvalidIdToken {
            provider: label,
            detail: format!("the authorization response names issuer {iss:?}"),
        });
    }
    let code = q.code.ok_or_else(|| LoginError::ProviderError {
        provider: label.clone(),
        code: "missing_code".to_owned(),
        description: None,
    })?;
    let signed_in = provider
        .finish(&auth.0.http, code, flow.pkce_verifier, &flow.nonce)
        .await?;
    let change =
        change_from_claims(&signed_in.claims).ok_or_else(|| LoginError::InvalidIdToken {
            provider: label.clone(),
            detail: "the `sub` claim is missing or not a usable user id".to_owned(),
        })?;
    let (name, email) = match &change.kind {
        idsync_core::ChangeKind::Upsert(p) | idsync_core::ChangeKind::Deactivate(p) => {
            (p.name.clone(), p.email.clone())
        }
        idsync_core::ChangeKind::Delete { .. } => (None, None),
    };
    let sub = change.user_id.as_str().to_owned();
    if let Some(sync) = &auth.0.sync {
        sync.apply(change).await?;
    }
    tracing::info!(provider = %provider.id, user_id = %sub, "signed in");
    let mut session = Session::new(
        provider.id.clone(),
        sub,
        name,
        email,
        Some(signed_in.id_token),
        now(),
        auth.0.cookies.session_ttl_secs,
    );
    session.email_verified = email_verified_claim(&signed_in.claims);
    session.groups = groups_claim(&signed_in.claims);
    Ok((session, flow.return_to))
}

/// `email_verified`: a boolean, or the strings `"true"`/`"false"` some
/// issuers send (Cognito, older ADFS).
pub(crate) fn email_verified_claim(claims: &Map<String, Value>) -> Option<bool> {
    match claims.get("email_verified")? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `groups`: an array of strings (Okta, Keycloak, Azure AD, Authentik), or
/// a single string; anything else counts as none.
pub(crate) fn groups_claim(claims: &Map<String, Value>) -> Vec<String> {
    let text = |v: &Value| {
        v.as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match claims.get("groups") {
        Some(Value::Array(items)) => items.iter().filter_map(text).collect(),
        Some(v) => text(v).into_iter().collect(),
        None => Vec::new(),
    }
}

async fn signout_confirm(State(auth): State<Auth>) -> Html<String> {
    let base = &auth.0.base.path;
    Html(
        pages::signout_confirm(&format!("{base}/api/auth/signout"), &format!("{base}/"))
            .into_string(),
    )
}

async fn signout(State(auth): State<Auth>, headers: HeaderMap, jar: PrivateCookieJar) -> Response {
    let base = auth.0.base.path.as_str();
    if !auth.is_same_origin(&headers) {
        return LoginError::CrossSite.into_page(base);
    }
    let session = read_session(&jar, now());
    let jar = auth.0.cookies.clear_session(jar);
    let home = format!("{base}/");
    let Some(session) = session else {
        return (jar, Redirect::to(&home)).into_response();
    };
    tracing::info!(provider = %session.provider, user_id = %session.sub, "signed out");
    let Some(provider) = auth.provider(&session.provider) else {
        return (jar, Redirect::to(&home)).into_response();
    };
    let Some(mut url) = provider.end_session_endpoint(&auth.0.http).await else {
        return (jar, Redirect::to(&home)).into_response();
    };
    // OpenID Connect RP-Initiated Logout 1.0. The post-logout URI is the
    // base URL as configured (`http://localhost:3000` in the guide's Okta
    // settings), which the issuer compares as a string.
    url.query_pairs_mut()
        .extend_pairs(session.id_token.as_deref().map(|t| ("id_token_hint", t)))
        .append_pair("client_id", provider.client_id())
        .append_pair("post_logout_redirect_uri", &auth.0.base.url);
    (jar, Redirect::to(url.as_str())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> Map<String, Value> {
        match json {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn email_verified_and_groups_claims() {
        use serde_json::json;
        assert_eq!(
            email_verified_claim(&claims(json!({"email_verified": true}))),
            Some(true)
        );
        assert_eq!(
            email_verified_claim(&claims(json!({"email_verified": "False"}))),
            Some(false)
        );
        assert_eq!(
            email_verified_claim(&claims(json!({"email_verified": 1}))),
            None
        );
        assert_eq!(email_verified_claim(&claims(json!({}))), None);
        assert_eq!(
            groups_claim(&claims(json!({"groups": ["admins", " ", 7, "ops "]}))),
            ["admins", "ops"]
        );
        assert_eq!(
            groups_claim(&claims(json!({"groups": "admins"}))),
            ["admins"]
        );
        assert!(groups_claim(&claims(json!({"groups": {"a": 1}}))).is_empty());
        assert!(groups_claim(&claims(json!({}))).is_empty());
    }

    #[test]
    fn return_to_stays_on_this_site() {
        assert_eq!(safe_return_to(Some("/quotes?x=1")), "/quotes?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_to(None), "/");
    }
}
