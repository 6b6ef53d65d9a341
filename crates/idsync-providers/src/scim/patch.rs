//! PATCH (RFC 7644 §3.5.2) on a resource's JSON, in the forms Okta and
//! Entra ID send: `add`/`replace`/`remove` in any case, with or without
//! `path`, value-filter paths (`emails[type eq "work"].value`,
//! `members[value eq "…"]`), dotted and URN-qualified keys in a path-less
//! `value`, and Entra's removal of members listed in `value`. The result is
//! normalised again by the caller, which also reads Entra's string
//! booleans.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::path::{self, AttrPath, Comparison, PatchPath};
use super::schema::{self, Attr, EXTERNAL_ID, ResourceType, Schema, Type};

pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Applies the request's operations, in order, to `resource`.
pub fn apply(
    rt: &ResourceType,
    resource: &mut Map<String, Value>,
    body: &Value,
) -> Result<(), ScimError> {
    let Some(object) = body.as_object() else {
        return Err(ScimError::invalid_syntax(format!(
            "a PATCH body is a {PATCH_OP} object"
        )));
    };
    let operations = object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::invalid_syntax("a PatchOp needs an Operations list"))?;
    let known = rt.urns();
    for operation in operations {
        let field = |name: &str| {
            operation
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v)
        };
        let op = match field("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        {
            Some(op) if op == "add" => Op::Add,
            Some(op) if op == "replace" => Op::Replace,
            Some(op) if op == "remove" => Op::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(
                    "each operation's op is add, replace or remove",
                ));
            }
        };
        let value = field("value").filter(|v| !v.is_null()).cloned();
        match field("path").and_then(Value::as_str) {
            Some(raw) if !raw.trim().is_empty() => {
                let target = path::patch_path(raw, &known)?;
                at_path(rt, resource, op, &target, value)?;
            }
            _ => without_path(rt, resource, op, value, &known)?,
        }
    }
    sync_schemas(rt, resource);
    Ok(())
}

/// A path-less `add`/`replace`: each key of `value` is an attribute path.
fn without_path(
    rt: &ResourceType,
    resource: &mut Map<String, Value>,
    op: Op,
    value: Option<Value>,
    known: &[&str],
) -> Result<(), ScimError> {
    if op == Op::Remove {
        return Err(ScimError::no_target("remove needs a path"));
    }
    let Some(Value::Object(values)) = value else {
        return Err(ScimError::invalid_value(
            "an operation without a path needs an object value",
        ));
    };
    for (key, v) in values {
        if ["id", "meta", "schemas"]
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&key))
        {
            // Read-only; Okta repeats the group's id when renaming it.
            continue;
        }
        let target = PatchPath {
            attr: path::attr_path(&key, known)?,
            filter: None,
            filter_sub: None,
        };
        at_path(rt, resource, op, &target, Some(v))?;
    }
    Ok(())
}

/// Where a path leads: the object holding the attribute (the resource or
/// an extension's object) and the attribute itself.
struct Resolved {
    extension: Option<&'static Schema>,
    /// `None`: the whole extension object.
    attr: Option<&'static Attr>,
    sub: Option<&'static Attr>,
}

fn resolve(rt: &ResourceType, path: &AttrPath) -> Result<Resolved, ScimError> {
    let shown = || {
        let mut s = path
            .urn
            .clone()
            .map(|u| format!("{u}:"))
            .unwrap_or_default();
        s.push_str(path.attr.as_deref().unwrap_or_default());
        if let Some(sub) = &path.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    };
    let schema = match &path.urn {
        None => rt.core,
        Some(urn) => rt.schema(urn).ok_or_else(|| {
            ScimError::invalid_path(format!("{urn:?} is not a schema of {}", rt.name))
        })?,
    };
    let extension = (!std::ptr::eq(schema, rt.core)).then_some(schema);
    let Some(name) = &path.attr else {
        return match extension {
            Some(_) => Ok(Resolved {
                extension,
                attr: None,
                sub: None,
            }),
            None => Err(ScimError::invalid_path("a path names an attribute")),
        };
    };
    let attr = match schema::find(schema.attrs, name) {
        Some(a) => a,
        None if extension.is_none() && name.eq_ignore_ascii_case("externalId") => &EXTERNAL_ID,
        None if extension.is_none()
            && ["id", "meta", "schemas"]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name)) =>
        {
            return Err(ScimError::bad(
                "mutability",
                format!("{name} cannot be modified"),
            ));
        }
        None => {
            return Err(ScimError::invalid_path(format!(
                "{} is not an attribute of {}",
                shown(),
                rt.name
            )));
        }
    };
    let sub = match &path.sub {
        None => None,
        Some(sub) => Some(schema::find(attr.sub, sub).ok_or_else(|| {
            ScimError::invalid_path(format!("{} is not an attribute of {}", shown(), rt.name))
        })?),
    };
    Ok(Resolved {
        extension,
        attr: Some(attr),
        sub,
    })
}

fn at_path(
    rt: &ResourceType,
    resource: &mut Map<String, Value>,
    op: Op,
    target: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let resolved = resolve(rt, &target.attr)?;
    let container = match resolved.extension {
        None => &mut *resource,
        Some(ext) => object_at(resource, ext.id)?,
    };
    let result = match (resolved.attr, &target.filter) {
        (None, _) => whole_extension(container, resolved.extension, op, value),
        (Some(attr), None) => set(container, attr, resolved.sub, op, value),
        (Some(attr), Some(filter)) => filtered(
            container,
            attr,
            filter,
            target.filter_sub.as_deref(),
            op,
            value,
        ),
    };
    if let Some(ext) = resolved.extension
        && resource
            .get(ext.id)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
    {
        resource.remove(ext.id);
    }
    result
}

fn whole_extension(
    container: &mut Map<String, Value>,
    ext: Option<&'static Schema>,
    op: Op,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let Some(ext) = ext else {
        return Err(ScimError::invalid_path("a path names an attribute"));
    };
    if op == Op::Remove {
        container.clear();
        return Ok(());
    }
    let Some(Value::Object(values)) = value else {
        return Err(ScimError::invalid_value(format!(
            "{} takes an object",
            ext.id
        )));
    };
    for (key, v) in values {
        // An extension object serialised whole may name its own schema.
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let attr = schema::find(ext.attrs, &key).ok_or_else(|| {
            ScimError::invalid_path(format!("{key} is not an attribute of {}", ext.id))
        })?;
        set(container, attr, None, op, Some(v))?;
    }
    Ok(())
}

/// `add`/`replace`/`remove` of `attr` (or its `sub`) in `container`.
fn set(
    container: &mut Map<String, Value>,
    attr: &Attr,
    sub: Option<&Attr>,
    op: Op,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let key = existing_key(container, attr.name);
    if op == Op::Remove {
        match (sub, attr.multi, value) {
            (Some(sub), true, _) => {
                for item in items_mut(container, &key) {
                    remove_key(item, sub.name);
                }
            }
            (Some(sub), false, _) => {
                if let Some(Value::Object(o)) = container.get_mut(&key) {
                    remove_key(o, sub.name);
                }
            }
            // Entra: `{"op":"Remove","path":"members","value":[{"value":"…"}]}`.
            (None, true, Some(v)) => {
                let gone = as_list(v);
                if let Some(Value::Array(items)) = container.get_mut(&key) {
                    items.retain(|item| !gone.iter().any(|g| same_item(item, g)));
                }
            }
            (None, _, _) => {
                container.remove(&key);
            }
        }
        drop_empty(container, &key);
        return Ok(());
    }
    let Some(value) = value else {
        return Err(ScimError::invalid_value(format!(
            "{} needs a value",
            if op == Op::Add { "add" } else { "replace" }
        )));
    };
    match (sub, attr.multi) {
        (Some(sub), true) => {
            for item in items_mut(container, &key) {
                item.insert(existing_key(item, sub.name), value.clone());
            }
        }
        (Some(sub), false) => {
            let o = object_at(container, &key)?;
            o.insert(existing_key(o, sub.name), value);
        }
        (None, true) => {
            let new = as_list(value);
            if op == Op::Replace {
                container.insert(key.clone(), Value::Array(new));
            } else {
                let items = array_at(container, &key)?;
                for v in new {
                    match items.iter_mut().find(|i| same_item(i, &v)) {
                        Some(existing) => merge(existing, v),
                        None => items.push(v),
                    }
                }
            }
        }
        (None, false) if attr.ty == Type::Complex => {
            let Value::Object(values) = value else {
                return Err(ScimError::invalid_value(format!(
                    "{} takes an object",
                    attr.name
                )));
            };
            let o = object_at(container, &key)?;
            for (k, v) in values {
                o.insert(existing_key(o, &k), v);
            }
        }
        (None, false) => {
            container.insert(key.clone(), value);
        }
    }
    drop_empty(container, &key);
    Ok(())
}

/// An operation on the values of `attr` that match `filter`.
fn filtered(
    container: &mut Map<String, Value>,
    attr: &Attr,
    filter: &[Comparison],
    filter_sub: Option<&str>,
    op: Op,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if !attr.multi {
        return Err(ScimError::invalid_path(format!(
            "{} is not multi-valued; a value filter needs a multi-valued attribute",
            attr.name
        )));
    }
    for c in filter {
        let known = c.path.urn.is_none()
            && c.path.sub.is_none()
            && c.path
                .attr
                .as_deref()
                .is_some_and(|a| schema::find(attr.sub, a).is_some());
        if !known {
            return Err(ScimError::invalid_filter(format!(
                "the filter of {} compares an attribute it does not have",
                attr.name
            )));
        }
    }
    let sub = match filter_sub {
        None => None,
        Some(s) => Some(schema::find(attr.sub, s).ok_or_else(|| {
            ScimError::invalid_path(format!("{s} is not an attribute of {}", attr.name))
        })?),
    };
    let key = existing_key(container, attr.name);
    let matches = |item: &Value| filter.iter().all(|c| compares(item, c));
    if op == Op::Remove {
        if let Some(Value::Array(items)) = container.get_mut(&key) {
            match sub {
                None => items.retain(|i| !matches(i)),
                Some(sub) => {
                    for item in items.iter_mut().filter(|i| matches(i)) {
                        if let Value::Object(o) = item {
                            remove_key(o, sub.name);
                        }
                    }
                }
            }
        }
        drop_empty(container, &key);
        return Ok(());
    }
    let Some(value) = value else {
        return Err(ScimError::invalid_value("add and replace need a value"));
    };
    let items = array_at(container, &key)?;
    let mut found = false;
    for item in items.iter_mut().filter(|i| matches(i)) {
        found = true;
        match sub {
            Some(sub) => {
                if let Value::Object(o) = item {
                    o.insert(existing_key(o, sub.name), value.clone());
                }
            }
            None => merge(item, value.clone()),
        }
    }
    if !found {
        // Entra replaces `emails[type eq "work"].value` of a user without
        // one: the value is added with what the filter names.
        let mut new = Map::new();
        for c in filter {
            if let Some(a) = c
                .path
                .attr
                .as_deref()
                .and_then(|a| schema::find(attr.sub, a))
            {
                new.insert(a.name.to_owned(), c.value.clone());
            }
        }
        let mut new = Value::Object(new);
        match sub {
            Some(sub) => {
                if let Value::Object(o) = &mut new {
                    o.insert(sub.name.to_owned(), value);
                }
            }
            None => merge(&mut new, value),
        }
        items.push(new);
    }
    Ok(())
}

fn compares(item: &Value, c: &Comparison) -> bool {
    let Some(name) = c.path.attr.as_deref() else {
        return false;
    };
    let actual = item
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .map(|(_, v)| v);
    match (actual, &c.value) {
        (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Some(a), b) => a == b,
        (None, Value::Null) => true,
        (None, _) => false,
    }
}

/// The object under `key`, made one if it is absent or something else.
fn object_at<'a>(
    container: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let slot = container
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
        .ok_or_else(|| ScimError::invalid_value(format!("{key} is not an object")))
}

/// The list under `key`, made one if it is absent or something else.
fn array_at<'a>(
    container: &'a mut Map<String, Value>,
    key: &str,
) -> Result<&'a mut Vec<Value>, ScimError> {
    let slot = container
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    slot.as_array_mut()
        .ok_or_else(|| ScimError::invalid_value(format!("{key} is not a list")))
}

/// The key under which `name` is stored, in whatever case; `name` if absent.
fn existing_key(container: &Map<String, Value>, name: &str) -> String {
    container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn remove_key(o: &mut Map<String, Value>, name: &str) {
    let key = existing_key(o, name);
    o.remove(&key);
}

fn items_mut<'a>(
    container: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    container
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        one => vec![one],
    }
}

/// Two values of a multi-valued attribute are the same when their `value`s
/// are equal, or, lacking `value`, when they are equal whole.
fn same_item(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Sets `value`'s keys in `target` (both objects), keeping the key
/// spelling `target` already has; a non-object `value` replaces `target`.
fn merge(target: &mut Value, value: Value) {
    match (target, value) {
        (Value::Object(t), Value::Object(v)) => {
            for (k, v) in v {
                let key = existing_key(t, &k);
                t.insert(key, v);
            }
        }
        (t, v) => *t = v,
    }
}

/// An emptied attribute is unassigned.
fn drop_empty(container: &mut Map<String, Value>, key: &str) {
    let empty = match container.get(key) {
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        container.remove(key);
    }
}

/// `schemas` lists the core schema and exactly the extensions present.
fn sync_schemas(rt: &ResourceType, resource: &mut Map<String, Value>) {
    let mut list: Vec<Value> = match resource.get("schemas") {
        Some(Value::Array(l)) => l.clone(),
        _ => vec![Value::String(rt.core.id.to_owned())],
    };
    for ext in rt.extensions {
        let present = resource.contains_key(ext.id);
        let listed = list
            .iter()
            .any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ext.id)));
        if present && !listed {
            list.push(Value::String(ext.id.to_owned()));
        } else if !present && listed {
            list.retain(|v| !v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(ext.id)));
        }
    }
    resource.insert("schemas".to_owned(), Value::Array(list));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::normalize;
    use crate::scim::schema::{ENTERPRISE, GROUP_TYPE, USER, USER_TYPE};
    use serde_json::json;

    fn user() -> Map<String, Value> {
        normalize(
            &USER_TYPE,
            json!({"schemas":[USER,ENTERPRISE],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"Test_User_ab6490ee","active":true,"emails":[{"primary":true,"type":"work","value":"Test_User_fd0ea19b@testuser.com"},{"type":"home","value":"h@example.com"}],"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[],ENTERPRISE:{"department":"Eng"}}),
        )
        .unwrap()
    }

    fn patch(rt: &ResourceType, mut r: Map<String, Value>, ops: Value) -> Result<Value, ScimError> {
        apply(rt, &mut r, &json!({"schemas":[PATCH_OP],"Operations": ops}))?;
        Ok(Value::Object(normalize(rt, Value::Object(r))?))
    }

    #[test]
    fn entra_update_with_value_filter_and_dotted_path() {
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
                   {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]),
        )
        .unwrap();
        assert_eq!(
            r["emails"],
            json!([{"primary":true,"type":"work","value":"updatedEmail@microsoft.com"},{"type":"home","value":"h@example.com"}]),
            "order and other values kept, nothing added"
        );
        assert_eq!(r["name"]["familyName"], "updatedFamilyName");
        assert_eq!(r["name"]["givenName"], "givenName");
    }

    #[test]
    fn entra_legacy_string_boolean_and_okta_pathless_deactivation() {
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"Replace","path":"active","value":"False"}]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(false));
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"replace","value":{"active":false}}]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(false));
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"REPLACE","value":{"active":"True"}}]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(true));
    }

    #[test]
    fn entra_flagged_pathless_dotted_and_urn_keys() {
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager":{"value":"m1"}}}]),
        )
        .unwrap();
        assert_eq!(r["displayName"], "Bjfe");
        assert_eq!(r["name"]["givenName"], "Kkom");
        assert_eq!(r["name"]["familyName"], "Unua");
        assert_eq!(r["name"]["formatted"], "givenName familyName");
        assert_eq!(
            r[ENTERPRISE],
            json!({"department":"Eng","employeeNumber":"Aklq","manager":{"value":"m1"}})
        );
    }

    #[test]
    fn add_and_remove_with_and_without_paths() {
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"add","path":"phoneNumbers","value":[{"type":"work","value":"555"}]},
                   {"op":"Add","value":{"nickName":"Babs","emails":[{"type":"other","value":"o@example.com"}]}},
                   {"op":"remove","path":"emails[type eq \"home\"]"},
                   {"op":"remove","path":"roles"},
                   {"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]),
        )
        .unwrap();
        assert_eq!(r["phoneNumbers"], json!([{"type":"work","value":"555"}]));
        assert_eq!(r["nickName"], "Babs");
        assert_eq!(
            r["emails"],
            json!([{"primary":true,"type":"work","value":"Test_User_fd0ea19b@testuser.com"},{"type":"other","value":"o@example.com"}])
        );
        assert!(r.get("roles").is_none());
        assert!(r.get(ENTERPRISE).is_none(), "emptied extension removed");
        assert_eq!(r["schemas"], json!([USER]), "and unlisted");
    }

    #[test]
    fn a_whole_extension_may_name_its_schema() {
        // scim2-client serialises an extension object with its `schemas`.
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"add","path":ENTERPRISE,"value":{"schemas":[ENTERPRISE],"costCenter":"42"}}]),
        )
        .unwrap();
        assert_eq!(r[ENTERPRISE], json!({"department":"Eng","costCenter":"42"}));
        let r = patch(
            &USER_TYPE,
            user(),
            json!([{"op":"remove","path":ENTERPRISE}]),
        )
        .unwrap();
        assert!(r.get(ENTERPRISE).is_none());
        assert_eq!(r["schemas"], json!([USER]));
    }

    #[test]
    fn a_filter_without_a_match_adds_the_value() {
        let mut u = user();
        u.remove("emails");
        let r = patch(&USER_TYPE, u, json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"w@example.com"}])).unwrap();
        assert_eq!(
            r["emails"],
            json!([{"type":"work","value":"w@example.com"}])
        );
    }

    #[test]
    fn group_membership_forms() {
        let group = normalize(
            &GROUP_TYPE,
            json!({"displayName":"Test SCIMv2","members":[{"value":"u1","display":"one"}]}),
        )
        .unwrap();
        // Okta: remove by filter, add a list without type.
        let r = patch(&GROUP_TYPE, group.clone(), json!([
            {"op":"remove","path":"members[value eq \"u1\"]"},
            {"op":"add","path":"members","value":[{"value":"u2","display":"test.user@okta.local"}]}])).unwrap();
        assert_eq!(
            r["members"],
            json!([{"value":"u2","display":"test.user@okta.local"}])
        );
        // Entra: add with `$ref: null`, remove listed in value.
        let r = patch(
            &GROUP_TYPE,
            group.clone(),
            json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":"u3"}]}]),
        )
        .unwrap();
        assert_eq!(
            r["members"],
            json!([{"value":"u1","display":"one"},{"value":"u3"}])
        );
        let r = patch(
            &GROUP_TYPE,
            group.clone(),
            json!([{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"}]}]),
        )
        .unwrap();
        assert!(r.get("members").is_none());
        // Adding a member already there does not duplicate it.
        let r = patch(
            &GROUP_TYPE,
            group.clone(),
            json!([{"op":"add","path":"members","value":[{"value":"u1"}]}]),
        )
        .unwrap();
        assert_eq!(r["members"], json!([{"value":"u1","display":"one"}]));
        // Replace with an empty list empties the group.
        let r = patch(
            &GROUP_TYPE,
            group.clone(),
            json!([{"op":"replace","path":"members","value":[]}]),
        )
        .unwrap();
        assert!(r.get("members").is_none());
        // Okta's rename repeats the id, which is ignored.
        let r = patch(
            &GROUP_TYPE,
            group,
            json!([{"op":"replace","value":{"id":"g1","displayName":"Renamed"}}]),
        )
        .unwrap();
        assert_eq!(r["displayName"], "Renamed");
    }

    #[test]
    fn bad_patches_are_refused() {
        let cases = [
            (
                json!([{"op":"replace","path":"nosuch","value":"x"}]),
                "invalidPath",
            ),
            (
                json!([{"op":"replace","path":"name.nosuch","value":"x"}]),
                "invalidPath",
            ),
            (
                json!([{"op":"replace","value":{"nosuch":"x"}}]),
                "invalidPath",
            ),
            (
                json!([{"op":"replace","path":"urn:example:other:Thing:attr","value":"x"}]),
                "invalidPath",
            ),
            (json!([{"op":"remove"}]), "noTarget"),
            (json!([{"op":"move","path":"nickName"}]), "invalidSyntax"),
            (
                json!([{"op":"replace","path":"emails[type ne \"work\"].value","value":"x"}]),
                "invalidFilter",
            ),
            (
                json!([{"op":"replace","path":"id","value":"x"}]),
                "mutability",
            ),
            (
                json!([{"op":"replace","path":"active","value":"maybe"}]),
                "invalidValue",
            ),
        ];
        for (ops, expected) in cases {
            let e = patch(&USER_TYPE, user(), ops.clone()).unwrap_err();
            assert_eq!(e.scim_type, Some(expected), "{ops}");
        }
        let mut u = user();
        let e = apply(&USER_TYPE, &mut u, &json!({"schemas":[PATCH_OP]})).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
    }
}
