//! Each ledger file of a run is read once. The same file can be named twice (a pattern and
//! `--ledger`, one path spelled two ways, a copy under another name); read twice, every row of
//! it would be a `duplicate_in_ledger` of itself. The same row in two different files is still
//! a duplicate: only whole files that are one and the same are folded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The files to read, in the order given, each once; and a warning for each one left out,
/// naming both files. Files are the same when their canonical paths are, or when their
/// contents are identical (only files of equal size are hashed).
pub(crate) fn distinct(files: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, Vec<String>)> {
    let mut kept: Vec<PathBuf> = Vec::with_capacity(files.len());
    let mut warnings = Vec::new();
    let mut by_path: HashMap<PathBuf, usize> = HashMap::new();
    let mut sizes: Vec<Option<u64>> = Vec::with_capacity(files.len());
    for path in files {
        // A file that cannot be resolved is kept: reading it reports the problem.
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if let Some(&first) = by_path.get(&canonical) {
            warnings.push(format!(
                "ledger file {} is the same file as {}: read once",
                path.display(),
                kept[first].display()
            ));
            continue;
        }
        by_path.insert(canonical, kept.len());
        sizes.push(std::fs::metadata(path).ok().map(|m| m.len()));
        kept.push(path.clone());
    }
    let mut same_size: HashMap<u64, Vec<usize>> = HashMap::new();
    for (index, size) in sizes.iter().enumerate() {
        if let Some(size) = size {
            same_size.entry(*size).or_default().push(index);
        }
    }
    let mut drop = vec![false; kept.len()];
    for group in same_size.values().filter(|g| g.len() > 1) {
        let mut by_hash: HashMap<String, usize> = HashMap::new();
        for &index in group {
            let hash = sha256(&kept[index])?;
            match by_hash.get(&hash) {
                Some(&first) => {
                    drop[index] = true;
                    warnings.push(format!(
                        "ledger file {} has the same content as {}: read once",
                        kept[index].display(),
                        kept[first].display()
                    ));
                }
                None => {
                    by_hash.insert(hash, index);
                }
            }
        }
    }
    let kept = kept
        .into_iter()
        .zip(drop)
        .filter_map(|(path, dropped)| (!dropped).then_some(path))
        .collect();
    Ok((kept, warnings))
}

fn sha256(path: &Path) -> anyhow::Result<String> {
    let name = path.display();
    let file =
        std::fs::File::open(path).with_context(|| format!("ledger file {name}: cannot open"))?;
    crate::hashed::sha256_hex(file).with_context(|| format!("ledger file {name}: cannot read"))
}
