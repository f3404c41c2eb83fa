//! `casework status map OLD=NEW`.

use crate::app::Failure;
use crate::cli::*;
use crate::output::{outln, print_json};

use super::Ctx;

/// `casework status map`.
pub(crate) async fn map(cx: &Ctx<'_>, cmd: StatusCmd) -> Result<u8, Failure> {
    let (svc, json) = (&cx.app.service, cx.json);
    let StatusCmd::Map { mapping } = cmd;
    let who = cx.who().await?;
    let Some((from, to)) = mapping.split_once('=') else {
        return Err(Failure::usage(format!(
            "expected OLD=NEW (e.g. New=Open), got {mapping:?}"
        )));
    };
    let summary = svc.map_status(&who, from, to).await?;
    if json {
        print_json(&summary)?;
    } else {
        let s = if summary.moved == 1 { "" } else { "s" };
        outln!(
            "Moved {} case{s} from {} to {}",
            summary.moved,
            summary.from,
            summary.to
        );
        for c in &summary.skipped {
            outln!("Skipped case {}: {}", c.number.display(), c.reason);
        }
    }
    Ok(if summary.skipped.is_empty() {
        0
    } else {
        crate::exit::REFUSED
    })
}
