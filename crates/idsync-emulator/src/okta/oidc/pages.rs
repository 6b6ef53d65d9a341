//! The emulator's own pages: the sign-in form (Okta's is its Sign-In
//! Widget; this one only asks for a username and a password), error pages
//! and the signed-out page.

use axum::response::Html;

use super::passwords::DEV_PASSWORD;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}}\
         label,input,button{{display:block;width:100%;box-sizing:border-box;margin:.3rem 0}}\
         input,button{{padding:.5rem}}.error{{color:#b00020}}.hint{{color:#555;font-size:.85rem}}</style>\
         </head><body><p class=\"hint\">Emulated Okta org</p>{body}</body></html>",
        title = escape(title),
    ))
}

/// What the sign-in form needs.
pub(super) struct SignIn<'a> {
    /// Where the form posts.
    pub action: &'a str,
    /// The pending authorize request the form completes.
    pub state_token: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

pub(super) fn sign_in(form: &SignIn<'_>) -> Html<String> {
    let error = form
        .error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    layout(
        "Sign In",
        &format!(
            "<h1>Sign In</h1>{error}\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"stateToken\" value=\"{token}\">\
             <label for=\"username\">Username</label>\
             <input id=\"username\" name=\"username\" autocomplete=\"username\" value=\"{username}\" required>\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button></form>\
             <p class=\"hint\">Generated users sign in with the password <code>{dev}</code>.</p>",
            action = escape(form.action),
            token = escape(form.state_token),
            username = escape(form.username),
            dev = escape(DEV_PASSWORD),
        ),
    )
}

pub(super) fn error(code: &str, description: &str) -> Html<String> {
    layout(
        "Error",
        &format!(
            "<h1>Sign-in error</h1><p class=\"error\"><code>{}</code>: {}</p>",
            escape(code),
            escape(description)
        ),
    )
}

pub(super) fn signed_out() -> Html<String> {
    layout(
        "Signed out",
        "<h1>Signed out</h1><p>You are signed out of the org.</p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = sign_in(&SignIn {
            action: "/x",
            state_token: "t\"><script>",
            username: "<b>&'",
            error: Some("<i>"),
        })
        .0;
        assert!(page.contains("t&quot;&gt;&lt;script&gt;"));
        assert!(page.contains("&lt;b&gt;&amp;&#39;"));
        assert!(!page.contains("<i>"));
        assert!(!page.contains("<script>"));
    }
}
