//! Resources as received and as answered: normalisation of what a client
//! sends (attribute names in their schema spelling, string booleans read as
//! booleans, nulls dropped, passwords never kept), the columns derived from
//! it, and the answer with its `meta`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::schema::{self, Attr, COMMON, ResourceType, Type};
use crate::served::{Member, Resource, ResourceKind, Stored};

/// Reads a resource body as sent by a client into its stored form: an
/// object whose known attribute names are spelled as the schema spells
/// them, with `id`, `meta`, `password` and null values left out.
pub fn normalize(rt: &ResourceType, value: Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(object) = value else {
        return Err(ScimError::invalid_syntax(
            "the resource is not a JSON object",
        ));
    };
    let mut out = Map::new();
    for (key, value) in object {
        if value.is_null() {
            continue;
        }
        if let Some(common) = COMMON.iter().find(|c| c.eq_ignore_ascii_case(&key)) {
            match *common {
                "id" | "meta" => {}
                "externalId" => {
                    if !value.is_string() {
                        return Err(ScimError::invalid_value("externalId must be a string"));
                    }
                    out.insert("externalId".to_owned(), value);
                }
                _ => {
                    out.insert("schemas".to_owned(), schemas(rt, value)?);
                }
            }
        } else if let Some(ext) = rt.extension(&key) {
            let Value::Object(mut inner) = value else {
                return Err(ScimError::invalid_value(format!(
                    "{} must be an object",
                    ext.id
                )));
            };
            // The extension is named by the resource's `schemas` already.
            inner.retain(|k, _| !k.eq_ignore_ascii_case("schemas"));
            let inner = attributes(ext.attrs, inner)?;
            if !inner.is_empty() {
                out.insert(ext.id.to_owned(), Value::Object(inner));
            }
        } else if let Some(attr) = schema::find(rt.core.attrs, &key) {
            if attr.returned == "never" {
                continue;
            }
            if let Some(v) = attribute(attr, value)? {
                out.insert(attr.name.to_owned(), v);
            }
        } else {
            out.insert(key, value);
        }
    }
    if !out.contains_key("schemas") {
        let mut list = vec![json!(rt.core.id)];
        for ext in rt.extensions {
            if out.contains_key(ext.id) {
                list.push(json!(ext.id));
            }
        }
        out.insert("schemas".to_owned(), Value::Array(list));
    }
    Ok(out)
}

fn schemas(rt: &ResourceType, value: Value) -> Result<Value, ScimError> {
    let Value::Array(list) = value else {
        return Err(ScimError::invalid_value("schemas must be a list of URNs"));
    };
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        let Value::String(urn) = v else {
            return Err(ScimError::invalid_value("schemas must be a list of URNs"));
        };
        // Known URNs in their own spelling. Others (Entra's ADSCIM group
        // schema) define nothing idsync serves, and every URN an answer
        // lists must be one `/Schemas` has: left out, as Entra's own
        // examples answer.
        if let Some(known) = rt.schema(&urn)
            && !out.contains(&json!(known.id))
        {
            out.push(json!(known.id));
        }
    }
    if !out.contains(&json!(rt.core.id)) {
        out.insert(0, json!(rt.core.id));
    }
    Ok(Value::Array(out))
}

fn attributes(attrs: &[Attr], object: Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    let mut out = Map::new();
    for (key, value) in object {
        match schema::find(attrs, &key) {
            Some(attr) if attr.returned == "never" => {}
            Some(attr) => {
                if let Some(v) = attribute(attr, value)? {
                    out.insert(attr.name.to_owned(), v);
                }
            }
            None if value.is_null() => {}
            None => {
                out.insert(key, value);
            }
        }
    }
    Ok(out)
}

/// One attribute's value, checked against its definition; `None` when it is
/// unassigned (null, or an empty complex value).
fn attribute(attr: &Attr, value: Value) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi {
        let items = match value {
            Value::Array(items) => items,
            // Some clients send one value where a list is expected.
            one => vec![one],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = single(attr, item)? {
                out.push(v);
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    single(attr, value)
}

fn single(attr: &Attr, value: Value) -> Result<Option<Value>, ScimError> {
    match (attr.ty, value) {
        (_, Value::Null) => Ok(None),
        (Type::Complex, Value::Object(o)) => {
            let o = attributes(attr.sub, o)?;
            Ok((!o.is_empty()).then_some(Value::Object(o)))
        }
        (Type::Boolean, Value::Bool(b)) => Ok(Some(Value::Bool(b))),
        // Entra ID without `aadOptscim062020` sends booleans as "True"/"False".
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (Type::String | Type::Reference | Type::Binary, Value::String(s)) => {
            Ok(Some(Value::String(s)))
        }
        (ty, v) => Err(ScimError::invalid_value(format!(
            "{} must be a {}, not {v}",
            attr.name,
            if ty == Type::Complex {
                "JSON object"
            } else {
                ty.as_str()
            }
        ))),
    }
}

/// How a connection chooses the table id of a new resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    /// `externalId` when the client sends one, else an id idsync assigns.
    ExternalId,
    /// The user's `userName` (groups: an assigned id).
    UserName,
    /// An id idsync assigns.
    Assigned,
}

impl IdSource {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().replace('_', "").as_str() {
            "externalid" => Some(Self::ExternalId),
            "username" => Some(Self::UserName),
            "id" => Some(Self::Assigned),
            _ => None,
        }
    }

    /// The id of a resource about to be created.
    pub fn choose(self, kind: ResourceKind, json: &Map<String, Value>) -> String {
        let chosen = match (self, kind) {
            (Self::ExternalId, _) => json.get("externalId").and_then(Value::as_str),
            (Self::UserName, ResourceKind::User) => json.get("userName").and_then(Value::as_str),
            _ => None,
        };
        chosen
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }
}

/// The stored form of a normalised resource: its columns, members split
/// out of a group.
pub fn to_store(
    kind: ResourceKind,
    id: &str,
    mut json: Map<String, Value>,
) -> Result<Resource, ScimError> {
    if idsync_core::UserId::parse(id).is_none() {
        return Err(ScimError::invalid_value(
            "the resource's id (from externalId or userName, per id_source) must be 1 to 255 characters without control characters",
        ));
    }
    json.insert("id".to_owned(), json!(id));
    match kind {
        ResourceKind::User => {
            let user_name = match json.get("userName") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                _ => {
                    return Err(ScimError::invalid_value(
                        "userName is required and must be a non-empty string",
                    ));
                }
            };
            Ok(Resource {
                id: id.to_owned(),
                name: user_display_name(&json),
                email: primary_email(&json),
                active: json.get("active") != Some(&Value::Bool(false)),
                unique_name: Some(user_name),
                members: Vec::new(),
                json: Value::Object(json),
            })
        }
        ResourceKind::Group => {
            let name = match json.get("displayName") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
                _ => {
                    return Err(ScimError::invalid_value(
                        "displayName is required and must be a non-empty string",
                    ));
                }
            };
            let members = match json.remove("members") {
                Some(Value::Array(list)) => members(list)?,
                _ => Vec::new(),
            };
            Ok(Resource {
                id: id.to_owned(),
                name: Some(name),
                email: None,
                active: true,
                unique_name: None,
                members,
                json: Value::Object(json),
            })
        }
    }
}

/// A group's members, each once (the first of duplicates kept).
fn members(list: Vec<Value>) -> Result<Vec<Member>, ScimError> {
    let mut out: Vec<Member> = Vec::with_capacity(list.len());
    for m in list {
        let Some(id) = m.get("value").and_then(Value::as_str) else {
            return Err(ScimError::invalid_value("each member needs a string value"));
        };
        if idsync_core::UserId::parse(id).is_none() {
            return Err(ScimError::invalid_value(format!(
                "{id:?} is not a member id"
            )));
        }
        if !out.iter().any(|o| o.id == id) {
            out.push(Member {
                id: id.to_owned(),
                json: m.clone(),
            });
        }
    }
    Ok(out)
}

fn user_display_name(json: &Map<String, Value>) -> Option<String> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(d) = text(json.get("displayName")) {
        return Some(d);
    }
    let name = json.get("name");
    if let Some(f) = text(name.and_then(|n| n.get("formatted"))) {
        return Some(f);
    }
    let parts: Vec<String> = ["givenName", "familyName"]
        .iter()
        .filter_map(|k| text(name.and_then(|n| n.get(k))))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The primary email, else the first.
fn primary_email(json: &Map<String, Value>) -> Option<String> {
    let emails = json.get("emails")?.as_array()?;
    let primary = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| emails.first())?;
    primary
        .get("value")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The resource as its JSON, members included: what PATCH edits.
pub fn editable(stored: &Stored) -> Map<String, Value> {
    let mut json = match &stored.resource.json {
        Value::Object(o) => o.clone(),
        _ => Map::new(),
    };
    if !stored.resource.members.is_empty() {
        json.insert(
            "members".to_owned(),
            Value::Array(
                stored
                    .resource
                    .members
                    .iter()
                    .map(|m| m.json.clone())
                    .collect(),
            ),
        );
    }
    json
}

/// The answer for a stored resource, with `meta`.
pub fn render(rt: &ResourceType, stored: &Stored, base_url: &str) -> Value {
    let mut json = editable(stored);
    json.insert(
        "meta".to_owned(),
        json!({
            "resourceType": rt.name,
            "created": timestamp(stored.created),
            "lastModified": timestamp(stored.modified),
            "location": location(rt, base_url, &stored.resource.id),
            "version": etag(stored),
        }),
    );
    Value::Object(json)
}

pub fn location(rt: &ResourceType, base_url: &str, id: &str) -> String {
    let segment: String =
        percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).collect();
    format!("{base_url}{}/{segment}", rt.endpoint)
}

/// A weak ETag from the row's version, which every write raises.
pub fn etag(stored: &Stored) -> String {
    format!("W/\"{:x}\"", stored.modified.timestamp_micros())
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE, GROUP_TYPE, USER_TYPE};

    #[test]
    fn okta_create_is_stored_without_password_and_with_columns() {
        let body = json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true});
        let json = normalize(&USER_TYPE, body.clone()).unwrap();
        assert!(!json.contains_key("password"));
        let id = IdSource::ExternalId.choose(ResourceKind::User, &json);
        assert_eq!(id, "00ujl29u0le5T6Aj10h7");
        let r = to_store(ResourceKind::User, &id, json).unwrap();
        assert_eq!(r.name.as_deref(), Some("Test User"));
        assert_eq!(r.email.as_deref(), Some("test.user@okta.local"));
        assert!(r.active);
        let mut expected = body;
        expected.as_object_mut().unwrap().remove("password");
        expected["id"] = json!("00ujl29u0le5T6Aj10h7");
        assert_eq!(r.json, expected, "everything else as sent");
    }

    #[test]
    fn names_are_respelled_booleans_read_and_nulls_dropped() {
        let json = normalize(
            &USER_TYPE,
            json!({"USERNAME": "a", "Active": "False", "nickName": null,
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(json),
            json!({"userName": "a", "active": false,
                   "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                   ENTERPRISE: {"employeeNumber": "7"}})
        );
        let e = normalize(&USER_TYPE, json!({"userName": "a", "active": "nope"})).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = normalize(&USER_TYPE, json!([1])).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
    }

    #[test]
    fn schemas_list_only_what_is_served() {
        let json = normalize(
            &GROUP_TYPE,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"], "displayName": "G"}),
        )
        .unwrap();
        assert_eq!(
            json["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])
        );
        let json = normalize(
            &USER_TYPE,
            json!({"schemas": [ENTERPRISE], "userName": "u"}),
        )
        .unwrap();
        assert_eq!(
            json["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
        );
    }

    #[test]
    fn ids_follow_the_id_source() {
        let json = normalize(&USER_TYPE, json!({"userName": "Ada", "externalId": "e1"})).unwrap();
        assert_eq!(IdSource::UserName.choose(ResourceKind::User, &json), "Ada");
        assert_eq!(IdSource::ExternalId.choose(ResourceKind::User, &json), "e1");
        let assigned = IdSource::Assigned.choose(ResourceKind::User, &json);
        assert_eq!(assigned.len(), 36);
        let json = normalize(&USER_TYPE, json!({"userName": "Ada"})).unwrap();
        assert_eq!(
            IdSource::ExternalId.choose(ResourceKind::User, &json).len(),
            36,
            "assigned when no externalId is sent"
        );
        assert_eq!(IdSource::parse("external_id"), Some(IdSource::ExternalId));
        assert_eq!(IdSource::parse("userName"), Some(IdSource::UserName));
        assert_eq!(IdSource::parse("id"), Some(IdSource::Assigned));
        assert_eq!(IdSource::parse("email"), None);
    }

    #[test]
    fn group_members_are_split_out_once_each() {
        let json = normalize(
            &GROUP_TYPE,
            json!({"displayName": "Eng", "members": [{"value": "u1", "display": "A"}, {"value": "u2"}, {"value": "u1"}]}),
        )
        .unwrap();
        let r = to_store(ResourceKind::Group, "g1", json).unwrap();
        assert_eq!(
            r.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["u1", "u2"]
        );
        assert_eq!(r.members[0].json, json!({"value": "u1", "display": "A"}));
        assert!(r.json.get("members").is_none());
        let missing = normalize(&GROUP_TYPE, json!({"members": []})).unwrap();
        assert!(to_store(ResourceKind::Group, "g", missing).is_err());
    }
}
