/// Errors from the Postgres side.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; the caller should retry
    /// (webhooks answer 503 so the provider retries).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error("table {table} exists but is not compatible with idsync: {problems}")]
    IncompatibleTable { table: String, problems: String },
    #[error("the database schema is not migrated yet (run `idsync migrate`)")]
    NotMigrated,
    #[error("database error: {0}")]
    Sql(String),
    /// A value Postgres could never store; nothing was written. Retrying
    /// cannot help (rule 7).
    #[error("refused: {0}")]
    Refused(#[from] idsync_core::InvalidInput),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => Self::Unavailable(e.to_string()),
            // 57P0x shutdown / cannot connect now, 08xxx connection exceptions,
            // 40001 serialization failure, 40P01 deadlock: "try again later".
            sqlx::Error::Database(db)
                if db.code().is_some_and(|c| {
                    c.starts_with("57P") || c.starts_with("08") || c == "40001" || c == "40P01"
                }) =>
            {
                Self::Unavailable(e.to_string())
            }
            _ => Self::Sql(e.to_string()),
        }
    }
}
