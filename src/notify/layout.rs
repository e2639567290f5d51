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

pub(crate) fn render_html(title: &str, sections: &[Section], footer: &str) -> String {
    let mut body = String::new();
    for section in sections {
        body.push_str(&format!("<h2>{}</h2>\n", escape_html(&section.title)));
        for block in &section.blocks {
            match block {
                Block::Para(text) => body.push_str(&format!("<p>{}</p>\n", escape_html(text))),
                Block::Warning(text) => {
                    body.push_str(&format!("<p class=\"warning\">{}</p>\n", escape_html(text)));
                }
                Block::List(items) => {
                    body.push_str("<ul>\n");
                    for item in items {
                        body.push_str(&format!("<li>{}</li>\n", escape_html(item)));
                    }
                    body.push_str("</ul>\n");
                }
                Block::Table(table) => body.push_str(&html_table(table)),
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

fn html_table(table: &Table) -> String {
    let class = |i: usize| {
        if table.numeric.get(i) == Some(&true) {
            " class=\"num\""
        } else {
            ""
        }
    };
    let mut out = String::from("<table>\n<tr>");
    for (i, header) in table.headers.iter().enumerate() {
        out.push_str(&format!("<th{}>{}</th>", class(i), escape_html(header)));
    }
    out.push_str("</tr>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            out.push_str(&format!("<td{}>{}</td>", class(i), escape_html(cell)));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

pub(crate) fn render_text(title: &str, sections: &[Section], footer: &str) -> String {
    let mut body = String::new();
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
