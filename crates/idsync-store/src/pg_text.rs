//! Postgres `text` and `jsonb` cannot hold U+0000, which JSON allows and a
//! user can type into a profile field. Such characters are replaced with
//! U+FFFD before binding, so one user's profile cannot fail every batch it
//! lands in (and every retry of those batches).

use serde_json::Value;

const NUL: char = '\0';
const REPLACEMENT: &str = "\u{FFFD}";

pub(crate) fn text(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| {
        if s.contains(NUL) {
            s.replace(NUL, REPLACEMENT)
        } else {
            s.clone()
        }
    })
}

pub(crate) fn json(v: &Value) -> Value {
    let mut v = v.clone();
    if has_nul(&v) {
        scrub(&mut v);
    }
    v
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(NUL),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains(NUL) || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

fn scrub(v: &mut Value) {
    match v {
        Value::String(s) => {
            if s.contains(NUL) {
                *s = s.replace(NUL, REPLACEMENT);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    scrub(&mut v);
                    (k.replace(NUL, REPLACEMENT), v)
                })
                .collect();
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn nul_is_replaced_in_strings_keys_and_nested_values() {
        let v = json!({"name": "A\u{0}B", "k\u{0}": [1, {"x": "\u{0}"}], "ok": true});
        assert_eq!(
            super::json(&v),
            json!({"name": "A\u{FFFD}B", "k\u{FFFD}": [1, {"x": "\u{FFFD}"}], "ok": true})
        );
        assert_eq!(
            super::text(&Some("a\u{0}".into())),
            Some("a\u{FFFD}".into())
        );
        assert_eq!(super::text(&None), None);
    }

    #[test]
    fn clean_values_are_unchanged() {
        let v = json!({"name": "Ada Lovelace", "emails": ["ada@example.com"]});
        assert_eq!(super::json(&v), v);
    }
}
