//! Case queries in memory: filters over every case, and BM25 over passages built on the
//! fly for each query, with the SQLite store's parameters and per-document aggregation.

use std::collections::HashMap;

use async_trait::async_trait;
use casework_core::event::EventKind;
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{Case, PostKind, RefKind, Visibility};
use casework_core::ports::{
    CaseFilter, CaseOrder, CaseQueries, Page, PageRequest, Scope, SearchHit, SearchQuery,
    StoreError,
};
use casework_core::query::{self, Clause};
use casework_core::text;

use crate::{Inner, MemoryStore, Record};

/// A passage's words as the index keeps them: core's terms, normalized (stemmed, diacritics
/// folded) as [`text::normalize`] does.
fn words(passage: &str) -> Vec<String> {
    text::terms(passage).map(|w| text::normalize(&w)).collect()
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
            self.passages.push((i, words(&text)));
        }
    }

    /// Passages holding a clause.
    fn passage_frequency(&self, clause: &Clause) -> u64 {
        self.passages
            .iter()
            .filter(|(_, words)| occurrences(words, clause) > 0)
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

/// How many times a clause occurs in a passage's words: a word as itself, a prefix as the
/// beginning of a word, a phrase as its words next to each other.
fn occurrences(words: &[String], clause: &Clause) -> usize {
    match clause {
        Clause::Word(w) => words.iter().filter(|x| *x == w).count(),
        Clause::Prefix(p) => words.iter().filter(|x| x.starts_with(p.as_str())).count(),
        Clause::Phrase(ws) => words
            .windows(ws.len())
            .filter(|x| *x == ws.as_slice())
            .count(),
    }
}

/// Ranks documents as the SQLite store does: each passage is scored per term with BM25 as
/// SQLite's FTS5 computes it (k1 = 1.2, b = 0.75, IDF over the passages), and a document
/// scores, for each term, its best passage's, summed over the terms. With `require_all`, a
/// document must hold every term in some passage. `keep` picks the documents that count.
fn bm25(
    index: &Index,
    terms: &[Clause],
    require_all: bool,
    keep: impl Fn(usize, &Doc) -> bool,
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
            let tf = occurrences(words, t) as f64;
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
        if hit && keep(i, &index.docs[i]) {
            out.push((i, per_term.iter().flatten().sum()));
        }
    }
    out
}

/// Search by the rule every store follows ([`query::CANDIDATES`]): the candidates are the
/// documents of the rarest clause's newest matching passages (here: the last in the
/// index's order), every other clause is checked on them, and they rank by the BM25 of the
/// rare clauses, then newest first.
fn search_bounded(
    index: &Index,
    q: &query::Query,
    kind: Option<RefKind>,
    limit: u32,
) -> Vec<SearchHit> {
    let counts: Vec<u64> = q
        .required
        .iter()
        .map(|c| index.passage_frequency(c))
        .collect();
    let Some(driver) = (0..counts.len()).min_by_key(|i| counts[*i]) else {
        return Vec::new();
    };
    // document -> its newest passage matching the driver, among the newest CANDIDATES
    let mut newest: HashMap<usize, usize> = HashMap::new();
    let mut taken = 0;
    for (i, (doc, words)) in index.passages.iter().enumerate().rev() {
        if taken == query::CANDIDATES {
            break;
        }
        if kind.is_none_or(|k| k == index.docs[*doc].kind)
            && occurrences(words, &q.required[driver]) > 0
        {
            newest.entry(*doc).or_insert(i);
            taken += 1;
        }
    }
    let holds = |doc: usize, c: &Clause| {
        index
            .passages
            .iter()
            .any(|(d, words)| *d == doc && occurrences(words, c) > 0)
    };
    newest.retain(|doc, _| {
        q.required.iter().all(|c| holds(*doc, c)) && !q.excluded.iter().any(|c| holds(*doc, c))
    });
    let rare: Vec<Clause> = q
        .required
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n <= query::CANDIDATES)
        .map(|(c, _)| c.clone())
        .collect();
    let scores: HashMap<usize, f64> = bm25(index, &rare, false, |i, _| newest.contains_key(&i))
        .into_iter()
        .collect();
    let mut found: Vec<(usize, f64, usize)> = newest
        .iter()
        .map(|(doc, at)| (*doc, scores.get(doc).copied().unwrap_or(0.0), *at))
        .collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.cmp(&a.2)));
    found
        .into_iter()
        .take(limit as usize)
        .map(|(i, score, _)| SearchHit {
            kind: index.docs[i].kind,
            reference: index.docs[i].reference.clone(),
            title: index.docs[i].title.clone(),
            score,
        })
        .collect()
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
    if f.unassigned.is_some_and(|want| want != c.owner.is_none()) {
        return false;
    }
    if f.priority.is_some_and(|p| p != c.priority) {
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
        let q = query::parse(q).normalized();
        let passages: Vec<Vec<String>> = r
            .passages(f.customer.is_some())
            .map(|p| words(&p))
            .collect();
        let holds = |c: &Clause| passages.iter().any(|p| occurrences(p, c) > 0);
        if !q.required.iter().all(holds) || q.excluded.iter().any(holds) {
            return false;
        }
    }
    true
}

#[async_trait]
impl CaseQueries for MemoryStore {
    async fn list_cases(
        &self,
        filter: CaseFilter,
        page: PageRequest,
    ) -> Result<Page<Case>, StoreError> {
        let inner = self.lock();
        if page.order == CaseOrder::Number {
            // in number order the map's own order is the list's: read from the cursor on
            let start = page.after.map_or(0, |n| n.get());
            let items = inner
                .cases
                .range(start + 1..)
                .map(|(_, r)| r)
                .filter(|r| matches_filter(r, &filter))
                .take(page.limit as usize + 1)
                .map(|r| r.case.clone())
                .collect();
            return Ok(Page::in_order(items, &page));
        }
        let mut found: Vec<&Case> = inner
            .cases
            .values()
            .filter(|r| matches_filter(r, &filter))
            .map(|r| &r.case)
            .filter(|c| page.admits(c))
            .collect();
        found.sort_by(|a, b| page.order.compare(a, b));
        let items = found
            .into_iter()
            .take(page.limit as usize + 1)
            .cloned()
            .collect();
        Ok(Page::in_order(items, &page))
    }

    async fn latest_cases_of(
        &self,
        customer: EmailAddress,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        // the reference store walks every case; the others read an index
        Ok(self
            .lock()
            .cases
            .values()
            .rev()
            .filter(|r| r.case.customer.email == customer)
            .take(limit as usize)
            .map(|r| r.case.clone())
            .collect())
    }

    async fn cases_with_message_id(
        &self,
        message_id: String,
        limit: u32,
    ) -> Result<Vec<CaseNumber>, StoreError> {
        // the reference store walks every history; the others read an index
        Ok(self
            .lock()
            .cases
            .values()
            .rev()
            .filter(|r| {
                r.events.iter().any(|e| match &e.kind {
                    EventKind::EmailReceived {
                        message_id: Some(m),
                        ..
                    }
                    | EventKind::EmailQueued {
                        message_id: Some(m),
                        ..
                    } => m == &message_id,
                    _ => false,
                })
            })
            .take(limit as usize)
            .map(|r| r.case.number)
            .collect())
    }

    async fn search(&self, query: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        let inner = self.lock();
        let index = inner.index(&query.scope);
        let q = query::parse(&query.text).normalized();
        Ok(search_bounded(&index, &q, query.kind, query.limit))
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
            |t| all.document_frequency(&text::normalize(t)),
            all.docs.len() as u64,
        );
        let index = inner.index(&scope);
        let terms = query::Query::words(&terms).normalized().required;
        let scored = bm25(&index, &terms, false, |_, d| d.case != Some(number.get()));
        Ok(ranked(&index.docs, scored, limit))
    }
}
