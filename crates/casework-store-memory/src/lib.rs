//! The in-memory case store: the reference adapter. Read this before writing a new store.
//!
//! Everything lives in one `Mutex<Inner>`, so every method is trivially atomic: it checks all
//! it must check, then changes state, and never awaits while holding the lock. Search is a
//! plain BM25 over passages (a document's head, and each event's text) built on the fly,
//! ranked as the SQLite store ranks them; it is linear in the number of cases, which is fine
//! for tests, demos and small embedded uses, and obviously correct.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use casework_core::event::{Event, EventKind, replay};
use casework_core::ids::CaseNumber;
use casework_core::model::{
    ApiToken, Article, Case, Defect, NewArticle, OutboxMessage, OutboxStatus, Person, PostKind,
    RefKind, Visibility,
};
use casework_core::ports::{
    CaseFilter, CaseStore, Commit, Created, DeliveryOutcome, Page, PageRequest, ReportCase,
    ReportCasesQuery, ReportQuery, ReportRow, Scope, SearchHit, SearchQuery, StatusCount,
    StoreError, StoreStats, key_reused,
};
use casework_core::{report, text};
use jiff::{SignedDuration, Timestamp};

/// A case store held in memory; everything is lost when it is dropped.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_number: u64,
    cases: BTreeMap<u64, Record>,
    people: BTreeMap<String, Person>,
    last_article: u64,
    articles: BTreeMap<u64, Article>,
    defects: BTreeMap<String, Defect>,
    /// Outbox messages in the order they were queued.
    outbox: Vec<OutboxMessage>,
    /// API tokens in the order they were made.
    tokens: Vec<ApiToken>,
    /// Idempotency keys: fingerprint and the case they created.
    keys: BTreeMap<String, (String, u64)>,
}

#[derive(Debug, Clone)]
struct Record {
    case: Case,
    events: Vec<Event>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock cannot leave Inner half-written (every
        // method checks before it writes), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A searchable document: what one hit would point to.
struct Doc {
    kind: RefKind,
    reference: String,
    title: String,
    case: Option<u64>,
}

/// What a scope may search: documents, and their passages (a document's head, and the text
/// of each event of a case), as the SQLite store indexes them.
#[derive(Default)]
struct Index {
    docs: Vec<Doc>,
    /// (index into `docs`, the passage's terms)
    passages: Vec<(usize, Vec<String>)>,
}

impl Index {
    fn doc(&mut self, doc: Doc, passages: impl IntoIterator<Item = String>) {
        let i = self.docs.len();
        self.docs.push(doc);
        for text in passages {
            self.passages.push((i, text::terms(&text).collect()));
        }
    }

    /// Passages holding a term.
    fn passage_frequency(&self, term: &str) -> u64 {
        self.passages
            .iter()
            .filter(|(_, terms)| terms.iter().any(|t| t == term))
            .count() as u64
    }

    /// Documents with a term in some passage.
    fn document_frequency(&self, term: &str) -> u64 {
        let mut docs: Vec<usize> = self
            .passages
            .iter()
            .filter(|(_, terms)| terms.iter().any(|t| t == term))
            .map(|(doc, _)| *doc)
            .collect();
        docs.dedup();
        docs.len() as u64
    }
}

impl Record {
    /// The case's passages a reader may see: the head (title and description), then the
    /// text of each event (for a customer, only what they may see).
    fn passages(&self, customer_only: bool) -> impl Iterator<Item = String> + '_ {
        let head = format!("{}\n{}", self.case.title, self.case.description);
        let events = self.events.iter().filter_map(move |e| match e.text() {
            Some((vis, t)) if !customer_only || vis == Visibility::Customer => Some(t.to_string()),
            _ => None,
        });
        std::iter::once(head).chain(events)
    }
}

impl Inner {
    /// The documents and passages a scope may search: for a customer, their own cases'
    /// heads and customer-visible passages, and the articles.
    fn index(&self, scope: &Scope) -> Index {
        let mut index = Index::default();
        for r in self.cases.values() {
            let customer_only = match scope {
                Scope::Staff => false,
                Scope::Customer(email) if *email == r.case.customer.email => true,
                Scope::Customer(_) => continue,
            };
            index.doc(
                Doc {
                    kind: RefKind::Case,
                    reference: r.case.number.display(),
                    title: r.case.title.clone(),
                    case: Some(r.case.number.get()),
                },
                r.passages(customer_only),
            );
        }
        for a in self.articles.values() {
            index.doc(
                Doc {
                    kind: RefKind::Article,
                    reference: a.id.to_string(),
                    title: a.title.clone(),
                    case: None,
                },
                [format!("{}\n{}", a.title, a.body)],
            );
        }
        if *scope == Scope::Staff {
            for d in self.defects.values() {
                index.doc(
                    Doc {
                        kind: RefKind::Defect,
                        reference: d.key.clone(),
                        title: d.title.clone(),
                        case: None,
                    },
                    [format!("{}\n{}\n{}", d.key, d.title, d.body)],
                );
            }
        }
        index
    }
}

/// Ranks documents as the SQLite store does: each passage is scored per term with BM25 as
/// SQLite's FTS5 computes it (k1 = 1.2, b = 0.75, IDF over the passages), and a document
/// scores, for each term, its best passage's, summed over the terms. With `require_all`, a
/// document must hold every term in some passage. `keep` picks the documents that count.
fn bm25(
    index: &Index,
    terms: &[String],
    require_all: bool,
    keep: impl Fn(&Doc) -> bool,
) -> Vec<(usize, f64)> {
    let n = index.passages.len() as f64;
    if index.passages.is_empty() || terms.is_empty() {
        return Vec::new();
    }
    let avg_len = index.passages.iter().map(|(_, t)| t.len()).sum::<usize>() as f64 / n;
    let idf: Vec<f64> = terms
        .iter()
        .map(|t| {
            let df = index.passage_frequency(t) as f64;
            let idf = ((n - df + 0.5) / (df + 0.5)).ln();
            if idf <= 0.0 { 1e-6 } else { idf }
        })
        .collect();
    let (k1, b) = (1.2, 0.75);
    // best[doc][term]
    let mut best: Vec<Vec<Option<f64>>> = vec![vec![None; terms.len()]; index.docs.len()];
    for (doc, words) in &index.passages {
        let len = words.len() as f64;
        for (j, (t, idf)) in terms.iter().zip(&idf).enumerate() {
            let tf = words.iter().filter(|x| *x == t).count() as f64;
            if tf > 0.0 {
                let s = idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * len / avg_len.max(1.0)));
                let slot = &mut best[*doc][j];
                *slot = Some(slot.map_or(s, |old: f64| old.max(s)));
            }
        }
    }
    let mut out = Vec::new();
    for (i, per_term) in best.iter().enumerate() {
        let matched = per_term.iter().flatten().count();
        let hit = if require_all {
            matched == terms.len()
        } else {
            matched > 0
        };
        if hit && keep(&index.docs[i]) {
            out.push((i, per_term.iter().flatten().sum()));
        }
    }
    out
}

fn ranked(docs: &[Doc], scored: Vec<(usize, f64)>, limit: u32) -> Vec<SearchHit> {
    let mut hits: Vec<SearchHit> = scored
        .into_iter()
        .map(|(i, score)| SearchHit {
            kind: docs[i].kind,
            reference: docs[i].reference.clone(),
            title: docs[i].title.clone(),
            score,
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.reference.cmp(&b.reference))
    });
    hits.truncate(limit as usize);
    hits
}

fn matches_filter(r: &Record, f: &CaseFilter) -> bool {
    let c = &r.case;
    if f.status
        .as_ref()
        .is_some_and(|s| !s.same(c.status.as_str()))
    {
        return false;
    }
    if f.status_category
        .is_some_and(|cat| cat != c.status_category)
    {
        return false;
    }
    if f.owner
        .as_ref()
        .is_some_and(|o| c.owner.as_ref() != Some(o))
    {
        return false;
    }
    if f.reopened.is_some_and(|want| want != (c.reopen_count > 0)) {
        return false;
    }
    if f.product_area
        .as_ref()
        .is_some_and(|a| c.category.product_area.as_ref() != Some(a))
    {
        return false;
    }
    if f.customer.as_ref().is_some_and(|e| *e != c.customer.email) {
        return false;
    }
    if let Some(q) = &f.q {
        let terms = text::query_terms(q);
        let have: Vec<String> = r
            .passages(f.customer.is_some())
            .flat_map(|p| text::terms(&p).collect::<Vec<_>>())
            .collect();
        if !terms.iter().all(|t| have.contains(t)) {
            return false;
        }
    }
    true
}

/// How many cases are in each status, statuses compared without case (as SQLite's
/// `COLLATE NOCASE` column does), in the first spelling met.
fn status_counts<'a>(cases: impl Iterator<Item = &'a Case>) -> Vec<StatusCount> {
    let mut out: Vec<StatusCount> = Vec::new();
    for c in cases {
        match out.iter_mut().find(|s| s.status.same(c.status.as_str())) {
            Some(s) => s.cases += 1,
            None => out.push(StatusCount {
                status: c.status.clone(),
                cases: 1,
            }),
        }
    }
    out
}

/// Opens a case with the next number; the caller holds the lock.
fn create_locked(
    inner: &mut Inner,
    at: Timestamp,
    actor: String,
    opened: EventKind,
) -> Result<Case, StoreError> {
    if !matches!(opened, EventKind::Opened { .. }) {
        return Err(StoreError::Invalid(
            "a case starts with an opened event".into(),
        ));
    }
    let next = inner.last_number + 1;
    let number = CaseNumber::new(next)
        .ok_or_else(|| StoreError::Internal("case numbers exhausted".into()))?;
    let event = Event {
        case: number,
        seq: 1,
        at,
        actor,
        kind: opened,
    };
    let case = replay([&event]).map_err(|e| StoreError::Invalid(e.to_string()))?;
    inner.last_number = next;
    inner.cases.insert(
        next,
        Record {
            case: case.clone(),
            events: vec![event],
        },
    );
    Ok(case)
}

#[async_trait]
impl CaseStore for MemoryStore {
    async fn create_case(
        &self,
        at: Timestamp,
        actor: String,
        opened: EventKind,
    ) -> Result<Case, StoreError> {
        create_locked(&mut self.lock(), at, actor, opened)
    }

    async fn create_case_once(
        &self,
        key: String,
        fingerprint: String,
        at: Timestamp,
        actor: String,
        opened: EventKind,
    ) -> Result<Created, StoreError> {
        // Check and create under one lock, so concurrent calls make one case.
        let mut inner = self.lock();
        if let Some((fp, n)) = inner.keys.get(&key) {
            if *fp != fingerprint {
                return Err(key_reused(&key));
            }
            let first = inner.cases.get(n).and_then(|r| r.events.first());
            let case = replay(first).map_err(|e| StoreError::Internal(e.to_string()))?;
            return Ok(Created {
                case,
                replayed: true,
            });
        }
        let case = create_locked(&mut inner, at, actor, opened)?;
        inner.keys.insert(key, (fingerprint, case.number.get()));
        Ok(Created {
            case,
            replayed: false,
        })
    }

    async fn load_case(&self, number: CaseNumber) -> Result<Case, StoreError> {
        self.lock()
            .cases
            .get(&number.get())
            .map(|r| r.case.clone())
            .ok_or_else(|| StoreError::NotFound(format!("case {number}")))
    }

    async fn commit(&self, commit: Commit) -> Result<Case, StoreError> {
        let mut inner = self.lock();
        let record = inner
            .cases
            .get(&commit.number.get())
            .ok_or_else(|| StoreError::NotFound(format!("case {}", commit.number)))?;
        let current = record.case.version;
        if current != commit.expected_version {
            return Err(StoreError::Conflict {
                expected_version: commit.expected_version,
                current_version: current,
            });
        }
        for (i, e) in commit.events.iter().enumerate() {
            if e.case != commit.number || e.seq != current + 1 + i as u64 {
                return Err(StoreError::Invalid(format!(
                    "event {} is not numbered to follow version {current}",
                    e.seq
                )));
            }
        }
        let new_version = current + commit.events.len() as u64;
        if commit.state.number != commit.number || commit.state.version != new_version {
            return Err(StoreError::Invalid(
                "the new state does not match the events".into(),
            ));
        }
        for (i, m) in commit.outbox.iter().enumerate() {
            let taken = inner.outbox.iter().any(|o| o.id == m.id)
                || commit.outbox[..i].iter().any(|o| o.id == m.id);
            if taken {
                return Err(StoreError::Duplicate(format!("outbox message {}", m.id)));
            }
        }
        // Every check passed: now write, all of it.
        let Some(record) = inner.cases.get_mut(&commit.number.get()) else {
            return Err(StoreError::NotFound(format!("case {}", commit.number)));
        };
        record.events.extend(commit.events);
        record.case = commit.state.clone();
        inner.outbox.extend(commit.outbox);
        Ok(commit.state)
    }

    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError> {
        let inner = self.lock();
        let start = page.after.map_or(0, |n| n.get());
        let items: Vec<Case> = inner
            .cases
            .range(start + 1..)
            .map(|(_, r)| r)
            .filter(|r| matches_filter(r, &filter))
            .take(page.limit as usize + 1)
            .map(|r| r.case.clone())
            .collect();
        Ok(Page::from_overfetch(items, page.limit))
    }

    async fn history(&self, number: CaseNumber) -> Result<Vec<Event>, StoreError> {
        self.lock()
            .cases
            .get(&number.get())
            .map(|r| r.events.clone())
            .ok_or_else(|| StoreError::NotFound(format!("case {number}")))
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        let inner = self.lock();
        let index = inner.index(&query.scope);
        let terms = text::query_terms(&query.text);
        let scored = bm25(&index, &terms, true, |d| {
            query.kind.is_none_or(|k| k == d.kind)
        });
        Ok(ranked(&index.docs, scored, query.limit))
    }

    async fn similar(
        &self,
        number: CaseNumber,
        scope: Scope,
        limit: u32,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let inner = self.lock();
        let record = inner
            .cases
            .get(&number.get())
            .ok_or_else(|| StoreError::NotFound(format!("case {number}")))?;
        let mut sources = vec![record.case.title.as_str(), record.case.description.as_str()];
        for e in &record.events {
            if let EventKind::PostAdded {
                kind: PostKind::Summary,
                body,
                ..
            } = &e.kind
            {
                sources.push(body);
            }
        }
        // which terms are common counts documents, as SQLite's does: a case repeating its
        // own terms in its emails does not make them common
        let all = inner.index(&Scope::Staff);
        let terms = text::similar_terms(
            sources,
            |t| all.document_frequency(t),
            all.docs.len() as u64,
        );
        let index = inner.index(&scope);
        let scored = bm25(&index, &terms, false, |d| d.case != Some(number.get()));
        Ok(ranked(&index.docs, scored, limit))
    }

    async fn reopen_report(&self, query: ReportQuery) -> Result<Vec<ReportRow>, StoreError> {
        let inner = self.lock();
        Ok(report::compute(
            inner.cases.values().map(|r| r.events.as_slice()),
            &query,
        ))
    }

    async fn reopen_report_cases(
        &self,
        query: ReportCasesQuery,
    ) -> Result<Page<ReportCase>, StoreError> {
        let inner = self.lock();
        Ok(report::cases(
            inner.cases.values().map(|r| r.events.as_slice()),
            &query,
        ))
    }

    async fn put_person(&self, person: Person) -> Result<(), StoreError> {
        self.lock().people.insert(person.name.clone(), person);
        Ok(())
    }

    async fn get_person(&self, name: String) -> Result<Person, StoreError> {
        self.lock()
            .people
            .get(&name)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("person {name:?}")))
    }

    async fn list_people(&self) -> Result<Vec<Person>, StoreError> {
        Ok(self.lock().people.values().cloned().collect())
    }

    async fn add_article(&self, article: NewArticle, at: Timestamp) -> Result<Article, StoreError> {
        let mut inner = self.lock();
        inner.last_article += 1;
        let a = Article {
            id: inner.last_article,
            title: article.title,
            body: article.body,
            url: article.url,
            created_at: at,
        };
        inner.articles.insert(a.id, a.clone());
        Ok(a)
    }

    async fn get_article(&self, id: u64) -> Result<Article, StoreError> {
        self.lock()
            .articles
            .get(&id)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("article {id}")))
    }

    async fn add_defect(&self, defect: Defect) -> Result<Defect, StoreError> {
        let mut inner = self.lock();
        if inner.defects.contains_key(&defect.key) {
            return Err(StoreError::Duplicate(format!("defect {}", defect.key)));
        }
        inner.defects.insert(defect.key.clone(), defect.clone());
        Ok(defect)
    }

    async fn get_defect(&self, key: String) -> Result<Defect, StoreError> {
        self.lock()
            .defects
            .get(&key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("defect {key}")))
    }

    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| status.is_none_or(|s| s == m.status))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn outbox_for_case(&self, case: CaseNumber) -> Result<Vec<OutboxMessage>, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| m.case == case)
            .cloned()
            .collect())
    }

    async fn outbox_claim(
        &self,
        worker: String,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let until = now
            .checked_add(lease)
            .map_err(|e| StoreError::Invalid(format!("lease: {e}")))?;
        let mut inner = self.lock();
        let mut claimed = Vec::new();
        for m in inner.outbox.iter_mut() {
            if claimed.len() >= limit as usize {
                break;
            }
            let free = m.claimed_until.is_none_or(|u| u <= now);
            if m.status == OutboxStatus::Queued && m.next_attempt_at <= now && free {
                m.claimed_by = Some(worker.clone());
                m.claimed_until = Some(until);
                claimed.push(m.clone());
            }
        }
        Ok(claimed)
    }

    async fn outbox_finish(
        &self,
        id: String,
        worker: String,
        now: Timestamp,
        outcome: DeliveryOutcome,
    ) -> Result<OutboxMessage, StoreError> {
        let mut inner = self.lock();
        let m = inner
            .outbox
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("outbox message {id}")))?;
        if m.claimed_by.as_deref() != Some(worker.as_str()) || m.status != OutboxStatus::Queued {
            return Err(StoreError::Conflict {
                expected_version: 0,
                current_version: 0,
            });
        }
        m.attempts += 1;
        m.claimed_by = None;
        m.claimed_until = None;
        match outcome {
            DeliveryOutcome::Sent => {
                m.status = OutboxStatus::Sent;
                m.sent_at = Some(now);
            }
            DeliveryOutcome::Retry { error, at } => {
                m.last_error = Some(error);
                m.next_attempt_at = at;
            }
            DeliveryOutcome::Failed { error } => {
                m.status = OutboxStatus::Failed;
                m.last_error = Some(error);
            }
        }
        Ok(m.clone())
    }

    async fn put_token(&self, token: ApiToken) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner
            .tokens
            .iter()
            .any(|t| t.id == token.id || t.hash == token.hash)
        {
            return Err(StoreError::Duplicate(format!("token {}", token.id)));
        }
        inner.tokens.push(token);
        Ok(())
    }

    async fn find_token(&self, hash: String) -> Result<ApiToken, StoreError> {
        self.lock()
            .tokens
            .iter()
            .find(|t| t.hash == hash)
            .cloned()
            .ok_or_else(|| StoreError::NotFound("token".into()))
    }

    async fn list_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(self.lock().tokens.clone())
    }

    async fn revoke_token(&self, id: String, at: Timestamp) -> Result<ApiToken, StoreError> {
        let mut inner = self.lock();
        let t = inner
            .tokens
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        t.revoked_at.get_or_insert(at);
        Ok(t.clone())
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let inner = self.lock();
        Ok(StoreStats {
            cases: inner.cases.len() as u64,
            events: inner.cases.values().map(|r| r.events.len() as u64).sum(),
            queued_messages: inner
                .outbox
                .iter()
                .filter(|m| m.status == OutboxStatus::Queued)
                .count() as u64,
            people: inner.people.len() as u64,
            schema_version: None,
            statuses: status_counts(inner.cases.values().map(|r| &r.case)),
        })
    }
}

#[cfg(test)]
mod tests {
    casework_store_conformance::suite!(std::sync::Arc::new(crate::MemoryStore::new()));
}
