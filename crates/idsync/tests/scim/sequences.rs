//! The request sequences Okta and Entra ID send, from their documentation
//! (`sequences/*.json`, sources in `sequences/README.md`), and a player
//! that sends them to a SCIM base URL and checks each answer against what
//! the documentation shows.
//!
//! A step's `path` and `body` may name values an earlier step captured, as
//! `{user_id}`: a step with `"capture": "user_id"` binds the `id` of its
//! answer.

use std::collections::HashMap;
use std::path::Path;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

/// One request and what its answer must hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step is, as the documentation names it.
    pub step: String,
    pub method: String,
    /// Relative to the SCIM base URL, percent-encoded.
    pub path: String,
    pub body: Option<Value>,
    /// The statuses the documentation accepts.
    pub expected_status: Vec<u16>,
    /// Binds the answer's `id` to this name.
    #[serde(default)]
    pub capture: Option<String>,
    /// What an answer with a body must contain: objects key by key (other
    /// keys allowed), arrays item by item with the same length, other
    /// values equal.
    #[serde(default)]
    pub expected_body: Option<Value>,
    /// Top-level attributes an answer with a body must not have.
    #[serde(default)]
    pub expected_absent: Vec<String>,
}

/// The steps of `sequences/{name}.json`.
pub fn load(name: &str) -> Vec<Step> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scim/sequences")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Values captured so far, by name.
pub type Captures = HashMap<String, String>;

/// Sends every step in order; panics at the first answer that differs from
/// what the step expects, naming the step. Returns what was captured.
pub async fn replay(base_url: &str, token: &str, steps: &[Step]) -> Captures {
    let http = reqwest::Client::new();
    let mut captures = Captures::new();
    for step in steps {
        send(&http, base_url, token, step, &mut captures).await;
    }
    captures
}

/// Sends one step and checks its answer; returns the answer's body, if any.
pub async fn send(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
    step: &Step,
    captures: &mut Captures,
) -> Option<Value> {
    let method = Method::from_bytes(step.method.as_bytes()).unwrap();
    let url = format!(
        "{}{}",
        base_url.trim_end_matches('/'),
        fill(&step.path, captures)
    );
    let mut request = http.request(method, &url).bearer_auth(token);
    if let Some(body) = &step.body {
        request = request
            .header("content-type", "application/scim+json")
            .body(fill_value(body, captures).to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let what = format!("{} {url} ({})", step.method, step.step);
    assert!(
        step.expected_status.contains(&status),
        "{what}: status {status}, expected {:?}: {text}",
        step.expected_status
    );
    if text.is_empty() {
        return None;
    }
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{what}: the answer is not JSON ({e}): {text}"));
    if let Some(expected) = &step.expected_body
        && let Err(problem) = contains(&body, &fill_value(expected, captures), "body")
    {
        panic!("{what}: {problem}\nanswer: {body:#}");
    }
    for key in &step.expected_absent {
        assert!(
            body.get(key).is_none(),
            "{what}: `{key}` is present: {body:#}"
        );
    }
    if let Some(name) = &step.capture {
        let id = body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no id to capture as {name}: {body:#}"));
        captures.insert(name.clone(), id.to_owned());
    }
    Some(body)
}

fn fill(text: &str, captures: &Captures) -> String {
    captures
        .iter()
        .fold(text.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}

fn fill_value(value: &Value, captures: &Captures) -> Value {
    match value {
        Value::String(s) => Value::String(fill(s, captures)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_value(v, captures)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (fill(k, captures), fill_value(v, captures)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether `actual` contains `expected` as [`Step::expected_body`] says.
fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(want), Value::Object(have)) => want.iter().try_for_each(|(key, want)| {
            let at = format!("{at}.{key}");
            let have = have.get(key).ok_or_else(|| format!("{at} is missing"))?;
            contains(have, want, &at)
        }),
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => want
            .iter()
            .zip(have)
            .enumerate()
            .try_for_each(|(i, (want, have))| contains(have, want, &format!("{at}[{i}]"))),
        (want, have) if want == have => Ok(()),
        (want, have) => Err(format!("{at} is {have}, expected {want}")),
    }
}
