//! The tests' own PostgreSQL databases (`tests/common/pg.rs`) are dropped when the test ends,
//! and also when it panics.

mod common;

use sqlx::{Connection, PgConnection};

use common::PgDatabase;

async fn exists(name: &str) -> bool {
    let url = std::env::var("FLEXITI_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let mut admin = PgConnection::connect(&url).await.expect("PostgreSQL");
    let found: Option<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut admin)
            .await
            .expect("list databases");
    found.is_some()
}

#[tokio::test]
async fn a_test_database_is_dropped_at_the_end_and_when_the_test_panics() {
    let db = PgDatabase::create("flexiti_guard").await;
    let name = db.name().to_string();
    assert!(exists(&name).await);
    drop(db);
    assert!(!exists(&name).await, "dropped at the end");

    let (tx, rx) = std::sync::mpsc::channel();
    let panicked = tokio::spawn(async move {
        let db = PgDatabase::create("flexiti_guard").await;
        tx.send(db.name().to_string()).expect("send");
        // Holding a connection does not keep it alive either.
        let _conn = PgConnection::connect(db.url()).await.expect("connect");
        panic!("the test fails here");
    })
    .await;
    assert!(panicked.is_err_and(|e| e.is_panic()));
    let name = rx.recv().expect("the database's name");
    assert!(!exists(&name).await, "dropped while the test panicked");
}
