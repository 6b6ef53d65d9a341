//! User management through the provider's API. idsync never writes the
//! table here: the change comes back through the normal sync path
//! (webhook or reconcile).

use serde_json::{Value, json};

use crate::{ApiError, Provider};

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

/// Splits a display name into Clerk's first and last name.
fn split_name(name: &str) -> (&str, Option<&str>) {
    match name.trim().split_once(' ') {
        Some((first, last)) => (first, Some(last.trim())),
        None => (name.trim(), None),
    }
}

impl Provider {
    /// Creates a user; returns the provider's user object.
    pub async fn create_user(&self, user: &NewUser) -> Result<Value, ApiError> {
        match self {
            Self::StackAuth(c) => {
                let mut body = json!({
                    "primary_email": user.email,
                    "primary_email_auth_enabled": true,
                    "display_name": user.name,
                });
                if let Some(p) = &user.password {
                    body["password"] = json!(p);
                }
                c.send_json(reqwest::Method::POST, "", Some(body)).await
            }
            Self::Clerk(c) => {
                let (first, last) = user.name.as_deref().map(split_name).unwrap_or(("", None));
                let mut body = json!({ "email_address": [user.email] });
                if !first.is_empty() {
                    body["first_name"] = json!(first);
                }
                if let Some(last) = last {
                    body["last_name"] = json!(last);
                }
                match &user.password {
                    Some(p) => body["password"] = json!(p),
                    None => body["skip_password_requirement"] = json!(true),
                }
                c.send_json(reqwest::Method::POST, "", Some(body)).await
            }
        }
    }

    pub async fn update_user(&self, id: &str, update: &UserUpdate) -> Result<Value, ApiError> {
        match self {
            Self::StackAuth(c) => {
                let mut body = json!({});
                if let Some(n) = &update.name {
                    body["display_name"] = json!(n);
                }
                if let Some(e) = &update.email {
                    body["primary_email"] = json!(e);
                }
                c.send_json(reqwest::Method::PATCH, &path(id)?, Some(body))
                    .await
            }
            Self::Clerk(c) => {
                if update.email.is_some() {
                    return Err(ApiError::Unsupported(
                        "Clerk changes email addresses through its email address endpoints; change it in the Clerk dashboard",
                    ));
                }
                let mut body = json!({});
                if let Some(n) = &update.name {
                    let (first, last) = split_name(n);
                    body["first_name"] = json!(first);
                    body["last_name"] = json!(last);
                }
                c.send_json(reqwest::Method::PATCH, &path(id)?, Some(body))
                    .await
            }
        }
    }

    pub async fn delete_user(&self, id: &str) -> Result<(), ApiError> {
        let p = path(id)?;
        match self {
            Self::StackAuth(c) => c.send_json(reqwest::Method::DELETE, &p, None).await?,
            Self::Clerk(c) => c.send_json(reqwest::Method::DELETE, &p, None).await?,
        };
        Ok(())
    }
}

/// `/{id}`, refusing ids that would change the path.
fn path(id: &str) -> Result<String, ApiError> {
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
        assert!(path("../v1/users").is_err());
        assert!(path("user_2abc").is_ok());
    }
}
