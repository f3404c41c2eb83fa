//! The rendered timeline kept in memory, per case and audience, so a case page read again
//! is not rebuilt from the history: reading and decoding 200 events, turning them into
//! entries and HTML-escaping their text were most of a long case page's time.
//!
//! # What keeps it right
//!
//! - **Who it was rendered for** is part of the key: the page (desk or portal), the
//!   visitor's role and, for a customer, their address; and how much of it (the newest
//!   entries, or all of them). A customer's timeline is never
//!   served to staff or to another customer, nor staff's to a customer; and every request
//!   still goes through the service's own checks (the case must be visible to the visitor)
//!   before the cache is asked.
//! - **What it shows** is compared in full before a kept fragment is served: the case
//!   version (every event, every file, comes with a new version), the emails' delivery
//!   states (which change without one) and the files the service gives this visitor, all
//!   read for this request. Anything else renders anew and replaces the old fragment. A
//!   write by another process is seen at once because the case version is read through
//!   the store's own cross-process invalidation (SQLite's read cache checks
//!   `data_version` before every read).
//! - A fragment is kept only when the history it was rendered from was read at the version
//!   it is kept under (the case is read again after the history: a write in between keeps
//!   nothing), so a kept fragment is never older or newer than its key.
//! - It holds no form and no CSRF token: those are rendered for each request around it.
//!
//! Bounded by bytes ([`TIMELINE_CACHE_BYTES`] by default): the least recently served
//! fragment goes first.

use std::sync::{Arc, Mutex};

use casework_core::model::{DeliveryStatus, Role};
use casework_core::ports::AttachmentInfo;
use hashlink::LruCache;

use crate::timeline::Span;

/// The most bytes of rendered timeline HTML kept (about a hundred 200-entry timelines).
pub const TIMELINE_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Who a fragment was rendered for, and on which page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Audience {
    /// The case number.
    pub case: u64,
    /// The desk's page (staff, newest first) or the portal's (the customer, oldest first).
    pub desk: bool,
    /// The newest entries or all of them.
    pub span: Span,
    /// The visitor's role.
    pub role: Role,
    /// For a customer, their address (the cases they see are theirs).
    pub customer: Option<String>,
}

/// Everything a rendered timeline depends on besides the history itself, as read for one
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// The case version.
    pub version: u64,
    /// The emails' delivery states, by outbox message id, as the visitor is told them.
    pub deliveries: Vec<(String, DeliveryStatus)>,
    /// The files the visitor is given.
    pub files: Vec<AttachmentInfo>,
}

struct Kept {
    stamp: Stamp,
    html: Arc<str>,
    bytes: usize,
}

struct Entries {
    kept: LruCache<Audience, Kept>,
    bytes: usize,
}

/// Rendered timelines; see the module's documentation.
pub struct TimelineCache {
    entries: Mutex<Entries>,
    budget: usize,
}

impl Default for TimelineCache {
    fn default() -> Self {
        Self::new(TIMELINE_CACHE_BYTES)
    }
}

impl TimelineCache {
    /// A cache holding at most `budget` bytes of HTML (0 keeps nothing).
    pub fn new(budget: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                kept: LruCache::new_unbounded(),
                bytes: 0,
            }),
            budget,
        }
    }

    /// The fragment rendered for `audience` from exactly `stamp`, if one is kept.
    pub fn get(&self, audience: &Audience, stamp: &Stamp) -> Option<Arc<str>> {
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match e.kept.get(audience) {
            Some(k) if k.stamp == *stamp => Some(k.html.clone()),
            _ => None,
        }
    }

    /// Keeps `html`, rendered for `audience` from `stamp`, in place of what was kept for it.
    pub fn keep(&self, audience: Audience, stamp: Stamp, html: Arc<str>) {
        let bytes = html.len() + weight(&stamp);
        let mut e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = e.kept.remove(&audience) {
            e.bytes -= old.bytes;
        }
        if bytes > self.budget {
            return;
        }
        e.kept.insert(audience, Kept { stamp, html, bytes });
        e.bytes += bytes;
        while e.bytes > self.budget {
            match e.kept.remove_lru() {
                Some((_, k)) => e.bytes -= k.bytes,
                None => break,
            }
        }
    }

    /// How many fragments and bytes are kept.
    pub fn size(&self) -> (usize, usize) {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        (e.kept.len(), e.bytes)
    }
}

/// About what a stamp holds in memory.
fn weight(stamp: &Stamp) -> usize {
    let deliveries: usize = stamp
        .deliveries
        .iter()
        .map(|(id, d)| 64 + id.len() + d.last_error.as_ref().map_or(0, String::len))
        .sum();
    let files: usize = stamp
        .files
        .iter()
        .map(|f| 128 + f.id.len() + f.file_name.len() + f.added_by.len() + f.sha256.len())
        .sum();
    128 + deliveries + files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audience(case: u64) -> Audience {
        Audience {
            case,
            desk: true,
            span: Span::Newest,
            role: Role::Agent,
            customer: None,
        }
    }

    fn stamp(version: u64) -> Stamp {
        Stamp {
            version,
            deliveries: Vec::new(),
            files: Vec::new(),
        }
    }

    #[test]
    fn a_fragment_is_served_only_to_its_audience_and_stamp() {
        let cache = TimelineCache::new(1 << 20);
        cache.keep(audience(1), stamp(3), "<ol>three</ol>".into());
        assert_eq!(
            cache.get(&audience(1), &stamp(3)).as_deref(),
            Some("<ol>three</ol>")
        );
        assert!(cache.get(&audience(1), &stamp(4)).is_none());
        assert!(cache.get(&audience(2), &stamp(3)).is_none());
        let customer = Audience {
            role: Role::Customer,
            customer: Some("jordan@customer.example".into()),
            desk: false,
            ..audience(1)
        };
        assert!(cache.get(&customer, &stamp(3)).is_none());
        let lead = Audience {
            role: Role::Lead,
            ..audience(1)
        };
        assert!(cache.get(&lead, &stamp(3)).is_none());
        let all = Audience {
            span: Span::All,
            ..audience(1)
        };
        assert!(cache.get(&all, &stamp(3)).is_none());
        // a newer render replaces the old one
        cache.keep(audience(1), stamp(4), "<ol>four</ol>".into());
        assert!(cache.get(&audience(1), &stamp(3)).is_none());
        assert_eq!(cache.size().0, 1);
    }

    #[test]
    fn the_cache_stays_within_its_bytes_dropping_the_least_recently_served() {
        let html: Arc<str> = "x".repeat(1000).into();
        let one = html.len() + weight(&stamp(1));
        let cache = TimelineCache::new(one * 3);
        for case in 1..=3 {
            cache.keep(audience(case), stamp(1), html.clone());
        }
        assert_eq!(cache.size(), (3, one * 3));
        // case 1 served last: case 2 is the least recently served
        assert!(cache.get(&audience(1), &stamp(1)).is_some());
        cache.keep(audience(4), stamp(1), html.clone());
        assert_eq!(cache.size(), (3, one * 3));
        assert!(cache.get(&audience(2), &stamp(1)).is_none());
        assert!(cache.get(&audience(1), &stamp(1)).is_some());
        // a fragment larger than the whole budget is not kept
        cache.keep(audience(5), stamp(1), "y".repeat(one * 4).into());
        assert!(cache.get(&audience(5), &stamp(1)).is_none());
        assert!(cache.size().1 <= one * 3);
        // nothing is kept with no budget
        let none = TimelineCache::new(0);
        none.keep(audience(1), stamp(1), html);
        assert_eq!(none.size(), (0, 0));
    }
}
