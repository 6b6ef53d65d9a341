//! The overview of all connections, one connection's page, its errors, and
//! the backfill / reconcile buttons.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use idsync_providers::ProviderInfo;
use idsync_store::errors::ErrorRow;
use idsync_store::runs::JobKind;
use maud::{Markup, html};

use super::flash::{Flash, back};
use super::layout::{Page, ago, count, exact, health_badge, maybe_ago, run_summary, status_badge};
use super::session::{CsrfForm, Session};
use super::{PageError, connection_url, failure_words, user_url};
use crate::AppState;
use crate::admin::input::PageSize;
use crate::admin::overview::{ConnectionOverview, Health};
use crate::admin::service;
use idsync_store::status::ServedStatus as Served;

/// Deliveries shown on a connection's page.
const RECENT_DELIVERIES: i64 = 25;
/// The errors page shows every error kept (the store keeps 200 per connection).
const ALL_ERRORS: i64 = 200;

/// `GET /`: every connection as a card with its health.
pub(super) async fn overview_page(
    session: Session,
    State(state): State<AppState>,
) -> Result<Markup, PageError> {
    let cards = service::overviews(&state).await?;
    let page = Page {
        title: "Connections",
        crumbs: Vec::new(),
        session: Some(&session),
        flash: None,
    };
    Ok(page.render(html! {
        h1 { "Connections" }
        @if cards.is_empty() {
            p.muted { "No connections are configured." }
        }
        div.grid {
            @for c in &cards {
                (connection_card(c))
            }
        }
    }))
}

fn connection_card(c: &ConnectionOverview) -> Markup {
    let s = &c.status;
    html! {
        article.card.connection data-connection=(c.name) {
            header.card-head {
                h2 { a href=(connection_url(&c.name)) { (c.name) } }
                (health_badge(c.health))
            }
            p.muted { (c.provider_name) " → " code { (s.table) } }
            dl.stats {
                div { dt { "Active users" } dd { (count(s.active_users)) } }
                div { dt { "Deleted" } dd { (count(s.deleted_users)) } }
                @if let Some(served) = &s.served {
                    div { dt { "Last request" } dd { (maybe_ago(served.recent_requests.first().map(|r| r.at))) } }
                } @else {
                    div { dt { "Last webhook" } dd { (maybe_ago(s.last_webhook_at)) } }
                }
                @if let Some(served) = &s.served {
                    div { dt { "Groups" } dd { (count(served.groups)) } }
                    div { dt { "Memberships" } dd { (count(served.memberships)) } }
                }
                @if s.refresh.queued + s.refresh.done > 0 {
                    div { dt { "Refresh queue" } dd { (count(s.refresh.queued)) } }
                    div { dt { "Refreshed" } dd { (count(s.refresh.done)) } }
                    div { dt { "Refresh failing" } dd { (count(s.refresh.failing)) } }
                }
            }
            // A failed run's error is among the reasons below.
            @if s.served.is_none() {
                dl.runs {
                    dt { "Last backfill" } dd { (run_summary(s.last_backfill.as_ref(), false)) }
                    dt { "Last reconcile" } dd { (run_summary(s.last_reconcile.as_ref(), false)) }
                    @if let Some(run) = &s.last_incremental_reconcile {
                        dt { "Last incremental" } dd { (run_summary(Some(run), false)) }
                    }
                }
            }
            @if !c.reasons.is_empty() {
                ul.reasons { @for r in &c.reasons { li { (r) } } }
            }
        }
    }
}

/// `GET /connections/{name}`.
pub(super) async fn connection_page(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    flash: Flash,
) -> Result<Markup, PageError> {
    let conn = service::connection(&state, &name)?;
    let c = service::connection_overview(&state, &conn).await?;
    let deliveries =
        service::recent_deliveries(&state, &conn, PageSize::new(Some(RECENT_DELIVERIES))).await?;
    // The push endpoint's state, asked of the provider where its API keeps
    // one (a dry run changes nothing).
    let push = service::connect(&state, &conn, true).await;
    let s = &c.status;
    let base = connection_url(&c.name);
    let page = Page {
        title: &c.name,
        crumbs: vec![(c.name.clone(), base.clone())],
        session: Some(&session),
        flash: Some(&flash),
    };
    Ok(page.render(html! {
        div.title-row {
            h1 { (c.name) }
            (health_badge(c.health))
            span.muted { (c.provider_name) " → " code { (s.table) } }
        }
        @if !c.reasons.is_empty() {
            section class=(if c.health == Health::Failing { "card alert bad" } else { "card alert warn" }) {
                h2 { "Why it is " (c.health.as_str()) }
                ul.reasons { @for r in &c.reasons { li { (r) } } }
            }
        }
        div.grid.three {
            a.card.stat href={ (base) "/users?state=active" } {
                span.big { (count(s.active_users)) } span.muted { "active users" }
            }
            a.card.stat href={ (base) "/users?state=deleted" } {
                span.big { (count(s.deleted_users)) } span.muted { "deleted users" }
            }
            div.card.stat {
                @if let Some(served) = &s.served {
                    span.big { (maybe_ago(served.recent_requests.first().map(|r| r.at))) } span.muted { "last request" }
                } @else {
                    span.big { (maybe_ago(s.last_webhook_at)) } span.muted { "last webhook" }
                }
            }
        }
        p { a.button href={ (base) "/users" } { "Browse users" } }

        @if let Some(served) = &s.served {
            (served_section(conn.provider.info(), &c.webhook_url, served))
        }
        @if conn.provider.pulls() {
        section.card {
            h2 { "Sync jobs" }
            dl.runs {
                dt { "Last backfill" } dd { (run_summary(s.last_backfill.as_ref(), true)) }
                dt { "Last reconcile" } dd { (run_summary(s.last_reconcile.as_ref(), true)) }
                @if let Some(run) = &s.last_incremental_reconcile {
                    dt { "Last incremental" } dd { (run_summary(Some(run), true)) }
                }
            }
            div.actions {
                form method="post" action={ (base) "/backfill" } {
                    input type="hidden" name="csrf" value=(session.csrf());
                    button.button type="submit" { "Backfill now" }
                }
                form method="post" action={ (base) "/reconcile" } {
                    input type="hidden" name="csrf" value=(session.csrf());
                    button.button type="submit" { "Reconcile now" }
                }
            }
            p.muted.small {
                "Both run in the background; reload this page to follow their progress. "
                "Backfill lists every user and resumes an interrupted run; reconcile also "
                "marks deleted the users the provider no longer has."
            }
        }
        }

        @if s.served.is_none() {
        section.card {
            h2 { "Webhook" }
            p { "Endpoint URL:" }
            pre.url { code { (c.webhook_url) } }
            @match &push {
                None => (setup_steps(conn.provider.info(), &c.webhook_url)),
                Some(Ok(state)) if state.actions.is_empty() => {
                    p { "Connected through " (conn.provider.info().display_name) "'s API: " (state.state) "." }
                }
                Some(Ok(state)) => {
                    p { "Not connected yet. Connecting will:" }
                    ul { @for action in &state.actions { li { (action) } } }
                    form method="post" action={ (base) "/connect" } {
                        input type="hidden" name="csrf" value=(session.csrf());
                        button.button type="submit" { "Connect" }
                    }
                    p.muted.small { "The same as " code { "idsync connect " (c.name) } "; idsync must be reachable at this URL." }
                }
                Some(Err(e)) => {
                    p { "Could not read the push endpoint's state at " (conn.provider.info().display_name) ": " (failure_words(e)) }
                }
            }
        }

        section.card {
            h2 { "Recent deliveries" }
            @if deliveries.is_empty() {
                p.muted { "No webhook has been delivered yet." }
            } @else {
                table.zebra {
                    thead { tr { th { "Received" } th { "Event" } th { "User" } th { "Outcome" } th { "Message id" } } }
                    tbody {
                        @for d in &deliveries {
                            tr {
                                td { (ago(d.received_at)) }
                                td { code { (d.event_type) } }
                                td {
                                    @if let Some(id) = &d.user_id {
                                        a href=(user_url(&c.name, id)) { code { (id) } }
                                    }
                                }
                                td { (status_badge(&d.outcome)) }
                                td.muted { code { (d.message_id) } }
                            }
                        }
                    }
                }
            }
        }
        }

        section.card {
            div.card-head {
                h2 { "Recent errors" }
                a href={ (base) "/errors" } { "All errors" }
            }
            (errors_table(&c.name, &s.recent_errors))
        }
    }))
}

/// A connection whose provider serves an API (SCIM): its base URL, how to point each identity
/// provider at it, its groups and its recent requests.
fn served_section(info: &ProviderInfo, base_url: &str, served: &Served) -> Markup {
    html! {
        section.card.served {
            h2 { (info.display_name) " endpoint" }
            p { "Base URL (tenant URL):" }
            pre.url { code { (base_url) } }
            p.muted.small {
                "The identity provider owns these users and groups: it creates, updates "
                "and deletes them here, so idsync offers no user management for this connection."
            }
            (setup_steps(info, base_url))
        }
        section.card.served-requests {
            h2 { "Recent requests" }
            @if served.recent_requests.is_empty() {
                p.muted { "No request has arrived yet." }
            } @else {
                table.zebra {
                    thead { tr { th { "When" } th { "Request" } th { "Status" } th { "Outcome" } } }
                    tbody {
                        @for r in &served.recent_requests {
                            tr {
                                td { (ago(r.at)) }
                                td { code { (r.method) " " (r.path) } }
                                td { (r.status) }
                                td { (status_badge(&r.outcome)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What to set up at the provider for its pushes to reach idsync, as its
/// module describes it.
fn setup_steps(info: &ProviderInfo, url: &str) -> Markup {
    html! {
        ol.steps {
            @for step in info.push_steps(url) {
                li { (step) }
            }
            li { "Restart idsync after changing its configuration." }
        }
        p.muted.small {
            a href=(info.console_url) { "Open the " (info.console_name) }
            " · "
            a href=(info.docs_url) { (info.display_name) " documentation" }
        }
    }
}

fn errors_table(connection: &str, rows: &[ErrorRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { "No errors recorded." }
        } @else {
            table.zebra.errors {
                thead { tr { th { "When" } th { "Source" } th { "Reason" } } }
                tbody {
                    @for e in rows {
                        tr {
                            td { a href=(error_url(connection, e.id)) { (ago(e.at)) } }
                            td { (status_badge(&e.source)) }
                            td.reason {
                                (e.message)
                                @if let Some(id) = &e.message_id {
                                    " " span.muted { "(delivery " code { (id) } ")" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn error_url(connection: &str, id: i64) -> String {
    format!("{}/errors/{id}", connection_url(connection))
}

/// `GET /connections/{name}/errors`: every error kept.
pub(super) async fn errors_page(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Markup, PageError> {
    let conn = service::connection(&state, &name)?;
    let rows = service::recent_errors(&state, &conn, ALL_ERRORS).await?;
    let base = connection_url(&name);
    let page = Page {
        title: "Errors",
        crumbs: vec![
            (name.clone(), base.clone()),
            ("Errors".to_owned(), format!("{base}/errors")),
        ],
        session: Some(&session),
        flash: None,
    };
    Ok(page.render(html! {
        h1 { "Errors of " (name) }
        p.muted {
            "Rejected webhook deliveries and failed sync jobs, newest first (the last "
            (ALL_ERRORS) " are kept)."
        }
        section.card { (errors_table(&name, &rows)) }
    }))
}

/// `GET /connections/{name}/errors/{id}`: one error in full.
pub(super) async fn error_page(
    session: Session,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, i64)>,
) -> Result<Markup, PageError> {
    let conn = service::connection(&state, &name)?;
    let row = service::recorded_error(&state, &conn, id, ALL_ERRORS).await?;
    let base = connection_url(&name);
    let page = Page {
        title: "Error",
        crumbs: vec![
            (name.clone(), base.clone()),
            ("Errors".to_owned(), format!("{base}/errors")),
            (format!("#{id}"), error_url(&name, id)),
        ],
        session: Some(&session),
        flash: None,
    };
    let hint = match row.source.as_str() {
        "webhook" => {
            "The delivery was refused and nothing was written. Most often the connection's webhook_secret does not match the endpoint's signing secret at the provider, or the clocks differ by more than five minutes. The provider retries refused deliveries, and reconcile repairs anything missed."
        }
        _ => {
            "The job stopped at this error; a backfill resumes where it stopped when run again. Check that the provider's API is reachable and the connection's API key is valid."
        }
    };
    Ok(page.render(html! {
        h1 { "Error #" (id) }
        section.card {
            dl.fields {
                dt { "Connection" } dd { a href=(base) { (name) } }
                dt { "When" } dd { (exact(row.at)) " (" (ago(row.at)) ")" }
                dt { "Source" } dd { (status_badge(&row.source)) }
                @if let Some(id) = &row.message_id {
                    dt { "Delivery" } dd { code { (id) } }
                }
            }
            h2 { "Reason" }
            pre.wrap { (row.message) }
            p.muted { (hint) }
        }
    }))
}

/// `POST /connections/{name}/backfill`.
pub(super) async fn backfill(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    start(session, state, name, form, JobKind::Backfill).await
}

/// `POST /connections/{name}/connect`: what `idsync connect` does.
pub(super) async fn connect(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    session.check(&form.csrf)?;
    let conn = service::connection(&state, &name)?;
    let outcome = match service::connect(&state, &conn, false).await {
        None => Err(format!(
            "{} has no API for this; follow the steps on this page.",
            conn.provider.info().display_name
        )),
        Some(Ok(done)) => Ok(format!("Connected: {}.", done.state)),
        Some(Err(e)) => {
            tracing::warn!(connection = name, error = %e, "console: could not connect");
            Err(format!("Could not connect: {}", failure_words(&e)))
        }
    };
    Ok(back(&state, &connection_url(&name), outcome))
}

/// `POST /connections/{name}/reconcile`.
pub(super) async fn reconcile(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    start(session, state, name, form, JobKind::Reconcile).await
}

async fn start(
    session: Session,
    state: AppState,
    name: String,
    form: CsrfForm,
    kind: JobKind,
) -> Result<Redirect, PageError> {
    session.check(&form.csrf)?;
    let conn = service::connection(&state, &name)?;
    let job = match kind {
        JobKind::Backfill => "Backfill",
        JobKind::Reconcile => "Reconcile",
        JobKind::IncrementalReconcile => "Incremental reconcile",
    };
    let outcome = match service::start_job(&state, conn, kind).await {
        Ok(()) => Ok(format!("{job} started; reload to follow its progress.")),
        Err(e @ service::AdminError::Busy) => Err(failure_words(&e)),
        Err(e) => {
            tracing::error!(connection = name, error = %e, "console: could not start job");
            Err(format!("{job} could not start: {e}"))
        }
    };
    Ok(back(&state, &connection_url(&name), outcome))
}
