//! The text of a rejected row as it is kept beside the reason: its fields, trimmed of ASCII
//! whitespace as the reader reads them, written back with the file's delimiter (quoted where
//! needed), invalid UTF-8 and NUL (which PostgreSQL cannot store) replaced, anything that looks
//! like an account number masked, and at most [`RAW_ROW_MAX_CHARS`] characters.

/// Longer rows are cut and end with `…`: a hostile file cannot make the store hold megabytes
/// per rejected row.
pub const RAW_ROW_MAX_CHARS: usize = 2_000;

pub(super) fn raw_row(record: &csv::ByteRecord, delimiter: u8) -> String {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let bytes = match writer.write_record(record.iter().map(<[u8]>::trim_ascii)) {
        Ok(()) => writer.into_inner().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let text = String::from_utf8_lossy(&bytes).replace('\0', "\u{FFFD}");
    let text = text.trim_end_matches('\n');
    let masked = crate::domain::scrub_accounts(text);
    if masked.chars().count() > RAW_ROW_MAX_CHARS {
        let mut cut: String = masked.chars().take(RAW_ROW_MAX_CHARS).collect();
        cut.push('…');
        cut
    } else {
        masked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_written_back_with_its_delimiter_masked_and_bounded() {
        let record = csv::ByteRecord::from(vec![
            &b" ORD-1\t"[..],
            b"12,5O",
            b"card 4500123412341234",
            b"account 20076677",
            b"caf\xe9",
        ]);
        assert_eq!(
            raw_row(&record, b';'),
            "ORD-1;12,5O;card 4500123412341234;account ****6677;caf\u{fffd}"
        );
        assert_eq!(
            raw_row(&record, b','),
            "ORD-1,\"12,5O\",card 4500123412341234,account ****6677,caf\u{fffd}"
        );
        let long = csv::ByteRecord::from(vec!["x".repeat(5_000)]);
        let raw = raw_row(&long, b',');
        assert_eq!(raw.chars().count(), RAW_ROW_MAX_CHARS + 1);
        assert!(raw.ends_with('…'));
    }
}
