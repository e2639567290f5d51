//! Rows stored before the database had merchants (`merchant = ''`, what the migration to
//! merchants gives them) belong to the first merchant that opens the upgraded database while
//! it holds no other merchant's runs: until then it could only have served one merchant. Each
//! finding follows the run that first saw it. The claim runs once per database; afterwards every
//! row has a merchant and this costs one indexed look-up per open.

use anyhow::{Context, Result};

use super::{Backend, Store};

pub(super) async fn claim_unowned_rows(store: &Store) -> Result<()> {
    let unowned: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM runs WHERE merchant = '') \
         OR EXISTS (SELECT 1 FROM discrepancies WHERE merchant = '') THEN 1 ELSE 0 END",
    )
    .fetch_one(&store.pool)
    .await
    .context("looking for rows stored before the database had merchants")?;
    if unowned == 0 {
        return Ok(());
    }
    // SQLite writers are serialised by the migration lock file; on PostgreSQL two merchants
    // opening at once are serialised here, so the second finds the rows already claimed.
    let _migrating = match &store.backend {
        Backend::Sqlite { path: Some(db) } => Some(super::lock::migration_lock(db).await?),
        _ => None,
    };
    let mut tx = store.pool.begin().await.context("claiming unowned rows")?;
    if let Backend::Postgres { .. } = store.backend {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('flexiti-recon:claim'))")
            .execute(&mut *tx)
            .await
            .context("serialising the claim of unowned rows")?;
    }
    let runs = sqlx::query(
        "UPDATE runs SET merchant = $1 WHERE merchant = '' \
         AND NOT EXISTS (SELECT 1 FROM runs other WHERE other.merchant <> '')",
    )
    .bind(&store.merchant)
    .execute(&mut *tx)
    .await
    .context("claiming the runs stored before the database had merchants")?
    .rows_affected();
    let findings = sqlx::query(
        "UPDATE discrepancies SET merchant = (SELECT r.merchant FROM runs r \
         WHERE r.id = discrepancies.first_seen_run) WHERE merchant = '' AND EXISTS \
         (SELECT 1 FROM runs r WHERE r.id = discrepancies.first_seen_run AND r.merchant <> '')",
    )
    .execute(&mut *tx)
    .await
    .context("claiming the findings stored before the database had merchants")?
    .rows_affected();
    tx.commit().await.context("claiming unowned rows")?;
    if runs > 0 || findings > 0 {
        tracing::warn!(
            merchant = store.merchant.as_str(),
            runs,
            findings,
            "gave the rows stored before the database had merchants to this merchant"
        );
    }
    Ok(())
}
