//! Multi-row statements: a run's findings, failed calls, rejected rows and totals are written
//! many rows per statement (`INSERT … VALUES (…), (…), …`), as many as the backend's
//! bound-parameter limit allows, instead of one round trip per row. A round trip per row was
//! most of the time of a run with 100k findings (tens of microseconds each through the SQLite
//! worker thread, a network round trip on PostgreSQL).
//!
//! A statement is written once as text with `#` for each value of a row; [`RowsStatement::sql`]
//! turns each `#` into the backend's placeholder. PostgreSQL gets numbered ones (`$1`, `$2`, …).
//! SQLite gets anonymous `?`: it looks every named or numbered placeholder up in a list, once
//! when the statement is parsed and again for each value bound, which is quadratic in the
//! number of values (most of a 30,000-value statement's time); anonymous ones are bound by
//! position. So every row binds all of its own values, even those shared by every row (the run
//! id, the time). Every statement binds its values; nothing is formatted in.

use anyhow::{Context, Result};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Arguments, Transaction};

/// At most this many rows per statement, whatever the parameter limit: larger statements save
/// no measurable time and only make each one slower to parse and plan.
const MAX_ROWS_PER_STATEMENT: usize = 2000;

/// How a backend numbers its placeholders and how many one statement may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dialect {
    /// `$1, $2, …` (PostgreSQL) rather than `?` (SQLite).
    pub numbered: bool,
    pub max_parameters: usize,
}

impl Dialect {
    /// The aggregate that joins text values with a separator: `string_agg` on PostgreSQL,
    /// `group_concat` on SQLite.
    pub fn join_text(self) -> &'static str {
        if self.numbered {
            "string_agg"
        } else {
            "group_concat"
        }
    }
}

/// A statement repeated over rows.
pub(super) struct RowsStatement {
    /// Everything before the first row, e.g. `INSERT INTO t (a, b) VALUES `.
    pub head: &'static str,
    /// One row, `#` for each of its values, e.g. `(#, #, 'open')`.
    pub row: &'static str,
    /// Everything after the last row (`ON CONFLICT …`, `RETURNING …`), may be empty.
    pub tail: &'static str,
}

impl RowsStatement {
    fn values_per_row(&self) -> usize {
        self.row.bytes().filter(|&b| b == b'#').count()
    }

    /// Rows per statement under the dialect's parameter limit (at least one).
    pub fn rows_per_statement(&self, dialect: Dialect) -> usize {
        (dialect.max_parameters / self.values_per_row().max(1)).clamp(1, MAX_ROWS_PER_STATEMENT)
    }

    /// The statement text for `rows` rows.
    pub fn sql(&self, rows: usize, dialect: Dialect) -> String {
        let mut sql = String::with_capacity(self.head.len() + rows * (self.row.len() + 64));
        sql.push_str(self.head);
        let mut next = 1;
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            for part in self.row.split_inclusive('#') {
                match part.strip_suffix('#') {
                    Some(text) if dialect.numbered => {
                        sql.push_str(text);
                        sql.push('$');
                        sql.push_str(&next.to_string());
                        next += 1;
                    }
                    Some(text) => {
                        sql.push_str(text);
                        sql.push('?');
                    }
                    None => sql.push_str(part),
                }
            }
        }
        if !self.tail.is_empty() {
            sql.push(' ');
            sql.push_str(self.tail);
        }
        sql
    }

    /// Runs the statement over `rows`, a chunk per statement, `bind` adding the values of one
    /// row in the order of the row's `#`. Returns how many rows the statements affected; they
    /// return none (a row returned is a round trip through the driver). `what` names the rows
    /// in errors (e.g. "findings").
    pub async fn run<'q, T>(
        &self,
        tx: &mut Transaction<'_, Any>,
        dialect: Dialect,
        rows: &'q [T],
        bind: impl Fn(&'q T, &mut AnyArguments<'q>) -> Result<()>,
        what: &str,
    ) -> Result<u64> {
        let per_statement = self.rows_per_statement(dialect);
        let full = if rows.len() >= per_statement {
            self.sql(per_statement, dialect)
        } else {
            String::new()
        };
        let mut affected = 0;
        let mut done = 0;
        for chunk in rows.chunks(per_statement) {
            let mut args = AnyArguments::default();
            args.reserve(chunk.len() * self.values_per_row(), 0);
            for row in chunk {
                bind(row, &mut args)?;
            }
            let partial;
            let sql = if chunk.len() == per_statement {
                full.as_str()
            } else {
                partial = self.sql(chunk.len(), dialect);
                partial.as_str()
            };
            let query = sqlx::query_with(sql, args);
            affected += execute_chunk(tx, query, what, (done, chunk.len(), rows.len())).await?;
            done += chunk.len();
        }
        Ok(affected)
    }
}

/// Runs one statement of a write done a chunk at a time and returns how many rows it affected.
/// An error names the chunk's rows: `(done, len, total)`, the `len` rows after the first `done`
/// of `total` ("storing findings 2001 to 4000 of 96670").
pub(super) async fn execute_chunk<'q>(
    tx: &mut Transaction<'_, Any>,
    query: Query<'q, Any, AnyArguments<'q>>,
    what: &str,
    (done, len, total): (usize, usize, usize),
) -> Result<u64> {
    Ok(query
        .execute(&mut **tx)
        .await
        .with_context(|| storing(what, done, len, total))?
        .rows_affected())
}

fn storing(what: &str, done: usize, len: usize, total: usize) -> String {
    format!("storing {what} {} to {} of {total}", done + 1, done + len)
}

/// Adds one value to a statement's arguments.
pub(super) fn add<'q, T>(args: &mut AnyArguments<'q>, value: T) -> Result<()>
where
    T: 'q + sqlx::Encode<'q, Any> + sqlx::Type<Any>,
{
    args.add(value)
        .map_err(|e| anyhow::anyhow!("binding a value: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATEMENT: RowsStatement = RowsStatement {
        head: "INSERT INTO t (a, b, c) VALUES ",
        row: "(#, #, 'x')",
        tail: "RETURNING a",
    };
    const POSTGRES: Dialect = Dialect {
        numbered: true,
        max_parameters: 65_535,
    };
    const SQLITE: Dialect = Dialect {
        numbered: false,
        max_parameters: 32_766,
    };

    #[test]
    fn postgres_numbers_the_values_and_sqlite_binds_them_by_position() {
        assert_eq!(
            STATEMENT.sql(2, POSTGRES),
            "INSERT INTO t (a, b, c) VALUES ($1, $2, 'x'), ($3, $4, 'x') RETURNING a"
        );
        assert_eq!(
            STATEMENT.sql(2, SQLITE),
            "INSERT INTO t (a, b, c) VALUES (?, ?, 'x'), (?, ?, 'x') RETURNING a"
        );
        let no_tail = RowsStatement {
            tail: "",
            ..STATEMENT
        };
        assert_eq!(
            no_tail.sql(1, SQLITE),
            "INSERT INTO t (a, b, c) VALUES (?, ?, 'x')"
        );
    }

    #[test]
    fn a_statement_holds_as_many_rows_as_the_parameter_limit_allows() {
        assert_eq!(STATEMENT.rows_per_statement(SQLITE), MAX_ROWS_PER_STATEMENT);
        let tiny = Dialect {
            max_parameters: 11,
            ..POSTGRES
        };
        assert_eq!(STATEMENT.rows_per_statement(tiny), 5);
        let none = Dialect {
            max_parameters: 1,
            ..POSTGRES
        };
        assert_eq!(STATEMENT.rows_per_statement(none), 1);
        let wide = RowsStatement {
            row: "(#, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #)",
            ..STATEMENT
        };
        assert_eq!(wide.rows_per_statement(SQLITE), 1260);
        assert_eq!(wide.rows_per_statement(POSTGRES), MAX_ROWS_PER_STATEMENT);
        let sql = wide.sql(2000, POSTGRES);
        assert!(sql.contains("$52000)") && !sql.contains("$52001"));
        assert_eq!(wide.sql(1260, SQLITE).matches('?').count(), 1260 * 26);
    }
}
