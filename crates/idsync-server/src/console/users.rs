//! A connection's users: search and keyset paging over the synced table,
//! one user with its raw JSON, and create / delete through the provider's
//! API (the row follows through the normal sync path).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use maud::{Markup, html};
use serde::Deserialize;

use super::flash::{Flash, back};
use super::layout::{Page, ago, exact, maybe_ago, user_badge};
use super::session::{CsrfForm, Session};
use super::{PageError, connection_url, enc, failure_words, user_url};
use crate::AppState;
use crate::admin::input::{Email, PageSize, UserState};
use crate::admin::service::{self, NewAccount, UserSearch};

#[derive(Deserialize)]
pub(super) struct ListParams {
    /// Exact id, or a prefix of the email or name.
    search: Option<String>,
    state: Option<UserState>,
    /// Keyset cursor: the last id of the previous page.
    after: Option<String>,
}

/// `GET /connections/{name}/users`: one page of users, in id order.
pub(super) async fn list_page(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<ListParams>,
    flash: Flash,
) -> Result<Markup, PageError> {
    let conn = service::connection(&state, &name)?;
    let search = p.search.unwrap_or_default().trim().to_owned();
    let filter = p.state.unwrap_or_default();
    let after = p.after.filter(|a| !a.is_empty());
    let page = service::search_users(
        &state,
        &conn,
        UserSearch {
            search: Some(search.clone()),
            state: filter,
            after: after.clone(),
            limit: PageSize::default(),
        },
    )
    .await?;
    let rows = page.users;
    let base = connection_url(&name);
    let users_url = format!("{base}/users");
    let next = page.next.map(|last| {
        format!(
            "{users_url}?search={}&state={}&after={}",
            enc(&search),
            filter.as_str(),
            enc(&last)
        )
    });
    let first = format!(
        "{users_url}?search={}&state={}",
        enc(&search),
        filter.as_str()
    );
    let page = Page {
        title: "Users",
        crumbs: vec![
            (name.clone(), base.clone()),
            ("Users".to_owned(), users_url.clone()),
        ],
        session: Some(&session),
        flash: Some(&flash),
    };
    Ok(page.render(html! {
        h1 { "Users of " (name) }
        // <details> opens without JavaScript and keeps the list in view.
        // Providers that write to idsync (SCIM) own their users: no form.
        @if conn.provider.manages_users() {
        details.card.create {
            summary { "Create user" }
            p.muted {
                "Creates the user at " (conn.provider.info().display_name) ". The row appears "
                "here once the provider's webhook arrives (or at the next reconcile)."
            }
            form.stack method="post" action=(users_url) {
                input type="hidden" name="csrf" value=(session.csrf());
                label for="email" { "Email" }
                input #email type="email" name="email" required autocomplete="off";
                label for="name" { "Name " span.muted { "(optional)" } }
                input #name type="text" name="name" autocomplete="off";
                label for="password" { "Password " span.muted { "(optional)" } }
                input #password type="password" name="password" autocomplete="new-password";
                button.button type="submit" { "Create user" }
            }
        }
        }
        section.card {
            form.search method="get" action=(users_url) {
                input type="search" name="search" value=(search) placeholder="id, or start of email or name" aria-label="Search";
                select name="state" aria-label="Filter" {
                    @for s in UserState::EVERY {
                        option value=(s.as_str()) selected[s == filter] { (s.as_str()) }
                    }
                }
                button.button type="submit" { "Search" }
            }
            @if rows.is_empty() {
                p.muted { @if after.is_some() { "No more users." } @else { "No users match." } }
            } @else {
                table.zebra.users {
                    thead { tr { th { "Id" } th { "Email" } th { "Name" } th { "Signed up" } th { "Status" } } }
                    tbody {
                        @for u in &rows {
                            tr data-user-id=(u.id) {
                                td { a href=(user_url(&name, &u.id)) { code { (u.id) } } }
                                td { (u.email.as_deref().unwrap_or("")) }
                                td { (u.name.as_deref().unwrap_or("")) }
                                td { (maybe_ago(u.created_at)) }
                                td { (user_badge(u.deleted_at.is_some())) }
                            }
                        }
                    }
                }
            }
            nav.pager {
                @if after.is_some() { a href=(first) { "First page" } }
                @if let Some(next) = next { a.next href=(next) { "Next page" } }
            }
        }
    }))
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    name: Option<String>,
    /// Passed to the provider only; never stored or logged.
    password: Option<String>,
}

/// `POST /connections/{name}/users`.
pub(super) async fn create(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(form): Form<CreateForm>,
) -> Result<Redirect, PageError> {
    session.check(&form.csrf)?;
    let conn = service::connection(&state, &name)?;
    let to = format!("{}/users", connection_url(&name));
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return Ok(back(&state, &to, Err(failure_words(&e.into())))),
    };
    let account = NewAccount::new(email, form.name, form.password);
    let outcome = match service::create_user(&conn, account).await {
        Ok(user) => Ok(format!(
            "Created {}; it appears here once the provider's webhook arrives.",
            user.id.as_deref().unwrap_or("(no id)")
        )),
        Err(e) => {
            tracing::warn!(connection = name, error = %e, "console: create user failed");
            Err(format!("Could not create the user. {}", failure_words(&e)))
        }
    };
    Ok(back(&state, &to, outcome))
}

/// `GET /connections/{name}/users/{id}`.
pub(super) async fn detail_page(
    session: Session,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    flash: Flash,
) -> Result<Markup, PageError> {
    let conn = service::connection(&state, &name)?;
    let detail = service::user(&state, &conn, &id).await?;
    // Pretty-printing a `Value` cannot fail; fall back to compact anyway.
    let raw = serde_json::to_string_pretty(&detail.raw_json)
        .unwrap_or_else(|_| detail.raw_json.to_string());
    let user = &detail.user;
    let base = connection_url(&name);
    let page = Page {
        title: &id,
        crumbs: vec![
            (name.clone(), base.clone()),
            ("Users".to_owned(), format!("{base}/users")),
            (id.clone(), user_url(&name, &id)),
        ],
        session: Some(&session),
        flash: Some(&flash),
    };
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| match t {
        Some(t) => html! { (exact(t)) " (" (ago(t)) ")" },
        None => html! { span.muted { "—" } },
    };
    Ok(page.render(html! {
        div.title-row {
            h1 { (user.name.as_deref().or(user.email.as_deref()).unwrap_or(&id)) }
            (user_badge(user.deleted_at.is_some()))
        }
        section.card {
            dl.fields {
                dt { "Id" } dd { code { (user.id) } }
                dt { "Email" } dd { (user.email.as_deref().unwrap_or("—")) }
                dt { "Name" } dd { (user.name.as_deref().unwrap_or("—")) }
                dt { "Signed up" } dd { (when(user.created_at)) }
                dt { "Last change" } dd { (when(user.updated_at)) }
                dt { "Deleted" } dd.deleted-at { (when(user.deleted_at)) }
            }
            @if user.deleted_at.is_none() && conn.provider.manages_users() {
                div.actions {
                    a.button.danger href={ (user_url(&name, &id)) "/delete" } { "Delete user…" }
                }
            }
        }
        section.card {
            h2 { "Raw JSON " span.muted.small { "as the provider delivered it" } }
            pre.json { (raw) }
        }
    }))
}

/// `GET /connections/{name}/users/{id}/delete`: the confirmation step
/// (there is no JavaScript for a confirm dialog).
pub(super) async fn delete_page(
    session: Session,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let conn = service::connection(&state, &name)?;
    let user = service::find_user(&state, &conn, &id).await?;
    let label = user
        .as_ref()
        .and_then(|u| u.user.email.clone().or_else(|| u.user.name.clone()))
        .unwrap_or_else(|| id.clone());
    let base = connection_url(&name);
    let url = user_url(&name, &id);
    let page = Page {
        title: "Delete user",
        crumbs: vec![
            (name.clone(), base.clone()),
            ("Users".to_owned(), format!("{base}/users")),
            (id.clone(), url.clone()),
        ],
        session: Some(&session),
        flash: None,
    };
    Ok(page.render(html! {
        section.card.narrow {
            h1 { "Delete " (label) "?" }
            p {
                "This deletes the user " code { (id) } " at " (conn.provider.info().display_name) ". "
                "The synced row is marked deleted, not removed, once the provider's webhook arrives."
            }
            form.actions method="post" action={ (url) "/delete" } {
                input type="hidden" name="csrf" value=(session.csrf());
                button.button.danger type="submit" { "Delete at the provider" }
                a.button.quiet href=(url) { "Cancel" }
            }
        }
    }))
}

/// `POST /connections/{name}/users/{id}/delete`.
pub(super) async fn delete(
    session: Session,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    session.check(&form.csrf)?;
    let conn = service::connection(&state, &name)?;
    let outcome = match service::delete_user(&conn, &id).await {
        Ok(()) => Ok(format!(
            "Deleted {id} at the provider; it is marked deleted here once the webhook arrives."
        )),
        Err(e) => {
            tracing::warn!(connection = name, error = %e, "console: delete user failed");
            Err(format!("Could not delete the user. {}", failure_words(&e)))
        }
    };
    Ok(back(&state, &user_url(&name, &id), outcome))
}
