//! The outcome of a form, shown once as a banner on the page it redirects
//! to. It travels in the query string with a MAC keyed like the session
//! cookie, so a link crafted elsewhere cannot put its own words in a banner
//! on the console (phishing with a trusted look).

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::response::Redirect;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::enc;
use crate::AppState;

type HmacSha256 = Hmac<Sha256>;

/// A verified banner; empty when the query string carries none, or one
/// that idsync did not write.
#[derive(Default)]
pub(super) struct Flash {
    pub(super) notice: Option<String>,
    pub(super) error: Option<String>,
}

#[derive(Deserialize)]
struct Signed {
    notice: Option<String>,
    error: Option<String>,
    sig: Option<String>,
}

/// The MAC of a banner; `None` never happens (HMAC takes keys of any
/// length), but is handled as "no banner" rather than a panic.
fn mac(state: &AppState, kind: &str, text: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(state.admin.cookie_key().signing()).ok()?;
    mac.update(b"idsync console flash\0");
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(text.as_bytes());
    Some(mac)
}

impl FromRequestParts<AppState> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Query(q)) = Query::<Signed>::try_from_uri(&parts.uri) else {
            return Ok(Self::default());
        };
        let (kind, text) = match (q.notice, q.error) {
            (Some(n), None) => ("notice", n),
            (None, Some(e)) => ("error", e),
            _ => return Ok(Self::default()),
        };
        let genuine = q
            .sig
            .and_then(|sig| URL_SAFE_NO_PAD.decode(sig).ok())
            .zip(mac(state, kind, &text))
            .is_some_and(|(sig, mac)| mac.verify_slice(&sig).is_ok());
        if !genuine {
            return Ok(Self::default());
        }
        Ok(match kind {
            "notice" => Self {
                notice: Some(text),
                error: None,
            },
            _ => Self {
                notice: None,
                error: Some(text),
            },
        })
    }
}

/// Where a form goes after it is handled: back to a page, with the outcome
/// in the query string, shown once as a banner (303, so a reload does not
/// repeat the action).
pub(super) fn back(state: &AppState, to: &str, outcome: Result<String, String>) -> Redirect {
    let (kind, text) = match outcome {
        Ok(notice) => ("notice", notice),
        Err(error) => ("error", error),
    };
    let sig = mac(state, kind, &text)
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    Redirect::to(&format!("{to}?{kind}={}&sig={sig}", enc(&text)))
}
