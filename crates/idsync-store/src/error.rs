/// Errors from the Postgres side. The database's own error stays the
/// source; its text is also in the message, which is what logs and
/// `idsync.errors` show.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now; the caller should retry
    /// (webhooks answer 503 so the provider retries).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("invalid database URL: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("table {table} exists but is not compatible with idsync: {problems}")]
    IncompatibleTable { table: String, problems: String },
    #[error("the database schema is not migrated yet (run `idsync migrate`)")]
    NotMigrated,
    /// The database answered with an error that retrying will not fix: a
    /// bug, or a table changed behind idsync's back.
    #[error("database error: {0}")]
    Sql(#[source] sqlx::Error),
    /// A value Postgres could never store; nothing was written. Retrying
    /// cannot help (rule 7).
    #[error("refused: {0}")]
    Refused(#[from] idsync_core::InvalidInput),
}

impl StoreError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The pooled connection died under the statement (the server ended
    /// it, e.g. in a restart, or the socket broke): the same work on
    /// another connection may succeed.
    pub fn is_broken_connection(&self) -> bool {
        match self {
            Self::Unavailable(sqlx::Error::Io(_)) => true,
            Self::Unavailable(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|c| c == "57P01" || c == "57P02")
            }
            _ => false,
        }
    }

    /// A deadlock or serialization failure with a concurrent transaction:
    /// running the same work again succeeds.
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Unavailable(sqlx::Error::Database(db)) => {
                db.code().is_some_and(|c| c == "40001" || c == "40P01")
            }
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => true,
            // 57P0x shutdown / cannot connect now, 08xxx connection exceptions,
            // 40001 serialization failure, 40P01 deadlock: "try again later".
            sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                c.starts_with("57P") || c.starts_with("08") || c == "40001" || c == "40P01"
            }),
            _ => false,
        };
        if unavailable {
            Self::Unavailable(e)
        } else {
            Self::Sql(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn connection_trouble_is_unavailable_and_keeps_its_source() {
        let e = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(e.is_unavailable());
        assert!(std::error::Error::source(&e).is_some());
        let e = StoreError::from(sqlx::Error::RowNotFound);
        assert!(!e.is_unavailable());
        assert!(matches!(e, StoreError::Sql(sqlx::Error::RowNotFound)));
    }
}
