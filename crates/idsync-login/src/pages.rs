//! The few pages the login layer shows itself: the provider chooser, the
//! sign-out confirmation and the error page. Plain HTML and CSS, escaped by
//! maud.

use maud::{DOCTYPE, Markup, PreEscaped, html};

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
font-family:ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#111827}
main{background:#fff;border-radius:.75rem;box-shadow:0 1px 3px rgba(0,0,0,.1),0 1px 2px rgba(0,0,0,.06);
padding:2rem;width:100%;max-width:28rem;margin:1rem}
h1{font-size:1.25rem;margin:0 0 1rem}
p{line-height:1.5;margin:.5rem 0}
.hint{color:#4b5563;font-size:.875rem}
.code{font-family:ui-monospace,monospace;font-size:.8rem;color:#6b7280}
.actions{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap;margin-top:1.5rem}
.button{display:inline-block;border:0;border-radius:.375rem;padding:.5rem 1rem;font:inherit;font-weight:600;
cursor:pointer;text-decoration:none;background:#16a34a;color:#fff}
.button:hover{background:#15803d}
.providers{display:flex;flex-direction:column;gap:.75rem}
a{color:#15803d}
"#;

fn layout(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
}

/// One line of the chooser: display name and sign-in URL.
pub(crate) struct Choice {
    pub name: String,
    pub href: String,
}

pub(crate) fn chooser(choices: &[Choice]) -> Markup {
    layout(
        "Sign in",
        html! {
            h1 { "Sign in" }
            div class="providers" {
                @for c in choices {
                    a class="button" href=(c.href) { "Sign in with " (c.name) }
                }
            }
        },
    )
}

pub(crate) fn signout_confirm(action: &str, home: &str) -> Markup {
    layout(
        "Sign out",
        html! {
            h1 { "Sign out" }
            p { "Are you sure you want to sign out?" }
            form method="post" action=(action) class="actions" {
                button class="button" type="submit" { "Sign out" }
                a href=(home) { "Cancel" }
            }
        },
    )
}

/// What an error page says.
pub(crate) struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: String,
    pub hint: Option<String>,
    /// A short machine-ish code the user can quote when asking for help.
    pub code: &'a str,
    pub retry: Option<String>,
    pub home: String,
}

pub(crate) fn error(page: &ErrorPage<'_>) -> Markup {
    layout(
        page.title,
        html! {
            h1 { (page.title) }
            p { (page.message) }
            @if let Some(hint) = &page.hint {
                p class="hint" { (hint) }
            }
            p class="code" { "Error: " (page.code) }
            div class="actions" {
                @if let Some(retry) = &page.retry {
                    a class="button" href=(retry) { "Try again" }
                }
                a href=(page.home) { "Back to the home page" }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_page_escapes_what_the_provider_sent() {
        let page = error(&ErrorPage {
            title: "Sign-in failed",
            message: "<script>alert(1)</script>".to_owned(),
            hint: Some("\"quoted\" & <b>".to_owned()),
            code: "provider_error",
            retry: Some("/api/auth/signin?provider=okta".to_owned()),
            home: "/".to_owned(),
        })
        .into_string();
        assert!(!page.contains("<script>alert"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("&lt;b&gt;"), "{page}");
        assert!(page.contains("Try again"));
    }
}
