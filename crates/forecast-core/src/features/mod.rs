//! Features computed from a series: technical indicators, lags and calendar columns.
//!
//! A [`Feature`] is parsed from the CLI's spelling (`sma:20`, `macd:12,26,9`, `lag:5`,
//! `dow`) and computes one or more named columns as long as the input, with `NaN` in
//! the warm-up rows.

pub mod indicators;

use crate::error::{Error, Result};
use chrono::{Datelike, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One feature specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Feature {
    /// Simple moving average `sma_N`.
    Sma(usize),
    /// Exponential moving average `ema_N`.
    Ema(usize),
    /// Relative strength index `rsi_N`.
    Rsi(usize),
    /// `macd`, `macd_signal`, `macd_hist` (suffixed `_F_S_G` for non-default periods).
    Macd {
        /// Period of the fast EMA (12).
        fast: usize,
        /// Period of the slow EMA (26).
        slow: usize,
        /// Period of the signal line's EMA (9).
        signal: usize,
    },
    /// `bb_upper_N`, `bb_middle_N`, `bb_lower_N` at `k` standard deviations.
    BBands {
        /// Window of the moving average and standard deviation.
        period: usize,
        /// Band width in standard deviations.
        k: f64,
    },
    /// Simple return `return`.
    Returns,
    /// Log return `log_return`.
    LogReturns,
    /// Rolling volatility of log returns `volatility_N`.
    Volatility(usize),
    /// The series `N` steps back, `lag_N`.
    Lag(usize),
    /// Day of week, Monday = 0, `dow`.
    DayOfWeek,
    /// Month 1..12, `month`.
    Month,
}

impl Feature {
    /// Column names this feature produces, in order.
    pub fn columns(&self) -> Vec<String> {
        match self {
            Feature::Sma(n) => vec![format!("sma_{n}")],
            Feature::Ema(n) => vec![format!("ema_{n}")],
            Feature::Rsi(n) => vec![format!("rsi_{n}")],
            Feature::Macd { fast, slow, signal } => {
                let suffix = if (*fast, *slow, *signal) == (12, 26, 9) {
                    String::new()
                } else {
                    format!("_{fast}_{slow}_{signal}")
                };
                ["macd", "macd_signal", "macd_hist"]
                    .iter()
                    .map(|c| format!("{c}{suffix}"))
                    .collect()
            }
            Feature::BBands { period, k } => {
                let suffix = if *k == 2.0 {
                    format!("_{period}")
                } else {
                    format!("_{period}_{k}")
                };
                ["bb_upper", "bb_middle", "bb_lower"]
                    .iter()
                    .map(|c| format!("{c}{suffix}"))
                    .collect()
            }
            Feature::Returns => vec!["return".into()],
            Feature::LogReturns => vec!["log_return".into()],
            Feature::Volatility(n) => vec![format!("volatility_{n}")],
            Feature::Lag(n) => vec![format!("lag_{n}")],
            Feature::DayOfWeek => vec!["dow".into()],
            Feature::Month => vec!["month".into()],
        }
    }

    /// Rows at the start for which the feature is undefined.
    pub fn warmup(&self) -> usize {
        match self {
            Feature::Sma(n) | Feature::Ema(n) => n.saturating_sub(1),
            Feature::Rsi(n) | Feature::Volatility(n) | Feature::Lag(n) => *n,
            Feature::Macd { fast, slow, signal } => fast.max(slow) + signal - 2,
            Feature::BBands { period, .. } => period.saturating_sub(1),
            Feature::Returns | Feature::LogReturns => 1,
            Feature::DayOfWeek | Feature::Month => 0,
        }
    }

    /// Compute the feature's columns from the series `x` (and its timestamps, needed by
    /// calendar features).
    pub fn compute(&self, x: &[f64], times: Option<&[NaiveDateTime]>) -> Result<Vec<Vec<f64>>> {
        use indicators as ind;
        Ok(match self {
            Feature::Sma(n) => vec![ind::sma(x, *n)],
            Feature::Ema(n) => vec![ind::ema(x, *n)],
            Feature::Rsi(n) => vec![ind::rsi(x, *n)],
            Feature::Macd { fast, slow, signal } => ind::macd(x, *fast, *slow, *signal).to_vec(),
            Feature::BBands { period, k } => ind::bbands(x, *period, *k).to_vec(),
            Feature::Returns => vec![ind::returns(x)],
            Feature::LogReturns => vec![ind::log_returns(x)],
            Feature::Volatility(n) => vec![ind::volatility(x, *n)],
            Feature::Lag(n) => {
                let mut out = vec![f64::NAN; x.len()];
                if *n < x.len() {
                    out[*n..].copy_from_slice(&x[..x.len() - n]);
                }
                vec![out]
            }
            Feature::DayOfWeek | Feature::Month => {
                let times = times.ok_or_else(|| {
                    Error::config(
                        "indicators",
                        format!("'{self}' needs a time column, and the data has none"),
                    )
                })?;
                let f = |t: &NaiveDateTime| match self {
                    Feature::DayOfWeek => t.weekday().num_days_from_monday() as f64,
                    _ => t.month() as f64,
                };
                vec![times.iter().map(f).collect()]
            }
        })
    }

    /// Parse a comma-separated list such as `sma:20,macd:12,26,9,bbands:20,returns`.
    /// Bare numbers continue the previous item's arguments.
    pub fn parse_list(s: &str) -> Result<Vec<Feature>> {
        let mut items: Vec<String> = Vec::new();
        for tok in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let numeric = tok.parse::<f64>().is_ok();
            match items.last_mut() {
                Some(last) if numeric => {
                    last.push(',');
                    last.push_str(tok);
                }
                _ => items.push(tok.to_string()),
            }
        }
        items.iter().map(|i| i.parse()).collect()
    }
}

impl FromStr for Feature {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, args) = match s.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (s.trim(), None),
        };
        let bad = |msg: &str| Error::config("indicators", format!("'{s}': {msg}"));
        let nums: Vec<f64> = match args {
            Some(a) => a
                .split(',')
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .map_err(|_| bad("arguments must be numbers"))
                })
                .collect::<Result<_>>()?,
            None => vec![],
        };
        let int = |i: usize, default: Option<usize>| -> Result<usize> {
            match nums.get(i) {
                Some(v) if *v >= 1.0 && v.fract() == 0.0 => Ok(*v as usize),
                Some(_) => Err(bad("periods must be whole numbers >= 1")),
                None => default.ok_or_else(|| bad("missing period (e.g. sma:20)")),
            }
        };
        let f = match name.to_ascii_lowercase().as_str() {
            "sma" => Feature::Sma(int(0, None)?),
            "ema" => Feature::Ema(int(0, None)?),
            "rsi" => Feature::Rsi(int(0, Some(14))?),
            "macd" => Feature::Macd {
                fast: int(0, Some(12))?,
                slow: int(1, Some(26))?,
                signal: int(2, Some(9))?,
            },
            "bbands" => Feature::BBands {
                period: int(0, Some(20))?,
                k: match nums.get(1) {
                    Some(k) if *k > 0.0 => *k,
                    Some(_) => return Err(bad("k must be > 0")),
                    None => 2.0,
                },
            },
            "returns" | "return" => Feature::Returns,
            "log_returns" | "log_return" => Feature::LogReturns,
            "volatility" => {
                let n = int(0, Some(20))?;
                if n < 2 {
                    return Err(bad("volatility needs a window of at least 2"));
                }
                Feature::Volatility(n)
            }
            "lag" => Feature::Lag(int(0, None)?),
            "dow" => Feature::DayOfWeek,
            "month" => Feature::Month,
            _ => return Err(bad(
                "unknown indicator (known: sma, ema, rsi, macd, bbands, returns, log_returns, volatility, lag, dow, month)",
            )),
        };
        let max_args = match f {
            Feature::Macd { .. } => 3,
            Feature::BBands { .. } => 2,
            Feature::Returns | Feature::LogReturns | Feature::DayOfWeek | Feature::Month => 0,
            _ => 1,
        };
        if nums.len() > max_args {
            return Err(bad("too many arguments"));
        }
        Ok(f)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Sma(n) => write!(f, "sma:{n}"),
            Feature::Ema(n) => write!(f, "ema:{n}"),
            Feature::Rsi(n) => write!(f, "rsi:{n}"),
            Feature::Macd { fast, slow, signal } => write!(f, "macd:{fast},{slow},{signal}"),
            Feature::BBands { period, k } => write!(f, "bbands:{period},{k}"),
            Feature::Returns => write!(f, "returns"),
            Feature::LogReturns => write!(f, "log_returns"),
            Feature::Volatility(n) => write!(f, "volatility:{n}"),
            Feature::Lag(n) => write!(f, "lag:{n}"),
            Feature::DayOfWeek => write!(f, "dow"),
            Feature::Month => write!(f, "month"),
        }
    }
}

impl TryFrom<String> for Feature {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Feature> for String {
    fn from(f: Feature) -> String {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cli_lists() {
        let l = Feature::parse_list(
            "sma:20,ema:12,rsi:14,macd,bbands:20,returns,log_returns,volatility:20",
        )
        .unwrap();
        assert_eq!(l.len(), 8);
        let l = Feature::parse_list("macd:5,35,5,bbands:10,3,lag:2").unwrap();
        assert_eq!(
            l,
            vec![
                Feature::Macd {
                    fast: 5,
                    slow: 35,
                    signal: 5
                },
                Feature::BBands { period: 10, k: 3.0 },
                Feature::Lag(2)
            ]
        );
        assert!(Feature::parse_list("sma").is_err());
        assert!(Feature::parse_list("foo:3").is_err());
        assert!(Feature::parse_list("sma:0").is_err());
    }

    #[test]
    fn names_follow_the_cli_contract() {
        assert_eq!(
            Feature::Macd {
                fast: 12,
                slow: 26,
                signal: 9
            }
            .columns()[2],
            "macd_hist"
        );
        assert_eq!(
            Feature::BBands { period: 20, k: 2.0 }.columns()[0],
            "bb_upper_20"
        );
        assert_eq!(Feature::Volatility(20).columns()[0], "volatility_20");
    }

    #[test]
    fn warmup_matches_first_defined_row() {
        let x: Vec<f64> = (1..100).map(|i| i as f64 + (i as f64).sin()).collect();
        for f in
            Feature::parse_list("sma:20,ema:12,rsi:14,macd,bbands:20,returns,volatility:20,lag:3")
                .unwrap()
        {
            for col in f.compute(&x, None).unwrap() {
                let first = col.iter().position(|v| !v.is_nan()).unwrap();
                assert_eq!(first, f.warmup(), "{f}");
            }
        }
    }
}
