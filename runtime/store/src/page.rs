//! Listings: cursor pages (newest first, by `(created_at, id)`) and the text filters
//! they accept.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::error::{Result, StoreError};
use crate::row::micros;

/// The largest page a listing returns.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Which page of a listing to return. Listings are newest first, ordered by
/// `(created_at, id)`; the cursor is the opaque `next_cursor` of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page, 1 to [`MAX_PAGE_SIZE`] (clamped).
    pub limit: u32,
    /// Where the previous page ended; `None` for the first page.
    pub cursor: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 50,
            cursor: None,
        }
    }
}

impl PageRequest {
    /// The first page, `limit` rows.
    pub fn first(limit: u32) -> Self {
        Self {
            limit,
            cursor: None,
        }
    }

    /// The page after `cursor`.
    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        Self {
            limit,
            cursor: Some(cursor.into()),
        }
    }

    pub(crate) fn clamped_limit(&self) -> i64 {
        i64::from(self.limit.clamp(1, MAX_PAGE_SIZE))
    }

    /// The decoded cursor: `(created_at µs, id)` of the last row of the previous page.
    pub(crate) fn position(&self) -> Result<(Option<i64>, Option<String>)> {
        let Some(cursor) = &self.cursor else {
            return Ok((None, None));
        };
        let invalid = || StoreError::Invalid("malformed page cursor".to_owned());
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let (created_at, id) = raw.split_once(':').ok_or_else(invalid)?;
        let created_at = created_at.parse::<i64>().map_err(|_| invalid())?;
        Ok((Some(created_at), Some(id.to_owned())))
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// The cursor for the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// Builds a page from up to `limit + 1` rows; `key` gives a row's `(created_at, id)`.
pub(crate) fn page_from<T>(
    mut items: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (DateTime<Utc>, &str),
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| {
            let (created_at, id) = key(last);
            URL_SAFE_NO_PAD.encode(format!("{}:{id}", micros(created_at)))
        })
    } else {
        None
    };
    Page { items, next_cursor }
}

/// Escapes `text` for a `LIKE … ESCAPE '\'` pattern and wraps it as "contains", lower-cased
/// (queries compare against `LOWER(column)`; SQLite lower-cases ASCII only).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}
