//! Findings and their history: storing a run's findings by fingerprint, the resolution of what a
//! run no longer finds, and the queries behind `discrepancies` and `export` (docs/DATA.md, "How a
//! run's results are written").
//!
//! A finding's status moves only here: new → `open`; found again → stays `open`, a `resolved`
//! one is reopened, an `acknowledged` one stays acknowledged; not found by a run whose range
//! holds its day → `resolved`, unless that day is incomplete (never judge on an incomplete
//! fetch) or the finding is acknowledged.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use sqlx::any::AnyArguments;
use sqlx::{Any, Transaction};

use super::batch::{Dialect, RowsStatement, add, execute_chunk};
use super::digest::ValuesDigest;
use super::finding_rows::from_row;
use super::pg_array::ArrayLiteral;
use super::{Store, StoreError, parse_ts, to_i64, ts};
use crate::domain::{Amount, Category, DayRange, Discrepancy};
use crate::report::{ChangeSummary, FindingStatus, RunReport, StoredDiscrepancy};

/// Which stored findings to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscrepancyFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub category: Option<Category>,
    pub status: Option<FindingStatus>,
    /// Matches the ledger's or Flexiti's store.
    pub store: Option<String>,
    pub reference: Option<String>,
    pub limit: Option<u32>,
}

const COLUMNS: &str = "id, fingerprint, business_date, category, severity, reference, kind, \
    flexiti_amount_cents, ledger_amount_cents, delta_cents, day_delta, pass, flexiti_id, \
    authorization_id, flexiti_store, flexiti_at, ledger_store, ledger_register, ledger_at, \
    ledger_file, ledger_line, ledger_id, explanation, status, first_seen_run, last_seen_run, \
    first_seen_at, last_seen_at, resolved_run, note, suggested_reference, suggested_id, suggestion";

impl Store {
    /// Stored findings matching `filter`, by day, category and reference.
    pub async fn list_discrepancies(
        &self,
        filter: &DiscrepancyFilter,
    ) -> Result<Vec<StoredDiscrepancy>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM discrepancies \
             WHERE merchant = $8 \
             AND ($1 IS NULL OR business_date >= $1) AND ($2 IS NULL OR business_date <= $2) \
             AND ($3 IS NULL OR category = $3) AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR ledger_store = $5 OR flexiti_store = $5) \
             AND ($6 IS NULL OR reference = $6) \
             ORDER BY business_date, category, reference, id LIMIT $7"
        );
        let rows = sqlx::query(&sql)
            .bind(filter.from.map(|d| d.to_string()))
            .bind(filter.to.map(|d| d.to_string()))
            .bind(filter.category.map(Category::as_str))
            .bind(filter.status.map(FindingStatus::as_str))
            .bind(filter.store.as_deref())
            .bind(filter.reference.as_deref())
            .bind(filter.limit.map_or(i64::MAX, i64::from))
            .bind(&self.merchant)
            .fetch_all(&self.pool)
            .await
            .context("listing discrepancies")?;
        rows.iter().map(from_row).collect()
    }

    pub async fn get_discrepancy(&self, id: i64) -> Result<Option<StoredDiscrepancy>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM discrepancies WHERE id = $1 AND merchant = $2"
        ))
        .bind(id)
        .bind(&self.merchant)
        .fetch_optional(&self.pool)
        .await
        .with_context(|| format!("reading discrepancy {id}"))?;
        row.as_ref().map(from_row).transpose()
    }

    /// Marks a finding acknowledged with a note; later runs keep that status.
    pub async fn acknowledge(&self, id: i64, note: &str) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE discrepancies SET status = 'acknowledged', note = $2 \
             WHERE id = $1 AND merchant = $3",
        )
        .bind(id)
        .bind(note)
        .bind(&self.merchant)
        .execute(&self.pool)
        .await
        .with_context(|| format!("acknowledging discrepancy {id}"))?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::UnknownDiscrepancy(id).into());
        }
        Ok(())
    }
}

/// A finding's own 22 columns (after the merchant), in the order of [`FindingRow::bind`].
macro_rules! row_columns {
    () => {
        "fingerprint, business_date, category, severity, reference, kind, \
         flexiti_amount_cents, ledger_amount_cents, delta_cents, day_delta, pass, flexiti_id, \
         authorization_id, flexiti_store, flexiti_at, ledger_store, ledger_register, ledger_at, \
         ledger_file, ledger_line, ledger_id, explanation"
    };
}

/// The suggested counterpart's three columns, in the order of [`FindingRow::bind_suggestion`].
macro_rules! suggestion_columns {
    () => {
        "suggested_reference, suggested_id, suggestion"
    };
}

mod stage;

/// The columns an upsert inserts: the merchant, the row's own, the status and the run and the
/// time that saw it, twice (first and last seen), the suggestion, then the digest of the values
/// (`src/store/digest.rs`).
macro_rules! insert_columns {
    () => {
        concat!(
            "INSERT INTO discrepancies (merchant, ",
            row_columns!(),
            ", status, first_seen_run, last_seen_run, first_seen_at, last_seen_at, ",
            suggestion_columns!(),
            ", value_digest) "
        )
    };
}

/// What finding a known finding again does to its status: a `resolved` one is reopened, an
/// `acknowledged` one stays so.
macro_rules! reopens {
    () => {
        "status = CASE WHEN discrepancies.status = 'resolved' THEN 'open' \
         ELSE discrepancies.status END, \
         resolved_run = CASE WHEN discrepancies.status = 'resolved' THEN NULL \
         ELSE discrepancies.resolved_run END"
    };
}

/// What an upsert does to a known finding, found again: it takes the run's values (those of
/// [`VALUE_COLUMNS`]) and is seen by the run, and [`reopens!`].
macro_rules! on_conflict {
    () => {
        concat!(
            "ON CONFLICT (merchant, fingerprint) DO UPDATE SET \
             severity = excluded.severity, flexiti_amount_cents = excluded.flexiti_amount_cents, \
             ledger_amount_cents = excluded.ledger_amount_cents, \
             delta_cents = excluded.delta_cents, day_delta = excluded.day_delta, \
             pass = excluded.pass, authorization_id = excluded.authorization_id, \
             flexiti_store = excluded.flexiti_store, flexiti_at = excluded.flexiti_at, \
             ledger_store = excluded.ledger_store, ledger_register = excluded.ledger_register, \
             ledger_at = excluded.ledger_at, ledger_file = excluded.ledger_file, \
             ledger_line = excluded.ledger_line, explanation = excluded.explanation, \
             suggested_reference = excluded.suggested_reference, \
             suggested_id = excluded.suggested_id, suggestion = excluded.suggestion, \
             value_digest = excluded.value_digest, \
             last_seen_run = excluded.last_seen_run, last_seen_at = excluded.last_seen_at, ",
            reopens!()
        )
    };
}

/// The values a known finding takes from a run that finds it again, in the order of
/// [`on_conflict!`] and of [`FindingRow::values_digest`] (tests hold them together).
#[cfg(test)]
const VALUE_COLUMNS: [&str; 18] = [
    "severity",
    "flexiti_amount_cents",
    "ledger_amount_cents",
    "delta_cents",
    "day_delta",
    "pass",
    "authorization_id",
    "flexiti_store",
    "flexiti_at",
    "ledger_store",
    "ledger_register",
    "ledger_at",
    "ledger_file",
    "ledger_line",
    "explanation",
    "suggested_reference",
    "suggested_id",
    "suggestion",
];

/// The upsert of many findings at once on SQLite: many rows of values per statement, new and
/// known findings alike. It returns no rows.
const UPSERT: RowsStatement = RowsStatement {
    head: concat!(insert_columns!(), "VALUES "),
    row: "(#, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, #, 'open', #, #, #, #, \
          #, #, #, #)",
    tail: on_conflict!(),
};

/// The run's new findings on PostgreSQL: the merchant (`$1`), the run (`$2`) and the time
/// (`$3`), then one array a column of [`FindingRow::columns`] (`src/store/pg_array.rs`), all of
/// one length, unnested side by side into rows. A plain insert, cheaper than an upsert: the run
/// has read which of its findings are known ([`known_before`]). The arrays are unnested in the
/// select list, which PostgreSQL steps through in lockstep, not in `FROM unnest(…)`, which
/// first copies every array into a table of its own (measured: 1.35 s against 1.65 s to insert
/// 100,000 rows in `psql`).
macro_rules! insert_arrays {
    () => {
        concat!(
            insert_columns!(),
            "SELECT $1, unnest($4::text[]), unnest($5::text[]), unnest($6::text[]), \
             unnest($7::text[]), unnest($8::text[]), unnest($9::text[]), unnest($10::bigint[]), \
             unnest($11::bigint[]), unnest($12::bigint[]), unnest($13::bigint[]), \
             unnest($14::text[]), unnest($15::text[]), unnest($16::bigint[]), \
             unnest($17::text[]), unnest($18::text[]), unnest($19::text[]), unnest($20::text[]), \
             unnest($21::text[]), unnest($22::text[]), unnest($23::bigint[]), \
             unnest($24::text[]), unnest($25::text[]), 'open', $2, $2, $3, $3, \
             unnest($26::text[]), unnest($27::text[]), unnest($28::text[]), unnest($29::text[])"
        )
    };
}

/// [`insert_arrays!`] as a statement.
const INSERT_ARRAYS: &str = insert_arrays!();

/// The run's known findings on PostgreSQL, the same parameters: each takes the run's values.
/// An upsert: measured on 96,670 findings found again, it costs no more than an
/// `UPDATE … FROM unnest(…)` of the same rows, and cannot miss a row.
const UPSERT_ARRAYS: &str = concat!(insert_arrays!(), " ", on_conflict!());

/// The run's findings found again with the values they have on PostgreSQL: the merchant
/// (`$1`), the run (`$2`), the time (`$3`) and an array of their fingerprints (`$4`). Only
/// `last_seen_*` and the status change: no value to unnest. A join, not `= ANY($4)`: on a
/// table the planner has no statistics for yet, that became a scan comparing every row with
/// every fingerprint. The join runs with [`ONE_LOOKUP_A_FINGERPRINT`].
const SEEN_AGAIN: &str = concat!(
    "UPDATE discrepancies SET last_seen_run = $2, last_seen_at = $3, ",
    reopens!(),
    " FROM unnest($4::text[]) AS seen (fingerprint) \
     WHERE discrepancies.merchant = $1 AND discrepancies.fingerprint = seen.fingerprint"
);

/// Rows per array statement: bounds the arrays held at once (a few MB a column).
const ROWS_PER_ARRAY_STATEMENT: usize = 5_000;

/// The planner settings of [`SEEN_AGAIN`], for the rest of the transaction: a nested loop, one
/// lookup of the `(merchant, fingerprint)` key per fingerprint. With statistics from before
/// the last run's findings, PostgreSQL chose to hash every finding of the merchant for each
/// statement instead (940 ms against 180 ms for 20,000 fingerprints of 96,670, measured with
/// `EXPLAIN ANALYZE`). Nothing after it in the transaction joins.
const ONE_LOOKUP_A_FINGERPRINT: &str = "SELECT set_config('enable_hashjoin', 'off', true), \
     set_config('enable_mergejoin', 'off', true)";

/// Fingerprints per [`SEEN_AGAIN`] statement (33 bytes each in the array).
const FINGERPRINTS_PER_STATEMENT: usize = 20_000;

/// Stores the run's findings and resolves the open ones of its complete days (and of its
/// `stores`, when not empty) that it did not find. Set-based: one query first reads which of
/// them are known; then the findings go in multi-row upserts as large as SQLite allows, or on
/// PostgreSQL as arrays a few thousand rows a statement, inserted when new and updated when
/// known; the resolution is one `UPDATE` per span of complete days.
pub(super) async fn upsert_and_resolve(
    tx: &mut Transaction<'_, Any>,
    merchant: &str,
    report: &RunReport,
    stores: &[String],
    dialect: Dialect,
    stage_url: Option<&str>,
) -> Result<ChangeSummary> {
    let run_id = report.run_id;
    let seen_at = report.finished_at;
    // A finding's fingerprint and digest are two hashes of its values: taken on every core.
    let rows = in_parallel(&report.discrepancies, |d| {
        FindingRow::of(d, d.fingerprint())
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let mut fingerprints = HashSet::with_capacity(rows.len());
    for row in &rows {
        if !fingerprints.insert(row.fingerprint.as_str()) {
            bail!(
                "run {run_id} holds finding {} ({} {} on {}) twice",
                row.fingerprint,
                row.d.category,
                row.d.reference,
                row.d.business_date
            );
        }
    }
    drop(fingerprints);
    let started = std::time::Instant::now();
    let known = known_before(tx, merchant, &rows, dialect).await?;
    let seen_at_text = ts(seen_at);
    // How the findings went in: new, rewritten (found again; on PostgreSQL only those whose
    // values changed), found again unchanged (told apart on PostgreSQL only).
    let known_count = rows
        .iter()
        .filter(|r| known.contains_key(r.fingerprint.as_str()))
        .count();
    let mut split = (rows.len() - known_count, known_count, 0);
    let stored = if dialect.numbered {
        let (mut new, mut changed, mut same) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            match known.get(row.fingerprint.as_str()) {
                None => new.push(row),
                Some(k) if k.digest.as_deref() == Some(row.digest.as_str()) => {
                    same.push(row.fingerprint.as_str());
                }
                Some(_) => changed.push(row),
            }
        }
        split = (new.len(), changed.len(), same.len());
        let args = (merchant, run_id, seen_at_text.as_str());
        let inserted = match stage_url {
            Some(url) if new.len() >= stage::STAGE_FROM => {
                insert_staged(tx, url, args, &new).await?
            }
            _ => arrays(tx, INSERT_ARRAYS, args, &new, "new findings").await?,
        };
        inserted
            + arrays(tx, UPSERT_ARRAYS, args, &changed, "changed findings").await?
            + seen_again(tx, args, &same).await?
    } else {
        UPSERT
            .run(
                tx,
                dialect,
                &rows,
                |row, args| {
                    add(args, merchant)?;
                    row.bind(args)?;
                    for _ in 0..2 {
                        add(args, run_id)?;
                    }
                    for _ in 0..2 {
                        add(args, seen_at_text.as_str())?;
                    }
                    row.bind_suggestion(args)?;
                    add(args, row.digest.as_str())
                },
                "findings",
            )
            .await?
    };
    if stored != rows.len() as u64 {
        bail!(
            "storing the run's {} findings: the database took {stored}",
            rows.len()
        );
    }
    let mut changes = ChangeSummary::default();
    for row in rows {
        match known.get(row.fingerprint.as_str()) {
            None => changes.new.push(row.fingerprint),
            // Found again: an open one stays open, a resolved one is reopened.
            Some(k) if k.status != FindingStatus::Acknowledged.as_str() => {
                let first_seen = parse_ts(&k.first_seen_at, "discrepancies.first_seen_at")?;
                changes
                    .still_open
                    .push((row.fingerprint, (seen_at - first_seen).num_days()));
            }
            Some(_) => {}
        }
    }
    let upserted = started.elapsed();
    (changes.resolved_count, changes.resolved) =
        resolve_unseen(tx, merchant, report, stores, dialect).await?;
    tracing::debug!(
        inserted = split.0,
        rewritten = split.1,
        seen_again_unchanged = split.2,
        upsert_ms = upserted.as_millis(),
        resolve_ms = (started.elapsed() - upserted).as_millis(),
        "stored the findings"
    );
    Ok(changes)
}

/// One of the array statements ([`INSERT_ARRAYS`], [`UPSERT_ARRAYS`]) over `rows`,
/// [`ROWS_PER_ARRAY_STATEMENT`] at a time, with the merchant, the run and the time. Returns
/// how many rows it stored; `what` names them in errors.
async fn arrays(
    tx: &mut Transaction<'_, Any>,
    sql: &str,
    (merchant, run_id, seen_at): (&str, i64, &str),
    rows: &[&FindingRow<'_>],
    what: &str,
) -> Result<u64> {
    let mut stored = 0;
    let mut done = 0;
    for chunk in rows.chunks(ROWS_PER_ARRAY_STATEMENT) {
        let mut query = sqlx::query(sql).bind(merchant).bind(run_id).bind(seen_at);
        for column in FindingRow::columns(chunk) {
            query = query.bind(column);
        }
        stored += execute_chunk(tx, query, what, (done, chunk.len(), rows.len())).await?;
        done += chunk.len();
    }
    Ok(stored)
}

/// The run's new findings on PostgreSQL through its staging table (`findings/stage.rs`): copied
/// in on a connection of their own, then inserted from the table and the table dropped, in the
/// run's transaction. If the copy fails, they are bound as arrays instead ([`arrays`]).
async fn insert_staged(
    tx: &mut Transaction<'_, Any>,
    url: &str,
    (merchant, run_id, seen_at): (&str, i64, &str),
    rows: &[&FindingRow<'_>],
) -> Result<u64> {
    match stage::copy_in(url, run_id, rows).await {
        Ok(copied) => stage::check_copied(copied, rows.len())?,
        Err(e) => {
            tracing::warn!(
                error = %format!("{e:#}"),
                "could not copy the new findings in; binding them as arrays instead"
            );
            let args = (merchant, run_id, seen_at);
            return arrays(tx, INSERT_ARRAYS, args, rows, "new findings").await;
        }
    }
    let table = stage::table(run_id);
    let insert = format!(
        "{}SELECT $1, {}, 'open', $2, $2, $3, $3, {}, value_digest FROM {table}",
        insert_columns!(),
        row_columns!(),
        suggestion_columns!()
    );
    let inserted = sqlx::query(&insert)
        .bind(merchant)
        .bind(run_id)
        .bind(seen_at)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("storing the {} new findings from {table}", rows.len()))?
        .rows_affected();
    let drop = format!("DROP TABLE {table}");
    sqlx::query(&drop)
        .execute(&mut **tx)
        .await
        .with_context(|| format!("dropping {table}"))?;
    Ok(inserted)
}

/// [`SEEN_AGAIN`] over `fingerprints`, [`FINGERPRINTS_PER_STATEMENT`] at a time. Returns how
/// many findings it updated.
async fn seen_again(
    tx: &mut Transaction<'_, Any>,
    (merchant, run_id, seen_at): (&str, i64, &str),
    fingerprints: &[&str],
) -> Result<u64> {
    if fingerprints.is_empty() {
        return Ok(0);
    }
    sqlx::query(ONE_LOOKUP_A_FINGERPRINT)
        .execute(&mut **tx)
        .await
        .context("setting the planner for the findings found again")?;
    let mut stored = 0;
    let mut done = 0;
    for chunk in fingerprints.chunks(FINGERPRINTS_PER_STATEMENT) {
        let mut list = ArrayLiteral::with_capacity(chunk.len() * 35);
        for fingerprint in chunk {
            list.text(Some(fingerprint));
        }
        let query = sqlx::query(SEEN_AGAIN)
            .bind(merchant)
            .bind(run_id)
            .bind(seen_at)
            .bind(list.finish());
        let progress = (done, chunk.len(), fingerprints.len());
        stored += execute_chunk(tx, query, "unchanged findings", progress).await?;
        done += chunk.len();
    }
    Ok(stored)
}

/// A stored finding as [`known_before`] reads it.
struct Known {
    first_seen_at: String,
    status: String,
    /// Its stored `value_digest`, on PostgreSQL, when it has one.
    digest: Option<String>,
}

/// The stored findings of the days of the run's findings, read before the run writes:
/// fingerprint → (`first_seen_at`, `status`). A run's finding among them is known (found
/// again), any other is new; a finding's day is part of its fingerprint, so no known one is
/// missed. For each day the database joins them into one text and returns one row, not a row
/// a finding: a row returned costs a trip through the driver, and a rerun finds 100k findings
/// again. A day at a time bounds that text by one day's findings. The run holds its
/// merchant's lock, so no other run adds findings meanwhile.
async fn known_before(
    tx: &mut Transaction<'_, Any>,
    merchant: &str,
    rows: &[FindingRow<'_>],
    dialect: Dialect,
) -> Result<HashMap<String, Known>> {
    let days: BTreeSet<&str> = rows.iter().map(|r| r.business_date.as_str()).collect();
    // Fingerprints and digests are hex, instants RFC 3339 and statuses words: a space and a
    // comma separate them. PostgreSQL adds the digest of the stored values; one edited by hand
    // into anything else still reads as one word, which matches no run's digest.
    let digest = if dialect.numbered {
        " || ' ' || coalesce(translate(value_digest, ' ,', '..'), '-')"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {}(fingerprint || ' ' || first_seen_at || ' ' || status{digest}, ',') \
         FROM discrepancies WHERE merchant = $1 AND business_date = $2",
        dialect.join_text()
    );
    let mut known = HashMap::new();
    for day in days {
        let joined: Option<String> = sqlx::query_scalar(&sql)
            .bind(merchant)
            .bind(day)
            .fetch_one(&mut **tx)
            .await
            .with_context(|| format!("reading which of the run's findings of {day} are known"))?;
        for entry in joined.as_deref().unwrap_or_default().split_terminator(',') {
            let mut parts = entry.split(' ');
            let (Some(fingerprint), Some(first_seen), Some(status), digest, None) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                bail!("reading the known findings of {day}: unexpected entry {entry:?}");
            };
            known.insert(
                fingerprint.to_string(),
                Known {
                    first_seen_at: first_seen.to_string(),
                    status: status.to_string(),
                    digest: digest.filter(|d| *d != "-").map(str::to_string),
                },
            );
        }
    }
    Ok(known)
}

/// Resolves the open findings of the run's complete days (and `stores`, when not empty) that
/// the run did not see. Returns how many, and the first [`ChangeSummary::RESOLVED_LISTED`] of
/// them, largest delta first (then by id), as they now are. A finding's store is the ledger's,
/// else Flexiti's; one with neither is in no store.
async fn resolve_unseen(
    tx: &mut Transaction<'_, Any>,
    merchant: &str,
    report: &RunReport,
    stores: &[String],
    dialect: Dialect,
) -> Result<(usize, Vec<StoredDiscrepancy>)> {
    let run_id = report.run_id;
    let mut count: u64 = 0;
    let store_chunks: Vec<&[String]> = if stores.is_empty() {
        vec![&[]]
    } else {
        // Few stores (one from `run --store`): numbered placeholders cost nothing here.
        stores
            .chunks(dialect.max_parameters.saturating_sub(4).clamp(1, 1000))
            .collect()
    };
    for (from, to) in complete_spans(report.range, &report.incomplete_days) {
        for &chunk in &store_chunks {
            let mut sql = String::from(
                "UPDATE discrepancies SET status = 'resolved', resolved_run = $1 \
                 WHERE merchant = $4 AND status = 'open' AND business_date >= $2 \
                 AND business_date <= $3 AND last_seen_run <> $1",
            );
            if !chunk.is_empty() {
                let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 5)).collect();
                sql.push_str(&format!(
                    " AND COALESCE(ledger_store, flexiti_store) IN ({})",
                    list.join(", ")
                ));
            }
            let mut query = sqlx::query(&sql)
                .bind(run_id)
                .bind(from.to_string())
                .bind(to.to_string())
                .bind(merchant);
            for store in chunk {
                query = query.bind(store.as_str());
            }
            count += query
                .execute(&mut **tx)
                .await
                .with_context(|| format!("resolving the findings of {from}..{to} not found"))?
                .rows_affected();
        }
    }
    let count = usize::try_from(count).context("counting the resolved findings")?;
    if count == 0 {
        return Ok((0, Vec::new()));
    }
    // Through the day index: only this run's days can hold what it resolved.
    let listed = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM discrepancies WHERE merchant = $1 AND business_date >= $2 \
         AND business_date <= $3 AND status = 'resolved' AND resolved_run = $4 \
         ORDER BY ABS(delta_cents) DESC, id LIMIT $5"
    ))
    .bind(merchant)
    .bind(report.range.from.to_string())
    .bind(report.range.to.to_string())
    .bind(run_id)
    .bind(i64::try_from(ChangeSummary::RESOLVED_LISTED).unwrap_or(i64::MAX))
    .fetch_all(&mut **tx)
    .await
    .context("reading back the resolved findings the email lists")?;
    let listed = listed.iter().map(from_row).collect::<Result<_>>()?;
    Ok((count, listed))
}

/// The maximal spans of consecutive days of `range` that are not incomplete.
fn complete_spans(range: DayRange, incomplete: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    let mut cuts: Vec<NaiveDate> = incomplete
        .iter()
        .copied()
        .filter(|d| range.contains(*d))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut spans = Vec::new();
    let mut start = Some(range.from);
    for cut in cuts {
        if let Some(first) = start
            && first < cut
            && let Some(last) = cut.pred_opt()
        {
            spans.push((first, last));
        }
        start = cut.succ_opt();
    }
    if let Some(first) = start
        && first <= range.to
    {
        spans.push((first, range.to));
    }
    spans
}

/// One finding ready to bind: its values converted once, before any statement runs, so that
/// a value the database cannot hold fails the run before anything is written.
struct FindingRow<'a> {
    d: &'a Discrepancy,
    fingerprint: String,
    business_date: String,
    authorization_id: Option<i64>,
    flexiti_at: Option<String>,
    ledger_at: Option<String>,
    ledger_line: Option<i64>,
    /// The [`ValuesDigest`] of the values the row writes into a known finding.
    digest: String,
}

/// One column of [`FindingRow::columns`]: how a row gives its value.
enum Column {
    Text(for<'r, 'x> fn(&'r FindingRow<'x>) -> Option<&'r str>),
    Int(fn(&FindingRow<'_>) -> Option<i64>),
}

/// The 26 columns of [`FindingRow::columns`], in order.
const ARRAY_COLUMNS: [Column; 26] = [
    Column::Text(|r| Some(r.fingerprint.as_str())),
    Column::Text(|r| Some(r.business_date.as_str())),
    Column::Text(|r| Some(r.d.category.as_str())),
    Column::Text(|r| Some(r.d.severity.as_str())),
    Column::Text(|r| Some(r.d.reference.as_str())),
    Column::Text(|r| Some(r.d.kind.as_str())),
    Column::Int(|r| r.d.flexiti_amount.map(Amount::cents)),
    Column::Int(|r| r.d.ledger_amount.map(Amount::cents)),
    Column::Int(|r| Some(r.d.delta.cents())),
    Column::Int(|r| r.d.day_delta),
    Column::Text(|r| Some(r.d.pass.as_str())),
    Column::Text(|r| r.d.flexiti_id.as_deref()),
    Column::Int(|r| r.authorization_id),
    Column::Text(|r| r.d.flexiti_store.as_deref()),
    Column::Text(|r| r.flexiti_at.as_deref()),
    Column::Text(|r| r.d.ledger_store.as_deref()),
    Column::Text(|r| r.d.ledger_register.as_deref()),
    Column::Text(|r| r.ledger_at.as_deref()),
    Column::Text(|r| r.d.ledger_file.as_deref()),
    Column::Int(|r| r.ledger_line),
    Column::Text(|r| r.d.ledger_id.as_deref()),
    Column::Text(|r| Some(r.d.explanation.as_str())),
    Column::Text(|r| r.d.suggestion.as_ref().map(|s| s.reference.as_str())),
    Column::Text(|r| r.d.suggestion.as_ref().map(|s| s.id.as_str())),
    Column::Text(|r| r.d.suggestion.as_ref().map(|s| s.why.as_str())),
    Column::Text(|r| Some(r.digest.as_str())),
];

/// `f` over `items`, in order, dealt across the machine's cores (at most four; item `i` to
/// core `i % cores`, so that unequal items, such as short and long columns, share out evenly):
/// the CPU work of storing a run's findings (fingerprints, digests, array literals), which
/// awaits nothing and holds no lock of its own.
fn in_parallel<'t, T: Sync, U: Send>(items: &'t [T], f: impl Fn(&'t T) -> U + Sync) -> Vec<U> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if cores < 2 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    let dealt: Vec<Vec<U>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|core| {
                scope.spawn(move || items.iter().skip(core).step_by(cores).map(f).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut dealt: Vec<_> = dealt.into_iter().map(Vec::into_iter).collect();
    (0..items.len())
        .filter_map(|i| dealt.get_mut(i % cores).and_then(Iterator::next))
        .collect()
}

impl<'a> FindingRow<'a> {
    fn of(d: &'a Discrepancy, fingerprint: String) -> Result<Self> {
        let context = || {
            format!(
                "storing finding {fingerprint} ({} {})",
                d.category, d.reference
            )
        };
        let mut row = FindingRow {
            d,
            business_date: d.business_date.to_string(),
            authorization_id: d
                .authorization_id
                .map(|a| to_i64(a, "authorization id"))
                .transpose()
                .with_context(context)?,
            flexiti_at: d.flexiti_at.map(ts),
            ledger_at: d.ledger_at.map(ts),
            ledger_line: d
                .ledger_line
                .map(|l| to_i64(l, "ledger line"))
                .transpose()
                .with_context(context)?,
            fingerprint,
            digest: String::new(),
        };
        row.digest = row.values_digest();
        Ok(row)
    }

    /// The rows' 26 values as one PostgreSQL array literal a column, in the order of
    /// [`bind`](FindingRow::bind), [`bind_suggestion`](FindingRow::bind_suggestion), then the
    /// digest: the arrays `$4` to `$29` of [`insert_arrays!`]. The columns are written on the
    /// machine's cores side by side ([`in_parallel`]).
    fn columns(rows: &[&FindingRow<'a>]) -> Vec<String> {
        in_parallel(&ARRAY_COLUMNS, |column| match column {
            Column::Text(value) => {
                let mut a = ArrayLiteral::with_capacity(rows.len() * 16);
                for row in rows {
                    a.text(value(row));
                }
                a.finish()
            }
            Column::Int(value) => {
                let mut a = ArrayLiteral::with_capacity(rows.len() * 8);
                for row in rows {
                    a.int(value(row));
                }
                a.finish()
            }
        })
    }

    /// The [`ValuesDigest`] of the values of `VALUE_COLUMNS`, as the run gives them.
    fn values_digest(&self) -> String {
        let d = self.d;
        let s = d.suggestion.as_ref();
        let mut digest = ValuesDigest::default();
        digest.text(Some(d.severity.as_str()));
        digest.int(d.flexiti_amount.map(Amount::cents));
        digest.int(d.ledger_amount.map(Amount::cents));
        digest.int(Some(d.delta.cents()));
        digest.int(d.day_delta);
        digest.text(Some(d.pass.as_str()));
        digest.int(self.authorization_id);
        digest.text(d.flexiti_store.as_deref());
        digest.text(self.flexiti_at.as_deref());
        digest.text(d.ledger_store.as_deref());
        digest.text(d.ledger_register.as_deref());
        digest.text(self.ledger_at.as_deref());
        digest.text(d.ledger_file.as_deref());
        digest.int(self.ledger_line);
        digest.text(Some(d.explanation.as_str()));
        digest.text(s.map(|s| s.reference.as_str()));
        digest.text(s.map(|s| s.id.as_str()));
        digest.text(s.map(|s| s.why.as_str()));
        digest.finish()
    }

    /// The row's own 22 values (after the merchant), in the order of [`row_columns!`].
    fn bind<'q>(&'q self, args: &mut AnyArguments<'q>) -> Result<()> {
        let d = self.d;
        add(args, self.fingerprint.as_str())?;
        add(args, self.business_date.as_str())?;
        add(args, d.category.as_str())?;
        add(args, d.severity.as_str())?;
        add(args, d.reference.as_str())?;
        add(args, d.kind.as_str())?;
        add(args, d.flexiti_amount.map(Amount::cents))?;
        add(args, d.ledger_amount.map(Amount::cents))?;
        add(args, d.delta.cents())?;
        add(args, d.day_delta)?;
        add(args, d.pass.as_str())?;
        add(args, d.flexiti_id.as_deref())?;
        add(args, self.authorization_id)?;
        add(args, d.flexiti_store.as_deref())?;
        add(args, self.flexiti_at.as_deref())?;
        add(args, d.ledger_store.as_deref())?;
        add(args, d.ledger_register.as_deref())?;
        add(args, self.ledger_at.as_deref())?;
        add(args, d.ledger_file.as_deref())?;
        add(args, self.ledger_line)?;
        add(args, d.ledger_id.as_deref())?;
        add(args, d.explanation.as_str())
    }

    /// The suggested counterpart's three values, which end [`UPSERT`]'s columns.
    fn bind_suggestion<'q>(&'q self, args: &mut AnyArguments<'q>) -> Result<()> {
        let s = self.d.suggestion.as_ref();
        add(args, s.map(|s| s.reference.as_str()))?;
        add(args, s.map(|s| s.id.as_str()))?;
        add(args, s.map(|s| s.why.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).expect("valid day")
    }

    fn finding() -> Discrepancy {
        use crate::domain::{Kind, Pass, Severity};
        use chrono::{TimeZone, Utc};
        Discrepancy {
            business_date: d(23),
            category: Category::AmountMismatch,
            severity: Severity::Error,
            reference: "INV-1".into(),
            kind: Kind::Sale,
            flexiti_amount: Some(Amount::from_cents(129_999)),
            ledger_amount: Some(Amount::from_cents(128_799)),
            delta: Amount::from_cents(-1_200),
            day_delta: Some(0),
            pass: Pass::Amount,
            flexiti_id: Some("capture:1".into()),
            authorization_id: Some(7),
            flexiti_store: Some("00-1".into()),
            flexiti_at: Utc.with_ymd_and_hms(2026, 11, 23, 18, 42, 9).single(),
            ledger_store: Some("00-1".into()),
            ledger_register: Some("R1".into()),
            ledger_at: Utc.with_ymd_and_hms(2026, 11, 23, 19, 5, 11).single(),
            ledger_file: Some("ledger.csv".into()),
            ledger_line: Some(17),
            ledger_id: Some("l1".into()),
            explanation: "ledger 1287.99, flexiti 1299.99".into(),
            suggestion: Some(crate::domain::Suggestion {
                reference: "INV-2".into(),
                id: "capture:2".into(),
                why: "one digit apart".into(),
            }),
        }
    }

    fn digest_of(d: &Discrepancy) -> String {
        FindingRow::of(d, d.fingerprint()).expect("row").digest
    }

    /// A value the upsert would change that the digest missed would leave a finding found
    /// again with its old value: every one of them moves the digest.
    #[test]
    fn every_value_a_rerun_writes_moves_the_digest() {
        use crate::domain::{Pass, Severity};
        let base = finding();
        type Change = (&'static str, fn(&mut Discrepancy));
        let changes: [Change; 18] = [
            ("severity", |d| d.severity = Severity::Warning),
            ("flexiti_amount_cents", |d| d.flexiti_amount = None),
            ("ledger_amount_cents", |d| {
                d.ledger_amount = Some(Amount::from_cents(1))
            }),
            ("delta_cents", |d| d.delta = Amount::from_cents(-1_201)),
            ("day_delta", |d| d.day_delta = Some(1)),
            ("pass", |d| d.pass = Pass::Leftover),
            ("authorization_id", |d| d.authorization_id = Some(8)),
            ("flexiti_store", |d| d.flexiti_store = None),
            ("flexiti_at", |d| d.flexiti_at = d.ledger_at),
            ("ledger_store", |d| d.ledger_store = Some("00-2".into())),
            ("ledger_register", |d| d.ledger_register = Some("R".into())),
            ("ledger_at", |d| d.ledger_at = None),
            ("ledger_file", |d| {
                d.ledger_file = Some("ledger2.csv".into())
            }),
            ("ledger_line", |d| d.ledger_line = Some(18)),
            ("explanation", |d| d.explanation.push('.')),
            ("suggested_reference", |d| {
                d.suggestion.as_mut().expect("suggestion").reference = "INV-3".into()
            }),
            ("suggested_id", |d| {
                d.suggestion.as_mut().expect("suggestion").id.push('0')
            }),
            ("suggestion", |d| {
                d.suggestion.as_mut().expect("suggestion").why.clear()
            }),
        ];
        let columns: Vec<&str> = changes.iter().map(|(column, _)| *column).collect();
        assert_eq!(columns, VALUE_COLUMNS);
        let before = digest_of(&base);
        assert_eq!(before.len(), 32);
        assert_eq!(before, digest_of(&base.clone()));
        for (column, change) in changes {
            let mut moved = base.clone();
            change(&mut moved);
            assert_ne!(digest_of(&moved), before, "{column}");
        }
        let mut no_suggestion = base.clone();
        no_suggestion.suggestion = None;
        assert_ne!(digest_of(&no_suggestion), before);
    }

    #[test]
    fn in_parallel_keeps_the_order_of_its_items() {
        for n in [0usize, 1, 2, 3, 26, 1001] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = in_parallel(&items, |i| i * 2);
            assert_eq!(
                doubled,
                items.iter().map(|i| i * 2).collect::<Vec<_>>(),
                "{n}"
            );
        }
    }

    #[test]
    fn the_digested_columns_are_those_an_upsert_takes_from_the_run_in_order() {
        let taken: Vec<&str> = on_conflict!()
            .split(" = excluded.")
            .skip(1)
            .filter_map(|rest| rest.split(&[',', ' '][..]).next())
            .filter(|column| !column.starts_with("last_seen_") && *column != "value_digest")
            .collect();
        assert_eq!(taken, VALUE_COLUMNS);
    }

    #[test]
    fn the_complete_spans_are_the_days_between_incomplete_ones() {
        let range = DayRange::new(d(20), d(26));
        assert_eq!(complete_spans(range, &[]), vec![(d(20), d(26))]);
        assert_eq!(
            complete_spans(range, &[d(23), d(20), d(26), d(23), d(30)]),
            vec![(d(21), d(22)), (d(24), d(25))]
        );
        assert_eq!(
            complete_spans(range, &[d(21), d(22)]),
            vec![(d(20), d(20)), (d(23), d(26))]
        );
        let every_day: Vec<NaiveDate> = range.days().collect();
        assert!(complete_spans(range, &every_day).is_empty());
        let last = DayRange::single(NaiveDate::MAX);
        assert_eq!(
            complete_spans(last, &[]),
            vec![(NaiveDate::MAX, NaiveDate::MAX)]
        );
        assert!(complete_spans(last, &[NaiveDate::MAX]).is_empty());
    }
}
