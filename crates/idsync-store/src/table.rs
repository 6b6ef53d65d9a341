use idsync_core::SqlIdent;

/// A connection's users table, `{schema}.{table}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsersTable {
    pub schema: SqlIdent,
    pub table: SqlIdent,
}

impl UsersTable {
    pub fn new(schema: SqlIdent, table: SqlIdent) -> Self {
        Self { schema, table }
    }

    /// `"schema"."table"`, safe to splice into SQL: both parts are validated.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema.quoted(), self.table.quoted())
    }
}

impl std::fmt::Display for UsersTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}
