//! The HTML alternative of a message. Inline styles only, no media queries: see the note on
//! the constants below.

use super::{Block, Headline, Level, Page, Section, Table, escape_html, fill};

const HTML_TEMPLATE: &str = include_str!("../../../templates/email.html");

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

impl Page<'_> {
    /// The HTML alternative: inline styles, every piece of data escaped.
    pub fn html(&self) -> String {
        let mut body = headline_html(self.headline);
        for section in self.sections {
            html_section(&mut body, section);
        }
        let title = escape_html(self.title);
        let footer = escape_html(self.footer);
        fill(
            HTML_TEMPLATE,
            &[("title", &title), ("sections", &body), ("footer", &footer)],
        )
    }
}

fn html_section(body: &mut String, section: &Section) {
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
