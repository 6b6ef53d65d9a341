//! `idsync create-app <connection> --app-url URL`: the app integration an
//! application signs its users in with, created or brought up to date
//! through the provider's API (Okta: an OIDC web app), and the settings
//! the application needs, as `NAME=value` lines on stdout (what was done
//! goes to stderr), so the output can be appended to an `.env` file.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use idsync_providers::{AppRequest, Provider, SignInApp};
use reqwest::Url;

use crate::config::Config;
use crate::runtime;

/// Checks the command's arguments: the URL must be an absolute http(s)
/// URL without query or fragment; its trailing `/` is dropped.
pub fn request(
    connection: &str,
    app_url: &str,
    group: Option<String>,
    label: Option<String>,
) -> Result<AppRequest> {
    let url = Url::parse(app_url).with_context(|| format!("--app-url {app_url:?} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("--app-url {app_url:?} must be an http:// or https:// URL");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("--app-url {app_url:?} must not have a query or fragment");
    }
    let label = label.unwrap_or_else(|| format!("idsync {connection}"));
    if label.trim().is_empty() {
        bail!("--label must not be empty");
    }
    if group.as_deref().is_some_and(|g| g.trim().is_empty()) {
        bail!("--group must not be empty");
    }
    Ok(AppRequest {
        app_url: url.as_str().trim_end_matches('/').to_owned(),
        label,
        group,
    })
}

pub async fn run(
    config: &Config,
    name: &str,
    request: &AppRequest,
    dry_run: bool,
) -> Result<ExitCode> {
    let connection = runtime::select(config, Some(name))?
        .into_iter()
        .next()
        .context("no such connection")?;
    let app = create(&connection.provider, name, request, dry_run).await?;
    for line in env_lines(&app) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Creates the app; says on stderr what was (or would be) done.
pub async fn create(
    provider: &Provider,
    name: &str,
    request: &AppRequest,
    dry_run: bool,
) -> Result<SignInApp> {
    let info = provider.info();
    let Some(result) = provider.create_app(request, dry_run).await else {
        bail!(
            "{}'s API cannot create sign-in apps; create one in the {} ({})",
            info.display_name,
            info.console_name,
            info.console_url
        );
    };
    let app =
        result.with_context(|| format!("could not set up {}'s sign-in app", info.display_name))?;
    let verb = if dry_run { "would" } else { "did" };
    if app.actions.is_empty() {
        eprintln!("{name}: the sign-in app is already in place; nothing to change.");
    }
    for action in &app.actions {
        eprintln!("{name}: {verb} {action}");
    }
    eprintln!("{name}: {}", app.state);
    Ok(app)
}

/// `NAME=value` per setting, the value single-quoted when a shell or an
/// `.env` reader would otherwise change it.
pub fn env_lines(app: &SignInApp) -> Vec<String> {
    app.settings
        .iter()
        .map(|s| {
            let plain = s
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+,~".contains(c));
            if plain {
                format!("{}={}", s.name, s.value)
            } else {
                format!("{}='{}'", s.name, s.value.replace('\'', r"'\''"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use idsync_providers::AppSetting;

    #[test]
    fn the_app_url_is_checked_and_trimmed() {
        let r = request("okta", "http://localhost:3000/", None, None).unwrap();
        assert_eq!(r.app_url, "http://localhost:3000");
        assert_eq!(r.label, "idsync okta");
        for bad in [
            "localhost:3000",
            "ftp://x.example",
            "https://x.example/?a=1",
            "nope",
        ] {
            assert!(request("okta", bad, None, None).is_err(), "{bad}");
        }
        assert!(request("okta", "https://x.example", Some(" ".into()), None).is_err());
    }

    #[test]
    fn settings_print_as_env_lines() {
        let app = SignInApp {
            actions: Vec::new(),
            state: String::new(),
            settings: vec![
                AppSetting {
                    name: "AUTH_OKTA_ISSUER",
                    value: "https://dev-1.okta.com".into(),
                    secret: false,
                },
                AppSetting {
                    name: "AUTH_OKTA_SECRET",
                    value: "it's $ecret".into(),
                    secret: true,
                },
            ],
        };
        assert_eq!(
            env_lines(&app),
            [
                "AUTH_OKTA_ISSUER=https://dev-1.okta.com",
                r"AUTH_OKTA_SECRET='it'\''s $ecret'"
            ]
        );
    }
}
