//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7643
//! §5-7, RFC 7644 §4): exactly what idsync serves, since generic clients
//! test what is announced.

use serde_json::{Value, json};

use super::schema::{Attr, GROUP_TYPE, ResourceType, SCHEMAS, Schema, USER_TYPE};

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// The most resources one list answer holds.
pub const MAX_RESULTS: u64 = 1000;

pub static RESOURCE_TYPES: &[&ResourceType] = &[&USER_TYPE, &GROUP_TYPE];

pub fn service_provider_config(base_url: &str) -> Value {
    json!({
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The connection's bearer_token, sent as Authorization: Bearer <token>",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        },
    })
}

pub fn resource_type(rt: &ResourceType, base_url: &str) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.core.description,
        "schema": rt.core.id,
        "schemaExtensions": rt.extensions.iter()
            .map(|e| json!({"schema": e.id, "required": false}))
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base_url}/ResourceTypes/{}", rt.name),
        },
    })
}

pub fn schema(s: &Schema, base_url: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attrs.iter().map(attribute).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{base_url}/Schemas/{}", s.id),
        },
    })
}

fn attribute(a: &Attr) -> Value {
    let mut out = json!({
        "name": a.name,
        "type": a.ty.as_str(),
        "multiValued": a.multi,
        "description": a.name,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": a.mutability,
        "returned": a.returned,
        "uniqueness": a.uniqueness,
    });
    if !a.reference_types.is_empty() {
        out["referenceTypes"] = json!(a.reference_types);
    }
    if !a.sub.is_empty() {
        out["subAttributes"] = Value::Array(a.sub.iter().map(attribute).collect());
    }
    out
}

pub fn find_schema(id: &str) -> Option<&'static Schema> {
    SCHEMAS
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

pub fn find_resource_type(name: &str) -> Option<&'static ResourceType> {
    RESOURCE_TYPES
        .iter()
        .copied()
        .find(|r| r.name.eq_ignore_ascii_case(name))
}

/// A ListResponse of every item (discovery lists are not paged).
pub fn list(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": items.len(),
        "startIndex": 1,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE, USER};

    #[test]
    fn the_user_schema_announces_what_is_stored() {
        let s = schema(&crate::scim::schema::USER_SCHEMA, "https://x/scim/c/v2");
        assert_eq!(s["id"], USER);
        let names: Vec<&str> = s["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"userName") && names.contains(&"emails") && names.contains(&"active")
        );
        assert!(!names.contains(&"groups"), "not computed, so not announced");
        let user_name = &s["attributes"][0];
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        let password = s["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "password")
            .unwrap();
        assert_eq!(password["returned"], "never");
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(
            s["meta"]["location"],
            format!("https://x/scim/c/v2/Schemas/{USER}")
        );
    }

    #[test]
    fn resource_types_and_config() {
        let rt = resource_type(&USER_TYPE, "b");
        assert_eq!(rt["endpoint"], "/Users");
        assert_eq!(
            rt["schemaExtensions"],
            json!([{"schema": ENTERPRISE, "required": false}])
        );
        let spc = service_provider_config("b");
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["sort"]["supported"], false);
        assert_eq!(spc["filter"]["maxResults"], 1000);
        assert!(find_schema(&ENTERPRISE.to_lowercase()).is_some());
        assert!(find_resource_type("group").is_some());
    }
}
