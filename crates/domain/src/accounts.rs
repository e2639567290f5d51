//! Account numbers are personal data: every text that leaves the process through the email,
//! the exports, the JSON listings or the audit bundle is masked with these. (The Flexiti bodies
//! are masked as they arrive, in `src/flexiti/mask.rs`; no record or finding carries one.)

use super::mask_account;

/// Masks anything in free text (error messages, reject reasons) that looks like an account
/// number: a standalone run of 8 to 14 digits keeps only its last four. Longer runs are Flexiti
/// ids and shorter ones are counts or capture ids; digits inside a token such as
/// `ORD-20261123-000123` are part of a reference and stay.
pub fn scrub_accounts(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let joins_token =
        |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || "-_.".contains(*c));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let standalone = !joins_token(start.checked_sub(1).and_then(|p| chars.get(p)))
            && !joins_token(chars.get(i));
        if standalone && (8..=14).contains(&run.len()) {
            out.push_str(&mask_account(&run));
        } else {
            out.push_str(&run);
        }
    }
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
    }

    #[test]
    fn only_the_account_number_parameter_is_masked() {
        assert_eq!(
            mask_account_parameter("account_number=20076677&authorization_id=4821907733105521"),
            "account_number=****6677&authorization_id=4821907733105521"
        );
    }
}
