//! Each command: turn arguments into a core request, run it through the service, print the
//! outcome. No workflow rule lives here; refusals come from core.

use std::io::Read;

use casework_core::documents::EmailFields;
use casework_core::ids::{CaseNumber, EmailAddress};
use casework_core::model::{
    Actor, CallDirection, CloseMode, ContactChannel, ContactOutcome, Customer, LinkTarget,
    NewArticle, Origin, OutboxStatus, Person, PostKind, Priority, RefKind, Resolution, Role,
    StatusCategory, TemplateName, Visibility,
};
use casework_core::ports::{CaseFilter, PageRequest, ReportCasesQuery, ReportGroup, ReportQuery};
use casework_core::service::Outcome;
use casework_core::workflow::{CaseEdit, Command, NewCase};
use clap::CommandFactory;
use serde_json::json;

use crate::app::{App, ConfigSource, Failure, default_config_path};
use crate::cli::*;
use crate::output::{self, out, outln, print_json};

fn number(s: &str) -> Result<CaseNumber, Failure> {
    s.parse()
        .map_err(|e: casework_core::ids::ParseError| Failure::usage(e.to_string()))
}

fn email(s: &str) -> Result<EmailAddress, Failure> {
    s.parse()
        .map_err(|e: casework_core::ids::ParseError| Failure::usage(e.to_string()))
}

async fn actor(app: &App, cli_actor: &Option<String>) -> Result<Actor, Failure> {
    let Some(name) = cli_actor else {
        return Err(Failure::usage(
            "who is acting? pass --as NAME or set CASEWORK_USER (see `casework agent list`)",
        ));
    };
    Ok(app.service.resolve_actor(name).await?)
}

/// The person `--as` names, or else whoever holds the store's credentials
/// ([`Actor::operator`]): what `agent list`, `doctor` and `init` act as before anyone is
/// named.
async fn actor_or_operator(app: &App, cli_actor: &Option<String>) -> Result<Actor, Failure> {
    match cli_actor {
        Some(_) => actor(app, cli_actor).await,
        None => Ok(Actor::operator("cli")),
    }
}

fn read_body(body: Option<String>, file: Option<std::path::PathBuf>) -> Result<String, Failure> {
    match (body, file) {
        (Some(b), _) if b == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::usage(format!("cannot read standard input: {e}")))?;
            Ok(s)
        }
        (Some(b), _) => Ok(b),
        (None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display()))),
        (None, None) => Err(Failure::usage(
            "give --body TEXT, --body -, or --body-file FILE",
        )),
    }
}

fn changed(json: bool, outcome: &Outcome) -> Result<u8, Failure> {
    if json {
        print_json(&json!({ "case": outcome.case.view(), "events": outcome.events }))?;
    } else if outcome.events.is_empty() {
        outln!("Case {}: nothing changed", outcome.case.number.display());
    } else {
        for e in &outcome.events {
            outln!(
                "Case {}: {}",
                outcome.case.number.display(),
                output::describe(e)
            );
        }
    }
    Ok(0)
}

fn parse_time(s: &str, what: &str) -> Result<jiff::Timestamp, Failure> {
    casework_core::report::parse_bound(s).map_err(|e| Failure::usage(format!("--{what}: {e}")))
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> Result<u8, Failure> {
    match &cli.command {
        Top::Demo => return crate::demo::run(cli.json).await,
        Top::Openapi => {
            output::write_out(&casework_http::openapi::document())?;
            return Ok(0);
        }
        Top::Completions { shell } => {
            let mut cmd = Cli::command();
            let shell = match shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "casework", &mut script);
            output::write_out(&String::from_utf8_lossy(&script))?;
            return Ok(0);
        }
        _ => {}
    }
    let one_shot = !matches!(cli.command, Top::Serve { .. });
    let app = App::build(
        cli.store.as_deref(),
        cli.config.as_deref(),
        cli.templates.as_deref(),
        one_shot,
    )?;
    let json = cli.json;
    let svc = &app.service;
    match cli.command {
        Top::Demo | Top::Openapi | Top::Completions { .. } => Ok(0),
        Top::Init => init(&app, &cli.actor, cli.config.as_deref(), json).await,
        Top::Serve {
            bind,
            mailer,
            deliver_every,
            header_timeout,
            max_connections,
            no_web,
        } => {
            let limits = casework_http::ServeLimits {
                header_read_timeout: std::time::Duration::from_secs(header_timeout),
                max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
            };
            serve(
                &app,
                &bind,
                &mailer,
                std::time::Duration::from_secs(deliver_every),
                limits,
                !no_web,
            )
            .await
        }
        Top::Doctor => doctor(&app, &cli.actor, json).await,
        Top::Agent(AgentCmd::Add {
            name,
            role,
            email: addr,
            phone,
            signature,
        }) => {
            // With --as, that person registers; without it, only the first person of a
            // new store may be added (core decides).
            let acting = match &cli.actor {
                Some(_) => Some(actor(&app, &cli.actor).await?),
                None => None,
            };
            let role = match role {
                StaffRole::Agent => Role::Agent,
                StaffRole::Lead => Role::Lead,
                StaffRole::Admin => Role::Admin,
            };
            let person = Person {
                name,
                role,
                email: Some(email(&addr)?),
                phone,
                signature,
            };
            let p = svc.register(acting.as_ref(), person).await?;
            if json {
                print_json(&p)?;
            } else {
                outln!("Registered {} ({})", p.name, p.role);
            }
            Ok(0)
        }
        Top::Agent(AgentCmd::List) => {
            let who = actor_or_operator(&app, &cli.actor).await?;
            let people = svc.people(&who).await?;
            if json {
                print_json(&people)?;
            } else if people.is_empty() {
                outln!("Nobody is registered yet: casework agent add NAME --role admin --email E");
            } else {
                let rows: Vec<Vec<String>> = people
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            p.role.to_string(),
                            p.email
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            p.phone.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    output::table(&["NAME", "ROLE", "EMAIL", "PHONE"], &rows)
                );
            }
            Ok(0)
        }
        Top::Token(cmd) => token(&app, &cli.actor, json, cmd).await,
        Top::Case(cmd) => case(&app, &cli.actor, json, cmd).await,
        Top::Call(CallCmd::Log {
            number: n,
            duration,
            screenshare,
            channel,
            inbound: _,
            outbound,
            notes,
        }) => {
            let who = actor(&app, &cli.actor).await?;
            let minutes = crate::durations::parse_minutes(&duration).map_err(Failure::usage)?;
            let cmd = Command::LogCall {
                direction: if outbound {
                    CallDirection::Outbound
                } else {
                    CallDirection::Inbound
                },
                duration_minutes: minutes,
                screenshare,
                channel,
                notes,
            };
            changed(json, &svc.execute(&who, number(&n)?, None, cmd).await?)
        }
        Top::Post(PostCmd::Add {
            number: n,
            kind,
            customer_visible,
            body,
            body_file,
        }) => {
            let who = actor(&app, &cli.actor).await?;
            let cmd = Command::AddPost {
                kind: match kind {
                    PostKindArg::Note => PostKind::Note,
                    PostKindArg::CallNotes => PostKind::CallNotes,
                    PostKindArg::Summary => PostKind::Summary,
                },
                body: read_body(body, body_file)?,
                visibility: if customer_visible {
                    Visibility::Customer
                } else {
                    Visibility::Internal
                },
            };
            changed(json, &svc.execute(&who, number(&n)?, None, cmd).await?)
        }
        Top::Contact(ContactCmd::Record {
            number: n,
            channel,
            outcome,
            note,
        }) => {
            let who = actor(&app, &cli.actor).await?;
            let cmd = Command::RecordContact {
                channel: match channel {
                    ChannelArg::Email => ContactChannel::Email,
                    ChannelArg::Phone => ContactChannel::Phone,
                },
                outcome: match outcome {
                    OutcomeArg::NoResponse => ContactOutcome::NoResponse,
                    OutcomeArg::Reached => ContactOutcome::Reached,
                },
                note,
            };
            changed(json, &svc.execute(&who, number(&n)?, None, cmd).await?)
        }
        Top::Email(cmd) => {
            let who = actor(&app, &cli.actor).await?;
            let (send, args) = match cmd {
                EmailCmd::Preview(a) => (false, a),
                EmailCmd::Send(a) => (true, a),
            };
            let template = match args.template {
                TemplateArg::InitialContact => TemplateName::InitialContact,
                TemplateArg::FollowUp => TemplateName::FollowUp,
                TemplateArg::NonResponseClosure => TemplateName::NonResponseClosure,
                TemplateArg::ReopenNotice => TemplateName::ReopenNotice,
            };
            let fields = EmailFields {
                challenge: args.challenge,
                discussed: args.discussed,
                next_steps: args.next_steps,
                documentation: args.documentation,
                note: args.note,
            };
            let n = number(&args.number)?;
            if send {
                changed(
                    json,
                    &svc.execute(&who, n, None, Command::SendEmail { template, fields })
                        .await?,
                )
            } else {
                let email = svc.preview_email(&who, n, template, &fields).await?;
                if json {
                    print_json(&email)?;
                } else {
                    out!(
                        "To: {} <{}>\nSubject: {}\n\n{}",
                        email.to_name,
                        email.to,
                        email.subject,
                        email.body
                    );
                }
                Ok(0)
            }
        }
        Top::Article(ArticleCmd::Add { title, body, url }) => {
            let who = actor(&app, &cli.actor).await?;
            let a = svc
                .add_article(&who, NewArticle { title, body, url })
                .await?;
            if json {
                print_json(&a)?;
            } else {
                outln!("Article {} added: {}", a.id, a.title);
            }
            Ok(0)
        }
        Top::Article(ArticleCmd::Show { id }) => {
            let who = actor(&app, &cli.actor).await?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| Failure::usage(format!("invalid article id {id:?}")))?;
            let a = svc.article(&who, id).await?;
            if json {
                print_json(&a)?;
            } else {
                outln!(
                    "Article {}: {}\n{}\n\n{}",
                    a.id,
                    a.title,
                    a.url.as_deref().unwrap_or(""),
                    a.body
                );
            }
            Ok(0)
        }
        Top::Defect(DefectCmd::Add {
            key,
            title,
            body,
            state,
        }) => {
            let who = actor(&app, &cli.actor).await?;
            let d = svc.add_defect(&who, &key, &title, &body, &state).await?;
            if json {
                print_json(&d)?;
            } else {
                outln!("Defect {} added: {}", d.key, d.title);
            }
            Ok(0)
        }
        Top::Defect(DefectCmd::Show { key }) => {
            let who = actor(&app, &cli.actor).await?;
            let d = svc.defect(&who, &key).await?;
            if json {
                print_json(&d)?;
            } else {
                outln!("Defect {} ({}): {}\n\n{}", d.key, d.state, d.title, d.body);
            }
            Ok(0)
        }
        Top::Swarm(SwarmArgs {
            number: n,
            group,
            question,
        }) => {
            let who = actor(&app, &cli.actor).await?;
            changed(
                json,
                &svc.execute(&who, number(&n)?, None, Command::Swarm { group, question })
                    .await?,
            )
        }
        Top::Search(SearchArgs { text, kind, limit }) => {
            let who = actor(&app, &cli.actor).await?;
            let kind = kind.map(|k| match k {
                KindArg::Case => RefKind::Case,
                KindArg::Article => RefKind::Article,
                KindArg::Defect => RefKind::Defect,
            });
            let hits = svc.search(&who, &text, kind, limit).await?;
            if json {
                print_json(&hits)?;
            } else {
                out!("{}", output::hits(&hits));
            }
            Ok(0)
        }
        Top::Report(ReportCmd::Reopens {
            by,
            from,
            to,
            key,
            limit,
            cursor,
        }) => {
            let who = actor(&app, &cli.actor).await?;
            let (group_by, label) = match by {
                ReportBy::ProductArea => (ReportGroup::ProductArea, "product area"),
                ReportBy::Owner => (ReportGroup::Owner, "owner"),
                ReportBy::Resolution => (ReportGroup::PrimaryResolution, "resolution"),
            };
            let query = ReportQuery {
                group_by,
                from: from.as_deref().map(|s| parse_time(s, "from")).transpose()?,
                to: to.as_deref().map(|s| parse_time(s, "to")).transpose()?,
            };
            if let Some(key) = key {
                let page = PageRequest::from_params(Some(limit), cursor.as_deref())
                    .map_err(|e| Failure::usage(e.to_string()))?;
                let query = ReportCasesQuery {
                    report: query,
                    key,
                    page,
                };
                let page = svc.reopen_report_cases(&who, query).await?;
                if json {
                    print_json(&page)?;
                } else {
                    out!("{}", output::report_cases(&page.items));
                    if let Some(c) = page.next_cursor {
                        outln!("More: add --cursor {c}");
                    }
                }
                return Ok(0);
            }
            let rows = svc.reopen_report(&who, query).await?;
            if json {
                print_json(&rows)?;
            } else {
                out!("{}", output::report(&rows, label));
            }
            Ok(0)
        }
        Top::Status(StatusCmd::Map { mapping }) => {
            let who = actor(&app, &cli.actor).await?;
            let Some((from, to)) = mapping.split_once('=') else {
                return Err(Failure::usage(format!(
                    "expected OLD=NEW (e.g. New=Open), got {mapping:?}"
                )));
            };
            let summary = svc.map_status(&who, from, to).await?;
            if json {
                print_json(&summary)?;
            } else {
                let s = if summary.moved == 1 { "" } else { "s" };
                outln!(
                    "Moved {} case{s} from {} to {}",
                    summary.moved,
                    summary.from,
                    summary.to
                );
                for c in &summary.skipped {
                    outln!("Skipped case {}: {}", c.number.display(), c.reason);
                }
            }
            Ok(if summary.skipped.is_empty() {
                0
            } else {
                crate::exit::REFUSED
            })
        }
        Top::Outbox(OutboxCmd::Flush { mailer }) => {
            let who = actor(&app, &cli.actor).await?;
            let mailer = casework_mail::mailer_from_url(&mailer)
                .map_err(|e| Failure::usage(e.to_string()))?;
            let worker = format!("cli-{}", std::process::id());
            let report = svc.deliver(&who, &worker, mailer.as_ref()).await?;
            if json {
                print_json(&report)?;
            } else {
                outln!(
                    "Sent {}, to retry {}, failed {}",
                    report.sent,
                    report.retried,
                    report.failed
                );
            }
            Ok(0)
        }
        Top::Outbox(OutboxCmd::List { status, limit }) => {
            let who = actor(&app, &cli.actor).await?;
            let status = status.map(|s| match s {
                OutboxStatusArg::Queued => OutboxStatus::Queued,
                OutboxStatusArg::Sent => OutboxStatus::Sent,
                OutboxStatusArg::Failed => OutboxStatus::Failed,
            });
            let messages = svc.outbox(&who, status, limit).await?;
            if json {
                print_json(&messages)?;
            } else {
                out!("{}", output::outbox(&messages));
            }
            Ok(0)
        }
    }
}

/// Serves the HTTP API until SIGTERM or Ctrl-C; requests in flight finish first. A
/// background worker delivers queued email through `mailer` every `deliver_every`
/// meanwhile ([`crate::worker`]), and `/healthz` says whether it runs. Slow and idle
/// connections are closed and their number capped (`limits`).
async fn serve(
    app: &App,
    bind: &str,
    mailer: &str,
    deliver_every: std::time::Duration,
    limits: casework_http::ServeLimits,
    web: bool,
) -> Result<u8, Failure> {
    let pages = if web { Some(web_pages(app)?) } else { None };
    let mailer =
        casework_mail::mailer_from_url(mailer).map_err(|e| Failure::usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::unavailable(format!("cannot read the bound address: {e}")))?;
    // Logs go to stderr (RUST_LOG filters them; default: requests and errors).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    // a server keeps serving whoever reads (or stopped reading) its standard output
    let _ = output::human(&format!(
        "listening on http://{addr} (store {})\n",
        app.store_url
    ));
    let state = casework_http::AppState::new(app.service.clone());
    let worker = tokio::spawn(crate::worker::deliver_forever(
        app.service.clone(),
        mailer,
        deliver_every,
        state.health.clone(),
    ));
    let mut router = casework_http::router(state);
    if let Some(pages) = pages {
        router = beside_the_api(router, pages);
    }
    casework_http::serve(listener, router, limits, shutdown()).await;
    worker.abort();
    let _ = output::human("stopped\n");
    Ok(0)
}

/// The desk and the portal over the service. Sign-in does not exist yet, so they identify
/// nobody ([`casework_web::NoSignIn`]): every page asks to sign in, and no case is shown.
fn web_pages(app: &App) -> Result<axum::Router, Failure> {
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut secret))
        .map_err(|e| {
            Failure::unavailable(format!(
                "cannot read /dev/urandom for the pages' CSRF secret: {e} (or serve --no-web)"
            ))
        })?;
    let state = casework_web::WebState::new(
        app.service.clone(),
        std::sync::Arc::new(casework_web::NoSignIn),
        casework_web::CsrfKey::new(secret),
    );
    Ok(casework_web::router(state))
}

/// Whether a path is the JSON API's (or the storage protocol's, health, the document).
fn api_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path.starts_with("/store/")
        || path == "/healthz"
        || path == "/openapi.json"
}

/// One router: the API's paths to the API (its 404s stay problem+json), every other path
/// to the pages.
fn beside_the_api(api: axum::Router, pages: axum::Router) -> axum::Router {
    use tower::ServiceExt;
    axum::Router::new().fallback(move |req: axum::extract::Request| {
        let target = if api_path(req.uri().path()) {
            api.clone()
        } else {
            pages.clone()
        };
        async move {
            match target.oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            }
        }
    })
}

async fn shutdown() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

async fn init(
    app: &App,
    cli_actor: &Option<String>,
    explicit: Option<&std::path::Path>,
    json: bool,
) -> Result<u8, Failure> {
    let who = actor_or_operator(app, cli_actor).await?;
    let stats = app.service.diagnose(&who).await?.stats;
    let path = explicit
        .map(std::path::Path::to_path_buf)
        .or_else(default_config_path);
    let mut wrote = None;
    if let Some(p) = &path
        && !p.exists()
    {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(p, casework_core::config::DEFAULT_WORKFLOW)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", p.display())))?;
        wrote = Some(p.clone());
    }
    if json {
        print_json(&json!({
            "store": app.store_url,
            "cases": stats.cases,
            "workflow_file": path.as_ref().map(|p| p.display().to_string()),
            "workflow_file_created": wrote.is_some(),
        }))?;
    } else {
        outln!("Store ready: {} ({} cases)", app.store_url, stats.cases);
        match (&wrote, &path) {
            (Some(p), _) => outln!("Wrote the default workflow file: {}", p.display()),
            (None, Some(p)) => outln!("Workflow file already present: {}", p.display()),
            (None, None) => outln!("Using the built-in workflow (no config folder found)"),
        }
        if stats.people == 0 {
            outln!("Next: casework agent add NAME --role admin --email E");
        }
    }
    Ok(0)
}

async fn doctor(app: &App, cli_actor: &Option<String>, json: bool) -> Result<u8, Failure> {
    let who = actor_or_operator(app, cli_actor).await?;
    let diagnosis = app.service.diagnose(&who).await?;
    let (stats, stranded) = (&diagnosis.stats, &diagnosis.stranded);
    let config = match &app.config_source {
        ConfigSource::File(p) => p.display().to_string(),
        ConfigSource::Embedded => "built-in default".to_string(),
    };
    let statuses: Vec<String> = diagnosis.statuses.iter().map(ToString::to_string).collect();
    if json {
        print_json(&json!({
            "store": app.store_url,
            "schema_version": stats.schema_version,
            "cases": stats.cases,
            "events": stats.events,
            "queued_messages": stats.queued_messages,
            "people": stats.people,
            "workflow": config,
            "statuses": statuses,
            "unknown_statuses": stranded,
            "template_overrides": app.template_overrides,
        }))?;
    } else {
        outln!("Store:      {}", app.store_url);
        match stats.schema_version {
            Some(v) => outln!("Schema:     version {v}"),
            None => outln!("Schema:     (in memory)"),
        }
        outln!(
            "Holds:      {} cases, {} events, {} people, {} queued emails",
            stats.cases,
            stats.events,
            stats.people,
            stats.queued_messages
        );
        outln!("Workflow:   {config}");
        outln!("Statuses:   {}", statuses.join(", "));
        for s in stranded {
            outln!(
                "Stranded:   {} case{} in {:?}, which the workflow file does not have: \
                 move them with casework --as ADMIN status map {}=NEW",
                s.cases,
                if s.cases == 1 { "" } else { "s" },
                s.status.as_str(),
                s.status
            );
        }
        if app.template_overrides.is_empty() {
            outln!("Templates:  built-in");
        } else {
            outln!(
                "Templates:  overrides {}",
                app.template_overrides.join(", ")
            );
        }
    }
    Ok(0)
}

async fn case(
    app: &App,
    cli_actor: &Option<String>,
    json: bool,
    cmd: CaseCmd,
) -> Result<u8, Failure> {
    let svc = &app.service;
    let who = actor(app, cli_actor).await?;
    let exec = |n: String, c: Command| {
        let who = who.clone();
        async move {
            let n = number(&n)?;
            let outcome = svc.execute(&who, n, None, c).await?;
            changed(json, &outcome)
        }
    };
    match cmd {
        CaseCmd::Open(a) => {
            let new = NewCase {
                title: a.title,
                description: a.description,
                origin: match a.origin {
                    OriginArg::Phone => Origin::Phone,
                    OriginArg::Email => Origin::Email,
                    OriginArg::Web => Origin::Web,
                    OriginArg::Chat => Origin::Chat,
                    OriginArg::Other => Origin::Other,
                },
                priority: priority(a.priority),
                customer: Customer {
                    name: a.customer_name,
                    email: email(&a.customer_email)?,
                    phone: a.customer_phone,
                    account: a.customer_account,
                },
                product: a.product,
                product_version: a.product_version,
            };
            let c = svc.open_case(&who, new).await?;
            if json {
                print_json(&c.view())?;
            } else {
                outln!("{}", c.number.display());
            }
            Ok(0)
        }
        CaseCmd::List(a) => {
            let filter =
                CaseFilter {
                    status: a.status.as_deref().map(str::parse).transpose().map_err(
                        |e: casework_core::ids::ParseError| Failure::usage(e.to_string()),
                    )?,
                    status_category: a.category.map(|c| match c {
                        CategoryArg::Open => StatusCategory::Open,
                        CategoryArg::Pending => StatusCategory::Pending,
                        CategoryArg::Closed => StatusCategory::Closed,
                    }),
                    owner: if a.mine {
                        Some(who.name.clone())
                    } else {
                        a.owner
                    },
                    reopened: a.reopened.then_some(true),
                    product_area: a.product_area,
                    customer: None,
                    q: a.q,
                };
            let page = PageRequest::from_params(Some(a.limit), a.cursor.as_deref())
                .map_err(|e| Failure::usage(e.to_string()))?;
            let page = svc.list(&who, filter, page).await?;
            if json {
                let items: Vec<_> = page.items.iter().map(|c| c.view()).collect();
                print_json(&json!({ "items": items, "next_cursor": page.next_cursor }))?;
            } else {
                if page.items.is_empty() {
                    outln!("No cases match.");
                } else {
                    out!("{}", output::case_rows(&page.items));
                }
                if let Some(c) = page.next_cursor {
                    outln!("More: add --cursor {c}");
                }
            }
            Ok(0)
        }
        CaseCmd::Show { number: n } => {
            let n = number(&n)?;
            let c = svc.case(&who, n).await?;
            let timeline = svc.timeline(&who, n).await?;
            if json {
                print_json(&json!({ "case": c.view(), "timeline": timeline }))?;
            } else {
                out!(
                    "{}\nTimeline\n{}",
                    output::case_card(&c),
                    output::timeline(&timeline)
                );
            }
            Ok(0)
        }
        CaseCmd::History { number: n } => {
            let events = svc.history(&who, number(&n)?).await?;
            if json {
                print_json(&events)?;
            } else {
                out!("{}", output::history(&events));
            }
            Ok(0)
        }
        CaseCmd::Take { number: n } => exec(n, Command::Take).await,
        CaseCmd::Assign { number: n, owner } => exec(n, Command::Assign { owner }).await,
        CaseCmd::Edit(a) => {
            let n = a.number.clone();
            if a.confirm_title {
                let nothing_else = a.description.is_none()
                    && a.priority.is_none()
                    && a.product.is_none()
                    && a.product_version.is_none()
                    && a.product_area.is_none()
                    && a.functionality.is_none()
                    && a.issue.is_none();
                if nothing_else {
                    return exec(n, Command::ConfirmTitle).await;
                }
                exec(n.clone(), Command::ConfirmTitle).await?;
            }
            let edit = CaseEdit {
                title: a.title,
                description: a.description,
                priority: a.priority.map(priority),
                product: a.product,
                product_version: a.product_version,
                product_area: a.product_area,
                functionality: a.functionality,
                issue: a.issue,
            };
            if edit == CaseEdit::default() {
                return Err(Failure::usage(
                    "nothing to change: give --title, --confirm-title, --product, … (see --help)",
                ));
            }
            exec(n, Command::Edit(edit)).await
        }
        CaseCmd::Transition {
            number: n,
            status,
            note,
        } => exec(n, Command::Transition { status, note }).await,
        CaseCmd::Escalate { number: n, reason } => exec(n, Command::Escalate { reason }).await,
        CaseCmd::Summary { number: n } => {
            let d = svc.summary_draft(&who, number(&n)?).await?;
            if json {
                print_json(&d)?;
            } else {
                out!("{}", d.text);
            }
            Ok(0)
        }
        CaseCmd::Check { number: n } => {
            let check = svc.closing_check(&who, number(&n)?).await?;
            if json {
                print_json(&check)?;
            } else {
                out!("{}", output::checklist(&check, svc.config()));
            }
            Ok(if check.ready { 0 } else { crate::exit::REFUSED })
        }
        CaseCmd::Close(a) => {
            let m = a.mode;
            let (mode, resolution) = if m.non_response {
                (CloseMode::NonResponse, None)
            } else if m.temporary {
                (CloseMode::Temporary, None)
            } else {
                (
                    CloseMode::Resolved,
                    Some(Resolution {
                        primary: m.primary.unwrap_or_default(),
                        secondary: m.secondary.unwrap_or_default(),
                    }),
                )
            };
            let close = Command::Close {
                mode,
                resolution,
                notify_customer: !a.no_notify,
            };
            exec(a.number, close).await
        }
        CaseCmd::Reopen {
            number: n,
            reason,
            no_notify,
        } => {
            exec(
                n,
                Command::Reopen {
                    reason,
                    notify_customer: !no_notify,
                },
            )
            .await
        }
        CaseCmd::Similar { number: n, limit } => {
            let hits = svc.similar(&who, number(&n)?, limit).await?;
            if json {
                print_json(&hits)?;
            } else {
                out!("{}", output::hits(&hits));
            }
            Ok(0)
        }
        CaseCmd::Link(a) => {
            let t = a.target;
            let target = match (t.article, t.defect, t.case) {
                (Some(r), _, _) => LinkTarget {
                    kind: RefKind::Article,
                    reference: r,
                },
                (_, Some(r), _) => LinkTarget {
                    kind: RefKind::Defect,
                    reference: r,
                },
                (_, _, Some(r)) => LinkTarget {
                    kind: RefKind::Case,
                    reference: r,
                },
                _ => {
                    return Err(Failure::usage(
                        "give --article ID, --defect KEY or --case N",
                    ));
                }
            };
            exec(a.number, Command::Link(target)).await
        }
    }
}

/// 32 bytes from the operating system's random source, as `cw_` and 64 hex digits. There
/// is no fallback: a token must never be guessable.
fn new_secret() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| {
            Failure::unavailable(format!("cannot read /dev/urandom for a token secret: {e}"))
        })?;
    Ok(format!(
        "cw_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

async fn token(
    app: &App,
    cli_actor: &Option<String>,
    json: bool,
    cmd: TokenCmd,
) -> Result<u8, Failure> {
    let svc = &app.service;
    let who = actor(app, cli_actor).await?;
    match cmd {
        TokenCmd::Create {
            name,
            role,
            customer_email,
        } => {
            let role = match role {
                TokenRole::Admin => Role::Admin,
                TokenRole::Lead => Role::Lead,
                TokenRole::Agent => Role::Agent,
                TokenRole::Customer => Role::Customer,
                TokenRole::Service => Role::Service,
            };
            let customer = customer_email.as_deref().map(email).transpose()?;
            let secret = new_secret()?;
            let t = svc
                .create_token(&who, &name, role, customer, &secret)
                .await?;
            if json {
                print_json(&json!({
                    "id": t.id,
                    "name": t.name,
                    "role": t.role,
                    "customer_email": t.customer_email,
                    "token": secret,
                }))?;
            } else {
                outln!(
                    "Token {} for {} ({}). Keep the secret now; it is not shown again:",
                    t.id,
                    t.name,
                    t.role
                );
                outln!("{secret}");
            }
            Ok(0)
        }
        TokenCmd::List => {
            let tokens = svc.tokens(&who).await?;
            if json {
                print_json(&tokens)?;
            } else if tokens.is_empty() {
                outln!("No tokens yet: casework token create --name NAME --role ROLE");
            } else {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.name.clone(),
                            t.role.to_string(),
                            t.customer_email
                                .as_ref()
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            output::when(t.created_at),
                            t.revoked_at.map(output::when).unwrap_or_default(),
                        ]
                    })
                    .collect();
                out!(
                    "{}",
                    output::table(
                        &["ID", "NAME", "ROLE", "CUSTOMER", "CREATED", "REVOKED"],
                        &rows
                    )
                );
            }
            Ok(0)
        }
        TokenCmd::Revoke { id } => {
            let t = svc.revoke_token(&who, &id).await?;
            if json {
                print_json(&t)?;
            } else {
                outln!("Token {} ({}) revoked", t.id, t.name);
            }
            Ok(0)
        }
    }
}

fn priority(p: PriorityArg) -> Priority {
    match p {
        PriorityArg::Low => Priority::Low,
        PriorityArg::Medium => Priority::Medium,
        PriorityArg::High => Priority::High,
        PriorityArg::Urgent => Priority::Urgent,
    }
}
