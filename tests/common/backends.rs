//! Store scenarios on both backends: `on_both!(scenario, …)` makes `<scenario>::on_sqlite` and
//! `<scenario>::on_postgres` tests from the `async fn scenarios::<scenario>(url: String)` of the
//! test file.

use std::future::Future;

use super::PgDatabase;

/// Runs `scenario` against a fresh PostgreSQL database, dropped afterwards even if it panics.
pub async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = PgDatabase::create("flexiti_test").await;
    scenario(db.url().to_string()).await;
}

/// Runs `scenario` against a fresh SQLite file in a folder that does not exist yet.
pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join("flexiti.db");
    scenario(format!("sqlite://{}", path.display())).await;
}

/// One test per backend for each scenario, named `<scenario>::on_sqlite` / `::on_postgres`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                super::on_sqlite(super::scenarios::$name).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                super::on_postgres(super::scenarios::$name).await;
            }
        }
    )*};
}
