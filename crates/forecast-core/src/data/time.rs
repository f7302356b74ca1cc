//! Timestamps: parsing ISO 8601, inferring the sampling frequency, continuing it.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Weekday};
use serde::{Deserialize, Serialize};

/// The sampling frequency of a series, inferred from its timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "unit", content = "step")]
pub enum Frequency {
    /// Monday to Friday (trading days); weekends skipped, holidays are gaps.
    BusinessDay,
    /// Every calendar day.
    Daily,
    /// Every 7 days.
    Weekly,
    /// Every month, on the first day.
    MonthStart,
    /// Every month, on the last day.
    MonthEnd,
    /// Every 3 months, on the first day.
    QuarterStart,
    /// Every 3 months, on the last day.
    QuarterEnd,
    /// Every year, on the same day.
    Yearly,
    /// A fixed step in seconds (intraday data).
    Seconds(i64),
    /// No time column: observations are indexed by row.
    Row,
}

impl Frequency {
    /// The usual season length for this frequency: 12 for months, 4 for quarters,
    /// 52 for weeks, 7 for calendar days, 24 for hours; 1 (no seasonality) for trading
    /// days, years and row-indexed data. Models and MASE use it unless told otherwise.
    pub fn season_length(self) -> usize {
        match self {
            Frequency::MonthStart | Frequency::MonthEnd => 12,
            Frequency::QuarterStart | Frequency::QuarterEnd => 4,
            Frequency::Weekly => 52,
            Frequency::Daily => 7,
            Frequency::Seconds(3600) => 24,
            _ => 1,
        }
    }

    /// A human name, as printed by the CLI.
    pub fn name(self) -> String {
        match self {
            Frequency::BusinessDay => "business days".into(),
            Frequency::Daily => "daily".into(),
            Frequency::Weekly => "weekly".into(),
            Frequency::MonthStart => "monthly (month start)".into(),
            Frequency::MonthEnd => "monthly (month end)".into(),
            Frequency::QuarterStart => "quarterly (quarter start)".into(),
            Frequency::QuarterEnd => "quarterly (quarter end)".into(),
            Frequency::Yearly => "yearly".into(),
            Frequency::Seconds(s) => format!("every {s} s"),
            Frequency::Row => "row index".into(),
        }
    }

    /// The timestamp that follows `t` at this frequency.
    pub fn next(self, t: NaiveDateTime) -> NaiveDateTime {
        match self {
            Frequency::BusinessDay => {
                let mut n = t + Duration::days(1);
                while matches!(n.weekday(), Weekday::Sat | Weekday::Sun) {
                    n += Duration::days(1);
                }
                n
            }
            Frequency::Daily => t + Duration::days(1),
            Frequency::Weekly => t + Duration::days(7),
            Frequency::MonthStart | Frequency::QuarterStart => {
                let months = if self == Frequency::MonthStart { 1 } else { 3 };
                t.checked_add_months(Months::new(months)).unwrap_or(t)
            }
            Frequency::MonthEnd | Frequency::QuarterEnd => {
                let months = if self == Frequency::MonthEnd { 1 } else { 3 };
                let first = t.date().with_day(1).unwrap_or(t.date());
                let next_first = first
                    .checked_add_months(Months::new(months + 1))
                    .unwrap_or(first);
                (next_first - Duration::days(1)).and_time(t.time())
            }
            Frequency::Yearly => t.checked_add_months(Months::new(12)).unwrap_or(t),
            Frequency::Seconds(s) => t + Duration::seconds(s),
            Frequency::Row => t,
        }
    }

    /// Whether `to` lies a whole number (at least one) of this frequency's steps after
    /// `from`: gaps are allowed, a step of another frequency (a daily row in a monthly
    /// series) is not.
    pub fn reaches(self, from: NaiveDateTime, to: NaiveDateTime) -> bool {
        if to <= from {
            return false;
        }
        let secs = (to - from).num_seconds();
        const DAY: i64 = 86_400;
        match self {
            Frequency::Row => true,
            Frequency::Seconds(s) => s > 0 && secs % s == 0,
            Frequency::Daily | Frequency::BusinessDay => secs % DAY == 0,
            Frequency::Weekly => secs % (7 * DAY) == 0,
            Frequency::MonthStart
            | Frequency::MonthEnd
            | Frequency::QuarterStart
            | Frequency::QuarterEnd
            | Frequency::Yearly => {
                let mut t = from;
                // Calendar steps: walk (a gap of a few hundred steps at the most).
                for _ in 0..10_000 {
                    let n = self.next(t);
                    if n <= t {
                        return false;
                    }
                    if n >= to {
                        return n == to;
                    }
                    t = n;
                }
                false
            }
        }
    }

    /// Infer the frequency from sorted, distinct timestamps. Uses the median step, so
    /// holidays in trading-day data or a few gaps do not change the answer.
    pub fn infer(times: &[NaiveDateTime]) -> Frequency {
        if times.len() < 2 {
            return Frequency::Daily;
        }
        let mut steps: Vec<i64> = times
            .windows(2)
            .map(|w| (w[1] - w[0]).num_seconds())
            .collect();
        steps.sort_unstable();
        let median = steps[steps.len() / 2];
        const DAY: i64 = 86_400;
        if median < DAY {
            return Frequency::Seconds(median.max(1));
        }
        let days = median / DAY;
        let all_first = times.iter().all(|t| t.day() == 1);
        let all_last = times.iter().all(|t| is_month_end(t.date()));
        match days {
            1..=3 => {
                let weekend = times
                    .iter()
                    .any(|t| matches!(t.weekday(), Weekday::Sat | Weekday::Sun));
                if weekend {
                    Frequency::Daily
                } else {
                    Frequency::BusinessDay
                }
            }
            6..=8 => Frequency::Weekly,
            28..=31 if all_last && !all_first => Frequency::MonthEnd,
            28..=31 => Frequency::MonthStart,
            89..=92 if all_last && !all_first => Frequency::QuarterEnd,
            89..=92 => Frequency::QuarterStart,
            365..=366 => Frequency::Yearly,
            _ => Frequency::Seconds(median),
        }
    }
}

fn is_month_end(d: NaiveDate) -> bool {
    (d + Duration::days(1)).day() == 1
}

/// Parse an ISO 8601 date or date-time (`2017-11-10`, `2017-11-10T16:00:00`,
/// `2017-11-10 16:00:00.5`, with an optional `Z` or `+hh:mm` offset, converted to UTC).
pub fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.naive_utc());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    None
}

/// Format a timestamp as a date when it falls on midnight, else as an ISO date-time.
pub fn format_timestamp(t: NaiveDateTime, date_only: bool) -> String {
    if date_only {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDateTime {
        parse_timestamp(s).unwrap()
    }

    #[test]
    fn business_days_skip_weekends() {
        // 2017-11-10 is a Friday.
        let f = Frequency::BusinessDay;
        assert_eq!(f.next(d("2017-11-10")), d("2017-11-13"));
        assert_eq!(f.next(d("2017-11-13")), d("2017-11-14"));
    }

    #[test]
    fn month_end_and_start_continue() {
        assert_eq!(Frequency::MonthEnd.next(d("2020-01-31")), d("2020-02-29"));
        assert_eq!(Frequency::MonthStart.next(d("1960-12-01")), d("1961-01-01"));
        assert_eq!(Frequency::QuarterEnd.next(d("2020-03-31")), d("2020-06-30"));
    }

    #[test]
    fn infers_common_frequencies() {
        let b: Vec<_> = [
            "2017-11-06",
            "2017-11-07",
            "2017-11-08",
            "2017-11-09",
            "2017-11-10",
            "2017-11-13",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        assert_eq!(Frequency::infer(&b), Frequency::BusinessDay);
        let m: Vec<_> = ["1949-01-01", "1949-02-01", "1949-03-01"]
            .iter()
            .map(|s| d(s))
            .collect();
        assert_eq!(Frequency::infer(&m), Frequency::MonthStart);
        let y: Vec<_> = ["1700-01-01", "1701-01-01", "1702-01-01"]
            .iter()
            .map(|s| d(s))
            .collect();
        assert_eq!(Frequency::infer(&y), Frequency::Yearly);
        let w: Vec<_> = ["1958-03-29", "1958-04-05", "1958-04-12"]
            .iter()
            .map(|s| d(s))
            .collect();
        assert_eq!(Frequency::infer(&w), Frequency::Weekly);
        let h: Vec<_> = ["2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00"]
            .iter()
            .map(|s| d(s))
            .collect();
        assert_eq!(Frequency::infer(&h), Frequency::Seconds(3600));
    }

    #[test]
    fn parses_iso_variants() {
        assert!(parse_timestamp("2017-11-10").is_some());
        assert!(parse_timestamp("2017-11-10T16:00:00Z").is_some());
        assert!(parse_timestamp("2017-11-10 16:00:00.250").is_some());
        assert!(parse_timestamp("10/11/2017").is_none());
    }
}
