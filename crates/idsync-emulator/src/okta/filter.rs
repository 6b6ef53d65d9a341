//! The `filter` and `search` expressions of Okta's lists (users, groups,
//! apps), the part the emulator supports: comparisons `attribute op
//! "value"` joined by `and` and `or` (`and` binding tighter), no
//! parentheses.
//!
//! Each list names its [`Attributes`]: text ones (with `eq`, and `sw` for
//! starts with) and times (with `eq`, `gt`, `ge`, `lt`, `le` against an
//! RFC 3339 time). Anything else is refused as Okta refuses criteria it
//! cannot search.

use serde_json::Value;

use super::user::parse_iso;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Sw,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug)]
enum Comparison {
    Text {
        pointer: String,
        op: Op,
        value: String,
    },
    Time {
        pointer: String,
        op: Op,
        ms: i64,
    },
}

/// The attributes a list can be filtered on, as dotted paths.
#[derive(Debug)]
pub(super) struct Attributes {
    pub text: &'static [&'static str],
    pub times: &'static [&'static str],
}

/// Users: `GET /api/v1/users`.
pub(super) const USERS: Attributes = Attributes {
    text: &[
        "status",
        "id",
        "profile.login",
        "profile.email",
        "profile.firstName",
        "profile.lastName",
    ],
    times: &["lastUpdated", "created"],
};

fn pointer(attr: &str) -> String {
    format!("/{}", attr.replace('.', "/"))
}

/// A parsed expression: any of its `and`-groups matches.
#[derive(Debug)]
pub(super) struct Filter(Vec<Vec<Comparison>>);

/// Words, with `"…"` one word (without its quotes; `\"` escapes a quote).
fn words(text: &str) -> Option<Vec<(String, bool)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    other => word.push(other),
                }
            }
            out.push((word, true));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                word.push(c);
                chars.next();
            }
            out.push((word, false));
        }
    }
    Some(out)
}

impl Filter {
    /// `None` when the expression is outside what the emulator supports.
    pub(super) fn parse(text: &str, attributes: &Attributes) -> Option<Self> {
        let words = words(text)?;
        let mut groups = vec![Vec::new()];
        let mut rest = words.as_slice();
        loop {
            let [(attr, false), (op, false), (value, true), tail @ ..] = rest else {
                return None;
            };
            let op = match op.as_str() {
                "eq" => Op::Eq,
                "sw" => Op::Sw,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                "le" => Op::Le,
                _ => return None,
            };
            let comparison = if attributes.times.contains(&attr.as_str()) {
                Comparison::Time {
                    pointer: pointer(attr),
                    op: (op != Op::Sw).then_some(op)?,
                    ms: parse_iso(value)?,
                }
            } else if attributes.text.contains(&attr.as_str()) {
                Comparison::Text {
                    pointer: pointer(attr),
                    op: matches!(op, Op::Eq | Op::Sw).then_some(op)?,
                    value: value.clone(),
                }
            } else {
                return None;
            };
            groups.last_mut()?.push(comparison);
            match tail {
                [] => return Some(Self(groups)),
                [(joint, false), more @ ..] if joint == "and" => rest = more,
                [(joint, false), more @ ..] if joint == "or" => {
                    groups.push(Vec::new());
                    rest = more;
                }
                _ => return None,
            }
        }
    }

    pub(super) fn matches(&self, user: &Value) -> bool {
        self.0
            .iter()
            .any(|group| group.iter().all(|c| c.matches(user)))
    }
}

impl Comparison {
    fn matches(&self, user: &Value) -> bool {
        match self {
            Self::Text { pointer, op, value } => {
                let Some(actual) = user.pointer(pointer).and_then(Value::as_str) else {
                    return false;
                };
                match op {
                    Op::Sw => actual.to_lowercase().starts_with(&value.to_lowercase()),
                    _ => actual.eq_ignore_ascii_case(value),
                }
            }
            Self::Time { pointer, op, ms } => {
                let Some(actual) = user
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .and_then(parse_iso)
                else {
                    return false;
                };
                match op {
                    Op::Gt => actual > *ms,
                    Op::Ge => actual >= *ms,
                    Op::Lt => actual < *ms,
                    Op::Le => actual <= *ms,
                    Op::Eq | Op::Sw => actual == *ms,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_matches_the_supported_expressions() {
        let user = json!({
            "id": "00u1", "status": "DEPROVISIONED",
            "lastUpdated": "2024-01-02T00:00:00.000Z",
            "profile": {"login": "Zoe@example.com", "firstName": "Zoë"}
        });
        let matches = |text: &str| Filter::parse(text, &USERS).unwrap().matches(&user);
        assert!(matches(r#"status eq "DEPROVISIONED""#));
        assert!(!matches(r#"status eq "ACTIVE""#));
        assert!(matches(r#"lastUpdated gt "2024-01-01T00:00:00.000Z""#));
        assert!(!matches(r#"lastUpdated gt "2024-01-02T00:00:00.000Z""#));
        assert!(matches(r#"lastUpdated ge "2024-01-02T00:00:00Z""#));
        assert!(matches(
            r#"status eq "ACTIVE" or status eq "DEPROVISIONED" and profile.login sw "zoe""#
        ));
        assert!(!matches(r#"status eq "DEPROVISIONED" and id eq "00u2""#));
        for bad in [
            "",
            "status",
            r#"status gt "ACTIVE""#,
            r#"lastUpdated gt "yesterday""#,
            r#"profile.city eq "Oslo""#,
            r#"status eq "ACTIVE" nor id eq "x""#,
            r#"status eq "ACTIVE"#,
        ] {
            assert!(Filter::parse(bad, &USERS).is_none(), "{bad}");
        }
    }
}
