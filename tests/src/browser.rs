//! A real browser for tests: Debian's Chromium (`chromium`, `chromium-driver`, installed by
//! `.ci/run`) driven over WebDriver from Rust (fantoccini). [`Chromedriver::start`] runs
//! chromedriver on a free 127.0.0.1 port under `timeout` (it ends even if the test process
//! dies) and stops it by its pid when dropped; each browser it opens is headless, with a
//! fresh profile under `target/chromium/`, and nothing is ever downloaded.
//!
//! The desk and portal are served in-process ([`serve_web`]) with [`CookieIdentify`], a
//! test-only stand-in for sign-in that reads the visitor's name from a cookie: it lives
//! here, in the test crate, and never in the shipped binary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::request::Parts;
use casework_core::ServiceError;
use casework_core::model::Actor;
use casework_web::{CsrfKey, Identify, Visitor, WebState};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// Longest a chromedriver may live, whatever happens to the test.
const LIFETIME: &str = "600";

/// The cookie [`CookieIdentify`] reads.
pub const VISITOR_COOKIE: &str = "casework_test_visitor";

/// chromedriver on 127.0.0.1, stopped on drop.
pub struct Chromedriver {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// Its folder under `target/chromium/`: its log and the browsers' profiles.
    pub dir: PathBuf,
    browsers: std::sync::atomic::AtomicU32,
}

fn find(env: &str, candidates: &[&str], package: &str) -> String {
    if let Ok(p) = std::env::var(env)
        && !p.is_empty()
    {
        return p;
    }
    match candidates.iter().find(|p| Path::new(p).exists()) {
        Some(p) => (*p).to_string(),
        None => panic!(
            "the browser tests need {package}: apt-get install chromium chromium-driver \
             (.ci/run installs them), or set {env}"
        ),
    }
}

fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("no free port: {e}"),
    }
}

impl Chromedriver {
    /// Starts chromedriver for a test named `name`.
    pub fn start(name: &str) -> Self {
        let driver = find(
            "CASEWORK_CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
            "chromium-driver",
        );
        let dir = crate::workspace_root()
            .join("target/chromium")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("cannot create {}: {e}", dir.display());
        }
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = match Command::new("timeout")
            .arg(LIFETIME)
            .arg(&driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("cannot start {driver}: {e}"),
        };
        let server = Self {
            child,
            port,
            dir,
            browsers: std::sync::atomic::AtomicU32::new(0),
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "chromedriver did not start listening:\n{}",
            std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
        );
    }

    /// A new headless Chromium with a fresh profile and a `width`×`height` window.
    pub async fn browser(&self, width: u32, height: u32) -> Client {
        let chromium = find(
            "CASEWORK_CHROMIUM",
            &["/usr/bin/chromium", "/usr/lib/chromium/chromium"],
            "chromium",
        );
        let n = self
            .browsers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = self.dir.join(format!("profile-{n}"));
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "chrome".into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": chromium, "args": args }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let connect = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await;
        match connect {
            Ok(c) => c,
            Err(e) => panic!(
                "chromium did not start: {e}\n{}",
                std::fs::read_to_string(self.dir.join("chromedriver.log")).unwrap_or_default()
            ),
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // SIGTERM to `timeout`, which passes it on to chromedriver, which ends its browsers
        crate::stop_by_pid(&mut self.child, &self.dir);
    }
}

/// Names the visitor from the [`VISITOR_COOKIE`] cookie: tests only.
pub struct CookieIdentify(pub HashMap<String, Actor>);

#[async_trait]
impl Identify for CookieIdentify {
    async fn identify(&self, request: &Parts) -> Result<Option<Visitor>, ServiceError> {
        let cookies = request
            .headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='));
        for (name, value) in cookies {
            if name == VISITOR_COOKIE
                && let Some(actor) = self.0.get(value)
            {
                return Ok(Some(Visitor {
                    actor: actor.clone(),
                    session: format!("browser-session-{value}"),
                }));
            }
        }
        Ok(None)
    }
}

/// Serves the desk and the portal over `service` on a free 127.0.0.1 port, in this
/// process, until the runtime ends; returns the base URL.
pub async fn serve_web(
    service: casework_core::CaseService,
    visitors: HashMap<String, Actor>,
) -> String {
    let (listener, addr) = loopback().await;
    let state = WebState::new(
        service,
        Arc::new(CookieIdentify(visitors)),
        CsrfKey::new([9; 32]),
    );
    let app = casework_web::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A listener on a free 127.0.0.1 port, and its address.
async fn loopback() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("cannot listen on loopback: {e}"),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("no local address: {e}"),
    };
    (listener, addr)
}

/// Serves the desk and the portal over `service` as `casework serve` does, with sign-in:
/// sessions in the store ([`casework_web::SessionCookies`]), the client's address handed
/// to the throttle. Returns the base URL.
pub async fn serve_signed_in(service: casework_core::CaseService) -> String {
    let (listener, addr) = loopback().await;
    let state = WebState::new(
        service.clone(),
        Arc::new(casework_web::SessionCookies::new(service)),
        CsrfKey::new([9; 32]),
    )
    .with_public_url(format!("http://{addr}"));
    let app =
        casework_web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Signs `driver` in as `who` (sets the cookie on the site at `base`).
pub async fn visit_as(driver: &Client, base: &str, who: &str) {
    let step = |r: Result<(), fantoccini::error::CmdError>| {
        if let Err(e) = r {
            panic!("signing the browser in as {who}: {e}");
        }
    };
    step(driver.goto(&format!("{base}/sign-in")).await);
    step(driver.delete_all_cookies().await);
    let text = format!("{VISITOR_COOKIE}={who}; Domain=127.0.0.1; Path=/; SameSite=Lax; HttpOnly");
    let cookie = match fantoccini::cookies::Cookie::parse(text) {
        Ok(c) => c,
        Err(e) => panic!("the test cookie: {e}"),
    };
    step(driver.add_cookie(cookie).await);
}

/// Saves a screenshot named `name` under `target/screenshots/`; `cargo xtask screenshots`
/// shrinks them into `docs/screenshots/`.
pub fn save_screenshot(name: &str, png: &[u8]) -> PathBuf {
    let dir = crate::workspace_root().join("target/screenshots");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    let path = dir.join(format!("{name}.png"));
    if let Err(e) = std::fs::write(&path, png) {
        panic!("cannot write {}: {e}", path.display());
    }
    path
}
