//! The IMAP fetch adapter against a real Dovecot on loopback: messages appended over IMAP
//! come back once with their UIDs, in bounded batches; nothing is marked before the caller
//! confirms, so a crash between fetch and confirm loses nothing; confirming marks or moves;
//! a changed UIDVALIDITY is reported; TLS is verified (implicit and STARTTLS).

use casework_e2e::dovecot::Dovecot;
use casework_mail::imap::{Fetched, ImapError, ImapMailbox, ImapSettings, MailboxState};
use casework_mail::inbound::{InboundLimits, parse_message};

fn fixture(name: &str) -> Vec<u8> {
    let path = casework_e2e::workspace_root()
        .join("crates/casework-mail/tests/fixtures/inbound")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Messages as an MTA would deliver them (CRLF line ends, as IMAP stores them).
const MESSAGES: &[&str] = &[
    "plain.eml",
    "reply-gmail.eml",
    "attachments.eml",
    "out-of-office.eml",
    "bounce-exim.eml",
];

async fn open(url: &str) -> ImapMailbox {
    let settings = ImapSettings::parse(url).unwrap();
    ImapMailbox::connect(&settings).await.unwrap()
}

/// The Maildir files of a folder and whether each is flagged seen (`:2,…S…`).
fn seen_flags(server: &Dovecot, mailbox: &str) -> Vec<bool> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(server.maildir(mailbox).join(sub)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let flags = name.rsplit_once(":2,").map(|(_, f)| f.to_string());
                out.push(flags.is_some_and(|f| f.contains('S')));
            }
        }
    }
    out
}

fn subjects(batch: &[casework_mail::imap::FetchedMessage]) -> Vec<String> {
    batch
        .iter()
        .map(|m| match &m.content {
            Fetched::Raw(raw) => {
                parse_message(raw, &InboundLimits::default())
                    .unwrap()
                    .subject
            }
            Fetched::TooLarge { .. } => "too large".into(),
        })
        .collect()
}

#[tokio::test]
async fn appended_mail_is_fetched_once_in_batches_and_a_crash_before_confirm_loses_nothing() {
    let server = Dovecot::start("fetch");
    let url = server.url("INBOX", "?batch=2");
    let mut mailbox = open(&url).await;
    for name in MESSAGES {
        mailbox.append(&fixture(name)).await.unwrap();
    }
    let start = mailbox.initial_state();

    // bounded batches: 2, 2, 1, in UID order, each raw message as appended
    let mut state = start;
    let mut fetched = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let batch = mailbox.fetch_after(state).await.unwrap();
        assert!(batch.messages.len() <= 2);
        sizes.push(batch.messages.len());
        fetched.extend(batch.messages.clone());
        state = batch.state;
        if !batch.more {
            break;
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    let uids: Vec<u32> = fetched.iter().map(|m| m.uid).collect();
    assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
    assert_eq!(state.last_uid, *uids.last().unwrap());
    for (m, name) in fetched.iter().zip(MESSAGES) {
        assert_eq!(m.content, Fetched::Raw(fixture(name)), "{name}");
    }
    assert_eq!(
        subjects(&fetched)[..2],
        [
            "Map service fails to publish",
            "Re: [Case 00001027] Map service fails to publish"
        ]
    );

    // from the returned state, nothing again
    let again = mailbox.fetch_after(state).await.unwrap();
    assert!(again.messages.is_empty() && !again.more);
    assert_eq!(again.state, state);

    // nothing was marked: fetching peeks
    assert_eq!(seen_flags(&server, "INBOX"), vec![false; 5]);

    // a crash after fetching, before the commit: the poller restarts from the state it
    // had committed and gets the same messages back
    drop(mailbox);
    let mut restarted = open(&url).await;
    let mut replay = Vec::new();
    let mut s = start;
    loop {
        let batch = restarted.fetch_after(s).await.unwrap();
        replay.extend(batch.messages);
        s = batch.state;
        if !batch.more {
            break;
        }
    }
    assert_eq!(replay, fetched, "the same UIDs and bytes");

    // confirming marks exactly those messages seen
    restarted.confirm(&uids[..3]).await.unwrap();
    let mut flags = seen_flags(&server, "INBOX");
    flags.sort();
    assert_eq!(flags, [false, false, true, true, true]);
    restarted.confirm(&uids[3..]).await.unwrap();
    assert_eq!(seen_flags(&server, "INBOX"), vec![true; 5]);
    restarted.logout().await.unwrap();
}

#[tokio::test]
async fn confirmed_mail_moves_to_the_processed_folder_and_oversized_mail_comes_as_headers() {
    let server = Dovecot::start("move");
    let mut settings = ImapSettings::parse(&server.url("INBOX", "?processed=Archive")).unwrap();
    settings.max_bytes = 1000;
    let mut mailbox = ImapMailbox::connect(&settings).await.unwrap();
    mailbox.append(&fixture("plain.eml")).await.unwrap(); // 711 bytes
    mailbox.append(&fixture("attachments.eml")).await.unwrap(); // over 1000
    let batch = mailbox.fetch_after(mailbox.initial_state()).await.unwrap();
    assert_eq!(batch.messages.len(), 2);
    assert!(matches!(batch.messages[0].content, Fetched::Raw(_)));
    match &batch.messages[1].content {
        Fetched::TooLarge { size, header } => {
            assert_eq!(*size as usize, fixture("attachments.eml").len());
            let header = String::from_utf8_lossy(header);
            assert!(header.contains("Subject: Log and screenshot"), "{header}");
            assert!(!header.contains("%PDF"), "{header}");
        }
        other => panic!("{other:?}"),
    }
    let uids: Vec<u32> = batch.messages.iter().map(|m| m.uid).collect();
    assert_eq!(seen_flags(&server, "Archive"), Vec::<bool>::new());
    mailbox.confirm(&uids).await.unwrap();
    assert_eq!(
        seen_flags(&server, "INBOX"),
        Vec::<bool>::new(),
        "moved out"
    );
    assert_eq!(
        seen_flags(&server, "Archive"),
        [true, true],
        "moved in, seen"
    );
    let after = mailbox.fetch_after(mailbox.initial_state()).await.unwrap();
    assert!(after.messages.is_empty());
}

#[tokio::test]
async fn a_changed_uidvalidity_is_reported_to_the_caller() {
    let server = Dovecot::start("uidvalidity");
    let url = server.url("Support", "");
    let mut mailbox = open(&url).await;
    mailbox.append(&fixture("plain.eml")).await.unwrap();
    let batch = mailbox.fetch_after(mailbox.initial_state()).await.unwrap();
    let saved: MailboxState = batch.state;
    assert_eq!(saved.last_uid, 1);
    mailbox.logout().await.unwrap();

    // the folder is recreated (restored from a backup, say): UIDs start again
    std::fs::remove_dir_all(server.maildir("Support")).unwrap();
    let mut mailbox = open(&url).await;
    assert_ne!(mailbox.uid_validity(), saved.uid_validity);
    match mailbox.fetch_after(saved).await {
        Err(e @ ImapError::UidValidityChanged { .. }) => {
            assert_eq!(
                e,
                ImapError::UidValidityChanged {
                    mailbox: "Support".into(),
                    expected: saved.uid_validity,
                    found: mailbox.uid_validity(),
                }
            );
            assert!(!e.is_temporary());
            assert!(e.to_string().contains("UIDVALIDITY changed"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn tls_is_verified_for_implicit_tls_and_starttls() {
    let server = Dovecot::start("tls");
    let ca = format!("ca={}", server.ca);
    for url in [
        server.tls_url("INBOX", &format!("?{ca}")),
        server.url("INBOX", &format!("?tls=starttls&{ca}")),
    ] {
        let mut mailbox = open(&url).await;
        mailbox.append(&fixture("plain.eml")).await.unwrap();
        let batch = mailbox.fetch_after(mailbox.initial_state()).await.unwrap();
        assert!(!batch.messages.is_empty(), "{url}");
    }
    // without the private CA, the certificate is refused
    for url in [
        server.tls_url("INBOX", ""),
        server.url("INBOX", "?tls=starttls"),
    ] {
        let settings = ImapSettings::parse(&url).unwrap();
        match ImapMailbox::connect(&settings).await {
            Err(e @ ImapError::Tls { .. }) => {
                assert!(e.to_string().contains("TLS"), "{e}");
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_wrong_password_or_mailbox_is_a_clear_error() {
    let server = Dovecot::start("refusals");
    let wrong = format!("imap://desk:nope@127.0.0.1:{}/INBOX", server.port);
    match ImapMailbox::connect(&ImapSettings::parse(&wrong).unwrap()).await {
        Err(e @ ImapError::Login { .. }) => assert!(!e.is_temporary(), "{e}"),
        other => panic!("{other:?}"),
    }
    let missing = server.url("Nowhere", "");
    match ImapMailbox::connect(&ImapSettings::parse(&missing).unwrap()).await {
        Err(ImapError::Mailbox { mailbox, .. }) => assert_eq!(mailbox, "Nowhere"),
        other => panic!("{other:?}"),
    }
    // nobody listening: a temporary failure
    let closed = format!("imap://desk:x@127.0.0.1:{}/INBOX?timeout=2s", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    });
    match ImapMailbox::connect(&ImapSettings::parse(&closed).unwrap()).await {
        Err(e @ ImapError::Connection { .. }) => assert!(e.is_temporary()),
        other => panic!("{other:?}"),
    }
}
