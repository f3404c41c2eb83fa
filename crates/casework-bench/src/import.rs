//! Import throughput on SQLite, through the release `casework import` as a user runs it:
//! Casework NDJSON cases with their opening events against a raw rusqlite loop inserting the
//! same rows (the case row with its state, the event with its feed position, the search
//! passage in both full-text tables) in one transaction, in the same run, with the
//! variants that show what the full-text rows cost (none, one table, no prefix index); and
//! the Zendesk and Salesforce paths over tickets with two comments each.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use casework_core::event::{Event, EventKind, replay};
use casework_core::exchange::Line;
use casework_core::ports::CaseRecord;
use casework_store_sqlite::SqliteStore;
use rusqlite::{Connection, params};

use crate::synth::{Generator, Rng};

fn fresh(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Synthetic cases, each its opening event alone.
fn opened(cases: u64) -> Result<Vec<Event>> {
    let generator = Generator::new()?;
    let mut rng = Rng::new(11);
    let mut out = Vec::with_capacity(cases as usize);
    let mut n = 1;
    while n <= cases {
        let to = (n + 10_000).min(cases + 1);
        for history in generator.batch(n..to, &mut rng)? {
            out.push(
                history
                    .into_iter()
                    .next()
                    .context("a history without events")?,
            );
        }
        n = to;
    }
    Ok(out)
}

/// Writes them as a Casework export.
fn ndjson(path: &Path, opened: &[Event]) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in opened {
        let line = Line::Case(CaseRecord {
            history: vec![e.clone()],
            outbox: Vec::new(),
            attachments: Vec::new(),
        });
        writeln!(out, "{}", line.to_json()?)?;
    }
    Ok(out.flush()?)
}

fn opening(e: &Event) -> Result<(&str, &str, &str, &str)> {
    match &e.kind {
        EventKind::Opened {
            title,
            description,
            customer,
            ..
        } => Ok((title, description, &customer.name, customer.email.as_str())),
        _ => bail!("not an opening event"),
    }
}

/// Writes them as one page of Zendesk's incremental export, two comments a ticket.
fn zendesk(path: &Path, opened: &[Event]) -> Result<()> {
    let mut tickets = Vec::with_capacity(opened.len());
    let mut users = Vec::with_capacity(opened.len());
    for e in opened {
        let (title, description, name, email) = opening(e)?;
        let id = e.case.get();
        let at = e.at.to_string();
        tickets.push(serde_json::json!({
            "id": id, "via": {"channel": "email"}, "created_at": at, "updated_at": at,
            "subject": title, "description": description, "priority": "normal",
            "status": "open", "requester_id": id, "submitter_id": id,
            "comments": [
                {"author_id": id, "body": description, "public": true, "created_at": at},
                {"author_id": id, "body": "Any news on this?", "public": true, "created_at": at},
            ]
        }));
        users.push(serde_json::json!({"id": id, "name": name, "email": email}));
    }
    let page = serde_json::json!({"tickets": tickets, "users": users, "end_of_stream": true});
    Ok(std::fs::write(path, serde_json::to_vec(&page)?)?)
}

/// Writes them as a Data Export's Case.csv and CaseComment.csv, two comments a case.
fn salesforce(dir: &Path, opened: &[Event]) -> Result<(String, String)> {
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let cases = dir.join("Case.csv");
    let comments = dir.join("CaseComment.csv");
    let mut c = std::io::BufWriter::new(std::fs::File::create(&cases)?);
    let mut m = std::io::BufWriter::new(std::fs::File::create(&comments)?);
    writeln!(
        c,
        "Id,CaseNumber,Subject,Description,Status,Priority,Origin,SuppliedName,SuppliedEmail,IsClosed,CreatedDate,CreatedById"
    )?;
    writeln!(
        m,
        "Id,ParentId,IsPublished,CommentBody,CreatedById,CreatedDate"
    )?;
    for e in opened {
        let (title, description, name, email) = opening(e)?;
        let n = e.case.get();
        let at = e.at.to_string();
        writeln!(
            c,
            "500{n},{n:08},{},{},New,Medium,Email,{},{email},0,{at},005X",
            q(title),
            q(description),
            q(name)
        )?;
        writeln!(m, "00a{n},500{n},1,\"Any news on this?\",005X,{at}")?;
        writeln!(
            m,
            "00b{n},500{n},0,\"Checked the logs, nothing yet\",005X,{at}"
        )?;
    }
    c.flush()?;
    m.flush()?;
    Ok((cases.display().to_string(), comments.display().to_string()))
}

/// `casework import ARGS` into a fresh store at `db`: (cases written, cases per second).
fn casework_import(casework: &Path, db: &Path, args: &[&str]) -> Result<(u64, f64)> {
    fresh(db);
    let started = Instant::now();
    let out = Command::new(casework)
        .env_clear()
        .arg("--store")
        .arg(format!("sqlite://{}", db.display()))
        .args(["--json", "import"])
        .args(args)
        .output()
        .with_context(|| format!("run {}", casework.display()))?;
    let secs = started.elapsed().as_secs_f64();
    ensure!(
        out.status.success(),
        "casework import {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let written = report["cases"]["written"].as_u64().context("a report")?;
    Ok((written, written as f64 / secs))
}

/// Which full-text rows the raw loop writes: the store's (both tables), none, or the
/// variants that show what each part of the full-text index costs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fts {
    /// Both tables, as the store has them.
    Both,
    /// No full-text rows.
    None,
    /// `search_full` alone (what indexing a public passage once would write on an import of
    /// public text).
    One,
    /// Both tables, made without their 3-character prefix index.
    NoPrefix,
}

/// The baseline: the same rows as a bulk load writes, by hand, in one transaction.
/// The raw loop; `fts` says which full-text rows it writes (to show what they cost).
fn raw(db: &Path, opened: &[Event], fts: Fts) -> Result<(u64, f64)> {
    fresh(db);
    // the store makes the schema; the loop writes into it directly
    drop(SqliteStore::open_url(&format!(
        "sqlite://{}",
        db.display()
    ))?);
    let mut conn = Connection::open(db)?;
    if fts == Fts::NoPrefix {
        conn.execute_batch(
            "DROP TABLE search_full_vocab; DROP TABLE search_full; DROP TABLE search_public;
             CREATE VIRTUAL TABLE search_full USING fts5(title, body,
                 tokenize = 'porter unicode61 remove_diacritics 2');
             CREATE VIRTUAL TABLE search_public USING fts5(title, body,
                 tokenize = 'porter unicode61 remove_diacritics 2');",
        )?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let started = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut case_row = tx.prepare(
            "INSERT INTO cases (number, version, status, status_category, owner, customer_email,
                                product_area, primary_resolution, reopen_count, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut event = tx
            .prepare("INSERT INTO events (case_number, seq, kind, body) VALUES (?1, ?2, ?3, ?4)")?;
        let mut feed = tx.prepare("INSERT INTO feed (case_number, seq) VALUES (?1, ?2)")?;
        let mut passage = tx.prepare("INSERT INTO search_passages (doc, seq) VALUES (?1, 0)")?;
        let mut full =
            tx.prepare("INSERT INTO search_full (rowid, title, body) VALUES (?1, ?2, ?3)")?;
        let mut public =
            tx.prepare("INSERT INTO search_public (rowid, title, body) VALUES (?1, ?2, ?3)")?;
        for e in opened {
            let case = replay(std::slice::from_ref(e))?;
            let n = case.number.get() as i64;
            case_row.execute(params![
                n,
                1,
                case.status.as_str(),
                case.status_category.as_str(),
                case.owner,
                case.customer.email.as_str(),
                case.category.product_area,
                Option::<String>::None,
                0,
                serde_json::to_string(&case)?,
            ])?;
            event.execute(params![n, 1, e.kind.name(), serde_json::to_string(e)?])?;
            feed.execute(params![n, 1])?;
            passage.execute(params![n])?;
            let id = tx.last_insert_rowid();
            if fts != Fts::None {
                full.execute(params![id, case.title, case.description])?;
            }
            if fts == Fts::Both || fts == Fts::NoPrefix {
                public.execute(params![id, case.title, case.description])?;
            }
        }
    }
    tx.commit()?;
    let secs = started.elapsed().as_secs_f64();
    Ok((opened.len() as u64, opened.len() as f64 / secs))
}

/// Runs the scenario with the `casework` program at `casework` and returns a Markdown
/// section.
pub async fn run(dir: &Path, casework: &Path, cases: u64, others: u64) -> Result<String> {
    std::fs::create_dir_all(dir)?;
    let opened = opened(cases)?;
    let file = dir.join("import.ndjson");
    ndjson(&file, &opened)?;
    let db = dir.join("import.db");
    let file_arg = file.display().to_string();
    // each once to warm the page cache and the program, then measured
    raw(&db, &opened[..opened.len().min(10_000)], Fts::Both)?;
    let (_, bare_rate) = raw(&db, &opened, Fts::None)?;
    let (_, one_rate) = raw(&db, &opened, Fts::One)?;
    let (_, unprefixed_rate) = raw(&db, &opened, Fts::NoPrefix)?;
    let (raw_n, raw_rate) = raw(&db, &opened, Fts::Both)?;
    let (imp_n, imp_rate) = casework_import(casework, &db, &[&file_arg])?;
    ensure!(
        raw_n == imp_n,
        "both load every case: {raw_n} raw, {imp_n} imported"
    );
    let few = &opened[..(others as usize).min(opened.len())];
    let page = dir.join("tickets.json");
    zendesk(&page, few)?;
    let page_arg = page.display().to_string();
    let (zd_n, zd_rate) = casework_import(casework, &db, &["--from", "zendesk", &page_arg])?;
    let (sf_cases, sf_comments) = salesforce(dir, few)?;
    let (sf_n, sf_rate) = casework_import(
        casework,
        &db,
        &["--from", "salesforce", &sf_cases, &sf_comments],
    )?;
    ensure!(
        zd_n == few.len() as u64 && sf_n == few.len() as u64,
        "every ticket and case imported"
    );
    fresh(&db);
    for f in [file, page] {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_file(&sf_cases);
    let _ = std::fs::remove_file(&sf_comments);
    Ok(format!(
        "### Import into SQLite, {cases} cases with their opening events\n\n\
         | Run | Cases | Rate | Ratio |\n|---|---|---|---|\n\
         | raw rusqlite: the same rows (case with its state, event, feed, passage, two FTS rows), one transaction | {raw_n} | {raw_rate:.0}/s | — |\n\
         | raw rusqlite without the two FTS rows (what the full-text index costs) | {raw_n} | {bare_rate:.0}/s | {:.2}× raw |\n\
         | raw rusqlite with one FTS row, `search_full` alone (a public passage indexed once) | {raw_n} | {one_rate:.0}/s | {:.2}× raw |\n\
         | raw rusqlite with both FTS rows, the tables made without their prefix index | {raw_n} | {unprefixed_rate:.0}/s | {:.2}× raw |\n\
         | `casework import FILE` (NDJSON; the whole process: parse, check, bulk-load 1,000 a transaction) | {imp_n} | {imp_rate:.0}/s | **{:.2}×** raw |\n\
         | `casework import --from zendesk` (one page, two comments a ticket: 2 events a case) | {zd_n} | {zd_rate:.0}/s | {:.2}× raw |\n\
         | `casework import --from salesforce` (Case.csv, CaseComment.csv: 3 events a case) | {sf_n} | {sf_rate:.0}/s | {:.2}× raw |\n",
        bare_rate / raw_rate,
        one_rate / raw_rate,
        unprefixed_rate / raw_rate,
        imp_rate / raw_rate,
        zd_rate / raw_rate,
        sf_rate / raw_rate,
    ))
}
