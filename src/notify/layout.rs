//! The email's building blocks, rendered twice from the same data: once as HTML (every piece of
//! data escaped) and once as aligned plain text. Keeping one description of the content is what
//! guarantees that both alternatives of a message say the same thing. The plain text is rendered
//! here, the HTML in `layout/html.rs`.

mod html;

#[cfg(test)]
use crate::domain::Amount;
use crate::domain::Total;

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

/// A whole message: its title, the headline above every section, the sections and the footer.
pub(crate) struct Page<'a> {
    pub title: &'a str,
    pub headline: &'a Headline,
    pub sections: &'a [Section],
    pub footer: &'a str,
}

impl Page<'_> {
    /// The plain-text alternative, tables aligned in columns.
    pub fn text(&self) -> String {
        let mut body = format!(
            "[{}] {}\n\n",
            self.headline.level.label(),
            self.headline.text
        );
        for section in self.sections {
            text_section(&mut body, section);
        }
        fill(
            TEXT_TEMPLATE,
            &[
                ("title", self.title),
                ("sections", &body),
                ("footer", self.footer),
            ],
        )
    }
}

fn text_section(body: &mut String, section: &Section) {
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
    fn placeholders_in_data_are_not_expanded() {
        assert_eq!(
            fill("a {{x}} b {{y}}", &[("x", "{{y}}"), ("y", "Y")]),
            "a {{y}} b Y"
        );
        assert_eq!(fill("{{unknown}} {{", &[]), "{{unknown}} {{");
    }
}
