//! Opening a store safely: what is not a Casework database, or is newer than this build, is
//! refused and left byte-for-byte untouched; the event log is append-only at the SQL level.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use casework_core::ports::{CaseLog, Diagnostics};
use casework_store_sqlite::{APPLICATION_ID, OpenError, SCHEMA_VERSION, SqliteStore};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("casework-open-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

fn refused_untouched(name: &str, bytes: &[u8]) -> OpenError {
    let dir = temp_dir(name);
    let path = dir.join("cases.db");
    std::fs::write(&path, bytes).unwrap();
    let err = SqliteStore::open_url(&url(&path))
        .err()
        .expect("must be refused");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "{name}: the file changed"
    );
    assert!(
        !dir.join("cases.db-wal").exists(),
        "{name}: a WAL file was created"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    err
}

#[test]
fn a_text_file_is_refused_and_untouched() {
    let err = refused_untouched("text", b"name,email\nana,ana@example.com\n");
    assert!(matches!(err, OpenError::NotCasework { .. }), "{err}");
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert!(
        err.to_string().ends_with("the file was not changed"),
        "{err}"
    );
}

#[test]
fn random_bytes_and_a_corrupt_database_are_refused_and_untouched() {
    let noise: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(
        refused_untouched("noise", &noise),
        OpenError::NotCasework { .. }
    ));

    // a real Casework database with its pages scrambled after the header
    let dir = temp_dir("corrupt-src");
    let path = dir.join("cases.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};
             CREATE TABLE t(x); INSERT INTO t VALUES (randomblob(20000));"
        ))
        .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b ^= 0x5a;
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let err = refused_untouched("corrupt", &bytes);
    assert!(matches!(err, OpenError::NotCasework { .. }), "{err}");
}

#[test]
fn another_applications_database_is_refused_and_untouched() {
    let dir = temp_dir("foreign-src");
    let path = dir.join("other.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);")
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = refused_untouched("foreign", &bytes);
    assert!(err.to_string().contains("another application"), "{err}");
}

#[test]
fn a_database_from_a_newer_casework_is_refused_and_untouched() {
    let dir = temp_dir("newer-src");
    let path = dir.join("cases.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {}; CREATE TABLE future(x);",
            SCHEMA_VERSION + 1
        ))
        .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let err = refused_untouched("newer", &bytes);
    assert_eq!(
        err,
        OpenError::TooNew {
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        }
    );
    assert!(err.to_string().contains("upgrade Casework"), "{err}");
}

#[test]
fn a_new_store_creates_its_folders_and_reopens() {
    let dir = temp_dir("create");
    let path = dir.join("nested/deeper/cases.db");
    let opened = casework_core::testing::opened("t");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open_url(&url(&path)).unwrap();
        let c = store
            .create_case(
                casework_core::testing::START,
                "ana".into(),
                opened,
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(c.number.get(), 1);
        assert_eq!(
            store.stats().await.unwrap().schema_version,
            Some(SCHEMA_VERSION)
        );
    });
    // reopening is idempotent and finds the data
    rt.block_on(async {
        let store = SqliteStore::open_url(&url(&path)).unwrap();
        assert_eq!(store.stats().await.unwrap().cases, 1);
    });
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, APPLICATION_ID);
    // the event log is append-only, whoever writes to the file
    let upd = conn.execute("UPDATE events SET body = '{}'", []);
    assert!(upd.unwrap_err().to_string().contains("append-only"));
    let del = conn.execute("DELETE FROM events", []);
    assert!(del.unwrap_err().to_string().contains("append-only"));
    let n: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_writer_is_durable_by_default_and_trades_only_when_the_url_asks() {
    // the crash tests SIGKILL a process, which a store at synchronous=NORMAL or OFF would
    // survive too (the page cache outlives the process): what stands for power loss is the
    // writer's synchronous=FULL, asserted here on the connection that commits
    let dir = temp_dir("durability");
    let path = dir.join("cases.db");
    let store = SqliteStore::open_url(&url(&path)).unwrap();
    let s = store.writer_settings().await.unwrap();
    assert_eq!(
        (s.synchronous.as_str(), s.journal_mode.as_str()),
        ("full", "wal")
    );
    drop(store);
    let explicit = SqliteStore::open_url(&format!("{}?synchronous=full", url(&path))).unwrap();
    assert_eq!(
        explicit.writer_settings().await.unwrap().synchronous,
        "full"
    );
    drop(explicit);
    let traded = SqliteStore::open_url(&format!("{}?synchronous=normal", url(&path))).unwrap();
    let s = traded.writer_settings().await.unwrap();
    assert_eq!(
        (s.synchronous.as_str(), s.journal_mode.as_str()),
        ("normal", "wal")
    );
    drop(traded);
    // a CLI process (one connection for reads and writes) is as durable
    let cli = SqliteStore::open_url(&url(&path))
        .unwrap()
        .single_connection();
    assert_eq!(cli.writer_settings().await.unwrap().synchronous, "full");
    drop(cli);
    std::fs::remove_dir_all(&dir).unwrap();
}
