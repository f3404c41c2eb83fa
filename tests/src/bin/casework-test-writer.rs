//! Test helper (not shipped): writes cases to a store concurrently and prints every write
//! the store acknowledged, for the crash-durability and two-process tests.
//!
//! Usage: `casework-test-writer URL TASKS CASES_PER_TASK`. Each task opens a case, then adds
//! a post to it (a version-checked commit), and prints `case N` and `post N` as soon as each
//! is acknowledged. Any store error ends the process with status 1, after printing it.

use std::io::Write;
use std::sync::Arc;

use casework_core::model::{Customer, Origin, PostKind, Priority, Role, Visibility};
use casework_core::ports::SystemClock;
use casework_core::testing::SequentialIds;
use casework_core::workflow::{Command, NewCase};
use casework_core::{CaseService, Templates, WorkflowConfig};
use casework_store_sqlite::SqliteStore;

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(tasks), Some(per_task)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
        args.get(3).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: casework-test-writer URL TASKS CASES_PER_TASK");
        std::process::exit(2);
    };
    let store = match SqliteStore::open_url(url) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(1);
        }
    };
    let templates = Templates::embedded().unwrap_or_else(|e| {
        eprintln!("templates: {e}");
        std::process::exit(1)
    });
    let svc = CaseService::new(
        store,
        Arc::new(SystemClock),
        Arc::new(SequentialIds::default()),
        Arc::new(WorkflowConfig::default_config()),
        Arc::new(templates),
    );
    let agent = casework_core::model::Actor {
        name: "writer".into(),
        principal: "person:writer".into(),
        role: Role::Agent,
        email: None,
        phone: None,
        signature: None,
    };
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (svc, agent) = (svc.clone(), agent.clone());
        handles.push(tokio::spawn(async move {
            for i in 0..per_task {
                let new = NewCase {
                    title: format!("task {t} case {i}"),
                    description: "written by the test writer".into(),
                    origin: Origin::Web,
                    priority: Priority::Medium,
                    customer: Customer {
                        name: "Crash Test".into(),
                        email: "crash@customer.example"
                            .parse()
                            .map_err(|e| format!("{e}"))?,
                        phone: None,
                        account: None,
                    },
                    product: None,
                    product_version: None,
                };
                let case = svc
                    .open_case(&agent, new)
                    .await
                    .map_err(|e| format!("open: {e}"))?;
                say(format!("case {}", case.number.get()));
                let post = Command::AddPost {
                    kind: PostKind::Note,
                    body: format!("note from task {t}"),
                    visibility: Visibility::Internal,
                };
                svc.execute(&agent, case.number, Some(case.version), post)
                    .await
                    .map_err(|e| format!("post: {e}"))?;
                say(format!("post {}", case.number.get()));
            }
            Ok::<(), String>(())
        }));
    }
    for h in handles {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("task: {e}");
                std::process::exit(1);
            }
        }
    }
}
