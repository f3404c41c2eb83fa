//! Pages: how a list is walked (by ascending case number unless another [`CaseOrder`] is
//! asked for, with an opaque cursor), shared by every capability that lists cases.

use std::cmp::Ordering;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::CaseNumber;
use crate::limits::{DEFAULT_PAGE, MAX_PAGE};
use crate::model::{Case, Priority};

/// The order a case list is in. Every order ends with the case number, so it is total and a
/// cursor (a case's key and number) says exactly where the next page starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaseOrder {
    /// By ascending number: oldest first (numbers are taken in the order cases are opened),
    /// and stable while new cases are created (they appear at the end).
    #[default]
    Number,
    /// Most recently changed first, then by descending number. A case changed while a list
    /// is walked moves to its front: a later page does not show it again.
    Updated,
    /// Most urgent first, then by ascending number (oldest first).
    Priority,
}

impl CaseOrder {
    /// Every order, in the order a front-end offers them.
    pub const ALL: [CaseOrder; 3] = [CaseOrder::Number, CaseOrder::Updated, CaseOrder::Priority];

    /// The name front-ends use: `number`, `updated`, `priority`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseOrder::Number => "number",
            CaseOrder::Updated => "updated",
            CaseOrder::Priority => "priority",
        }
    }

    /// The order named by [`CaseOrder::as_str`].
    pub fn parse(name: &str) -> Option<CaseOrder> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// Whether the key sorts descending (the most recent first).
    pub fn descending(self) -> bool {
        self == CaseOrder::Updated
    }

    /// A case's sort key in this order, before its number; `None` when the number alone
    /// orders. Stores that sort in their database keep it in a column, written with every
    /// commit ([`updated_key`], [`priority_rank`]).
    pub fn key(self, case: &Case) -> Option<i64> {
        match self {
            CaseOrder::Number => None,
            CaseOrder::Updated => Some(updated_key(case.updated_at)),
            CaseOrder::Priority => Some(priority_rank(case.priority)),
        }
    }

    /// How two cases compare in this order.
    pub fn compare(self, a: &Case, b: &Case) -> Ordering {
        let ord = (self.key(a), a.number).cmp(&(self.key(b), b.number));
        if self.descending() {
            ord.reverse()
        } else {
            ord
        }
    }

    fn tag(self) -> char {
        match self {
            CaseOrder::Number => 'c',
            CaseOrder::Updated => 'u',
            CaseOrder::Priority => 'p',
        }
    }
}

/// [`CaseOrder::Updated`]'s key: microseconds since the epoch (what a database column holds
/// exactly; finer digits are dropped).
pub fn updated_key(at: Timestamp) -> i64 {
    at.as_microsecond()
}

/// [`CaseOrder::Priority`]'s key: 0 for urgent, 1 high, 2 medium, 3 low.
pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Urgent => 0,
        Priority::High => 1,
        Priority::Medium => 2,
        Priority::Low => 3,
    }
}

/// Where a page starts, and in which order the list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageRequest {
    /// At most this many items (1 to [`MAX_PAGE`]).
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub limit: u32,
    /// Start after this case.
    pub after: Option<CaseNumber>,
    /// The list's order.
    #[serde(default, skip_serializing_if = "CaseOrder::is_number")]
    pub order: CaseOrder,
    /// With `after` in an order with a key: that case's key when the cursor was made (the
    /// page starts after the pair, wherever the case has moved since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_key: Option<i64>,
}

impl CaseOrder {
    fn is_number(&self) -> bool {
        *self == CaseOrder::Number
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_PAGE,
            after: None,
            order: CaseOrder::Number,
            after_key: None,
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
        Ok(Self {
            limit,
            after,
            ..Self::default()
        })
    }

    /// [`PageRequest::from_params`] for a list in `order`: the cursor must be one a page in
    /// that order made.
    pub fn from_params_in(
        order: CaseOrder,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Self, PageError> {
        let page = Self::from_params(limit, None)?;
        let (after_key, after) = match cursor {
            None | Some("") => (None, None),
            Some(c) => {
                let (key, n) = decode_ordered(order, c)?;
                (key, Some(n))
            }
        };
        Ok(Self {
            after,
            after_key,
            order,
            ..page
        })
    }

    /// Whether `case` comes after the cursor in this page's order (every case does on a
    /// first page): for stores that sort in memory.
    pub fn admits(&self, case: &Case) -> bool {
        let Some(after) = self.after else {
            return true;
        };
        let ord = (self.order.key(case), case.number).cmp(&(self.after_key, after));
        if self.order.descending() {
            ord == Ordering::Less
        } else {
            ord == Ordering::Greater
        }
    }

    /// The cursor of a page that ends with `last`.
    pub fn cursor_after(&self, last: &Case) -> String {
        match self.order.key(last) {
            None => encode_cursor(last.number),
            Some(k) => format!("{}{k}.{}", self.order.tag(), last.number.get()),
        }
    }
}

/// Encodes a page cursor: opaque to clients.
pub fn encode_cursor(after: CaseNumber) -> String {
    format!("c{}", after.get())
}

/// What [`encode_cursor`] makes, or nothing (the first page), as a regular expression for
/// the API document.
pub const CURSOR_PATTERN: &str = "^(c[1-9][0-9]{0,17})?$";

/// A case list's cursor in any [`CaseOrder`] ([`PageRequest::cursor_after`]), or nothing,
/// as a regular expression for the API document: by number as [`CURSOR_PATTERN`], else the
/// order's letter, the last case's key and its number.
pub const LIST_CURSOR_PATTERN: &str = "^(c[1-9][0-9]{0,17}|[up]-?[0-9]{1,19}\\.[1-9][0-9]{0,17})?$";

/// Decodes a cursor of a page in `order`: its key (none in number order) and case number.
fn decode_ordered(order: CaseOrder, cursor: &str) -> Result<(Option<i64>, CaseNumber), PageError> {
    let bad = || PageError::Cursor(cursor.chars().take(80).collect());
    if order == CaseOrder::Number {
        return Ok((None, decode_cursor(cursor)?));
    }
    let (key, n) = cursor
        .strip_prefix(order.tag())
        .and_then(|rest| rest.split_once('.'))
        .ok_or_else(bad)?;
    let key = key.parse::<i64>().map_err(|_| bad())?;
    let n = n
        .parse::<u64>()
        .ok()
        .and_then(CaseNumber::new)
        .ok_or_else(bad)?;
    Ok((Some(key), n))
}

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
    pub fn overfetched(items: Vec<T>, limit: u32, number: impl Fn(&T) -> CaseNumber) -> Self {
        Self::overfetched_by(items, limit, |c| encode_cursor(number(c)))
    }

    /// [`Page::overfetched`] for a list with cursors of its own: `cursor` makes the cursor
    /// of a page that ends with an item.
    pub fn overfetched_by(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(cursor)
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

    /// A page from up to `page.limit + 1` cases in `page.order`, its cursor in that order.
    pub fn in_order(mut items: Vec<Case>, page: &PageRequest) -> Self {
        let next_cursor = if items.len() > page.limit as usize {
            items.truncate(page.limit as usize);
            items.last().map(|c| page.cursor_after(c))
        } else {
            None
        };
        Self { items, next_cursor }
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

    fn numbered(n: u64) -> Case {
        let mut c = crate::testing::sample_case();
        c.number = CaseNumber::new(n).unwrap();
        c
    }

    #[test]
    fn ordered_cursors_round_trip_and_belong_to_their_order() {
        let mut case = numbered(12);
        case.priority = Priority::High;
        case.updated_at = "2026-11-24T09:00:00.123456789Z".parse().unwrap();
        for order in CaseOrder::ALL {
            let first = PageRequest::from_params_in(order, Some(2), None).unwrap();
            assert!(first.admits(&case));
            let cursor = first.cursor_after(&case);
            let next = PageRequest::from_params_in(order, Some(2), Some(&cursor)).unwrap();
            assert_eq!(next.after, CaseNumber::new(12), "{cursor}");
            assert_eq!(next.after_key, order.key(&case), "{cursor}");
            assert_eq!(next.order, order);
            // the case the cursor names is behind it
            assert!(!next.admits(&case), "{cursor}");
            for other in CaseOrder::ALL.into_iter().filter(|o| *o != order) {
                let bad = PageRequest::from_params_in(other, None, Some(&cursor)).unwrap_err();
                assert_eq!(bad.field(), "cursor", "{cursor} in {other:?}");
            }
        }
        assert_eq!(CaseOrder::Updated.key(&case), Some(1_795_510_800_123_456));
        assert_eq!(CaseOrder::Priority.key(&case), Some(1));
        for junk in ["u", "u1", "u1.", "ux.3", "u1.0", "p1.2.3"] {
            let order = if junk.starts_with('u') {
                CaseOrder::Updated
            } else {
                CaseOrder::Priority
            };
            assert!(
                PageRequest::from_params_in(order, None, Some(junk)).is_err(),
                "{junk}"
            );
        }
    }

    /// Whether `text` matches `pattern` whole (the patterns are anchored with `^…$`).
    fn matches(pattern: &str, text: &str) -> bool {
        use regex_automata::dfa::{Automaton, dense};
        use regex_automata::{Anchored, Input};
        let dfa = dense::DFA::new(pattern).unwrap();
        let input = Input::new(text).anchored(Anchored::Yes);
        dfa.try_search_fwd(&input)
            .unwrap()
            .is_some_and(|m| m.offset() == text.len())
    }

    proptest::proptest! {
        /// The API document's patterns admit every cursor a page makes, so a client that
        /// checks parameters against the document never refuses one it was given; and
        /// they refuse what no order decodes.
        #[test]
        fn every_cursor_a_page_makes_matches_the_documented_pattern(
            n in 1u64..=999_999_999_999_999_999,
            micros in -377_705_116_800_000_000i64..=253_402_207_200_000_000,
            p in 0usize..4,
        ) {
            let mut case = numbered(n);
            case.updated_at = Timestamp::from_microsecond(micros).unwrap();
            case.priority = Priority::ALL[p];
            for order in CaseOrder::ALL {
                let cursor = PageRequest::from_params_in(order, None, None)
                    .unwrap()
                    .cursor_after(&case);
                proptest::prop_assert!(matches(LIST_CURSOR_PATTERN, &cursor), "{cursor}");
                proptest::prop_assert!(PageRequest::from_params_in(order, None, Some(&cursor)).is_ok());
                if order == CaseOrder::Number {
                    proptest::prop_assert!(matches(CURSOR_PATTERN, &cursor), "{cursor}");
                }
            }
        }
    }

    #[test]
    fn the_documented_patterns_refuse_what_no_order_decodes() {
        assert!(matches(LIST_CURSOR_PATTERN, ""), "the first page");
        for junk in [
            "c0", "c", "x1", "u1", "u1.", "ux.3", "u1.0", "p1.2.3", "c1 ", "C1",
        ] {
            assert!(!matches(LIST_CURSOR_PATTERN, junk), "{junk}");
        }
        assert!(!matches(CURSOR_PATTERN, "u5.3"));
    }

    #[test]
    fn orders_put_the_most_recent_and_the_most_urgent_first() {
        let at = |n: u64, t: &str, p: Priority| {
            let mut c = numbered(n);
            c.updated_at = t.parse().unwrap();
            c.priority = p;
            c
        };
        let cases = [
            at(1, "2026-01-01T00:00:00Z", Priority::Low),
            at(2, "2026-03-01T00:00:00Z", Priority::Urgent),
            at(3, "2026-02-01T00:00:00Z", Priority::Low),
            at(4, "2026-03-01T00:00:00Z", Priority::Medium),
        ];
        let sorted = |order: CaseOrder| {
            let mut v: Vec<&Case> = cases.iter().collect();
            v.sort_by(|a, b| order.compare(a, b));
            v.iter().map(|c| c.number.get()).collect::<Vec<_>>()
        };
        assert_eq!(sorted(CaseOrder::Number), [1, 2, 3, 4]);
        assert_eq!(sorted(CaseOrder::Updated), [4, 2, 3, 1]);
        assert_eq!(sorted(CaseOrder::Priority), [2, 4, 1, 3]);
    }
}
