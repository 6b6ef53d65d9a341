//! What user management through a provider's API takes (see
//! [`ProviderApi`](crate::provider::ProviderApi)). idsync never writes the
//! table here: the change comes back through the normal sync path (webhook
//! or reconcile).

use crate::ApiError;

/// A user to create.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct NewUser {
    pub email: String,
    pub name: Option<String>,
    /// Only where the provider takes one (both do); never logged.
    pub password: Option<String>,
}

/// Fields to change; `None` leaves a field alone.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Splits a display name into a first and a last name, for providers
/// that keep them apart.
pub(crate) fn split_name(name: &str) -> (&str, Option<&str>) {
    match name.trim().split_once(' ') {
        Some((first, last)) => (first, Some(last.trim())),
        None => (name.trim(), None),
    }
}

/// `/{id}`, refusing ids that would change the path.
pub(crate) fn user_path(id: &str) -> Result<String, ApiError> {
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::Unsupported(
            "user ids contain only letters, digits, '-' and '_'",
        ));
    }
    Ok(format!("/{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_the_first_space() {
        assert_eq!(split_name("Ada"), ("Ada", None));
        assert_eq!(
            split_name("Ada King Lovelace"),
            ("Ada", Some("King Lovelace"))
        );
    }

    #[test]
    fn ids_cannot_escape_the_path() {
        assert!(user_path("../v1/users").is_err());
        assert!(user_path("user_2abc").is_ok());
    }
}
