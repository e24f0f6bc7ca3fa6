//! Values in the portable schema and back: ids, timestamps, JSON documents and booleans,
//! each decoded by one rule whichever driver read the row (sqlx's `Any` rows, or the
//! synchronous SQLite reads of [`crate::backend`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{Result, StoreError};

/// A new row id: a UUIDv7 (time-ordered) in hyphenated form.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now, at the microsecond precision the database keeps.
pub(crate) fn now() -> DateTime<Utc> {
    from_micros(Utc::now().timestamp_micros()).unwrap_or_default()
}

pub(crate) fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn from_micros(value: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value)
}

pub(crate) fn json_text(value: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|error| StoreError::Invalid(error.to_string()))
}

/// The JSON document stored in `column`.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Corrupt(format!("{column} is not valid JSON: {error}")))
}

/// A boolean column as a driver hands it over: `BOOLEAN` on PostgreSQL, `INTEGER` on
/// SQLite (sqlx's `Any` driver cannot decode SQLite's `BOOLEAN`).
pub(crate) enum StoredBool {
    Bool(bool),
    Integer(i64),
}

/// Typed column access by name, mapping the representation of the schema (BIGINT
/// microseconds, TEXT JSON, BOOLEAN or INTEGER 0/1 booleans) back to Rust types.
///
/// Implementations only fetch a column in the driver's terms; every decoding rule
/// (timestamps, JSON, booleans) is a provided method here, so both drivers read a value
/// the same way.
pub(crate) trait RowExt {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
    /// A boolean column as stored; [`RowExt::boolean`] decodes it.
    fn stored_bool(&self, column: &str) -> Result<StoredBool>;

    /// The one boolean rule: `BOOLEAN` as is, the integers 0 and 1 (which the SQLite
    /// schema's `CHECK` constraints allow) as false and true; anything else is corrupt.
    fn boolean(&self, column: &str) -> Result<bool> {
        match self.stored_bool(column)? {
            StoredBool::Bool(value) => Ok(value),
            StoredBool::Integer(0) => Ok(false),
            StoredBool::Integer(1) => Ok(true),
            StoredBool::Integer(other) => Err(StoreError::Corrupt(format!(
                "{column} is not a boolean: {other}"
            ))),
        }
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        let value = self.int(column)?;
        from_micros(value)
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is out of range: {value}")))
    }

    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>> {
        match self.opt_int(column)? {
            None => Ok(None),
            Some(value) => from_micros(value)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("{column} is out of range: {value}"))),
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T> {
        parse_json(column, &self.text(column)?)
    }

    fn opt_json(&self, column: &str) -> Result<Option<Value>> {
        self.opt_text(column)?
            .map(|text| parse_json(column, &text))
            .transpose()
    }
}

impl RowExt for AnyRow {
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.try_get(column)?)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        Ok(self.try_get(column)?)
    }

    fn stored_bool(&self, column: &str) -> Result<StoredBool> {
        match self.try_get::<bool, _>(column) {
            Ok(value) => Ok(StoredBool::Bool(value)),
            Err(_) => Ok(StoredBool::Integer(self.try_get(column)?)),
        }
    }
}
