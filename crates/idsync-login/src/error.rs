//! What can go wrong during sign-in and sign-out, and the page each case
//! shows. Pages say what happened and what to do; details (which may name
//! URLs or provider messages, never secrets or tokens) go to the log.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use idsync_store::StoreError;

use crate::pages::{self, ErrorPage};

/// A provider as named in errors: its id (for the retry link) and its
/// display name (for people).
#[derive(Debug, Clone)]
pub(crate) struct ProviderLabel {
    pub id: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum LoginError {
    #[error("unknown sign-in provider {0:?}")]
    UnknownProvider(String),
    #[error("the issuer of {} could not be reached: {detail}", .provider.id)]
    IssuerUnreachable {
        provider: ProviderLabel,
        detail: String,
    },
    #[error("the issuer of {} answered unexpectedly: {detail}", .provider.id)]
    IssuerMisconfigured {
        provider: ProviderLabel,
        detail: String,
    },
    #[error("{} rejected the client credentials: {code}", .provider.id)]
    ClientRejected {
        provider: ProviderLabel,
        code: String,
    },
    #[error("no sign-in in progress: the flow cookie is missing or expired")]
    FlowMissing { provider: Option<ProviderLabel> },
    #[error("the state parameter does not match the sign-in in progress")]
    StateMismatch { provider: ProviderLabel },
    #[error("{} denied access", .provider.id)]
    AccessDenied {
        provider: ProviderLabel,
        description: Option<String>,
    },
    #[error("{} returned the error {code:?}", .provider.id)]
    ProviderError {
        provider: ProviderLabel,
        code: String,
        description: Option<String>,
    },
    #[error("{} rejected the authorization code: {detail}", .provider.id)]
    CodeRejected {
        provider: ProviderLabel,
        detail: String,
    },
    #[error("the ID token from {} is not valid: {detail}", .provider.id)]
    InvalidIdToken {
        provider: ProviderLabel,
        detail: String,
    },
    #[error("could not record the signed-in user: {0}")]
    UserSync(#[from] StoreError),
    #[error("cross-site request refused")]
    CrossSite,
}

impl LoginError {
    fn status(&self) -> StatusCode {
        match self {
            Self::UnknownProvider(_) => StatusCode::NOT_FOUND,
            Self::IssuerUnreachable { .. }
            | Self::IssuerMisconfigured { .. }
            | Self::ClientRejected { .. } => StatusCode::BAD_GATEWAY,
            Self::FlowMissing { .. }
            | Self::StateMismatch { .. }
            | Self::ProviderError { .. }
            | Self::CodeRejected { .. }
            | Self::InvalidIdToken { .. } => StatusCode::BAD_REQUEST,
            Self::AccessDenied { .. } | Self::CrossSite => StatusCode::FORBIDDEN,
            Self::UserSync(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn provider(&self) -> Option<&ProviderLabel> {
        match self {
            Self::IssuerUnreachable { provider, .. }
            | Self::IssuerMisconfigured { provider, .. }
            | Self::ClientRejected { provider, .. }
            | Self::StateMismatch { provider }
            | Self::AccessDenied { provider, .. }
            | Self::ProviderError { provider, .. }
            | Self::CodeRejected { provider, .. }
            | Self::InvalidIdToken { provider, .. } => Some(provider),
            Self::FlowMissing { provider } => provider.as_ref(),
            Self::UnknownProvider(_) | Self::UserSync(_) | Self::CrossSite => None,
        }
    }

    /// A stable short name, shown on the page and logged.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::UnknownProvider(_) => "unknown_provider",
            Self::IssuerUnreachable { .. } => "issuer_unreachable",
            Self::IssuerMisconfigured { .. } => "issuer_misconfigured",
            Self::ClientRejected { .. } => "client_rejected",
            Self::FlowMissing { .. } => "no_sign_in_in_progress",
            Self::StateMismatch { .. } => "state_mismatch",
            Self::AccessDenied { .. } => "access_denied",
            Self::ProviderError { .. } => "provider_error",
            Self::CodeRejected { .. } => "code_rejected",
            Self::InvalidIdToken { .. } => "invalid_id_token",
            Self::UserSync(_) => "user_sync_failed",
            Self::CrossSite => "cross_site_request",
        }
    }

    fn log(&self) {
        let code = self.code();
        match self {
            // The operator must act: configuration, network, database.
            Self::IssuerUnreachable { .. }
            | Self::IssuerMisconfigured { .. }
            | Self::ClientRejected { .. }
            | Self::UserSync(_) => tracing::error!(code, error = %self, "sign-in failed"),
            // Possibly an attack, possibly a clock or key problem.
            Self::InvalidIdToken { .. } | Self::CrossSite => {
                tracing::warn!(code, error = %self, "sign-in refused");
            }
            // The user's doing, or an old tab.
            _ => tracing::info!(code, error = %self, "sign-in did not complete"),
        }
    }

    /// Logs the error and renders its page. `base_path` prefixes the links
    /// (empty, or e.g. `/app`).
    pub(crate) fn into_page(self, base_path: &str) -> Response {
        self.log();
        let provider = self.provider();
        let name = provider.map_or("the sign-in provider", |p| p.name.as_str());
        let signin = format!("{base_path}/api/auth/signin");
        let retry = Some(match provider {
            Some(p) => format!("{signin}?provider={}", p.id),
            None => signin,
        });
        let (title, message, hint) = match &self {
            Self::UnknownProvider(_) => (
                "Unknown sign-in provider",
                "This sign-in link names a provider this application does not use.".to_owned(),
                None,
            ),
            Self::IssuerUnreachable { .. } => (
                "Sign-in provider unreachable",
                format!("We could not reach {name} to sign you in."),
                Some("Please try again in a moment. If it keeps failing, the application's issuer URL may be wrong.".to_owned()),
            ),
            Self::IssuerMisconfigured { .. } => (
                "Sign-in provider not usable",
                format!("{name} answered in a way this application cannot use."),
                Some("The application's issuer setting is probably wrong; its administrator will find the details in the server log.".to_owned()),
            ),
            Self::ClientRejected { .. } => (
                "Application not set up correctly",
                format!("{name} did not accept this application's client credentials."),
                Some("The administrator should check the client id and secret (e.g. AUTH_OKTA_ID and AUTH_OKTA_SECRET) against the app integration.".to_owned()),
            ),
            Self::FlowMissing { .. } => (
                "Sign-in expired",
                "We could not find the sign-in you started: it took more than 10 minutes, or this browser blocked our cookie.".to_owned(),
                Some("Please start again, and allow cookies for this site.".to_owned()),
            ),
            Self::StateMismatch { .. } => (
                "Sign-in could not be verified",
                "The answer from the sign-in provider does not belong to the sign-in started in this browser (state mismatch).".to_owned(),
                Some("This happens when signing in from two tabs at once, or with an old link. Please start again.".to_owned()),
            ),
            Self::AccessDenied { description, .. } => (
                "Sign-in cancelled",
                format!("{name} did not grant access: the sign-in was cancelled or you are not allowed to use this application."),
                description.clone(),
            ),
            Self::ProviderError { description, .. } => (
                "Sign-in failed",
                format!("{name} could not complete the sign-in."),
                description.clone(),
            ),
            Self::CodeRejected { .. } => (
                "Sign-in expired",
                format!("{name} no longer accepts this sign-in (it was used already or took too long)."),
                Some("Please start again.".to_owned()),
            ),
            Self::InvalidIdToken { .. } => (
                "Sign-in could not be verified",
                format!("The identity token from {name} did not pass verification."),
                Some("Please try again. If it keeps failing, the server's clock or the issuer setting may be wrong.".to_owned()),
            ),
            Self::UserSync(_) => (
                "Sign-in could not be completed",
                "You were signed in, but we could not record your account right now.".to_owned(),
                Some("Please try again in a moment.".to_owned()),
            ),
            Self::CrossSite => (
                "Request refused",
                "This request came from another site and was refused.".to_owned(),
                None,
            ),
        };
        let page = pages::error(&ErrorPage {
            title,
            message,
            hint,
            code: self.code(),
            retry,
            home: format!("{base_path}/"),
        });
        (self.status(), Html(page.into_string())).into_response()
    }
}
