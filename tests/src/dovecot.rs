//! A real IMAP server for tests: Debian's Dovecot (`dovecot-imapd`, installed by `.ci/run`)
//! started from a configuration written under `target/`, with its own base, state and mail
//! folders, one passwd-file user, plain IMAP and IMAP over TLS (a certificate from a private
//! CA made with openssl) on free loopback ports. It runs in the foreground under `timeout`
//! (so it ends even if the test process dies) and is stopped by its pid when dropped.
//!
//! As root (CI), Dovecot's own unprivileged users from the Debian package (`dovecot`,
//! `dovenull`) run its internal and login processes and own the mail folder; as anyone
//! else, every process runs as that user.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user name and password of the server's one account.
pub const USER: &str = "desk";
/// The account's password.
pub const PASSWORD: &str = "s3cret pass";

/// Longest a test server may live, whatever happens to the test.
const LIFETIME: &str = "600";

/// A Dovecot IMAP server on 127.0.0.1, stopped on drop.
pub struct Dovecot {
    child: Child,
    /// Its folder under `target/`.
    pub dir: PathBuf,
    /// Plain IMAP port.
    pub port: u16,
    /// IMAP over TLS port.
    pub tls_port: u16,
    /// The CA certificate the server's certificate chains to.
    pub ca: String,
}

fn output(program: &str, args: &[&str]) -> String {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => panic!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("cannot run {program}: {e}"),
    }
}

fn free_port() -> u16 {
    match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(a) => a.port(),
        Err(e) => panic!("no free port: {e}"),
    }
}

fn write(path: &std::path::Path, text: &str) {
    if let Err(e) = std::fs::write(path, text) {
        panic!("cannot write {}: {e}", path.display());
    }
}

impl Dovecot {
    /// Starts a server named `name` (its folder is `target/dovecot/NAME-PID`), with an
    /// `Archive` folder and a `Support` folder created on first use.
    pub fn start(name: &str) -> Self {
        let binary = ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!(
                    "the IMAP tests need Dovecot: apt-get install dovecot-imapd \
                     (.ci/run installs it)"
                )
            });
        let dir = crate::workspace_root()
            .join("target/dovecot")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["mail", "home", "run", "state"] {
            if let Err(e) = std::fs::create_dir_all(dir.join(sub)) {
                panic!("cannot create {}: {e}", dir.display());
            }
        }
        let (ca, cert, key) = crate::certificates(&dir.join("tls"));
        let root = output("id", &["-u"]) == "0";
        let (internal, login, mail_user) = if root {
            ("dovecot".to_string(), "dovenull".to_string(), "dovecot")
        } else {
            let me = output("id", &["-un"]);
            (me.clone(), me, "")
        };
        let (uid, gid) = if root {
            (
                output("id", &["-u", mail_user]),
                output("id", &["-g", mail_user]),
            )
        } else {
            (output("id", &["-u"]), output("id", &["-g"]))
        };
        let group = output("id", &["-gn", if root { mail_user } else { &internal }]);
        let (port, tls_port) = (free_port(), free_port());
        let d = dir.display();
        write(
            &dir.join("passwd"),
            &format!("{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{d}/home::\n"),
        );
        write(
            &dir.join("dovecot.conf"),
            &format!(
                r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {group}
default_login_user = {login}
first_valid_uid = 0
first_valid_gid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
mail_location = maildir:{d}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Archive {{
    auto = create
  }}
  mailbox Support {{
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"#,
            ),
        );
        if root {
            let mail = format!("{d}/mail");
            output("chown", &["-R", &format!("{mail_user}:{group}"), &mail]);
        }
        let conf = format!("{d}/dovecot.conf");
        let child = match Command::new("timeout")
            .args([LIFETIME, binary, "-F", "-c", &conf])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("cannot start dovecot: {e}"),
        };
        let server = Self {
            child,
            dir,
            port,
            tls_port,
            ca,
        };
        server.wait_until_listening();
        server
    }

    fn wait_until_listening(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            let both = [self.port, self.tls_port].iter().all(|p| {
                std::net::TcpStream::connect_timeout(
                    &std::net::SocketAddr::from(([127, 0, 0, 1], *p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if both {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dovecot did not start listening:\n{}", self.log());
    }

    /// What Dovecot logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    /// `imap://desk:PASSWORD@127.0.0.1:PORT/MAILBOX` plus a query (plain, loopback).
    pub fn url(&self, mailbox: &str, query: &str) -> String {
        format!(
            "imap://{USER}:{}@127.0.0.1:{}/{mailbox}{query}",
            PASSWORD.replace(' ', "%20"),
            self.port
        )
    }

    /// `imaps://desk:PASSWORD@127.0.0.1:TLS_PORT/MAILBOX` plus a query.
    pub fn tls_url(&self, mailbox: &str, query: &str) -> String {
        format!(
            "imaps://{USER}:{}@127.0.0.1:{}/{mailbox}{query}",
            PASSWORD.replace(' ', "%20"),
            self.tls_port
        )
    }

    /// The Maildir folder of a mailbox (`INBOX`, or a folder name).
    pub fn maildir(&self, mailbox: &str) -> PathBuf {
        let user = self.dir.join("mail").join(USER);
        if mailbox == "INBOX" {
            user
        } else {
            user.join(format!(".{mailbox}"))
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM to `timeout`, which passes it on: Dovecot's master stops its children
        crate::stop_by_pid(&mut self.child, &self.dir);
    }
}
