//! The query syntax of search and of the case list's `q`, parsed once here for every store:
//! words (every one must match), `"quoted phrases"` (words next to each other, in order),
//! `-word` and `-"a phrase"` (documents holding them are left out), and the last word of a
//! query typed as a prefix (`publ` finds "publishing") for type-ahead.
//!
//! A parsed query holds only words made by [`crate::text::terms`] (letters and digits), so
//! whatever a user types, a store can quote every word to its engine and no operator of
//! the engine's own syntax can get through.

use crate::text::{is_stopword, normalize, terms};

/// The shortest last word that is matched as a prefix: shorter ones would expand to a large
/// part of the vocabulary (and are matched as whole words instead).
pub const MIN_PREFIX: usize = 3;

/// Most clauses (words, phrases, exclusions) a query keeps; the rest are ignored, so a
/// query's cost stays bounded whatever its length.
pub const MAX_CLAUSES: usize = 16;

/// Most words a phrase keeps.
pub const MAX_PHRASE_WORDS: usize = 16;

/// The bound that keeps a query's cost to its page rather than to its matches, the same in
/// every store (docs/architecture.md, "Search at scale"):
///
/// - a clause matched by at most this many index rows (passages) is *rare*: its matches are
///   read whole, and it ranks; one matched by more is *common*: it is checked per candidate
///   document, and filters without ranking;
/// - search ranks only the documents of the rarest clause's newest `CANDIDATES` matching
///   rows, so a query of common words ranks a bounded set of recent documents;
/// - the case list reads a clause's matches whole when there are at most [`LIST_WHOLE`] of
///   them, and with only clauses matched more often walks the cases in the page's order,
///   checking each, until the page is full.
pub const CANDIDATES: u64 = 2_000;

/// The case list's bound (see [`CANDIDATES`]): a clause matched by at most this many index
/// rows is read whole, which costs about as much as walking the cases while checking a word
/// found in a few percent of them (each check is a lookup per passage of the case).
pub const LIST_WHOLE: u64 = 20_000;

/// How many matches read whole cost as much as one check of a case while the list walks
/// the cases, per word the clause stands for (a typed prefix is an `OR` of up to 16 words,
/// each looked up per check). Measured on SQLite at 1M cases: a check took ~675 µs (a lookup
/// of each of the case's passages in each index segment), a match read whole ~3 µs.
pub const LIST_CHECK_COST: u64 = 200;

/// The list never reads more matches whole than this, whatever the walk would cost: it
/// keeps a query's memory to a few MiB of case numbers.
pub const LIST_WHOLE_MAX: u64 = 200_000;

/// Most matches of a clause standing for `words` words that the case list reads whole, in
/// a store of `cases` cases, for a page of `limit`: where reading them (a cost per match)
/// stops being cheaper than walking the cases in the page's order, checking each. A walk
/// checks about `(limit + 1) × cases / matches` cases, each at [`LIST_CHECK_COST`] per word,
/// so the two meet at `√(LIST_CHECK_COST × (limit + 1) × cases × words)`; never under
/// [`LIST_WHOLE`], never over [`LIST_WHOLE_MAX`].
pub fn list_whole_bound(cases: u64, limit: u32, words: u64) -> u64 {
    let walk = LIST_CHECK_COST
        .saturating_mul(u64::from(limit) + 1)
        .saturating_mul(cases)
        .saturating_mul(words.max(1));
    walk.isqrt().clamp(LIST_WHOLE, LIST_WHOLE_MAX)
}

/// One thing a document must (or, excluded, must not) hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Clause {
    /// A whole word, lower-case.
    Word(String),
    /// A word beginning with this.
    Prefix(String),
    /// These words next to each other, in this order (at least two).
    Phrase(Vec<String>),
}

impl Clause {
    /// The clause with each word as an index keeps it ([`crate::text::normalize`]).
    pub fn normalized(&self) -> Clause {
        match self {
            Clause::Word(w) => Clause::Word(normalize(w)),
            Clause::Prefix(w) => Clause::Prefix(normalize(w)),
            Clause::Phrase(ws) => Clause::Phrase(ws.iter().map(|w| normalize(w)).collect()),
        }
    }

    /// The clause's words, in order.
    pub fn words(&self) -> &[String] {
        match self {
            Clause::Word(w) | Clause::Prefix(w) => std::slice::from_ref(w),
            Clause::Phrase(ws) => ws,
        }
    }
}

/// A parsed query: what a document must hold, and what it must not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Every one must match, in some passage of the document the reader may see.
    pub required: Vec<Clause>,
    /// None may match in any passage the reader may see.
    pub excluded: Vec<Clause>,
}

impl Query {
    /// Whether the query can match nothing: it has no required clause (stop words and
    /// exclusions alone find nothing).
    pub fn is_empty(&self) -> bool {
        self.required.is_empty()
    }

    /// The query with every word as an index keeps it ([`crate::text::normalize`]), for
    /// stores that index normalized words themselves.
    pub fn normalized(&self) -> Query {
        Query {
            required: self.required.iter().map(Clause::normalized).collect(),
            excluded: self.excluded.iter().map(Clause::normalized).collect(),
        }
    }

    /// A query of whole words that must all match (as similar-case queries are built).
    pub fn words(words: &[String]) -> Query {
        Query {
            required: words.iter().cloned().map(Clause::Word).collect(),
            excluded: Vec::new(),
        }
    }
}

/// Parses what a user typed. Never fails: text that is not syntax is words, and an
/// unterminated quote runs to the end.
pub fn parse(text: &str) -> Query {
    let mut q = Query::default();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let negated = rest.starts_with('-');
        if negated {
            rest = &rest[1..];
        }
        let (clauses, after): (Vec<Clause>, &str) = if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"').unwrap_or(inner.len());
            let words: Vec<String> = terms(&inner[..end]).take(MAX_PHRASE_WORDS).collect();
            let after = inner.get(end + 1..).unwrap_or("");
            let clause = match words.len() {
                0 => Vec::new(),
                1 => words
                    .into_iter()
                    .filter(|w| !is_stopword(w))
                    .map(Clause::Word)
                    .collect(),
                _ => vec![Clause::Phrase(words)],
            };
            (clause, after)
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let words: Vec<String> = terms(&rest[..end]).collect();
            // the last word of the query, as typed so far, is a prefix
            let typing = end == rest.len() && !negated && text.ends_with(char::is_alphanumeric);
            let last = words.len().saturating_sub(1);
            let clauses = words
                .into_iter()
                .enumerate()
                .filter(|(_, w)| !is_stopword(w))
                .map(|(i, w)| {
                    if typing && i == last && w.chars().count() >= MIN_PREFIX {
                        Clause::Prefix(w)
                    } else {
                        Clause::Word(w)
                    }
                })
                .collect();
            (clauses, &rest[end..])
        };
        for c in clauses {
            if q.required.len() + q.excluded.len() >= MAX_CLAUSES {
                break;
            }
            let target = if negated {
                &mut q.excluded
            } else {
                &mut q.required
            };
            if !target.contains(&c) {
                target.push(c);
            }
        }
        rest = after;
    }
    q
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_list_reads_whole_what_a_walk_would_check_longer_for() {
        // the 1M-case benchmark's words, a page of 25
        let bound = |words| list_whole_bound(1_000_000, 25, words);
        assert!(30_149 <= bound(1), "mitercor (3% of cases) is read whole");
        assert!(
            35_856 <= bound(16),
            "the 16 words of the prefix baba are read whole"
        );
        assert!(487_686 > bound(1), "timeout (in 40% of cases) is walked");
        assert!(
            bound(16) > bound(1),
            "a prefix's walk checks each of its words"
        );
        // small stores and pages keep the old bound; big pages never read everything
        assert_eq!(list_whole_bound(20_100, 3, 1), LIST_WHOLE);
        assert_eq!(list_whole_bound(0, 0, 0), LIST_WHOLE);
        assert_eq!(list_whole_bound(10_000_000, 500, 16), LIST_WHOLE_MAX);
        assert_eq!(
            list_whole_bound(u64::MAX, u32::MAX, u64::MAX),
            LIST_WHOLE_MAX
        );
    }
    use super::*;
    use proptest::prelude::*;

    fn w(s: &str) -> Clause {
        Clause::Word(s.into())
    }

    fn phrase(s: &str) -> Clause {
        Clause::Phrase(s.split(' ').map(String::from).collect())
    }

    #[test]
    fn phrases_exclusions_and_a_last_word_prefix() {
        let q = parse(r#""map service" -timeout publ"#);
        assert_eq!(
            q.required,
            [phrase("map service"), Clause::Prefix("publ".into())]
        );
        assert_eq!(q.excluded, [w("timeout")]);
        // a phrase keeps its stop words; bare stop words are dropped
        let q = parse(r#"the "map of the world" -"out of memory" crash "#);
        assert_eq!(q.required, [phrase("map of the world"), w("crash")]);
        assert_eq!(q.excluded, [phrase("out of memory")]);
    }

    #[test]
    fn the_prefix_is_only_the_last_word_as_typed() {
        assert_eq!(
            parse("printer off").required,
            [w("printer"), Clause::Prefix("off".into())]
        );
        // a space, a quote or punctuation after it ends the word
        assert_eq!(parse("printer off ").required, [w("printer"), w("off")]);
        assert_eq!(parse("printer off.").required, [w("printer"), w("off")]);
        assert_eq!(parse(r#""printer off""#).required, [phrase("printer off")]);
        // too short to expand, excluded, or a stop word: a whole word (or nothing)
        assert_eq!(parse("printer of").required, [w("printer")]);
        assert_eq!(parse("printer 42").required, [w("printer"), w("42")]);
        assert_eq!(parse("printer -offl").excluded, [w("offl")]);
        // a hyphenated last word: its last part is the prefix
        assert_eq!(
            parse("sign-up").required,
            [w("sign")],
            "\"up\" is a stop word"
        );
        assert_eq!(
            parse("log-ins").required,
            [w("log"), Clause::Prefix("ins".into())]
        );
    }

    #[test]
    fn broken_syntax_is_words() {
        // an unterminated quote runs to the end; a lone or doubled dash is nothing
        assert_eq!(
            parse(r#"crash "map service"#).required,
            [w("crash"), phrase("map service")]
        );
        assert_eq!(
            parse("- -- crash").required,
            [Clause::Prefix("crash".into())]
        );
        assert_eq!(parse("--crash").excluded, [w("crash")]);
        assert_eq!(parse(r#"a"b c"d"#).required, [w("b"), w("c"), w("d")]);
        assert!(parse(r#""" - "the" -"#).is_empty());
        assert!(
            parse("-timeout").is_empty(),
            "exclusions alone find nothing"
        );
        // a one-word phrase is a word; repeats are kept once
        assert_eq!(parse(r#""crash" crash crash."#).required, [w("crash")]);
    }

    #[test]
    fn clauses_and_phrases_are_bounded() {
        let long: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(parse(&long).required.len(), MAX_CLAUSES);
        let q = parse(&format!("\"{long}\""));
        assert_eq!(q.required[0].words().len(), MAX_PHRASE_WORDS);
    }

    proptest! {
        /// Whatever is typed, a parsed query holds only words of letters and digits (so a
        /// store quoting each word leaves no syntax to its engine), within the bounds.
        #[test]
        fn any_text_parses_to_plain_words(text in "[\\PC\"*^:()+{}\\-]{0,60}") {
            let q = parse(&text);
            prop_assert!(q.required.len() + q.excluded.len() <= MAX_CLAUSES);
            for c in q.required.iter().chain(&q.excluded) {
                prop_assert!(!c.words().is_empty() && c.words().len() <= MAX_PHRASE_WORDS);
                for word in c.words() {
                    prop_assert!(!word.is_empty());
                    prop_assert!(word.chars().all(char::is_alphanumeric), "{word:?}");
                    prop_assert!(word.chars().count() <= crate::limits::MAX_TERM);
                }
            }
        }
    }
}
