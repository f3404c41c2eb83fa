//! Text for PostgreSQL's full-text search, made with core's own term rules
//! (`casework_core::text`) rather than a PostgreSQL parser or dictionary, so a term means
//! the same here as in every other store: `tsvector` and `tsquery` literals of lower-case
//! terms, stemmed and with diacritics folded (`text::normalize`), stop words kept in
//! documents and dropped from queries.

use std::collections::BTreeMap;
use std::fmt::Write;

use casework_core::query::Clause;
use casework_core::text::normalize;

/// Which lexemes a query looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lexemes {
    /// Words as the index keeps them (normalized).
    Normalized,
    /// Each word normalized or as typed: while rows written before stemming (schema v3)
    /// are being reindexed, so they match too.
    NormalizedOrSurface,
}

/// How much a piece of text counts when ranking: titles above bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// A title (`A`).
    Title,
    /// Anything else (`D`, the default).
    Body,
}

/// PostgreSQL keeps positions up to this.
const MAX_POSITION: u32 = 16_383;
/// PostgreSQL keeps at most this many positions per term.
const MAX_POSITIONS_PER_TERM: usize = 255;
/// The lexemes of one tsvector may not exceed 1 MiB; new terms beyond this are left out
/// (the text itself is kept in full in the event log).
const MAX_LEXEME_BYTES: usize = 900_000;

/// A `tsvector` literal of some texts, positions counted across them.
pub fn tsvector(parts: &[(&str, Weight)]) -> String {
    let mut terms: BTreeMap<String, Vec<(u32, Weight)>> = BTreeMap::new();
    let mut position = 0u32;
    let mut bytes = 0usize;
    for (text, weight) in parts {
        for term in casework_core::text::terms(text).map(|t| normalize(&t)) {
            position = (position + 1).min(MAX_POSITION);
            if let Some(positions) = terms.get_mut(&term) {
                if positions.len() < MAX_POSITIONS_PER_TERM
                    && positions.last().is_none_or(|(p, _)| *p < position)
                {
                    positions.push((position, *weight));
                }
            } else if bytes + term.len() <= MAX_LEXEME_BYTES {
                bytes += term.len();
                terms.insert(term, vec![(position, *weight)]);
            }
        }
    }
    let mut out = String::new();
    for (term, positions) in terms {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&quote(&term));
        out.push(':');
        for (i, (p, w)) in positions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{p}");
            if *w == Weight::Title {
                out.push('A');
            }
        }
    }
    out
}

/// A `tsquery` literal: the clauses (as typed) joined by `&` (every one) or `|` (any).
/// Every word is a quoted, normalized lexeme (or a choice of it and the word as typed); a
/// prefix adds `:*`, a phrase joins its words with `<->`.
pub fn tsquery(clauses: &[Clause], all: bool, lexemes: Lexemes) -> String {
    let word = |w: &str, suffix: &str| {
        let n = normalize(w);
        if lexemes == Lexemes::NormalizedOrSurface && n != w {
            format!("({}{suffix} | {}{suffix})", quote(&n), quote(w))
        } else {
            format!("{}{suffix}", quote(&n))
        }
    };
    let joiner = if all { " & " } else { " | " };
    clauses
        .iter()
        .map(|c| match c {
            Clause::Word(w) => word(w, ""),
            Clause::Prefix(w) => word(w, ":*"),
            Clause::Phrase(ws) => format!(
                "({})",
                ws.iter()
                    .map(|w| word(w, ""))
                    .collect::<Vec<_>>()
                    .join(" <-> ")
            ),
        })
        .collect::<Vec<_>>()
        .join(joiner)
}

/// A `tsquery` literal of whole words.
pub fn tsquery_words(words: &[String], all: bool, lexemes: Lexemes) -> String {
    tsquery(
        &casework_core::query::Query::words(words).required,
        all,
        lexemes,
    )
}

/// A lexeme in single quotes, with quotes and backslashes escaped.
fn quote(term: &str) -> String {
    format!("'{}'", term.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_carry_core_terms_positions_and_title_weights() {
        let v = tsvector(&[
            ("Printer offline", Weight::Title),
            ("the printer, since Update-3", Weight::Body),
        ]);
        assert_eq!(
            v,
            "'3':7 'offlin':2A 'printer':1A,4 'sinc':5 'the':3 'updat':6"
        );
        assert_eq!(tsvector(&[]), "");
    }

    #[test]
    fn queries_quote_every_term() {
        assert_eq!(quote("o'k\\"), r"'o''k\\'");
        let t = vec!["printer".to_string(), "jammed".to_string()];
        let n = Lexemes::Normalized;
        assert_eq!(tsquery_words(&t, true, n), "'printer' & 'jam'");
        assert_eq!(tsquery_words(&t, false, n), "'printer' | 'jam'");
        let clauses = [
            Clause::Phrase(vec!["map".into(), "services".into()]),
            Clause::Prefix("publ".into()),
        ];
        assert_eq!(
            tsquery(&clauses, true, n),
            "('map' <-> 'servic') & 'publ':*"
        );
        // while old rows are reindexed, a word that stems differently is looked for both ways
        assert_eq!(
            tsquery(&clauses, true, Lexemes::NormalizedOrSurface),
            "('map' <-> ('servic' | 'services')) & 'publ':*"
        );
    }

    #[test]
    fn positions_and_repeats_are_bounded() {
        let long = "word ".repeat(20_000);
        let v = tsvector(&[(&long, Weight::Body)]);
        assert_eq!(v.matches(',').count(), MAX_POSITIONS_PER_TERM - 1);
        let many: String = (0..20_000).map(|i| format!("w{i} ")).collect();
        let v = tsvector(&[(&many, Weight::Body)]);
        assert!(!v.contains(&format!(":{}", MAX_POSITION + 1)));
    }
}
