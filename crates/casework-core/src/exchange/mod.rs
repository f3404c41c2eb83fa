//! `casework export` and `casework import`: Casework's own NDJSON (one record a line: a
//! header, then people, articles, defects, every case with its full history, its outbox
//! messages and its files, bytes as base64, and the quarantine's messages, bytes as
//! base64), and the importer every source goes through: Casework's NDJSON here,
//! Zendesk's incremental ticket export in [`zendesk`], a Salesforce Data Export in
//! [`salesforce`].
//!
//! Core reads and writes no file: the CLI reads lines and hands them here, and writes what
//! [`Exporter::next`] gives. Cases are written by the store's bulk load
//! ([`StoreTransfer::import_cases`]) under their own numbers and with their own dates, a
//! batch a transaction, so an import
//!
//! - is idempotent: a case stored with the same history is unchanged, one stored with the
//!   start of it is caught up (its new events appended), one stored with another history
//!   is refused with its reason and the rest goes on;
//! - resumes after a kill: the batches written are there, the rest is written by the next
//!   run;
//! - is silent: histories are written as they are, so nothing is decided, no email is
//!   queued and no notification sent (an export's own outbox messages keep their state);
//! - with `dry_run`, checks every record (each history must replay) and writes nothing.

pub mod salesforce;
pub mod zendesk;

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::config::WorkflowConfig;
use crate::ids::CaseNumber;
use crate::limits::{MAX_BATCH_FILE_BYTES, MAX_PAGE};
use crate::model::{Article, Defect, Person};
use crate::ports::{
    CaseFilter, CaseRecord, PageRequest, QuarantineAfter, QuarantinedMessage, StoreError,
    TransferStore, check_record,
};
use crate::transfer::{
    Counts, put_article, put_defect, put_quarantined, read_quarantined, read_record, write_cases,
};

/// The `format` of a Casework export's header line.
pub const FORMAT: &str = "casework";

/// The version of the NDJSON layout this Casework writes and reads (3: the quarantine's
/// messages travel too; a Casework that reads 2 refuses a 3 by its header).
pub const VERSION: u32 = 3;

/// One line of a Casework NDJSON export, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Line {
    /// The first line: what the file is.
    Header(Header),
    /// A person (staff or service account).
    Person(Person),
    /// A knowledge article, with its id.
    Article(Article),
    /// A defect.
    Defect(Defect),
    /// A case: its whole history from `opened`, its outbox messages, and its files
    /// (`attachments`, each with its metadata and its bytes as standard base64; absent
    /// when it has none, as in exports written before files travelled).
    Case(CaseRecord),
    /// An inbound message kept in the quarantine, its bytes (`raw`) as standard base64.
    Quarantined(QuarantinedMessage),
}

/// What an export file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The layout's version ([`VERSION`]).
    pub version: u32,
    /// How many cases the store held when the export began (for an import's progress).
    pub cases: u64,
}

impl Line {
    /// One line of NDJSON as written by [`Line::to_json`]; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Line, String> {
        let line: Line = serde_json::from_str(text).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => e.to_string(),
            _ => format!("not a JSON record: {e}"),
        })?;
        if let Line::Header(h) = &line {
            if h.format != FORMAT {
                return Err(format!("not a Casework export (format {:?})", h.format));
            }
            if h.version > VERSION {
                return Err(format!(
                    "export version {} is newer than this Casework reads ({VERSION}): upgrade \
                     Casework first",
                    h.version
                ));
            }
        }
        Ok(line)
    }

    /// The line as one line of JSON (no newline).
    pub fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Internal(e.to_string()))
    }
}

/// Where an export stands.
#[derive(Debug, Clone)]
enum Cursor {
    Header,
    People,
    Articles(Option<u64>),
    Defects(Option<String>),
    Cases(Option<CaseNumber>),
    Quarantine(Option<QuarantineAfter>),
    Done,
}

/// Reads a whole store as export lines, a batch at a time: the header, people, articles by
/// id, defects by key, cases by number, each with its history and outbox, then the
/// quarantine oldest first. Tokens are
/// not exported: they are credentials of this installation (`casework store copy` moves
/// them).
pub struct Exporter<'a> {
    store: &'a dyn TransferStore,
    batch: u32,
    cursor: Cursor,
    /// Cases written so far.
    pub cases: u64,
    /// Cases the store held when the export began.
    pub total: u64,
}

impl<'a> Exporter<'a> {
    /// An export of `store`, `batch` records a step.
    pub(crate) fn new(store: &'a dyn TransferStore, batch: u32) -> Self {
        Self {
            store,
            batch: batch.clamp(1, MAX_PAGE),
            cursor: Cursor::Header,
            cases: 0,
            total: 0,
        }
    }

    /// The next lines, or `None` when everything is out.
    pub async fn next(&mut self) -> Result<Option<Vec<Line>>, StoreError> {
        loop {
            let (lines, next) = match self.cursor.clone() {
                Cursor::Done => return Ok(None),
                Cursor::Header => {
                    self.total = self.store.stats().await?.cases;
                    let header = Line::Header(Header {
                        format: FORMAT.into(),
                        version: VERSION,
                        cases: self.total,
                    });
                    (vec![header], Cursor::People)
                }
                Cursor::People => {
                    let people = self.store.list_people().await?;
                    (
                        people.into_iter().map(Line::Person).collect(),
                        Cursor::Articles(None),
                    )
                }
                Cursor::Articles(after) => {
                    let articles = self.store.list_articles(after, self.batch).await?;
                    match articles.last() {
                        None => (Vec::new(), Cursor::Defects(None)),
                        Some(last) => {
                            let next = Cursor::Articles(Some(last.id));
                            (articles.into_iter().map(Line::Article).collect(), next)
                        }
                    }
                }
                Cursor::Defects(after) => {
                    let defects = self.store.list_defects(after, self.batch).await?;
                    match defects.last() {
                        None => (Vec::new(), Cursor::Cases(None)),
                        Some(last) => {
                            let next = Cursor::Defects(Some(last.key.clone()));
                            (defects.into_iter().map(Line::Defect).collect(), next)
                        }
                    }
                }
                Cursor::Cases(after) => {
                    let page = self
                        .store
                        .list_cases(
                            CaseFilter::default(),
                            PageRequest {
                                limit: self.batch,
                                after,
                                ..PageRequest::default()
                            },
                        )
                        .await?;
                    let mut next = match (page.items.last(), &page.next_cursor) {
                        (Some(last), Some(_)) => Cursor::Cases(Some(last.number)),
                        _ => Cursor::Quarantine(None),
                    };
                    let mut lines = Vec::with_capacity(page.items.len());
                    let mut bytes = 0;
                    for (i, case) in page.items.iter().enumerate() {
                        let record = read_record(self.store, case.number).await?;
                        bytes += record.file_bytes();
                        lines.push(Line::Case(record));
                        // files make big lines: give what is read, go on after it
                        if bytes >= MAX_BATCH_FILE_BYTES && i + 1 < page.items.len() {
                            next = Cursor::Cases(Some(case.number));
                            break;
                        }
                    }
                    self.cases += lines.len() as u64;
                    (lines, next)
                }
                Cursor::Quarantine(after) => {
                    let page = self.store.quarantine_list(after, self.batch).await?;
                    let mut next = match page.last() {
                        Some(last) => Cursor::Quarantine(Some(last.after())),
                        None => Cursor::Done,
                    };
                    let mut lines = Vec::with_capacity(page.len());
                    let mut bytes = 0;
                    for (i, entry) in page.iter().enumerate() {
                        let Some(message) = read_quarantined(self.store, entry.id.clone()).await?
                        else {
                            continue;
                        };
                        bytes += message.raw.len() as u64;
                        lines.push(Line::Quarantined(message));
                        // messages may be tens of MiB: give what is read, go on after it
                        if bytes >= MAX_BATCH_FILE_BYTES && i + 1 < page.len() {
                            next = Cursor::Quarantine(Some(entry.after()));
                            break;
                        }
                    }
                    (lines, next)
                }
            };
            self.cursor = next;
            if !lines.is_empty() {
                return Ok(Some(lines));
            }
        }
    }
}

/// Appends an event of `case` at the next position: how another system's records become
/// a history.
pub(crate) fn append(
    events: &mut Vec<crate::event::Event>,
    case: CaseNumber,
    at: jiff::Timestamp,
    actor: String,
    kind: crate::event::EventKind,
) {
    let seq = events.len() as u64 + 1;
    events.push(crate::event::Event {
        case,
        seq,
        at,
        actor,
        kind,
    });
}

/// One line of text: line breaks and runs of blanks become one space.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Where the records came from: `ndjson`, `zendesk`, `salesforce`.
    pub source: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Records read from the source (lines, tickets, rows).
    pub rows: u64,
    /// Records that passed every check (and, unless a dry run, were handed to the store).
    pub checked: u64,
    /// People written (a person is put whole, replacing one of the same name).
    pub people: u64,
    /// Articles.
    pub articles: Counts,
    /// Defects.
    pub defects: Counts,
    /// Cases: written, caught up, or there already the same.
    pub cases: Counts,
    /// Outbox messages carried with their cases.
    pub messages: u64,
    /// Files carried with their cases (written, or there already the same).
    pub files: u64,
    /// Inbound messages kept in the quarantine.
    pub quarantine: Counts,
    /// Columns or fields of the source that were not carried, by name.
    pub unmapped: Vec<String>,
    /// Records not imported, each with where it was and why.
    pub refused: Vec<String>,
}

/// Takes records from any source into a store, cases in batches (one transaction each).
/// Made by [`crate::CaseService::importer`], which checks who may.
pub struct Importer<'a> {
    store: &'a dyn TransferStore,
    batch: usize,
    pending: Vec<CaseRecord>,
    pending_bytes: u64,
    unmapped: BTreeSet<String>,
    report: ImportReport,
    workflow: Arc<WorkflowConfig>,
}

impl<'a> Importer<'a> {
    /// An importer into `store` from `source`, `batch` cases a transaction; another
    /// system's statuses map onto `workflow`'s.
    pub(crate) fn new(
        store: &'a dyn TransferStore,
        source: &str,
        dry_run: bool,
        batch: u32,
        workflow: Arc<WorkflowConfig>,
    ) -> Self {
        Self {
            workflow,
            store,
            batch: batch.max(1) as usize,
            pending: Vec::new(),
            pending_bytes: 0,
            unmapped: BTreeSet::new(),
            report: ImportReport {
                source: source.to_string(),
                dry_run,
                ..ImportReport::default()
            },
        }
    }

    /// The workflow file in force: what another system's statuses become.
    pub fn workflow(&self) -> &WorkflowConfig {
        &self.workflow
    }

    /// The report so far (for progress).
    pub fn report(&self) -> &ImportReport {
        &self.report
    }

    /// Counts `n` records read from the source.
    pub fn read(&mut self, n: u64) {
        self.report.rows += n;
    }

    /// Records that the record at `at` was not imported, and why; the rest goes on.
    pub fn refuse(&mut self, at: impl std::fmt::Display, reason: impl std::fmt::Display) {
        self.report.refused.push(format!("{at}: {reason}"));
    }

    /// Notes a column or field of the source that is not carried.
    pub fn unmapped(&mut self, name: &str) {
        if !self.unmapped.contains(name) {
            self.unmapped.insert(name.to_string());
        }
    }

    /// Takes one record (a header line is checked by [`Line::parse`] and otherwise
    /// skipped). A record that does not check is refused with `at` and its reason; a store
    /// that fails stops the import.
    pub async fn add(&mut self, at: impl std::fmt::Display, line: Line) -> Result<(), StoreError> {
        let dry = self.report.dry_run;
        match line {
            Line::Header(_) => return Ok(()),
            Line::Person(p) => {
                if let Some(problem) = crate::input::line_problem(&p.name) {
                    self.refuse(at, format!("person {:?}: name: {problem}", p.name));
                    return Ok(());
                }
                if !dry {
                    self.store.put_person(p).await?;
                    self.report.people += 1;
                }
            }
            Line::Article(a) => {
                if !dry {
                    let r = &mut self.report;
                    put_article(self.store, a, &mut r.articles, &mut r.refused).await?;
                }
            }
            Line::Defect(d) => {
                if !dry {
                    let r = &mut self.report;
                    put_defect(self.store, d, &mut r.defects, &mut r.refused).await?;
                }
            }
            Line::Quarantined(message) => {
                if let Some(problem) = crate::input::line_problem(&message.id) {
                    self.refuse(at, format!("quarantined message id: {problem}"));
                    return Ok(());
                }
                if !dry {
                    let r = &mut self.report;
                    put_quarantined(self.store, message, &mut r.quarantine, &mut r.refused).await?;
                }
            }
            Line::Case(record) => {
                if let Err(e) = check_record(&record) {
                    match e {
                        StoreError::Invalid(why) => self.refuse(at, why),
                        other => self.refuse(at, other),
                    }
                    return Ok(());
                }
                if let Some(m) = record
                    .outbox
                    .iter()
                    .find(|m| Some(&m.case) != record.history.first().map(|e| &e.case))
                {
                    self.refuse(
                        at,
                        format!("outbox message {} belongs to case {}", m.id, m.case),
                    );
                    return Ok(());
                }
                if !dry {
                    self.pending_bytes += record.file_bytes();
                    self.pending.push(record);
                    if self.pending.len() >= self.batch
                        || self.pending_bytes >= MAX_BATCH_FILE_BYTES
                    {
                        self.flush().await?;
                    }
                }
            }
        }
        self.report.checked += 1;
        Ok(())
    }

    /// Takes a history converted from another system's record at `at`, or refuses the
    /// record with why it could not be converted.
    pub async fn add_history(
        &mut self,
        at: impl std::fmt::Display,
        converted: Result<Vec<crate::event::Event>, String>,
    ) -> Result<(), StoreError> {
        match converted {
            Ok(history) => {
                let record = CaseRecord {
                    history,
                    outbox: Vec::new(),
                    attachments: Vec::new(),
                };
                self.add(at, Line::Case(record)).await
            }
            Err(why) => {
                self.refuse(at, why);
                Ok(())
            }
        }
    }

    /// Writes the cases held back for the current batch.
    pub async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let w = write_cases(self.store, records, false).await?;
        let r = &mut self.report;
        r.cases.written += w.cases.written;
        r.cases.updated += w.cases.updated;
        r.cases.unchanged += w.cases.unchanged;
        r.messages += w.messages;
        r.files += w.files;
        r.refused.extend(w.failures);
        Ok(())
    }

    /// Writes what is held back and gives the report.
    pub async fn finish(mut self) -> Result<ImportReport, StoreError> {
        self.flush().await?;
        self.report.unmapped = std::mem::take(&mut self.unmapped).into_iter().collect();
        Ok(self.report)
    }
}
