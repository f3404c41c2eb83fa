//! The resident memory of `casework serve` over a large store, phase by phase: idle, after
//! GETs of cases spread over the whole store, after creates, after reports, and its peak
//! under 32 clients doing all of these at once; read from `/proc/PID/status`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::search::rss_mib;
use crate::synth::Rng;

/// The resident-memory target at 1M cases, in MiB (QUALITY.md).
const BUDGET_MIB: f64 = 64.0;

/// Clients at once.
const CLIENTS: usize = 32;

/// A request of the load.
#[derive(Clone)]
enum Req {
    Get(String),
    Post(String, &'static str),
}

const NEW_CASE: &str = r#"{"title":"Printer queue stalls after the update","origin":"web","description":"Jobs sit in the queue until the spooler is restarted.","customer":{"name":"C","email":"c@customer.example"}}"#;

/// `reqs` spread over `CLIENTS` clients, each sending its share one at a time; the failures.
async fn drive(http: &reqwest::Client, base: &str, token: &str, reqs: Vec<Req>) -> usize {
    let reqs = Arc::new(reqs);
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, reqs) = (http.clone(), reqs.clone());
        let (base, token) = (base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            for r in reqs.iter().skip(c).step_by(CLIENTS) {
                let sent = match r {
                    Req::Get(p) => http.get(format!("{base}{p}")),
                    Req::Post(p, body) => http
                        .post(format!("{base}{p}"))
                        .header("content-type", "application/json")
                        .body(*body),
                };
                let ok = match sent.bearer_auth(&token).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                failed += usize::from(!ok);
            }
            failed
        }));
    }
    let mut failed = 0;
    for t in tasks {
        failed += t.await.unwrap_or(1);
    }
    failed
}

/// GETs of `n` cases drawn uniformly from the whole store.
fn gets(rng: &mut Rng, cases: u64, n: usize) -> Vec<Req> {
    (0..n)
        .map(|_| Req::Get(format!("/api/v1/cases/{}", 1 + rng.below(cases))))
        .collect()
}

/// The reopen report by every grouping, all time and a month.
fn reports() -> Vec<Req> {
    let mut out = Vec::new();
    for g in ["product_area", "owner", "primary_resolution"] {
        out.push(Req::Get(format!("/api/v1/reports/reopens?group_by={g}")));
        out.push(Req::Get(format!(
            "/api/v1/reports/reopens?group_by={g}&from=2025-01-08T05:00:00Z&to=2025-02-01T17:00:00Z"
        )));
    }
    out
}

/// The peak of the process's resident memory so far (`VmHWM`), in MiB.
fn peak_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("0")
        .parse()?;
    Ok(kb / 1024.0)
}

/// Every phase against the server at `base` (process `pid`) over a store of `cases` cases:
/// a Markdown section.
pub async fn run(base: &str, token: &str, pid: u32, cases: u64) -> Result<String> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let mut rng = Rng::new(17);
    let mut rows: Vec<(String, f64)> = Vec::new();
    let phase = |name: &str, rows: &mut Vec<(String, f64)>| -> Result<()> {
        rows.push((name.to_string(), rss_mib(pid)?));
        Ok(())
    };
    // idle: one request through every layer, nothing else
    if drive(&http, base, token, vec![Req::Get("/healthz".into())]).await > 0 {
        bail!("the server does not answer");
    }
    phase("idle (after one `GET /healthz`)", &mut rows)?;
    let n_gets = 20_000;
    let failed = drive(&http, base, token, gets(&mut rng, cases, n_gets)).await;
    phase(
        &format!("after {n_gets} `GET /api/v1/cases/{{n}}` of random cases"),
        &mut rows,
    )?;
    let n_creates = 2_000;
    let creates = vec![Req::Post("/api/v1/cases".into(), NEW_CASE); n_creates];
    let failed = failed + drive(&http, base, token, creates).await;
    phase(
        &format!("after {n_creates} `POST /api/v1/cases`"),
        &mut rows,
    )?;
    let failed = failed + drive(&http, base, token, reports()).await;
    phase(
        "after the reopen report by every grouping (all time and a month)",
        &mut rows,
    )?;
    if failed > 0 {
        bail!("{failed} requests failed");
    }
    // 32 clients mixing all of it, resident memory sampled every 50 ms
    let mut mixed = gets(&mut rng, cases, 16_000);
    for r in mixed.iter_mut().step_by(20) {
        *r = Req::Post("/api/v1/cases".into(), NEW_CASE);
    }
    for (i, r) in reports().into_iter().enumerate() {
        let at = (i + 1) * mixed.len() / 8;
        mixed[at] = r;
    }
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut high: f64 = 0.0;
            while !done.load(Ordering::Relaxed) {
                high = high.max(rss_mib(pid).unwrap_or(0.0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            high
        })
    };
    let started = Instant::now();
    let failed = drive(&http, base, token, mixed).await;
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let high = sampler.await.unwrap_or(0.0);
    if failed > 0 {
        bail!("{failed} requests of the mixed load failed");
    }
    rows.push((
        format!(
            "highest sampled under {CLIENTS} clients: 16,000 requests (GETs of random cases, \
             one create in 20, the six reports) in {:.1} s",
            took.as_secs_f64()
        ),
        high,
    ));
    rows.push(("after the mixed load".into(), rss_mib(pid)?));
    rows.push(("peak of the whole run (`VmHWM`)".into(), peak_mib(pid)?));
    let mut out = format!(
        "### {cases} cases\n\n| Phase | Resident memory | Of the {BUDGET_MIB:.0} MiB target |\n|---|---|---|\n"
    );
    for (name, mib) in rows {
        out.push_str(&format!(
            "| {name} | {mib:.1} MiB | **{:.2}×** |\n",
            mib / BUDGET_MIB
        ));
    }
    Ok(out)
}
