//! The page shell and the small pieces every page uses: badges, times,
//! banners. maud escapes every interpolated value.

use chrono::{DateTime, Utc};
use idsync_store::runs::{RunRow, RunStatus};
use maud::{DOCTYPE, Markup, html};

use super::flash::Flash;
use super::session::Session;
use crate::admin::overview::Health;

/// One page: title, breadcrumb trail (label, link) and content.
pub(super) struct Page<'a> {
    pub title: &'a str,
    pub crumbs: Vec<(String, String)>,
    pub session: Option<&'a Session>,
    pub flash: Option<&'a Flash>,
}

impl Page<'_> {
    pub(super) fn render(&self, content: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · idsync" }
                    link rel="stylesheet" href="/console/style.css";
                    link rel="icon" href="/console/favicon.svg" type="image/svg+xml";
                }
                body {
                    header.topbar {
                        a.brand href="/" { "idsync" }
                        span.muted { "console" }
                        @if let Some(session) = self.session {
                            form.logout method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(session.csrf());
                                button.button.quiet type="submit" { "Sign out" }
                            }
                        }
                    }
                    main.container {
                        @if !self.crumbs.is_empty() {
                            nav.crumbs aria-label="Breadcrumb" {
                                a href="/" { "Connections" }
                                @for (label, href) in &self.crumbs {
                                    span.sep { "/" }
                                    a href=(href) { (label) }
                                }
                            }
                        }
                        @if let Some(flash) = self.flash {
                            @if let Some(notice) = &flash.notice {
                                p.flash.ok role="status" { (notice) }
                            }
                            @if let Some(error) = &flash.error {
                                p.flash.bad role="alert" { (error) }
                            }
                        }
                        (content)
                    }
                }
            }
        }
    }
}

/// The single sign-on button of the login page.
pub(super) struct SsoButton {
    /// "Sign in with {name}".
    pub name: String,
    pub href: String,
    /// The redirect URI to register at the issuer, shown as a hint.
    pub callback: String,
}

pub(super) fn login_page(
    refused: Option<&str>,
    sso: Option<&SsoButton>,
    token_form: bool,
) -> Markup {
    let page = Page {
        title: "Sign in",
        crumbs: Vec::new(),
        session: None,
        flash: None,
    };
    page.render(html! {
        section.card.narrow {
            h1 { "Sign in" }
            @if let Some(why) = refused {
                p.flash.bad role="alert" { (why) }
            }
            @if let Some(sso) = sso {
                p { a.button #sso href=(sso.href) { "Sign in with " (sso.name) } }
                p.muted {
                    "For idsync admins only. Redirect URI to register at the sign-in provider: "
                    code { (sso.callback) }
                }
            }
            @if token_form {
                p.muted {
                    @if sso.is_some() { "Or enter" } @else { "Enter" }
                    " the admin token (" code { "IDSYNC_ADMIN_TOKEN" } "), or open the login link "
                    code { "idsync serve" } " printed at start."
                }
                form.stack method="post" action="/login" {
                    label for="token" { "Admin token" }
                    input #token type="password" name="token" autocomplete="current-password" required autofocus[sso.is_none()];
                    button.button type="submit" { "Sign in" }
                }
            }
        }
    })
}

pub(super) fn error_page(title: &str, text: &str) -> Markup {
    let page = Page {
        title,
        crumbs: Vec::new(),
        session: None,
        flash: None,
    };
    page.render(html! {
        section.card.narrow {
            h1 { (title) }
            p { (text) }
            p { a href="/" { "Back to the connections" } }
        }
    })
}

pub(super) fn health_badge(health: Health) -> Markup {
    let class = match health {
        Health::Healthy => "badge good",
        Health::Degraded => "badge warn",
        Health::Failing => "badge bad",
    };
    html! { span class=(class) data-health=(health.as_str()) { (health.as_str()) } }
}

/// A badge for a backfill or reconcile run's status.
fn run_badge(status: RunStatus) -> Markup {
    let class = match status {
        RunStatus::Completed => "badge good",
        RunStatus::Running => "badge info",
        RunStatus::Failed => "badge bad",
    };
    html! { span class=(class) { (status.as_str()) } }
}

/// A badge for a delivery outcome or an error's source.
pub(super) fn status_badge(status: &str) -> Markup {
    let class = match status {
        "inserted" | "updated" | "deleted" => "badge good",
        "pending" => "badge info",
        "stale" => "badge warn",
        _ => "badge plain",
    };
    html! { span class=(class) { (status) } }
}

/// Whether a synced user is active or soft-deleted.
pub(super) fn user_badge(deleted: bool) -> Markup {
    let (class, text) = if deleted {
        ("badge bad", "deleted")
    } else {
        ("badge good", "active")
    };
    html! { span class=(class) data-status=(text) { (text) } }
}

/// `3 min ago`, with the exact time on hover.
pub(super) fn ago(t: DateTime<Utc>) -> Markup {
    let secs = (Utc::now() - t).num_seconds();
    let text = match secs {
        ..5 => "just now".to_owned(),
        5..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => t.format("%Y-%m-%d").to_string(),
    };
    html! { time datetime=(t.to_rfc3339()) title=(exact(t)) { (text) } }
}

pub(super) fn exact(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(super) fn maybe_ago(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => ago(t),
        None => html! { span.muted { "never" } },
    }
}

/// A count with thousands separators: `100,000`.
pub(super) fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A backfill or reconcile run in one line: status, when, and what it did;
/// with `with_error`, the error of a failed run below it.
pub(super) fn run_summary(run: Option<&RunRow>, with_error: bool) -> Markup {
    let Some(run) = run else {
        return html! { span.muted { "never run" } };
    };
    html! {
        (run_badge(run.status)) " "
        @match run.finished_at {
            Some(done) => { "finished " (ago(done)) }
            None => { "started " (ago(run.started_at)) }
        }
        span.muted {
            " · " (count(run.seen)) " seen, " (count(run.added)) " added, "
            (count(run.updated)) " updated, " (count(run.deleted)) " deleted"
        }
        @if with_error && let Some(error) = &run.error {
            div.error-text { (error) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(-1_234_567), "-1,234,567");
    }
}
