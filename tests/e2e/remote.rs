//! The CLI against a remote `casework serve` (`--store http://…`): two processes on
//! loopback, the seed workflow walked through the REST store, the records landing in the
//! server's own SQLite file; a wrong token and a stopped server give clear errors.

use casework_e2e::Cw;

use crate::cli::{EXE, seed_workflow, staff};

#[test]
fn the_seed_workflow_through_a_remote_server() {
    // the server side: its store, its first admin, and a service token for the desk's CLI
    let server_side = Cw::new(EXE, "remote-server");
    server_side.ok(&["init"]);
    server_side.first_admin();
    let token = server_side.token("desk-cli", "service");
    let mut server = server_side.serve(&[]);
    let url = format!("http://{}", server.addr);

    // the desk: another process, its own home, no local store at all
    let desk = Cw::new(EXE, "remote-desk")
        .with_env("CASEWORK_STORE", &url)
        .with_env("CASEWORK_TOKEN", &token);
    staff(&desk);
    seed_workflow(&desk);
    assert!(
        !desk.dir.join("data/casework/casework.db").exists(),
        "nothing was stored on the desk's side"
    );

    // everything is in the server's file, as a local command there sees it
    let shown = server_side.json(&["--as", "root", "case", "show", "1"]);
    assert_eq!(shown["case"]["reopen_count"], 1, "{shown}");
    assert_eq!(shown["case"]["owner"], "Ana Lopez");
    let people = server_side.json(&["--as", "root", "agent", "list"]);
    assert_eq!(people.as_array().unwrap().len(), 3, "{people}");

    // a token that is not a service token is refused with a clear message
    let admin = server_side.token("root-api", "admin");
    let wrong = Cw::new(EXE, "remote-wrong")
        .with_env("CASEWORK_STORE", &url)
        .with_env("CASEWORK_TOKEN", &admin);
    let e = wrong.fails(&["--as", "root", "case", "list"], 4);
    assert!(e.contains("refused the token"), "{e}");
    let none = Cw::new(EXE, "remote-none").with_env("CASEWORK_STORE", &url);
    let e = none.fails(&["--as", "root", "case", "list"], 1);
    assert!(e.contains("CASEWORK_TOKEN"), "{e}");

    // a stopped server: unavailable, exit 4
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let e = desk.fails(&["--as", "Ana Lopez", "case", "show", "1"], 4);
    assert!(e.contains("cannot reach"), "{e}");
}
