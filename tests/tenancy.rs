//! Many merchants in one database, on a real SQLite file and a real PostgreSQL database: each
//! merchant sees and changes only its own runs and findings, a run restricted to a store
//! replaces only that store's totals, a database from before merchants upgrades without losing
//! a row, and on PostgreSQL a run whose lock session was lost cannot commit.
//!
//! PostgreSQL tests create a uniquely named database on `FLEXITI_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and drop it afterwards.

#[macro_use]
mod common;

use chrono::{NaiveDate, TimeZone, Utc};
use flexiti_recon::domain::{Amount, Category, DayRange, Discrepancy, Kind, Pass};
use flexiti_recon::report::{DayStoreTotals, FindingStatus, RunReport, RunStatus, SideTotals};
use flexiti_recon::store::{DiscrepancyFilter, Store, StoreError};
use sqlx::{Connection, PgConnection};

use common::{on_postgres, on_sqlite};

on_both!(
    two_merchants_share_a_database_without_seeing_or_abandoning_each_other,
    a_run_for_one_store_replaces_only_that_stores_totals,
    a_database_from_before_merchants_upgrades_without_losing_a_row,
    the_analyst_views_return_the_right_rows,
);

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("valid day")
}

fn finding(date: NaiveDate, reference: &str, cents: i64) -> Discrepancy {
    Discrepancy {
        business_date: date,
        category: Category::MissingInFlexiti,
        severity: Category::MissingInFlexiti.severity(),
        reference: reference.to_string(),
        kind: Kind::Sale,
        flexiti_amount: None,
        ledger_amount: Some(Amount::from_cents(cents)),
        delta: Amount::from_cents(cents),
        day_delta: None,
        pass: Pass::Leftover,
        flexiti_id: None,
        authorization_id: None,
        flexiti_store: None,
        flexiti_at: None,
        ledger_store: Some("S1".to_string()),
        ledger_register: None,
        ledger_at: None,
        ledger_file: Some("ledger.csv".to_string()),
        ledger_line: Some(2),
        ledger_id: None,
        explanation: "ledger sale with no Flexiti record".to_string(),
        suggestion: None,
    }
}

fn totals(date: NaiveDate, store: &str, cents: i64) -> DayStoreTotals {
    let side = SideTotals {
        count: 1,
        sales: Amount::from_cents(cents),
        returns: Amount::from_cents(0),
    };
    DayStoreTotals {
        business_date: date,
        store: store.to_string(),
        flexiti: side,
        ledger: side,
    }
}

fn report(run_id: i64, range: DayRange, found: Vec<Discrepancy>) -> RunReport {
    let next_morning = range
        .to
        .succ_opt()
        .and_then(|d| d.and_hms_opt(6, 0, 0))
        .expect("a valid next morning");
    common::run_report(run_id, range, Utc.from_utc_datetime(&next_morning), found)
}

async fn begin(store: &Store, range: DayRange) -> i64 {
    store
        .begin_run(range, "test", "xref", "0.1.0")
        .await
        .expect("begin run")
}

async fn findings(store: &Store) -> Vec<flexiti_recon::report::StoredDiscrepancy> {
    store
        .list_discrepancies(&DiscrepancyFilter::default())
        .await
        .expect("list discrepancies")
}

/// Rows per table, read without any merchant scope.
async fn row_counts(url: &str) -> Vec<(String, i64)> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let mut counts = Vec::new();
    for table in [
        "runs",
        "discrepancies",
        "api_failures",
        "ledger_rejects",
        "day_totals",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut conn)
            .await
            .expect("count rows");
        counts.push((table.to_string(), n));
    }
    conn.close().await.expect("close");
    counts
}

mod scenarios {
    use super::*;

    pub async fn two_merchants_share_a_database_without_seeing_or_abandoning_each_other(
        url: String,
    ) {
        let alpha = Store::connect(&url, "alpha").await.expect("alpha");
        let beta = Store::connect(&url, "beta").await.expect("beta");
        let night = DayRange::single(day(22));

        // Both merchants' runs are in progress at once: neither abandons the other's.
        let a1 = begin(&alpha, night).await;
        let b1 = begin(&beta, night).await;
        let a_run = alpha.get_run(a1).await.expect("read").expect("alpha's run");
        assert_eq!(a_run.status, RunStatus::Running);

        // The same finding (same reference, day and amount) for both: one row each.
        let mut ra = report(a1, night, vec![finding(day(22), "INV-1", 1000)]);
        ra.totals = vec![totals(day(22), "S1", 1000)];
        let mut rb = report(b1, night, vec![finding(day(22), "INV-1", 1000)]);
        rb.totals = vec![totals(day(22), "S1", 7000)];
        let changes_a = alpha.finish_run(&ra).await.expect("alpha stores");
        let changes_b = beta.finish_run(&rb).await.expect("beta stores");
        assert_eq!((changes_a.new.len(), changes_b.new.len()), (1, 1));
        let (fa, fb) = (findings(&alpha).await, findings(&beta).await);
        assert_eq!((fa.len(), fb.len()), (1, 1));
        assert_ne!(fa[0].id, fb[0].id);
        assert_eq!(fa[0].fingerprint, fb[0].fingerprint);

        // Nothing of one merchant is visible to, or changeable by, the other.
        assert!(beta.get_run(a1).await.expect("read").is_none());
        assert!(
            beta.get_discrepancy(fa[0].id)
                .await
                .expect("read")
                .is_none()
        );
        let err = beta
            .acknowledge(fa[0].id, "not mine")
            .await
            .expect_err("another merchant's finding");
        assert!(matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::UnknownDiscrepancy(_))
        ));
        assert!(beta.failed_calls(a1).await.expect("read").is_empty());
        let ta = alpha.day_totals(day(22), day(22)).await.expect("totals");
        let tb = beta.day_totals(day(22), day(22)).await.expect("totals");
        assert_eq!(ta.len(), 1);
        assert_eq!(ta[0].flexiti.sales, Amount::from_cents(1000));
        assert_eq!(tb[0].flexiti.sales, Amount::from_cents(7000));
        assert_eq!(
            alpha
                .latest_runs_covering(day(22), day(22))
                .await
                .expect("runs"),
            vec![a1]
        );

        // Alpha's rerun no longer finds it: alpha's is resolved, beta's stays open.
        let a2 = begin(&alpha, night).await;
        let changes = alpha
            .finish_run(&report(a2, night, Vec::new()))
            .await
            .expect("alpha reruns");
        assert_eq!((changes.resolved_count, changes.resolved.len()), (1, 1));
        assert_eq!(findings(&alpha).await[0].status, FindingStatus::Resolved);
        assert_eq!(findings(&beta).await[0].status, FindingStatus::Open);

        // A crash of beta's next run is abandoned by beta's following run only.
        let b2 = begin(&beta, night).await;
        let a3 = begin(&alpha, night).await;
        assert_eq!(
            beta.get_run(b2).await.expect("read").expect("run").status,
            RunStatus::Running
        );
        let b3 = begin(&beta, night).await;
        assert_eq!(
            beta.get_run(b2).await.expect("read").expect("run").status,
            RunStatus::Abandoned
        );
        assert_eq!(
            alpha.get_run(a3).await.expect("read").expect("run").status,
            RunStatus::Running
        );
        let ids = |runs: Vec<flexiti_recon::store::StoredRun>| -> Vec<i64> {
            runs.into_iter().map(|r| r.id).collect()
        };
        assert_eq!(
            ids(alpha.list_runs(10).await.expect("runs")),
            vec![a3, a2, a1]
        );
        assert_eq!(
            ids(beta.list_runs(10).await.expect("runs")),
            vec![b3, b2, b1]
        );
        alpha.close().await;
        beta.close().await;
    }

    pub async fn a_run_for_one_store_replaces_only_that_stores_totals(url: String) {
        let store = Store::connect(&url, "alpha").await.expect("connect");
        let night = DayRange::single(day(22));
        let full = begin(&store, night).await;
        let mut r = report(full, night, Vec::new());
        r.totals = vec![totals(day(22), "S1", 1000), totals(day(22), "S2", 2000)];
        store.finish_run(&r).await.expect("full run");

        let one = begin(&store, night).await;
        let mut r = report(one, night, Vec::new());
        r.totals = vec![totals(day(22), "S1", 1500)];
        store
            .finish_run_for_stores(&r, &["S1".to_string()])
            .await
            .expect("run for S1");
        let got: Vec<(String, i64)> = store
            .day_totals(day(22), day(22))
            .await
            .expect("totals")
            .into_iter()
            .map(|t| (t.store, t.flexiti.sales.cents()))
            .collect();
        assert_eq!(
            got,
            vec![("S1".to_string(), 1500), ("S2".to_string(), 2000)],
            "S2 keeps the full run's totals"
        );

        // A later run over every store replaces them all: a store it did not see has none.
        let again = begin(&store, night).await;
        let mut r = report(again, night, Vec::new());
        r.totals = vec![totals(day(22), "S1", 1700)];
        store.finish_run(&r).await.expect("full rerun");
        let got: Vec<String> = store
            .day_totals(day(22), day(22))
            .await
            .expect("totals")
            .into_iter()
            .map(|t| format!("{} {}", t.store, t.flexiti.sales))
            .collect();
        assert_eq!(got, vec!["S1 17.00".to_string()]);
        store.close().await;
    }

    pub async fn a_database_from_before_merchants_upgrades_without_losing_a_row(url: String) {
        // The schema as migrations 0001-0004 left it, from copies of those files.
        let backend = if url.starts_with("sqlite") {
            "sqlite"
        } else {
            "postgres"
        };
        let old = tempfile::tempdir().expect("temp dir");
        let sql_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sql")
            .join(backend);
        for entry in std::fs::read_dir(&sql_dir).expect("sql dir") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            if ["0001", "0002", "0003", "0004"]
                .iter()
                .any(|v| name.starts_with(v))
            {
                std::fs::copy(&path, old.path().join(&name)).expect("copy migration");
            }
        }
        let create_url = if backend == "sqlite" {
            let file = url.trim_start_matches("sqlite://");
            std::fs::create_dir_all(std::path::Path::new(file).parent().expect("folder"))
                .expect("folder");
            format!("{url}?mode=rwc")
        } else {
            url.clone()
        };
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&create_url).await.expect("connect");
        let migrator = sqlx::migrate::Migrator::new(old.path())
            .await
            .expect("old migrations");
        assert_eq!(migrator.iter().count(), 4);
        migrator.run(&pool).await.expect("old schema");
        let fixture = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/before_merchants.sql"),
        )
        .expect("fixture");
        for statement in fixture.split(';').filter(|s| {
            s.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        }) {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("fixture statement failed: {e}\n{statement}"));
        }
        pool.close().await;
        let before = row_counts(&create_url).await;
        assert_eq!(before[0], ("runs".to_string(), 3));

        // The new binary's store upgrades it; the first merchant to open it owns every row.
        let acme = Store::connect(&url, "acme").await.expect("upgrade");
        assert_eq!(row_counts(&create_url).await, before, "no row lost");
        let runs = acme.list_runs(10).await.expect("runs");
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![3, 2, 1]);
        assert_eq!(runs[2].flexiti.sales, Amount::from_cents(30000));
        assert_eq!(
            acme.email_state(1).await.expect("email"),
            Some("sent".into())
        );
        let stored = findings(&acme).await;
        assert_eq!(stored.len(), 3);
        let acknowledged = stored
            .iter()
            .find(|s| s.fingerprint == "fp-old-2")
            .expect("fp-old-2");
        assert_eq!(acknowledged.status, FindingStatus::Acknowledged);
        assert_eq!(acknowledged.note.as_deref(), Some("known short payment"));
        assert_eq!(
            acknowledged
                .discrepancy
                .suggestion
                .as_ref()
                .map(|s| s.id.as_str()),
            Some("F-9")
        );
        assert_eq!(acme.failed_calls(1).await.expect("calls").len(), 1);
        assert_eq!(
            acme.rejects(1).await.expect("rejects")[0].raw,
            "INV-7,S1,abc"
        );
        assert_eq!(
            acme.day_totals(day(22), day(23))
                .await
                .expect("totals")
                .len(),
            3
        );

        // Another merchant opening the same database later sees none of it and takes nothing.
        let other = Store::connect(&url, "other").await.expect("other");
        assert!(other.list_runs(10).await.expect("runs").is_empty());
        assert!(findings(&other).await.is_empty());
        assert!(other.failed_calls(1).await.expect("calls").is_empty());
        assert!(
            other
                .day_totals(day(22), day(23))
                .await
                .expect("totals")
                .is_empty()
        );
        assert_eq!(acme.list_runs(10).await.expect("runs").len(), 3);

        // The owner's next run abandons the crashed run and resolves what it no longer finds.
        let night = DayRange::single(day(23));
        let next = begin(&acme, night).await;
        assert_eq!(
            acme.get_run(3).await.expect("read").expect("run").status,
            RunStatus::Abandoned
        );
        let changes = acme
            .finish_run(&report(next, night, Vec::new()))
            .await
            .expect("store");
        assert_eq!(
            changes
                .resolved
                .iter()
                .map(|s| s.fingerprint.as_str())
                .collect::<Vec<_>>(),
            vec!["fp-old-3"]
        );
        acme.close().await;
        other.close().await;
    }

    pub async fn the_analyst_views_return_the_right_rows(url: String) {
        let alpha = Store::connect(&url, "alpha").await.expect("alpha");
        let beta = Store::connect(&url, "beta").await.expect("beta");
        let night = DayRange::single(day(22));

        // Alpha: a full run with two findings and two failed calls, then a run for S1 only
        // that no longer finds INV-2.
        let first = begin(&alpha, night).await;
        let mut r = report(
            first,
            night,
            vec![
                finding(day(22), "INV-1", 1000),
                finding(day(22), "INV-2", 250),
            ],
        );
        r.totals = vec![totals(day(22), "S1", 1000), totals(day(22), "S2", 2000)];
        let call = flexiti_recon::report::FailedCall {
            endpoint: "GET /transactions".into(),
            parameters: "date=2026-11-22".into(),
            http_status: Some(503),
            error_code: None,
            message: "unavailable".into(),
            attempts: 3,
            duration_ms: 10,
            x_reference_id: "xref".into(),
            utc_date: Some(day(22)),
        };
        r.failed_calls = vec![call.clone(), call];
        alpha.finish_run(&r).await.expect("first run");
        let second = begin(&alpha, night).await;
        let mut r = report(second, night, vec![finding(day(22), "INV-1", 1000)]);
        r.totals = vec![totals(day(22), "S1", 1200)];
        alpha
            .finish_run_for_stores(&r, &["S1".to_string()])
            .await
            .expect("second run, for S1");
        let b = begin(&beta, night).await;
        beta.finish_run(&report(b, night, vec![finding(day(23), "INV-7", 5)]))
            .await
            .expect("beta's run");

        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&url).await.expect("connect");
        let open: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT merchant, CAST(business_date AS TEXT), reference, \
             CAST(age_days AS BIGINT), delta_cents FROM open_discrepancies \
             ORDER BY merchant, reference",
        )
        .fetch_all(&mut conn)
        .await
        .expect("open_discrepancies");
        let today = Utc::now().date_naive();
        let age = |d: NaiveDate| (today - d).num_days();
        assert_eq!(
            open,
            vec![
                (
                    "alpha".into(),
                    "2026-11-22".into(),
                    "INV-1".into(),
                    age(day(22)),
                    1000
                ),
                (
                    "beta".into(),
                    "2026-11-23".into(),
                    "INV-7".into(),
                    age(day(23)),
                    5
                ),
            ]
        );

        let totals: Vec<(String, String, String, i64, i64)> = sqlx::query_as(
            "SELECT merchant, CAST(business_date AS TEXT), store, run_id, flexiti_sales_cents \
             FROM latest_day_totals ORDER BY merchant, business_date, store",
        )
        .fetch_all(&mut conn)
        .await
        .expect("latest_day_totals");
        assert_eq!(
            totals,
            vec![
                (
                    "alpha".into(),
                    "2026-11-22".into(),
                    "S1".into(),
                    second,
                    1200
                ),
                (
                    "alpha".into(),
                    "2026-11-22".into(),
                    "S2".into(),
                    first,
                    2000
                ),
            ]
        );

        let nights: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT merchant, CAST(night AS TEXT), CAST(runs AS BIGINT), \
             CAST(failed_calls AS BIGINT) FROM failed_calls_per_night ORDER BY merchant",
        )
        .fetch_all(&mut conn)
        .await
        .expect("failed_calls_per_night");
        let started = |store: &Store, id: i64| {
            let store = store.clone();
            async move {
                store
                    .get_run(id)
                    .await
                    .expect("read")
                    .expect("run")
                    .started_at
                    .date_naive()
                    .to_string()
            }
        };
        let (alpha_night, beta_night) = (started(&alpha, first).await, started(&beta, b).await);
        assert_eq!(
            nights,
            vec![
                ("alpha".into(), alpha_night, 2, 2),
                ("beta".into(), beta_night, 1, 0),
            ]
        );
        conn.close().await.ok();
        alpha.close().await;
        beta.close().await;
    }
}

/// On PostgreSQL the run commits through its lock's session: when that session is killed
/// (as the server does for a dead client once its keepalives go unanswered), the lock is
/// free for the next run and the old run cannot commit.
#[tokio::test]
async fn a_run_whose_lock_session_was_killed_cannot_commit_and_the_next_run_abandons_it() {
    on_postgres(|url| async move {
        let night = DayRange::single(day(22));
        let (store, _guard) = Store::open_for_run(&url, "alpha", None)
            .await
            .expect("open")
            .expect("lock free");
        assert!(
            Store::open_for_run(&url, "alpha", None)
                .await
                .expect("open")
                .is_none(),
            "the same merchant is locked out"
        );
        let (beta, beta_guard) = Store::open_for_run(&url, "beta", None)
            .await
            .expect("open")
            .expect("another merchant runs at the same time");
        let run = begin(&store, night).await;

        let mut admin = PgConnection::connect(&url).await.expect("admin");
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'flexiti-recon run lock' \
             AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted) \
             AND pid <> pg_backend_pid() ORDER BY backend_start LIMIT 1",
        )
        .fetch_all(&mut admin)
        .await
        .expect("terminate the lock session");
        assert_eq!(killed, vec![true]);

        let err = store
            .finish_run(&report(run, night, vec![finding(day(22), "INV-1", 1000)]))
            .await
            .expect_err("no commit without the lock");
        assert!(format!("{err:#}").contains("not stored"), "{err:#}");
        assert!(findings(&store).await.is_empty(), "nothing was written");

        // The lock went with the session: the next run takes it and abandons the old one.
        let (next_store, guard) = Store::open_for_run(&url, "alpha", None)
            .await
            .expect("open")
            .expect("the lock is free again");
        let next = begin(&next_store, night).await;
        assert_eq!(
            next_store
                .get_run(run)
                .await
                .expect("read")
                .expect("run")
                .status,
            RunStatus::Abandoned
        );
        next_store
            .finish_run(&report(next, night, vec![finding(day(22), "INV-1", 1000)]))
            .await
            .expect("the new holder commits");
        assert_eq!(findings(&next_store).await.len(), 1);

        // Beta's lock session was not the one killed: its run commits.
        let b = begin(&beta, night).await;
        beta.finish_run(&report(b, night, Vec::new()))
            .await
            .expect("beta commits");
        guard.release().await.expect("release");
        beta_guard.release().await.expect("release");
        admin.close().await.ok();
        for s in [store, next_store, beta] {
            s.close().await;
        }
    })
    .await;
}

/// On SQLite the lock is an OS lock on `<db>.<merchant>.lock`: a run whose lock file was
/// deleted (so that another run could lock a new file of that name) does not commit.
#[tokio::test]
async fn a_sqlite_run_whose_lock_file_was_deleted_does_not_commit() {
    on_sqlite(|url| async move {
        let night = DayRange::single(day(22));
        let (store, guard) = Store::open_for_run(&url, "alpha", None)
            .await
            .expect("open")
            .expect("lock free");
        assert!(
            Store::open_for_run(&url, "alpha", None)
                .await
                .expect("open")
                .is_none()
        );
        let run = begin(&store, night).await;
        let lock_file = format!("{}.alpha.lock", url.trim_start_matches("sqlite://"));
        std::fs::remove_file(&lock_file).expect("delete the lock file");
        let err = store
            .finish_run(&report(run, night, vec![finding(day(22), "INV-1", 1000)]))
            .await
            .expect_err("no commit without the lock file");
        assert!(format!("{err:#}").contains("lock file"), "{err:#}");
        assert!(findings(&store).await.is_empty());
        guard.release().await.expect("release");
        store.close().await;
    })
    .await;
}
