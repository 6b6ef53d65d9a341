//! A connection's provider-specific configuration keys, read by the
//! provider module itself. Every problem is collected (not only the first),
//! each prefixed with where it is, e.g. `connections[0] (main).api_url`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use idsync_core::Secret;

use crate::provider::ProviderInfo;

/// The keys of one connection that idsync itself does not take.
pub struct Keys<'a> {
    at: &'a str,
    values: BTreeMap<String, String>,
    read: BTreeSet<String>,
    problems: &'a mut Vec<String>,
}

impl<'a> Keys<'a> {
    /// `at` names the connection in messages; `values` are its keys, as
    /// strings.
    pub fn new(
        at: &'a str,
        values: BTreeMap<String, String>,
        problems: &'a mut Vec<String>,
    ) -> Self {
        Self {
            at,
            values,
            read: BTreeSet::new(),
            problems,
        }
    }

    /// Records a problem with `key`.
    pub fn problem(&mut self, key: &str, message: impl std::fmt::Display) {
        self.problems.push(format!("{}.{key}: {message}", self.at));
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.read.insert(key.to_owned());
        self.values.get(key).cloned()
    }

    /// A key that may be absent; given but blank is a problem.
    pub fn optional(&mut self, key: &str) -> Option<String> {
        let value = self.take(key)?;
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.problem(key, "is empty");
            return None;
        }
        Some(trimmed.to_owned())
    }

    /// A key that must be given; `what` says what it is.
    pub fn required(&mut self, key: &str, what: &str) -> Option<String> {
        let present = self.values.contains_key(key);
        let value = self.optional(key);
        if !present {
            self.problem(key, format!("missing ({what})"));
        }
        value
    }

    /// An http(s) URL, `default` when absent.
    pub fn url(&mut self, key: &str, default: &str) -> Option<String> {
        let url = self.optional(key).unwrap_or_else(|| default.to_owned());
        if url.starts_with("http://") || url.starts_with("https://") {
            Some(url.trim_end_matches('/').to_owned())
        } else {
            self.problem(key, format!("{url:?} is not an http(s) URL"));
            None
        }
    }

    /// A required https URL; plain http only for a loopback host (a local
    /// emulator), since credentials travel to it.
    pub fn secure_url(&mut self, key: &str) -> Option<String> {
        let raw = self.required(key, "an https URL")?;
        match reqwest::Url::parse(&raw) {
            Ok(url) if url.scheme() == "https" && url.host().is_some() => {
                Some(raw.trim_end_matches('/').to_owned())
            }
            Ok(url) if url.scheme() == "http" && is_loopback(&url) => {
                Some(raw.trim_end_matches('/').to_owned())
            }
            Ok(url) if url.scheme() == "http" => {
                self.problem(
                    key,
                    format!("{raw:?} uses plain http; use https (http is accepted only for loopback hosts)"),
                );
                None
            }
            _ => {
                self.problem(key, format!("{raw:?} is not an https URL"));
                None
            }
        }
    }

    /// A required secret, given as `key` or as `<key>_file`.
    pub fn secret(&mut self, key: &str) -> Option<Secret> {
        let inline = self.take(key);
        let file = self.take(&format!("{key}_file")).map(PathBuf::from);
        read_secret(self.at, key, inline, file, self.problems)
    }

    /// Reports the keys nobody read, naming the keys `provider` takes.
    pub fn finish(self, provider: &ProviderInfo) {
        let unknown: Vec<&String> = self
            .values
            .keys()
            .filter(|k| !self.read.contains(*k))
            .collect();
        for key in unknown {
            let takes: Vec<&str> = provider.keys.iter().map(|k| k.name).collect();
            self.problems.push(format!(
                "{}.{key}: not a key of {} connections (they take: {})",
                self.at,
                provider.display_name,
                takes.join(", ")
            ));
        }
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads a secret from its key or its `_file` key (a path whose trimmed
/// content is the secret). Exactly one of them must be given.
pub fn read_secret(
    at: &str,
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
    problems: &mut Vec<String>,
) -> Option<Secret> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{at}.{key}: give either {key} or {key}_file, not both"
            ));
            None
        }
        (Some(v), None) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
        (Some(_), None) => {
            problems.push(format!("{at}.{key}: is empty"));
            None
        }
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim())),
            Ok(_) => {
                problems.push(format!("{at}.{key}_file: {} is empty", path.display()));
                None
            }
            Err(e) => {
                problems.push(format!(
                    "{at}.{key}_file: cannot read {}: {e}",
                    path.display()
                ));
                None
            }
        },
        (None, None) => {
            problems.push(format!("{at}.{key}: missing (set {key} or {key}_file)"));
            None
        }
    }
}
