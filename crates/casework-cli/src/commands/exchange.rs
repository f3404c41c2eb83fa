//! `casework import FILE…` and `casework export`: the composition root opens the store as a
//! database of its own, the service checks who may (the `store` permission), and core's
//! importer and exporter do the work ([`casework_core::exchange`]); this file reads and
//! writes the files, shows progress, and prints the report.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use casework_core::exchange::{ImportReport, Importer, Line, salesforce, zendesk};
use casework_core::model::Actor;
use casework_core::transfer::Counts;

use super::Ctx;
use crate::app::{Exchanging, Failure};
use crate::cli::{Cli, ExportArgs, ImportArgs, ImportSource};
use crate::output::{print_json, write_out};
use crate::progress::Progress;

/// Where a record was: a file and a line.
struct At<'a>(&'a str, u64);

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

/// A file to read, or standard input for `-`, with its size when known.
fn open(path: &Path) -> Result<(Box<dyn Read>, u64), Failure> {
    if path == Path::new("-") {
        return Ok((Box::new(std::io::stdin()), 0));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((Box::new(file), size))
}

/// The store as a database of its own, and who `--as` names (else the operator).
async fn open_as(cli: &Cli) -> Result<(Exchanging, Actor), Failure> {
    let ex = Exchanging::open(
        cli.store.as_deref(),
        cli.config.as_deref(),
        cli.templates.as_deref(),
    )
    .await?;
    let cx = Ctx {
        app: &ex.app,
        actor: &cli.actor,
        json: cli.json,
    };
    let actor = cx.who_or_operator().await?;
    Ok((ex, actor))
}

/// Imports the files as `--as` (or the operator); exit 0 when every record was taken, 3
/// when some were refused (each listed on stderr).
pub(crate) async fn import(cli: &Cli, args: &ImportArgs) -> Result<u8, Failure> {
    let (ex, actor) = open_as(cli).await?;
    let source = match args.source {
        ImportSource::Ndjson => "ndjson",
        ImportSource::Zendesk => "zendesk",
        ImportSource::Salesforce => "salesforce",
    };
    let mut importer = ex.importer(&actor, source, args.dry_run, args.batch)?;
    let total: u64 = args
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok().map(|m| m.len()))
        .sum();
    let mut progress = Progress::new(
        "{msg} [{bar:30}] {percent}% {binary_bytes_per_sec}, {elapsed_precise} (eta {eta})",
    );
    let verb = if args.dry_run { "checked" } else { "imported" };
    let mut read = 0u64;
    if args.source == ImportSource::Salesforce {
        progress.message("reading the Salesforce export".into());
        salesforce(&args.files, args.mapping.as_deref(), &mut importer).await?;
    } else if args.mapping.is_some() {
        return Err(Failure::usage("--mapping is for --from salesforce"));
    }
    for path in &args.files {
        match args.source {
            ImportSource::Salesforce => {}
            ImportSource::Zendesk => {
                read += zendesk(path, &mut importer).await?;
                let n = importer.report().checked;
                progress.at(read, total, || format!("{verb} {n} tickets"));
            }
            ImportSource::Ndjson => {
                ndjson(path, &mut importer, &mut |importer, bytes| {
                    read += bytes;
                    let r = importer.report();
                    let n = r.checked;
                    progress.message(format!("{n} records"));
                    progress.at(read, total, || {
                        format!("{verb} {n} records, {} refused", r.refused.len())
                    });
                })
                .await?;
            }
        }
    }
    let report = importer.finish().await;
    progress.finish();
    let report = report.map_err(Failure::from)?;
    for r in &report.refused {
        crate::output::err_line(&format!("not imported: {r}"));
    }
    if cli.json {
        print_json(&report)?;
    } else {
        write_out(&summary(&report))?;
    }
    if report.refused.is_empty() {
        Ok(0)
    } else {
        Err(Failure {
            code: crate::exit::CONFLICT,
            message: format!(
                "{} record(s) were not imported (listed above); everything else was{}",
                report.refused.len(),
                if report.dry_run { " checked" } else { "" }
            ),
        })
    }
}

/// Reads one NDJSON file into the importer, a line a record; `tick` hears each line's bytes.
async fn ndjson(
    path: &Path,
    importer: &mut Importer<'_>,
    tick: &mut dyn FnMut(&Importer<'_>, u64),
) -> Result<(), Failure> {
    let name = path.display().to_string();
    let (file, _) = open(path)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let bytes = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
        if bytes == 0 {
            break;
        }
        n += 1;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim(),
            Err(_) => {
                importer.read(1);
                importer.refuse(At(&name, n), "not UTF-8 text");
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        importer.read(1);
        match Line::parse(text) {
            Ok(line) => importer.add(At(&name, n), line).await?,
            Err(e) if n == 1 && text.contains("\"header\"") => {
                return Err(Failure::usage(format!("{name}: {e}")));
            }
            Err(e) => importer.refuse(At(&name, n), e),
        }
        tick(importer, bytes as u64);
    }
    Ok(())
}

/// Reads Zendesk export pages, a JSON document a file.
async fn zendesk(path: &Path, importer: &mut Importer<'_>) -> Result<u64, Failure> {
    let name = path.display().to_string();
    let (mut file, _) = open(path)?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
    zendesk::import_page(importer, &name, &text).await?;
    Ok(text.len() as u64)
}

/// Which Salesforce file a path is, by its name.
fn salesforce_kind(path: &Path) -> Option<&'static str> {
    let stem = path.file_stem()?.to_str()?.to_ascii_lowercase();
    match stem.as_str() {
        "case" => Some("Case"),
        "casecomment" => Some("CaseComment"),
        "emailmessage" => Some("EmailMessage"),
        _ => None,
    }
}

/// Reads one CSV file of a Data Export.
fn table(path: &Path) -> Result<salesforce::Table, Failure> {
    let name = path.display().to_string();
    let (file, _) = open(path)?;
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let bad = |e: csv::Error| Failure::usage(format!("{name}: {e}"));
    let headers = reader
        .headers()
        .map_err(bad)?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, record.iter().map(str::to_string).collect()));
    }
    Ok(salesforce::Table {
        name,
        headers,
        rows,
    })
}

/// Reads a Data Export's Case.csv, CaseComment.csv and EmailMessage.csv (by their names)
/// with the mapping file.
async fn salesforce(
    files: &[std::path::PathBuf],
    mapping: Option<&Path>,
    importer: &mut Importer<'_>,
) -> Result<(), Failure> {
    let mapping = match mapping {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", p.display())))?;
            salesforce::Mapping::parse(&text)
                .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?
        }
        None => salesforce::Mapping::default(),
    };
    let (mut cases, mut comments, mut emails) = (None, None, None);
    for path in files {
        let slot = match salesforce_kind(path) {
            Some("Case") => &mut cases,
            Some("CaseComment") => &mut comments,
            Some("EmailMessage") => &mut emails,
            _ => {
                return Err(Failure::usage(format!(
                    "{}: a Salesforce import reads Case.csv, CaseComment.csv and EmailMessage.csv",
                    path.display()
                )));
            }
        };
        *slot = Some(table(path)?);
    }
    let cases = cases.ok_or_else(|| Failure::usage("a Salesforce import needs Case.csv"))?;
    salesforce::import(
        importer,
        &cases,
        &comments.unwrap_or_default(),
        &emails.unwrap_or_default(),
        &mapping,
    )
    .await?;
    Ok(())
}

/// One line of a summary: what became of one kind of record (`store copy` shares it).
pub(crate) fn counts_line(name: &str, n: &Counts) -> String {
    format!(
        "{name:<10} {} written, {} updated, {} unchanged\n",
        n.written, n.updated, n.unchanged
    )
}

fn summary(r: &ImportReport) -> String {
    let c = counts_line;
    let mut out = String::new();
    if r.dry_run {
        out.push_str("Dry run: nothing was written\n");
    }
    out.push_str(&format!(
        "{:<10} {} read from {}, {} checked, {} refused\n",
        "Records",
        r.rows,
        r.source,
        r.checked,
        r.refused.len()
    ));
    if !r.dry_run {
        out.push_str(&format!("{:<10} {} written\n", "People", r.people));
        out.push_str(&c("Articles", &r.articles));
        out.push_str(&c("Defects", &r.defects));
        out.push_str(&c("Cases", &r.cases));
        out.push_str(&format!(
            "{:<10} {} carried with their cases\n{:<10} {} carried with their cases\n",
            "Emails", r.messages, "Files", r.files
        ));
        if r.quarantine.total() > 0 {
            out.push_str(&c("Quarantine", &r.quarantine));
        }
    }
    if !r.unmapped.is_empty() {
        out.push_str(&format!("{:<10} {}\n", "Unmapped", r.unmapped.join(", ")));
    }
    out
}

/// Writes the whole store as NDJSON to `--out` or standard output.
pub(crate) async fn export(cli: &Cli, args: &ExportArgs) -> Result<u8, Failure> {
    let (ex, actor) = open_as(cli).await?;
    let mut exporter = ex.exporter(&actor, args.batch)?;
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(
            std::fs::File::create(path)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut out);
    let failed = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::BrokenPipe => Failure::quiet(),
        _ => Failure::unavailable(format!("cannot write the export: {e}")),
    };
    let mut progress =
        Progress::new("exporting [{bar:40}] {pos}/{len} cases, {elapsed_precise} (eta {eta})");
    while let Some(lines) = exporter.next().await? {
        for line in lines {
            let text = line.to_json()?;
            out.write_all(text.as_bytes()).map_err(failed)?;
            out.write_all(b"\n").map_err(failed)?;
        }
        let (done, total) = (exporter.cases, exporter.total.max(exporter.cases));
        progress.at(done, total, || format!("exported {done}/{total} cases"));
    }
    progress.finish();
    out.flush().map_err(failed)?;
    Ok(0)
}
