//! Copying a whole store into another (`casework store copy`): people, tokens, articles and
//! defects, then cases with their full histories, outbox messages and files (bytes and
//! metadata) in batches, each case verified on the target (its history replays to its
//! stored state, and both equal the source's; its files' metadata, sha256 included, are
//! the source's), then webhook endpoints with their signing secrets, then the quarantine
//! (inbound messages refused and waiting for a decision, byte for byte).
//!
//! Running it again is safe: what is there already is left as it is, and a case that moved
//! on in the source since is caught up (its new events appended), so an interrupted copy
//! resumes where it stopped. One record the target refuses (a case stored there with
//! another history, a token whose id is taken) is reported and the rest goes on; a store
//! that fails (unreachable, broken) stops the copy.

use serde::Serialize;

use crate::event::replay;
use crate::ids::CaseNumber;
use crate::limits::{MAX_BATCH_FILE_BYTES, MAX_PAGE};
use crate::model::{Article, Defect, OutboxMessage};
use crate::ports::{
    CaseFilter, CaseRecord, Imported, PageRequest, QuarantinedMessage, StoreError, TransferStore,
    check_history,
};
use crate::webhook::WebhookEndpoint;

/// How many records of one kind were written, caught up or found unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Written whole.
    pub written: u64,
    /// There already, brought up to date (cases: events appended; tokens: revoked).
    pub updated: u64,
    /// There already, the same.
    pub unchanged: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, outcome: Imported) {
        match outcome {
            Imported::Written => self.written += 1,
            Imported::Extended => self.updated += 1,
            Imported::Unchanged => self.unchanged += 1,
        }
    }

    /// Everything counted.
    pub fn total(&self) -> u64 {
        self.written + self.updated + self.unchanged
    }
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// People (always written: a put replaces).
    pub people: u64,
    /// API tokens.
    pub tokens: Counts,
    /// Knowledge articles.
    pub articles: Counts,
    /// Defects.
    pub defects: Counts,
    /// Cases.
    pub cases: Counts,
    /// Outbox messages carried with their cases.
    pub messages: u64,
    /// Files carried with their cases (written, or there already the same).
    pub files: u64,
    /// Cases checked on the target after writing.
    pub verified: u64,
    /// Webhook endpoints, removed ones too (updated: removed since an earlier copy).
    pub webhooks: Counts,
    /// Inbound messages kept in the quarantine.
    pub quarantine: Counts,
    /// Records the target refused or that do not verify, each with its reason.
    pub failures: Vec<String>,
}

/// What the copy is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// People and tokens.
    People,
    /// Articles and defects.
    Articles,
    /// Cases: how many are done, of how many the source held when the copy began.
    Cases {
        /// Cases handled so far.
        done: u64,
        /// Cases in the source.
        total: u64,
    },
    /// Webhook endpoints.
    WebhookEndpoints,
    /// The inbound quarantine's messages.
    QuarantinedMail,
}

/// Whether an error is about one record (report it, go on) rather than a store.
pub(crate) fn record_level(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Duplicate(_)
            | StoreError::Invalid(_)
            | StoreError::Conflict { .. }
            | StoreError::NotFound(_)
    )
}

/// A whole case as `from` holds it: its history, outbox messages, and files with their
/// bytes (what a copy writes and an export line carries).
pub async fn read_record(
    from: &dyn TransferStore,
    n: CaseNumber,
) -> Result<CaseRecord, StoreError> {
    let mut attachments = Vec::new();
    for info in from.attachment_list(n).await? {
        attachments.push(from.attachment_get(info.id).await?);
    }
    Ok(CaseRecord {
        history: from.history(n).await?,
        outbox: from.outbox_for_case(n).await?,
        attachments,
    })
}

/// Copies everything in `from` into `to`, cases `batch` at a time; `progress` hears where
/// it stands.
pub async fn copy(
    from: &dyn TransferStore,
    to: &dyn TransferStore,
    batch: u32,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<CopyReport, StoreError> {
    let batch = batch.clamp(1, MAX_PAGE);
    let mut report = CopyReport::default();
    progress(Stage::People);
    copy_directory(from, to, &mut report).await?;
    progress(Stage::Articles);
    copy_knowledge(from, to, batch, &mut report).await?;
    let total = from.stats().await?.cases;
    let mut done = 0;
    progress(Stage::Cases { done, total });
    let mut after: Option<CaseNumber> = None;
    loop {
        let page = from
            .list_cases(
                CaseFilter::default(),
                PageRequest {
                    limit: batch,
                    after,
                    ..PageRequest::default()
                },
            )
            .await?;
        let Some(last) = page.items.last() else {
            break;
        };
        after = Some(last.number);
        // cases with many files are written before the batch is full, so a copy never
        // holds more than about MAX_BATCH_FILE_BYTES of files
        let mut records = Vec::with_capacity(page.items.len());
        let mut bytes = 0;
        for case in &page.items {
            let record = read_record(from, case.number).await?;
            bytes += record.file_bytes();
            records.push(record);
            if bytes >= MAX_BATCH_FILE_BYTES {
                copy_cases(to, std::mem::take(&mut records), &mut report).await?;
                bytes = 0;
            }
        }
        if !records.is_empty() {
            copy_cases(to, records, &mut report).await?;
        }
        done += page.items.len() as u64;
        progress(Stage::Cases { done, total });
        if page.next_cursor.is_none() {
            break;
        }
    }
    // after the cases: an import is silent, and the endpoints take deliveries only from
    // the servers that run on the target from now on
    progress(Stage::WebhookEndpoints);
    copy_webhooks(from, to, &mut report).await?;
    progress(Stage::QuarantinedMail);
    copy_quarantine(from, to, batch, &mut report).await?;
    Ok(report)
}

/// The quarantine, `batch` entries a page, each message read and written whole (one at a
/// time: a message may be tens of MiB). A message released or deleted in the source after
/// an earlier copy stays on the target (which may have kept messages of its own since).
async fn copy_quarantine(
    from: &dyn TransferStore,
    to: &dyn TransferStore,
    batch: u32,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let page = from.quarantine_list(after, batch).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.after());
        for entry in page {
            if let Some(message) = read_quarantined(from, entry.id).await? {
                put_quarantined(to, message, &mut report.quarantine, &mut report.failures).await?;
            }
        }
    }
}

/// A listed message of the quarantine with its bytes; `None` when it was released or
/// dropped since it was listed.
pub(crate) async fn read_quarantined(
    from: &dyn TransferStore,
    id: String,
) -> Result<Option<QuarantinedMessage>, StoreError> {
    match from.quarantine_get(id).await {
        Ok(m) => Ok(Some(m)),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes one kept inbound message, counting the outcome: the same message there already
/// is unchanged, a different one under its id is a failure of that record.
pub(crate) async fn put_quarantined(
    to: &dyn TransferStore,
    message: QuarantinedMessage,
    counts: &mut Counts,
    failures: &mut Vec<String>,
) -> Result<(), StoreError> {
    let id = message.id.clone();
    match to.quarantine_put(message.clone()).await {
        Ok(()) => counts.written += 1,
        Err(StoreError::Duplicate(_)) => {
            if to.quarantine_get(id.clone()).await? == message {
                counts.unchanged += 1;
            } else {
                failures.push(format!(
                    "quarantined message {id}: the target holds a different message with this id"
                ));
            }
        }
        Err(e) if record_level(&e) => failures.push(format!("quarantined message {id}: {e}")),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Webhook endpoints with their signing secrets (a receiver keeps checking the same
/// signatures after the move), removed ones too; an endpoint removed in the source since an
/// earlier copy is removed on the target at the same time. Delivery logs and deliveries
/// still queued in the source stay there.
async fn copy_webhooks(
    from: &dyn TransferStore,
    to: &dyn TransferStore,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    let there = to.webhook_list().await?;
    for endpoint in from.webhook_list().await? {
        let id = endpoint.id.clone();
        match there.iter().find(|t| t.id == id) {
            None => match to.webhook_add(endpoint).await {
                Ok(()) => report.webhooks.written += 1,
                Err(e) if record_level(&e) => {
                    report.failures.push(format!("webhook endpoint {id}: {e}"));
                }
                Err(e) => return Err(e),
            },
            Some(t) if *t == endpoint => report.webhooks.unchanged += 1,
            // the same endpoint, removed in the source since
            Some(t)
                if t.removed_at.is_none()
                    && endpoint.removed_at.is_some()
                    && *t
                        == (WebhookEndpoint {
                            removed_at: None,
                            ..endpoint.clone()
                        }) =>
            {
                let at = endpoint.removed_at.unwrap_or(endpoint.created_at);
                to.webhook_remove(id, at).await?;
                report.webhooks.updated += 1;
            }
            Some(_) => report.failures.push(format!(
                "webhook endpoint {id}: the target holds a different endpoint with this id"
            )),
        }
    }
    Ok(())
}

async fn copy_directory(
    from: &dyn TransferStore,
    to: &dyn TransferStore,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    for person in from.list_people().await? {
        to.put_person(person).await?;
        report.people += 1;
    }
    for token in from.list_tokens().await? {
        match to.put_token(token.clone()).await {
            Ok(()) => report.tokens.written += 1,
            Err(StoreError::Duplicate(_)) => match to.find_token(token.hash.clone()).await {
                Ok(there) if there == token => report.tokens.unchanged += 1,
                Ok(there)
                    if there.revoked_at.is_none()
                        && token.revoked_at.is_some()
                        && there.id == token.id =>
                {
                    let at = token.revoked_at.unwrap_or(token.created_at);
                    to.revoke_token(token.id.clone(), at).await?;
                    report.tokens.updated += 1;
                }
                Ok(_) | Err(StoreError::NotFound(_)) => report.failures.push(format!(
                    "token {}: the target holds a different token with this id or secret",
                    token.id
                )),
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn copy_knowledge(
    from: &dyn TransferStore,
    to: &dyn TransferStore,
    batch: u32,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let articles = from.list_articles(after, batch).await?;
        let Some(last) = articles.last() else { break };
        after = Some(last.id);
        for a in articles {
            put_article(to, a, &mut report.articles, &mut report.failures).await?;
        }
    }
    let mut after: Option<String> = None;
    loop {
        let defects = from.list_defects(after.clone(), batch).await?;
        let Some(last) = defects.last() else { break };
        after = Some(last.key.clone());
        for d in defects {
            put_defect(to, d, &mut report.defects, &mut report.failures).await?;
        }
    }
    Ok(())
}

/// Writes one article under its own id, counting the outcome; one the target holds
/// differently is a failure of that record, not of the store.
pub(crate) async fn put_article(
    to: &dyn TransferStore,
    a: Article,
    counts: &mut Counts,
    failures: &mut Vec<String>,
) -> Result<(), StoreError> {
    let id = a.id;
    match to.import_article(a).await {
        Ok(outcome) => counts.add(outcome),
        Err(e) if record_level(&e) => failures.push(format!("article {id}: {e}")),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Writes one defect, counting the outcome: the same defect there already is unchanged, a
/// different one under its key is a failure of that record.
pub(crate) async fn put_defect(
    to: &dyn TransferStore,
    d: Defect,
    counts: &mut Counts,
    failures: &mut Vec<String>,
) -> Result<(), StoreError> {
    match to.add_defect(d.clone()).await {
        Ok(_) => counts.written += 1,
        Err(StoreError::Duplicate(_)) => {
            if to.get_defect(d.key.clone()).await? == d {
                counts.unchanged += 1;
            } else {
                failures.push(format!(
                    "defect {}: the target holds a different defect with this key",
                    d.key
                ));
            }
        }
        Err(e) => return Err(e),
    }
    Ok(())
}

/// What writing one batch of cases did.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub(crate) cases: Counts,
    pub(crate) messages: u64,
    pub(crate) files: u64,
    pub(crate) verified: u64,
    pub(crate) failures: Vec<String>,
}

async fn copy_cases(
    to: &dyn TransferStore,
    records: Vec<CaseRecord>,
    report: &mut CopyReport,
) -> Result<(), StoreError> {
    let w = write_cases(to, records, true).await?;
    report.cases.written += w.cases.written;
    report.cases.updated += w.cases.updated;
    report.cases.unchanged += w.cases.unchanged;
    report.messages += w.messages;
    report.files += w.files;
    report.verified += w.verified;
    report.failures.extend(w.failures);
    Ok(())
}

/// Imports a batch in one step; if the target refuses it, case by case, so one bad case
/// does not stop the rest. Then, with `check`, verifies each written case on the target.
pub(crate) async fn write_cases(
    to: &dyn TransferStore,
    records: Vec<CaseRecord>,
    check: bool,
) -> Result<Written, StoreError> {
    let mut out = Written::default();
    let mut imported: Vec<(CaseRecord, Imported)> = Vec::with_capacity(records.len());
    match to.import_cases(records.clone()).await {
        Ok(outcomes) => imported.extend(records.into_iter().zip(outcomes)),
        Err(e) if record_level(&e) => {
            for record in records {
                let number = record.history.first().map(|e| e.case);
                match to.import_cases(vec![record.clone()]).await {
                    Ok(outcomes) => {
                        if let Some(outcome) = outcomes.first() {
                            imported.push((record, *outcome));
                        }
                    }
                    Err(e) if record_level(&e) => out.failures.push(match number {
                        Some(n) => format!("case {n}: {e}"),
                        None => format!("a case without events: {e}"),
                    }),
                    Err(e) => return Err(e),
                }
            }
        }
        Err(e) => return Err(e),
    }
    for (record, outcome) in imported {
        out.cases.add(outcome);
        out.messages += record.outbox.len() as u64;
        out.files += record.attachments.len() as u64;
        if check {
            match verify(to, &record).await? {
                None => out.verified += 1,
                Some(problem) => out.failures.push(problem),
            }
        }
    }
    Ok(out)
}

/// The delivery state of a message, as compared after a copy (stores keep times to the
/// microsecond or finer, so times are compared by presence).
fn delivery(m: &OutboxMessage) -> (String, crate::model::OutboxStatus, u32, bool) {
    (m.id.clone(), m.status, m.attempts, m.sent_at.is_some())
}

/// Checks one copied case on the target: its history equals the source's and replays to
/// the state the target stores; its outbox holds the same messages in the same state.
/// `None` when it holds, else what is wrong.
async fn verify(to: &dyn TransferStore, record: &CaseRecord) -> Result<Option<String>, StoreError> {
    let expected = match check_history(&record.history) {
        Ok(case) => case,
        Err(e) => return Ok(Some(format!("a source case does not replay: {e}"))),
    };
    let n = expected.number;
    let history = to.history(n).await?;
    if history != record.history {
        return Ok(Some(format!(
            "case {n}: its history on the target differs from the source's"
        )));
    }
    let stored = to.load_case(n).await?;
    match replay(&history) {
        Ok(replayed) if replayed == stored && stored == expected => {}
        _ => {
            return Ok(Some(format!(
                "case {n}: its history does not replay to its stored state on the target"
            )));
        }
    }
    let there: Vec<_> = to.outbox_for_case(n).await?.iter().map(delivery).collect();
    let here: Vec<_> = record.outbox.iter().map(delivery).collect();
    if there != here {
        return Ok(Some(format!(
            "case {n}: its outbox on the target differs from the source's"
        )));
    }
    let files = to.attachment_list(n).await?;
    if !files.iter().eq(record.attachments.iter().map(|f| &f.info)) {
        return Ok(Some(format!(
            "case {n}: its files on the target differ from the source's"
        )));
    }
    Ok(None)
}
