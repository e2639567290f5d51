//! Bundles older than `audit.keep_days`, deleted at the end of a run (under its lock).

use anyhow::Context;

use crate::config::Config;

/// Deletes the bundles whose `run.json` (or folder) is older than `keep_days` days, except the
/// run `current`; returns the run ids pruned, in order. `keep_days = 0` keeps everything.
pub fn prune(config: &Config, keep_days: u32, current: i64) -> anyhow::Result<Vec<i64>> {
    let root = config.data_dir.join("runs");
    if keep_days == 0 || !root.is_dir() {
        return Ok(Vec::new());
    }
    let limit = std::time::Duration::from_secs(u64::from(keep_days) * 86_400);
    let now = std::time::SystemTime::now();
    let mut pruned = Vec::new();
    for entry in
        std::fs::read_dir(&root).with_context(|| format!("{}: cannot list", root.display()))?
    {
        let entry = entry.with_context(|| format!("{}: cannot list", root.display()))?;
        let Some(run_id) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        if run_id == current || !entry.path().is_dir() {
            continue;
        }
        let written = std::fs::metadata(entry.path().join("run.json"))
            .or_else(|_| entry.metadata())
            .and_then(|m| m.modified());
        let old = written
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > limit);
        if old {
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("{}: cannot delete", entry.path().display()))?;
            pruned.push(run_id);
        }
    }
    pruned.sort_unstable();
    if !pruned.is_empty() {
        tracing::info!(
            runs = ?pruned,
            "pruned {} audit bundles older than {keep_days} days",
            pruned.len()
        );
    }
    Ok(pruned)
}
