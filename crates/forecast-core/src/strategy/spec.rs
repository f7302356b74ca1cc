//! The strategy file: signals, execution, sizing and exits, as TOML or as structs.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A trading strategy: what to trade on, how orders fill, how big positions are and
/// when they are cut. `StrategySpec::from_toml` reads the file of
/// `forecast strategy backtest --strategy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    /// The entry / exit signal.
    pub signal: SignalSpec,
    /// How orders fill and what they cost.
    #[serde(default)]
    pub execution: Execution,
    /// How large a new position is.
    #[serde(default)]
    pub sizing: Sizing,
    /// Stop-loss and take-profit exits.
    #[serde(default)]
    pub exits: Exits,
}

/// A signal: on each bar +1 (go long), −1 (go short, or exit a long position when
/// trading long only) or 0 (keep the position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SignalSpec {
    /// Simple moving averages of the close: +1 on the bar where the fast one crosses
    /// above the slow one, −1 where it crosses below (`mode = "state"`: on every bar
    /// the fast one is above / below).
    SmaCross {
        /// Fast window (bars).
        fast: usize,
        /// Slow window (bars).
        slow: usize,
        /// `cross` (the crossing bar only; default) or `state` (every bar).
        #[serde(default)]
        mode: CrossMode,
    },
    /// Exponential moving averages of the close (TA-Lib's EMA), as `sma-cross`.
    EmaCross {
        /// Fast window (bars).
        fast: usize,
        /// Slow window (bars).
        slow: usize,
        /// `cross` (default) or `state`.
        #[serde(default)]
        mode: CrossMode,
    },
    /// RSI thresholds (Wilder's RSI): +1 while the RSI is below `lower` (oversold), −1
    /// while it is above `upper` (overbought).
    Rsi {
        /// RSI period (bars).
        #[serde(default = "default_rsi_period")]
        period: usize,
        /// Oversold threshold.
        #[serde(default = "default_rsi_lower")]
        lower: f64,
        /// Overbought threshold.
        #[serde(default = "default_rsi_upper")]
        upper: f64,
    },
    /// Bollinger band touches (mean reversion): +1 while the close is below the lower
    /// band, −1 while it is above the upper band.
    Bbands {
        /// Window (bars).
        #[serde(default = "default_bb_period")]
        period: usize,
        /// Band width in population standard deviations.
        #[serde(default = "default_bb_k")]
        k: f64,
    },
    /// MACD line crossing its signal line (TA-Lib's MACD), as `sma-cross`.
    Macd {
        /// Fast EMA window.
        #[serde(default = "default_macd_fast")]
        fast: usize,
        /// Slow EMA window.
        #[serde(default = "default_macd_slow")]
        slow: usize,
        /// Signal EMA window.
        #[serde(default = "default_macd_signal")]
        signal: usize,
        /// `cross` (default) or `state`.
        #[serde(default)]
        mode: CrossMode,
    },
    /// A model's forecast, walk-forward: at each bar from `min_train - 1` on, the model
    /// fitted on the closes up to an origin at most `refit_every - 1` bars back (the
    /// last `window` of them, or all) and conditioned on the closes since, without
    /// refitting, forecasts `horizon` bars ahead. +1 when the forecast return to the
    /// last step exceeds `threshold_pct`, −1 when it is below `-threshold_pct`; with
    /// `level`, +1 when that step's interval lies wholly above the close, −1 wholly
    /// below. A forecast at bar t sees the closes up to t only.
    Forecast(ForecastSignal),
    /// +1 where every member says +1, −1 where every member says −1.
    All {
        /// The members.
        signals: Vec<SignalSpec>,
        /// Count a value only after it held this many bars in a row (1: at once).
        #[serde(default = "one")]
        confirm: usize,
    },
    /// +1 where some member says +1 and none −1, and the other way round.
    Any {
        /// The members.
        signals: Vec<SignalSpec>,
        /// Count a value only after it held this many bars in a row (1: at once).
        #[serde(default = "one")]
        confirm: usize,
    },
}

/// A model's forecast, walk-forward: at each bar from `min_train - 1` on, the model
/// fitted on the closes up to an origin at most `refit_every - 1` bars back (the
/// last `window` of them, or all) and conditioned on the closes since, without
/// refitting, forecasts `horizon` bars ahead. +1 when the forecast return to the
/// last step exceeds `threshold_pct`, −1 when it is below `-threshold_pct`; with
/// `level`, +1 when that step's interval lies wholly above the close, −1 wholly
/// below. A forecast at bar t sees the closes up to t only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSignal {
    /// Model kind (any `--model` kind).
    pub model: String,
    /// The model's config keys (as `--set`).
    #[serde(default)]
    pub config: std::collections::BTreeMap<String, serde_json::Value>,
    /// Steps ahead the decision looks.
    #[serde(default = "default_forecast_horizon")]
    pub horizon: usize,
    /// Forecast return that triggers a signal, percent.
    #[serde(default)]
    pub threshold_pct: f64,
    /// Decide by the interval at this level (percent) instead of the point.
    #[serde(default)]
    pub level: Option<f64>,
    /// Bars the first fit sees.
    #[serde(default = "default_min_train")]
    pub min_train: usize,
    /// Bars between refits (the state is conditioned on each new bar in between).
    #[serde(default = "default_refit_every")]
    pub refit_every: usize,
    /// Fit on the last `window` bars only (default: all bars so far).
    #[serde(default)]
    pub window: Option<usize>,
    /// Season length given to the model.
    #[serde(default = "one")]
    pub season_length: usize,
}

/// When a two-line signal fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrossMode {
    /// On the bar where the lines cross (backtesting.py's `crossover`: the fast line
    /// was strictly below and is now strictly above).
    #[default]
    Cross,
    /// On every bar, by which line is above.
    State,
}

/// How orders fill and what they cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Execution {
    /// Fill at the signal bar's close instead of the next bar's open.
    pub trade_on_close: bool,
    /// Commission in basis points of each fill's value, charged on entry and exit.
    pub commission_bps: f64,
    /// Slippage in basis points: buys fill this much above the price, sells below, on
    /// entry and exit.
    pub slippage_bps: f64,
    /// Long only: a −1 signal exits; otherwise it reverses to a short position.
    pub long_only: bool,
    /// Starting cash.
    pub cash: f64,
    /// Size positions in whole units (backtesting.py's sizing) instead of fractions.
    pub whole_units: bool,
    /// Refuse fills on bars with zero volume (the order waits for a bar that traded).
    pub require_volume: bool,
    /// Close a position still open after the last bar (at that bar's open, as
    /// backtesting.py's `finalize_trades` does) so that it counts among the trades.
    pub finalize_trades: bool,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            trade_on_close: false,
            commission_bps: 0.0,
            slippage_bps: 0.0,
            long_only: true,
            cash: 10_000.0,
            whole_units: false,
            require_volume: false,
            finalize_trades: false,
        }
    }
}

/// How large a new position is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Sizing {
    /// A fixed fraction of equity (costs included).
    Fraction {
        /// The fraction, in (0, 1].
        #[serde(default = "one_f")]
        fraction: f64,
    },
    /// The fraction of equity that targets an annualised volatility, from the close's
    /// realised volatility over `lookback` bars before the signal, at most `max_fraction`.
    Volatility {
        /// Target annualised volatility, percent.
        target_pct: f64,
        /// Bars of log returns the volatility is measured on.
        #[serde(default = "default_vol_lookback")]
        lookback: usize,
        /// Upper bound of the fraction (1: no leverage).
        #[serde(default = "one_f")]
        max_fraction: f64,
    },
}

impl Default for Sizing {
    fn default() -> Self {
        Sizing::Fraction { fraction: 1.0 }
    }
}

/// Stop-loss and take-profit levels, percent from the entry fill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exits {
    /// Close when the price moves this many percent against the position.
    pub stop_loss_pct: Option<f64>,
    /// Close when the price moves this many percent in favour of the position.
    pub take_profit_pct: Option<f64>,
}

fn one() -> usize {
    1
}
fn one_f() -> f64 {
    1.0
}
fn default_rsi_period() -> usize {
    14
}
fn default_rsi_lower() -> f64 {
    30.0
}
fn default_rsi_upper() -> f64 {
    70.0
}
fn default_bb_period() -> usize {
    20
}
fn default_bb_k() -> f64 {
    2.0
}
fn default_macd_fast() -> usize {
    12
}
fn default_macd_slow() -> usize {
    26
}
fn default_macd_signal() -> usize {
    9
}
fn default_forecast_horizon() -> usize {
    5
}
fn default_min_train() -> usize {
    250
}
fn default_refit_every() -> usize {
    20
}
fn default_vol_lookback() -> usize {
    20
}

fn bad(key: impl Into<String>, message: impl Into<String>) -> Error {
    Error::config(key, message)
}

/// The types of a signal table's values, checked before the signal is read: serde
/// reads a tagged enum through a buffer that forgets where a wrong type was, so the
/// error would not name the key.
pub(crate) fn check_signal_types(v: &toml::Value, at: &str) -> Result<()> {
    let Some(t) = v.as_table() else {
        return Err(bad(at, "must be a table"));
    };
    for (key, value) in t {
        let here = format!("{at}.{key}");
        let ok = match key.as_str() {
            "fast" | "slow" | "period" | "signal" | "confirm" | "horizon" | "min_train"
            | "refit_every" | "window" | "season_length" => {
                value.as_integer().is_some_and(|i| i >= 0)
            }
            "lower" | "upper" | "k" | "threshold_pct" | "level" => {
                value.as_float().is_some() || value.as_integer().is_some()
            }
            "kind" | "mode" | "model" => value.is_str(),
            "config" => value.is_table(),
            "signals" => {
                let Some(list) = value.as_array() else {
                    return Err(bad(here, "must be a list of signals"));
                };
                for (i, s) in list.iter().enumerate() {
                    check_signal_types(s, &format!("{here}[{i}]"))?;
                }
                true
            }
            _ => true, // unknown keys are reported by the reader, with the known ones
        };
        if !ok {
            let want = match key.as_str() {
                "lower" | "upper" | "k" | "threshold_pct" | "level" => "a number",
                "kind" | "mode" | "model" => "a string",
                "config" => "a table",
                _ => "a whole number",
            };
            return Err(bad(here, format!("must be {want}, got {value}")));
        }
    }
    Ok(())
}

impl StrategySpec {
    /// Parse and check a strategy file's text. Unknown keys, wrong types and
    /// impossible values are errors naming the key.
    pub fn from_toml(text: &str) -> Result<StrategySpec> {
        let value: toml::Table =
            toml::from_str(text).map_err(|e| bad("strategy", e.to_string().trim().to_string()))?;
        Self::from_table(value)
    }

    /// Read and check a strategy from its parsed TOML table (a sweep sets sampled
    /// keys in the table, then reads it here); errors name the key.
    pub fn from_table(value: toml::Table) -> Result<StrategySpec> {
        if let Some(signal) = value.get("signal") {
            check_signal_types(signal, "signal")?;
        }
        let spec: StrategySpec = value
            .try_into()
            .map_err(|e: toml::de::Error| bad("strategy", e.to_string().trim().to_string()))?;
        spec.check()?;
        Ok(spec)
    }

    /// Check every value (windows ≥ 1, fast < slow, thresholds in range, costs ≥ 0,
    /// cash > 0, fractions in (0, 1] …); errors name the key.
    pub fn check(&self) -> Result<()> {
        self.signal.check("signal")?;
        let e = &self.execution;
        if !(e.cash.is_finite() && e.cash > 0.0) {
            return Err(bad(
                "execution.cash",
                format!("must be positive, got {}", e.cash),
            ));
        }
        for (key, v) in [
            ("execution.commission_bps", e.commission_bps),
            ("execution.slippage_bps", e.slippage_bps),
        ] {
            if !(v.is_finite() && (0.0..1000.0).contains(&v)) {
                return Err(bad(
                    key,
                    format!("must be between 0 and 1000 basis points, got {v}"),
                ));
            }
        }
        match &self.sizing {
            Sizing::Fraction { fraction } => {
                if !(fraction.is_finite() && *fraction > 0.0 && *fraction <= 1.0) {
                    return Err(bad(
                        "sizing.fraction",
                        format!("must be in (0, 1], got {fraction}"),
                    ));
                }
            }
            Sizing::Volatility {
                target_pct,
                lookback,
                max_fraction,
            } => {
                if !(target_pct.is_finite() && *target_pct > 0.0) {
                    return Err(bad(
                        "sizing.target_pct",
                        format!("must be positive, got {target_pct}"),
                    ));
                }
                if *lookback < 2 {
                    return Err(bad(
                        "sizing.lookback",
                        format!("must be at least 2 bars, got {lookback}"),
                    ));
                }
                if !(max_fraction.is_finite() && *max_fraction > 0.0 && *max_fraction <= 1.0) {
                    return Err(bad(
                        "sizing.max_fraction",
                        format!("must be in (0, 1], got {max_fraction}"),
                    ));
                }
            }
        }
        for (key, v) in [
            ("exits.stop_loss_pct", self.exits.stop_loss_pct),
            ("exits.take_profit_pct", self.exits.take_profit_pct),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0 && v < 100.0) {
                    return Err(bad(
                        key,
                        format!("must be between 0 and 100 percent, got {v}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Index of the first bar with every value the strategy needs (the slowest
    /// indicator's first value, or the volatility sizing's look-back), and the key that
    /// asks for it.
    pub fn warmup(&self) -> (usize, String) {
        let signal = self.signal.slowest("signal");
        match &self.sizing {
            Sizing::Volatility { lookback, .. } if *lookback > signal.0 => {
                (*lookback, "sizing.lookback".into())
            }
            _ => signal,
        }
    }
}

impl SignalSpec {
    /// The model of a `forecast` signal, its config keys applied (errors name the key
    /// under `at`); `None` for other signals.
    pub(crate) fn model_config(&self, at: &str) -> Result<Option<crate::models::ModelConfig>> {
        let SignalSpec::Forecast(ForecastSignal { model, config, .. }) = self else {
            return Ok(None);
        };
        let mut m = crate::models::ModelConfig::from_kind(model)
            .map_err(|e| bad(format!("{at}.model"), e.to_string()))?;
        for (k, v) in config {
            m.set_json(k, v.clone())
                .map_err(|e| bad(format!("{at}.config.{k}"), e.to_string()))?;
        }
        Ok(Some(m))
    }

    pub(crate) fn check(&self, at: &str) -> Result<()> {
        let positive = |key: &str, n: usize| {
            if n == 0 {
                Err(bad(format!("{at}.{key}"), "must be at least 1 bar"))
            } else {
                Ok(())
            }
        };
        let ordered = |fast: usize, slow: usize| {
            if fast >= slow {
                Err(bad(
                    format!("{at}.fast"),
                    format!("must be below {at}.slow ({fast} ≥ {slow})"),
                ))
            } else {
                Ok(())
            }
        };
        match self {
            SignalSpec::SmaCross { fast, slow, .. } | SignalSpec::EmaCross { fast, slow, .. } => {
                positive("fast", *fast)?;
                positive("slow", *slow)?;
                ordered(*fast, *slow)
            }
            SignalSpec::Rsi {
                period,
                lower,
                upper,
            } => {
                positive("period", *period)?;
                if !(lower.is_finite()
                    && upper.is_finite()
                    && 0.0 <= *lower
                    && lower < upper
                    && *upper <= 100.0)
                {
                    return Err(bad(
                        format!("{at}.lower"),
                        format!(
                            "need 0 ≤ lower < upper ≤ 100, got lower = {lower}, upper = {upper}"
                        ),
                    ));
                }
                Ok(())
            }
            SignalSpec::Bbands { period, k } => {
                positive("period", *period)?;
                if !(k.is_finite() && *k > 0.0) {
                    return Err(bad(format!("{at}.k"), format!("must be positive, got {k}")));
                }
                Ok(())
            }
            SignalSpec::Macd {
                fast, slow, signal, ..
            } => {
                positive("fast", *fast)?;
                positive("slow", *slow)?;
                positive("signal", *signal)?;
                ordered(*fast, *slow)
            }
            SignalSpec::Forecast(ForecastSignal {
                horizon,
                threshold_pct,
                level,
                min_train,
                refit_every,
                window,
                season_length,
                ..
            }) => {
                self.model_config(at)?;
                positive("horizon", *horizon)?;
                positive("refit_every", *refit_every)?;
                positive("season_length", *season_length)?;
                if *min_train < 3 {
                    return Err(bad(
                        format!("{at}.min_train"),
                        format!("must be at least 3 bars, got {min_train}"),
                    ));
                }
                if let Some(w) = *window {
                    if w < 3 {
                        return Err(bad(
                            format!("{at}.window"),
                            format!("must be at least 3 bars, got {w}"),
                        ));
                    }
                }
                if !(threshold_pct.is_finite() && *threshold_pct >= 0.0) {
                    return Err(bad(
                        format!("{at}.threshold_pct"),
                        format!("must be 0 or more, got {threshold_pct}"),
                    ));
                }
                if let Some(l) = level {
                    if !(l.is_finite() && *l > 0.0 && *l < 100.0) {
                        return Err(bad(
                            format!("{at}.level"),
                            format!("must be between 0 and 100 percent, got {l}"),
                        ));
                    }
                }
                Ok(())
            }
            SignalSpec::All { signals, confirm } | SignalSpec::Any { signals, confirm } => {
                if signals.is_empty() {
                    return Err(bad(format!("{at}.signals"), "needs at least one signal"));
                }
                if *confirm == 0 {
                    return Err(bad(format!("{at}.confirm"), "must be at least 1 bar"));
                }
                for (i, s) in signals.iter().enumerate() {
                    s.check(&format!("{at}.signals[{i}]"))?;
                }
                Ok(())
            }
        }
    }

    /// Index of the first bar with every indicator value defined (TA-Lib alignment).
    pub fn warmup(&self) -> usize {
        self.slowest("signal").0
    }

    /// The warm-up and the key (under `at`) of the indicator that needs the most bars.
    pub(crate) fn slowest(&self, at: &str) -> (usize, String) {
        match self {
            SignalSpec::SmaCross { slow, .. } | SignalSpec::EmaCross { slow, .. } => {
                (slow - 1, format!("{at}.slow"))
            }
            SignalSpec::Rsi { period, .. } => (*period, format!("{at}.period")),
            SignalSpec::Bbands { period, .. } => (period - 1, format!("{at}.period")),
            SignalSpec::Macd { slow, signal, .. } => (slow + signal - 2, format!("{at}.slow")),
            SignalSpec::Forecast(f) => (f.min_train - 1, format!("{at}.min_train")),
            SignalSpec::All { signals, .. } | SignalSpec::Any { signals, .. } => signals
                .iter()
                .enumerate()
                .map(|(i, s)| s.slowest(&format!("{at}.signals[{i}]")))
                .max_by_key(|(w, _)| *w)
                .unwrap_or((0, format!("{at}.signals"))),
        }
    }
}
