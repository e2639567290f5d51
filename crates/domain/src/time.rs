//! Business days: local calendar dates in the merchant's time zone, and the UTC dates that a
//! span of them touches (Flexiti's list endpoints filter on UTC dates).

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// An inclusive range of calendar dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// `YYYY-MM-DD?HH:MM:SS` (19 bytes, `?` being `separator`) read by hand: the spelling of
/// nearly every ledger time and Flexiti timestamp, far cheaper than a format parser. `None` for
/// any other shape or an impossible date, which the caller's general path then reads.
pub fn plain_date_time(b: &[u8], separator: u8) -> Option<NaiveDateTime> {
    let shape = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == separator
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    // Fixed-width fields read digit by digit: each value is bounded (at most 9999), so the
    // arithmetic carries no overflow check, unlike a fold over a slice of unknown length.
    let digit = |at: usize| -> Option<u32> {
        let d = *b.get(at)?;
        d.is_ascii_digit().then(|| u32::from(d - b'0'))
    };
    let two = |at: usize| -> Option<u32> { Some(digit(at)? * 10 + digit(at + 1)?) };
    let year = i32::try_from(two(0)? * 100 + two(2)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, two(5)?, two(8)?)?;
    let time = chrono::NaiveTime::from_hms_opt(two(11)?, two(14)?, two(17)?)?;
    Some(date.and_time(time))
}

impl DayRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        DayRange { from, to }
    }

    pub fn single(day: NaiveDate) -> Self {
        DayRange { from: day, to: day }
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// Widens the range by `days` on both sides.
    pub fn widen(&self, days: u32) -> DayRange {
        let d = Days::new(u64::from(days));
        DayRange {
            from: self.from.checked_sub_days(d).unwrap_or(NaiveDate::MIN),
            to: self.to.checked_add_days(d).unwrap_or(NaiveDate::MAX),
        }
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d <= to)
    }

    pub fn len(&self) -> usize {
        usize::try_from((self.to - self.from).num_days() + 1).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.to < self.from
    }
}

impl std::fmt::Display for DayRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}..{}", self.from, self.to)
        }
    }
}

/// The merchant's calendar: which local day an instant belongs to, and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessCalendar {
    pub zone: Tz,
}

impl BusinessCalendar {
    pub fn new(zone: Tz) -> Self {
        BusinessCalendar { zone }
    }

    /// The business day of an instant: its local date in the merchant's zone.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// Interprets a naive local time in the merchant's zone. In the autumn overlap the earlier
    /// instant is taken; a time skipped by the spring change is read as if the clock had not
    /// moved yet (one hour later in UTC terms), which keeps the row on its local date.
    pub fn local_to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => earliest.with_timezone(&Utc),
            LocalResult::None => {
                let shifted = local + chrono::Duration::hours(1);
                match self.zone.from_local_datetime(&shifted) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                    LocalResult::None => Utc.from_utc_datetime(&local),
                }
            }
        }
    }

    /// The first instant of a business day.
    pub fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        self.local_to_utc(day.and_time(chrono::NaiveTime::MIN))
    }

    /// The UTC dates that the local span of `days` touches, in order.
    pub fn utc_dates_touched(&self, days: DayRange) -> Vec<NaiveDate> {
        let start = self.start_of(days.from).date_naive();
        let end_day = days
            .to
            .checked_add_days(Days::new(1))
            .unwrap_or(NaiveDate::MAX);
        let last_instant = self.start_of(end_day) - chrono::Duration::nanoseconds(1);
        let end = last_instant.date_naive();
        DayRange::new(start, end).days().collect()
    }
}

/// A calendar that keeps its last business day. Records in time order repeat their instant (a
/// large day has hundreds a second), and each answer is otherwise a search of the zone's
/// transitions. Exact: an answer is reused only for the very same instant.
#[derive(Debug, Clone)]
pub struct RememberingCalendar {
    calendar: BusinessCalendar,
    last_day: Option<(DateTime<Utc>, NaiveDate)>,
}

impl RememberingCalendar {
    pub fn new(calendar: BusinessCalendar) -> Self {
        RememberingCalendar {
            calendar,
            last_day: None,
        }
    }

    /// [`BusinessCalendar::day_of`].
    pub fn day_of(&mut self, at: DateTime<Utc>) -> NaiveDate {
        match self.last_day {
            Some((last, day)) if last == at => day,
            _ => {
                let day = self.calendar.day_of(at);
                self.last_day = Some((at, day));
                day
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remembering_calendar_answers_as_the_calendar_does_across_both_changes_of_2026() {
        let cal = BusinessCalendar::new(chrono_tz::America::Toronto);
        let mut remembering = RememberingCalendar::new(cal);
        // Each local time of the two change days, every 10 minutes, each asked twice and in
        // an order that goes back and forth, so that remembered answers are reused and
        // replaced; the changes' skipped and repeated hours are among them.
        let mut locals = Vec::new();
        for day in [(3, 8), (11, 1), (11, 2)] {
            let date = NaiveDate::from_ymd_opt(2026, day.0, day.1).expect("date");
            for minute in (0..24 * 60).step_by(10) {
                let time = chrono::NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).expect("t");
                locals.push(date.and_time(time));
            }
        }
        let asked: Vec<NaiveDateTime> = locals
            .iter()
            .flat_map(|&t| [t, t])
            .chain(locals.iter().rev().copied())
            .collect();
        for local in asked {
            let at = cal.local_to_utc(local);
            for instant in [
                at,
                at + chrono::Duration::minutes(30),
                at - chrono::Duration::hours(1),
            ] {
                assert_eq!(
                    remembering.day_of(instant),
                    cal.day_of(instant),
                    "{instant}"
                );
                assert_eq!(
                    remembering.day_of(instant),
                    cal.day_of(instant),
                    "{instant}"
                );
            }
        }
    }

    fn toronto() -> BusinessCalendar {
        BusinessCalendar::new(chrono_tz::America::Toronto)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    #[test]
    fn a_toronto_day_touches_two_utc_dates() {
        let dates = toronto().utc_dates_touched(DayRange::new(d("2026-11-22"), d("2026-11-24")));
        assert_eq!(
            dates,
            vec![
                d("2026-11-22"),
                d("2026-11-23"),
                d("2026-11-24"),
                d("2026-11-25")
            ]
        );
    }

    #[test]
    fn evening_utc_instants_belong_to_the_previous_local_day() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 24, 3, 30, 0)
            .single()
            .expect("instant");
        assert_eq!(toronto().day_of(at), d("2026-11-23"));
    }

    #[test]
    fn dst_gaps_and_overlaps_keep_the_local_date() {
        let cal = toronto();
        let gap = d("2026-03-08").and_hms_opt(2, 30, 0).expect("time");
        assert_eq!(cal.day_of(cal.local_to_utc(gap)), d("2026-03-08"));
        let overlap = d("2026-11-01").and_hms_opt(1, 30, 0).expect("time");
        assert_eq!(
            cal.local_to_utc(overlap).to_rfc3339(),
            "2026-11-01T05:30:00+00:00"
        );
    }

    #[test]
    fn the_hand_reader_agrees_with_the_format_parser() {
        let format = |sep: char| format!("%Y-%m-%d{sep}%H:%M:%S");
        for (text, sep) in [
            ("2026-11-23 18:05:09", b' '),
            ("0000-01-01T00:00:00", b'T'),
            ("9999-12-31T23:59:59", b'T'),
            ("2024-02-29 12:00:00", b' '),
        ] {
            let expected =
                NaiveDateTime::parse_from_str(text, &format(char::from(sep))).expect("test time");
            assert_eq!(
                plain_date_time(text.as_bytes(), sep),
                Some(expected),
                "{text}"
            );
        }
        for (text, sep) in [
            ("2025-02-29 12:00:00", b' '),
            ("2026-13-01 12:00:00", b' '),
            ("2026-11-23 24:00:00", b' '),
            ("2026-11-23 18:60:00", b' '),
            ("2026-11-2a 18:05:09", b' '),
            ("+026-11-23 18:05:09", b' '),
            ("2026-11-23T18:05:09", b' '),
            ("2026-11-23 18:05:9", b' '),
            ("2026-11-23 18:05:099", b' '),
            ("２026-11-23 18:05", b' '),
        ] {
            assert_eq!(plain_date_time(text.as_bytes(), sep), None, "{text}");
        }
    }
}
