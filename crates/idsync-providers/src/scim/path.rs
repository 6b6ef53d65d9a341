//! Attribute paths and the filter grammar idsync accepts (RFC 7644 §3.4.2.2
//! and §3.5.2): equality comparisons joined by `and`, in list filters and
//! in PATCH value paths such as `emails[type eq "work"].value`.

use serde_json::Value;

use super::error::ScimError;

/// `[urn:]attr[.sub]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN when the path named one.
    pub urn: Option<String>,
    /// `None` when the path is only a schema URN (the whole extension).
    pub attr: Option<String>,
    pub sub: Option<String>,
}

/// `attr op value`, with `op` `eq`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub path: AttrPath,
    pub value: Value,
}

/// A PATCH path: an attribute path, optionally narrowed by a value filter
/// and followed by a sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// The comparisons in `[...]`, all of which must hold.
    pub filter: Option<Vec<Comparison>>,
    /// The sub-attribute after `]`.
    pub filter_sub: Option<String>,
}

/// Splits `raw` at its URN, if it has one. `known` are the schema URNs of
/// the resource type, so a bare URN is recognised as the whole schema.
pub fn attr_path(raw: &str, known: &[&str]) -> Result<AttrPath, ScimError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ScimError::invalid_path("empty attribute path"));
    }
    if let Some(urn) = known.iter().find(|u| u.eq_ignore_ascii_case(raw)) {
        return Ok(AttrPath {
            urn: Some((*urn).to_owned()),
            attr: None,
            sub: None,
        });
    }
    let (urn, rest) = if raw.len() > 4 && raw[..4].eq_ignore_ascii_case("urn:") {
        // The URN is the longest known one the path starts with, else
        // everything up to the last colon.
        let known_prefix = known.iter().find(|u| {
            raw.len() > u.len()
                && raw[..u.len()].eq_ignore_ascii_case(u)
                && raw.as_bytes()[u.len()] == b':'
        });
        match known_prefix {
            Some(u) => (Some((*u).to_owned()), &raw[u.len() + 1..]),
            None => match raw.rsplit_once(':') {
                Some((u, rest)) => (Some(u.to_owned()), rest),
                None => (None, raw),
            },
        }
    } else {
        (None, raw)
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    let valid = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
        return Err(ScimError::invalid_path(format!(
            "{raw:?} is not an attribute path"
        )));
    }
    Ok(AttrPath {
        urn,
        attr: Some(attr.to_owned()),
        sub: sub.map(str::to_owned),
    })
}

/// Parses `attr op value (and attr op value)*`, the only filters idsync
/// serves. Anything else is `invalidFilter`.
pub fn filter(raw: &str, known: &[&str]) -> Result<Vec<Comparison>, ScimError> {
    let tokens = tokenize(raw)?;
    let mut out = Vec::new();
    let mut rest = tokens.as_slice();
    loop {
        let [path, op, value, tail @ ..] = rest else {
            return Err(ScimError::invalid_filter(format!(
                "{raw:?}: expected `attribute eq \"value\"`"
            )));
        };
        let (Token::Word(path), Token::Word(op)) = (path, op) else {
            return Err(ScimError::invalid_filter(format!(
                "{raw:?}: expected `attribute eq \"value\"`"
            )));
        };
        if !op.eq_ignore_ascii_case("eq") {
            return Err(ScimError::invalid_filter(format!(
                "operator {op:?} is not supported; only `eq` and `and` are"
            )));
        }
        let value = match value {
            Token::Str(s) => Value::String(s.clone()),
            Token::Word(w) => literal(w).ok_or_else(|| {
                ScimError::invalid_filter(format!("{w:?} is not a value (quote strings)"))
            })?,
        };
        let path = attr_path(path, known).map_err(|e| ScimError::invalid_filter(e.detail))?;
        out.push(Comparison { path, value });
        match tail {
            [] => return Ok(out),
            [Token::Word(and), more @ ..] if and.eq_ignore_ascii_case("and") => rest = more,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "{raw:?}: only `and` may join comparisons"
                )));
            }
        }
    }
}

/// A PATCH operation's `path`.
pub fn patch_path(raw: &str, known: &[&str]) -> Result<PatchPath, ScimError> {
    let raw = raw.trim();
    let Some(open) = raw.find('[') else {
        return Ok(PatchPath {
            attr: attr_path(raw, known)?,
            filter: None,
            filter_sub: None,
        });
    };
    let close = closing_bracket(raw, open)
        .ok_or_else(|| ScimError::invalid_path(format!("{raw:?}: unclosed `[`")))?;
    let attr = attr_path(&raw[..open], known)?;
    if attr.sub.is_some() || attr.attr.is_none() {
        return Err(ScimError::invalid_path(format!(
            "{raw:?}: a value filter follows a multi-valued attribute"
        )));
    }
    let inner = filter(&raw[open + 1..close], &[])?;
    let after = &raw[close + 1..];
    let filter_sub = match after.strip_prefix('.') {
        Some(sub)
            if !sub.is_empty() && sub.chars().all(|c| c.is_ascii_alphanumeric() || c == '$') =>
        {
            Some(sub.to_owned())
        }
        None if after.is_empty() => None,
        _ => {
            return Err(ScimError::invalid_path(format!(
                "{raw:?}: unexpected {after:?} after the filter"
            )));
        }
    };
    Ok(PatchPath {
        attr,
        filter: Some(inner),
        filter_sub,
    })
}

fn closing_bracket(raw: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in raw.char_indices().skip_while(|(i, _)| *i <= open) {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => return Some(i),
            _ => {}
        }
    }
    None
}

fn literal(word: &str) -> Option<Value> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "null" => Some(Value::Null),
        _ => serde_json::from_str::<serde_json::Number>(word)
            .ok()
            .map(Value::Number),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
}

fn tokenize(raw: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = raw.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            // A JSON string, escapes included.
            let mut end = None;
            let mut escaped = false;
            chars.next();
            for (i, c) in chars.by_ref() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.ok_or_else(|| {
                ScimError::invalid_filter(format!("{raw:?}: unterminated string"))
            })?;
            let s: String = serde_json::from_str(&raw[start..=end]).map_err(|_| {
                ScimError::invalid_filter(format!("{raw:?}: invalid string {}", &raw[start..=end]))
            })?;
            tokens.push(Token::Str(s));
        } else if c == '(' || c == ')' || c == '[' || c == ']' {
            return Err(ScimError::invalid_filter(format!(
                "{raw:?}: grouping and nested filters are not supported; only `eq` joined by `and`"
            )));
        } else {
            let mut end = raw.len();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    end = i;
                    break;
                }
                chars.next();
            }
            tokens.push(Token::Word(raw[start..end].to_owned()));
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE, USER};
    use serde_json::json;

    const KNOWN: &[&str] = &[USER, ENTERPRISE];

    fn path(attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            urn: None,
            attr: Some(attr.to_owned()),
            sub: sub.map(str::to_owned),
        }
    }

    #[test]
    fn filters_are_eq_joined_by_and() {
        let f = filter(r#"userName eq "test.user@okta.local""#, KNOWN).unwrap();
        assert_eq!(
            f,
            vec![Comparison {
                path: path("userName", None),
                value: json!("test.user@okta.local")
            }]
        );
        let f = filter(
            r#"userName EQ "a b" And emails.value eq "x\"y@example.com""#,
            KNOWN,
        )
        .unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].value, json!("a b"));
        assert_eq!(f[1].path, path("emails", Some("value")));
        assert_eq!(f[1].value, json!("x\"y@example.com"));
        let f = filter(&format!(r#"{USER}:userName eq "u""#), KNOWN).unwrap();
        assert_eq!(f[0].path.urn.as_deref(), Some(USER));
        assert_eq!(f[0].path.attr.as_deref(), Some("userName"));
    }

    #[test]
    fn other_filters_are_invalid() {
        for bad in [
            r#"userName ne "a""#,
            r#"userName co "a""#,
            r#"userName pr"#,
            r#"userName eq "a" or userName eq "b""#,
            r#"(userName eq "a")"#,
            r#"emails[type eq "work"]"#,
            r#"userName eq "unterminated"#,
            r#"userName eq bare"#,
            "",
            r#"userName eq "a" and"#,
        ] {
            let e = filter(bad, KNOWN).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
            assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn patch_paths() {
        let p = patch_path(r#"emails[type eq "work"].value"#, KNOWN).unwrap();
        assert_eq!(p.attr, path("emails", None));
        assert_eq!(p.filter_sub.as_deref(), Some("value"));
        assert_eq!(p.filter.unwrap()[0].value, json!("work"));

        let p = patch_path(
            r#"members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]"#,
            KNOWN,
        )
        .unwrap();
        assert_eq!(p.attr, path("members", None));
        assert_eq!(p.filter_sub, None);

        let p = patch_path(&format!("{ENTERPRISE}:manager.value"), KNOWN).unwrap();
        assert_eq!(p.attr.urn.as_deref(), Some(ENTERPRISE));
        assert_eq!(p.attr.attr.as_deref(), Some("manager"));
        assert_eq!(p.attr.sub.as_deref(), Some("value"));

        let p = patch_path(ENTERPRISE, KNOWN).unwrap();
        assert_eq!(p.attr.attr, None);

        let p = patch_path("name.familyName", KNOWN).unwrap();
        assert_eq!(p.attr, path("name", Some("familyName")));

        for bad in [
            "",
            "a b",
            "emails[type eq \"work\"",
            "emails[type eq \"w\"]x",
        ] {
            assert!(patch_path(bad, KNOWN).is_err(), "{bad}");
        }
    }
}
