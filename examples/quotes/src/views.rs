//! The pages, as in Neon's guide: a login box when signed out; when signed
//! in, a bar with "Welcome, {name}!" and a sign-out button, the saved quote
//! with a delete button, and the form to save one. Plain CSS in the look of
//! Tailwind's defaults.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::db::Quote;

/// Longest quote accepted, in characters.
pub const MAX_QUOTE_CHARS: usize = 1000;

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
font-family:ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
background:#f3f4f6;color:#111827}
main{background:#fff;border-radius:.75rem;box-shadow:0 10px 15px -3px rgba(0,0,0,.1),0 4px 6px -4px rgba(0,0,0,.1);
padding:2rem;width:100%;max-width:36rem;margin:1rem}
h1{font-size:1.5rem;font-weight:700;margin:0 0 1rem}
h2{font-size:1.125rem;font-weight:600;margin:1.5rem 0 .5rem}
p{line-height:1.5;margin:.5rem 0}
.muted{color:#6b7280;font-size:.875rem}
.btn{display:inline-block;border:0;border-radius:.375rem;padding:.5rem 1rem;font:inherit;font-weight:600;
cursor:pointer;text-decoration:none;background:#16a34a;color:#fff;line-height:1.5}
.btn:hover{background:#15803d}
.btn:focus-visible{outline:2px solid #86efac;outline-offset:2px}
.login-box{text-align:center;padding:1rem 0}
.login-box .btn{margin-top:1rem;padding:.625rem 2rem}
.userbar{display:flex;justify-content:space-between;align-items:center;gap:1rem;
padding-bottom:1rem;border-bottom:1px solid #e5e7eb}
.userbar p{margin:0;font-weight:600}
.userbar form{margin:0}
blockquote{margin:0;padding:.75rem 1rem;border-left:4px solid #16a34a;background:#f0fdf4;font-style:italic;
white-space:pre-wrap;overflow-wrap:anywhere}
.quote-actions{display:flex;justify-content:space-between;align-items:center;margin-top:.5rem}
label{display:block;font-weight:600;margin-bottom:.5rem}
textarea{width:100%;min-height:6rem;padding:.5rem .75rem;border:1px solid #d1d5db;border-radius:.375rem;font:inherit;resize:vertical}
textarea:focus{outline:2px solid #86efac;border-color:#16a34a}
.form-actions{margin-top:.75rem;text-align:right}
.error{color:#b91c1c;background:#fef2f2;border-radius:.375rem;padding:.5rem .75rem}
"#;

fn layout(body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Favorite quote" }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
}

/// Signed out: the login box.
pub fn signed_out(signin_url: &str) -> Markup {
    layout(html! {
        h1 { "Favorite quote" }
        div class="login-box" id="login-box" {
            p { "Log in to save your favorite quote." }
            a class="btn" href=(signin_url) { "Log in" }
        }
    })
}

/// What the signed-in page shows.
pub struct Home<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub quote: Option<&'a Quote>,
    /// A problem with the submitted form, shown above it.
    pub error: Option<&'a str>,
    /// The text to put back in the form after an error.
    pub draft: &'a str,
    pub signout_url: &'a str,
}

pub fn signed_in(h: &Home<'_>) -> Markup {
    layout(html! {
        div class="userbar" {
            div {
                p { "Welcome, " (h.name) "!" }
                @if let Some(email) = h.email {
                    span class="muted" { (email) }
                }
            }
            form method="post" action=(h.signout_url) {
                button class="btn" type="submit" { "Sign out" }
            }
        }
        @if let Some(q) = h.quote {
            h2 { "Your favorite quote" }
            blockquote id="saved-quote" { (q.message) }
            div class="quote-actions" {
                span class="muted" { "Saved " (q.created.format("%Y-%m-%d %H:%M UTC")) }
                form method="post" action="/quote/delete" {
                    button class="btn" type="submit" { "Delete quote" }
                }
            }
        }
        form method="post" action="/quote" {
            h2 {
                label for="message" {
                    @if h.quote.is_some() { "Change your quote" } @else { "Save a quote" }
                }
            }
            @if let Some(e) = h.error {
                p class="error" role="alert" { (e) }
            }
            textarea id="message" name="message" required maxlength=(MAX_QUOTE_CHARS)
                placeholder="Enter your favorite quote" { (h.draft) }
            div class="form-actions" {
                button class="btn" type="submit" { "Save quote" }
            }
        }
    })
}

/// An error page (the database is down, say).
pub fn error_page(message: &str) -> Markup {
    layout(html! {
        h1 { "Something went wrong" }
        p { (message) }
        p { a href="/" { "Back to the home page" } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_and_name_are_escaped() {
        let q = Quote {
            message: "<img src=x onerror=alert(1)>".to_owned(),
            created: chrono::Utc::now(),
        };
        let page = signed_in(&Home {
            name: "<b>Ada</b>",
            email: None,
            quote: Some(&q),
            error: None,
            draft: "",
            signout_url: "/api/auth/signout",
        })
        .into_string();
        assert!(!page.contains("<img src=x"), "{page}");
        assert!(page.contains("Welcome, &lt;b&gt;Ada&lt;/b&gt;!"), "{page}");
        assert!(page.contains(r#"action="/api/auth/signout""#));
        assert!(page.contains("Delete quote"));
    }

    #[test]
    fn login_box_links_to_sign_in() {
        let page = signed_out("/api/auth/signin").into_string();
        assert!(page.contains(r#"href="/api/auth/signin""#), "{page}");
        assert!(page.contains(">Log in<"), "{page}");
    }
}
