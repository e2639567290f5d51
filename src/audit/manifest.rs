//! The bundle's `manifest.json`: every file with its size, and how each was protected.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What the bundle holds and how it was protected, for whoever opens it later.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    run_id: i64,
    version: String,
    written_at: chrono::DateTime<chrono::Utc>,
    masking: Vec<String>,
    files: Vec<ManifestFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestFile {
    path: String,
    bytes: u64,
}

pub(super) fn write(dir: &Path, run_id: i64) -> anyhow::Result<()> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let entries = std::fs::read_dir(&folder)
            .with_context(|| format!("{}: cannot list", folder.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("{}: cannot list", folder.display()))?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if let Ok(relative) = entry.path().strip_prefix(dir) {
                files.push(ManifestFile {
                    path: relative.display().to_string(),
                    bytes: meta.len(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        format: 1,
        run_id,
        version: env!("CARGO_PKG_VERSION").into(),
        written_at: chrono::Utc::now(),
        masking: vec![
            "flexiti/*.json: every account_number masked to its last four digits (\"****6677\") \
             as the response arrived; no full account number is stored"
                .into(),
            "run.json: failed calls' messages and excerpts redacted (secrets, tokens, URL \
             passwords, account numbers)"
                .into(),
            "config.toml: the effective config without secrets (secret, password and token keys \
             removed, URL passwords masked)"
                .into(),
        ],
        files,
    };
    let path = dir.join("manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest)?)
        .with_context(|| format!("{}: cannot write", path.display()))
}
