//! Inbound mail: a Maildir of realistic messages (plain and HTML-only mail,
//! multipart/alternative, replies with quoted history, attachments of varied size,
//! non-ASCII names and subjects, some auto-replies), ingested through the real pipeline
//! (`CaseService::ingest_or_keep`: parse, thread, decide, commit) into a fresh SQLite store
//! in its default durable mode, against parsing alone with the same parser in the same run.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use casework_core::model::Actor;
use casework_core::ports::{CaseStore, RandomIds, SystemClock};
use casework_core::service::Intake;
use casework_core::{CaseService, Templates, WorkflowConfig};
use casework_mail::inbound::{InboundLimits, Parser, parse_message};
use casework_store_sqlite::SqliteStore;

use crate::synth::{Generator, Rng};

const NAMES: &[&str] = &[
    "Zoe Miller",
    "Zoë Ångström",
    "Rafael Ortega",
    "Jörg Müller",
    "Иван Петров",
    "山田太郎",
    "Ana Lopez",
    "François Lefèvre",
];

fn encoded_word(text: &str) -> String {
    if text.is_ascii() {
        text.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
    }
}

/// Standard base64 with 76-character lines.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let mut wrapped = String::with_capacity(out.len() + out.len() / 76 * 2);
    for (i, c) in out.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            wrapped.push_str("\r\n");
        }
        wrapped.push(c);
    }
    wrapped
}

fn paragraphs(g: &Generator, rng: &mut Rng, n: u64) -> Vec<String> {
    (0..1 + rng.below(n)).map(|_| g.text(rng, 8, 60)).collect()
}

/// One message: its kind chosen by `rng`, deterministic for a seed.
fn message(g: &Generator, rng: &mut Rng, i: u64) -> String {
    let name = NAMES[rng.below(NAMES.len() as u64) as usize];
    let subject = format!(
        "{} {}",
        if rng.chance(0.2) {
            "Publicación"
        } else {
            "Problem:"
        },
        g.text(rng, 3, 8)
    );
    let mut head = format!(
        "From: {} <c{}@customer.example>\r\nTo: Example Corp Support <support@example.com>\r\n\
         Subject: {}\r\nDate: Tue, 3 Mar 2026 09:14:02 +0100\r\nMessage-ID: <bench-{i}@customer.example>\r\n\
         MIME-Version: 1.0\r\n",
        encoded_word(name),
        rng.below(5000),
        encoded_word(&subject),
    );
    let text = paragraphs(g, rng, 5).join("\r\n\r\n");
    let kind = rng.below(100);
    if (50..65).contains(&kind) {
        // a reply with quoted history
        let n = rng.below(1_000_000) + 1;
        head.push_str(&format!(
            "In-Reply-To: <m1.case-{n:08}@example.com>\r\nReferences: <m1.case-{n:08}@example.com>\r\n"
        ));
        let quoted: Vec<String> = paragraphs(g, rng, 6)
            .iter()
            .map(|p| format!("> {p}"))
            .collect();
        return format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nOn Monday, Support wrote:\r\n{}\r\n",
            quoted.join("\r\n>\r\n")
        );
    }
    if (65..80).contains(&kind) {
        // multipart/alternative
        let html: Vec<String> = text
            .split("\r\n\r\n")
            .map(|p| format!("<p>{p}</p>"))
            .collect();
        return format!(
            "{head}Content-Type: multipart/alternative; boundary=\"alt{i}\"\r\n\r\n--alt{i}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--alt{i}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>{}</body></html>\r\n--alt{i}--\r\n",
            html.join("\r\n")
        );
    }
    if (80..88).contains(&kind) {
        // HTML only, with links and a style block
        let html: Vec<String> = text
            .split("\r\n\r\n")
            .map(|p| {
                format!("<p>{p} <a href=\"https://docs.example.com/{i}\">see the docs</a></p>")
            })
            .collect();
        return format!(
            "{head}Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{{margin:0}}</style>\
             </head><body>{}</body></html>\r\n",
            html.join("\r\n")
        );
    }
    if (88..98).contains(&kind) {
        // attachments: a log and an image of varied size
        let size = 2_000 + rng.below(300_000) as usize;
        let blob: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        let log = g.text(rng, 200, 2000);
        return format!(
            "{head}Content-Type: multipart/mixed; boundary=\"mix{i}\"\r\n\r\n--mix{i}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--mix{i}\r\n\
             Content-Type: text/plain; name=\"publish.log\"\r\nContent-Disposition: attachment; filename=\"publish.log\"\r\n\r\n{log}\r\n\
             --mix{i}\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"screen.png\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--mix{i}--\r\n",
            base64(&blob)
        );
    }
    if kind >= 98 {
        head.push_str("Auto-Submitted: auto-replied\r\n");
    }
    format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")
}

/// Writes `n` messages into `dir` as a Maildir (`cur/`, `new/`, `tmp/`); returns the files.
pub fn maildir_of(dir: &Path, n: u64) -> Result<Vec<PathBuf>> {
    let g = Generator::new()?;
    let mut rng = Rng::new(1027);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let mut files = Vec::new();
    for i in 0..n {
        let path = dir.join("new").join(format!("{i}.bench.casework"));
        std::fs::write(&path, message(&g, &mut rng, i))
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

/// The messages of the Maildir, read into memory so only the work is timed.
fn read_all(files: &[PathBuf]) -> Result<Vec<Vec<u8>>> {
    files
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect()
}

/// What parsing alone did.
pub struct ParseFigures {
    /// Messages parsed.
    pub messages: usize,
    /// Their bytes.
    pub bytes: usize,
    /// Attachments found.
    pub attachments: usize,
    /// Messages the parser refused.
    pub refused: usize,
    /// Seconds taken.
    pub secs: f64,
}

/// Parses every message of the Maildir, read into memory first so only parsing is timed.
pub fn parse_only(files: &[PathBuf]) -> Result<ParseFigures> {
    let raw = read_all(files)?;
    let bytes: usize = raw.iter().map(Vec::len).sum();
    let limits = InboundLimits::default();
    let start = Instant::now();
    let mut refused = 0;
    let mut attachments = 0;
    for m in &raw {
        match parse_message(m, &limits) {
            Ok(p) => attachments += p.attachments.len(),
            Err(_) => refused += 1,
        }
    }
    Ok(ParseFigures {
        messages: raw.len(),
        bytes,
        attachments,
        refused,
        secs: start.elapsed().as_secs_f64(),
    })
}

/// What ingesting did.
pub struct IngestFigures {
    /// Messages that opened a case.
    pub opened: usize,
    /// Messages added to a case.
    pub added: usize,
    /// Messages kept in the quarantine (auto-replies answering no case, a sender's storm).
    pub kept: usize,
    /// Seconds taken.
    pub secs: f64,
}

/// The service over a fresh SQLite store at `db` (default durable mode), with the default
/// workflow file and the pipeline's parser.
fn fresh_service(db: &Path) -> Result<CaseService> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let store: Arc<dyn CaseStore> = Arc::new(SqliteStore::open_url(&format!(
        "sqlite://{}",
        db.display()
    ))?);
    Ok(CaseService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(RandomIds::new()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(Templates::embedded()?),
    )
    .with_mail_parser(Arc::new(Parser::default())))
}

/// Ingests every message of the Maildir through the real pipeline into a fresh SQLite
/// store at `db` (default durable mode), `writers` messages at a time (1: one after
/// another, as `mail ingest` from an MTA or the IMAP poller does), read into memory first.
pub async fn ingest(files: &[PathBuf], db: &Path, writers: usize) -> Result<IngestFigures> {
    let raw = Arc::new(read_all(files)?);
    let service = fresh_service(db)?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers.max(1))
        .map(|_| {
            let (service, raw, next) = (service.clone(), raw.clone(), next.clone());
            tokio::spawn(async move {
                let mail = Actor::operator("mail");
                let (mut opened, mut added, mut kept) = (0, 0, 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(m) = raw.get(i) else { break };
                    match service.ingest_or_keep(&mail, "ingest", m).await? {
                        Intake::Taken(got) if got.created => opened += 1,
                        Intake::Taken(_) => added += 1,
                        Intake::Quarantined(_) => kept += 1,
                    }
                }
                anyhow::Ok((opened, added, kept))
            })
        })
        .collect();
    let mut figures = IngestFigures {
        opened: 0,
        added: 0,
        kept: 0,
        secs: 0.0,
    };
    for t in tasks {
        let (opened, added, kept) = t.await??;
        figures.opened += opened;
        figures.added += added;
        figures.kept += kept;
    }
    figures.secs = start.elapsed().as_secs_f64();
    Ok(figures)
}

/// Ingests every message of the Maildir through [`CaseService::ingest_batch`] into a fresh
/// SQLite store at `db`, in batches of the IMAP poller's size, read into memory first.
pub async fn ingest_batches(files: &[PathBuf], db: &Path) -> Result<IngestFigures> {
    let raw = read_all(files)?;
    let service = fresh_service(db)?;
    let mail = Actor::operator("mail");
    let mut figures = IngestFigures {
        opened: 0,
        added: 0,
        kept: 0,
        secs: 0.0,
    };
    let start = Instant::now();
    for batch in raw.chunks(casework_mail::imap::DEFAULT_BATCH) {
        for answer in service.ingest_batch(&mail, "imap", batch).await? {
            match answer? {
                Intake::Taken(got) if got.created => figures.opened += 1,
                Intake::Taken(_) => figures.added += 1,
                Intake::Quarantined(_) => figures.kept += 1,
            }
        }
    }
    figures.secs = start.elapsed().as_secs_f64();
    Ok(figures)
}

/// The whole scenario: the Maildir, parse-only, then ingestion with one writer and with
/// four; a Markdown table with each rate and its ratio to parse-only.
pub async fn run(dir: &Path, messages: u64) -> Result<String> {
    let maildir = dir.join("maildir");
    let _ = std::fs::remove_dir_all(&maildir);
    let files = maildir_of(&maildir, messages)?;
    let parse = parse_only(&files)?;
    let parse_rate = parse.messages as f64 / parse.secs;
    let mut rows = format!(
        "| parse-only (`casework_mail::inbound::parse_message`, the pipeline's parser) | {} | {parse_rate:.0}/s | — |\n",
        parse.messages
    );
    let batched = ingest_batches(&files, &dir.join("mail-batch.db")).await?;
    for writers in [1, 4] {
        let got = ingest(&files, &dir.join(format!("mail-{writers}.db")), writers).await?;
        let n = got.opened + got.added + got.kept;
        let rate = n as f64 / got.secs;
        rows.push_str(&format!(
            "| `ingest_or_keep` into SQLite, {writers} at a time ({} opened, {} added, {} kept) | {n} | {rate:.0}/s | **{:.2}×** parse-only |\n",
            got.opened,
            got.added,
            got.kept,
            rate / parse_rate
        ));
    }
    let n = batched.opened + batched.added + batched.kept;
    let rate = n as f64 / batched.secs;
    rows.push_str(&format!(
        "| `ingest_batch` into SQLite, batches of {} as the IMAP poller fetches them ({} opened, {} added, {} kept) | {n} | {rate:.0}/s | **{:.2}×** parse-only |\n",
        casework_mail::imap::DEFAULT_BATCH,
        batched.opened,
        batched.added,
        batched.kept,
        rate / parse_rate
    ));
    Ok(format!(
        "### {} messages ({:.1} MiB, {} attachments, {} refused by the parser)\n\n\
         | Run | Messages | Rate | Ratio |\n|---|---|---|---|\n{rows}",
        parse.messages,
        parse.bytes as f64 / 1_048_576.0,
        parse.attachments,
        parse.refused
    ))
}
