//! `/oauth2/v1/userinfo`: the signed-in user's claims, for the access
//! token in `Authorization: Bearer`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::errors::bearer;
use super::{Issuer, claims, now_ms};
use crate::emulator::Core;
use crate::okta::user::Status;

pub(super) async fn userinfo(
    State(core): State<Arc<Core>>,
    Extension(issuer): Extension<Arc<Issuer>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return bearer(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The access token is missing.",
        );
    };
    let invalid = || {
        bearer(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid.",
        )
    };
    let Some(access) = issuer.access(&token, now_ms(&core)) else {
        return invalid();
    };
    let user = {
        let inner = core.lock();
        inner.store.get(&access.user_id).map(|u| u.json.clone())
    };
    match user.filter(|u| Status::of(u) == Some(Status::Active)) {
        Some(user) => Json(claims::userinfo(&user, &access.scopes)).into_response(),
        None => invalid(),
    }
}
