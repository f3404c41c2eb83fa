//! The judged relevance set: a small support corpus and the queries an agent would type,
//! each with the cases that must be on the first page of its results (and those that must
//! never match). Every store runs it (`case_queries::search_finds_the_judged_set`), so a
//! change of tokenizer, query syntax or ordering that loses one of them fails CI.
//!
//! The corpus mixes a dozen cases about distinct problems with many near-duplicate "noise"
//! cases that share the common words of support text (error, timeout, service, request), so
//! a judged case has to be ranked, not merely matched, onto the first page.

/// A judged case: title and description.
pub type JudgedCase = (&'static str, &'static str);

/// The cases that are judged, in the order they are opened (a judgment names them by index).
pub const CASES: &[JudgedCase] = &[
    // 0
    (
        "Map service times out when publishing",
        "Publishing the parcels map service to the server fails with a timeout after 60 seconds.",
    ),
    // 1
    (
        "Cannot publish map service",
        "The publish wizard stops with error 00090 for the zoning map service.",
    ),
    // 2
    (
        "Geocoding service slow",
        "Batch geocoding of 50,000 addresses takes hours instead of minutes.",
    ),
    // 3
    (
        "Müller projection shifts layers",
        "With the Müller custom projection every layer is shifted by about 200 metres.",
    ),
    // 4
    (
        "Login loop on portal",
        "Users are sent back to the sign-in page after entering the password.",
    ),
    // 5
    (
        "Printer offline after driver update",
        "The plotter in room 4 shows offline since the driver update.",
    ),
    // 6
    (
        "Feature service edits lost",
        "Edits made offline are lost when the field crew syncs the feature service.",
    ),
    // 7
    (
        "Raster tiles render blank",
        "Cached raster tiles show blank at scales below 1:5000.",
    ),
    // 8
    (
        "License expired error on startup",
        "The desktop application reports a license expired error although it was renewed.",
    ),
    // 9
    (
        "Timeout connecting to database",
        "The enterprise geodatabase connection times out since the firewall change.",
    ),
    // 10
    (
        "Web map published without layers",
        "A web map published yesterday lost two of its layers.",
    ),
    // 11
    (
        "Python script fails with memory error",
        "The nightly Python script runs out of memory on large rasters.",
    ),
];

/// How many noise cases are opened after the judged ones.
pub const NOISE: usize = 40;

/// The title and description of noise case `i`: common support words, nothing judged.
pub fn noise(i: usize) -> (String, String) {
    (
        format!("Request {i} error"),
        format!(
            "Customer reports an error and a timeout on request {i}; \
             the service was restarted and the error came back."
        ),
    )
}

/// One judged query.
#[derive(Debug, Clone, Copy)]
pub struct Judgment {
    /// What the agent types.
    pub query: &'static str,
    /// Cases (indices into [`CASES`]) that must be on the first page.
    pub first_page: &'static [usize],
    /// Cases that must not match at all.
    pub never: &'static [usize],
}

/// The size of the first page a judgment is checked on.
pub const PAGE: u32 = 5;

/// The judged queries.
pub const JUDGMENTS: &[Judgment] = &[
    Judgment {
        query: "geocoding",
        first_page: &[2],
        never: &[0, 1],
    },
    Judgment {
        query: "map service timeout",
        first_page: &[0],
        never: &[1, 2],
    },
    Judgment {
        query: "license expired",
        first_page: &[8],
        never: &[],
    },
    Judgment {
        query: "raster tiles blank",
        first_page: &[7],
        never: &[11],
    },
    Judgment {
        query: "login password",
        first_page: &[4],
        never: &[],
    },
    Judgment {
        query: "feature service offline",
        first_page: &[6],
        never: &[5],
    },
    Judgment {
        query: "database timeout",
        first_page: &[9],
        never: &[],
    },
    Judgment {
        query: "memory error python",
        first_page: &[11],
        never: &[8],
    },
    Judgment {
        query: "Printer OFFLINE",
        first_page: &[5],
        never: &[6],
    },
    // the query syntax: phrases, exclusions, the last word as a prefix
    Judgment {
        query: "\"map service\" -timeout",
        first_page: &[1],
        never: &[0, 2],
    },
    Judgment {
        query: "\"web map\"",
        first_page: &[10],
        never: &[0, 1],
    },
    Judgment {
        query: "geoc",
        first_page: &[2],
        never: &[],
    },
    Judgment {
        query: "offline -plotter",
        first_page: &[6],
        never: &[5],
    },
    Judgment {
        query: "\"login loop\" port",
        first_page: &[4],
        never: &[],
    },
    // stemming and folded diacritics: every form of a word meets
    Judgment {
        query: "publish ",
        first_page: &[0, 1, 10],
        never: &[2],
    },
    Judgment {
        query: "muller ",
        first_page: &[3],
        never: &[],
    },
    Judgment {
        query: "renew license",
        first_page: &[8],
        never: &[],
    },
    Judgment {
        query: "field crew sync ",
        first_page: &[6],
        never: &[],
    },
    Judgment {
        query: "layer shifted",
        first_page: &[3],
        never: &[10],
    },
];
