use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentError {
    #[error(
        "{0:?} is not a valid SQL identifier: use 1-63 characters of lowercase letters, digits and underscores, starting with a letter or underscore"
    )]
    InvalidSqlIdent(String),
    #[error(
        "{0:?} is not a valid connection name: use 1-63 characters of letters, digits, '-' and '_'"
    )]
    InvalidConnectionName(String),
}

/// A configured schema or table name. Restricted to lowercase identifiers
/// so the name means the same quoted or unquoted; always emitted quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SqlIdent(String);

impl SqlIdent {
    pub fn parse(raw: &str) -> Result<Self, IdentError> {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let rest_ok = raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if first_ok && rest_ok && raw.len() <= 63 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdentError::InvalidSqlIdent(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier quoted for SQL. Validation leaves no `"` to escape.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

impl fmt::Display for SqlIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A connection's name: URL-safe, used in `/webhooks/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionName(String);

impl ConnectionName {
    pub fn parse(raw: &str) -> Result<Self, IdentError> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdentError::InvalidConnectionName(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_ident_accepts_plain_names_only() {
        assert_eq!(
            SqlIdent::parse("neon_identity").unwrap().quoted(),
            "\"neon_identity\""
        );
        for bad in [
            "",
            "Users",
            "users-sync",
            "1abc",
            "a\"b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(SqlIdent::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn connection_name_is_url_safe() {
        assert!(ConnectionName::parse("stack-prod_1").is_ok());
        for bad in ["", "a/b", "a b", "é", "a?b"] {
            assert!(ConnectionName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
