//! The command line: every command of the CLI contract, with a worked example in its help.

use std::path::PathBuf;

use casework_core::limits::{
    DEFAULT_HITS, DEFAULT_IMPORT_BATCH, DEFAULT_OUTBOX, DEFAULT_PAGE, MAX_IMPORT_BATCH, MAX_OUTBOX,
    MAX_PAGE,
};
use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0  success (for `case check`: the case is ready to close)
  1  usage error, or something named does not exist
  2  refused by the workflow (closing checklist, permission, transition,
     policy)
  3  conflict: someone else changed the case first
  4  the store is unavailable (or the case stayed busy): try again later
  5  Casework failed inside (a bug, or stored data that does not read back);
     the message says what, and retrying will not help

Environment:
  CASEWORK_STORE   store URL (sqlite://PATH, postgres://USER@HOST/DB, memory://,
                   http://HOST:PORT); default: $XDG_DATA_HOME/casework/casework.db
  PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
                   for a postgres:// store: what its URL leaves out, as with psql
  CASEWORK_TOKEN   for an http:// store: a service token of that server
  CASEWORK_USER    who is acting (a registered agent, lead or admin)
  CASEWORK_CONFIG  the workflow file
  CASEWORK_REPLY_SECRET
                   secrets signing the reply token in outgoing mail, newest
                   first (see docs/operations.md); unset: no token

Quick start:
  casework init
  casework agent add ana --role agent --email ana@example.com
  casework --as ana case open --title 'Map service fails' \\
      --description 'Error 999999' --customer-name 'Jordan Smith' \\
      --customer-email jordan@customer.example
  casework demo   # one case through the whole workflow, on a throw-away store";

/// A one-line option value (a name, a title, a product field): core's rule, checked while
/// the command line is parsed so the error names the option.
fn line(s: &str) -> Result<String, String> {
    match casework_core::input::line_problem(s) {
        None => Ok(s.to_string()),
        Some(problem) => Err(problem),
    }
}

/// An email address option, checked by core's rules while the command line is parsed.
fn address(s: &str) -> Result<String, String> {
    s.parse::<casework_core::ids::EmailAddress>()
        .map(|_| s.to_string())
        .map_err(|e| format!("invalid email address: {}", e.reason))
}

/// A notification kind (`new_case`, `assigned`, `customer_reply`, `swarm_requested`,
/// `reopened`), checked by core while the command line is parsed.
fn notification_kind(s: &str) -> Result<casework_core::model::NotificationKind, String> {
    s.parse()
        .map_err(|e: casework_core::ids::ParseError| e.reason.to_string())
}

/// Casework: support cases worked through a disciplined workflow, from first contact to a
/// clean close, and back again when a case is reopened.
#[derive(Debug, Parser)]
#[command(name = "casework", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    /// The store: sqlite://PATH, postgres://USER@HOST:PORT/DATABASE (many servers on one
    /// database; PG* variables fill in the rest), memory:// (throw-away), or http://HOST:PORT
    /// (a remote `casework serve`, with a service token in CASEWORK_TOKEN)
    #[arg(long, global = true, env = "CASEWORK_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// Who is acting: a registered person's name
    #[arg(long = "as", global = true, env = "CASEWORK_USER", value_name = "NAME")]
    pub actor: Option<String>,

    /// The workflow file (statuses, transitions, permissions, closing rules)
    #[arg(long, global = true, env = "CASEWORK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// A folder of template overrides (initial_contact.body.j2, …)
    #[arg(long, global = true, env = "CASEWORK_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// Print one JSON document on stdout instead of tables
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Top,
}

#[derive(Debug, Subcommand)]
pub enum Top {
    /// Create the store and the default workflow file if absent (safe to run again)
    #[command(
        after_help = "Example:\n  casework init\n  casework --store sqlite://./support.db init"
    )]
    Init,
    /// Show which store, workflow file and templates are in use, and what the store holds
    #[command(after_help = "Example:\n  casework doctor")]
    Doctor,
    /// Register people who work cases
    #[command(subcommand)]
    Agent(AgentCmd),
    /// API tokens for the HTTP server (admins)
    #[command(subcommand)]
    Token(TokenCmd),
    /// Work with cases
    #[command(subcommand)]
    Case(CaseCmd),
    /// Log a call (customer-visible)
    #[command(subcommand)]
    Call(CallCmd),
    /// Add posts: notes, call notes, the case summary
    #[command(subcommand)]
    Post(PostCmd),
    /// Record attempts to reach the customer
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Preview or queue a generated email
    #[command(subcommand)]
    Email(EmailCmd),
    /// Knowledge articles
    #[command(subcommand)]
    Article(ArticleCmd),
    /// Known defects
    #[command(subcommand)]
    Defect(DefectCmd),
    /// Ask a collaboration group for help on a case (internal)
    #[command(
        after_help = "Example:\n  casework swarm 1027 --group 'Server SWARM' \\\n      --question 'Seen error 999999 on 11.3?'"
    )]
    Swarm(SwarmArgs),
    /// Search cases, articles and defects (ranked)
    #[command(after_help = "Example:\n  casework search 'publish error 999999' --kind article")]
    Search(SearchArgs),
    /// Reports
    #[command(subcommand)]
    Report(ReportCmd),
    /// Statuses: move cases out of one the workflow file no longer has (admins)
    #[command(subcommand)]
    Status(StatusCmd),
    /// Outgoing email
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Incoming email: take messages onto cases
    #[command(subcommand)]
    Mail(MailCmd),
    /// The change feed: every committed event, in commit order
    #[command(subcommand)]
    Events(EventsCmd),
    /// Webhook endpoints (admins): signed deliveries of case events
    #[command(subcommand)]
    Webhook(WebhookCmd),
    /// Serve the HTTP API over the chosen store until SIGTERM or Ctrl-C
    #[command(
        after_help = "Examples:\n  casework serve --bind 127.0.0.1:8080\n  casework --store sqlite:///var/lib/casework/cases.db \\\n      serve --bind 0.0.0.0:8080\n  casework --store postgres://casework@db.internal/casework \\\n      serve --bind 0.0.0.0:8080\n\nClients authenticate with tokens from `casework token create`. Port 0 picks a\nfree port; the address is printed as `listening on http://ADDR`. On PostgreSQL,\nthe password comes from PGPASSWORD; run as many servers on one database as needed."
    )]
    Serve {
        /// Address and port to listen on
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// Where queued email goes, delivered in the background:
        /// smtp://[user:pass@]host[:port], smtps://…, dir://PATH or log://
        #[arg(long, env = "CASEWORK_MAILER", default_value = "log://")]
        mailer: String,
        /// Seconds between delivery runs of the background email worker
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        deliver_every: u64,
        /// Seconds a connection may take to send a request's headers (an idle keep-alive
        /// connection, its next request's) before it is closed
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout: u64,
        /// Most connections open at once; more wait to be accepted until one closes
        #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65536))]
        max_connections: u64,
        /// Serve only the JSON API: no desk or portal pages at /
        #[arg(long)]
        no_web: bool,
        /// Poll this IMAP mailbox for inbound email (as `casework mail fetch --imap`)
        #[arg(long, env = "CASEWORK_IMAP")]
        imap: Option<String>,
        /// Seconds between polls of the --imap mailbox
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
        imap_every: u64,
        /// Mark the desk's cookies Secure: set this when clients reach the server over TLS
        /// (a proxy's `X-Forwarded-Proto: https` does the same per request)
        #[arg(long)]
        secure_cookies: bool,
        /// The server's address as customers reach it, which their emailed sign-in links
        /// point to (default: http:// and the bound address)
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Walk one case through the whole workflow on a throw-away store, printing each email
    #[command(after_help = "Example:\n  casework demo")]
    Demo,
    /// Move a whole store to another (e.g. SQLite to PostgreSQL)
    #[command(subcommand)]
    Store(StoreCmd),
    /// Bring history in from another system or a Casework export, without sending anything
    #[command(
        after_help = "Examples:\n  casework import export.ndjson\n  casework import --dry-run export.ndjson\n  casework import --from zendesk tickets-*.json\n  casework import --from salesforce --mapping sf.toml \\\n      Case.csv CaseComment.csv EmailMessage.csv\n\nCases keep their numbers, dates and whole histories; nothing is decided again and no\nemail or notification is sent. Safe to run again: a case already there with the same\nhistory is left as it is, one whose history has moved on is caught up, so a killed\nimport resumes. Each record that cannot be imported is listed on stderr with where it\nwas and why, and the rest goes on (exit 3). --dry-run checks everything and prints the\nreport (records, unmapped fields, refusals) without writing."
    )]
    Import(ImportArgs),
    /// Write the whole store as NDJSON: a header, people, articles, defects, then one case
    /// a line with its full history and outbox (not tokens: they are this installation's
    /// credentials)
    #[command(
        after_help = "Examples:\n  casework export > export.ndjson\n  casework export --out export.ndjson\n  casework --store sqlite://new.db import export.ndjson"
    )]
    Export(ExportArgs),
    /// Print the HTTP API's OpenAPI 3.1 document (the one `serve` has at /openapi.json)
    #[command(after_help = "Example:\n  casework openapi > openapi.json")]
    Openapi,
    /// Print a shell completion script
    #[command(
        after_help = "Example:\n  casework completions bash \\\n      > ~/.local/share/bash-completion/completions/casework"
    )]
    Completions {
        /// The shell
        shell: Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Register (or update) a person. The first person may be added by anyone; after that,
    /// only an admin (--as).
    #[command(
        after_help = "Example:\n  casework agent add 'Ana Lopez' --role agent --email ana@example.com \\\n      --phone '+1 555 0100' --signature $'Ana Lopez\\nSupport Engineer'"
    )]
    Add {
        /// The person's name, used with --as and as a case owner
        #[arg(value_parser = line)]
        name: String,
        /// Their role
        #[arg(long, value_enum)]
        role: StaffRole,
        /// Their email address (shown in signatures)
        #[arg(long, value_parser = address)]
        email: String,
        /// Their phone number (shown in signatures)
        #[arg(long, value_parser = line)]
        phone: Option<String>,
        /// Their email signature
        #[arg(long)]
        signature: Option<String>,
    },
    /// List everyone registered
    #[command(after_help = "Example:\n  casework agent list")]
    List,
    /// Set a person's password for the desk, read from the terminal (asked twice, not
    /// echoed) or from standard input's first line; never from the command line. Yourself
    /// with --as, anyone as an admin or as the store's operator (no --as)
    #[command(
        after_help = "Examples:\n  casework agent password 'Ana Lopez'\n  echo \"$PASSWORD\" | casework agent password 'Ana Lopez'"
    )]
    Password {
        /// The person's name
        #[arg(value_parser = line)]
        name: String,
    },
    /// Show a person's notification settings, or turn kinds off or back on: yourself, or
    /// anyone as an admin (--as). The workflow file's [notifications] section says which
    /// kinds are sent at all
    #[command(
        after_help = "Examples:\n  casework agent notifications 'Ana Lopez'\n  casework agent notifications 'Ana Lopez' --off assigned,customer_reply\n  casework agent notifications 'Ana Lopez' --on assigned"
    )]
    Notifications {
        /// The person's name
        #[arg(value_parser = line)]
        name: String,
        /// Kinds to turn off: new_case, assigned, customer_reply, swarm_requested, reopened
        #[arg(long, value_delimiter = ',', value_parser = notification_kind)]
        off: Vec<casework_core::model::NotificationKind>,
        /// Kinds to turn back on
        #[arg(long, value_delimiter = ',', value_parser = notification_kind)]
        on: Vec<casework_core::model::NotificationKind>,
    },
}

/// Where imported records come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportSource {
    /// Casework's own export (`casework export`)
    Ndjson,
    /// Zendesk's incremental ticket export: JSON pages of tickets (each with its
    /// `comments`) and their `users`
    Zendesk,
    /// A Salesforce Data Export: Case.csv, CaseComment.csv, EmailMessage.csv
    Salesforce,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The files to read (`-` for standard input)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// What the files are
    #[arg(long = "from", value_enum, default_value = "ndjson")]
    pub source: ImportSource,
    /// Check everything and print the report, writing nothing
    #[arg(long)]
    pub dry_run: bool,
    /// For --from salesforce: a TOML file mapping the org's `__c` columns to case fields
    /// ([fields]), its statuses to the workflow's ([statuses]) and user ids to people
    /// ([owners])
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Cases per transaction
    #[arg(long, default_value_t = DEFAULT_IMPORT_BATCH, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_IMPORT_BATCH)))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Records read from the store a step
    #[arg(long, default_value_t = MAX_PAGE, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
    pub batch: u32,
}

#[derive(Debug, Subcommand)]
pub enum StoreCmd {
    /// Copy everything (cases with their whole history, people, tokens, articles, defects,
    /// the outbox) into another store, in batches, checking every case on the target
    #[command(
        after_help = "Examples:\n  casework store copy --from sqlite:///var/lib/casework/cases.db \\\n      --to postgres://casework@db.internal/casework\n  casework store copy --from postgres://casework@old-db/casework \\\n      --to postgres://casework@new-db/casework\n\nEach case's history must replay to its stored state on the target, equal to the source's.\nSafe to run again: what is there already stays, cases that moved on in the source are\ncaught up, so an interrupted copy resumes. Stop the servers on the source first (or run\nthe copy again after stopping them). Idempotency keys are not copied.\nA record the target holds differently is reported on stderr and the rest goes on (exit 3)."
    )]
    Copy {
        /// The store to read (sqlite://PATH or postgres://…)
        #[arg(long, value_name = "URL")]
        from: String,
        /// The store to write (sqlite://PATH or postgres://…; created if new)
        #[arg(long, value_name = "URL")]
        to: String,
        /// Cases per batch (one transaction on the target)
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
        batch: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Make a token; its secret is printed once and stored only as a hash
    #[command(
        after_help = "Examples:\n  casework --as root token create --name 'Ana Lopez' --role agent\n  casework --as root token create --name 'Jordan Smith' --role customer \\\n      --customer-email jordan@customer.example\n  casework --as root token create --name helpdesk-sync --role service"
    )]
    Create {
        /// Who or what it is for (a staff token named after a registered person acts as them)
        #[arg(long, value_parser = line)]
        name: String,
        /// The role it acts with
        #[arg(long, value_enum)]
        role: TokenRole,
        /// For a customer token: the customer whose cases it sees
        #[arg(long, value_parser = address)]
        customer_email: Option<String>,
    },
    /// List tokens (never their secrets)
    #[command(after_help = "Example:\n  casework --as root token list")]
    List,
    /// Revoke a token: it authenticates nobody from now on
    #[command(after_help = "Example:\n  casework --as root token revoke 3f9a0c1d2e4b5a6f0001")]
    Revoke {
        /// The token's id (from `token list`)
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenRole {
    Admin,
    Lead,
    Agent,
    Customer,
    Service,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffRole {
    Agent,
    Lead,
    Admin,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OriginArg {
    Phone,
    Email,
    Web,
    Chat,
    Other,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PriorityArg {
    Low,
    Medium,
    High,
    Urgent,
}

/// A case list's order.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum SortArg {
    /// Oldest first (by number)
    #[default]
    Number,
    /// Most recently changed first
    Updated,
    /// Most urgent first, then oldest
    Priority,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CategoryArg {
    Open,
    Pending,
    Closed,
}

#[derive(Debug, Subcommand)]
pub enum CaseCmd {
    /// Open a case (seed step 1); prints its number
    #[command(
        after_help = "Example:\n  casework --as ana case open --title 'Map service fails to publish' \\\n      --description 'Error 999999 when publishing' \\\n      --customer-name 'Jordan Smith' --customer-email jordan@customer.example \\\n      --origin phone --priority high"
    )]
    Open(OpenArgs),
    /// List cases (the "All Cases" view) with filters
    #[command(
        after_help = "Examples:\n  casework case list --status 'In Progress'\n  casework --as ana case list --mine --sort updated\n  casework case list --unassigned --sort priority\n  casework case list --reopened --q publish"
    )]
    List(ListArgs),
    /// Show a case with its timeline
    #[command(after_help = "Example:\n  casework case show 1027")]
    Show {
        /// Case number (leading zeros optional)
        number: String,
    },
    /// Show a case's full event history (who, when, what changed from what to what)
    #[command(after_help = "Example:\n  casework case history 1027")]
    History {
        /// Case number
        number: String,
    },
    /// Take ownership of a case
    #[command(after_help = "Example:\n  casework --as ana case take 1027")]
    Take {
        /// Case number
        number: String,
    },
    /// Give a case to someone (leads and admins)
    #[command(after_help = "Example:\n  casework --as lee case assign 1027 --to 'Ana Lopez'")]
    Assign {
        /// Case number
        number: String,
        /// The new owner
        #[arg(long = "to")]
        owner: String,
    },
    /// Edit title, technical details and categorization (seed steps 8-10)
    #[command(
        after_help = "Examples:\n  casework case edit 1027 \\\n      --title 'Publishing fails: data store not registered'\n  casework case edit 1027 --confirm-title\n  casework case edit 1027 --product 'ArcGIS Server' --product-version 11.3\n  casework case edit 1027 --product-area Publishing \\\n      --functionality 'Map services' --issue Configuration"
    )]
    Edit(EditArgs),
    /// Move a case to another open or pending status
    #[command(
        after_help = "Example:\n  casework case transition 1027 --status 'Pending Customer' \\\n      --note 'waiting for logs'"
    )]
    Transition {
        /// Case number
        number: String,
        /// Target status
        #[arg(long)]
        status: String,
        /// Why (internal)
        #[arg(long)]
        note: Option<String>,
    },
    /// Escalate a case (leads and admins)
    #[command(
        after_help = "Example:\n  casework --as lee case escalate 1027 --reason 'production outage'"
    )]
    Escalate {
        /// Case number
        number: String,
        /// Why (internal)
        #[arg(long)]
        reason: String,
    },
    /// Print the case-summary draft built from the record (seed step 7)
    #[command(
        after_help = "Example:\n  casework case summary 1027 > summary.txt\n  $EDITOR summary.txt\n  casework post add 1027 --kind summary --body-file summary.txt"
    )]
    Summary {
        /// Case number
        number: String,
    },
    /// The closing checklist: what is missing; exits 0 only when the case is ready to close
    #[command(
        after_help = "Example:\n  casework case check 1027 && casework case close 1027 \\\n      --primary Configuration --secondary 'Data store registered'"
    )]
    Check {
        /// Case number
        number: String,
    },
    /// Close a case: resolved (with both resolutions), for non-response, or temporarily
    #[command(
        after_help = "Examples:\n  casework case close 1027 --primary Configuration \\\n      --secondary 'Data store registered'\n  casework case close 1027 --non-response\n  casework case close 1027 --temporary"
    )]
    Close(CloseArgs),
    /// Reopen a closed case with a reason (leads and admins; agents for temporary closes)
    #[command(
        after_help = "Example:\n  casework --as lee case reopen 1027 \\\n      --reason 'Error is back after the 11.3.1 patch'"
    )]
    Reopen {
        /// Case number
        number: String,
        /// Why (required; recorded as a post)
        #[arg(long)]
        reason: String,
        /// Do not email the reopen notice to the customer
        #[arg(long)]
        no_notify: bool,
    },
    /// Cases, articles and defects similar to this case
    #[command(after_help = "Example:\n  casework case similar 1027")]
    Similar {
        /// Case number
        number: String,
        /// At most this many
        #[arg(long, default_value_t = DEFAULT_HITS)]
        limit: u32,
    },
    /// Link an article, a defect or another case that helped
    #[command(
        after_help = "Examples:\n  casework case link 1027 --article 12\n  casework case link 1027 --defect BUG-000123"
    )]
    Link(LinkArgs),
    /// Add a post with files to a case: customer-visible unless --internal
    #[command(
        after_help = "Examples:\n  casework --as ana case attach 1027 server.log screen.png \\\n      --text 'The logs you asked for'\n  casework --as ana case attach 1027 notes.pdf --internal"
    )]
    Attach {
        /// Case number
        number: String,
        /// The files, each kept under its own name (without its folder)
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Only staff see the post and its files
        #[arg(long)]
        internal: bool,
        /// The post's text (without it the post says which files it carries)
        #[arg(long)]
        text: Option<String>,
    },
    /// List a case's files (the ones you may see), without their bytes
    #[command(
        name = "attachments",
        after_help = "Example:\n  casework --as ana case attachments 1027"
    )]
    Files {
        /// Case number
        number: String,
    },
    /// Save a file of a case to --out FILE (or write it to standard output)
    #[command(
        after_help = "Examples:\n  casework --as ana case download 1027 m12 --out server.log\n  casework --as ana case download 1027 m12 > server.log"
    )]
    Download {
        /// Case number
        number: String,
        /// The file's id (from `case attachments`)
        id: String,
        /// Where to save it (the file's stored name is never used as a path)
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Overwrite --out if it exists
        #[arg(long, requires = "out")]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// What the case is about
    #[arg(long, value_parser = line)]
    pub title: String,
    /// What the customer described
    #[arg(long, default_value = "")]
    pub description: String,
    /// Customer's name
    #[arg(long, value_parser = line)]
    pub customer_name: String,
    /// Customer's email address
    #[arg(long, value_parser = address)]
    pub customer_email: String,
    /// Customer's phone
    #[arg(long, value_parser = line)]
    pub customer_phone: Option<String>,
    /// Customer's account or company
    #[arg(long, value_parser = line)]
    pub customer_account: Option<String>,
    /// How the customer reached support
    #[arg(long, value_enum, default_value = "email")]
    pub origin: OriginArg,
    /// Priority
    #[arg(long, value_enum, default_value = "medium")]
    pub priority: PriorityArg,
    /// Product
    #[arg(long, value_parser = line)]
    pub product: Option<String>,
    /// Product version
    #[arg(long, value_parser = line)]
    pub product_version: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this status
    #[arg(long)]
    pub status: Option<String>,
    /// Only statuses of this category
    #[arg(long, value_enum)]
    pub category: Option<CategoryArg>,
    /// Only my cases (the person in --as)
    #[arg(long)]
    pub mine: bool,
    /// Only cases owned by this person
    #[arg(long, conflicts_with = "mine")]
    pub owner: Option<String>,
    /// Only cases reopened at least once
    #[arg(long)]
    pub reopened: bool,
    /// Only this product area
    #[arg(long)]
    pub product_area: Option<String>,
    /// Only cases of this priority
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    /// Only cases nobody owns
    #[arg(long, conflicts_with_all = ["mine", "owner"])]
    pub unassigned: bool,
    /// Full text: every word must appear; "a phrase", -word to exclude, the last word as a prefix
    #[arg(long)]
    pub q: Option<String>,
    /// The order (a --cursor continues the order it was printed in: pass the same --sort)
    #[arg(long, value_enum, default_value_t = SortArg::Number)]
    pub sort: SortArg,
    #[arg(long, default_value_t = DEFAULT_PAGE, help = format!("At most this many (1-{MAX_PAGE})"))]
    pub limit: u32,
    /// Continue after a previous page (the cursor it printed)
    #[arg(long)]
    pub cursor: Option<String>,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Case number
    pub number: String,
    /// New title
    #[arg(long, value_parser = line)]
    pub title: Option<String>,
    /// Confirm the title is still right (counts as reviewing it)
    #[arg(long, conflicts_with = "title")]
    pub confirm_title: bool,
    /// New description
    #[arg(long)]
    pub description: Option<String>,
    /// Priority
    #[arg(long, value_enum)]
    pub priority: Option<PriorityArg>,
    /// Product
    #[arg(long, value_parser = line)]
    pub product: Option<String>,
    /// Product version
    #[arg(long, value_parser = line)]
    pub product_version: Option<String>,
    /// Product area
    #[arg(long, value_parser = line)]
    pub product_area: Option<String>,
    /// Functionality
    #[arg(long, value_parser = line)]
    pub functionality: Option<String>,
    /// Issue
    #[arg(long, value_parser = line)]
    pub issue: Option<String>,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Case number
    pub number: String,
    #[command(flatten)]
    pub mode: CloseModeArgs,
    /// Do not email the customer the resolution (or, for a temporary close, how to come
    /// back); a non-response close always sends its closing email
    #[arg(long)]
    pub no_notify: bool,
}

/// How to close: resolved (both resolutions), non-response, or temporary; exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct CloseModeArgs {
    /// Primary resolution (a resolved close needs both)
    #[arg(long, requires = "secondary", conflicts_with_all = ["non_response", "temporary"], value_parser = line)]
    pub primary: Option<String>,
    /// Secondary resolution
    #[arg(long, requires = "primary", value_parser = line)]
    pub secondary: Option<String>,
    /// Close for non-response (needs the contact-attempt policy met)
    #[arg(long, conflicts_with = "temporary")]
    pub non_response: bool,
    /// Close temporarily, to be reopened later
    #[arg(long)]
    pub temporary: bool,
}

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Case number
    pub number: String,
    #[command(flatten)]
    pub target: LinkTargetArgs,
}

/// What to link; exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct LinkTargetArgs {
    /// An article id
    #[arg(long, value_parser = line)]
    pub article: Option<String>,
    /// A defect key
    #[arg(long, value_parser = line)]
    pub defect: Option<String>,
    /// Another case's number
    #[arg(long, value_parser = line)]
    pub case: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CallCmd {
    /// Log a call (seed step 2); customers can see it
    #[command(
        after_help = "Example:\n  casework call log 1027 --duration 25m --screenshare --channel SPEC \\\n      --inbound --notes 'Reproduced error 999999 over a screenshare'"
    )]
    Log {
        /// Case number
        number: String,
        /// How long: 25m, 1h30m, 90 (minutes)
        #[arg(long)]
        duration: String,
        /// A screenshare was performed
        #[arg(long)]
        screenshare: bool,
        /// The line it came in over (e.g. an entitlement line)
        #[arg(long, value_parser = line)]
        channel: Option<String>,
        /// The customer called in (the default)
        #[arg(long, conflicts_with = "outbound")]
        inbound: bool,
        /// We called the customer
        #[arg(long)]
        outbound: bool,
        /// What happened
        #[arg(long)]
        notes: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PostKindArg {
    Note,
    CallNotes,
    Summary,
}

#[derive(Debug, Subcommand)]
pub enum PostCmd {
    /// Add a post: notes, call notes (seed step 4), or the case summary (seed step 7)
    #[command(
        after_help = "Examples:\n  casework post add 1027 --kind call-notes \\\n      --body 'Service definition references a missing data store'\n  casework post add 1027 --kind summary --body-file summary.txt\n  echo 'Logs received, thanks' | \\\n      casework post add 1027 --kind note --customer-visible --body -"
    )]
    Add {
        /// Case number
        number: String,
        /// What kind of post
        #[arg(long, value_enum)]
        kind: PostKindArg,
        /// Let the customer see it (posts are internal by default)
        #[arg(long)]
        customer_visible: bool,
        /// The text; `-` reads standard input
        #[arg(
            long,
            conflicts_with = "body_file",
            required_unless_present = "body_file"
        )]
        body: Option<String>,
        /// Read the text from a file
        #[arg(long)]
        body_file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChannelArg {
    Email,
    Phone,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutcomeArg {
    NoResponse,
    Reached,
}

#[derive(Debug, Subcommand)]
pub enum ContactCmd {
    /// Record an attempt to reach the customer (seed step 6)
    #[command(
        after_help = "Examples:\n  casework contact record 1027 --channel email --outcome no-response\n  casework contact record 1027 --channel phone --outcome reached \\\n      --note 'confirmed fixed'"
    )]
    Record {
        /// Case number
        number: String,
        /// Email or phone
        #[arg(long, value_enum)]
        channel: ChannelArg,
        /// Did the customer answer?
        #[arg(long, value_enum)]
        outcome: OutcomeArg,
        /// Internal note
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TemplateArg {
    InitialContact,
    FollowUp,
    NonResponseClosure,
    ReopenNotice,
}

#[derive(Debug, Args)]
pub struct EmailArgs {
    /// Case number
    pub number: String,
    /// Which email
    #[arg(long, value_enum)]
    pub template: TemplateArg,
    /// Initial contact: what the customer is experiencing
    #[arg(long)]
    pub challenge: Option<String>,
    /// Follow-up: summary of what was discussed
    #[arg(long)]
    pub discussed: Option<String>,
    /// Follow-up: next steps
    #[arg(long)]
    pub next_steps: Option<String>,
    /// Follow-up: a documentation link (repeatable)
    #[arg(long = "doc", value_name = "URL")]
    pub documentation: Vec<String>,
    /// A paragraph added before the signature
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum EmailCmd {
    /// Render an email without sending it
    #[command(
        after_help = "Example:\n  casework --as ana email preview 1027 --template follow-up \\\n      --discussed 'We reproduced it' --next-steps 'Register the data store' \\\n      --doc https://example.com/kb/12"
    )]
    Preview(EmailArgs),
    /// Queue an email to the customer (delivered by the outbox worker)
    #[command(
        after_help = "Example:\n  casework --as ana email send 1027 --template initial-contact \\\n      --challenge 'publishing a map service'"
    )]
    Send(EmailArgs),
}

#[derive(Debug, Subcommand)]
pub enum ArticleCmd {
    /// Add a knowledge article
    #[command(
        after_help = "Example:\n  casework article add --title 'Register a data store' \\\n      --body 'Publishing fails with 999999 when…' \\\n      --url https://example.com/kb/12"
    )]
    Add {
        /// Title
        #[arg(long, value_parser = line)]
        title: String,
        /// Text
        #[arg(long)]
        body: String,
        /// Where it is published
        #[arg(long, value_parser = line)]
        url: Option<String>,
    },
    /// Show an article
    #[command(after_help = "Example:\n  casework article show 12")]
    Show {
        /// Article id
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DefectCmd {
    /// Add a known defect
    #[command(
        after_help = "Example:\n  casework defect add --key BUG-000123 \\\n      --title 'Publishing crash on 11.3' --body '…' --state open"
    )]
    Add {
        /// Its key in the defect tracker
        #[arg(long, value_parser = line)]
        key: String,
        /// Title
        #[arg(long, value_parser = line)]
        title: String,
        /// Description
        #[arg(long, default_value = "")]
        body: String,
        /// Tracker state
        #[arg(long, default_value = "open", value_parser = line)]
        state: String,
    },
    /// Show a defect
    #[command(after_help = "Example:\n  casework defect show BUG-000123")]
    Show {
        /// Defect key
        key: String,
    },
}

#[derive(Debug, Args)]
pub struct SwarmArgs {
    /// Case number
    pub number: String,
    /// The collaboration group
    #[arg(long, value_parser = line)]
    pub group: String,
    /// The question
    #[arg(long)]
    pub question: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Case,
    Article,
    Defect,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words to find (all must match)
    pub text: String,
    /// Only this kind of record
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// At most this many
    #[arg(long, default_value_t = DEFAULT_HITS)]
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportBy {
    ProductArea,
    Owner,
    Resolution,
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// Reopen patterns: closed, reopened, rate, median days to reopen, temporary closes;
    /// with --key, the cases behind one row and why they were reopened
    #[command(
        after_help = "Examples:\n  casework report reopens --by owner --from 2026-01-01 --to 2026-04-01\n  casework report reopens --by owner --key 'Ana Lopez' --from 2026-01-01"
    )]
    Reopens {
        /// Group by (each closure's owner, product area or resolution at close)
        #[arg(long, value_enum, default_value = "product-area")]
        by: ReportBy,
        /// Closures on or after this date (YYYY-MM-DD, UTC) or time (RFC 3339)
        #[arg(long)]
        from: Option<String>,
        /// Closures before this date or time
        #[arg(long)]
        to: Option<String>,
        /// Show the cases behind the row with this key (as the report prints it)
        #[arg(long)]
        key: Option<String>,
        /// With --key: cases per page
        #[arg(long, default_value_t = DEFAULT_PAGE)]
        limit: u32,
        /// With --key: the cursor the previous page printed
        #[arg(long)]
        cursor: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum StatusCmd {
    /// Move every case in status OLD, which the workflow file no longer has (renamed or
    /// removed), to NEW; one event per case, in its history
    #[command(
        after_help = "Example (the workflow file renamed New to Open):\n  casework doctor\n  casework --as root status map New=Open"
    )]
    Map {
        /// OLD=NEW
        mapping: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutboxStatusArg {
    Queued,
    Sent,
    Failed,
    Cancelled,
}

#[derive(Debug, Subcommand)]
pub enum MailCmd {
    /// Take one RFC 5322 message from standard input (an MTA pipe) onto its case
    #[command(
        after_help = "Examples:\n  casework mail ingest --file message.eml\n  casework --json mail ingest --file message.eml\n\nWithout --file the message is read from standard input, as an MTA pipes it\n(a Postfix example is in docs/operations.md).\nExit codes an MTA understands: 0 taken (or taken before: nothing changes), or\nnever takeable (unreadable, no sender, an auto-reply answering no case) and kept\nin the quarantine (see `mail quarantine`); 75 try later (the store is\nunavailable or busy)."
    )]
    Ingest {
        /// Read the message from this file instead of standard input
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Take every message of an IMAP mailbox once, then stop
    #[command(
        after_help = "Examples:\n  CASEWORK_IMAP_PASSWORD=secret casework mail fetch \\\n      --imap 'imaps://support@mail.example.com/INBOX?processed=Casework'\n  casework mail fetch --imap 'imap://desk:pw@127.0.0.1:1143/INBOX?tls=none'\n\nURL options: processed=FOLDER (move taken mail there; else it is marked \\Seen),\ntls=starttls|none (none only on loopback), timeout=30s, ca=FILE.pem, batch=50.\nA message taken is confirmed only after it is committed; one that can never be\ntaken is kept in the quarantine (`mail quarantine`), then confirmed; one over\nthe size limit is left in the mailbox and listed. Taking a message twice changes nothing."
    )]
    Fetch {
        /// imaps://USER[:PASS]@HOST[:993]/MAILBOX or imap://… (STARTTLS); the password
        /// may come from CASEWORK_IMAP_PASSWORD
        #[arg(long)]
        imap: String,
    },
    /// Inbound email the pipeline refused and kept: list, show, release, drop
    // not named `Quarantine`: that is the store capability's name, which front-ends never
    // name (tidy's front_ends_reach_the_store_only_through_the_service)
    #[command(subcommand, name = "quarantine")]
    Kept(QuarantineCmd),
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCmd {
    /// Kept messages, oldest first, a page at a time
    #[command(
        after_help = "Examples:\n  casework --as lee mail quarantine list\n  casework --as lee mail quarantine list --limit 20\n  casework --as lee mail quarantine list --cursor q1764033600000000000.q-0123"
    )]
    List {
        /// At most this many on a page
        #[arg(long, default_value_t = DEFAULT_OUTBOX, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_OUTBOX)))]
        limit: u32,
        /// Where the page starts: the cursor the previous page printed
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One kept message: when, from which input, why, and its text
    #[command(
        after_help = "Examples:\n  casework --as lee mail quarantine show q-0123456789abcdef0123\n  casework --as lee mail quarantine show q-0123456789abcdef0123 --raw > kept.eml"
    )]
    Show {
        /// Its id (from `mail quarantine list`)
        id: String,
        /// Write the message's bytes exactly as they arrived, and nothing else
        #[arg(long)]
        raw: bool,
    },
    /// Run the pipeline again on a kept message: taken, it leaves the quarantine
    #[command(
        after_help = "Example:\n  casework --as lee mail quarantine release q-0123456789abcdef0123"
    )]
    Release {
        /// Its id
        id: String,
    },
    /// Remove a kept message for good
    #[command(
        after_help = "Example:\n  casework --as lee mail quarantine drop q-0123456789abcdef0123"
    )]
    Drop {
        /// Its id
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// Deliver every queued email that is due, then stop
    #[command(
        after_help = "Examples:\n  casework --as ana outbox flush \\\n      --mailer 'smtps://desk:secret@mail.example.com'\n  casework --as ana outbox flush --mailer 'smtp://127.0.0.1:2525?timeout=10s'\n  casework --as ana outbox flush --mailer dir:///var/spool/casework\n  CASEWORK_MAILER=log:// casework --as ana outbox flush\n\nSMTP URL options: tls=starttls|none (none only on loopback), timeout=30s,\nca=FILE.pem (extra trusted roots), helo=NAME.\nFailed deliveries are retried with exponential backoff (1 min, 2 min, 4 min,\n…) and marked failed after 8 attempts, keeping the last error (see `outbox\nlist`); the [delivery] section of the workflow file changes those numbers."
    )]
    Flush {
        /// Where mail goes: smtp://[user:pass@]host[:port] (STARTTLS; plain only on
        /// loopback), smtps://… (implicit TLS), dir://PATH (.eml files) or log:// (logged only)
        #[arg(long, env = "CASEWORK_MAILER", default_value = "log://")]
        mailer: String,
    },
    /// List outgoing email
    #[command(after_help = "Example:\n  casework outbox list --status queued")]
    List {
        /// Only this status
        #[arg(long, value_enum)]
        status: Option<OutboxStatusArg>,
        /// At most this many
        #[arg(long, default_value_t = DEFAULT_OUTBOX)]
        limit: u32,
    },
    /// Put a failed or cancelled email back in the queue, due now (or send a queued one
    /// now rather than at its next try)
    #[command(
        after_help = "Example:\n  casework --as lee outbox list --status failed\n  casework --as lee outbox retry 01JD3T9W8K2M6Q4R7S5V0X1Y2Z\n\nThe message starts the delivery policy's retries over (its attempts count\nfrom zero) and is sent by the next `outbox flush` or the server's worker.\nA sent message is never retried: it would reach the customer twice. A message\na worker is delivering right now is refused (exit 2): try again in a moment."
    )]
    Retry {
        /// The message's id (first column of `outbox list`)
        id: String,
    },
    /// Withdraw a queued email so it is never sent
    #[command(
        after_help = "Example:\n  casework --as lee outbox cancel 01JD3T9W8K2M6Q4R7S5V0X1Y2Z\n\nIt stays listed as cancelled, and its case's timeline says so; `outbox retry`\nputs it back. Only a queued message can be cancelled, and not while a worker\nis delivering it (exit 2)."
    )]
    Cancel {
        /// The message's id (first column of `outbox list`)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Print committed events after a position, oldest first; with --follow, keep printing
    /// new ones as they are committed
    #[command(
        after_help = "Examples:\n  casework --as ana events tail\n  casework --as ana events tail --after 1200 --follow --json\n\nEach line starts with the event's position; a consumer keeps the last one it\nhandled and passes it as --after next time, so it never misses or repeats an\nevent. --json prints one JSON object per line ({\"position\", \"event\"}).\nStaff who may read histories see every event; a customer, their own cases'\ncustomer-visible events."
    )]
    Tail {
        /// Start after this position (0: from the first event)
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Read this many events at a time (1 to the largest page)
        #[arg(long, default_value_t = DEFAULT_PAGE, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
        limit: u32,
        /// Keep waiting for new events (until interrupted)
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Register an endpoint; prints its signing secret once
    #[command(
        after_help = "Examples:\n  casework --as admin webhook add https://hooks.example.com/casework\n  casework --as admin webhook add https://hooks.example.com/c \\\n      --event case.opened --event case.closed\n\nDeliveries are signed per Standard Webhooks (webhook-id, webhook-timestamp,\nwebhook-signature: HMAC-SHA256 with the whsec_ secret) and sent by the outbox\nworker (`casework serve`, `casework outbox flush`), at least once, in order per\ncase. Loopback and private addresses are refused unless the workflow file's\n[webhooks] allow_private_networks is on."
    )]
    Add {
        /// Where to post (http or https)
        url: String,
        /// An event type to receive (repeat for more; all when none): case.opened, case.closed, …
        #[arg(long = "event")]
        events: Vec<String>,
        /// The signing secret (whsec_ and base64); generated when absent
        #[arg(long)]
        secret: Option<String>,
    },
    /// Every endpoint, removed ones too
    List,
    /// Remove an endpoint (its log stays; queued deliveries are not sent)
    Remove {
        /// The endpoint's id
        id: String,
    },
    /// An endpoint's delivery log, newest first
    Deliveries {
        /// The endpoint's id
        id: String,
        /// At most this many
        #[arg(long, default_value_t = DEFAULT_OUTBOX)]
        limit: u32,
    },
    /// Send a delivery again, with the same webhook-id
    Redeliver {
        /// The endpoint's id
        id: String,
        /// The delivery's id (its webhook-id)
        delivery: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Splits one shell command line into pipeline segments of words: quotes (`'…'`,
    /// `"…"`, `$'…'`), backslash escapes, `#` comments, and the operators `|`, `&&`, `;`
    /// and `>` (whose target is dropped), as a POSIX shell would read the examples.
    fn shell_segments(line: &str) -> Result<Vec<Vec<String>>, String> {
        let mut segments = vec![Vec::new()];
        let mut word: Option<String> = None;
        let mut chars = line.chars().peekable();
        let mut skip_next_word = false;
        let finish =
            |word: &mut Option<String>, segments: &mut Vec<Vec<String>>, skip: &mut bool| {
                if let Some(w) = word.take() {
                    if *skip {
                        *skip = false;
                    } else if let Some(last) = segments.last_mut() {
                        last.push(w);
                    }
                }
            };
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' => finish(&mut word, &mut segments, &mut skip_next_word),
                '#' if word.is_none() => break,
                '\'' => {
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some(c) => w.push(c),
                            None => return Err("unclosed '".into()),
                        }
                    }
                }
                '$' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some('\'') => break,
                            Some('\\') => match chars.next() {
                                Some('n') => w.push('\n'),
                                Some('t') => w.push('\t'),
                                Some(c) => w.push(c),
                                None => return Err("unclosed $'".into()),
                            },
                            Some(c) => w.push(c),
                            None => return Err("unclosed $'".into()),
                        }
                    }
                }
                '"' => {
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(c) => w.push(c),
                                None => return Err("unclosed \"".into()),
                            },
                            Some(c) => w.push(c),
                            None => return Err("unclosed \"".into()),
                        }
                    }
                }
                '\\' => match chars.next() {
                    Some(c) => word.get_or_insert_with(String::new).push(c),
                    None => return Err("a trailing backslash".into()),
                },
                '|' | ';' | '&' => {
                    if c == '&' && chars.next() != Some('&') {
                        return Err("a lone &".into());
                    }
                    finish(&mut word, &mut segments, &mut skip_next_word);
                    segments.push(Vec::new());
                }
                '>' => {
                    finish(&mut word, &mut segments, &mut skip_next_word);
                    skip_next_word = true;
                }
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        finish(&mut word, &mut segments, &mut skip_next_word);
        Ok(segments)
    }

    /// The help of a command and of every subcommand under it, at a terminal width.
    fn every_help(cmd: &mut clap::Command, width: usize, out: &mut Vec<(String, String)>) {
        let mut cmd = cmd.clone().term_width(width);
        let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
        out.push((name, cmd.render_long_help().to_string()));
        for sub in cmd.get_subcommands_mut() {
            every_help(sub, width, out);
        }
    }

    /// The example commands of a help text: the indented lines under `Example:`,
    /// `Examples:` or `Quick start:`, with continuation lines (after a trailing `\`)
    /// joined. A line that is neither a command nor a continuation is an example wrapped
    /// where it cannot be pasted.
    fn examples(help: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut inside = false;
        let mut pending: Option<String> = None;
        for line in help.lines() {
            let trimmed = line.trim();
            if ["Example:", "Examples:", "Quick start:"].contains(&trimmed) {
                inside = true;
                continue;
            }
            if !inside {
                continue;
            }
            if trimmed.is_empty() || !line.starts_with("  ") {
                if let Some(p) = pending.take() {
                    return Err(format!("{p:?} ends in \\ but nothing follows"));
                }
                inside = false;
                continue;
            }
            let text = match pending.take() {
                Some(mut p) => {
                    p.push(' ');
                    p.push_str(trimmed);
                    p
                }
                None => {
                    let starts_a_command = trimmed.starts_with("casework ")
                        || trimmed.starts_with("CASEWORK_")
                        || trimmed.starts_with("echo ")
                        || trimmed.starts_with("$EDITOR ");
                    if !starts_a_command || line.starts_with("   ") {
                        return Err(format!("{line:?} continues a line that did not end in \\"));
                    }
                    trimmed.to_string()
                }
            };
            match text.strip_suffix('\\') {
                Some(head) => pending = Some(head.trim_end().to_string()),
                None => out.push(text),
            }
        }
        Ok(out)
    }

    #[test]
    fn every_help_example_can_be_pasted_into_a_terminal_as_it_is_printed() {
        let mut helps = Vec::new();
        every_help(&mut Cli::command(), 80, &mut helps);
        let mut checked = 0;
        for (name, help) in &helps {
            assert!(
                !help.contains("\\\""),
                "{name}: a literal \\\" in its help:\n{help}"
            );
            let found = examples(help).unwrap_or_else(|e| panic!("{name}: {e}\n{help}"));
            for example in found {
                let segments =
                    shell_segments(&example).unwrap_or_else(|e| panic!("{example:?}: {e}"));
                for words in segments {
                    // drop VAR=value assignments before the command
                    let words: Vec<&String> = words
                        .iter()
                        .skip_while(|w| w.contains('=') && !w.starts_with('-'))
                        .collect();
                    if words.first().map(|w| w.as_str()) != Some("casework") {
                        continue;
                    }
                    let parsed = Cli::try_parse_from(words.iter().map(|w| w.as_str()));
                    assert!(
                        parsed.is_ok(),
                        "{name}: {example:?} does not parse: {parsed:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "only {checked} examples found");
    }

    #[test]
    fn the_example_checker_notices_a_wrapped_or_escaped_example() {
        let wrapped = "Examples:\n  casework case list --status 'In\n  Progress'\n";
        assert!(examples(wrapped).is_err());
        let mid = "Example:\n  casework --as ana case open --title T\n      --description D\n";
        assert!(examples(mid).is_err(), "a continuation without a backslash");
        let good = "Example:\n  casework case open --title T \\\n      --description D\n";
        assert_eq!(
            examples(good).unwrap(),
            ["casework case open --title T --description D"]
        );
        assert!(shell_segments("casework --q 'unclosed").is_err());
        assert_eq!(
            shell_segments("echo 'a b' | casework post add 1 --body - > out.txt").unwrap(),
            [
                vec!["echo", "a b"],
                vec!["casework", "post", "add", "1", "--body", "-"]
            ]
        );
    }
}
