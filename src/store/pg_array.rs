//! Many rows in one PostgreSQL statement: each column of the rows becomes one array, bound as a
//! single text value in PostgreSQL's array syntax and cast in the statement
//! (`unnest($4::text[], $5::bigint[], …)`). A statement then has one parameter a column instead
//! of one a value, so it is parsed and planned once whatever the number of rows, and the server
//! reads the arrays with its own parser. The store speaks `sqlx::Any`, which binds no arrays:
//! text is what both ends agree on.
//!
//! Every text element is quoted (`"…"`, with `"` and `\` escaped by a backslash), so no content
//! (commas, braces, spaces, the word NULL) can be read as syntax; a missing value is the bare
//! `NULL`. Numbers are written as digits.

use std::fmt::Write;

/// One column's array literal, built element by element.
pub(super) struct ArrayLiteral {
    text: String,
}

impl ArrayLiteral {
    pub fn with_capacity(bytes: usize) -> ArrayLiteral {
        let mut text = String::with_capacity(bytes + 2);
        text.push('{');
        ArrayLiteral { text }
    }

    fn separate(&mut self) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
    }

    pub fn text(&mut self, value: Option<&str>) {
        self.separate();
        let Some(value) = value else {
            self.text.push_str("NULL");
            return;
        };
        self.text.push('"');
        for c in value.chars() {
            if c == '"' || c == '\\' {
                self.text.push('\\');
            }
            self.text.push(c);
        }
        self.text.push('"');
    }

    pub fn int(&mut self, value: Option<i64>) {
        self.separate();
        match value {
            Some(v) => {
                let _ = write!(self.text, "{v}");
            }
            None => self.text.push_str("NULL"),
        }
    }

    pub fn finish(mut self) -> String {
        self.text.push('}');
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_quoted_and_escaped_and_a_missing_value_is_null() {
        let mut a = ArrayLiteral::with_capacity(0);
        for v in [
            Some("plain"),
            None,
            Some("NULL"),
            Some(""),
            Some(r#"a "q" \ {b,c}"#),
        ] {
            a.text(v);
        }
        assert_eq!(a.finish(), r#"{"plain",NULL,"NULL","","a \"q\" \\ {b,c}"}"#);
        let mut n = ArrayLiteral::with_capacity(0);
        for v in [Some(-5), None, Some(i64::MAX)] {
            n.int(v);
        }
        assert_eq!(n.finish(), "{-5,NULL,9223372036854775807}");
        assert_eq!(ArrayLiteral::with_capacity(0).finish(), "{}");
    }
}
