//! The store on a real SQLite file and a real PostgreSQL database: every scenario runs on both.
//!
//! PostgreSQL tests create a uniquely named database on `FLEXITI_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and drop it afterwards; they fail, not skip,
//! when the server is unreachable.

#[macro_use]
mod common;

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use flexiti_recon::domain::{
    Amount, Category, DayRange, Discrepancy, Kind, LedgerReject, Pass, Suggestion,
};
use flexiti_recon::report::{
    ChangeSummary, DayStoreTotals, FailedCall, FindingStatus, RunReport, RunStatus, SideTotals,
};
use flexiti_recon::store::{DiscrepancyFilter, Store, StoreError};

use common::{day, on_postgres, on_sqlite};

/// The tenant every scenario stores as.
const MERCHANT: &str = "merchant-1";

on_both!(
    migrations_run_on_connect_and_are_idempotent,
    a_rerun_of_the_same_day_upserts_and_keeps_first_seen,
    a_finding_no_longer_found_is_resolved_but_not_on_an_incomplete_day,
    a_resolved_finding_that_reappears_is_reopened,
    a_run_restricted_to_a_store_resolves_only_that_store,
    an_acknowledged_finding_stays_acknowledged_across_reruns,
    amounts_and_every_field_round_trip_exactly,
    a_failure_inside_finish_run_changes_nothing_and_the_next_run_abandons_it,
    a_failed_run_records_its_error_and_is_not_a_success,
    the_lock_excludes_a_second_holder_until_released,
    thousands_of_findings_span_several_statements_and_rerun_exactly,
    a_finding_seen_twice_in_one_run_fails_the_run_and_stores_nothing,
    many_rejected_rows_failed_calls_and_totals_are_stored_in_order,
    only_the_complete_days_between_incomplete_ones_are_resolved,
    a_store_restricted_run_reads_the_flexiti_store_when_the_ledger_has_none,
    text_that_looks_like_syntax_round_trips_exactly,
    a_finding_whose_stored_digest_is_missing_or_stale_is_rewritten,
);

fn at(d: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, hour, 0, 0)
        .single()
        .expect("valid time")
}

fn finding(date: NaiveDate, reference: &str, ledger: i64) -> Discrepancy {
    Discrepancy {
        business_date: date,
        category: Category::MissingInFlexiti,
        severity: Category::MissingInFlexiti.severity(),
        reference: reference.to_string(),
        kind: Kind::Sale,
        flexiti_amount: None,
        ledger_amount: Some(Amount::from_cents(ledger)),
        delta: Amount::from_cents(ledger),
        day_delta: None,
        pass: Pass::Leftover,
        flexiti_id: None,
        authorization_id: None,
        flexiti_store: None,
        flexiti_at: None,
        ledger_store: Some("00-12345".to_string()),
        ledger_register: Some("R03".to_string()),
        ledger_at: Some(at(date.day(), 19)),
        ledger_file: Some("ledger.csv".to_string()),
        ledger_line: Some(7),
        ledger_id: Some(format!("{reference}#1")),
        explanation: "ledger sale with no Flexiti record".to_string(),
        suggestion: None,
    }
}

fn report(
    run_id: i64,
    range: DayRange,
    finished: DateTime<Utc>,
    found: Vec<Discrepancy>,
) -> RunReport {
    common::run_report(run_id, range, finished, found)
}

async fn run(store: &Store, report_of: impl FnOnce(i64) -> RunReport) -> ChangeSummary {
    let mut r = report_of(0);
    r.run_id = store
        .begin_run(r.range, "test", "xref", "0.1.0")
        .await
        .expect("begin run");
    store.finish_run(&r).await.expect("finish run")
}

async fn all(store: &Store) -> Vec<flexiti_recon::report::StoredDiscrepancy> {
    store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list discrepancies")
}

/// Runs `sql` on the database at `url` outside any store, as an older release or a person at
/// a SQL prompt would.
/// Asserts the store holds exactly `found`, compared in ledger-id order.
async fn holds_exactly(store: &Store, found: &[Discrepancy]) {
    let mut stored: Vec<Discrepancy> = all(store)
        .await
        .into_iter()
        .map(|s| s.discrepancy)
        .collect();
    let mut expected = found.to_vec();
    stored.sort_by(|a, b| a.ledger_id.cmp(&b.ledger_id));
    expected.sort_by(|a, b| a.ledger_id.cmp(&b.ledger_id));
    assert_eq!(stored, expected);
}

async fn execute_raw(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::query(sql).execute(&mut conn).await.expect(sql);
    conn.close().await.expect("close");
}

mod scenarios {
    use super::*;

    pub async fn migrations_run_on_connect_and_are_idempotent(url: String) {
        let store = Store::connect(&url, MERCHANT)
            .await
            .expect("first connect migrates");
        store.migrate().await.expect("migrating again is a no-op");
        store.close().await;
        let again = Store::connect(&url, MERCHANT)
            .await
            .expect("reconnect migrates again");
        assert!(again.list_runs(10).await.expect("list runs").is_empty());
        assert_eq!(
            again
                .last_successful_run_finished_at()
                .await
                .expect("status"),
            None
        );
    }

    pub async fn a_rerun_of_the_same_day_upserts_and_keeps_first_seen(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let first = run(&store, |id| {
            report(id, range, at(24, 6), vec![finding(day(23), "ORD-1", 1000)])
        })
        .await;
        assert_eq!(first.new.len(), 1);
        let before = all(&store).await;
        let changed = finding(day(23), "ORD-1", 1250);
        let second = run(&store, |id| {
            report(id, range, at(27, 6), vec![changed.clone()])
        })
        .await;
        assert!(second.new.is_empty());
        assert_eq!(second.still_open, vec![(changed.fingerprint(), 3)]);
        let after = all(&store).await;
        assert_eq!(after.len(), 1, "a rerun never duplicates a finding");
        assert_eq!(after[0].id, before[0].id);
        assert_eq!(after[0].first_seen_run, before[0].first_seen_run);
        assert_eq!(after[0].first_seen_at, at(24, 6));
        assert_eq!(after[0].last_seen_at, at(27, 6));
        assert!(after[0].last_seen_run > before[0].last_seen_run);
        assert_eq!(
            after[0].discrepancy.ledger_amount,
            Some(Amount::from_cents(1250))
        );
        assert_eq!(after[0].status, FindingStatus::Open);
    }

    pub async fn a_finding_no_longer_found_is_resolved_but_not_on_an_incomplete_day(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::new(day(22), day(23));
        let on_22 = finding(day(22), "ORD-22", 500);
        let on_23 = finding(day(23), "ORD-23", 700);
        let outside = finding(day(21), "ORD-21", 900);
        run(&store, |id| {
            report(
                id,
                DayRange::new(day(21), day(23)),
                at(24, 6),
                vec![on_22.clone(), on_23.clone(), outside.clone()],
            )
        })
        .await;
        let changes = run(&store, |id| {
            let mut r = report(id, range, at(25, 6), Vec::new());
            r.incomplete_days = vec![day(23)];
            r.status = RunStatus::Partial;
            r
        })
        .await;
        assert_eq!((changes.resolved_count, changes.resolved.len()), (1, 1));
        assert_eq!(changes.resolved[0].fingerprint, on_22.fingerprint());
        let second_run = store.list_runs(1).await.expect("runs")[0].id;
        assert_eq!(changes.resolved[0].resolved_run, Some(second_run));
        let stored = all(&store).await;
        let status_of = |d: &Discrepancy| {
            stored
                .iter()
                .find(|s| s.fingerprint == d.fingerprint())
                .map(|s| s.status)
        };
        assert_eq!(status_of(&on_22), Some(FindingStatus::Resolved));
        assert_eq!(
            status_of(&on_23),
            Some(FindingStatus::Open),
            "day 23 was incomplete"
        );
        assert_eq!(
            status_of(&outside),
            Some(FindingStatus::Open),
            "day 21 is not in range"
        );
        let partial = store
            .get_run(second_run)
            .await
            .expect("get run")
            .expect("run exists");
        assert_eq!(partial.status, RunStatus::Partial);
        assert_eq!(partial.incomplete_days, vec![day(23)]);
    }

    pub async fn a_resolved_finding_that_reappears_is_reopened(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let f = finding(day(23), "ORD-1", 1000);
        run(&store, |id| report(id, range, at(24, 6), vec![f.clone()])).await;
        run(&store, |id| report(id, range, at(25, 6), Vec::new())).await;
        assert_eq!(all(&store).await[0].status, FindingStatus::Resolved);
        let changes = run(&store, |id| report(id, range, at(26, 6), vec![f.clone()])).await;
        assert_eq!(changes.still_open, vec![(f.fingerprint(), 2)]);
        let stored = all(&store).await;
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].status, FindingStatus::Open);
        assert_eq!(stored[0].resolved_run, None);
    }

    pub async fn a_run_restricted_to_a_store_resolves_only_that_store(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let mut other = finding(day(23), "ORD-OTHER", 300);
        other.ledger_store = Some("00-99999".to_string());
        let mine = finding(day(23), "ORD-MINE", 400);
        run(&store, |id| {
            report(id, range, at(24, 6), vec![other.clone(), mine.clone()])
        })
        .await;
        let id = store
            .begin_run(range, "manual", "xref", "0.1.0")
            .await
            .expect("begin");
        let scope = ["00-12345".to_string()];
        let changes = store
            .finish_run_for_stores(&report(id, range, at(25, 6), Vec::new()), &scope)
            .await
            .expect("finish");
        assert_eq!((changes.resolved_count, changes.resolved.len()), (1, 1));
        assert_eq!(changes.resolved[0].fingerprint, mine.fingerprint());
        let open = DiscrepancyFilter {
            status: Some(FindingStatus::Open),
            ..DiscrepancyFilter::default()
        };
        let still = store.list_discrepancies(&open).await.expect("list");
        assert_eq!(still.len(), 1);
        assert_eq!(still[0].fingerprint, other.fingerprint());
    }

    pub async fn an_acknowledged_finding_stays_acknowledged_across_reruns(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let f = finding(day(23), "ORD-1", 1000);
        run(&store, |id| report(id, range, at(24, 6), vec![f.clone()])).await;
        let id = all(&store).await[0].id;
        store
            .acknowledge(id, "refunded by cheque")
            .await
            .expect("acknowledge");
        let changes = run(&store, |rid| report(rid, range, at(25, 6), vec![f.clone()])).await;
        assert!(changes.new.is_empty() && changes.still_open.is_empty());
        run(&store, |rid| report(rid, range, at(26, 6), Vec::new())).await;
        let stored = store
            .get_discrepancy(id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.status, FindingStatus::Acknowledged);
        assert_eq!(stored.note.as_deref(), Some("refunded by cheque"));
        let filter = DiscrepancyFilter {
            status: Some(FindingStatus::Acknowledged),
            reference: Some("ORD-1".to_string()),
            ..DiscrepancyFilter::default()
        };
        assert_eq!(
            store
                .list_discrepancies(&filter)
                .await
                .expect("filter")
                .len(),
            1
        );
        let err = store
            .acknowledge(id + 1000, "x")
            .await
            .expect_err("unknown id");
        assert!(
            matches!(err.downcast_ref(), Some(StoreError::UnknownDiscrepancy(n)) if *n == id + 1000)
        );
        assert!(err.to_string().contains(&(id + 1000).to_string()));
    }

    pub async fn amounts_and_every_field_round_trip_exactly(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let big = Amount::parse("99999999999.99", false).expect("amount");
        let exact = Amount::parse("1299.99", false).expect("amount");
        let full = Discrepancy {
            business_date: day(23),
            category: Category::AmountMismatch,
            severity: Category::AmountMismatch.severity(),
            reference: "ORD-20261123-000123".to_string(),
            kind: Kind::Return,
            flexiti_amount: Some(exact),
            ledger_amount: Some(big),
            delta: big.checked_sub(exact).expect("fits"),
            day_delta: Some(-1),
            pass: Pass::Amount,
            flexiti_id: Some("return:9000000000123456".to_string()),
            authorization_id: Some(9_000_000_000_000_001),
            flexiti_store: Some("00-12345".to_string()),
            flexiti_at: Some(at(23, 19) + chrono::Duration::nanoseconds(123_456_789)),
            ledger_store: Some("00-99999".to_string()),
            ledger_register: Some("R03".to_string()),
            ledger_at: Some(at(23, 18)),
            ledger_file: Some("ledger 'nov'.csv".to_string()),
            ledger_line: Some(123_456),
            ledger_id: Some("2026-11-23T18:00|00-99999|R03|99999999999.99|1".to_string()),
            explanation: "amount pass: ledger 99999999999.99 vs Flexiti 1299.99".to_string(),
            suggestion: Some(Suggestion {
                reference: "ORD-20261123-00123".to_string(),
                id: "ledger 'nov'.csv:7".to_string(),
                why: "probably ledger 'nov'.csv:7: one character dropped".to_string(),
            }),
        };
        let totals = DayStoreTotals {
            business_date: day(23),
            store: "00-12345".to_string(),
            flexiti: SideTotals {
                count: 3,
                sales: big,
                returns: exact,
            },
            ledger: SideTotals {
                count: 2,
                sales: exact,
                returns: Amount::ZERO,
            },
        };
        let call = FailedCall {
            endpoint: "GET /v2.5.1/client-id/{client_id}/captures".to_string(),
            parameters: "creation_date_from=2026-11-23&page_number=2".to_string(),
            http_status: Some(503),
            error_code: None,
            message: "service unavailable".to_string(),
            attempts: 4,
            duration_ms: 12_345,
            x_reference_id: "xref-1".to_string(),
            utc_date: Some(day(23)),
        };
        let reject = LedgerReject {
            file: "ledger.csv".to_string(),
            line: 42,
            reason: "bad amount '12,3.4'".to_string(),
            raw: String::new(),
        };
        let run_id = store
            .begin_run(range, "nightly", "xref", "0.1.0")
            .await
            .expect("begin");
        let mut r = report(run_id, range, at(24, 6), vec![full.clone()]);
        r.totals = vec![totals.clone()];
        r.failed_calls = vec![call.clone()];
        r.rejects = vec![reject.clone()];
        r.flexiti_records = 3;
        r.ledger_rows = 2;
        r.matched_pairs = 1;
        r.ignored_other_tender = 5;
        store.finish_run(&r).await.expect("finish");

        let stored = all(&store).await;
        assert_eq!(stored[0].discrepancy, full);
        assert_eq!(
            stored[0]
                .discrepancy
                .ledger_amount
                .map(|a| a.to_string())
                .as_deref(),
            Some("99999999999.99")
        );
        assert_eq!(
            store.day_totals(day(23), day(23)).await.expect("totals"),
            vec![totals]
        );
        assert_eq!(store.failed_calls(run_id).await.expect("calls"), vec![call]);
        assert_eq!(store.rejects(run_id).await.expect("rejects"), vec![reject]);
        let stored_run = store.get_run(run_id).await.expect("get").expect("exists");
        assert_eq!(stored_run.status, RunStatus::Succeeded);
        assert_eq!(stored_run.trigger, "nightly");
        assert_eq!(stored_run.flexiti.sales, big);
        assert_eq!(stored_run.ledger.sales, exact);
        assert_eq!(
            (
                stored_run.discrepancies,
                stored_run.failed_calls,
                stored_run.rejected_rows
            ),
            (1, 1, 1)
        );
        assert_eq!((stored_run.ignored_rows, stored_run.matched_pairs), (5, 1));
        assert_eq!(stored_run.duration_ms, Some(2000));
        assert_eq!(
            store
                .last_successful_run_finished_at()
                .await
                .expect("status"),
            Some(at(24, 6))
        );
    }

    pub async fn a_failure_inside_finish_run_changes_nothing_and_the_next_run_abandons_it(
        url: String,
    ) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let kept = finding(day(23), "ORD-KEPT", 100);
        run(&store, |id| {
            report(id, range, at(24, 6), vec![kept.clone()])
        })
        .await;
        let before = all(&store).await;

        let run_id = store
            .begin_run(range, "test", "xref", "0.1.0")
            .await
            .expect("begin");
        let mut bad = report(
            run_id,
            range,
            at(25, 6),
            vec![finding(day(23), "ORD-NEW", 5)],
        );
        // Findings are written first; this row fails after them, inside the transaction.
        bad.rejects = vec![LedgerReject {
            file: "ledger.csv".to_string(),
            line: u64::MAX,
            reason: "unreachable".to_string(),
            raw: String::new(),
        }];
        let err = store.finish_run(&bad).await.expect_err("line out of range");
        assert!(format!("{err:#}").contains("ledger.csv"), "{err:#}");
        assert_eq!(all(&store).await, before, "the previous state is intact");
        assert!(store.rejects(run_id).await.expect("rejects").is_empty());
        let interrupted = store.get_run(run_id).await.expect("get").expect("exists");
        assert_eq!(interrupted.status, RunStatus::Running);

        let next = store
            .begin_run(range, "test", "xref", "0.1.0")
            .await
            .expect("begin");
        let abandoned = store.get_run(run_id).await.expect("get").expect("exists");
        assert_eq!(abandoned.status, RunStatus::Abandoned);
        assert!(abandoned.error.is_some());
        assert_eq!(
            store
                .get_run(next)
                .await
                .expect("get")
                .expect("exists")
                .status,
            RunStatus::Running
        );
        let again = store
            .finish_run(&report(run_id, range, at(25, 7), Vec::new()))
            .await;
        assert!(again.is_err(), "an abandoned run cannot store results");
    }

    pub async fn a_failed_run_records_its_error_and_is_not_a_success(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let id = store
            .begin_run(DayRange::single(day(23)), "cron", "xref", "0.1.0")
            .await
            .expect("begin");
        store
            .fail_run(id, "ledger file missing: /data/ledger.csv")
            .await
            .expect("fail");
        let failed = store.get_run(id).await.expect("get").expect("exists");
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(
            failed.error.as_deref(),
            Some("ledger file missing: /data/ledger.csv")
        );
        assert!(failed.finished_at.is_some());
        assert_eq!(
            store
                .last_successful_run_finished_at()
                .await
                .expect("status"),
            None
        );
        let err = store.fail_run(id + 1, "x").await.expect_err("unknown run");
        assert!(matches!(
            err.downcast_ref(),
            Some(StoreError::UnknownRun(_))
        ));
    }

    pub async fn the_lock_excludes_a_second_holder_until_released(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let other = Store::connect(&url, MERCHANT)
            .await
            .expect("second connect");
        let first = store
            .try_lock("merchant-1")
            .await
            .expect("lock")
            .expect("free");
        assert!(other.try_lock("merchant-1").await.expect("lock").is_none());
        let unrelated = other.try_lock("merchant-2").await.expect("lock");
        assert!(unrelated.is_some(), "another name is another lock");
        first.release().await.expect("release");
        let second = other
            .try_lock("merchant-1")
            .await
            .expect("lock")
            .expect("released");
        drop(second);
        // A dropped guard's connection closes; the server frees the lock when it notices.
        let mut retaken = None;
        for _ in 0..50 {
            retaken = store.try_lock("merchant-1").await.expect("lock");
            if retaken.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            retaken.is_some(),
            "the lock was not freed after its guard was dropped"
        );
    }

    /// More findings than one statement holds on either backend (SQLite: 1260 per statement,
    /// PostgreSQL: 2000), so every boundary is crossed: the first run stores each once, the
    /// rerun updates half, resolves the other half, reopens a resolved one and keeps an
    /// acknowledged one, and reports them in the run's order.
    /// PostgreSQL receives a run's findings as one array literal a column
    /// (`src/store/pg_array.rs`): quotes, backslashes, braces, commas, the word NULL, blanks and
    /// line breaks in a finding's text must come back as they went in, and a missing value
    /// must stay missing, next to the text "NULL".
    pub async fn text_that_looks_like_syntax_round_trips_exactly(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let hostile = [
            r#"ORD "quoted" \ back\slash"#,
            "{a,b},{c}",
            "NULL",
            "",
            " leading and trailing ",
            "line\nbreak\ttab\r",
            "caf\u{e9} \u{1f9fe} \u{202e}",
            r#"\"},{"x"#,
        ];
        let found: Vec<Discrepancy> = hostile
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let mut d = finding(day(23), text, 100 + i as i64);
                d.explanation = text.to_string();
                d.ledger_file = Some(format!("C:\\ledgers\\{text}.csv"));
                d.ledger_register = (i % 2 == 0).then(|| "NULL".to_string());
                d.ledger_id = Some(format!("{text}#{i}"));
                d.suggestion = (i % 2 == 1).then(|| Suggestion {
                    reference: text.to_string(),
                    id: format!("{{{text}}}"),
                    why: format!("\"{text}\""),
                });
                d
            })
            .collect();
        let changes = run(&store, |id| report(id, range, at(24, 6), found.clone())).await;
        assert_eq!(changes.new.len(), hostile.len());
        holds_exactly(&store, &found).await;
        // Found again: the same rows, known by their fingerprints, nothing new.
        let again = run(&store, |id| report(id, range, at(25, 6), found.clone())).await;
        assert!(again.new.is_empty(), "{again:?}");
        assert_eq!(again.still_open.len(), hostile.len());
    }

    pub async fn thousands_of_findings_span_several_statements_and_rerun_exactly(url: String) {
        const N: usize = 7000;
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let found: Vec<Discrepancy> = (0..N)
            .map(|i| finding(day(23), &format!("ORD-{i:05}"), 100 + i as i64))
            .collect();
        let first = run(&store, |id| report(id, range, at(24, 6), found.clone())).await;
        let fingerprints: Vec<String> = found.iter().map(Discrepancy::fingerprint).collect();
        assert_eq!(
            first.new, fingerprints,
            "every finding new, in the run's order"
        );
        assert!(first.still_open.is_empty() && first.resolved_count == 0);
        let stored = all(&store).await;
        assert_eq!(stored.len(), N);
        for (s, d) in stored.iter().zip(&found) {
            assert_eq!(&s.discrepancy, d);
            assert_eq!(s.status, FindingStatus::Open);
        }

        // One finding resolved before the rerun (it will come back), one acknowledged (it
        // will not be found again).
        let comes_back = &found[1];
        let acknowledged = stored
            .iter()
            .find(|s| s.fingerprint == found[N - 1].fingerprint())
            .expect("stored")
            .id;
        store
            .acknowledge(acknowledged, "checked")
            .await
            .expect("ack");
        let without: Vec<Discrepancy> = found
            .iter()
            .filter(|d| d.fingerprint() != comes_back.fingerprint())
            .cloned()
            .collect();
        let resolving = run(&store, |id| report(id, range, at(25, 6), without)).await;
        assert_eq!(resolving.resolved_count, 1);
        assert_eq!(
            resolving.still_open.len(),
            N - 2,
            "the acknowledged one is not open"
        );

        // The rerun: even findings again (amount changed), odd ones gone, plus the one resolved
        // (unchanged: reopened without its values rewritten) and the acknowledged one, and
        // three new ones among them.
        let mut again: Vec<Discrepancy> = found
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0 || *i == 1 || *i == N - 1)
            .map(|(i, d)| {
                let mut d = d.clone();
                if i != 1 {
                    d.ledger_amount = Some(Amount::from_cents(10_000 + i as i64));
                }
                d
            })
            .collect();
        let brand_new: Vec<Discrepancy> = (0..3)
            .map(|k| finding(day(23), &format!("ORD-NEW-{k}"), 7))
            .collect();
        for (k, d) in brand_new.iter().enumerate() {
            again.insert(k * 1000, d.clone());
        }
        let changes = run(&store, |id| report(id, range, at(27, 6), again.clone())).await;
        let new_fingerprints: Vec<String> =
            brand_new.iter().map(Discrepancy::fingerprint).collect();
        assert_eq!(
            changes.new, new_fingerprints,
            "only the new ones, in the run's order"
        );
        let expected_open: Vec<(String, i64)> = again
            .iter()
            .map(Discrepancy::fingerprint)
            .filter(|f| !new_fingerprints.contains(f) && *f != fingerprints[N - 1])
            .map(|f| (f, 3))
            .collect();
        assert_eq!(
            changes.still_open, expected_open,
            "in the run's order, reopened included"
        );
        let third_run = store.list_runs(1).await.expect("runs")[0].id;
        let expected_resolved: Vec<String> = (0..N)
            .filter(|i| i % 2 == 1 && *i != 1 && *i != N - 1)
            .map(|i| fingerprints[i].clone())
            .collect();
        assert_eq!(
            changes.resolved_count,
            expected_resolved.len(),
            "all counted"
        );
        // Only the first of them are read back, as they now are, largest delta first: the
        // deltas grow with the run's order, so those are the last expected ones, last first.
        assert_eq!(changes.resolved.len(), ChangeSummary::RESOLVED_LISTED);
        let deltas: Vec<i64> = changes
            .resolved
            .iter()
            .map(|r| r.discrepancy.delta.cents().abs())
            .collect();
        assert!(
            deltas.windows(2).all(|w| w[0] >= w[1]),
            "largest delta first: {deltas:?}"
        );
        let got: Vec<String> = changes
            .resolved
            .iter()
            .map(|r| r.fingerprint.clone())
            .collect();
        let largest: Vec<String> = expected_resolved
            .iter()
            .rev()
            .take(ChangeSummary::RESOLVED_LISTED)
            .cloned()
            .collect();
        assert_eq!(got, largest);
        assert!(
            changes
                .resolved
                .iter()
                .all(|r| r.status == FindingStatus::Resolved && r.resolved_run == Some(third_run))
        );

        let stored = all(&store).await;
        assert_eq!(stored.len(), N + 3, "a rerun never duplicates a finding");
        for (s, d) in stored[N..].iter().zip(&brand_new) {
            assert_eq!((&s.discrepancy, s.status), (d, FindingStatus::Open));
            assert_eq!(s.first_seen_run, third_run);
        }
        for (i, s) in stored[..N].iter().enumerate() {
            let (status, amount) = if i == N - 1 {
                (FindingStatus::Acknowledged, 10_000 + i as i64)
            } else if i == 1 {
                (FindingStatus::Open, 100 + i as i64)
            } else if i % 2 == 0 {
                (FindingStatus::Open, 10_000 + i as i64)
            } else {
                (FindingStatus::Resolved, 100 + i as i64)
            };
            assert_eq!(s.fingerprint, fingerprints[i]);
            assert_eq!(s.status, status, "finding {i}");
            assert_eq!(
                s.discrepancy.ledger_amount,
                Some(Amount::from_cents(amount)),
                "finding {i}"
            );
            let resolved_run = (status == FindingStatus::Resolved).then_some(third_run);
            assert_eq!(s.resolved_run, resolved_run, "finding {i}");
        }
        let run = store
            .get_run(third_run)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(run.discrepancies, again.len() as u64);
    }

    /// The findings are checked before any is written: a fingerprint twice in one run, even
    /// one statement apart, fails the run naming the finding, and nothing of it is stored.
    pub async fn a_finding_seen_twice_in_one_run_fails_the_run_and_stores_nothing(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let mut found: Vec<Discrepancy> = (0..3000)
            .map(|i| finding(day(23), &format!("ORD-{i:05}"), 100))
            .collect();
        found.push(found[5].clone());
        let run_id = store
            .begin_run(range, "test", "xref", "0.1.0")
            .await
            .expect("begin");
        let err = store
            .finish_run(&report(run_id, range, at(24, 6), found.clone()))
            .await
            .expect_err("a finding twice");
        let message = format!("{err:#}");
        assert!(message.contains(&found[5].fingerprint()), "{message}");
        assert!(
            message.contains("ORD-00005") && message.contains("twice"),
            "{message}"
        );
        assert!(all(&store).await.is_empty());
        let stored_run = store.get_run(run_id).await.expect("get").expect("exists");
        assert_eq!(stored_run.status, RunStatus::Running);
    }

    pub async fn many_rejected_rows_failed_calls_and_totals_are_stored_in_order(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let run_id = store
            .begin_run(range, "test", "xref", "0.1.0")
            .await
            .expect("begin");
        let mut r = report(run_id, range, at(24, 6), Vec::new());
        r.rejects = (0..12_000u64)
            .map(|i| LedgerReject {
                file: format!("ledger-{}.csv", i % 3),
                line: 12_000 - i,
                reason: format!("bad amount '{i}'"),
                raw: format!("2026-11-23 10:00:00,00-12345,R01,ORD-{i},SALE,FLEXITI,{i}.001,CAD"),
            })
            .collect();
        r.failed_calls = (0..4500u32)
            .map(|i| FailedCall {
                endpoint: "GET /v2.5.1/client-id/{client_id}/captures".to_string(),
                parameters: format!("page_number={i}"),
                http_status: (i % 2 == 0).then_some(503),
                error_code: (i % 3 == 0).then(|| "E42".to_string()),
                message: "service unavailable".to_string(),
                attempts: i % 5,
                duration_ms: u64::from(i),
                x_reference_id: "xref".to_string(),
                utc_date: (i % 2 == 1).then(|| day(23)),
            })
            .collect();
        r.totals = (0..4500)
            .map(|i| DayStoreTotals {
                business_date: day(23),
                store: format!("{i:05}"),
                flexiti: SideTotals {
                    count: i,
                    sales: Amount::from_cents(i as i64 * 100),
                    returns: Amount::ZERO,
                },
                ledger: SideTotals {
                    count: i + 1,
                    sales: Amount::from_cents(i as i64 * 101),
                    returns: Amount::from_cents(7),
                },
            })
            .collect();
        store.finish_run(&r).await.expect("finish");
        assert_eq!(store.rejects(run_id).await.expect("rejects"), r.rejects);
        assert_eq!(
            store.failed_calls(run_id).await.expect("calls"),
            r.failed_calls
        );
        assert_eq!(
            store.day_totals(day(23), day(23)).await.expect("totals"),
            r.totals
        );
        let stored_run = store.get_run(run_id).await.expect("get").expect("exists");
        assert_eq!(
            (stored_run.rejected_rows, stored_run.failed_calls),
            (12_000, 4500)
        );
    }

    pub async fn only_the_complete_days_between_incomplete_ones_are_resolved(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let found: Vec<Discrepancy> = (20..=28)
            .map(|d| finding(day(d), &format!("ORD-{d}"), 100))
            .collect();
        run(&store, |id| {
            report(
                id,
                DayRange::new(day(20), day(28)),
                at(29, 6),
                found.clone(),
            )
        })
        .await;
        // Days 21..=27, with 21, 23, 24 and 27 incomplete (and a day outside the range).
        let changes = run(&store, |id| {
            let mut r = report(id, DayRange::new(day(21), day(27)), at(30, 6), Vec::new());
            r.incomplete_days = vec![day(24), day(21), day(23), day(27), day(29)];
            r
        })
        .await;
        let resolved: Vec<String> = changes
            .resolved
            .iter()
            .map(|r| r.discrepancy.reference.clone())
            .collect();
        assert_eq!(resolved, ["ORD-22", "ORD-25", "ORD-26"]);
        let open: Vec<String> = all(&store)
            .await
            .into_iter()
            .filter(|s| s.status == FindingStatus::Open)
            .map(|s| s.discrepancy.reference)
            .collect();
        assert_eq!(
            open,
            ["ORD-20", "ORD-21", "ORD-23", "ORD-24", "ORD-27", "ORD-28"]
        );
    }

    pub async fn a_store_restricted_run_reads_the_flexiti_store_when_the_ledger_has_none(
        url: String,
    ) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let with_store = |reference: &str, ledger: Option<&str>, flexiti: Option<&str>| {
            let mut f = finding(day(23), reference, 100);
            f.ledger_store = ledger.map(str::to_string);
            f.flexiti_store = flexiti.map(str::to_string);
            f
        };
        let found = vec![
            with_store("ORD-FLEXITI-MINE", None, Some("00-12345")),
            with_store("ORD-FLEXITI-OTHER", None, Some("00-99999")),
            with_store("ORD-LEDGER-WINS", Some("00-99999"), Some("00-12345")),
            with_store("ORD-NO-STORE", None, None),
            with_store("ORD-SECOND-STORE", Some("00-55555"), None),
        ];
        run(&store, |id| report(id, range, at(24, 6), found.clone())).await;
        let id = store
            .begin_run(range, "manual", "xref", "0.1.0")
            .await
            .expect("begin");
        let scope = ["00-12345".to_string(), "00-55555".to_string()];
        let changes = store
            .finish_run_for_stores(&report(id, range, at(25, 6), Vec::new()), &scope)
            .await
            .expect("finish");
        let resolved: Vec<&str> = changes
            .resolved
            .iter()
            .map(|r| r.discrepancy.reference.as_str())
            .collect();
        assert_eq!(resolved, ["ORD-FLEXITI-MINE", "ORD-SECOND-STORE"]);
    }

    /// The store tells a finding found again unchanged by the digest of its values stored
    /// with it. A row without one (written before migration 0008) or with a digest that no
    /// longer matches its values is rewritten with the run's values and digest, never kept.
    pub async fn a_finding_whose_stored_digest_is_missing_or_stale_is_rewritten(url: String) {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let range = DayRange::single(day(23));
        let found = vec![
            finding(day(23), "ORD-1", 1000),
            finding(day(23), "ORD-2", 2000),
        ];
        run(&store, |id| report(id, range, at(24, 6), found.clone())).await;
        let stored = all(&store).await;
        // ORD-1 as an older release left it; ORD-2 edited by hand, its digest left behind.
        execute_raw(
            &url,
            "UPDATE discrepancies SET value_digest = NULL WHERE reference = 'ORD-1'",
        )
        .await;
        execute_raw(
            &url,
            "UPDATE discrepancies SET explanation = 'edited', ledger_amount_cents = 1 \
             WHERE reference = 'ORD-2'",
        )
        .await;
        execute_raw(
            &url,
            "UPDATE discrepancies SET value_digest = 'not a digest' WHERE reference = 'ORD-2'",
        )
        .await;
        let again = run(&store, |id| report(id, range, at(25, 6), found.clone())).await;
        assert!(again.new.is_empty());
        assert_eq!(again.still_open.len(), 2);
        let rewritten = all(&store).await;
        assert_eq!(rewritten.len(), 2);
        for (before, after) in stored.iter().zip(&rewritten) {
            assert_eq!(after.id, before.id);
            assert_eq!(
                after.discrepancy, before.discrepancy,
                "the run's values again"
            );
            assert_eq!(after.last_seen_at, at(25, 6));
        }
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        let digests: Vec<Option<String>> =
            sqlx::query_scalar("SELECT value_digest FROM discrepancies ORDER BY reference")
                .fetch_all(&mut conn)
                .await
                .expect("digests");
        assert_eq!(digests.len(), 2);
        for digest in &digests {
            let digest = digest.as_deref().expect("a digest written again");
            assert_eq!(digest.len(), 32);
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
        }
        // Unchanged now: a third run finds both again with the same values and digests.
        run(&store, |id| report(id, range, at(26, 6), found.clone())).await;
        let third: Vec<Option<String>> =
            sqlx::query_scalar("SELECT value_digest FROM discrepancies ORDER BY reference")
                .fetch_all(&mut conn)
                .await
                .expect("digests");
        assert_eq!(third, digests);
        assert!(
            all(&store)
                .await
                .iter()
                .all(|f| f.last_seen_at == at(26, 6))
        );
    }
}

/// Staging tables in the database (`finding_stage_<run id>`).
async fn staging_tables(url: &str) -> Vec<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE tablename LIKE 'finding\\_stage\\_%' \
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables")
}

/// Many new findings on PostgreSQL are copied in (`COPY`) through a staging table of the run's,
/// text that would break a `COPY` line or field included, and the run's transaction drops the
/// table; a table left by a failed run is dropped by the next copy.
#[tokio::test]
async fn many_new_findings_on_postgres_are_copied_in_exactly_and_leave_no_staging_table() {
    on_postgres(|url| async move {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        execute_raw(&url, "CREATE UNLOGGED TABLE finding_stage_999999 (x text)").await;
        assert_eq!(staging_tables(&url).await, ["finding_stage_999999"]);
        let range = DayRange::single(day(23));
        let found: Vec<Discrepancy> = (0..2_500i64)
            .map(|i| {
                let mut d = finding(day(23), &format!("ORD\t{i}\\N\n"), 100 + i);
                d.explanation = format!("line\nbreak\ttab\r back\\slash \\N {i}");
                d.ledger_register = (i % 3 == 0).then(|| "\\N".to_string());
                d.suggestion = (i % 2 == 1).then(|| Suggestion {
                    reference: format!("{{{i}}}"),
                    id: "NULL".to_string(),
                    why: "\"quoted\"\t".to_string(),
                });
                d
            })
            .collect();
        let changes = run(&store, |id| report(id, range, at(24, 6), found.clone())).await;
        assert_eq!(changes.new.len(), found.len());
        holds_exactly(&store, &found).await;
        assert!(
            staging_tables(&url).await.is_empty(),
            "the run's table and the failed run's are dropped"
        );
        // Found again: known by their fingerprints, nothing new.
        let again = run(&store, |id| report(id, range, at(25, 6), found.clone())).await;
        assert!(again.new.is_empty(), "{again:?}");
        assert_eq!(again.still_open.len(), found.len());
    })
    .await;
}

/// When the copy cannot be made (here: the run's staging table name is taken by a view, which
/// `DROP TABLE` refuses), the new findings are bound as arrays in the run's transaction
/// instead: every one stored exactly, none twice, and the view left as it was.
#[tokio::test]
async fn when_the_copy_fails_the_new_findings_are_stored_as_arrays_instead() {
    on_postgres(|url| async move {
        let store = Store::connect(&url, MERCHANT).await.expect("connect");
        let next_run: i64 = {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM runs")
                .fetch_one(&mut conn)
                .await
                .expect("next run id")
        };
        // Views for the next few ids, in case the sequence skips one.
        for id in next_run..next_run + 5 {
            execute_raw(
                &url,
                &format!("CREATE VIEW finding_stage_{id} AS SELECT 1 AS x"),
            )
            .await;
        }
        let range = DayRange::single(day(23));
        let found: Vec<Discrepancy> = (0..2_100i64)
            .map(|i| finding(day(23), &format!("ORD-{i}"), 100 + i))
            .collect();
        let changes = run(&store, |id| report(id, range, at(24, 6), found.clone())).await;
        assert_eq!(changes.new.len(), found.len());
        holds_exactly(&store, &found).await;
        let (run_id, views): (i64, i64) = {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            sqlx::query_as(
                "SELECT (SELECT MAX(id) FROM runs), (SELECT count(*) FROM pg_views \
                 WHERE viewname LIKE 'finding\\_stage\\_%')",
            )
            .fetch_one(&mut conn)
            .await
            .expect("the run and the views")
        };
        assert!(
            (next_run..next_run + 5).contains(&run_id),
            "run {run_id}: its staging table name is one of the views"
        );
        assert_eq!(views, 5, "the views are not the run's to drop");
        assert!(staging_tables(&url).await.is_empty());
        // Found again by their fingerprints: nothing new, nothing lost.
        let again = run(&store, |id| report(id, range, at(25, 6), found.clone())).await;
        assert!(again.new.is_empty(), "{again:?}");
        assert_eq!(again.still_open.len(), found.len());
    })
    .await;
}

/// Merchants sharing a PostgreSQL database copy their runs' new findings in at the same time,
/// each through its own run's table: each stores exactly its own findings, and no table is
/// left behind.
#[tokio::test]
async fn merchants_copying_many_new_findings_at_once_each_store_exactly_their_own() {
    on_postgres(|url| async move {
        let range = DayRange::single(day(23));
        let merchants = ["merchant-a", "merchant-b", "merchant-c"];
        let mut stores = Vec::new();
        for merchant in merchants {
            stores.push(Store::connect(&url, merchant).await.expect("connect"));
        }
        let found = |m: usize| -> Vec<Discrepancy> {
            (0..2_200i64)
                .map(|i| finding(day(23), &format!("ORD-{m}-{i}"), 100 * (m as i64 + 1) + i))
                .collect()
        };
        let runs = stores.iter().enumerate().map(|(m, store)| {
            let found = found(m);
            async move { run(store, |id| report(id, range, at(24, 6), found)).await }
        });
        let changes = futures::future::join_all(runs).await;
        for (m, (store, changes)) in stores.iter().zip(&changes).enumerate() {
            assert_eq!(changes.new.len(), 2_200, "{}", merchants[m]);
            holds_exactly(store, &found(m)).await;
        }
        assert!(staging_tables(&url).await.is_empty());
    })
    .await;
}
