//! The app's handlers. Reads take `MaybeUser`; writes take `CurrentUser`,
//! which refuses a request without a valid session (401) or from another
//! site (403) before the form is even read, so nothing is written for them.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use idsync_login::{Auth, CurrentUser, MaybeUser};
use idsync_store::PgPool;
use serde::Deserialize;

use crate::db;
use crate::views::{self, Home, MAX_QUOTE_CHARS};

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub auth: Auth,
}

pub fn router(state: AppState) -> Router {
    let auth = state.auth.clone();
    Router::new()
        .route("/", get(home))
        .route("/quote", post(save))
        .route("/quote/delete", post(delete))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .merge(auth.router())
        .layer(auth.layer())
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::from_fn(security_headers))
}

/// A database failure, shown as a page without its details.
pub struct AppError(sqlx::Error);

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "database error");
        let page =
            views::error_page("We could not reach the database. Please try again in a moment.");
        (StatusCode::SERVICE_UNAVAILABLE, Html(page.into_string())).into_response()
    }
}

async fn home(State(s): State<AppState>, MaybeUser(user): MaybeUser) -> Result<Response, AppError> {
    let Some(user) = user else {
        let page = views::signed_out(&s.auth.signin_url(None, None));
        return Ok(Html(page.into_string()).into_response());
    };
    let quote = db::quote_of(&s.pool, &user.id).await?;
    let page = views::signed_in(&Home {
        name: user.display_name(),
        email: user.email.as_deref(),
        quote: quote.as_ref(),
        error: None,
        draft: "",
        signout_url: &s.auth.signout_url(),
    });
    Ok(Html(page.into_string()).into_response())
}

#[derive(Debug, Deserialize)]
struct QuoteForm {
    message: String,
}

async fn save(
    State(s): State<AppState>,
    user: CurrentUser,
    Form(form): Form<QuoteForm>,
) -> Result<Response, AppError> {
    let message = form.message.trim();
    let problem = if message.is_empty() {
        Some("Please enter a quote.".to_owned())
    } else if message.chars().count() > MAX_QUOTE_CHARS {
        Some(format!(
            "A quote can have at most {MAX_QUOTE_CHARS} characters."
        ))
    } else {
        None
    };
    if let Some(problem) = problem {
        let quote = db::quote_of(&s.pool, &user.id).await?;
        let page = views::signed_in(&Home {
            name: user.display_name(),
            email: user.email.as_deref(),
            quote: quote.as_ref(),
            error: Some(&problem),
            draft: message,
            signout_url: &s.auth.signout_url(),
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page.into_string())).into_response());
    }
    db::save_quote(&s.pool, &user.id, message).await?;
    tracing::info!(user_id = %user.id, "quote saved");
    Ok(Redirect::to("/").into_response())
}

async fn delete(State(s): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    db::delete_quote(&s.pool, &user.id).await?;
    tracing::info!(user_id = %user.id, "quote deleted");
    Ok(Redirect::to("/").into_response())
}

/// Headers every page gets: no framing, no sniffing, no referrer to other
/// sites, nothing cached, and a policy that allows the inline stylesheet
/// and nothing else to load.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    res
}
