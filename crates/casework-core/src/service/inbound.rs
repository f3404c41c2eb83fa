//! Inbound email: the one ingestion pipeline every input feeds (`casework mail ingest`, the
//! IMAP poller, `POST /api/v1/inbound/email`). It threads a message onto its case in a
//! stated order — a signed reply token that verifies, then `In-Reply-To`/`References`
//! naming a Message-ID the case's history holds (one it sent or received), then a case tag in the subject when the
//! sender is a participant of the case — else opens a new case; then commits what `workflow::inbound::decide_reply` decides. A message is
//! taken once: its key ([`inbound_key`]) is looked for on the case before anything is
//! written, and a new case is created at most once per key, so a redelivered message
//! changes nothing, even when two copies race.

use std::sync::Arc;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use super::{CaseService, Intake, MAX_ATTEMPTS, ServiceError, backoff};
use crate::attachment::{Upload, UploadRefusal, sized_refusal};
use crate::config::Permission;
use crate::event::{Event, EventKind, apply_all};
use crate::ids::{CaseNumber, EmailAddress};
use crate::inbound::InboundMessage;
use crate::model::{Actor, Case, LinkTarget, RefKind, ThreadRule, Visibility};
use crate::ports::{Commit, MailParser, StoreError};
use crate::reply_token::{token_of_address, token_of_message_id};
use crate::workflow::inbound::{
    Arrival, ReplyPlan, bounce_summary, case_of_message_id, decide_reply, inbound_key,
    is_participant, new_case, sender_over_rate, stands_alone, subject_tag,
};
use crate::workflow::notify::{acknowledge, files_refused};
use crate::workflow::{WorkflowError, decide_open, stamp};

/// Most referenced Message-IDs a message is threaded by (`In-Reply-To` first, then
/// `References` newest first): a long thread's recent ids are the ones that matter.
pub const MAX_THREAD_LOOKUPS: usize = 20;

/// Most cases looked at that hold one referenced Message-ID (only a spoofed copy puts one
/// id on several cases).
pub const MAX_CASES_PER_MESSAGE_ID: u32 = 5;

/// Most stand-alone messages of a batch taken at once ([`CaseService::ingest_batch`]).
pub const BATCH_WAVE: usize = 16;

/// What a batch's wave being gathered holds, to tell whether a message may join it
/// ([`CaseService::ingest_batch`]).
#[derive(Default)]
struct Wave {
    /// Its messages' senders, as written, lowercased.
    senders: Vec<String>,
    /// Its messages' own Message-IDs.
    message_ids: Vec<String>,
    /// Whether a message that threads is in it.
    threading: bool,
}

impl Wave {
    /// Whether `m` ends in the wave as it would after every message of the wave is taken;
    /// `alone` says whether it [stands alone](stands_alone).
    fn admits(&self, m: &InboundMessage, alone: bool) -> bool {
        if self.senders.contains(&sender_of(m)) {
            return false;
        }
        if alone {
            return true;
        }
        !self.threading
            && !m
                .in_reply_to
                .iter()
                .chain(&m.references)
                .any(|id| self.message_ids.contains(id))
    }

    fn add(&mut self, m: &InboundMessage, alone: bool) {
        self.senders.push(sender_of(m));
        self.message_ids.extend(m.message_id.clone());
        self.threading |= !alone;
    }
}

/// A message's sender as written, lowercased (empty when it has none).
fn sender_of(m: &InboundMessage) -> String {
    m.from
        .as_ref()
        .map(|f| f.raw.to_lowercase())
        .unwrap_or_default()
}

/// What became of one inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ingested {
    /// The case the message is on.
    pub case: CaseNumber,
    /// The case number as customers see it (`00001027`).
    pub display_number: String,
    /// The threading rule that matched (`new_case` when it opened the case).
    pub rule: ThreadRule,
    /// Whether the message opened the case.
    pub created: bool,
    /// Whether the message had been taken before, so nothing changed.
    pub duplicate: bool,
    /// Why the message's files were not kept, when they break the workflow file's
    /// `[attachments]` limits: its text is on the case without them and its sender is told
    /// (the `files_refused` email); the whole message waits in the quarantine (`quarantined`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_held_back: Option<String>,
    /// The quarantine id of the whole message, when its files were held back and an input
    /// that has its bytes kept it ([`CaseService::ingest_or_keep`],
    /// [`CaseService::ingest_batch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<String>,
}

fn refused(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::Workflow(WorkflowError::Invalid {
        field: field.into(),
        message: message.into(),
    })
}

/// Whether `event` records the Message-ID `id` (an email Casework sent, or one it took).
fn records_message_id(event: &Event, id: &str) -> bool {
    match &event.kind {
        EventKind::EmailQueued {
            message_id: Some(m),
            ..
        }
        | EventKind::EmailReceived {
            message_id: Some(m),
            ..
        } => m == id,
        _ => false,
    }
}

/// A message's files as uploads: attachments and inline parts alike, as the sender named
/// and typed them.
fn uploads(message: &InboundMessage) -> Vec<Upload> {
    message
        .attachments
        .iter()
        .map(|a| Upload {
            file_name: a.file_name.clone(),
            content_type: a.content_type.clone(),
            bytes: a.bytes.clone(),
        })
        .collect()
}

/// Whether `history` already holds the message taken under `key`.
fn taken(history: &[Event], key: &str) -> bool {
    history
        .iter()
        .any(|e| matches!(&e.kind, EventKind::EmailReceived { key: k, .. } if k == key))
}

impl CaseService {
    /// The same service, parsing raw mail with `parser` ([`CaseService::ingest_raw`]).
    pub fn with_mail_parser(mut self, parser: Arc<dyn MailParser>) -> Self {
        self.parser = Some(parser);
        self
    }

    /// Takes one raw RFC 5322 message: parses it with the wired parser, then
    /// [`CaseService::ingest`]. Bytes that can never be taken are refused as `Invalid` on
    /// field `message` (exit 65 for a mail pipe, 422 over HTTP).
    pub async fn ingest_raw(&self, actor: &Actor, raw: &[u8]) -> Result<Ingested, ServiceError> {
        self.require(actor, Permission::IngestMail, "hand Casework inbound email")?;
        self.take_raw(raw).await
    }

    /// [`CaseService::ingest_raw`] once its permission is checked.
    pub(crate) async fn take_raw(&self, raw: &[u8]) -> Result<Ingested, ServiceError> {
        let message = self.parse(raw)?;
        self.take(&message).await
    }

    /// `raw` parsed by the wired parser; bytes it refuses are refused as `Invalid` on field
    /// `message`.
    pub(crate) fn parse(&self, raw: &[u8]) -> Result<InboundMessage, ServiceError> {
        let parser = self
            .parser
            .as_ref()
            .ok_or_else(|| ServiceError::Internal("no mail parser is wired".into()))?;
        parser.parse(raw).map_err(|m| refused("message", m))
    }

    /// Takes a batch of raw messages from `source` (an IMAP fetch, a Maildir) as
    /// [`CaseService::ingest_or_keep`] takes each, with the same outcome, one answer per
    /// message in their order.
    ///
    /// Faster than one at a time: messages are taken up to [`BATCH_WAVE`] at once, so the
    /// store commits them together (one durable sync for many on SQLite), as long as each
    /// ends as it would one at a time. A message joins the wave being gathered when its
    /// sender differs from every sender in it and either it [stands alone](stands_alone)
    /// (it can open only a case of its own) or it is the wave's only message that threads
    /// (a reply, a tagged subject, a bounce) and refers to no Message-ID of a message in the
    /// wave. Such a message can reach only cases that existed before the wave: a reply token
    /// or a bounce names mail Casework sent, a subject tag needs a participant and a case a
    /// wave message opens has only that message's sender as one, and what it references is
    /// not in the wave. Any other message first waits for the wave to be taken. Case numbers
    /// within one wave may come in another order than the messages.
    ///
    /// A message that fails with an error that may pass (the store, a busy case) is the
    /// last answer: the messages after it are not taken (a reply must not overtake the
    /// message it answers), so the answers may be fewer than the messages. Errors only for
    /// a missing `ingest_mail` permission.
    pub async fn ingest_batch(
        &self,
        actor: &Actor,
        source: &str,
        raws: &[Vec<u8>],
    ) -> Result<Vec<Result<Intake, ServiceError>>, ServiceError> {
        self.require(actor, Permission::IngestMail, "hand Casework inbound email")?;
        let support = &self.config.organization.support_email;
        let mut answers = Vec::with_capacity(raws.len());
        let mut wave = Vec::new();
        let mut gathered = Wave::default();
        for raw in raws {
            let parsed = self.parse(raw);
            let alone = parsed.as_ref().map(|m| stands_alone(m, support));
            let joins = match (&parsed, alone) {
                (Ok(m), Ok(alone)) => gathered.admits(m, alone),
                // refused before reading anything: only the quarantine is written
                _ => true,
            };
            if !joins || wave.len() == BATCH_WAVE {
                answers.extend(join_all(wave.drain(..)).await);
                gathered = Wave::default();
                if answers.iter().any(Result::is_err) {
                    return Ok(answers);
                }
            }
            if let (Ok(m), Ok(alone)) = (&parsed, alone) {
                gathered.add(m, alone);
            }
            wave.push(async move {
                let taken = match parsed {
                    Ok(message) => self.take(&message).await,
                    Err(e) => Err(e),
                };
                self.keep_refused(source, raw, taken).await
            });
        }
        answers.extend(join_all(wave).await);
        Ok(answers)
    }

    /// Takes one parsed message: threads it, decides what it does, commits, once.
    ///
    /// Refused as `Invalid` (never taken, the same every time): no sender address Casework
    /// can read; automatic mail (an auto-reply, a bounce) that answers no case; a new case
    /// the workflow will not open from it; a new case from a sender who has opened
    /// `[inbound] sender_cases_per_minute` by email within the last minute (a storm: the
    /// quarantine keeps it, [`CaseService::ingest_or_keep`]).
    pub async fn ingest(
        &self,
        actor: &Actor,
        message: &InboundMessage,
    ) -> Result<Ingested, ServiceError> {
        self.require(actor, Permission::IngestMail, "hand Casework inbound email")?;
        self.take(message).await
    }

    /// [`CaseService::ingest`] once its permission is checked.
    async fn take(&self, message: &InboundMessage) -> Result<Ingested, ServiceError> {
        let from = message
            .from
            .as_ref()
            .and_then(|m| m.address.clone())
            .ok_or_else(|| {
                refused(
                    "from",
                    "the message has no sender address Casework can read",
                )
            })?;
        let key = inbound_key(message, &from);
        // files over the limits are held back: the text is taken without them, and every
        // input that has the bytes keeps the whole message in the quarantine
        let held: Option<UploadRefusal> = if message.attachments.is_empty() {
            None
        } else {
            let sizes: Vec<(Option<&str>, u64)> = message
                .attachments
                .iter()
                .map(|a| (a.file_name.as_deref(), a.bytes.len() as u64))
                .collect();
            sized_refusal(&sizes, &self.config.attachments)
        };
        let domain = self
            .config
            .organization
            .support_email
            .ascii_domain()
            .map_err(|e| refused("organization.support_email", e.to_string()))?;
        if let Some(bounce) = &message.bounce {
            let original = bounce.original_message_id.as_deref().unwrap_or_default();
            return match self.sent_by_us(original, &domain).await? {
                Some((number, outbox)) => {
                    // the outbox first: marking is idempotent, so a retry after a failed
                    // commit marks again and then records, and a duplicate finds both done
                    if let Some(id) = outbox.filter(|_| bounce.is_permanent()) {
                        match self.store.outbox_bounced(id, bounce_summary(bounce)).await {
                            Ok(_) | Err(StoreError::NotFound(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    let arrival = Arrival {
                        message,
                        from: &from,
                        key: &key,
                        rule: ThreadRule::Bounce,
                        held_back: held.as_ref(),
                    };
                    self.append(number, &arrival).await
                }
                None => Err(refused(
                    "message",
                    "a delivery-failure report about no message Casework sent",
                )),
            };
        }
        let (found, rule) = self.thread(message, &from, &domain).await?;
        let arrival = Arrival {
            message,
            from: &from,
            key: &key,
            rule,
            held_back: held.as_ref(),
        };
        match found {
            Some(number) => self.append(number, &arrival).await,
            None if message.is_automatic() => Err(refused(
                "message",
                "an automatic message (auto-reply or bounce) that answers no case",
            )),
            None => self.open_from_email(&arrival, None).await,
        }
    }

    /// The case whose history holds Casework's Message-ID `id`, if any, with the outbox
    /// message it names when Casework sent it.
    async fn sent_by_us(
        &self,
        id: &str,
        domain: &str,
    ) -> Result<Option<(CaseNumber, Option<String>)>, ServiceError> {
        let Some(number) = case_of_message_id(id, domain) else {
            return Ok(None);
        };
        let history = match self.store.history(number).await {
            Ok(history) => history,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(event) = history.iter().find(|e| records_message_id(e, id)) else {
            return Ok(None);
        };
        let outbox = match &event.kind {
            EventKind::EmailQueued { message, .. } => Some(message.clone()),
            _ => None,
        };
        Ok(Some((number, outbox)))
    }

    /// Threading, in order: a reply token that verifies (in a plus-addressed recipient, then
    /// in a referenced Message-ID), the Message-IDs the message answers (Casework's own, or
    /// one a case received), then the subject's case tag when the sender is a participant of
    /// that case; `None` when nothing matched.
    async fn thread(
        &self,
        message: &InboundMessage,
        from: &EmailAddress,
        domain: &str,
    ) -> Result<(Option<CaseNumber>, ThreadRule), ServiceError> {
        if let Some(number) = self.reply_token_case(message, domain).await? {
            return Ok((Some(number), ThreadRule::ReplyToken));
        }
        for id in message
            .referenced_ids()
            .into_iter()
            .take(MAX_THREAD_LOOKUPS)
        {
            if let Some((number, _)) = self.sent_by_us(id, domain).await? {
                return Ok((Some(number), ThreadRule::References));
            }
            if let Some(number) = self.case_holding(id, from).await? {
                return Ok((Some(number), ThreadRule::References));
            }
        }
        if let Some(number) = subject_tag(&message.subject) {
            // a stranger quoting a case number does not get into the case
            match self.store.load_case(number).await {
                Ok(case) if &case.customer.email == from => {
                    return Ok((Some(number), ThreadRule::SubjectTag));
                }
                Ok(case) => {
                    if is_participant(&case, &self.store.history(number).await?, from) {
                        return Ok((Some(number), ThreadRule::SubjectTag));
                    }
                }
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok((None, ThreadRule::NewCase))
    }

    /// The case whose history holds Message-ID `id` (a message it received, or sent), by the
    /// store's index. Should a spoofed copy have put the same id on several cases, the
    /// newest of which `from` is a participant wins, else the oldest (the first to hold it).
    async fn case_holding(
        &self,
        id: &str,
        from: &EmailAddress,
    ) -> Result<Option<CaseNumber>, ServiceError> {
        let found = self
            .store
            .cases_with_message_id(id.to_string(), MAX_CASES_PER_MESSAGE_ID)
            .await?;
        if found.len() > 1 {
            for &number in &found {
                let case = self.store.load_case(number).await?;
                if is_participant(&case, &self.store.history(number).await?, from) {
                    return Ok(Some(number));
                }
            }
        }
        Ok(found.last().copied())
    }

    /// The existing case a verified reply token names: first in the recipients (the
    /// plus-addressed `Reply-To` a client answered to), then in the referenced Message-IDs.
    /// A forged or stale token, or one naming no case, is passed over.
    async fn reply_token_case(
        &self,
        message: &InboundMessage,
        domain: &str,
    ) -> Result<Option<CaseNumber>, ServiceError> {
        let Some(keys) = self.reply_keys.as_deref() else {
            return Ok(None);
        };
        let support = &self.config.organization.support_email;
        let tokens = message
            .recipients()
            .filter_map(|r| token_of_address(r, support))
            .chain(
                message
                    .referenced_ids()
                    .into_iter()
                    .take(MAX_THREAD_LOOKUPS)
                    .filter_map(|id| token_of_message_id(id, domain)),
            );
        let mut tried = Vec::new();
        for number in tokens.filter_map(|t| keys.verify(t)) {
            if tried.contains(&number) {
                continue;
            }
            tried.push(number);
            match self.store.load_case(number).await {
                Ok(_) => return Ok(Some(number)),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Puts the arrival on case `number` as `decide_reply` says, once; a closed case whose
    /// policy hands the reply to a new linked case opens it.
    async fn append(
        &self,
        number: CaseNumber,
        arrival: &Arrival<'_>,
    ) -> Result<Ingested, ServiceError> {
        let plan = |case: &Case, now| decide_reply(arrival, case, &self.config, now);
        match self.put_once(number, arrival, false, plan).await? {
            Some(done) => Ok(done),
            None => {
                let linked = Arrival {
                    rule: ThreadRule::LinkedCase,
                    ..*arrival
                };
                Box::pin(self.open_from_email(&linked, Some(number))).await
            }
        }
    }

    /// Commits what `plan` decides for the arrival on case `number`, once: a case whose
    /// history already holds the arrival's key is left alone (a duplicate), and the plan is
    /// decided again when another writer got in first. `None` when the plan hands the
    /// message to a new linked case.
    async fn put_once(
        &self,
        number: CaseNumber,
        arrival: &Arrival<'_>,
        created: bool,
        plan: impl Fn(&Case, jiff::Timestamp) -> ReplyPlan,
    ) -> Result<Option<Ingested>, ServiceError> {
        let done = |duplicate: bool| Ingested {
            case: number,
            display_number: number.display(),
            rule: arrival.rule,
            created,
            duplicate,
            files_held_back: arrival.held_back.map(UploadRefusal::message),
            quarantined: None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let case = self.store.load_case(number).await?;
            let history = self.store.history(number).await?;
            if taken(&history, arrival.key) {
                return Ok(Some(done(true)));
            }
            let kinds = match plan(&case, self.clock.now()) {
                ReplyPlan::Append(kinds) => kinds,
                ReplyPlan::NewLinkedCase => return Ok(None),
            };
            match self.commit_events(&case, arrival, kinds).await {
                Ok(()) => return Ok(Some(done(false))),
                Err(ServiceError::Conflict { .. }) if attempt < MAX_ATTEMPTS => {
                    self.clock.pause(backoff(attempt)).await;
                }
                Err(ServiceError::Conflict { .. }) => {
                    return Err(ServiceError::Busy { attempts: attempt });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Commits `kinds` on `case` as the sender's doing, with the acknowledgement and the
    /// notices they make, and the message's files (inline images too) kept with the email.
    async fn commit_events(
        &self,
        case: &Case,
        arrival: &Arrival<'_>,
        mut kinds: Vec<EventKind>,
    ) -> Result<(), ServiceError> {
        let from = arrival.from;
        let now = self.clock.now();
        let sender = Actor::customer(from.as_str(), from.clone());
        let ctx = self.ctx(&sender, now);
        let mut ack = acknowledge(&kinds, case, &ctx)?;
        files_refused(&mut ack, case, arrival, &ctx)?;
        kinds.extend(ack.events);
        let events = stamp(case, from.as_str(), now, kinds);
        let state = apply_all(case.clone(), &events)
            .map_err(|e| ServiceError::Internal(format!("decided events do not apply: {e}")))?;
        let mut commit = Commit {
            number: case.number,
            expected_version: case.version,
            events,
            state,
            outbox: ack.outbox,
            attachments: Vec::new(),
        };
        if arrival.held_back.is_none() {
            self.keep_files(&mut commit, &uploads(arrival.message))?;
        }
        self.add_notices(&mut commit, &sender, now).await?;
        self.store.commit(commit).await?;
        Ok(())
    }

    /// Refuses (for the quarantine) a message that would open one more case than the
    /// workflow file lets one sender open by email in a minute, unless it opened one of
    /// those cases itself (a redelivery is a duplicate, not a storm).
    async fn within_rate(
        &self,
        arrival: &Arrival<'_>,
        now: jiff::Timestamp,
    ) -> Result<(), ServiceError> {
        let per_minute = self.config.inbound.sender_cases_per_minute;
        let latest = self
            .store
            .latest_cases_of(arrival.from.clone(), per_minute)
            .await?;
        if !sender_over_rate(&latest, per_minute, now) {
            return Ok(());
        }
        for case in &latest {
            if taken(&self.store.history(case.number).await?, arrival.key) {
                return Ok(());
            }
        }
        Err(refused(
            "from",
            format!(
                "{} opened {per_minute} cases by email within a minute, the most the workflow \
                 file's [inbound] sender_cases_per_minute allows: kept for a person to release \
                 or drop",
                arrival.from
            ),
        ))
    }

    /// The case this very message opened before, found by its own Message-ID on the cases
    /// holding it and its key in their histories. The store's record of creation keys does
    /// not travel with a store copy or an import, but histories do: without this, mail read
    /// again after a move (an IMAP poller starting over on the new store) would open every
    /// case a second time.
    async fn opened_before(
        &self,
        arrival: &Arrival<'_>,
    ) -> Result<Option<CaseNumber>, ServiceError> {
        let Some(id) = arrival.message.message_id.as_deref() else {
            return Ok(None);
        };
        let holding = self
            .store
            .cases_with_message_id(id.to_string(), MAX_CASES_PER_MESSAGE_ID)
            .await?;
        for number in holding {
            if taken(&self.store.history(number).await?, arrival.key) {
                return Ok(Some(number));
            }
        }
        Ok(None)
    }

    /// Opens a case from an email, at most once per its key (the sender acts as a customer
    /// opening their own case, so the workflow's `open_case` rule for customers applies),
    /// then puts the email on it, linked to `closed` when a closed case's policy sent it here.
    async fn open_from_email(
        &self,
        arrival: &Arrival<'_>,
        closed: Option<CaseNumber>,
    ) -> Result<Ingested, ServiceError> {
        let number = match self.opened_before(arrival).await? {
            Some(number) => number,
            None => {
                let sender = Actor::customer(arrival.from.as_str(), arrival.from.clone());
                let now = self.clock.now();
                self.within_rate(arrival, now).await?;
                let opened = decide_open(
                    &new_case(arrival.message, arrival.from),
                    &self.ctx(&sender, now),
                )?;
                let notices = self.opening_notices(&sender, &opened, now).await?;
                self.store
                    .create_case_once(
                        arrival.key.to_string(),
                        arrival.key.to_string(),
                        now,
                        sender.name.clone(),
                        opened,
                        notices,
                    )
                    .await?
                    .case
                    .number
            }
        };
        let plan = |_: &Case, _| {
            let mut kinds = Vec::new();
            if let Some(old) = closed {
                kinds.push(EventKind::Linked {
                    target: LinkTarget {
                        kind: RefKind::Case,
                        reference: old.get().to_string(),
                    },
                });
            }
            kinds.push(arrival.received(Visibility::Customer, true, None));
            ReplyPlan::Append(kinds)
        };
        self.put_once(number, arrival, true, plan)
            .await?
            .ok_or_else(|| ServiceError::Internal("a new case handed its email on".into()))
    }
}
