//! The change feed: committed events after a position, as the caller may see them, with a
//! long poll that waits (bounded) for the next one.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use casework_core::limits::{DEFAULT_PAGE, MAX_FEED_WAIT, MAX_PAGE};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Auth;
use crate::extract::{Params, limit};
use crate::rules::Accepts::Range;
use crate::rules::Field::Query;
use crate::rules::Rule;
use crate::{ApiError, AppState, openapi};

/// How often a long poll asks the store again: writes may come from another process on
/// the same store, so there is nothing in-process to wait on.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// What the parameters of this request accept (applied to the document by [`crate::rules`]).
pub(crate) const RULES: &[Rule] = &[
    Rule(Query("/api/v1/events", "limit"), Range(1, MAX_PAGE as u64)),
    Rule(
        Query("/api/v1/events", "wait"),
        Range(0, MAX_FEED_WAIT as u64),
    ),
];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQ {
    /// Events after this position: 0 (the default) for the start, else the `next_after` of
    /// the previous page.
    after: Option<u64>,
    /// At most this many (1 to {MAX_PAGE}, default {DEFAULT_PAGE}).
    limit: Option<u32>,
    /// When nothing is new, wait up to this many seconds (0 to {MAX_FEED_WAIT}, default 0)
    /// for an event before answering with an empty page.
    wait: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    summary = "The change feed: committed events after a position, in commit order",
    description = "Every committed event has a position, unique and increasing in commit order \
        and stable for ever (numbers may be skipped). Store `next_after` and ask after it: \
        every event you may see arrives once, none is missed. Staff who may read case \
        histories get whole events; a customer gets only their own cases' events, as a \
        customer may see them (no internal note or field). With `wait`, an empty answer \
        waits for the next event (long poll).",
    params(EventsQ),
    responses((status = 200, description = "A page of the feed", body = casework_core::service::FeedPage), openapi::Problems)
)]
pub(crate) async fn events(
    State(s): State<AppState>,
    Auth(a): Auth,
    Params(q): Params<EventsQ>,
) -> Result<Response, ApiError> {
    let after = q.after.unwrap_or(0);
    let limit = limit(q.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let wait = match q.wait.unwrap_or(0) {
        w if w <= MAX_FEED_WAIT => std::time::Duration::from_secs(u64::from(w)),
        _ => {
            return Err(ApiError::invalid(
                "wait",
                format!("wait must be between 0 and {MAX_FEED_WAIT} seconds"),
            ));
        }
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let page = s.service.events(&a, after, limit).await?;
        // an answer as soon as there is something, or the read went past events the
        // caller may not see (so their position moves on), or the wait is over
        if !page.items.is_empty()
            || page.next_after != after
            || tokio::time::Instant::now() + POLL_EVERY > deadline
        {
            return Ok(Json(page).into_response());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
