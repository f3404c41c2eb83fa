//! Case queries: filters, pages that stay stable while cases are added, ranked search that
//! never matches what its reader may not see, similar cases.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::sync::Arc;

use casework_core::ids::CaseNumber;
use casework_core::model::{
    Defect, NewArticle, PostKind, Priority, RefKind, StatusCategory, Visibility,
};
use casework_core::ports::{
    CaseFilter, CaseLog, CaseOrder, CaseQueries, Knowledge, PageRequest, Scope, SearchQuery,
    StoreError,
};
use casework_core::workflow::{CaseEdit, Command};
use jiff::SignedDuration;

use super::{Desk, a_failing_commit, ana, desk, email};

pub async fn a_customers_latest_cases_come_newest_first<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store.clone());
    let zoe = || email("zoe@kunde.example");
    assert!(store.latest_cases_of(zoe(), 5).await.unwrap().is_empty());
    let mut hers = Vec::new();
    for i in 0..4 {
        hers.push(
            b.open(&format!("z{i}"), "d", "zoe@kunde.example")
                .await
                .number,
        );
        b.open(&format!("o{i}"), "d", "other@kunde.example").await;
    }
    let got = |v: Vec<casework_core::model::Case>| v.iter().map(|c| c.number).collect::<Vec<_>>();
    hers.reverse();
    assert_eq!(got(store.latest_cases_of(zoe(), 10).await.unwrap()), hers);
    assert_eq!(
        got(store.latest_cases_of(zoe(), 2).await.unwrap()),
        hers[..2]
    );
    let nobody = store
        .latest_cases_of(email("nobody@kunde.example"), 3)
        .await
        .unwrap();
    assert!(nobody.is_empty());
}

pub async fn filters_select_the_right_cases<S: CaseLog + CaseQueries + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let a = b
        .open("Printer offline", "spooler stops", "a@customer.example")
        .await
        .number;
    let c2 = b
        .open("Login fails", "password reset loop", "b@customer.example")
        .await
        .number;
    let c3 = b
        .open(
            "Map export slow",
            "export takes an hour",
            "a@customer.example",
        )
        .await
        .number;
    b.run(&ana(), a, Command::Take).await;
    b.run(
        &ana(),
        c2,
        Command::Transition {
            status: "Pending Customer".into(),
            note: None,
        },
    )
    .await;
    b.close_resolved(c3, "Exporting", "Performance").await;
    b.reopen(c3).await;
    let n = |x: CaseNumber| x.get();

    let f = |f: CaseFilter| f;
    assert_eq!(b.all(CaseFilter::default()).await, [n(a), n(c2), n(c3)]);
    assert_eq!(
        b.all(f(CaseFilter {
            owner: Some("ana".into()),
            ..Default::default()
        }))
        .await,
        [n(a)]
    );
    assert_eq!(
        b.all(CaseFilter {
            status: Some("pending customer".parse().unwrap()),
            ..Default::default()
        })
        .await,
        [n(c2)],
        "status names match without case"
    );
    assert_eq!(
        b.all(CaseFilter {
            status_category: Some(StatusCategory::Pending),
            ..Default::default()
        })
        .await,
        [n(c2)]
    );
    assert_eq!(
        b.all(CaseFilter {
            status_category: Some(StatusCategory::Open),
            ..Default::default()
        })
        .await,
        [n(a), n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            reopened: Some(true),
            ..Default::default()
        })
        .await,
        [n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            reopened: Some(false),
            ..Default::default()
        })
        .await,
        [n(a), n(c2)]
    );
    assert_eq!(
        b.all(CaseFilter {
            product_area: Some("Exporting".into()),
            ..Default::default()
        })
        .await,
        [n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            customer: Some(email("a@customer.example")),
            ..Default::default()
        })
        .await,
        [n(a), n(c3)]
    );
    assert_eq!(
        b.all(CaseFilter {
            q: Some("spooler".into()),
            ..Default::default()
        })
        .await,
        [n(a)]
    );
    assert_eq!(
        b.all(CaseFilter {
            q: Some("EXPORT hour".into()),
            ..Default::default()
        })
        .await,
        [n(c3)],
        "every term must match, case-insensitively"
    );
    assert!(
        b.all(CaseFilter {
            q: Some("export spooler".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        b.all(CaseFilter {
            customer: Some(email("a@customer.example")),
            status_category: Some(StatusCategory::Open),
            owner: Some("ana".into()),
            ..Default::default()
        })
        .await,
        [n(a)],
        "filters combine"
    );
}

/// Priority and owner filters, and pages in every order: each case once, in the order core
/// defines ([`CaseOrder::compare`]), through ties, edits that move cases and pages of two.
pub async fn lists_filter_by_priority_and_owner_and_walk_every_order<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    // a second and a sliver: times a store keeping microseconds must still order
    let step = || b.clock.advance(SignedDuration::from_nanos(1_000_000_500));
    let mut made = Vec::new();
    for i in 0..7 {
        // cases 3 and 4 are opened in the same instant and never changed: a tie on every key
        if i != 4 {
            step();
        }
        made.push(
            b.open(&format!("c{i}"), "d", "a@customer.example")
                .await
                .number,
        );
    }
    let edit = |p: Priority| {
        Command::Edit(CaseEdit {
            priority: Some(p),
            ..Default::default()
        })
    };
    step();
    b.run(&ana(), made[0], edit(Priority::Urgent)).await;
    step();
    b.run(&ana(), made[1], Command::Take).await;
    step();
    b.run(&ana(), made[5], edit(Priority::Low)).await;
    step();
    b.run(&ana(), made[2], edit(Priority::Urgent)).await;
    step();
    b.run(&ana(), made[6], edit(Priority::High)).await;
    b.run(&ana(), made[6], Command::Take).await;
    let n = |x: CaseNumber| x.get();

    assert_eq!(
        b.all(CaseFilter {
            priority: Some(Priority::Urgent),
            ..Default::default()
        })
        .await,
        [n(made[0]), n(made[2])]
    );
    assert_eq!(
        b.all(CaseFilter {
            unassigned: Some(false),
            ..Default::default()
        })
        .await,
        [n(made[1]), n(made[6])]
    );
    assert_eq!(
        b.all(CaseFilter {
            unassigned: Some(true),
            priority: Some(Priority::Medium),
            ..Default::default()
        })
        .await,
        [n(made[3]), n(made[4])],
        "filters combine"
    );

    let mut cases = Vec::new();
    for number in &made {
        cases.push(b.store.load_case(*number).await.unwrap());
    }
    for order in CaseOrder::ALL {
        let mut expected = cases.clone();
        expected.sort_by(|x, y| order.compare(x, y));
        let expected: Vec<u64> = expected.iter().map(|c| n(c.number)).collect();
        let pages = crate::list_pages(&*b.store, CaseFilter::default(), order, 2).await;
        assert!(pages.iter().all(|p| p.len() <= 2), "{order:?}");
        let seen: Vec<u64> = pages.concat().into_iter().map(n).collect();
        assert_eq!(seen, expected, "{order:?}");
        assert_eq!(pages.len(), 4, "{order:?}");
        // the filters hold in every order
        let req = PageRequest::from_params_in(order, Some(50), None).unwrap();
        let urgent = CaseFilter {
            priority: Some(Priority::Urgent),
            ..Default::default()
        };
        let page = b.store.list_cases(urgent, req).await.unwrap();
        let got: Vec<u64> = page.items.iter().map(|c| n(c.number)).collect();
        let want: Vec<u64> = expected
            .iter()
            .copied()
            .filter(|x| *x == n(made[0]) || *x == n(made[2]))
            .collect();
        assert_eq!(got, want, "{order:?}");
    }
    // the orders are what they say: most recent first, most urgent first
    let ids = |order: CaseOrder| {
        let mut v = cases.clone();
        v.sort_by(|x, y| order.compare(x, y));
        v.iter().map(|c| n(c.number)).collect::<Vec<_>>()
    };
    let m: Vec<u64> = made.iter().map(|x| n(*x)).collect();
    assert_eq!(
        ids(CaseOrder::Updated),
        [m[6], m[2], m[5], m[1], m[0], m[4], m[3]]
    );
    assert_eq!(
        ids(CaseOrder::Priority),
        [m[0], m[2], m[6], m[1], m[3], m[4], m[5]]
    );
}

pub async fn pagination_walks_every_case_once<S: CaseLog + CaseQueries + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let mut made = Vec::new();
    for i in 0..10 {
        made.push(
            b.open(&format!("c{i}"), "d", "a@customer.example")
                .await
                .number
                .get(),
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let req = PageRequest::from_params(Some(3), cursor.as_deref()).unwrap();
        let page = b
            .store
            .list_cases(CaseFilter::default(), req)
            .await
            .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|c| c.number.get()));
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, made);
    assert_eq!(pages, 4);
    // an exact multiple of the page size ends without an empty extra page
    let req = PageRequest {
        limit: 10,
        after: None,
        ..PageRequest::default()
    };
    let page = b
        .store
        .list_cases(CaseFilter::default(), req)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.next_cursor, None);
}

pub async fn pagination_is_stable_under_concurrent_inserts<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let mut made = Vec::new();
    for i in 0..6 {
        made.push(
            b.open(&format!("c{i}"), "d", "a@customer.example")
                .await
                .number
                .get(),
        );
    }
    let first = b
        .store
        .list_cases(
            CaseFilter::default(),
            PageRequest {
                limit: 4,
                after: None,
                ..PageRequest::default()
            },
        )
        .await
        .unwrap();
    // new cases arrive between pages
    for i in 0..3 {
        made.push(
            b.open(&format!("late{i}"), "d", "a@customer.example")
                .await
                .number
                .get(),
        );
    }
    let mut seen: Vec<u64> = first.items.iter().map(|c| c.number.get()).collect();
    let mut cursor = first.next_cursor;
    while let Some(c) = cursor {
        let req = PageRequest::from_params(Some(4), Some(&c)).unwrap();
        let page = b
            .store
            .list_cases(CaseFilter::default(), req)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.number.get()));
        cursor = page.next_cursor;
    }
    assert_eq!(seen, made, "no case skipped or repeated");
}

pub async fn concurrent_creates_are_listed_in_number_order<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = Arc::new(desk(store));
    let mut tasks = Vec::new();
    for i in 0..32 {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            b.open(&format!("concurrent {i}"), "d", "a@customer.example")
                .await
                .number
                .get()
        }));
    }
    let mut numbers = BTreeSet::new();
    for t in tasks {
        numbers.insert(t.await.unwrap());
    }
    assert_eq!(
        b.all(CaseFilter::default()).await,
        numbers.into_iter().collect::<Vec<_>>(),
        "listed in number order, each once"
    );
}

/// More cases than [`casework_core::query::CANDIDATES`] share the common words: the list
/// still holds exactly the matches, page after page in its order, and search follows the
/// rule every store shares: a rare clause finds all of its documents, common words the
/// newest candidates.
pub async fn common_words_list_every_match_and_search_the_newest<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    use casework_core::query::CANDIDATES;
    let b = Arc::new(desk(store));
    let printer = || async {
        b.open("Printer error offline", "d", "a@customer.example")
            .await
            .number
            .get()
    };
    let mut printers = vec![printer().await];
    for _ in 0..2 {
        // opened 64 at a time, as a busy desk would
        let mut left = CANDIDATES / 2 + 250;
        while left > 0 {
            let mut tasks = Vec::new();
            for _ in 0..left.min(64) {
                let b = b.clone();
                tasks.push(tokio::spawn(async move {
                    b.open("Scanner error", "d", "b@customer.example").await
                }));
            }
            left -= left.min(64);
            for t in tasks {
                t.await.unwrap();
            }
        }
        printers.push(printer().await);
    }
    let walk = |q: &str, order, size| {
        let filter = CaseFilter {
            q: Some(q.into()),
            ..Default::default()
        };
        let store = b.store.clone();
        async move {
            crate::list_pages(&*store, filter, order, size)
                .await
                .concat()
        }
    };
    let n = |v: Vec<CaseNumber>| v.into_iter().map(|c| c.get()).collect::<Vec<_>>();
    let all = n(walk("", CaseOrder::Number, 500).await);
    assert_eq!(all.len() as u64, CANDIDATES + 503);
    let newest: Vec<u64> = all.iter().rev().copied().collect();
    let scanners: Vec<u64> = all
        .iter()
        .copied()
        .filter(|c| !printers.contains(c))
        .collect();
    // the list: exactly the matches, in its order, page after page
    assert_eq!(n(walk("error ", CaseOrder::Number, 300).await), all);
    assert_eq!(n(walk("error ", CaseOrder::Updated, 400).await), newest);
    assert_eq!(
        n(walk("erro", CaseOrder::Number, 500).await),
        all,
        "a prefix"
    );
    assert_eq!(
        n(walk("printer error ", CaseOrder::Number, 2).await),
        printers
    );
    assert_eq!(
        n(walk("error -printer", CaseOrder::Number, 500).await),
        scanners
    );
    assert_eq!(
        n(walk("scanner error ", CaseOrder::Number, 500).await),
        scanners
    );
    assert!(
        walk("scanner -error", CaseOrder::Number, 500)
            .await
            .is_empty()
    );
    assert!(
        walk("printer -offline", CaseOrder::Number, 5)
            .await
            .is_empty()
    );
    // search: a rare clause finds every document it is in
    let found = |text: &str, limit| {
        let store = b.store.clone();
        let text = text.to_string();
        async move {
            store
                .search(SearchQuery {
                    text,
                    kind: None,
                    scope: Scope::Staff,
                    limit,
                })
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.reference.parse::<u64>().unwrap())
                .collect::<Vec<_>>()
        }
    };
    let mut hits = found("printer error ", 10).await;
    hits.sort_unstable();
    assert_eq!(hits, printers);
    // common words alone: the newest first
    assert_eq!(found("error ", 3).await, newest[..3]);
    let newest_scanners: Vec<u64> = scanners.iter().rev().copied().collect();
    assert_eq!(found("scanner error ", 3).await, newest_scanners[..3]);
    assert_eq!(found("error -printer", 2).await, newest_scanners[..2]);
    assert!(found("offline -printer", 5).await.is_empty());
    // ...of the newest CANDIDATES matches: the first printer case is older than those
    assert_eq!(found("error -scanner", 5).await, [printers[2], printers[1]]);
}

pub(crate) async fn corpus<S: CaseLog + Knowledge + ?Sized>(b: &Desk<S>) -> [CaseNumber; 4] {
    let printer = b
        .open(
            "Printer offline after update",
            "The office printer shows offline since the driver update",
            "a@customer.example",
        )
        .await
        .number;
    let spooler = b
        .open(
            "Print spooler crashes",
            "Spooler service crashes when printing large PDF files",
            "a@customer.example",
        )
        .await
        .number;
    let login = b
        .open(
            "Login loop on portal",
            "Users are sent back to the login page after entering the password",
            "b@customer.example",
        )
        .await
        .number;
    let export = b
        .open(
            "Slow map export",
            "Exporting a map to PDF takes over an hour on large layouts",
            "b@customer.example",
        )
        .await
        .number;
    b.store
        .add_article(NewArticle {
            title: "Fix a printer that shows offline".into(),
            body: "Reinstall the printer driver and restart the spooler; an offline printer after an update usually needs the new driver.".into(),
            url: Some("https://example.com/kb/1".into()),
        }, b.now())
        .await
        .unwrap();
    b.store
        .add_defect(Defect {
            key: "BUG-000101".into(),
            title: "Spooler crash on large PDF".into(),
            body: "The spooler crashes when a PDF larger than 100 MB is printed.".into(),
            state: "open".into(),
            created_at: b.now(),
        })
        .await
        .unwrap();
    [printer, spooler, login, export]
}

pub async fn search_ranks_a_fixed_corpus<
    S: CaseLog + Knowledge + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let [printer, spooler, ..] = corpus(&b).await;
    let q = |text: &str| SearchQuery {
        text: text.into(),
        kind: None,
        scope: Scope::Staff,
        limit: 10,
    };
    let hits = b.store.search(q("printer offline")).await.unwrap();
    let refs: Vec<(RefKind, &str)> = hits
        .iter()
        .map(|h| (h.kind, h.reference.as_str()))
        .collect();
    assert_eq!(refs.len(), 2, "only documents holding every term: {refs:?}");
    assert!(refs.contains(&(RefKind::Case, printer.display().as_str())));
    assert!(refs.contains(&(RefKind::Article, "1")));
    assert!(
        hits.iter().all(|h| h.score > 0.0),
        "scores are positive, higher is better"
    );
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "ranked best first"
    );

    let hits = b.store.search(q("spooler crashes")).await.unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(
        (hits[0].kind, hits[0].reference.as_str()),
        (RefKind::Case, spooler.display().as_str()),
        "the case with both words in its title and text ranks above the defect"
    );
    assert_eq!(hits[1].kind, RefKind::Defect);
    assert_eq!(hits[1].title, "Spooler crash on large PDF");

    assert!(
        b.store
            .search(q("nonexistentword"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        b.store.search(q("the and of")).await.unwrap().is_empty(),
        "stop words alone match nothing"
    );
    let hits = b.store.search(q("PDF")).await.unwrap();
    assert_eq!(hits.len(), 3, "case-insensitive: {hits:?}");
}

pub async fn search_honours_kind_and_limit<
    S: CaseLog + Knowledge + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    corpus(&b).await;
    let q = |kind, limit| SearchQuery {
        text: "pdf".into(),
        kind,
        scope: Scope::Staff,
        limit,
    };
    let hits = b.store.search(q(Some(RefKind::Defect), 10)).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].reference, "BUG-000101");
    let hits = b.store.search(q(Some(RefKind::Case), 10)).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.kind == RefKind::Case));
    assert_eq!(b.store.search(q(None, 1)).await.unwrap().len(), 1);
}

pub async fn search_finds_the_judged_set<
    S: CaseLog + Knowledge + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    use crate::judged::{CASES, JUDGMENTS, NOISE, PAGE, noise};
    let b = desk(store);
    let mut numbers = Vec::new();
    for (title, description) in CASES {
        numbers.push(
            b.open(title, description, "a@customer.example")
                .await
                .number,
        );
    }
    for i in 0..NOISE {
        let (title, description) = noise(i);
        b.open(&title, &description, "b@customer.example").await;
    }
    let mut failures = Vec::new();
    for j in JUDGMENTS {
        let hits = b
            .store
            .search(SearchQuery {
                text: j.query.into(),
                kind: Some(RefKind::Case),
                scope: Scope::Staff,
                limit: PAGE,
            })
            .await
            .unwrap();
        let page: Vec<&str> = hits.iter().map(|h| h.reference.as_str()).collect();
        let listed = b
            .all(CaseFilter {
                q: Some(j.query.into()),
                ..Default::default()
            })
            .await;
        for &i in j.first_page {
            if !page.contains(&numbers[i].display().as_str()) {
                failures.push(format!(
                    "{:?}: case {i} ({:?}) is not on the first page {page:?}",
                    j.query, CASES[i].0
                ));
            }
            if !listed.contains(&numbers[i].get()) {
                failures.push(format!("{:?}: case {i} is not in the list", j.query));
            }
        }
        for &i in j.never {
            if page.contains(&numbers[i].display().as_str()) || listed.contains(&numbers[i].get()) {
                failures.push(format!(
                    "{:?}: case {i} ({:?}) matched and must not",
                    j.query, CASES[i].0
                ));
            }
        }
    }
    assert!(failures.is_empty(), "judged set:\n{}", failures.join("\n"));
}

pub async fn hostile_query_syntax_is_text<
    S: CaseLog + Knowledge + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    corpus(&b).await;
    let search = |text: &str, scope: Scope| {
        let q = SearchQuery {
            text: text.into(),
            kind: None,
            scope,
            limit: 10,
        };
        let store = b.store.clone();
        async move { store.search(q).await }
    };
    let a = || Scope::Customer(email("a@customer.example"));
    for text in [
        "\"",
        "\"\"",
        "-",
        "--",
        "*",
        "\"printer",
        "printer\"",
        "'",
        "''",
        "\\",
        "(printer",
        "printer)",
        "^printer",
        "printer:*",
        "!printer",
        "printer & offline | spooler",
        "<->",
        "printer <-> offline",
        "{printer offline}",
        "-\"",
        "- \"the\"",
        "\u{0}printer",
        "ü\"ö",
        "\"printer\" * \"offline\"",
        "+printer",
        "printer*offline",
        "title:printer",
        "printer OR nonexistent",
        "NEAR(printer offline)",
        "printer AND NOT offline",
        "-printer -offline",
        "\"-printer\"",
        "prin\"ter off\\line",
    ] {
        for scope in [Scope::Staff, a()] {
            if let Err(e) = search(text, scope.clone()).await {
                panic!("search {text:?} as {scope:?} failed: {e}");
            }
        }
        let listed = b
            .store
            .list_cases(
                CaseFilter {
                    q: Some(text.into()),
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await;
        assert!(listed.is_ok(), "list {text:?}: {listed:?}");
    }
    // what would be an operator to an engine is a word to look for, and none of these words
    // is in the corpus
    for text in [
        "printer OR nonexistent",
        "NEAR(printer offline)",
        "title:nonexistent",
        "printer nonexistent:*",
        "printer | nonexistent",
    ] {
        assert!(
            search(text, Scope::Staff).await.unwrap().is_empty(),
            "{text:?} matched"
        );
    }
}

pub async fn internal_text_is_never_matched_for_a_customer<
    S: CaseLog + Knowledge + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let [printer, ..] = corpus(&b).await;
    b.post(
        printer,
        PostKind::Note,
        "zebracorn internal suspicion",
        Visibility::Internal,
    )
    .await;
    b.run(
        &ana(),
        printer,
        Command::Swarm {
            group: "printing".into(),
            question: "zebracorn seen before?".into(),
        },
    )
    .await;
    b.post(
        printer,
        PostKind::Note,
        "visible giraffe update",
        Visibility::Customer,
    )
    .await;
    let q = |text: &str, scope: Scope| SearchQuery {
        text: text.into(),
        kind: None,
        scope,
        limit: 10,
    };
    let a = Scope::Customer(email("a@customer.example"));
    let other = Scope::Customer(email("b@customer.example"));
    assert_eq!(
        b.store
            .search(q("zebracorn", Scope::Staff))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        b.store
            .search(q("zebracorn", a.clone()))
            .await
            .unwrap()
            .is_empty(),
        "internal text is not matched for the customer"
    );
    assert_eq!(
        b.store.search(q("giraffe", a.clone())).await.unwrap().len(),
        1,
        "customer-visible text is"
    );
    assert!(
        b.store
            .search(q("giraffe", other.clone()))
            .await
            .unwrap()
            .is_empty(),
        "another customer's case does not exist"
    );
    assert!(
        b.store
            .search(q("spooler", other.clone()))
            .await
            .unwrap()
            .iter()
            .all(|h| h.kind != RefKind::Case)
    );
    let defect_hits = b.store.search(q("spooler crash", a.clone())).await.unwrap();
    assert!(
        defect_hits.iter().all(|h| h.kind != RefKind::Defect),
        "defects are internal"
    );
    let similar = b.store.similar(printer, a, 10).await.unwrap();
    assert!(similar.iter().all(|h| h.kind != RefKind::Defect));
    let similar_other = b.store.similar(printer, other, 10).await.unwrap();
    assert!(
        similar_other
            .iter()
            .all(|h| h.kind != RefKind::Case || h.reference != printer.display())
    );
}

pub async fn a_customer_list_query_matches_only_visible_text<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let c = b
        .open("Printer offline", "d", "a@customer.example")
        .await
        .number;
    b.post(c, PostKind::Note, "okapi internal", Visibility::Internal)
        .await;
    let mine = |q: &str| CaseFilter {
        customer: Some(email("a@customer.example")),
        q: Some(q.into()),
        ..Default::default()
    };
    assert!(b.all(mine("okapi")).await.is_empty());
    assert_eq!(
        b.all(CaseFilter {
            q: Some("okapi".into()),
            ..Default::default()
        })
        .await,
        [c.get()]
    );
    assert_eq!(b.all(mine("printer")).await, [c.get()]);
}

pub async fn search_reads_a_whole_case_and_follows_its_edits<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let c = b
        .open("Printer offline", "Office printer", "a@customer.example")
        .await
        .number;
    b.post(
        c,
        PostKind::Note,
        "the tray jammed again",
        Visibility::Customer,
    )
    .await;
    b.post(c, PostKind::Note, "toner suspicion", Visibility::Internal)
        .await;
    let find = |text: &str, scope: Scope| {
        let q = SearchQuery {
            text: text.into(),
            kind: None,
            scope,
            limit: 10,
        };
        let store = b.store.clone();
        async move {
            store
                .search(q)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.reference, h.title))
                .collect::<Vec<_>>()
        }
    };
    let a = || Scope::Customer(email("a@customer.example"));
    let this = vec![(c.display(), "Printer offline".to_string())];
    // every term must be in the case, not in one post of it
    assert_eq!(find("printer jammed", Scope::Staff).await, this);
    assert_eq!(find("offline toner jammed", Scope::Staff).await, this);
    assert_eq!(find("printer jammed", a()).await, this);
    assert!(
        find("printer toner", a()).await.is_empty(),
        "a term only in internal text does not complete a customer's query"
    );
    let list = |q: &str, customer: Option<&str>| CaseFilter {
        q: Some(q.into()),
        customer: customer.map(email),
        ..Default::default()
    };
    assert_eq!(b.all(list("printer jammed", None)).await, [c.get()]);
    assert_eq!(
        b.all(list("printer jammed", Some("a@customer.example")))
            .await,
        [c.get()]
    );
    assert!(
        b.all(list("printer toner", Some("a@customer.example")))
            .await
            .is_empty()
    );
    // an edit of the title or description replaces what they matched
    for (title, description) in [
        ("Scanner offline", "Lobby scanner"),
        ("Scanner stuck", "Lobby"),
    ] {
        b.run(
            &ana(),
            c,
            Command::Edit(CaseEdit {
                title: Some(title.into()),
                description: Some(description.into()),
                ..Default::default()
            }),
        )
        .await;
    }
    assert!(find("printer", Scope::Staff).await.is_empty());
    assert!(find("offline", Scope::Staff).await.is_empty());
    let renamed = vec![(c.display(), "Scanner stuck".to_string())];
    assert_eq!(find("scanner jammed toner", Scope::Staff).await, renamed);
    assert_eq!(find("stuck lobby jammed", a()).await, renamed);
    assert!(find("scanner toner", a()).await.is_empty());
}

pub async fn similar_cases_exclude_the_case_and_respect_scope<
    S: CaseLog + Knowledge + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    let [printer, spooler, login, _export] = corpus(&b).await;
    let hits = b.store.similar(printer, Scope::Staff, 10).await.unwrap();
    assert!(!hits.is_empty());
    assert!(
        hits.iter()
            .all(|h| !(h.kind == RefKind::Case && h.reference == printer.display())),
        "the case itself is excluded"
    );
    assert_eq!(
        (hits[0].kind, hits[0].reference.as_str()),
        (RefKind::Article, "1"),
        "the printer-offline article is the best match: {hits:?}"
    );
    assert!(
        !hits.iter().any(|h| h.reference == login.display()),
        "unrelated cases do not match"
    );
    // a case that repeats its own terms (emails, notes) does not make them look common
    for _ in 0..6 {
        b.post(
            printer,
            PostKind::Note,
            "printer offline after the driver update, office printer still offline",
            Visibility::Customer,
        )
        .await;
    }
    let hits = b.store.similar(printer, Scope::Staff, 10).await.unwrap();
    assert_eq!(
        hits.first().map(|h| (h.kind, h.reference.as_str())),
        Some((RefKind::Article, "1")),
        "{hits:?}"
    );
    // the case summary feeds the query too
    let vague = b
        .open("Question", "Customer question", "a@customer.example")
        .await
        .number;
    let before = b.store.similar(vague, Scope::Staff, 10).await.unwrap();
    assert!(
        !before.iter().any(|h| h.reference == spooler.display()),
        "{before:?}"
    );
    b.post(
        vague,
        PostKind::Summary,
        "Root cause was the spooler crashing on PDF files",
        Visibility::Internal,
    )
    .await;
    let hits = b.store.similar(vague, Scope::Staff, 10).await.unwrap();
    assert!(
        hits.iter().any(|h| h.reference == spooler.display()),
        "{hits:?}"
    );
    assert_eq!(
        b.store
            .similar(printer, Scope::Staff, 1)
            .await
            .unwrap()
            .len(),
        1,
        "limit holds"
    );
}

pub async fn similar_cases_of_an_unknown_case_are_not_found<
    S: CaseLog + CaseQueries + ?Sized + 'static,
>(
    store: Arc<S>,
) {
    let b = desk(store);
    b.open("Printer offline", "d", "a@customer.example").await;
    let n = CaseNumber::new(424_242).unwrap();
    let similar = b.store.similar(n, Scope::Staff, 5).await;
    assert!(
        matches!(similar, Err(StoreError::NotFound(_))),
        "{similar:?}"
    );
}

pub async fn a_failed_commit_indexes_nothing<S: CaseLog + CaseQueries + ?Sized + 'static>(
    store: Arc<S>,
) {
    let b = desk(store);
    let (_, _, commit) = a_failing_commit(&b).await;
    assert!(b.store.commit(commit).await.is_err());
    let hits = b
        .store
        .search(SearchQuery {
            text: "must not appear".into(),
            kind: None,
            scope: Scope::Staff,
            limit: 5,
        })
        .await
        .unwrap();
    assert!(hits.is_empty(), "nothing of a failed commit is indexed");
    let listed = b
        .all(CaseFilter {
            q: Some("must not appear".into()),
            ..Default::default()
        })
        .await;
    assert!(listed.is_empty(), "nor matched by a list's q");
}
