//! `/oauth2/v1/authorize` and the sign-in form behind it.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Form, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::claims::SCOPES;
use super::clients::{OidcClient, lookup};
use super::errors::{self, OAuthError, access_denied, invalid_request, invalid_scope, oauth};
use super::pages::{self, SignIn};
use super::{AuthRequest, Grant, Issuer, SIGN_IN_PATH, Session, now_ms, passwords};
use crate::emulator::Core;
use crate::okta::user::{Status, iso, stored};

/// Okta's session cookie.
const SESSION_COOKIE: &str = "sid";

/// The `prompt` values Okta accepts for the authorization code flow.
const PROMPTS: &[&str] = &["none", "login", "consent"];

/// Query parameters by name; a name given twice is kept as an error.
struct Params(HashMap<String, Vec<String>>);

impl Params {
    fn new(pairs: Vec<(String, String)>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Self(map)
    }

    /// The value of a parameter given once; `Err` if given more than once.
    fn one(&self, name: &str) -> Result<Option<&str>, ()> {
        match self.0.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([v]) => Ok(Some(v.as_str()).filter(|v| !v.is_empty())),
            Some(_) => Err(()),
        }
    }

    fn duplicated(&self) -> bool {
        self.0.values().any(|v| v.len() > 1)
    }
}

/// Checks the request in Okta's order: the client and its redirect URI
/// first (without them there is nowhere safe to send an error), then
/// everything else, answered at the redirect URI.
fn check(
    core: &Core,
    params: &Params,
) -> Result<(OidcClient, AuthRequest, Vec<String>), Box<Response>> {
    let client = params
        .one("client_id")
        .ok()
        .flatten()
        .and_then(|id| lookup(core, id))
        .ok_or_else(|| {
            Box::new(errors::page(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "Invalid value for 'client_id' parameter.",
            ))
        })?;
    let redirect_uri = params
        .one("redirect_uri")
        .ok()
        .flatten()
        .filter(|uri| client.redirect_uris.iter().any(|r| r == uri))
        .and_then(|uri| Url::parse(uri).ok().map(|url| (uri.to_owned(), url)));
    let Some((redirect_uri, redirect_to)) = redirect_uri else {
        return Err(Box::new(errors::page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        )));
    };
    let state = params.one("state").ok().flatten().map(str::to_owned);
    let fail =
        |error: OAuthError| Box::new(errors::to_client(&redirect_to, &error, state.as_deref()));
    let Some(state) = state.clone() else {
        return Err(fail(invalid_request(
            "The authentication request has an invalid 'state' parameter.",
        )));
    };
    if params.duplicated() {
        return Err(fail(invalid_request(
            "The request contained multiple parameters with the same name.",
        )));
    }
    // No duplicates from here on, so `one` cannot fail.
    let get = |name: &str| params.one(name).ok().flatten();
    if get("response_type") != Some("code") {
        return Err(fail(oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "The response type is not supported by the authorization server. Configured response types: [code].",
        )));
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_response_mode",
            "The response mode is not supported by the authorization server. Valid response modes: [query].",
        )));
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    check_scopes(&scopes).map_err(fail)?;
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(invalid_request(
                "PKCE code challenge is required by the application.",
            )));
        }
        (Some(_), method) if method != Some("S256") => {
            return Err(fail(invalid_request(
                "PKCE code challenge method is not supported. Valid values: [S256]",
            )));
        }
        (Some(challenge), _) => {
            // base64url of a SHA-256 digest: 43 characters.
            let legal = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !legal {
                return Err(fail(invalid_request(
                    "PKCE code challenge contains illegal characters.",
                )));
            }
            Some(challenge.to_owned())
        }
    };
    let prompts: Vec<String> = get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if prompts.iter().any(|p| !PROMPTS.contains(&p.as_str()))
        || (prompts.iter().any(|p| p == "none") && prompts.len() > 1)
    {
        return Err(fail(invalid_request(
            "Invalid value for 'prompt' parameter. Supported values: [none, login, consent]",
        )));
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        redirect_to: redirect_to.clone(),
        scopes,
        state,
        nonce: get("nonce").map(str::to_owned),
        code_challenge,
    };
    Ok((client, request, prompts))
}

fn check_scopes(scopes: &[String]) -> Result<(), OAuthError> {
    if scopes.is_empty() {
        return Err(invalid_scope("No scopes were requested."));
    }
    if let Some(unknown) = scopes.iter().find(|s| {
        !SCOPES.contains(&s.as_str()) && !["offline_access", "groups"].contains(&s.as_str())
    }) {
        return Err(invalid_scope(&format!(
            "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner: {unknown}"
        )));
    }
    let refused: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| !SCOPES.contains(s))
        .collect();
    if !refused.is_empty() {
        return Err(invalid_scope(&format!(
            "The following scopes are not allowed for this request: [{}].",
            refused.join(", ")
        )));
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(invalid_scope(
            "Requests for ID tokens or access tokens with OpenID scopes require the 'openid' scope.",
        ));
    }
    Ok(())
}

/// The browser's Okta session id, from its cookie.
pub(super) fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_owned())
        })
}

/// The user, if there is one with this id and it is `ACTIVE`.
fn active_user(core: &Core, user_id: &str) -> Option<Value> {
    let inner = core.lock();
    let user = &inner.store.get(user_id)?.json;
    (Status::of(user) == Some(Status::Active)).then(|| user.clone())
}

/// Sends the signed-in user back to the client with a code, or with
/// `access_denied` when the user is not assigned to the app.
fn complete(
    core: &Core,
    issuer: &Issuer,
    client: &OidcClient,
    request: AuthRequest,
    session: Session,
) -> Response {
    let to = request.redirect_to.clone();
    if !client.is_assigned(&session.user_id) {
        let error = access_denied("User is not assigned to the client application.");
        return errors::to_client(&to, &error, Some(&request.state));
    }
    let state = request.state.clone();
    let code = issuer.issue_code(
        Grant {
            request,
            user_id: session.user_id,
            auth_time: session.auth_time,
        },
        now_ms(core),
    );
    errors::redirect(&to, &[("code", &code), ("state", &state)])
}

fn sign_in_form(token: &str, username: &str, error: Option<&str>, status: StatusCode) -> Response {
    let page = pages::sign_in(&SignIn {
        action: SIGN_IN_PATH,
        state_token: token,
        username,
        error,
    });
    (status, page).into_response()
}

pub(super) async fn authorize(
    State(core): State<Arc<Core>>,
    Extension(issuer): Extension<Arc<Issuer>>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let params = Params::new(pairs);
    let (client, request, prompts) = match check(&core, &params) {
        Ok(checked) => checked,
        Err(response) => return *response,
    };
    let now = now_ms(&core);
    let session = session_id(&headers)
        .and_then(|sid| issuer.session(&sid, now))
        .filter(|s| active_user(&core, &s.user_id).is_some());
    let wants = |p: &str| prompts.iter().any(|x| x == p);
    match session {
        Some(session) if !wants("login") => complete(&core, &issuer, &client, request, session),
        None if wants("none") => {
            let error = oauth(
                StatusCode::BAD_REQUEST,
                "login_required",
                "The client specified not to prompt, but the user is not logged in.",
            );
            errors::to_client(&request.redirect_to, &error, Some(&request.state))
        }
        _ => {
            let hint = params
                .one("login_hint")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned();
            let token = issuer.hold(request, now);
            sign_in_form(&token, &hint, None, StatusCode::OK)
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    #[serde(rename = "stateToken")]
    state_token: String,
    username: String,
    password: String,
}

/// Checks the username and password; signs the user in (a session, and
/// `lastLogin` set) when they match an `ACTIVE` user.
pub(super) async fn sign_in(
    State(core): State<Arc<Core>>,
    Extension(issuer): Extension<Arc<Issuer>>,
    Form(form): Form<SignInForm>,
) -> Response {
    let now = now_ms(&core);
    let Some(request) = issuer.held(&form.state_token, now) else {
        return errors::page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in has expired or is already complete. Start again from the app.",
        );
    };
    let Some(client) = lookup(&core, &request.client_id) else {
        return errors::page(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Invalid value for 'client_id' parameter.",
        );
    };
    let user = {
        let inner = core.lock();
        inner
            .store
            .email_owner(form.username.trim())
            .and_then(|id| inner.store.get(id))
            .map(|u| u.json.clone())
    };
    let signed_in = user.filter(|u| {
        Status::of(u) == Some(Status::Active) && passwords::matches(&core, u, &form.password)
    });
    let Some(user) = signed_in else {
        tracing::debug!("emulated Okta sign-in refused");
        return sign_in_form(
            &form.state_token,
            &form.username,
            Some("Unable to sign in"),
            StatusCode::UNAUTHORIZED,
        );
    };
    let user_id = user["id"].as_str().unwrap_or_default().to_owned();
    {
        let mut inner = core.lock();
        if let Some(current) = inner.store.get(&user_id) {
            let mut json = current.json.clone();
            json["lastLogin"] = json!(iso(now));
            inner.store.put(&user_id, stored(json));
        }
    }
    issuer.release(&form.state_token);
    let session = Session {
        user_id,
        auth_time: chrono::Utc::now().timestamp(),
    };
    let sid = issuer.start_session(session.clone(), now);
    let mut response = complete(&core, &issuer, &client, request, session);
    let cookie = format!("{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// The cookie that ends the browser's session.
pub(super) fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("sid=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}
