//! Text rules shared by every store: how text splits into search terms, and which terms of a
//! case make a good "similar cases" query.

use crate::limits::MAX_TERM;

/// Words too common in support text to say anything about a case.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have",
    "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not",
    "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "to", "up", "us", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "will", "with", "would", "you", "your",
];

/// Whether a (lower-case) word is a stop word.
pub fn is_stopword(term: &str) -> bool {
    STOPWORDS.binary_search(&term).is_ok()
}

/// Splits text into lower-case search terms: runs of letters and digits, at most 64
/// characters each. Stop words are kept here (phrase search may need them); query
/// builders drop them with [`is_stopword`].
pub fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .take(MAX_TERM)
                .flat_map(char::to_lowercase)
                .collect()
        })
}

/// A word as an index keeps it, in the stores that build their index with core's rules
/// (memory, PostgreSQL): diacritics folded (`müller` finds `Muller`) and stemmed for English
/// with the Snowball English stemmer (`publish`, `published` and `publishing` meet as
/// `publish`). SQLite's FTS5 does the same with its `porter unicode61 remove_diacritics 2`
/// tokenizer (the original Porter stemmer, which agrees with this one on common support
/// words: the judged relevance set checks both).
pub fn normalize(word: &str) -> String {
    STEMMER.stem(&fold(word)).into_owned()
}

/// A word with its diacritics folded (`müller` to `muller`), not stemmed: as a prefix is
/// looked up among an index's words.
pub fn fold(word: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    word.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .collect()
}

static STEMMER: std::sync::LazyLock<rust_stemmers::Stemmer> =
    std::sync::LazyLock::new(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));

/// The distinct, non-stop-word terms of a query, in first-seen order.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in terms(text) {
        if !is_stopword(&t) && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// A term is "common" when more documents than this hold it: about 1% of them, but never
/// fewer than three, so small collections still give useful queries.
pub fn common_term_threshold(total_documents: u64) -> u64 {
    (total_documents / 100).max(3)
}

/// Most terms a similar-cases query uses.
pub const MAX_SIMILAR_TERMS: usize = 12;

/// Most postings (summed document frequencies) a similar-cases query may touch. The rarest
/// terms are the most telling, so terms are taken rarest first until this budget is spent,
/// and a term that alone would overspend it is never taken: the query's cost (a bm25 score
/// per matching passage, ~10 µs each at 1M cases) stays bounded whatever the data, and a
/// case whose every word is held by more documents than this has no similar cases. At 5,000
/// a request scored up to 3,400 passages and took 96-123 ms p95 at 1M cases.
pub const SIMILAR_POSTINGS_BUDGET: u64 = 2_000;

/// Up to how many documents a store needs to count a term's documents for
/// [`similar_terms`]: a term held by this many or more is never chosen (it is common, or
/// alone it would overspend [`SIMILAR_POSTINGS_BUDGET`]), so every count at or above it
/// chooses the same terms. Counting stops here: a common word's whole index is never walked
/// (at 1M cases a first request counting every match of a case's words took 10 s).
pub fn similar_count_cap(total_documents: u64) -> u64 {
    common_term_threshold(total_documents)
        .min(SIMILAR_POSTINGS_BUDGET)
        .saturating_add(1)
}

/// Picks the terms of a case (its title, description and summary) to look for similar
/// cases with: distinct non-stop-word terms, minus the common ones, rarest first, within
/// [`MAX_SIMILAR_TERMS`] and [`SIMILAR_POSTINGS_BUDGET`].
///
/// `doc_freq` tells how many documents hold a term; stores answer it from their index.
pub fn similar_terms<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    mut doc_freq: impl FnMut(&str) -> u64,
    total_documents: u64,
) -> Vec<String> {
    let threshold = common_term_threshold(total_documents);
    let mut seen: Vec<String> = Vec::new();
    for text in texts {
        for t in query_terms(text) {
            if t.chars().count() >= 2 && !seen.contains(&t) {
                seen.push(t);
            }
        }
    }
    let mut scored: Vec<(u64, usize, String)> = seen
        .into_iter()
        .enumerate()
        .map(|(i, t)| (doc_freq(&t), i, t))
        .filter(|(df, _, _)| *df <= threshold)
        .collect();
    scored.sort();
    let mut spent = 0u64;
    let mut out = Vec::new();
    for (df, _, t) in scored {
        if out.len() >= MAX_SIMILAR_TERMS || spent.saturating_add(df) > SIMILAR_POSTINGS_BUDGET {
            break;
        }
        spent = spent.saturating_add(df);
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        let mut sorted = STOPWORDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, STOPWORDS);
    }

    #[test]
    fn terms_split_on_punctuation_and_lowercase_unicode() {
        let t: Vec<String> = terms("Printer OFFLINE, after Update-3.2; Zürich café").collect();
        assert_eq!(
            t,
            [
                "printer", "offline", "after", "update", "3", "2", "zürich", "café"
            ]
        );
        assert_eq!(query_terms("the printer is the printer"), ["printer"]);
        assert_eq!(terms(&"x".repeat(100)).next().unwrap().len(), 64);
    }

    #[test]
    fn normalizing_stems_english_and_folds_diacritics() {
        for w in ["publish", "published", "publishing", "publishes"] {
            assert_eq!(normalize(w), "publish", "{w}");
        }
        assert_eq!(normalize("müller"), normalize("muller"));
        assert_eq!(normalize("café"), "cafe");
        assert_eq!(normalize("zürich"), "zurich");
        assert_eq!(normalize("42"), "42");
        assert_ne!(
            normalize("printer"),
            normalize("print"),
            "a printer is not printing"
        );
    }

    #[test]
    fn similar_terms_drop_common_words_and_keep_rare_first() {
        let df = |t: &str| match t {
            "printer" => 500,
            "offline" => 4,
            "spooler" => 1,
            _ => 2,
        };
        let got = similar_terms(["Printer offline", "the spooler crashed"], df, 1000);
        // threshold is 10 for 1000 documents: "printer" is common and dropped
        assert_eq!(got, ["spooler", "crashed", "offline"]);
        assert_eq!(common_term_threshold(10), 3);
        // the postings budget stops at the first term that would overspend it
        let big = |t: &str| match t {
            "a1" => 1_500,
            "b2" => 1_000,
            _ => 1,
        };
        let got = similar_terms(["a1 b2 c3"], big, 10_000_000);
        assert_eq!(
            got,
            ["c3", "b2"],
            "c3 (1) + b2 (1000) fit; a1 would overspend"
        );
        let got = similar_terms(["b2"], |_| SIMILAR_POSTINGS_BUDGET + 1, 10_000_000);
        assert!(
            got.is_empty(),
            "a term alone over the budget is never taken"
        );
        let got = similar_terms(["b2"], |_| SIMILAR_POSTINGS_BUDGET, 10_000_000);
        assert_eq!(got, ["b2"]);
        assert_eq!(common_term_threshold(1_000_000), 10_000);
    }

    #[test]
    fn the_count_cap_is_where_a_term_stops_being_chosen() {
        assert_eq!(similar_count_cap(1_000_000), SIMILAR_POSTINGS_BUDGET + 1);
        assert_eq!(similar_count_cap(50_000), 501);
        assert_eq!(similar_count_cap(0), 4);
    }

    proptest::proptest! {
        /// Counting each term's documents only up to the cap chooses the same terms as
        /// counting them all, whatever the frequencies and the collection's size.
        #[test]
        fn counting_up_to_the_cap_chooses_the_same_terms(
            dfs in proptest::collection::vec(0u64..30_000, 1..30),
            total in 0u64..3_000_000,
        ) {
            let words: Vec<String> = (0..dfs.len()).map(|i| format!("w{i}")).collect();
            let text = words.join(" ");
            let df = |t: &str| {
                t.strip_prefix('w')
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| dfs.get(i).copied())
                    .unwrap_or(u64::MAX)
            };
            let cap = similar_count_cap(total);
            let exact = similar_terms([text.as_str()], df, total);
            let capped = similar_terms([text.as_str()], |t| df(t).min(cap), total);
            proptest::prop_assert_eq!(exact, capped);
        }
    }
}
