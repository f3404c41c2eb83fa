//! A deterministic generator of realistic synthetic cases: Zipf-distributed vocabulary,
//! owners, product areas and resolutions, a lifecycle of calls, notes and summaries, closes,
//! and a reopen history. Histories are built as events and checked by replay.

use casework_core::event::{Event, EventKind, replay};
use casework_core::ids::{CaseNumber, EmailAddress, StatusName};
use casework_core::model::{
    CloseMode, Customer, Field, Origin, PostKind, Priority, Resolution, StatusCategory, Visibility,
};
use jiff::{SignedDuration, Timestamp};

/// SplitMix64: small, fast, good enough for synthetic data, and reproducible from a seed.
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Draws ranks 0..n with probability proportional to 1 / (rank + 1)^s.
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A Zipf distribution over `n` ranks with exponent `s`.
    pub fn new(n: usize, s: f64) -> Self {
        let mut cumulative = Vec::with_capacity(n);
        let mut total = 0.0;
        for k in 0..n {
            total += 1.0 / ((k + 1) as f64).powf(s);
            cumulative.push(total);
        }
        for c in &mut cumulative {
            *c /= total;
        }
        Self { cumulative }
    }

    /// A rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
        self.cumulative
            .partition_point(|&c| c < u)
            .min(self.cumulative.len() - 1)
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ter", "zan", "pro", "vel", "dor", "quin", "ra", "sel", "tu", "bra", "nix",
    "po", "gar", "fen", "ul", "sto", "mek", "ri", "da", "vo", "lin", "shi", "ba", "cor", "eth",
];

const SUPPORT_WORDS: &[&str] = &[
    "error",
    "fails",
    "publish",
    "service",
    "map",
    "server",
    "login",
    "export",
    "printer",
    "offline",
    "slow",
    "crash",
    "update",
    "license",
    "sync",
    "timeout",
    "upload",
    "layer",
    "query",
    "database",
    "connection",
    "certificate",
    "proxy",
    "install",
    "upgrade",
    "report",
];

/// The generator's fixed parameters.
pub struct Generator {
    words: Vec<String>,
    vocab: Zipf,
    owners: Zipf,
    areas: Zipf,
    resolutions: Zipf,
    start: Timestamp,
    new: StatusName,
    closed: StatusName,
    customer_emails: Vec<EmailAddress>,
}

const AREAS: &[&str] = &[
    "Publishing",
    "Data Management",
    "Mapping",
    "Geocoding",
    "Licensing",
    "Installation",
    "Security",
    "Performance",
    "Printing",
    "Exporting",
    "Editing",
    "Sharing",
    "Analysis",
    "Imagery",
    "Networking",
    "Mobile",
    "Portal",
    "Server Admin",
    "Routing",
    "Other",
];
const RESOLUTIONS: &[&str] = &[
    "Configuration",
    "Documentation",
    "Defect",
    "Training",
    "Workaround",
    "Data",
    "Upgrade",
    "Environment",
    "Duplicate",
    "No fix",
];

impl Generator {
    /// The standard generator: a 20,000-word Zipf vocabulary.
    pub fn new() -> anyhow::Result<Self> {
        let mut words: Vec<String> = SUPPORT_WORDS.iter().map(|w| w.to_string()).collect();
        let mut rng = Rng::new(7);
        while words.len() < 20_000 {
            let n = 2 + rng.below(3) as usize;
            let w: String = (0..n)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len() as u64) as usize])
                .collect();
            if !words.contains(&w) {
                words.push(w);
            }
        }
        let customer_emails = (0..50_000)
            .map(|i| format!("c{i}@customer.example").parse())
            .collect::<Result<Vec<EmailAddress>, _>>()?;
        Ok(Self {
            vocab: Zipf::new(words.len(), 1.07),
            words,
            owners: Zipf::new(50, 0.8),
            areas: Zipf::new(AREAS.len(), 0.9),
            resolutions: Zipf::new(RESOLUTIONS.len(), 1.0),
            start: Timestamp::constant(1_735_689_600, 0), // 2025-01-01
            new: "New".parse()?,
            closed: "Closed".parse()?,
            customer_emails,
        })
    }

    /// `min` to `max` words from the Zipf vocabulary.
    pub fn text(&self, rng: &mut Rng, min: u64, max: u64) -> String {
        let n = min + rng.below(max - min + 1);
        (0..n)
            .map(|_| self.words[self.vocab.sample(rng)].as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The full history of case `number`.
    pub fn case(&self, number: u64, rng: &mut Rng) -> Vec<Event> {
        let Some(case_number) = CaseNumber::new(number) else {
            return Vec::new();
        };
        let mut at = self.start + SignedDuration::from_secs((number as i64 * 31) % (365 * 86_400));
        let mut events = Vec::new();
        let owner = format!("agent{:02}", self.owners.sample(rng));
        let mut push = |at: Timestamp, actor: &str, kind: EventKind| {
            let seq = events.len() as u64 + 1;
            events.push(Event {
                case: case_number,
                seq,
                at,
                actor: actor.to_string(),
                kind,
            });
        };
        push(
            at,
            &owner,
            EventKind::Opened {
                title: self.text(rng, 4, 8),
                description: self.text(rng, 15, 40),
                origin: [Origin::Phone, Origin::Email, Origin::Web, Origin::Chat]
                    [rng.below(4) as usize],
                priority: [
                    Priority::Low,
                    Priority::Medium,
                    Priority::High,
                    Priority::Urgent,
                ][rng.below(4) as usize],
                customer: Customer {
                    name: format!("Customer {}", number % 50_000),
                    email: self.customer_emails[(number % 50_000) as usize].clone(),
                    phone: None,
                    account: None,
                },
                product: None,
                product_version: None,
                status: self.new.clone(),
                category: StatusCategory::Open,
            },
        );
        at += SignedDuration::from_mins(30);
        push(
            at,
            &owner,
            EventKind::OwnerChanged {
                from: None,
                to: owner.clone(),
            },
        );
        for _ in 0..1 + rng.below(2) {
            at += SignedDuration::from_hours(3);
            push(
                at,
                &owner,
                EventKind::PostAdded {
                    kind: PostKind::CallNotes,
                    body: self.text(rng, 10, 30),
                    visibility: Visibility::Internal,
                    from_customer: false,
                },
            );
        }
        if rng.chance(0.3) {
            return events; // still open
        }
        let area = AREAS[self.areas.sample(rng)];
        for (field, value) in [
            (Field::Product, "Server"),
            (Field::ProductVersion, "11.3"),
            (Field::ProductArea, area),
            (Field::Functionality, "General"),
            (Field::Issue, "Other"),
        ] {
            push(
                at,
                &owner,
                EventKind::FieldChanged {
                    field,
                    from: None,
                    to: Some(value.to_string()),
                },
            );
        }
        push(at, &owner, EventKind::TitleConfirmed);
        let mut closes = 1 + u64::from(rng.chance(0.15));
        loop {
            at += SignedDuration::from_hours(24 + rng.below(96) as i64);
            push(
                at,
                &owner,
                EventKind::PostAdded {
                    kind: PostKind::Summary,
                    body: self.text(rng, 12, 25),
                    visibility: Visibility::Internal,
                    from_customer: false,
                },
            );
            push(
                at,
                &owner,
                EventKind::Closed {
                    mode: CloseMode::Resolved,
                    from: self.new.clone(),
                    to: self.closed.clone(),
                    resolution: Some(Resolution {
                        primary: RESOLUTIONS[self.resolutions.sample(rng)].to_string(),
                        secondary: "Done".into(),
                    }),
                },
            );
            let closed_at = at;
            closes -= 1;
            if closes == 0 && !rng.chance(0.08) {
                return events;
            }
            at += SignedDuration::from_hours(24 * (1 + rng.below(30) as i64));
            push(
                at,
                "lead01",
                EventKind::Reopened {
                    from: self.closed.clone(),
                    to: self.new.clone(),
                    category: StatusCategory::Open,
                    reason: self.text(rng, 5, 12),
                    notify_customer: true,
                    close_mode: CloseMode::Resolved,
                    closed_at,
                },
            );
            push(
                at,
                "lead01",
                EventKind::PostAdded {
                    kind: PostKind::ReopenReason,
                    body: "reopened".into(),
                    visibility: Visibility::Internal,
                    from_customer: false,
                },
            );
            if closes == 0 {
                return events;
            }
        }
    }

    /// A batch of histories, each checked by replay.
    pub fn batch(
        &self,
        numbers: std::ops::Range<u64>,
        rng: &mut Rng,
    ) -> anyhow::Result<Vec<Vec<Event>>> {
        let mut out = Vec::with_capacity((numbers.end - numbers.start) as usize);
        for n in numbers {
            let h = self.case(n, rng);
            replay(&h).map_err(|e| {
                anyhow::anyhow!("generated history of case {n} does not replay: {e}")
            })?;
            out.push(h);
        }
        Ok(out)
    }
}
