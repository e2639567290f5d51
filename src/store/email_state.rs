//! The state of a run's summary email (`runs.email`), so that a process dying while it sends
//! leaves a stored run that says its email is pending, and the next run reports it never went.

use anyhow::{Context, Result};

use super::Store;

impl Store {
    /// Records that run `run_id` will send its summary email (from its start, before its
    /// results are committed, so a crash while sending leaves it `pending`).
    pub async fn mark_email_pending(&self, run_id: i64) -> Result<()> {
        self.set_email_state(run_id, "pending").await
    }

    /// Records that run `run_id`'s summary email went out.
    pub async fn mark_email_sent(&self, run_id: i64) -> Result<()> {
        self.set_email_state(run_id, "sent").await
    }

    /// Records that run `run_id` sends no summary email (its policy said none was due).
    pub async fn mark_email_not_due(&self, run_id: i64) -> Result<()> {
        sqlx::query("UPDATE runs SET email = NULL WHERE id = $1 AND merchant = $2")
            .bind(run_id)
            .bind(&self.merchant)
            .execute(&self.pool)
            .await
            .with_context(|| format!("recording that run {run_id} sends no email"))?;
        Ok(())
    }

    /// `pending`, `sent`, `failed`, `unsent`, or `None` (no email was due).
    pub async fn email_state(&self, run_id: i64) -> Result<Option<String>> {
        let state: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM runs WHERE id = $1 AND merchant = $2")
                .bind(run_id)
                .bind(&self.merchant)
                .fetch_optional(&self.pool)
                .await
                .with_context(|| format!("reading the email state of run {run_id}"))?;
        Ok(state.flatten())
    }

    /// The finished runs whose email is still `pending` (the process died while sending),
    /// marked `unsent` so each is reported once; their ids, oldest first.
    pub async fn take_unsent_emails(&self) -> Result<Vec<i64>> {
        let mut tx = self.pool.begin().await.context("reading unsent emails")?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM runs WHERE email = 'pending' \
             AND status IN ('succeeded', 'partial') AND merchant = $1 ORDER BY id",
        )
        .bind(&self.merchant)
        .fetch_all(&mut *tx)
        .await
        .context("reading unsent emails")?;
        sqlx::query(
            "UPDATE runs SET email = 'unsent' WHERE email = 'pending' \
             AND status IN ('succeeded', 'partial') AND merchant = $1",
        )
        .bind(&self.merchant)
        .execute(&mut *tx)
        .await
        .context("marking unsent emails")?;
        tx.commit().await.context("marking unsent emails")?;
        Ok(ids)
    }

    /// The latest finished run (succeeded or partial) when its summary email did not go out:
    /// its id and the email's state (`pending`: the run stopped while sending, or is sending
    /// now; `unsent`: a later run found it so; `failed`). `None` when that run's email went
    /// out or none was due, and when no run has finished.
    pub async fn latest_email_not_sent(&self) -> Result<Option<(i64, String)>> {
        let latest: Option<(i64, Option<String>)> = sqlx::query_as(
            "SELECT id, email FROM runs WHERE status IN ('succeeded', 'partial') \
             AND merchant = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(&self.merchant)
        .fetch_optional(&self.pool)
        .await
        .context("reading the latest run's email state")?;
        Ok(latest.and_then(|(id, email)| {
            email
                .filter(|e| matches!(e.as_str(), "pending" | "unsent" | "failed"))
                .map(|e| (id, e))
        }))
    }

    async fn set_email_state(&self, run_id: i64, state: &str) -> Result<()> {
        sqlx::query("UPDATE runs SET email = $2 WHERE id = $1 AND merchant = $3")
            .bind(run_id)
            .bind(state)
            .bind(&self.merchant)
            .execute(&self.pool)
            .await
            .with_context(|| format!("recording run {run_id}'s email as {state}"))?;
        Ok(())
    }
}
