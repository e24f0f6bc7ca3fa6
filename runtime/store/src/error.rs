//! The store's error type.

use sqlx::error::ErrorKind;

use crate::sealed::SealError;

/// What a store operation can fail with.
///
/// Messages never contain secret material: values are bound as query parameters (which
/// database errors do not echo), sealed records are never formatted, and key-ring errors
/// name key ids at most.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row does not exist, or is not visible to the organization that asked.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was violated (a name taken, a version installed with other bytes…).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller passed something the store cannot use (a malformed cursor, an invalid id).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A sealed secret could not be sealed or opened.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A stored value could not be decoded (a JSON column that is not JSON, …).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The migrations could not be applied.
    #[error("failed to migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// A failure of a synchronous read of a SQLite file (the worker plane's look-up).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether this is the database connection's failure rather than the
    /// operation's: the socket failed, or the server ended the session
    /// (SQLSTATE classes 08, connection exception, and 57, operator
    /// intervention, as in a restart). The same operation may succeed on
    /// another connection.
    pub fn is_connection_failure(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) => true,
            StoreError::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
            _ => false,
        }
    }
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
                StoreError::Conflict(match db.constraint() {
                    Some(constraint) => format!("unique constraint {constraint} violated"),
                    None => "a unique constraint was violated".to_owned(),
                })
            }
            _ => StoreError::Database(error),
        }
    }
}

/// Maps a database error for an operation on `entity`: a unique violation becomes a
/// [`StoreError::Conflict`] that names it, a foreign-key violation means that a row it
/// refers to (`parent`) does not exist.
pub(crate) fn map_db(
    entity: &'static str,
    parent: &'static str,
) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict(format!("{entity} already exists"))
        }
        sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation => {
            StoreError::NotFound(parent)
        }
        _ => StoreError::from(error),
    }
}

/// `true` when `error` is a unique violation (used to retry racing inserts).
pub(crate) fn is_conflict(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict(_))
}
