//! A PostgreSQL database of a test's own on the server at `FLEXITI_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Tests fail, not skip, when the server is
//! unreachable.

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn admin_url() -> String {
    std::env::var("FLEXITI_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// The admin URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// The URL without its credentials, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(i), Some(at)) if at > i => format!("{}***{}", &url[..i + 3], &url[at..]),
        _ => url.to_string(),
    }
}

async fn admin() -> anyhow::Result<PgConnection> {
    let url = admin_url();
    PgConnection::connect(&url).await.with_context(|| {
        format!(
            "PostgreSQL is unreachable at {}: start it or point FLEXITI_TEST_PG_URL at a server",
            redacted(&url)
        )
    })
}

/// A fresh, empty database, dropped when this value is dropped: at the end of the test, and
/// also when the test panics (the drop runs on a thread of its own with its own connection, so
/// it does not need the test's runtime, which may be the one unwinding).
pub struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    /// A database named `<prefix>_<random>`; panics when PostgreSQL is unreachable.
    pub async fn create(prefix: &str) -> PgDatabase {
        PgDatabase::try_create(prefix)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    pub async fn try_create(prefix: &str) -> anyhow::Result<PgDatabase> {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut admin = admin().await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .context("create the test database")?;
        Ok(PgDatabase {
            url: with_database(&admin_url(), &name),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its URL (the admin URL's server and credentials).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database now, connections and all (a fault some tests inject).
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        drop_database(&self.name).await
    }

    /// Drops the database and creates it again, empty.
    pub async fn recreate(&self) -> anyhow::Result<()> {
        self.drop_database().await?;
        admin()
            .await?
            .execute(format!("CREATE DATABASE {}", self.name).as_str())
            .await?;
        Ok(())
    }
}

async fn drop_database(name: &str) -> anyhow::Result<()> {
    admin()
        .await?
        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await
        .context("drop the test database")?;
    Ok(())
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(drop_database(&name)))
        })
        .join();
        let failure = match dropped {
            Ok(Ok(())) => return,
            Ok(Err(e)) => format!("{e:#}"),
            Err(_) => "the thread dropping it panicked".to_string(),
        };
        // A panic while the test already panics would abort the whole test binary.
        if std::thread::panicking() {
            eprintln!("test database {} not dropped: {failure}", self.name);
        } else {
            panic!("test database {} not dropped: {failure}", self.name);
        }
    }
}
