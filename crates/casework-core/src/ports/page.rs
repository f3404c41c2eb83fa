//! Pages: how a list is walked (by ascending case number, with an opaque cursor), shared by
//! every capability that lists cases.

use serde::{Deserialize, Serialize};

use crate::ids::CaseNumber;
use crate::limits::{DEFAULT_PAGE, MAX_PAGE};
use crate::model::Case;

/// Where a page starts: cases are listed by ascending number, so a page is stable while
/// new cases are created (they appear at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageRequest {
    /// At most this many items (1 to [`MAX_PAGE`]).
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
    /// Start after this case.
    pub after: Option<CaseNumber>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE,
            after: None,
        }
    }
}

impl PageRequest {
    /// Builds a page request from a front-end's parameters: the limit checked (1 to
    /// [`MAX_PAGE`], [`DEFAULT_PAGE`] when absent) and the cursor decoded. The error names
    /// the parameter at fault.
    pub fn from_params(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, PageError> {
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(PageError::Limit { max: MAX_PAGE });
        }
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c)?),
        };
        Ok(Self { limit, after })
    }
}

/// Encodes a page cursor: opaque to clients.
pub fn encode_cursor(after: CaseNumber) -> String {
    format!("c{}", after.get())
}

/// What [`encode_cursor`] makes, or nothing (the first page), as a regular expression for
/// the API document.
pub const CURSOR_PATTERN: &str = "^(c[1-9][0-9]{0,17})?$";

/// Decodes a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<CaseNumber, PageError> {
    cursor
        .strip_prefix('c')
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(CaseNumber::new)
        .ok_or_else(|| PageError::Cursor(cursor.chars().take(80).collect()))
}

/// A page request that cannot be served, naming the parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The limit is outside 1 to `max`.
    #[error("limit must be between 1 and {max}")]
    Limit {
        /// The largest page.
        max: u32,
    },
    /// The cursor is not one this API made.
    #[error("bad cursor {0:?}: pass the next_cursor of the previous page")]
    Cursor(String),
}

impl PageError {
    /// The parameter at fault: `limit` or `cursor`.
    pub fn field(&self) -> &'static str {
        match self {
            PageError::Limit { .. } => "limit",
            PageError::Cursor(_) => "cursor",
        }
    }
}

impl From<PageError> for crate::workflow::WorkflowError {
    fn from(e: PageError) -> Self {
        crate::workflow::WorkflowError::Invalid {
            field: e.field().into(),
            message: e.to_string(),
        }
    }
}

/// A page of cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items in case-number order (`number` gives an
    /// item's): fetching one more than the page holds tells whether another page follows,
    /// without counting.
    pub fn overfetched(mut items: Vec<T>, limit: u32, number: impl Fn(&T) -> CaseNumber) -> Self {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|c| encode_cursor(number(c)))
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

impl Page<Case> {
    /// [`Page::overfetched`] for cases.
    pub fn from_overfetch(items: Vec<Case>, limit: u32) -> Self {
        Self::overfetched(items, limit, |c| c.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let n = CaseNumber::new(1027).unwrap();
        assert_eq!(decode_cursor(&encode_cursor(n)).unwrap(), n);
        for bad in ["", "1027", "cx", "c0", "c-1"] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            PageRequest::from_params(Some(0), None).unwrap_err().field(),
            "limit"
        );
        assert_eq!(
            PageRequest::from_params(Some(MAX_PAGE + 1), None)
                .unwrap_err()
                .field(),
            "limit"
        );
        let bad = PageRequest::from_params(None, Some("x1")).unwrap_err();
        assert_eq!(bad.field(), "cursor");
        assert!(bad.to_string().contains("\"x1\""), "{bad}");
        let p = PageRequest::from_params(None, Some("c7")).unwrap();
        assert_eq!(p.limit, DEFAULT_PAGE);
        assert_eq!(p.after, CaseNumber::new(7));
    }
}
