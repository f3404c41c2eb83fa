//! The background reindex of search rows written before terms were stemmed and folded
//! (schema v4): each old row's text is read again from its source (the case, the event, the
//! article, the defect) and its `tsvector` rewritten with core's normalized terms, a batch at
//! a time, while the store serves. Until it is done, queries look for each word as typed
//! too (`Lexemes::NormalizedOrSurface`), so old rows keep matching. A server stopped midway
//! resumes at its next start; servers starting together each walk the rows, and a row
//! already rewritten (by another, or by an edit) is skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use casework_core::event::Event;
use casework_core::model::{Article, Case, Defect};
use casework_core::ports::StoreError;
use deadpool_postgres::{GenericClient, Pool};

use crate::db::{exec, get, json, one, opt, pool_err, rows};
use crate::text::{Weight, tsvector};

/// Rows read per batch.
const BATCH: i64 = 500;

/// Whether old rows are still to be reindexed.
pub async fn pending(c: &impl GenericClient) -> Result<bool, StoreError> {
    let row = one(c, "SELECT NOT done FROM search_reindex", &[]).await?;
    get(&row, 0)
}

/// Reindexes every old row, reporting progress on standard error; clears `reindexing` when
/// done. An error stops it (the rest is done at the next start) and is reported.
pub async fn run(pool: Pool, reindexing: Arc<AtomicBool>) {
    match reindex(&pool).await {
        Ok(n) => {
            reindexing.store(false, Ordering::Relaxed);
            eprintln!("casework: search reindex done ({n} rows rewritten)");
        }
        Err(e) => eprintln!("casework: search reindex stopped: {e} (it resumes at the next start)"),
    }
}

async fn reindex(pool: &Pool) -> Result<u64, StoreError> {
    let c = pool.get().await.map_err(pool_err)?;
    let total: i64 = get(
        &one(
            &c,
            "SELECT (SELECT count(*) FROM search_public WHERE NOT normalized)
                  + (SELECT count(*) FROM search_internal WHERE NOT normalized)",
            &[],
        )
        .await?,
        0,
    )?;
    drop(c);
    let total = total.max(1) as u64;
    eprintln!("casework: search reindex of {total} rows begins (the store serves meanwhile)");
    let (mut done, mut shown) = (0u64, 0u64);
    for table in ["search_public", "search_internal"] {
        let mut after = (String::new(), i64::MIN, i64::MIN);
        loop {
            let c = pool.get().await.map_err(pool_err)?;
            let batch = rows(
                &c,
                &format!(
                    "SELECT kind, doc, seq FROM {table}
                     WHERE (kind, doc, seq) > ($1, $2, $3) AND NOT normalized
                     ORDER BY kind, doc, seq LIMIT {BATCH}"
                ),
                &[&after.0, &after.1, &after.2],
            )
            .await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = (get(last, 0)?, get(last, 1)?, get(last, 2)?);
            for row in &batch {
                let (kind, doc, seq): (String, i64, i64) =
                    (get(row, 0)?, get(row, 1)?, get(row, 2)?);
                if let Some(tsv) = source(&c, &kind, doc, seq).await? {
                    done += exec(
                        &c,
                        &format!(
                            "UPDATE {table} SET tsv = $4::text::tsvector, normalized = true
                             WHERE kind = $1 AND doc = $2 AND seq = $3 AND NOT normalized"
                        ),
                        &[&kind, &doc, &seq, &tsv],
                    )
                    .await?;
                }
            }
            let percent = done * 100 / total;
            if percent >= shown + 10 {
                shown = percent - percent % 10;
                eprintln!("casework: search reindex {shown}% ({done} of {total} rows)");
            }
        }
    }
    let c = pool.get().await.map_err(pool_err)?;
    exec(&c, "UPDATE search_reindex SET done = true", &[]).await?;
    Ok(done)
}

/// A row's `tsvector` literal made again from its source, as the write path makes it; `None`
/// when the source is gone.
async fn source(
    c: &impl GenericClient,
    kind: &str,
    doc: i64,
    seq: i64,
) -> Result<Option<String>, StoreError> {
    Ok(match (kind, seq) {
        ("case", 0) => opt(c, "SELECT state FROM cases WHERE number = $1", &[&doc])
            .await?
            .map(|r| json::<Case>(&r, 0))
            .transpose()?
            .map(|case| {
                tsvector(&[
                    (&case.title, Weight::Title),
                    (&case.description, Weight::Body),
                ])
            }),
        ("case", _) => opt(
            c,
            "SELECT body FROM events WHERE case_number = $1 AND seq = $2",
            &[&doc, &seq],
        )
        .await?
        .map(|r| json::<Event>(&r, 0))
        .transpose()?
        .and_then(|e| e.text().map(|(_, text)| tsvector(&[(text, Weight::Body)]))),
        ("article", _) => opt(c, "SELECT body FROM articles WHERE id = $1", &[&doc])
            .await?
            .map(|r| json::<Article>(&r, 0))
            .transpose()?
            .map(|a| tsvector(&[(&a.title, Weight::Title), (&a.body, Weight::Body)])),
        ("defect", _) => opt(c, "SELECT body FROM defects WHERE id = $1", &[&doc])
            .await?
            .map(|r| json::<Defect>(&r, 0))
            .transpose()?
            .map(|d| {
                tsvector(&[
                    (&d.key, Weight::Body),
                    (&d.title, Weight::Title),
                    (&d.body, Weight::Body),
                ])
            }),
        _ => None,
    })
}
