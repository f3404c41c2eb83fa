//! `casework-bench`: Casework's benchmarks. Each scenario measures Casework and a raw
//! baseline in the same run and reports the ratio; `cargo xtask bench` runs it in release
//! mode and writes the figures into docs/benchmarks.md with the command that produced them.

mod feed;
mod import;
mod mail;
mod memory;
mod postgres;
mod reports;
mod rest;
mod search;
mod store;
mod synth;
mod webhooks;

use anyhow::{Context, Result, bail};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A numeric option, or its default.
fn number(args: &[String], name: &str, default: u64) -> Result<u64> {
    match arg(args, name) {
        Some(v) => v.parse().with_context(|| format!("{name} {v}")),
        None => Ok(default),
    }
}

/// `--dir DIR` (default `target/bench`), created.
fn dir(args: &[String]) -> Result<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(arg(args, "--dir").unwrap_or_else(|| "target/bench".into()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("store") => {
            let cases = number(&args, "--cases", 100000)?;
            let commits = number(&args, "--commits", 20000)?;
            let dir = dir(&args)?;
            let reuse = args.iter().any(|a| a == "--reuse");
            let report = store::run(&dir, cases, commits, reuse).await?;
            println!("{report}");
            Ok(())
        }
        Some("bare") => {
            // The baseline for GET case: a bare axum handler returning constant JSON.
            let bind = arg(&args, "--bind").unwrap_or_else(|| "127.0.0.1:0".into());
            let body = serde_json::json!({"number": 1, "display_number": "00000001", "title": "Map service fails to publish", "status": "New"});
            let app = axum::Router::new().route(
                "/case",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move { axum::Json(body) }
                }),
            );
            let listener = tokio::net::TcpListener::bind(&bind).await?;
            println!("listening on http://{}", listener.local_addr()?);
            axum::serve(listener, app).await?;
            Ok(())
        }
        Some("rest") => {
            // The REST store against the same SQLite store used directly.
            let commits = number(&args, "--commits", 20000)?;
            let dir = dir(&args)?;
            println!("{}", rest::run(&dir, commits).await?);
            Ok(())
        }
        Some("feed") => {
            // The change feed's catch-up against reading the events table directly.
            let events = number(&args, "--events", 1_000_000)?;
            let dir = dir(&args)?;
            println!("{}", feed::run(&dir, events).await?);
            Ok(())
        }
        Some("import") => {
            // `casework import` (NDJSON, Zendesk, Salesforce) against a raw rusqlite loop.
            let cases = number(&args, "--cases", 200_000)?;
            let others = number(&args, "--others", 50_000)?;
            let casework = arg(&args, "--casework").context("--casework PATH")?;
            let dir = dir(&args)?;
            println!(
                "{}",
                import::run(&dir, std::path::Path::new(&casework), cases, others).await?
            );
            Ok(())
        }
        Some("webhooks") => {
            // Create throughput with 10 webhook endpoints against none, in the same run.
            let creates = number(&args, "--creates", 20000)?;
            let dir = dir(&args)?;
            println!("{}", webhooks::run(&dir, creates).await?);
            Ok(())
        }
        Some("mail") => {
            // Ingestion through the real pipeline against parse-only, over one Maildir.
            let messages = number(&args, "--messages", 10000)?;
            let dir = dir(&args)?;
            println!("{}", mail::run(&dir, messages).await?);
            Ok(())
        }
        Some("raw-create") => {
            // The baseline for HTTP create: the raw rusqlite loop, NORMAL, one transaction per case.
            let commits = number(&args, "--commits", 20000)?;
            let dir = dir(&args)?;
            println!("{:.0}", store::raw_create_rate(&dir, commits)?);
            Ok(())
        }
        Some("pg-dataset") => {
            // Loads synthetic cases into a PostgreSQL store (cargo xtask bench postgres).
            let url = arg(&args, "--url").context("--url postgres://…")?;
            let cases = number(&args, "--cases", 100000)?;
            println!("{}", postgres::dataset(&url, cases).await?);
            Ok(())
        }
        Some("pg-similar") => {
            // Similar cases on PostgreSQL against the raw query with the same terms.
            let url = arg(&args, "--url").context("--url postgres://…")?;
            let cases = number(&args, "--cases", 100000)?;
            println!("{}", postgres::similar(&url, cases).await?);
            Ok(())
        }
        Some("search") => {
            // against a running `casework serve` of the store in --db
            // the store's file, or with --pg its PostgreSQL database
            let (db, pg) = (arg(&args, "--db"), arg(&args, "--pg"));
            let source = match (&db, &pg) {
                (_, Some(url)) => search::Source::Postgres(url),
                (Some(db), None) => search::Source::Sqlite(std::path::Path::new(db)),
                (None, None) => bail!("--db PATH or --pg URL"),
            };
            let url = arg(&args, "--url").context("--url BASE")?;
            let token = arg(&args, "--token").context("--token TOKEN")?;
            let pid = number(&args, "--pid", 0)? as u32;
            let cases = number(&args, "--cases", 100000)?;
            let report = search::run(source, &url, &token, pid, cases).await?;
            println!("{report}");
            Ok(())
        }
        Some("memory") => {
            // against a running `casework serve` of a store of --cases cases
            let url = arg(&args, "--url").context("--url BASE")?;
            let token = arg(&args, "--token").context("--token TOKEN")?;
            let pid = number(&args, "--pid", 0)? as u32;
            let cases = number(&args, "--cases", 100000)?;
            println!("{}", memory::run(&url, &token, pid, cases).await?);
            Ok(())
        }
        Some("reports") => {
            let cases = number(&args, "--cases", 100000)?;
            let dir = dir(&args)?;
            let store_only = args.iter().any(|a| a == "--store-only");
            println!("{}", reports::run(&dir, cases, store_only).await?);
            Ok(())
        }
        Some("dataset") => {
            let cases = number(&args, "--cases", 100000)?;
            let dir = dir(&args)?;
            println!("{}", store::dataset(&dir, cases).await?.display());
            Ok(())
        }
        _ => bail!(
            "usage: casework-bench store [--cases N] [--commits N] [--dir DIR] [--reuse]\n       casework-bench dataset [--cases N] [--dir DIR]\n       casework-bench reports [--cases N] [--dir DIR] [--store-only]\n       casework-bench search (--db PATH | --pg URL) --url BASE --token TOKEN --pid PID [--cases N]\n       casework-bench memory --url BASE --token TOKEN --pid PID [--cases N]\n       casework-bench rest [--commits N] [--dir DIR]\n       casework-bench raw-create [--commits N] [--dir DIR]\n       casework-bench mail [--messages N] [--dir DIR]\n       casework-bench feed [--events N] [--dir DIR]\n       casework-bench webhooks [--creates N] [--dir DIR]\n       casework-bench import --casework PATH [--cases N] [--others N] [--dir DIR]\n       casework-bench bare [--bind ADDR]\n       casework-bench pg-dataset --url URL [--cases N]\n       casework-bench pg-similar --url URL [--cases N]"
        ),
    }
}
