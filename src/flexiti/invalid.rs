//! Invalid Flexiti records reported like failed calls: each one is a [`FailedCall`] with the
//! error code [`INVALID_RECORD_CODE`], its page or file, and a message naming the record, the
//! field, the value and the reference left unjudged. So they are stored with the run's failed
//! calls, emailed, shown by `runs show`, and make the run partial.

use crate::domain::{FailedCall, FlexitiSide, INVALID_RECORD_CODE, InvalidRecord};

/// The failed call that reports `invalid`.
pub fn failed_call(invalid: &InvalidRecord, x_reference_id: &str) -> FailedCall {
    let reference = if invalid.reference.is_empty() {
        "it has no reference".to_string()
    } else {
        format!("reference {} not judged", invalid.reference)
    };
    FailedCall {
        endpoint: invalid.source.clone(),
        parameters: invalid.parameters.clone(),
        http_status: None,
        error_code: Some(INVALID_RECORD_CODE.into()),
        message: format!("invalid record {}; {reference}", invalid.describe()),
        attempts: 0,
        duration_ms: 0,
        x_reference_id: x_reference_id.to_string(),
        utc_date: invalid.utc_date,
    }
}

/// `calls` with the side's invalid records added as failed calls. Invalid records already
/// among `calls` (a replay's stored failed calls) are dropped first: they are found again in
/// the files the replay reads, so each is reported once.
pub fn with_invalid_records(
    mut calls: Vec<FailedCall>,
    side: &FlexitiSide,
    x_reference_id: &str,
) -> Vec<FailedCall> {
    calls.retain(|c| c.error_code.as_deref() != Some(INVALID_RECORD_CODE));
    if !side.invalid.is_empty() {
        tracing::warn!(
            invalid = side.invalid.len(),
            "invalid flexiti records: never paired, their references not judged"
        );
        for invalid in &side.invalid {
            tracing::debug!(source = %invalid.source, "invalid flexiti record {}", invalid.describe());
        }
    }
    calls.extend(side.invalid.iter().map(|i| failed_call(i, x_reference_id)));
    calls
}
