//! The inbound mail baseline: a Maildir of realistic messages (plain and HTML-only mail,
//! multipart/alternative, replies with quoted history, attachments of varied size,
//! non-ASCII names and subjects, some auto-replies), and parse-only throughput over it with
//! the same parser the ingestion pipeline uses. `cargo xtask bench mail` will measure
//! ingestion against this figure in the same run.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use casework_mail::inbound::{InboundLimits, parse_message};

use crate::synth::{Generator, Rng};

const NAMES: &[&str] = &[
    "Zoe Miller",
    "Zoë Ångström",
    "Rafael Ortega",
    "Jörg Müller",
    "Иван Петров",
    "山田太郎",
    "Ana Lopez",
    "François Lefèvre",
];

fn encoded_word(text: &str) -> String {
    if text.is_ascii() {
        text.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
    }
}

/// Standard base64 with 76-character lines.
fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    let mut wrapped = String::with_capacity(out.len() + out.len() / 76 * 2);
    for (i, c) in out.chars().enumerate() {
        if i > 0 && i % 76 == 0 {
            wrapped.push_str("\r\n");
        }
        wrapped.push(c);
    }
    wrapped
}

fn paragraphs(g: &Generator, rng: &mut Rng, n: u64) -> Vec<String> {
    (0..1 + rng.below(n)).map(|_| g.text(rng, 8, 60)).collect()
}

/// One message: its kind chosen by `rng`, deterministic for a seed.
fn message(g: &Generator, rng: &mut Rng, i: u64) -> String {
    let name = NAMES[rng.below(NAMES.len() as u64) as usize];
    let subject = format!(
        "{} {}",
        if rng.chance(0.2) {
            "Publicación"
        } else {
            "Problem:"
        },
        g.text(rng, 3, 8)
    );
    let mut head = format!(
        "From: {} <c{}@customer.example>\r\nTo: Example Corp Support <support@example.com>\r\n\
         Subject: {}\r\nDate: Tue, 3 Mar 2026 09:14:02 +0100\r\nMessage-ID: <bench-{i}@customer.example>\r\n\
         MIME-Version: 1.0\r\n",
        encoded_word(name),
        rng.below(5000),
        encoded_word(&subject),
    );
    let text = paragraphs(g, rng, 5).join("\r\n\r\n");
    let kind = rng.below(100);
    if (50..65).contains(&kind) {
        // a reply with quoted history
        let n = rng.below(1_000_000) + 1;
        head.push_str(&format!(
            "In-Reply-To: <m1.case-{n:08}@example.com>\r\nReferences: <m1.case-{n:08}@example.com>\r\n"
        ));
        let quoted: Vec<String> = paragraphs(g, rng, 6)
            .iter()
            .map(|p| format!("> {p}"))
            .collect();
        return format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\r\nOn Monday, Support wrote:\r\n{}\r\n",
            quoted.join("\r\n>\r\n")
        );
    }
    if (65..80).contains(&kind) {
        // multipart/alternative
        let html: Vec<String> = text
            .split("\r\n\r\n")
            .map(|p| format!("<p>{p}</p>"))
            .collect();
        return format!(
            "{head}Content-Type: multipart/alternative; boundary=\"alt{i}\"\r\n\r\n--alt{i}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--alt{i}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n<html><body>{}</body></html>\r\n--alt{i}--\r\n",
            html.join("\r\n")
        );
    }
    if (80..88).contains(&kind) {
        // HTML only, with links and a style block
        let html: Vec<String> = text
            .split("\r\n\r\n")
            .map(|p| {
                format!("<p>{p} <a href=\"https://docs.example.com/{i}\">see the docs</a></p>")
            })
            .collect();
        return format!(
            "{head}Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{{margin:0}}</style>\
             </head><body>{}</body></html>\r\n",
            html.join("\r\n")
        );
    }
    if (88..98).contains(&kind) {
        // attachments: a log and an image of varied size
        let size = 2_000 + rng.below(300_000) as usize;
        let blob: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        let log = g.text(rng, 200, 2000);
        return format!(
            "{head}Content-Type: multipart/mixed; boundary=\"mix{i}\"\r\n\r\n--mix{i}\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--mix{i}\r\n\
             Content-Type: text/plain; name=\"publish.log\"\r\nContent-Disposition: attachment; filename=\"publish.log\"\r\n\r\n{log}\r\n\
             --mix{i}\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"screen.png\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--mix{i}--\r\n",
            base64(&blob)
        );
    }
    if kind >= 98 {
        head.push_str("Auto-Submitted: auto-replied\r\n");
    }
    format!("{head}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")
}

/// Writes `n` messages into `dir` as a Maildir (`cur/`, `new/`, `tmp/`); returns the files.
pub fn maildir(dir: &Path, n: u64) -> Result<Vec<PathBuf>> {
    let g = Generator::new()?;
    let mut rng = Rng::new(1027);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let mut files = Vec::new();
    for i in 0..n {
        let path = dir.join("new").join(format!("{i}.bench.casework"));
        std::fs::write(&path, message(&g, &mut rng, i))
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path);
    }
    Ok(files)
}

/// Parses every message of the Maildir, read into memory first so only parsing is timed.
/// Returns a report line: messages, bytes, messages/s, MiB/s.
pub fn parse_only(files: &[PathBuf]) -> Result<String> {
    let raw: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect::<Result<_>>()?;
    let bytes: usize = raw.iter().map(Vec::len).sum();
    let limits = InboundLimits::default();
    let start = Instant::now();
    let mut refused = 0;
    let mut attachments = 0;
    for m in &raw {
        match parse_message(m, &limits) {
            Ok(p) => attachments += p.attachments.len(),
            Err(_) => refused += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(format!(
        "parse-only: {} messages, {:.1} MiB, {} attachments, {} refused: {:.0} messages/s, {:.1} MiB/s",
        raw.len(),
        bytes as f64 / 1_048_576.0,
        attachments,
        refused,
        raw.len() as f64 / secs,
        bytes as f64 / 1_048_576.0 / secs
    ))
}
