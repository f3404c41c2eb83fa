//! `casework serve`: the HTTP API and the web pages on a socket, with the email delivery
//! worker and, with `--imap`, the IMAP poller beside them.

use std::sync::Arc;

use crate::app::{App, Failure};
use crate::output;

/// The background workers' settings.
pub(crate) struct Workers {
    /// Seconds between delivery runs.
    pub(crate) deliver_every: u64,
    /// The IMAP mailbox to poll, if any.
    pub(crate) imap: Option<String>,
    /// Seconds between polls.
    pub(crate) imap_every: u64,
}

/// How the desk and portal pages are served.
#[derive(Debug, Clone)]
pub(crate) struct Pages {
    /// Whether every cookie is `Secure` (the server is reached over TLS).
    pub(crate) secure_cookies: bool,
    /// The address customers' sign-in links point to; `http://ADDR` when not given.
    pub(crate) public_url: Option<String>,
}

/// Serves the HTTP API (and, with `web`, the desk and portal pages beside it) until SIGTERM
/// or Ctrl-C; requests in flight finish first. A
/// background worker delivers queued email through `mailer` every `deliver_every` seconds
/// meanwhile ([`crate::worker`]), with `workers.imap` another polls that mailbox every
/// `workers.imap_every` seconds, and `/healthz` says whether they run. Connections idle or
/// slow for `header_timeout` seconds are closed, and at most `max_connections` are open.
pub(crate) async fn serve(
    app: &App,
    bind: &str,
    mailer: &str,
    workers: Workers,
    header_timeout: u64,
    max_connections: u64,
    web: Option<Pages>,
) -> Result<u8, Failure> {
    let deliver_every = std::time::Duration::from_secs(workers.deliver_every);
    let imap = match &workers.imap {
        Some(url) => Some(
            casework_mail::imap::ImapSettings::parse(url)
                .map_err(|e| Failure::usage(e.to_string()))?,
        ),
        None => None,
    };
    let limits = casework_http::ServeLimits {
        header_read_timeout: std::time::Duration::from_secs(header_timeout),
        max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
    };
    let mailer =
        casework_mail::mailer_from_url(mailer).map_err(|e| Failure::usage(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::unavailable(format!("cannot read the bound address: {e}")))?;
    let pages = match web {
        Some(p) => Some(web_pages(app, &p, addr)?),
        None => None,
    };
    // Logs go to stderr (RUST_LOG filters them; default: requests and errors), written by a
    // thread of their own, so no request waits on the write or wakes a thread, in batches:
    // a burst of requests costs one write, not one each. None is dropped (a full buffer is
    // written by the request that found it full), and what is buffered is written when
    // `_log_written` goes, as `serve` returns.
    let (log, _log_written) = crate::log::writer(std::io::stderr());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log)
        .with_ansi(false)
        .try_init();
    // a server keeps serving whoever reads (or stopped reading) its standard output
    let _ = output::human(&format!(
        "listening on http://{addr} (store {})\n",
        app.store_url
    ));
    if pages.is_some() {
        first_admin(app, addr).await?;
    }
    let state = casework_http::AppState::new(app.service.clone());
    let webhooks = casework_webhook::HttpSender::new().map_err(Failure::unavailable)?;
    let worker = tokio::spawn(crate::worker::deliver_forever(
        app.service.clone(),
        mailer,
        Arc::new(webhooks),
        deliver_every,
        state.health.clone(),
    ));
    let poller = imap.map(|settings| {
        tokio::spawn(crate::worker::fetch_forever(
            app.service.clone(),
            settings,
            std::time::Duration::from_secs(workers.imap_every),
            state.health.clone(),
        ))
    });
    let mut router = casework_http::router(state);
    if let Some(pages) = pages {
        router = beside_the_api(router, pages);
    }
    casework_http::serve(listener, router, limits, shutdown()).await;
    worker.abort();
    if let Some(p) = poller {
        p.abort();
    }
    let _ = output::human("stopped\n");
    Ok(0)
}

/// On a store nobody is registered in yet, registers the first admin (`admin`) with a
/// generated password and prints where and how to sign in, once; the password is stored
/// only as its hash. On any other store, says where the desk is.
async fn first_admin(app: &App, addr: std::net::SocketAddr) -> Result<(), Failure> {
    let email = "admin@casework.invalid"
        .parse()
        .map_err(|e| Failure::internal(format!("the first admin's address: {e}")))?;
    let line = match app.service.first_admin("admin", email).await? {
        Some(password) => format!(
            "first run: sign in at http://{addr}/sign-in as admin with password {password}\n\
             (shown once; change it with: casework --as admin agent password admin)\n"
        ),
        None => format!("the desk: http://{addr}/sign-in\n"),
    };
    let _ = output::human(&line);
    Ok(())
}

/// The desk and the portal over the service, identifying visitors by their session cookie.
fn web_pages(
    app: &App,
    pages: &Pages,
    addr: std::net::SocketAddr,
) -> Result<axum::Router, Failure> {
    let public_url = pages
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
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
        std::sync::Arc::new(casework_web::SessionCookies::new(app.service.clone())),
        casework_web::CsrfKey::new(secret),
    )
    .with_secure_cookies(pages.secure_cookies)
    .with_public_url(public_url);
    // the API's request id, tracing, target cap and timeout wrap the pages too
    Ok(casework_http::with_request_layers(casework_web::router(
        state,
    )))
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
