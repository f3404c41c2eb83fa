//! HTML mail turned into readable text: paragraphs and line breaks kept, links as
//! `text (url)`, list items as `- item`, quoted blocks as `> ` lines, and nothing of markup,
//! comments, scripts, styles or the document head.
//!
//! A small single-pass scanner rather than an HTML engine: mail HTML is shown as text,
//! never rendered, so what matters is that every byte of input is either dropped or becomes
//! plain text, in linear time. (mail-parser's own conversion drops link targets.)

/// Elements whose content is never text a reader sees.
const HIDDEN: &[&str] = &[
    "script", "style", "head", "title", "template", "xml", "svg", "object", "iframe",
];

/// Elements that start and end a paragraph (a blank line around them).
const PARAGRAPH: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "pre",
    "blockquote",
    "hr",
    "dl",
    "address",
    "figure",
];

/// Elements that start and end a line.
const LINE: &[&str] = &[
    "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "nav", "main",
    "aside", "center", "form", "fieldset", "caption", "tbody", "thead", "tfoot", "body",
];

/// The readable text of an HTML document.
pub fn html_to_text(html: &str) -> String {
    let mut w = Writer::default();
    let mut hidden: Option<String> = None;
    let mut link: Option<Link> = None;
    let mut pre = 0usize;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if hidden.is_none() {
                w.text(&decode_entities(rest), pre > 0, &mut link);
            }
            break;
        };
        if lt > 0 && hidden.is_none() {
            w.text(&decode_entities(&rest[..lt]), pre > 0, &mut link);
        }
        rest = &rest[lt..];
        // comments, doctype, CDATA, processing instructions
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |e| &rest[e + 1..]);
            continue;
        }
        let Some(tag) = Tag::parse(rest) else {
            // a `<` that starts no tag is text
            if hidden.is_none() {
                w.text("<", pre > 0, &mut link);
            }
            rest = &rest[1..];
            continue;
        };
        rest = &rest[tag.len..];
        if let Some(h) = &hidden {
            if tag.closing && tag.name == *h {
                hidden = None;
            }
            continue;
        }
        let name = tag.name.as_str();
        if HIDDEN.contains(&name) {
            if !tag.closing && !tag.self_closing {
                hidden = Some(tag.name);
            }
            continue;
        }
        match (name, tag.closing) {
            ("br", _) => w.newline(),
            ("a", false) => {
                w.flush_link(&mut link);
                link = tag.href.map(|href| Link {
                    href,
                    text: String::new(),
                });
            }
            ("a", true) => w.flush_link(&mut link),
            ("li", false) => {
                w.flush_link(&mut link);
                w.block(1);
                w.raw("- ");
            }
            ("blockquote", false) => {
                w.block(2);
                w.quote += 1;
            }
            ("blockquote", true) => {
                w.flush_link(&mut link);
                w.quote = w.quote.saturating_sub(1);
                w.block(2);
            }
            ("pre", false) => {
                w.block(2);
                pre += 1;
            }
            ("pre", true) => {
                w.block(2);
                pre = pre.saturating_sub(1);
            }
            ("td" | "th", false) => w.cell(),
            (n, _) if PARAGRAPH.contains(&n) => {
                w.flush_link(&mut link);
                w.block(2);
            }
            (n, _) if LINE.contains(&n) => {
                w.flush_link(&mut link);
                w.block(1);
            }
            _ => {}
        }
    }
    w.flush_link(&mut link);
    w.finish()
}

/// An open `<a href>`: its text is collected until it closes.
struct Link {
    href: String,
    text: String,
}

/// A start or end tag, as far as the conversion needs it.
struct Tag {
    /// Lower-case element name.
    name: String,
    closing: bool,
    self_closing: bool,
    /// The `href` of an `<a>`.
    href: Option<String>,
    /// Bytes the tag takes, `<` to `>`.
    len: usize,
}

impl Tag {
    /// The tag at the start of `s` (which starts with `<`), or `None` when it is not one.
    fn parse(s: &str) -> Option<Tag> {
        let body = s.get(1..)?;
        let (closing, body) = match body.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
            .unwrap_or(body.len());
        if name_len == 0 || !body.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return None;
        }
        let name = body[..name_len].to_ascii_lowercase();
        // find the closing `>` outside quoted attribute values
        let mut quote: Option<char> = None;
        let mut end = None;
        for (i, c) in body[name_len..].char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    end = Some(name_len + i);
                    break;
                }
                _ => {}
            }
        }
        // an unterminated tag runs to the end of the input
        let end = end.unwrap_or(body.len());
        let attrs = &body[name_len..end];
        let href = if name == "a" && !closing {
            attribute(attrs, "href")
                .map(|h| decode_entities(h.trim()))
                .filter(|h| !h.is_empty() && !h.to_ascii_lowercase().starts_with("javascript:"))
        } else {
            None
        };
        let consumed = 1 + usize::from(closing) + end + usize::from(end < body.len());
        Some(Tag {
            name,
            closing,
            self_closing: attrs.trim_end().ends_with('/'),
            href,
            len: consumed,
        })
    }
}

/// The value of attribute `name` in a tag's attribute text.
fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let key_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let key = &rest[..key_len];
        rest = rest[key_len..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let close = inner.find(q).unwrap_or(inner.len());
                    rest = inner.get(close + 1..).unwrap_or("");
                    &inner[..close]
                }
                _ => {
                    let close = after.find(char::is_whitespace).unwrap_or(after.len());
                    rest = &after[close..];
                    &after[..close]
                }
            }
        } else {
            ""
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
}

/// Builds the text: collapses white space outside `<pre>`, keeps at most one blank line
/// between blocks, and prefixes quoted lines.
#[derive(Default)]
struct Writer {
    out: String,
    /// Newlines wanted before the next text (1 = new line, 2 = blank line).
    pending_breaks: usize,
    /// A space is wanted before the next text.
    pending_space: bool,
    /// Whether the current line has text yet.
    line_has_text: bool,
    /// Blockquote depth.
    quote: usize,
    /// Blockquote depth for the blank lines of the pending breaks: the shallowest depth
    /// since they were asked for, so the blank line before a quote is not quoted.
    break_quote: usize,
}

impl Writer {
    fn text(&mut self, text: &str, pre: bool, link: &mut Option<Link>) {
        if let Some(l) = link {
            l.text.push_str(text);
            return;
        }
        if pre {
            for (i, line) in text.split('\n').enumerate() {
                if i > 0 {
                    self.newline();
                }
                if !line.is_empty() {
                    self.raw(line);
                }
            }
            return;
        }
        for (i, word) in text.split(char::is_whitespace).enumerate() {
            if i > 0 {
                self.pending_space = true;
            }
            if !word.is_empty() {
                self.raw(word);
            }
        }
    }

    /// Writes text as it is, after any pending break or space.
    fn raw(&mut self, s: &str) {
        if self.pending_breaks > 0 && !self.out.is_empty() {
            for _ in 0..self.pending_breaks {
                self.end_line(self.break_quote);
            }
        }
        self.pending_breaks = 0;
        if !self.line_has_text {
            for _ in 0..self.quote {
                self.out.push_str("> ");
            }
            self.line_has_text = true;
            self.pending_space = false;
        } else if self.pending_space {
            self.out.push(' ');
            self.pending_space = false;
        }
        self.out.push_str(s);
    }

    fn end_line(&mut self, quote: usize) {
        if !self.line_has_text && quote > 0 {
            self.out.push_str(&">".repeat(quote));
        }
        self.out.push('\n');
        self.line_has_text = false;
    }

    fn newline(&mut self) {
        if self.line_has_text {
            self.end_line(self.quote);
        } else if !self.out.is_empty() {
            // `<br><br>` makes a blank line
            self.end_line(self.quote);
        }
        self.pending_space = false;
    }

    fn block(&mut self, breaks: usize) {
        let breaks = if self.line_has_text {
            breaks
        } else {
            breaks.saturating_sub(1)
        };
        if self.pending_breaks == 0 {
            self.break_quote = self.quote;
        }
        self.break_quote = self.break_quote.min(self.quote);
        self.pending_breaks = self.pending_breaks.max(breaks);
        self.pending_space = false;
    }

    fn cell(&mut self) {
        if self.line_has_text {
            self.pending_space = true;
        }
    }

    fn flush_link(&mut self, link: &mut Option<Link>) {
        let Some(l) = link.take() else { return };
        let text: String = l.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let bare = l.href.strip_prefix("mailto:").unwrap_or(&l.href);
        let shown = if text.is_empty() {
            bare.to_string()
        } else if text == l.href || text == bare {
            text
        } else {
            format!("{text} ({})", l.href)
        };
        self.text(&shown, false, &mut None);
    }

    fn finish(self) -> String {
        let mut lines: Vec<&str> = self.out.lines().map(str::trim_end).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines.join("\n").trim_start_matches('\n').to_string()
    }
}

/// Replaces character references (`&amp;`, `&#233;`, `&#xE9;`, and the named ones mail
/// uses) with their characters; an unknown or malformed one stays as written.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest
            .char_indices()
            .skip(1)
            .take(32)
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
            .map(|(i, c)| (i, c == ';'));
        let decoded = end.and_then(|(i, semi)| {
            let name = &rest[1..i];
            entity(name).map(|c| (c, i + usize::from(semi)))
        });
        match decoded {
            Some((c, used)) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        // NUL and surrogates are not characters a text may hold
        return Some(
            char::from_u32(code)
                .filter(|&c| c != '\0')
                .unwrap_or('\u{fffd}'),
        );
    }
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "shy" => '\u{ad}',
        "zwnj" => '\u{200c}',
        "zwj" => '\u{200d}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "iexcl" => '¡',
        "iquest" => '¿',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "szlig" => 'ß',
        "eacute" => 'é',
        "egrave" => 'è',
        "ecirc" => 'ê',
        "aacute" => 'á',
        "agrave" => 'à',
        "acirc" => 'â',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "ntilde" => 'ñ',
        "ccedil" => 'ç',
        "Eacute" => 'É',
        "aring" => 'å',
        "Aring" => 'Å',
        "oslash" => 'ø',
        "aelig" => 'æ',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_breaks_and_links() {
        let html = r#"<html><head><title>x</title><style>p{color:red}</style></head>
<body><p>Hello&nbsp;Ana,</p><p>the map still fails:<br>error 999999.<br/>See
<a href="https://status.example.com/incident?id=1&amp;x=2">the status page</a>.</p>
<div>Write to <a href="mailto:help@example.com">help@example.com</a></div>
<p><a href="https://x.example/">https://x.example/</a></p></body></html>"#;
        assert_eq!(
            html_to_text(html),
            "Hello Ana,\n\nthe map still fails:\nerror 999999.\nSee the status page \
             (https://status.example.com/incident?id=1&x=2).\n\nWrite to help@example.com\n\n\
             https://x.example/"
        );
    }

    #[test]
    fn scripts_styles_comments_and_markup_leave_no_trace() {
        let html = "<p>a<script>alert('x<p>y')</script>b<!-- <p>hidden</p> -->c</p>\
                    <STYLE type=text/css>.x{}</STYLE><svg><text>drawn</text></svg>\
                    <img src=x onerror=alert(1)><a href='javascript:evil()'>link</a>";
        assert_eq!(html_to_text(html), "abc\n\nlink");
    }

    #[test]
    fn lists_tables_and_quotes() {
        let html = "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr>\
                    <tr><td>c</td><td>d</td></tr></table><p>On Monday Zoe wrote:</p>\
                    <blockquote><p>first</p><p>second</p></blockquote><p>after</p>";
        assert_eq!(
            html_to_text(html),
            "- one\n- two\n\na b\nc d\n\nOn Monday Zoe wrote:\n\n> first\n>\n> second\n\nafter"
        );
    }

    #[test]
    fn entities_decode_and_broken_input_stays_text() {
        assert_eq!(
            decode_entities("a &lt;b&gt; &#233;&#xE9; &bogus; &#0; &"),
            "a <b> éé &bogus; \u{fffd} &"
        );
        assert_eq!(html_to_text("1 < 2 and <3 & 4 >"), "1 < 2 and <3 & 4 >");
        assert_eq!(html_to_text("<p>cut <a href=\"x"), "cut x");
        assert_eq!(html_to_text("<pre>  a\n    b</pre>"), "  a\n    b");
    }
}
