//! `casework events tail`: the change feed, page by page, and with `--follow` as events
//! are committed.

use std::time::Duration;

use crate::app::Failure;
use crate::cli::*;
use crate::output::{self, write_out};

use super::Ctx;

/// How often `--follow` asks for new events once it has caught up.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// `casework events tail`.
pub(crate) async fn events(cx: &Ctx<'_>, cmd: EventsCmd) -> Result<u8, Failure> {
    let EventsCmd::Tail {
        mut after,
        limit,
        follow,
    } = cmd;
    let who = cx.who().await?;
    loop {
        let page = cx.app.service.events(&who, after, limit).await?;
        let mut text = String::new();
        for entry in &page.items {
            if cx.json {
                let line = serde_json::to_string(entry)
                    .map_err(|e| Failure::internal(format!("cannot encode an event: {e}")))?;
                text.push_str(&line);
                text.push('\n');
            } else {
                text.push_str(&output::feed_line(entry));
            }
        }
        write_out(&text)?;
        let caught_up = page.next_after == after;
        after = page.next_after;
        if caught_up {
            if !follow {
                return Ok(0);
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
    }
}
