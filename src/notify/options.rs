//! How the email is presented: the merchant's name, the zone of the times shown, how much is
//! listed, the attachment's CSV format.

use chrono_tz::Tz;

use crate::export::ExportFormat;

/// Presentation choices of the email.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub merchant_name: String,
    /// How many of the largest discrepancies the body lists.
    pub largest: usize,
    /// The zone in which times are shown (the merchant's).
    pub zone: Tz,
    /// How many failed calls, rejected rows and still-open findings are listed before
    /// "and N more".
    pub list_cap: usize,
    pub csv_format: ExportFormat,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            merchant_name: String::new(),
            largest: 10,
            zone: chrono_tz::America::Toronto,
            list_cap: 20,
            csv_format: ExportFormat::default(),
        }
    }
}
