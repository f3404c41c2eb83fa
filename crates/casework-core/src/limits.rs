//! Every limit on what people and programs hand Casework, in one place. Core checks input
//! against these; the HTTP API's OpenAPI document states them (a test compares every
//! `maxLength`, `maximum` and `maxItems` it serves with this module); the CLI's defaults,
//! help and messages quote them. A limit changes here or nowhere.
//!
//! Lengths count characters (Unicode scalar values) of the text as sent, as JSON Schema's
//! `maxLength` does.

/// Free text: descriptions, posts, notes, reasons, questions, email fields.
pub const MAX_TEXT: usize = 100_000;

/// Short one-line text: titles; customers' names and accounts; products and their versions;
/// categories; resolutions; call channels; link references; collaboration groups; a report
/// row's key.
pub const MAX_SHORT_TEXT: usize = 255;

/// A person's or an API token's name.
pub const MAX_PERSON_NAME: usize = 64;

/// A phone number (a person's, a customer's).
pub const MAX_PHONE: usize = 64;

/// A status name in the workflow file, and in a request that names one.
pub const MAX_STATUS_NAME: usize = 64;

/// A defect's key in the tracker (`BUG-000123`).
pub const MAX_DEFECT_KEY: usize = 64;

/// A defect's state in the tracker (`open`, `fixed`).
pub const MAX_DEFECT_STATE: usize = 32;

/// A URL: an article's address, a documentation link in an email.
pub const MAX_URL: usize = 2048;

/// A full-text query, for search and for the case list's `q`: a query's cost grows with its
/// terms, so it is capped like any other input.
pub const MAX_QUERY: usize = 1000;

/// A search term, in characters: a longer run of letters is cut there, when indexed and
/// when searched alike.
pub const MAX_TERM: usize = 64;

/// One bound of a report's period as typed: a date (`2026-01-01`) or an RFC 3339 time.
pub const MAX_TIME_TEXT: usize = 64;

/// An `Idempotency-Key`: visible ASCII, at least one character.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The shortest API token secret accepted (the CLI makes 67-character ones).
pub const MIN_TOKEN_SECRET: usize = 32;

/// The longest call a log accepts, in minutes (a day).
pub const MAX_CALL_MINUTES: u32 = 24 * 60;

/// The largest page of a list (cases, a report's drill-down).
pub const MAX_PAGE: u32 = 500;

/// The page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;

/// The most cases `casework import` writes in one transaction.
pub const MAX_IMPORT_BATCH: u32 = 10_000;

/// Cases an import writes a transaction when no batch is asked for.
pub const DEFAULT_IMPORT_BATCH: u32 = 1000;

/// The file bytes a copy, an export or an import holds in memory before it writes what it
/// has: a batch of cases ends early once its files reach this (a case is never split).
pub const MAX_BATCH_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The longest a change-feed read waits for a new event, in seconds: below the HTTP
/// server's request timeout, so a long poll answers before the server gives up on it.
pub const MAX_FEED_WAIT: u32 = 25;

/// The most hits a search or a similar-cases query returns.
pub const MAX_HITS: u32 = 100;

/// Hits when no limit is asked for.
pub const DEFAULT_HITS: u32 = 10;

/// The most outbox messages one listing returns.
pub const MAX_OUTBOX: u32 = 1000;

/// Outbox messages listed when no limit is asked for.
pub const DEFAULT_OUTBOX: u32 = 100;

/// An email address, whole (RFC 5321's path limit, less the angle brackets).
pub const MAX_EMAIL: usize = 254;

/// The part of an email address before the `@`, in bytes (RFC 5321).
pub const MAX_EMAIL_LOCAL: usize = 64;

/// A sender's display name kept from an inbound email.
pub const MAX_INBOUND_NAME: usize = 200;

/// An inbound email's subject as kept (RFC 5322's line limit).
pub const MAX_INBOUND_SUBJECT: usize = 998;

/// An inbound address as written, kept beside core's parse of it.
pub const MAX_INBOUND_ADDRESS: usize = 320;

/// A Message-ID (RFC 5322's line limit).
pub const MAX_MESSAGE_ID: usize = 998;

/// The largest raw inbound email taken, in bytes: room for 25 MiB of attachments once
/// base64 has grown them by a third.
pub const MAX_INBOUND_MESSAGE: usize = 40 * 1024 * 1024;

/// An attachment's file name as kept.
pub const MAX_FILE_NAME: usize = 255;

/// An attachment's id.
pub const MAX_ATTACHMENT_ID: usize = 64;

/// A content type as kept (`type/subtype`, RFC 6838's limits).
pub const MAX_MEDIA_TYPE: usize = 255;

/// The default of `[attachments] max_message_bytes`: the files one message or one upload
/// may carry together, 25 MiB.
pub const DEFAULT_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;

/// The most the workflow file may set `[attachments] max_message_bytes` to: what the
/// largest inbound message taken can carry once base64 is decoded.
pub const MAX_ATTACHMENT_BYTES: usize = MAX_INBOUND_MESSAGE / 4 * 3;

/// The most files one post may carry.
pub const MAX_ATTACHMENTS: usize = 100;

/// Most bytes of a request body read and dropped after a route answered 413 (too large),
/// past what the route read: a client still sending (a browser sends a whole form before it
/// reads an answer) then reads the answer rather than a reset connection. A body declaring
/// more is answered unread.
pub const MAX_DRAIN: u64 = 64 * 1024 * 1024;

/// The largest case number: what a signed 64-bit integer holds, as stores keep it.
pub const MAX_CASE_NUMBER: u64 = i64::MAX as u64;

/// A count on the storage protocol (`limit` of a page, a search, a claim): a 32-bit number.
/// A service token is trusted with its size, as it is with every record.
pub const PROTOCOL_COUNT: u64 = u32::MAX as u64;

/// A staff password's shortest length, in characters.
pub const MIN_PASSWORD: usize = 12;

/// A staff password's longest length, in characters (hashing cost grows with it).
pub const MAX_PASSWORD: usize = 1024;

/// A session ends after this many seconds without a request (8 hours: a working day).
pub const SESSION_IDLE_SECS: u64 = 8 * 3600;

/// A session ends this many seconds after sign-in, however busy (7 days).
pub const SESSION_MAX_SECS: u64 = 7 * 24 * 3600;

/// A customer's sign-in link works for this many seconds (15 minutes), once.
pub const SIGN_IN_LINK_SECS: u64 = 15 * 60;

/// Failed sign-ins count for this many seconds (15 minutes).
pub const SIGN_IN_WINDOW_SECS: u64 = 15 * 60;

/// The fewest bytes a webhook signing secret's key may have.
pub const MIN_WEBHOOK_KEY: usize = 24;

/// The most bytes a webhook signing secret's key may have.
pub const MAX_WEBHOOK_KEY: usize = 64;

/// Failed sign-ins to one account within the window before it is refused until they age.
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 5;

/// The most suggestions the portal shows while a customer types a new case's title.
pub const MAX_SUGGESTIONS: u32 = 5;

/// The most terms of a typed title that suggestions look for (each is one search).
pub const MAX_SUGGESTION_TERMS: u64 = 8;

/// Failed sign-ins (and link requests) from one address within the window before it is
/// refused until they age.
pub const MAX_FAILURES_PER_ADDRESS: u64 = 20;

/// Every limit above, by name: what the OpenAPI document may state and the CLI may quote.
pub const ALL: &[(&str, u64)] = &[
    ("MAX_TEXT", MAX_TEXT as u64),
    ("MAX_SHORT_TEXT", MAX_SHORT_TEXT as u64),
    ("MAX_PERSON_NAME", MAX_PERSON_NAME as u64),
    ("MAX_PHONE", MAX_PHONE as u64),
    ("MAX_STATUS_NAME", MAX_STATUS_NAME as u64),
    ("MAX_DEFECT_KEY", MAX_DEFECT_KEY as u64),
    ("MAX_DEFECT_STATE", MAX_DEFECT_STATE as u64),
    ("MAX_URL", MAX_URL as u64),
    ("MAX_QUERY", MAX_QUERY as u64),
    ("MAX_TERM", MAX_TERM as u64),
    ("MAX_TIME_TEXT", MAX_TIME_TEXT as u64),
    ("MAX_IDEMPOTENCY_KEY", MAX_IDEMPOTENCY_KEY as u64),
    ("MIN_TOKEN_SECRET", MIN_TOKEN_SECRET as u64),
    ("MAX_CALL_MINUTES", MAX_CALL_MINUTES as u64),
    ("MAX_PAGE", MAX_PAGE as u64),
    ("DEFAULT_PAGE", DEFAULT_PAGE as u64),
    ("MAX_IMPORT_BATCH", MAX_IMPORT_BATCH as u64),
    ("DEFAULT_IMPORT_BATCH", DEFAULT_IMPORT_BATCH as u64),
    ("MAX_BATCH_FILE_BYTES", MAX_BATCH_FILE_BYTES),
    ("MAX_FEED_WAIT", MAX_FEED_WAIT as u64),
    ("MAX_HITS", MAX_HITS as u64),
    ("DEFAULT_HITS", DEFAULT_HITS as u64),
    ("MAX_OUTBOX", MAX_OUTBOX as u64),
    ("DEFAULT_OUTBOX", DEFAULT_OUTBOX as u64),
    ("MAX_EMAIL", MAX_EMAIL as u64),
    ("MAX_EMAIL_LOCAL", MAX_EMAIL_LOCAL as u64),
    ("MAX_INBOUND_NAME", MAX_INBOUND_NAME as u64),
    ("MAX_INBOUND_SUBJECT", MAX_INBOUND_SUBJECT as u64),
    ("MAX_INBOUND_ADDRESS", MAX_INBOUND_ADDRESS as u64),
    ("MAX_MESSAGE_ID", MAX_MESSAGE_ID as u64),
    ("MAX_INBOUND_MESSAGE", MAX_INBOUND_MESSAGE as u64),
    ("MAX_FILE_NAME", MAX_FILE_NAME as u64),
    ("MAX_ATTACHMENT_ID", MAX_ATTACHMENT_ID as u64),
    ("MAX_MEDIA_TYPE", MAX_MEDIA_TYPE as u64),
    ("DEFAULT_ATTACHMENT_BYTES", DEFAULT_ATTACHMENT_BYTES as u64),
    ("MAX_ATTACHMENT_BYTES", MAX_ATTACHMENT_BYTES as u64),
    ("MAX_ATTACHMENTS", MAX_ATTACHMENTS as u64),
    ("MAX_DRAIN", MAX_DRAIN),
    ("MAX_CASE_NUMBER", MAX_CASE_NUMBER),
    ("PROTOCOL_COUNT", PROTOCOL_COUNT),
    ("MIN_PASSWORD", MIN_PASSWORD as u64),
    ("MAX_PASSWORD", MAX_PASSWORD as u64),
    ("SESSION_IDLE_SECS", SESSION_IDLE_SECS),
    ("SESSION_MAX_SECS", SESSION_MAX_SECS),
    ("SIGN_IN_LINK_SECS", SIGN_IN_LINK_SECS),
    ("SIGN_IN_WINDOW_SECS", SIGN_IN_WINDOW_SECS),
    ("MIN_WEBHOOK_KEY", MIN_WEBHOOK_KEY as u64),
    ("MAX_WEBHOOK_KEY", MAX_WEBHOOK_KEY as u64),
    ("MAX_FAILURES_PER_ACCOUNT", MAX_FAILURES_PER_ACCOUNT),
    ("MAX_FAILURES_PER_ADDRESS", MAX_FAILURES_PER_ADDRESS),
    ("MAX_SUGGESTIONS", MAX_SUGGESTIONS as u64),
    ("MAX_SUGGESTION_TERMS", MAX_SUGGESTION_TERMS),
];

// a default never exceeds its maximum: checked as the crate builds
const _: () = assert!(DEFAULT_PAGE <= MAX_PAGE);
const _: () = assert!(DEFAULT_IMPORT_BATCH <= MAX_IMPORT_BATCH);
const _: () = assert!(DEFAULT_HITS <= MAX_HITS);
const _: () = assert!(DEFAULT_OUTBOX <= MAX_OUTBOX);
const _: () = assert!(DEFAULT_ATTACHMENT_BYTES <= MAX_ATTACHMENT_BYTES);

/// The value of the limit named `name`, if there is one.
pub fn named(name: &str) -> Option<u64> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_is_listed_once() {
        let mut names: Vec<&str> = ALL.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "a name is listed twice");
        // every `pub const` of this file is in ALL
        let source = include_str!("limits.rs");
        let declared = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub const "))
            .filter_map(|l| l.split(':').next())
            .filter(|n| *n != "ALL")
            .count();
        assert_eq!(declared, ALL.len(), "list every limit in ALL");
        assert_eq!(named("MAX_SHORT_TEXT"), Some(255));
        assert_eq!(named("nothing"), None);
    }
}
