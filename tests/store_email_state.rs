//! A run's summary email state on a real SQLite file and a real PostgreSQL database: `pending`
//! from the run's start until sent, so a run that died while emailing is found by the next.
//! PostgreSQL as in `tests/store.rs` (`FLEXITI_TEST_PG_URL`).

mod common;

use chrono::Utc;
use flexiti_recon::domain::DayRange;
use flexiti_recon::report::RunReport;
use flexiti_recon::store::Store;

use common::{PgDatabase, sample_day};

/// The tenant every scenario stores as.
const MERCHANT: &str = "merchant-1";

fn night() -> DayRange {
    DayRange::single(sample_day())
}

fn report(run_id: i64) -> RunReport {
    common::run_report(run_id, night(), Utc::now(), Vec::new())
}

/// A committed run whose email was marked pending and never sent.
async fn stored_run_emailing(store: &Store) -> i64 {
    let id = store
        .begin_run(night(), "test", "xref", "0.1.0")
        .await
        .expect("begin");
    store.mark_email_pending(id).await.expect("pending");
    store.finish_run(&report(id)).await.expect("finish");
    id
}

/// What `status` reports of the latest finished run's email.
async fn latest(store: &Store) -> Option<(i64, String)> {
    store.latest_email_not_sent().await.expect("latest")
}

async fn scenario(url: String) {
    let store = Store::connect(&url, MERCHANT).await.expect("connect");
    // Died while emailing: committed, email still pending.
    let died = stored_run_emailing(&store).await;
    assert_eq!(
        store.email_state(died).await.expect("state").as_deref(),
        Some("pending")
    );
    assert_eq!(latest(&store).await, Some((died, "pending".to_string())));
    // Sent: not reported.
    let sent = stored_run_emailing(&store).await;
    store.mark_email_sent(sent).await.expect("sent");
    assert_eq!(
        latest(&store).await,
        None,
        "the latest run's email went out"
    );
    // Email failed: the run is partial and its email failed, not reported as unsent.
    let failed_email = stored_run_emailing(&store).await;
    store
        .mark_partial(failed_email, "email failed: smtp refused")
        .await
        .expect("partial");
    // A run that failed before its results: its email never was the summary's to send.
    let failed_run = store
        .begin_run(night(), "test", "xref", "0.1.0")
        .await
        .expect("begin");
    store.mark_email_pending(failed_run).await.expect("pending");
    store
        .fail_run(failed_run, "ledger missing")
        .await
        .expect("fail");

    // The latest finished run is the partial one (a failed run is not finished with results).
    assert_eq!(
        latest(&store).await,
        Some((failed_email, "failed".to_string()))
    );

    assert_eq!(store.take_unsent_emails().await.expect("take"), vec![died]);
    assert_eq!(
        store.email_state(died).await.expect("state").as_deref(),
        Some("unsent")
    );
    assert_eq!(
        store.email_state(sent).await.expect("state").as_deref(),
        Some("sent")
    );
    assert_eq!(
        store
            .email_state(failed_email)
            .await
            .expect("state")
            .as_deref(),
        Some("failed")
    );
    // Each unsent email is reported once.
    assert!(store.take_unsent_emails().await.expect("take").is_empty());
    store.mark_email_not_due(sent).await.expect("not due");
    assert_eq!(store.email_state(sent).await.expect("state"), None);
    store.close().await;
}

#[tokio::test]
async fn an_email_left_pending_is_reported_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    scenario(format!("sqlite://{}", dir.path().join("f.db").display())).await;
}

#[tokio::test]
async fn an_email_left_pending_is_reported_once_on_postgres() {
    let db = PgDatabase::create("flexiti_test").await;
    scenario(db.url().to_string()).await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_at_once_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    // The listener is dropped: nothing listens on the port.
    let url = format!("postgres://app:s3cret-pw@127.0.0.1:{port}/recon");
    let err = Store::connect(&url, MERCHANT)
        .await
        .expect_err("nothing listens");
    let text = format!("{err:#}");
    assert!(
        text.contains(&format!(
            "connecting to the postgres database at 127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(text.contains("refused"), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
}
