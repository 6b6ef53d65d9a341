//! Stack Auth's project authentication: the access type, project id and
//! key headers, checked in the order its backend checks them.

use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use super::errors::{ApiError, known_error};
use crate::emulator::Core;

/// A request header by its name after the prefix: `x-hexclave-<name>`,
/// else `x-stack-<name>`. The backend accepts both families since the
/// rename; new SDKs send only the first.
pub(super) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    ["x-hexclave-", "x-stack-"]
        .iter()
        .find_map(|prefix| headers.get(format!("{prefix}{name}")))
        .and_then(|v| v.to_str().ok())
}

/// Checks the server-key headers in the order Stack's backend does.
pub(super) fn authorize(core: &Core, headers: &HeaderMap) -> Result<(), ApiError> {
    let get = |name: &str| header(headers, name);
    let server_key = get("secret-server-key");
    let admin_key = get("super-secret-admin-key");
    let client_key = get("publishable-client-key");
    let any_key = server_key.is_some()
        || admin_key.is_some()
        || client_key.is_some()
        || get("admin-access-token").is_some();
    let bad_request = StatusCode::BAD_REQUEST;
    let unauthorized = StatusCode::UNAUTHORIZED;
    let Some(access_type) = get("access-type") else {
        return Err(if any_key {
            known_error(
                bad_request,
                "PROJECT_KEY_WITHOUT_ACCESS_TYPE",
                "Either an API key or an admin access token was provided, but the x-stack-access-type header is missing. Set it to 'client', 'server', or 'admin' as appropriate.",
                None,
            )
        } else {
            known_error(
                bad_request,
                "ACCESS_TYPE_REQUIRED",
                "You must specify an access level for this Stack project. Make sure project API keys are provided (eg. x-stack-publishable-client-key) and you set the x-stack-access-type header to 'client', 'server', or 'admin'.",
                None,
            )
        });
    };
    if !matches!(access_type, "client" | "server" | "admin") {
        return Err(known_error(
            bad_request,
            "INVALID_ACCESS_TYPE",
            &format!(
                "The x-stack-access-type header must be 'client', 'server', or 'admin', but was '{access_type}'."
            ),
            None,
        ));
    }
    let Some(project_id) = get("project-id") else {
        return Err(known_error(
            bad_request,
            "ACCESS_TYPE_WITHOUT_PROJECT_ID",
            &format!(
                "The x-stack-access-type header was '{access_type}', but the x-stack-project-id header was not provided."
            ),
            Some(json!({ "request_type": access_type })),
        ));
    };
    let details = Some(json!({ "project_id": project_id }));
    // Only the server key exists here: client and admin access always fail.
    match (access_type, client_key, server_key, admin_key) {
        ("client", None, _, _) => Err(known_error(
            unauthorized,
            "CLIENT_AUTHENTICATION_REQUIRED",
            "The publishable client key must be provided.",
            None,
        )),
        ("client", Some(_), _, _) => Err(known_error(
            unauthorized,
            "INVALID_PUBLISHABLE_CLIENT_KEY",
            &format!(
                "The publishable key is not valid for the project {project_id:?}. Does the project and/or the key exist?"
            ),
            details,
        )),
        ("admin", _, _, None) => Err(known_error(
            unauthorized,
            "ADMIN_AUTHENTICATION_REQUIRED",
            "The super secret admin key must be provided.",
            None,
        )),
        ("admin", _, _, Some(_)) => Err(known_error(
            unauthorized,
            "INVALID_SUPER_SECRET_ADMIN_KEY",
            &format!(
                "The super secret admin key is not valid for the project {project_id:?}. Does the project and/or the key exist?"
            ),
            details,
        )),
        (_, _, None, _) => Err(known_error(
            unauthorized,
            "SERVER_AUTHENTICATION_REQUIRED",
            "The secret server key must be provided.",
            None,
        )),
        (_, _, Some(key), _)
            if key == core.config.api_key && project_id == core.config.project_id =>
        {
            Ok(())
        }
        (_, _, Some(_), _) => Err(known_error(
            unauthorized,
            "INVALID_SECRET_SERVER_KEY",
            &format!(
                "The secret server key is not valid for the project {project_id:?}. Does the project and/or the key exist?"
            ),
            details,
        )),
    }
}
