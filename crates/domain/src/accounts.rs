//! Account numbers are personal data: every text that leaves the process through the email,
//! the exports, the JSON listings or the audit bundle is masked with these. (The Flexiti bodies
//! are masked as they arrive, in `src/flexiti/mask.rs`; no record or finding carries one.)

use super::mask_account;

/// Masks anything in free text (error messages, reject reasons, log lines) that looks like an
/// account number: a standalone run of 8 to 14 ASCII digits keeps only its last four. Longer runs
/// are Flexiti ids and shorter ones are counts or capture ids; digits inside a token such as
/// `ORD-20261123-000123` (joined by an ASCII letter or digit, `-`, `_` or `.`) are part of a
/// reference and stay. This is the one account scrubber: `src/redact.rs` uses it too.
pub fn scrub_accounts(text: &str) -> String {
    let bytes = text.as_bytes();
    let joins = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b));
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let standalone =
            !joins(start.checked_sub(1).and_then(|p| bytes.get(p))) && !joins(bytes.get(i));
        if standalone && (8..=14).contains(&(i - start)) {
            // Both ends are ASCII digits, so both are character boundaries.
            out.push_str(&text[copied..start]);
            out.push_str(&mask_account(&text[start..i]));
            copied = i;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// A failed call's query parameters: they hold ids that must stay readable, so only an
/// `account_number=` value is masked.
pub fn mask_account_parameter(parameters: &str) -> String {
    parameters
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("account_number", value)) => {
                format!("account_number={}", mask_account(value))
            }
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_like_numbers_in_free_text_keep_only_their_last_four_digits() {
        assert_eq!(
            scrub_accounts("account 20076677 is closed; account_number=12345678901234"),
            "account ****6677 is closed; account_number=****1234"
        );
        assert_eq!(
            scrub_accounts("ORD-20261123-000123 on 4821907733105521"),
            "ORD-20261123-000123 on 4821907733105521"
        );
        assert_eq!(scrub_accounts("page 2 of 346123"), "page 2 of 346123");
        // A letter outside ASCII does not make the digits part of a reference: masked.
        assert_eq!(scrub_accounts("n°20076677 é"), "n°****6677 é");
        assert_eq!(scrub_accounts("20076677"), "****6677");
    }

    #[test]
    fn only_the_account_number_parameter_is_masked() {
        assert_eq!(
            mask_account_parameter("account_number=20076677&authorization_id=4821907733105521"),
            "account_number=****6677&authorization_id=4821907733105521"
        );
    }
}
