//! The session stage: the database, the merchant's run lock and the run's row. A dry run (and a
//! replay) has none of them: its run id is 0 and nothing is stored.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Plan;
use crate::exit::AppError;
use crate::store::{LockGuard, Store};

/// An open run: the database it is recorded in, under the merchant's lock.
pub struct Session {
    /// `None` on a dry run.
    pub db: Option<Store>,
    lock: Option<LockGuard>,
    pub run_id: i64,
    pub started_at: DateTime<Utc>,
}

impl Session {
    /// Connects, takes the lock (waiting for it with `--wait`), and begins the run.
    pub async fn open(plan: &Plan<'_>) -> Result<Session, AppError> {
        let started_at = Utc::now();
        if plan.dry_run {
            return Ok(Session {
                db: None,
                lock: None,
                run_id: 0,
                started_at,
            });
        }
        let (db, lock) = open_locked(plan).await?;
        let started_at = Utc::now();
        let run_id = db
            .begin_run(
                plan.range,
                &plan.request.trigger,
                &plan.x_reference_id,
                env!("CARGO_PKG_VERSION"),
            )
            .await
            .map_err(AppError::fatal)?;
        report_unsent_emails(&db).await;
        if plan.mailer.is_some() {
            // Until the email is sent (or found not due), the stored run says it is pending.
            db.mark_email_pending(run_id)
                .await
                .map_err(AppError::fatal)?;
        }
        Ok(Session {
            db: Some(db),
            lock: Some(lock),
            run_id,
            started_at,
        })
    }

    /// Records that the run failed before its results were stored.
    pub async fn fail(&self, message: &str) {
        let run_id = self.run_id;
        if let Some(db) = &self.db
            && let Err(e) = db.fail_run(run_id, message).await
        {
            tracing::error!(
                "could not mark run {run_id} failed: {e:#}; it stays running until the next run marks it abandoned"
            );
        }
    }

    /// Releases the lock; the database stays open for what follows the run.
    pub async fn release(&mut self) {
        if let Some(lock) = self.lock.take()
            && let Err(e) = lock.release().await
        {
            tracing::warn!("releasing the run lock: {e:#}");
        }
    }
}

/// Warns of the runs whose summary email was never sent (the process died while sending).
async fn report_unsent_emails(db: &Store) {
    match db.take_unsent_emails().await {
        Ok(ids) => {
            for id in ids {
                tracing::warn!(
                    "run {id}'s summary email was never sent: the run stopped while sending it (see runs show {id})"
                );
            }
        }
        Err(e) => tracing::warn!("reading unsent emails: {e:#}"),
    }
}

/// Opens the database with the merchant's run lock held (taken before migrating or touching any
/// row), waiting up to an hour with `--wait`.
async fn open_locked(plan: &Plan<'_>) -> Result<(Store, LockGuard), AppError> {
    let merchant = &plan.config.file.merchant;
    let wait = plan.request.wait.then_some(Duration::from_secs(3600));
    match Store::open_for_run(&plan.config.database_url, merchant, wait).await {
        Ok(Some(opened)) => Ok(opened),
        Ok(None) => Err(AppError::locked(anyhow::anyhow!(
            "another run for merchant '{merchant}' is in progress (lock held); try again later or pass --wait"
        ))),
        Err(e) => Err(AppError::fatal(e)),
    }
}
