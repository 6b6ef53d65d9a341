//! `attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5): which
//! attributes an answer holds. `id` and `schemas` are always returned.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{AttrPath, attr_path};
use super::schema::ResourceType;

/// What a request asked to see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Projection {
    #[default]
    Default,
    Only(Vec<AttrPath>),
    Except(Vec<AttrPath>),
}

impl Projection {
    pub fn parse(
        rt: &ResourceType,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let known = rt.urns();
        let list = |raw: &str| -> Result<Vec<AttrPath>, ScimError> {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|p| attr_path(p, &known))
                .collect()
        };
        match (attributes, excluded) {
            (Some(a), _) if !a.trim().is_empty() => Ok(Self::Only(list(a)?)),
            (_, Some(e)) if !e.trim().is_empty() => Ok(Self::Except(list(e)?)),
            _ => Ok(Self::Default),
        }
    }

    pub fn apply(&self, rt: &ResourceType, resource: Value) -> Value {
        let Value::Object(object) = resource else {
            return resource;
        };
        let core = rt.core.id;
        let mut out = Map::new();
        for (key, value) in object {
            if key == "id" || key == "schemas" {
                out.insert(key, value);
                continue;
            }
            let extension = rt.extension(&key);
            let kept = match (self, extension, value) {
                (Self::Default, _, v) => Some(v),
                (_, Some(ext), Value::Object(inner)) => {
                    let mut kept = Map::new();
                    for (k, v) in inner {
                        let matching = |p: &&AttrPath| {
                            p.urn
                                .as_deref()
                                .is_some_and(|u| u.eq_ignore_ascii_case(ext.id))
                                && p.attr.as_deref().is_none_or(|a| a.eq_ignore_ascii_case(&k))
                        };
                        if let Some(v) = self.select(matching, v) {
                            kept.insert(k, v);
                        }
                    }
                    (!kept.is_empty()).then_some(Value::Object(kept))
                }
                (_, _, v) => {
                    let matching = |p: &&AttrPath| {
                        p.urn
                            .as_deref()
                            .is_none_or(|u| u.eq_ignore_ascii_case(core))
                            && p.attr
                                .as_deref()
                                .is_some_and(|a| a.eq_ignore_ascii_case(&key))
                    };
                    self.select(matching, v)
                }
            };
            if let Some(v) = kept {
                out.insert(key, v);
            }
        }
        Value::Object(out)
    }

    /// The part of `value` to answer, given the paths naming its attribute.
    fn select(&self, matching: impl Fn(&&AttrPath) -> bool, value: Value) -> Option<Value> {
        match self {
            Self::Default => Some(value),
            Self::Only(paths) => {
                let named: Vec<&AttrPath> = paths.iter().filter(|p| matching(p)).collect();
                if named.is_empty() {
                    return None;
                }
                if named.iter().any(|p| p.sub.is_none()) {
                    return Some(value);
                }
                let subs: Vec<&str> = named.iter().filter_map(|p| p.sub.as_deref()).collect();
                Some(keep_subs(value, |k| {
                    subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                }))
            }
            Self::Except(paths) => {
                let named: Vec<&AttrPath> = paths.iter().filter(|p| matching(p)).collect();
                if named.iter().any(|p| p.sub.is_none()) {
                    return None;
                }
                let subs: Vec<&str> = named.iter().filter_map(|p| p.sub.as_deref()).collect();
                Some(keep_subs(value, |k| {
                    !subs.iter().any(|s| s.eq_ignore_ascii_case(k))
                }))
            }
        }
    }
}

/// `value`'s sub-attributes (of an object, or of each item of a list) for
/// which `keep` holds.
fn keep_subs(value: Value, keep: impl Fn(&str) -> bool + Copy) -> Value {
    match value {
        Value::Object(o) => Value::Object(o.into_iter().filter(|(k, _)| keep(k)).collect()),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|i| keep_subs(i, keep)).collect())
        }
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE, GROUP_TYPE, USER_TYPE};
    use serde_json::json;

    fn user() -> Value {
        json!({"id":"u1","schemas":["s"],"userName":"a","name":{"givenName":"A","familyName":"B"},
               "emails":[{"value":"a@x","type":"work"}],"meta":{"resourceType":"User"},
               ENTERPRISE:{"department":"Eng","employeeNumber":"7"}})
    }

    #[test]
    fn attributes_keep_only_what_is_named() {
        let p = Projection::parse(
            &USER_TYPE,
            Some("userName,name.givenName,emails.value"),
            None,
        )
        .unwrap();
        assert_eq!(
            p.apply(&USER_TYPE, user()),
            json!({"id":"u1","schemas":["s"],"userName":"a","name":{"givenName":"A"},"emails":[{"value":"a@x"}]})
        );
        let p =
            Projection::parse(&USER_TYPE, Some(&format!("{ENTERPRISE}:department")), None).unwrap();
        assert_eq!(
            p.apply(&USER_TYPE, user()),
            json!({"id":"u1","schemas":["s"],ENTERPRISE:{"department":"Eng"}})
        );
    }

    #[test]
    fn excluded_attributes_drop_what_is_named() {
        let p = Projection::parse(&USER_TYPE, None, Some("emails, name.familyName,meta")).unwrap();
        assert_eq!(
            p.apply(&USER_TYPE, user()),
            json!({"id":"u1","schemas":["s"],"userName":"a","name":{"givenName":"A"},
                   ENTERPRISE:{"department":"Eng","employeeNumber":"7"}})
        );
        let p = Projection::parse(&GROUP_TYPE, None, Some("members")).unwrap();
        assert_eq!(
            p.apply(
                &GROUP_TYPE,
                json!({"id":"g","displayName":"G","members":[{"value":"u"}]})
            ),
            json!({"id":"g","displayName":"G"})
        );
        let p = Projection::parse(&USER_TYPE, None, Some("id")).unwrap();
        assert_eq!(
            p.apply(&USER_TYPE, json!({"id":"u1"})),
            json!({"id":"u1"}),
            "id is always returned"
        );
    }
}
