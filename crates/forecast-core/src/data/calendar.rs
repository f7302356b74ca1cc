//! Trading-day calendars: which weekdays a daily market series trades on, so that
//! future timestamps skip exchange holidays as the data does.
//!
//! The NYSE rules come from the `fasti` crate (a port of QuantLib's
//! `UnitedStates::NYSE`: the statutory holidays with their weekend shifts, Good Friday,
//! Juneteenth since 2022, and the historic closings such as 2001-09-11..14 and
//! 2012-10-29/30). It covers 1901..=2199; dates outside fall back to plain weekdays.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The calendar of a trading-day series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Calendar {
    /// Monday to Friday; holidays are not known.
    Business,
    /// New York Stock Exchange trading days (weekdays less NYSE holidays and closings).
    Nyse,
}

/// What the user asked for (`--calendar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarChoice {
    /// NYSE when the series' missing weekdays are mostly NYSE holidays, else business.
    #[default]
    Auto,
    /// Plain weekdays.
    Business,
    /// NYSE trading days.
    Nyse,
}

impl FromStr for CalendarChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(CalendarChoice::Auto),
            "business" => Ok(CalendarChoice::Business),
            "nyse" => Ok(CalendarChoice::Nyse),
            other => Err(format!(
                "unknown calendar '{other}': expected auto, business or nyse"
            )),
        }
    }
}

/// The calendar chosen for a series and why (printed by the CLI).
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarDecision {
    /// The calendar.
    pub calendar: Calendar,
    /// One line saying how it was chosen.
    pub reason: String,
}

fn fasti_date(d: NaiveDate) -> Option<fasti::Date> {
    fasti::Date::try_from(d).ok()
}

/// Whether NYSE is closed on `d` for a holiday or a one-off closing (not a weekend);
/// `None` outside the years the rules cover.
pub fn nyse_holiday(d: NaiveDate) -> Option<bool> {
    let fd = fasti_date(d)?;
    Some(fasti::calendars::us::NYSE.is_holiday(fd) && !is_weekend(d))
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_weekday(d: NaiveDate) -> NaiveDate {
    let mut n = d + Duration::days(1);
    while is_weekend(n) {
        n += Duration::days(1);
    }
    n
}

impl Calendar {
    /// The trading day after `t` (same time of day). NYSE dates outside the covered
    /// years continue on plain weekdays.
    pub fn next(self, t: NaiveDateTime) -> NaiveDateTime {
        let mut d = next_weekday(t.date());
        if self == Calendar::Nyse {
            while nyse_holiday(d) == Some(true) {
                d = next_weekday(d);
            }
        }
        d.and_time(t.time())
    }

    /// Whether [`Calendar::next`] from `t` over `h` steps stays inside the years whose
    /// holidays are known (always true for `Business`).
    pub fn covers(self, t: NaiveDateTime, h: usize) -> bool {
        match self {
            Calendar::Business => true,
            Calendar::Nyse => {
                // h trading days fit in h * 2 calendar days plus a long weekend.
                let last = t.date() + Duration::days(2 * h as i64 + 7);
                fasti_date(t.date()).is_some() && fasti_date(last).is_some()
            }
        }
    }

    /// The name written to artifacts and printed.
    pub fn name(self) -> &'static str {
        match self {
            Calendar::Business => "business",
            Calendar::Nyse => "nyse",
        }
    }
}

/// Share of the missing weekdays that must be NYSE holidays for `auto` to pick NYSE.
/// Ad-hoc closures the rules do not know, or a few data gaps, leave it well above.
const AUTO_HOLIDAY_SHARE: f64 = 0.8;
/// Largest share of the NYSE holidays in the span on which the series may have rows
/// and still be an NYSE series (a few vendor rows on a holiday happen).
const AUTO_TRADED_HOLIDAY_SHARE: f64 = 0.1;

/// Resolve `choice` for a trading-day series with sorted, distinct `times`.
pub fn resolve(choice: CalendarChoice, times: &[NaiveDateTime]) -> CalendarDecision {
    match choice {
        CalendarChoice::Business => CalendarDecision {
            calendar: Calendar::Business,
            reason: "business days (--calendar business)".into(),
        },
        CalendarChoice::Nyse => CalendarDecision {
            calendar: Calendar::Nyse,
            reason: "NYSE trading days (--calendar nyse)".into(),
        },
        CalendarChoice::Auto => detect(times),
    }
}

fn detect(times: &[NaiveDateTime]) -> CalendarDecision {
    let business = |reason: String| CalendarDecision {
        calendar: Calendar::Business,
        reason,
    };
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return business("business days (no timestamps)".into());
    };
    let (first, last) = (first.date(), last.date());
    if fasti_date(first).is_none() || fasti_date(last).is_none() {
        return business(format!(
            "business days (auto: NYSE holidays are known for 1901..2199 only; the data spans {first}..{last})"
        ));
    }
    let present: std::collections::HashSet<NaiveDate> = times.iter().map(|t| t.date()).collect();
    let (mut missing, mut missing_holidays, mut holidays, mut traded_holidays) = (0, 0, 0, 0);
    let mut d = first;
    while d <= last {
        if !is_weekend(d) {
            let holiday = nyse_holiday(d) == Some(true);
            holidays += usize::from(holiday);
            if present.contains(&d) {
                traded_holidays += usize::from(holiday);
            } else {
                missing += 1;
                missing_holidays += usize::from(holiday);
            }
        }
        d += Duration::days(1);
    }
    if missing == 0 || holidays == 0 {
        return business(format!(
            "business days (auto: no missing weekdays or no NYSE holidays in {first}..{last})"
        ));
    }
    let share = missing_holidays as f64 / missing as f64;
    let traded = traded_holidays as f64 / holidays as f64;
    if share >= AUTO_HOLIDAY_SHARE && traded <= AUTO_TRADED_HOLIDAY_SHARE {
        CalendarDecision {
            calendar: Calendar::Nyse,
            reason: format!(
                "NYSE trading days (auto: {missing_holidays} of the {missing} missing weekdays are NYSE holidays)"
            ),
        }
    } else {
        business(format!(
            "business days (auto: {missing_holidays} of the {missing} missing weekdays are NYSE holidays, rows on {traded_holidays} of {holidays} NYSE holidays)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// NYSE's published full-day closings for 2017 (nyse.com holiday calendar): New
    /// Year's Day observed on Monday 2 January, MLK, Washington's Birthday, Good Friday,
    /// Memorial Day, Independence Day, Labor Day, Thanksgiving, Christmas.
    #[test]
    fn a_year_of_nyse_holidays() {
        let published = [
            d(2017, 1, 2),
            d(2017, 1, 16),
            d(2017, 2, 20),
            d(2017, 4, 14),
            d(2017, 5, 29),
            d(2017, 7, 4),
            d(2017, 9, 4),
            d(2017, 11, 23),
            d(2017, 12, 25),
        ];
        let mut found = vec![];
        let mut day = d(2017, 1, 1);
        while day.year() == 2017 {
            if nyse_holiday(day) == Some(true) {
                found.push(day);
            }
            day += Duration::days(1);
        }
        assert_eq!(found, published);
        // 251 trading days in 2017 (260 weekdays less 9 holidays).
        let mut t = d(2016, 12, 30).and_hms_opt(0, 0, 0).unwrap();
        let mut n = 0;
        loop {
            t = Calendar::Nyse.next(t);
            if t.year() > 2017 {
                break;
            }
            n += 1;
        }
        assert_eq!(n, 251);
    }

    #[test]
    fn next_skips_thanksgiving_and_ad_hoc_closings() {
        let t = |y, m, day| d(y, m, day).and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(Calendar::Nyse.next(t(2017, 11, 22)), t(2017, 11, 24));
        assert_eq!(Calendar::Business.next(t(2017, 11, 22)), t(2017, 11, 23));
        assert_eq!(Calendar::Nyse.next(t(2001, 9, 10)), t(2001, 9, 17));
        assert_eq!(Calendar::Nyse.next(t(2012, 10, 26)), t(2012, 10, 31));
        // Outside the covered years: plain weekdays.
        assert_eq!(Calendar::Nyse.next(t(2200, 12, 24)), t(2200, 12, 25));
    }

    fn weekdays(
        from: NaiveDate,
        to: NaiveDate,
        keep: impl Fn(NaiveDate) -> bool,
    ) -> Vec<NaiveDateTime> {
        let mut out = vec![];
        let mut day = from;
        while day <= to {
            if !is_weekend(day) && keep(day) {
                out.push(day.and_hms_opt(0, 0, 0).unwrap());
            }
            day += Duration::days(1);
        }
        out
    }

    #[test]
    fn auto_picks_nyse_for_exchange_data_and_business_otherwise() {
        let exchange = weekdays(d(2010, 1, 1), d(2014, 12, 31), |x| {
            nyse_holiday(x) != Some(true)
        });
        assert_eq!(
            resolve(CalendarChoice::Auto, &exchange).calendar,
            Calendar::Nyse
        );
        // An exchange series with a few closures the rules might not know and two data
        // gaps still reads as NYSE.
        let gaps = [d(2011, 3, 3), d(2012, 6, 6), d(2013, 8, 8)];
        let gappy: Vec<_> = exchange
            .iter()
            .copied()
            .filter(|t| !gaps.contains(&t.date()))
            .collect();
        assert_eq!(
            resolve(CalendarChoice::Auto, &gappy).calendar,
            Calendar::Nyse
        );
        // Every weekday present: business days.
        let all = weekdays(d(2010, 1, 1), d(2014, 12, 31), |_| true);
        assert_eq!(
            resolve(CalendarChoice::Auto, &all).calendar,
            Calendar::Business
        );
        // Gaps that are not NYSE holidays (another exchange's): business days.
        let other = weekdays(d(2010, 1, 1), d(2014, 12, 31), |x| {
            !(x.day() == 1 && x.month() == 5)
        });
        assert_eq!(
            resolve(CalendarChoice::Auto, &other).calendar,
            Calendar::Business
        );
        assert_eq!(resolve(CalendarChoice::Nyse, &all).calendar, Calendar::Nyse);
        assert_eq!(
            resolve(CalendarChoice::Business, &exchange).calendar,
            Calendar::Business
        );
    }
}
