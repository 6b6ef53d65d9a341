//! `idsync create-app` for Okta: the OpenID Connect web app integration of
//! Neon's Okta guide, made through `/api/v1/apps` instead of the Admin
//! Console. Sign-in redirect `{app_url}/api/auth/callback/okta`, sign-out
//! redirect `{app_url}`, the authorization code grant, a client secret;
//! assigned to `Everyone` or to one group.
//!
//! Idempotent by label: a rerun finds the app (`GET /api/v1/apps?q=…`,
//! then the exact label), puts back what differs (redirects, grant,
//! client authentication, activation, assignment) and creates nothing.
//! Okta shows `client_secret` only in the answer to a create or an update,
//! so a rerun reads it from `/api/v1/apps/{id}/credentials/secrets`.

use reqwest::{Method, Url};
use serde_json::{Value, json};

use super::api::{Client, next_link};
use crate::provider::{AppRequest, AppSetting, SignInApp};
use crate::{ApiError, http_client};

/// The login layer's callback path for the provider id `okta`.
const CALLBACK: &str = "/api/auth/callback/okta";
/// Stops a listing whose `next` links never end.
const MAX_PAGES: usize = 100;
/// Client authentication methods that use the client secret the
/// application is given.
const SECRET_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// A group the app is assigned to.
#[derive(Debug, Clone)]
struct Group {
    id: String,
    name: String,
}

/// The app as `create` sends it.
fn definition(request: &AppRequest) -> Value {
    json!({
        "name": "oidc_client",
        "label": request.label,
        "signOnMode": "OPENID_CONNECT",
        "credentials": {
            "oauthClient": { "token_endpoint_auth_method": "client_secret_basic" },
        },
        "settings": {
            "oauthClient": {
                "application_type": "web",
                "redirect_uris": [format!("{}{CALLBACK}", request.app_url)],
                "post_logout_redirect_uris": [request.app_url],
                "response_types": ["code"],
                "grant_types": ["authorization_code"],
                "consent_method": "TRUSTED",
            },
        },
    })
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// What differs between an existing app and the one wanted, each put right
/// in `fixed` (the app to send back).
fn differences(app: &Value, request: &AppRequest) -> (Vec<&'static str>, Value) {
    let mut fixed = app.clone();
    let mut what = Vec::new();
    let settings = &app["settings"]["oauthClient"];
    let redirect = format!("{}{CALLBACK}", request.app_url);
    let mut set = |what_: &'static str, pointer: &str, value: Value| {
        what.push(what_);
        if let Some(slot) = fixed.pointer_mut(pointer) {
            *slot = value;
        } else if let Some(Value::Object(client)) = fixed.pointer_mut("/settings/oauthClient") {
            let key = pointer.rsplit('/').next().unwrap_or_default();
            client.insert(key.to_owned(), value);
        }
    };
    if strings(&settings["redirect_uris"]) != [redirect.as_str()] {
        set(
            "sign-in redirect URIs",
            "/settings/oauthClient/redirect_uris",
            json!([redirect]),
        );
    }
    if strings(&settings["post_logout_redirect_uris"]) != [request.app_url.as_str()] {
        set(
            "sign-out redirect URIs",
            "/settings/oauthClient/post_logout_redirect_uris",
            json!([request.app_url]),
        );
    }
    if !strings(&settings["grant_types"]).contains(&"authorization_code") {
        let mut grants: Vec<&str> = strings(&settings["grant_types"]);
        grants.push("authorization_code");
        set(
            "grant types",
            "/settings/oauthClient/grant_types",
            json!(grants),
        );
    }
    if !strings(&settings["response_types"]).contains(&"code") {
        let mut types: Vec<&str> = strings(&settings["response_types"]);
        types.push("code");
        set(
            "response types",
            "/settings/oauthClient/response_types",
            json!(types),
        );
    }
    if settings["application_type"] != "web" {
        set(
            "application type",
            "/settings/oauthClient/application_type",
            json!("web"),
        );
    }
    let method = app["credentials"]["oauthClient"]["token_endpoint_auth_method"].as_str();
    if !method.is_some_and(|m| SECRET_METHODS.contains(&m)) {
        what.push("client authentication");
        fixed["credentials"]["oauthClient"]["token_endpoint_auth_method"] =
            json!("client_secret_basic");
    }
    (what, fixed)
}

/// An id Okta gave, checked before it goes into a URL path.
fn id_of(object: &Value, kind: &str) -> Result<String, ApiError> {
    object["id"]
        .as_str()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::Body(format!("{kind} without a usable id")))
}

fn secret_of(app: &Value) -> Option<String> {
    app["credentials"]["oauthClient"]["client_secret"]
        .as_str()
        .map(str::to_owned)
}

impl Client {
    fn list_url(&self, path: &str, query: &[(&str, &str)]) -> Result<String, ApiError> {
        Url::parse_with_params(&self.url(path), query)
            .map(String::from)
            .map_err(|e| ApiError::Body(format!("cannot build a URL for {path}: {e}")))
    }

    /// Every item of a list, following its `next` links.
    async fn list_all(&self, first: String) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut url = Some(first);
        for _ in 0..MAX_PAGES {
            let Some(current) = url.take() else {
                return Ok(items);
            };
            let resp = self.send(Method::GET, &current, None).await?;
            url = next_link(resp.headers());
            match http_client::json(resp).await? {
                Value::Array(page) => items.extend(page),
                _ => return Err(ApiError::Body("expected a JSON array".to_owned())),
            }
        }
        Err(ApiError::Body(format!(
            "a list longer than {MAX_PAGES} pages"
        )))
    }

    /// The group named `name`, or `Everyone`.
    async fn find_group(&self, name: Option<&str>) -> Result<Group, ApiError> {
        let (query, wanted) = match name {
            Some(name) => (("q", name), name),
            None => (("filter", "type eq \"BUILT_IN\""), "Everyone"),
        };
        let url = self.list_url("/api/v1/groups", &[query, ("limit", "200")])?;
        let groups = self.list_all(url).await?;
        fn named(group: &Value) -> Option<&str> {
            group["profile"]["name"].as_str()
        }
        let found = groups
            .iter()
            .find(|g| named(g) == Some(wanted))
            .or_else(|| {
                // Okta's group names are unique regardless of case.
                groups
                    .iter()
                    .find(|g| named(g).is_some_and(|n| n.eq_ignore_ascii_case(wanted)))
            });
        let Some(group) = found else {
            let similar: Vec<&str> = groups.iter().filter_map(named).collect();
            return Err(ApiError::NotFound(match (name, similar.is_empty()) {
                (None, _) => "Okta did not list its Everyone group (the API token's admin may lack the right to see it)".to_owned(),
                (Some(name), true) => format!("Okta has no group named {name:?}"),
                (Some(name), false) => format!(
                    "Okta has no group named {name:?} (groups starting with it: {})",
                    similar.join(", ")
                ),
            }));
        };
        Ok(Group {
            id: id_of(group, "a group")?,
            name: named(group).unwrap_or(wanted).to_owned(),
        })
    }

    /// The `oidc_client` app labelled `label`, if any (the first, if
    /// several).
    async fn find_app(&self, label: &str) -> Result<Option<Value>, ApiError> {
        let url = self.list_url("/api/v1/apps", &[("q", label), ("limit", "200")])?;
        Ok(self
            .list_all(url)
            .await?
            .into_iter()
            .find(|app| app["name"] == "oidc_client" && app["label"] == label))
    }

    /// The newest active client secret.
    async fn active_secret(&self, app_id: &str) -> Result<Option<String>, ApiError> {
        let secrets = self
            .call(
                Method::GET,
                &format!("/api/v1/apps/{app_id}/credentials/secrets"),
                None,
            )
            .await?;
        Ok(secrets
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"] == "ACTIVE")
            .filter_map(|s| s["client_secret"].as_str())
            .next_back()
            .map(str::to_owned))
    }

    pub(super) async fn create_app(
        &self,
        request: &AppRequest,
        dry_run: bool,
    ) -> Result<SignInApp, ApiError> {
        let group = self.find_group(request.group.as_deref()).await?;
        let label = &request.label;
        let mut actions = Vec::new();
        let mut secret = None;
        let app = match self.find_app(label).await? {
            None if dry_run => {
                actions.push(format!(
                    "create OIDC web app {label:?} (sign-in redirect {}{CALLBACK}, sign-out redirect {})",
                    request.app_url, request.app_url
                ));
                actions.push(format!("assign the new app to {}", group.name));
                return Ok(SignInApp {
                    actions,
                    state: format!("no app labelled {label:?}"),
                    settings: vec![self.issuer_setting()],
                });
            }
            None => {
                actions.push(format!(
                    "create OIDC web app {label:?} (sign-in redirect {}{CALLBACK}, sign-out redirect {})",
                    request.app_url, request.app_url
                ));
                let app = self
                    .call(
                        Method::POST,
                        "/api/v1/apps?activate=true",
                        Some(&definition(request)),
                    )
                    .await?;
                secret = secret_of(&app);
                app
            }
            Some(app) => {
                let id = id_of(&app, "an app")?;
                let (what, fixed) = differences(&app, request);
                let mut app = app;
                if !what.is_empty() {
                    actions.push(format!("update app {id}: {}", what.join(", ")));
                    if !dry_run {
                        app = self
                            .call(Method::PUT, &format!("/api/v1/apps/{id}"), Some(&fixed))
                            .await?;
                        secret = secret_of(&app);
                    }
                }
                if app["status"] != "ACTIVE" {
                    actions.push(format!("activate app {id}"));
                    if !dry_run {
                        self.call(
                            Method::POST,
                            &format!("/api/v1/apps/{id}/lifecycle/activate"),
                            None,
                        )
                        .await?;
                        app["status"] = json!("ACTIVE");
                    }
                }
                app
            }
        };
        let id = id_of(&app, "an app")?;
        let limited = request.group.is_some();
        let others = self
            .assign(&id, &group, limited, dry_run, &mut actions)
            .await?;
        if !dry_run && secret.is_none() {
            secret = self.active_secret(&id).await?;
        }
        let client_id = app["credentials"]["oauthClient"]["client_id"]
            .as_str()
            .unwrap_or(&id)
            .to_owned();
        let mut settings = vec![
            self.issuer_setting(),
            AppSetting {
                name: "AUTH_OKTA_ID",
                value: client_id,
                secret: false,
            },
        ];
        if let Some(secret) = secret.filter(|_| !dry_run) {
            settings.push(AppSetting {
                name: "AUTH_OKTA_SECRET",
                value: secret,
                secret: true,
            });
        }
        Ok(SignInApp {
            actions,
            state: format!(
                "app {id} ({label}): {}, assigned to {}{}",
                app["status"].as_str().unwrap_or("?"),
                group.name,
                if others.is_empty() {
                    String::new()
                } else {
                    format!(" and to groups {} (left as they are)", others.join(", "))
                }
            ),
            settings,
        })
    }

    /// Assigns the app to `group`. Limiting it to a group also takes it
    /// away from `Everyone`, which would let every user in; other groups an
    /// admin assigned stay, and are named in the state.
    async fn assign(
        &self,
        app_id: &str,
        group: &Group,
        limited: bool,
        dry_run: bool,
        actions: &mut Vec<String>,
    ) -> Result<Vec<String>, ApiError> {
        let url = self.list_url(
            &format!("/api/v1/apps/{app_id}/groups"),
            &[("limit", "200")],
        )?;
        let assigned = self.list_all(url).await?;
        if !assigned.iter().any(|a| a["id"] == group.id.as_str()) {
            actions.push(format!("assign app {app_id} to {}", group.name));
            if !dry_run {
                self.call(
                    Method::PUT,
                    &format!("/api/v1/apps/{app_id}/groups/{}", group.id),
                    Some(&json!({})),
                )
                .await?;
            }
        }
        let everyone = if limited {
            Some(self.find_group(None).await?.id)
        } else {
            None
        };
        let mut others = Vec::new();
        for other in assigned.iter().filter(|a| a["id"] != group.id.as_str()) {
            let other = id_of(other, "a group assignment")?;
            if everyone.as_deref() != Some(other.as_str()) {
                others.push(other);
                continue;
            }
            actions.push(format!(
                "unassign app {app_id} from Everyone (it is limited to {})",
                group.name
            ));
            if !dry_run {
                let url = self.url(&format!("/api/v1/apps/{app_id}/groups/{other}"));
                self.send(Method::DELETE, &url, None).await?;
            }
        }
        Ok(others)
    }

    /// The issuer of the org authorization server: the org URL.
    fn issuer_setting(&self) -> AppSetting {
        AppSetting {
            name: "AUTH_OKTA_ISSUER",
            value: self.url(""),
            secret: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AppRequest {
        AppRequest {
            app_url: "https://quotes.example.com".to_owned(),
            label: "idsync okta".to_owned(),
            group: None,
        }
    }

    #[test]
    fn the_app_created_needs_no_fixing() {
        let mut app = definition(&request());
        app["id"] = json!("0oa1");
        let (what, _) = differences(&app, &request());
        assert!(what.is_empty(), "{what:?}");
    }

    #[test]
    fn what_differs_is_named_and_put_right() {
        let mut app = definition(&request());
        app["settings"]["oauthClient"]["redirect_uris"] =
            json!(["http://localhost:3000/api/auth/callback/okta"]);
        app["settings"]["oauthClient"]["grant_types"] = json!(["implicit"]);
        app["credentials"]["oauthClient"]["token_endpoint_auth_method"] = json!("none");
        let (what, fixed) = differences(&app, &request());
        assert_eq!(
            what,
            [
                "sign-in redirect URIs",
                "grant types",
                "client authentication"
            ]
        );
        assert_eq!(
            fixed["settings"]["oauthClient"]["redirect_uris"],
            json!(["https://quotes.example.com/api/auth/callback/okta"])
        );
        assert_eq!(
            fixed["settings"]["oauthClient"]["grant_types"],
            json!(["implicit", "authorization_code"])
        );
        assert!(differences(&fixed, &request()).0.is_empty());
    }

    #[test]
    fn a_secret_setting_is_redacted_in_debug() {
        let setting = AppSetting {
            name: "AUTH_OKTA_SECRET",
            value: "s3cr3t-value-xyz".to_owned(),
            secret: true,
        };
        assert_eq!(format!("{setting:?}"), "AUTH_OKTA_SECRET=[redacted]");
    }
}
