//! How a POS export maps onto ledger rows: column names, type and tender values, the sign
//! convention of amounts, time format, delimiter and decimal comma, and the store map.

use std::collections::BTreeMap;

use anyhow::bail;
use serde::Deserialize;

use crate::domain::Amount;

/// The `[ledger]` section of the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerSettings {
    /// Files or patterns (`*` in a file name), relative to the config file's folder.
    pub files: Vec<String>,
    pub delimiter: String,
    pub decimal_comma: bool,
    /// `chrono` format of naive local times; values with an offset or `Z` are also accepted.
    pub sold_at_format: String,
    /// Tender values that are reconciled (case-insensitive); other rows are counted and ignored.
    pub tenders: Vec<String>,
    pub sale_values: Vec<String>,
    pub return_values: Vec<String>,
    pub amount_sign: AmountSign,
    /// Currencies accepted (only CAD exists at Flexiti).
    pub currencies: Vec<String>,
    /// The largest plausible amount of one row (a decimal, `.` separator); a row above it is
    /// rejected. Keeps absurd amounts out of every total.
    pub max_amount: String,
    pub columns: ColumnNames,
    /// Ledger store code → Flexiti `external_location_id`.
    pub store_map: BTreeMap<String, String>,
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            files: Vec::new(),
            delimiter: ",".into(),
            decimal_comma: false,
            sold_at_format: "%Y-%m-%d %H:%M:%S".into(),
            tenders: vec!["FLEXITI".into()],
            sale_values: vec!["SALE".into()],
            return_values: vec!["RETURN".into()],
            amount_sign: AmountSign::Positive,
            currencies: vec!["CAD".into()],
            max_amount: DEFAULT_MAX_AMOUNT.into(),
            columns: ColumnNames::default(),
            store_map: BTreeMap::new(),
        }
    }
}

/// One million dollars: far above any financed purchase, far below where sums of cents overflow.
pub const DEFAULT_MAX_AMOUNT: &str = "1000000.00";

impl LedgerSettings {
    /// The per-row ceiling, checked: a positive amount.
    pub fn max_amount(&self) -> anyhow::Result<Amount> {
        match Amount::parse(&self.max_amount, false) {
            Ok(max) if max > Amount::ZERO => Ok(max),
            Ok(_) => bail!(
                "ledger.max_amount: '{}' must be more than 0",
                self.max_amount
            ),
            Err(e) => bail!("ledger.max_amount: {e} (write it like \"1000000.00\")"),
        }
    }

    pub fn delimiter_byte(&self) -> anyhow::Result<u8> {
        match self.delimiter.as_str() {
            "\\t" | "\t" | "tab" => Ok(b'\t'),
            d if d.len() == 1 => Ok(d.as_bytes()[0]),
            other => bail!("ledger.delimiter: '{other}' must be one character (or \"tab\")"),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.delimiter_byte()?;
        self.max_amount()?;
        if self.decimal_comma && self.delimiter == "," {
            bail!("ledger.decimal_comma needs another delimiter than ',' (for example ';')");
        }
        if self.tenders.is_empty() && !self.columns.tender.is_empty() {
            bail!("ledger.tenders: list at least one tender to reconcile");
        }
        if self.sale_values.is_empty() || self.return_values.is_empty() {
            bail!("ledger.sale_values and ledger.return_values must not be empty");
        }
        for (what, name) in [
            ("sold_at", &self.columns.sold_at),
            ("order_id", &self.columns.order_id),
            ("txn_type", &self.columns.txn_type),
            ("amount", &self.columns.amount),
        ] {
            if name.is_empty() {
                bail!("ledger.columns.{what}: this column is required");
            }
        }
        Ok(())
    }
}

/// How the ledger signs amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmountSign {
    /// Amounts are positive; a negative return is normalised, a negative sale is rejected.
    Positive,
    /// Returns are written negative (and a positive return is rejected); sales are positive.
    NegativeReturns,
}

/// Header names of the ledger columns. An optional column (store, register, tender, currency)
/// can be switched off with an empty name.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnNames {
    pub sold_at: String,
    pub store_id: String,
    pub register_id: String,
    pub order_id: String,
    pub txn_type: String,
    pub tender: String,
    pub amount: String,
    pub currency: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        ColumnNames {
            sold_at: "sold_at".into(),
            store_id: "store_id".into(),
            register_id: "register_id".into(),
            order_id: "order_id".into(),
            txn_type: "txn_type".into(),
            tender: "tender".into(),
            amount: "amount".into(),
            currency: "currency".into(),
        }
    }
}
