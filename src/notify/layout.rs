//! The email's building blocks, rendered twice from the same data: once as HTML (every piece of
//! data escaped) and once as aligned plain text. Keeping one description of the content is what
//! guarantees that both alternatives of a message say the same thing.

#[cfg(test)]
use crate::domain::Amount;
use crate::domain::Total;

const HTML_TEMPLATE: &str = include_str!("../../templates/email.html");
const TEXT_TEMPLATE: &str = include_str!("../../templates/email.txt");

pub(crate) enum Block {
    Para(String),
    Warning(String),
    List(Vec<String>),
    Table(Table),
}

pub(crate) struct Table {
    pub headers: Vec<&'static str>,
    /// Right-aligned columns (money, counts).
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<String>>,
}

pub(crate) struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn new(title: impl Into<String>) -> Self {
        Section {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    pub fn push(mut self, block: Block) -> Self {
        self.blocks.push(block);
        self
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Money for humans: `-1,234.56`. Exports keep the plain form.
pub(crate) fn human_money(amount: impl Into<Total>) -> String {
    let amount: Total = amount.into();
    let plain = amount.abs().to_string();
    let (units, cents) = plain.split_once('.').unwrap_or((plain.as_str(), "00"));
    let mut grouped = String::new();
    for (i, digit) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount.is_negative() { "-" } else { "" };
    format!("{sign}{grouped}.{cents}")
}

/// Masks anything in free text (error messages, reject reasons) that looks like an account
/// number: a standalone run of 8 to 14 digits keeps only its last four. Longer runs are Flexiti
/// ids and shorter ones are counts or capture ids; digits inside a token such as
/// `ORD-20261123-000123` are part of a reference and stay.
pub(crate) fn scrub_accounts(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let joins_token =
        |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || "-_.".contains(*c));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let standalone = !joins_token(start.checked_sub(1).and_then(|p| chars.get(p)))
            && !joins_token(chars.get(i));
        if standalone && (8..=14).contains(&run.len()) {
            out.push_str(&crate::domain::mask_account(&run));
        } else {
            out.push_str(&run);
        }
    }
    out
}

/// Replaces `{{name}}` placeholders in one pass, so data that happens to contain a placeholder
/// is never expanded.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after.find("}}") {
            Some(close) => {
                let key = &after[..close];
                match vars.iter().find(|(k, _)| *k == key) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[open..open + 4 + close]),
                }
                rest = &after[close + 2..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// How much a line or a cell asks for attention, shown by colour and always also in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    /// The words that say what the colour says.
    pub fn label(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "CHECK",
            Level::Error => "ACTION NEEDED",
        }
    }

    /// Text colour, background and border of a banner or a badge.
    fn colours(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Level::Ok => ("#14532d", "#e6f4ea", "#2e7d32"),
            Level::Warning => ("#6b3d00", "#fff4e5", "#e08a00"),
            Level::Error => ("#7f1d1d", "#fde7e9", "#c62828"),
        }
    }

    /// The level a cell's words name, for a column headed "Severity".
    fn of_word(word: &str) -> Option<Level> {
        match word {
            "error" => Some(Level::Error),
            "warning" => Some(Level::Warning),
            "ok" => Some(Level::Ok),
            _ => None,
        }
    }
}

/// The one line a reader takes in first, above every section.
pub(crate) struct Headline {
    pub level: Level,
    pub text: String,
}

// Inline styles only: many mail clients drop `<style>` blocks and every class. No media
// queries either, so nothing may depend on the width of the pane: wide tables are rendered as
// one card per row whose fields wrap, which reads the same at 320 px and at 1200 px.
const FONT: &str = "font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;";
const WRAP: &str = "overflow-wrap:anywhere;word-break:break-word;";
const MUTED: &str = "color:#5f6368;";
/// Tables with more columns than this are rendered as cards.
const MAX_TABLE_COLUMNS: usize = 3;
/// Leading text columns shown as a card's title, at most.
const MAX_TITLE_COLUMNS: usize = 4;
/// Width of a card's field (label above value): three to a 600 px pane, two to a phone. Clients
/// that ignore the width show the fields one after another, still wrapping.
const TILE_PX: u32 = 150;
/// The longest value that fits one tile.
const TILE_CHARS: usize = 16;
/// A value longer than this gets a line of its own in a card.
const LONG_VALUE: usize = 32;

fn badge(level: Level, text: &str) -> String {
    let (fg, bg, border) = level.colours();
    format!(
        "<span style=\"display:inline-block;padding:0 6px;border:1px solid {border};\
         border-radius:3px;background:{bg};color:{fg};font-weight:bold;font-size:12px;\
         white-space:nowrap\">{}</span>",
        escape_html(text)
    )
}

fn headline_html(headline: &Headline) -> String {
    let (fg, bg, border) = headline.level.colours();
    format!(
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" \
         border=\"0\" style=\"width:100%;border-collapse:collapse;margin:0 0 8px 0\"><tr>\
         <td style=\"{FONT}{WRAP}padding:10px 12px;background:{bg};color:{fg};\
         border-left:6px solid {border};font-size:15px;line-height:1.4\">\
         <strong style=\"white-space:nowrap\">{}</strong> {}</td></tr></table>\n",
        escape_html(headline.level.label()),
        escape_html(&headline.text)
    )
}

pub(crate) fn render_html(
    title: &str,
    headline: Option<&Headline>,
    sections: &[Section],
    footer: &str,
) -> String {
    let mut body = String::new();
    if let Some(headline) = headline {
        body.push_str(&headline_html(headline));
    }
    for section in sections {
        body.push_str(&format!(
            "<h2 style=\"{FONT}font-size:16px;margin:22px 0 8px 0;padding-bottom:3px;\
             border-bottom:1px solid #ccc;color:#222\">{}</h2>\n",
            escape_html(&section.title)
        ));
        for block in &section.blocks {
            match block {
                Block::Para(text) => body.push_str(&format!(
                    "<p style=\"{FONT}{WRAP}margin:6px 0\">{}</p>\n",
                    escape_html(text)
                )),
                Block::Warning(text) => {
                    let (fg, bg, border) = Level::Warning.colours();
                    body.push_str(&format!(
                        "<p style=\"{FONT}{WRAP}margin:6px 0;padding:6px 10px;background:{bg};\
                         color:{fg};border-left:4px solid {border}\">{}</p>\n",
                        escape_html(text)
                    ));
                }
                Block::List(items) => {
                    body.push_str(&format!(
                        "<ul style=\"{FONT}margin:6px 0;padding-left:20px\">\n"
                    ));
                    for item in items {
                        body.push_str(&format!(
                            "<li style=\"{WRAP}margin:2px 0\">{}</li>\n",
                            escape_html(item)
                        ));
                    }
                    body.push_str("</ul>\n");
                }
                Block::Table(table) if table.headers.len() <= MAX_TABLE_COLUMNS => {
                    body.push_str(&html_table(table));
                }
                Block::Table(table) => body.push_str(&html_cards(table)),
            }
        }
    }
    let title = escape_html(title);
    let footer = escape_html(footer);
    fill(
        HTML_TEMPLATE,
        &[("title", &title), ("sections", &body), ("footer", &footer)],
    )
}

/// A cell's content: a badge in a "Severity" column, escaped text elsewhere.
fn cell_html(table: &Table, column: usize, value: &str) -> String {
    match (table.headers.get(column), Level::of_word(value)) {
        (Some(&"Severity"), Some(level)) => badge(level, value),
        _ => escape_html(value),
    }
}

fn html_table(table: &Table) -> String {
    let align = |i: usize| {
        if table.numeric.get(i) == Some(&true) {
            "text-align:right;white-space:nowrap;"
        } else {
            "text-align:left;"
        }
    };
    let cell = "border:1px solid #ddd;padding:3px 6px;vertical-align:top;";
    let mut out = format!(
        "<table width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" \
         style=\"{FONT}width:100%;border-collapse:collapse;font-size:14px\">\n<tr>"
    );
    for (i, header) in table.headers.iter().enumerate() {
        out.push_str(&format!(
            "<th style=\"{cell}{}background:#f3f3f3\">{}</th>",
            align(i),
            escape_html(header)
        ));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (i, value) in row.iter().enumerate() {
            out.push_str(&format!(
                "<td style=\"{cell}{WRAP}{}\">{}</td>",
                align(i),
                cell_html(table, i, value)
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// One card per row: the leading text columns as its title, then each other field with its
/// label above its value, short ones side by side in tiles that wrap, long ones on a line of
/// their own. Empty fields are left out.
fn html_cards(table: &Table) -> String {
    let title_columns = table
        .headers
        .iter()
        .enumerate()
        .take_while(|(i, _)| table.numeric.get(*i) != Some(&true))
        .count()
        .clamp(1, MAX_TITLE_COLUMNS);
    let mut out = String::from("<table>\n");
    for row in &table.rows {
        let title: Vec<String> = row
            .iter()
            .enumerate()
            .take(title_columns)
            .filter(|(_, v)| !v.is_empty())
            .map(|(i, v)| {
                if v.chars().count() > LONG_VALUE {
                    format!("<span style=\"{WRAP}\">{}</span>", cell_html(table, i, v))
                } else {
                    format!(
                        "<span style=\"white-space:nowrap\">{}</span>",
                        cell_html(table, i, v)
                    )
                }
            })
            .collect();
        let mut short = Vec::new();
        let mut long = Vec::new();
        for (i, value) in row.iter().enumerate().skip(title_columns) {
            if value.is_empty() {
                continue;
            }
            let label = escape_html(table.headers.get(i).copied().unwrap_or_default());
            let value_html = cell_html(table, i, value);
            if value.chars().count() > LONG_VALUE {
                long.push(format!(
                    "<div style=\"{WRAP}margin-top:3px\"><span style=\"{MUTED}\">{label}</span> \
                     {value_html}</div>"
                ));
            } else {
                // A value too long for one tile takes two, and may break inside.
                let (width, value_style) = if value.chars().count() <= TILE_CHARS {
                    (TILE_PX, "white-space:nowrap")
                } else {
                    (2 * TILE_PX, WRAP)
                };
                short.push(format!(
                    "<span style=\"display:inline-block;width:{width}px;max-width:100%;\
                     vertical-align:top;margin:3px 0\"><span style=\"display:block;{MUTED}\
                     font-size:12px\">{label}</span> <strong style=\"{value_style}\">{value_html}\
                     </strong></span>"
                ));
            }
        }
        out.push_str(&format!(
            "<tr><td style=\"{FONT}width:100%;padding:7px 0 7px 0;border-top:1px solid #ddd;\
             font-size:14px;line-height:1.5;vertical-align:top\">\
             <div style=\"{WRAP}font-weight:bold\">{}</div>",
            title.join(" &middot; ")
        ));
        if !short.is_empty() {
            out.push_str(&format!("<div>{}</div>", short.join(" ")));
        }
        for line in long {
            out.push_str(&line);
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</table>\n");
    out
}

pub(crate) fn render_text(
    title: &str,
    headline: Option<&Headline>,
    sections: &[Section],
    footer: &str,
) -> String {
    let mut body = String::new();
    if let Some(headline) = headline {
        body.push_str(&format!(
            "[{}] {}\n\n",
            headline.level.label(),
            headline.text
        ));
    }
    for section in sections {
        body.push_str(&format!(
            "{}\n{}\n",
            section.title,
            "-".repeat(section.title.chars().count())
        ));
        for block in &section.blocks {
            match block {
                Block::Para(text) => body.push_str(&format!("{text}\n")),
                Block::Warning(text) => body.push_str(&format!("! {text}\n")),
                Block::List(items) => {
                    for item in items {
                        body.push_str(&format!("  - {item}\n"));
                    }
                }
                Block::Table(table) => body.push_str(&text_table(table)),
            }
        }
        body.push('\n');
    }
    fill(
        TEXT_TEMPLATE,
        &[("title", title), ("sections", &body), ("footer", footer)],
    )
}

fn text_table(table: &Table) -> String {
    let mut widths: Vec<usize> = table.headers.iter().map(|h| h.chars().count()).collect();
    for row in &table.rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let width = widths.get(i).copied().unwrap_or(0);
                if table.numeric.get(i) == Some(&true) {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(table.headers.clone());
    for row in &table.rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_for_humans_has_thousands_separators() {
        assert_eq!(human_money(Amount::from_cents(123_456)), "1,234.56");
        assert_eq!(
            human_money(Amount::from_cents(-100_000_000)),
            "-1,000,000.00"
        );
        assert_eq!(human_money(Amount::from_cents(99_999)), "999.99");
        assert_eq!(human_money(Amount::from_cents(-5)), "-0.05");
    }

    #[test]
    fn account_like_numbers_in_free_text_keep_only_their_last_four_digits() {
        assert_eq!(
            scrub_accounts("account 20076677 is closed; account_number=12345678901234"),
            "account ****6677 is closed; account_number=****1234"
        );
        assert_eq!(
            scrub_accounts("ORD-20261123-000123 on 4821907733105521"),
            "ORD-20261123-000123 on 4821907733105521"
        );
        assert_eq!(scrub_accounts("page 2 of 346123"), "page 2 of 346123");
    }

    #[test]
    fn placeholders_in_data_are_not_expanded() {
        assert_eq!(
            fill("a {{x}} b {{y}}", &[("x", "{{y}}"), ("y", "Y")]),
            "a {{y}} b Y"
        );
        assert_eq!(fill("{{unknown}} {{", &[]), "{{unknown}} {{");
    }
}
