//! Alert rules: the signals of strategies ([`SignalSpec`]) evaluated on each new bar,
//! firing once when a rule's condition starts to hold (not again while it keeps
//! holding).
//!
//! ```toml
//! [[rule]]
//! name = "msft-oversold"
//! when = { kind = "rsi", period = 14, lower = 30, upper = 70 }
//! on = "long"                   # long (+1), short (−1) or any (default)
//! message = "RSI(14) under 30"  # optional
//!
//! [[rule]]
//! name = "golden-cross"
//! when = { kind = "sma-cross", fast = 50, slow = 200 }
//!
//! [[rule]]
//! name = "unusual-move"
//! outside = { level = 99 }      # the close left a saved model's one-step interval
//!
//! [[rule]]
//! name = "big-move-ahead"
//! expected_move = { horizon = 5, threshold_pct = 2.0 }   # the model expects ±2 % in 5 bars
//! ```
//!
//! An `outside` rule needs a fitted model ([`Watch::with_model`]): on each bar, before
//! taking the bar in, the model forecasts one step with its interval at `level`; the
//! rule's value is +1 when the close lies above the interval, −1 below, 0 inside. The
//! model is then conditioned on the bar ([`Forecaster::extend`]), never refitted.
//!
//! An `expected_move` rule needs the model too: after taking the bar in, the model
//! forecasts `horizon` steps; the rule's value is +1 when the forecast mean at the last
//! step lies more than `threshold_pct` percent above the bar's close, −1 when more than
//! that below, 0 otherwise. (A `when = { kind = "forecast", .. }` signal fits a model of
//! its own, walk-forward; `expected_move` asks the saved model being watched or served.)
//!
//! A rule's value on a bar is its signal's value there, computed from the bars up to
//! that one, exactly as a backtest computes it ([`signal_from`]); the rule fires on a
//! bar where that value matches `on` and differs from the rule's value on the bar
//! before. Every alert carries an idempotency key made from the rule, the series, the
//! bar's time and the value, so a receiver can drop a repeated delivery, and a watcher
//! restarted over the same bars makes the same keys.

use super::signal::signal_from;
use super::spec::{check_signal_types, SignalSpec};
use crate::data::format_timestamp;
use crate::error::{Error, Result};
use crate::pipeline::Forecaster;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// Which signal values fire a rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fires {
    /// +1 or −1.
    #[default]
    Any,
    /// +1 only.
    Long,
    /// −1 only.
    Short,
}

impl Fires {
    fn matches(self, v: i8) -> bool {
        match self {
            Fires::Any => v != 0,
            Fires::Long => v > 0,
            Fires::Short => v < 0,
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's name (unique in its file).
    pub name: String,
    /// The condition: any strategy signal (or `outside`).
    #[serde(default)]
    pub when: Option<SignalSpec>,
    /// The condition: the close outside a fitted model's one-step interval (or `when`).
    #[serde(default)]
    pub outside: Option<Outside>,
    /// The condition: the fitted model's forecast moves far from the close.
    #[serde(default)]
    pub expected_move: Option<ExpectedMove>,
    /// Which of the signal's values fire.
    #[serde(default)]
    pub on: Fires,
    /// The alert's text (default: the rule, the direction and the close).
    #[serde(default)]
    pub message: Option<String>,
    /// Only this series of a feed with several (default: every series).
    #[serde(default)]
    pub series: Option<String>,
}

/// An interval rule: the close outside the model's one-step-ahead interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outside {
    /// The interval's level, in percent (e.g. 95, 99).
    pub level: f64,
}

/// A forecast rule: the fitted model's expected move from the bar's close to its
/// forecast mean `horizon` steps ahead, beyond `threshold_pct` percent either way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedMove {
    /// Steps ahead (1 = the next bar).
    #[serde(default = "one_step")]
    pub horizon: usize,
    /// The move that fires, in percent of the close (≥ 0).
    pub threshold_pct: f64,
}

fn one_step() -> usize {
    1
}

impl ExpectedMove {
    /// The rule's value for a model conditioned up to a bar with close `close`.
    pub fn value(&self, model: &Forecaster, close: f64) -> Result<i8> {
        let p = model.predict(self.horizon, &[], &[])?;
        let Some(mean) = p.point.last().copied().filter(|m| m.is_finite()) else {
            return Ok(0);
        };
        let pct = (mean / close - 1.0) * 100.0;
        Ok(if pct > self.threshold_pct {
            1
        } else if pct < -self.threshold_pct {
            -1
        } else {
            0
        })
    }
}

impl Rule {
    /// Whether the rule asks a fitted model (`outside`, `expected_move`).
    pub fn needs_model(&self) -> bool {
        self.outside.is_some() || self.expected_move.is_some()
    }
}

/// A rules file: `[[rule]]` tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    /// The rules, in the file's order.
    #[serde(rename = "rule", default)]
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// Parse and check a rules file's text; errors name the key (`rule[1].when.slow`).
    pub fn from_toml(text: &str) -> Result<RuleSet> {
        let bad = |key: &str, m: String| Error::config(key, m);
        let value: toml::Table =
            toml::from_str(text).map_err(|e| bad("rules", e.to_string().trim().to_string()))?;
        if let Some(rules) = value.get("rule").and_then(toml::Value::as_array) {
            for (i, r) in rules.iter().enumerate() {
                if let Some(when) = r.get("when") {
                    check_signal_types(when, &format!("rule[{i}].when"))?;
                }
            }
        }
        let set: RuleSet = value
            .try_into()
            .map_err(|e: toml::de::Error| bad("rules", e.to_string().trim().to_string()))?;
        if set.rules.is_empty() {
            return Err(bad("rule", "the file has no [[rule]]".into()));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, r) in set.rules.iter().enumerate() {
            if r.name.trim().is_empty() {
                return Err(bad(&format!("rule[{i}].name"), "must not be empty".into()));
            }
            if !seen.insert(r.name.as_str()) {
                return Err(bad(
                    &format!("rule[{i}].name"),
                    format!("'{}' names two rules", r.name),
                ));
            }
            match (&r.when, &r.outside, &r.expected_move) {
                (Some(w), None, None) => w.check(&format!("rule[{i}].when"))?,
                (None, Some(o), None) => {
                    if !(o.level > 0.0 && o.level < 100.0) {
                        return Err(bad(
                            &format!("rule[{i}].outside.level"),
                            format!("must be a percentage in (0, 100), got {}", o.level),
                        ));
                    }
                }
                (None, None, Some(m)) => {
                    if m.horizon == 0 {
                        return Err(bad(
                            &format!("rule[{i}].expected_move.horizon"),
                            "must be at least 1".into(),
                        ));
                    }
                    if !(m.threshold_pct.is_finite() && m.threshold_pct >= 0.0) {
                        return Err(bad(
                            &format!("rule[{i}].expected_move.threshold_pct"),
                            format!("must be a percentage ≥ 0, got {}", m.threshold_pct),
                        ));
                    }
                }
                _ => {
                    return Err(bad(
                        &format!("rule[{i}]"),
                        "give the condition as `when` (a signal), `outside` (a model's interval) or `expected_move` (a model's forecast), one of them".into(),
                    ))
                }
            }
        }
        Ok(set)
    }

    /// Whether some rule needs a fitted model (`outside`, `expected_move`).
    pub fn needs_model(&self) -> bool {
        self.rules.iter().any(Rule::needs_model)
    }
}

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// The bar's time (ISO date or date-time, or the row number without times).
    pub ds: String,
    /// The bar's close.
    pub value: f64,
    /// The alert's text.
    pub message: String,
    /// The signal's value that fired: 1 (long) or −1 (short).
    pub signal: i8,
    /// The series, for a feed of several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Idempotency key: the same for the same rule, series, bar and value.
    pub key: String,
}

#[derive(Debug, Default)]
struct SeriesState {
    times: Vec<NaiveDateTime>,
    close: Vec<f64>,
    /// Each rule's value (after `on`) on the last bar.
    last: Vec<i8>,
    /// The model conditioned on the bars up to the last one (`outside` rules).
    model: Option<Forecaster>,
    /// Each model rule's (`outside`, `expected_move`) raw value on the last bar.
    outside: Vec<i8>,
}

/// Rules watching one or more series, bar by bar.
#[derive(Debug)]
pub struct Watch {
    rules: Vec<Rule>,
    series: HashMap<String, SeriesState>,
    /// Fitted models by series id (`""` for a one-series model), for `outside` rules.
    models: HashMap<String, Forecaster>,
    date_only: bool,
}

/// What a new bar did.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// A new bar: the alerts it fired.
    New(Vec<Alert>),
    /// The same time and close as the series' last bar (a feed repeating itself): skipped.
    Repeat,
}

impl Watch {
    /// A bar's time as alerts write it: a date when `date_only` or at midnight, else
    /// an ISO date-time.
    fn fmt(&self, t: NaiveDateTime) -> String {
        format_timestamp(t, self.date_only || t.time() == chrono::NaiveTime::MIN)
    }

    /// Watch with `rules`; `date_only` formats every time as a date (otherwise times
    /// at midnight are written as dates, others as date-times).
    pub fn new(rules: RuleSet, date_only: bool) -> Watch {
        Watch {
            rules: rules.rules,
            series: HashMap::new(),
            models: HashMap::new(),
            date_only,
        }
    }

    /// Watch with `rules` and fitted models for the `outside` rules: `(series id,
    /// model)` pairs, the id `""` for a feed of one series. A series without a model
    /// gets 0 from its `outside` rules. Errors: a model with input columns (a bar
    /// carries only a close).
    pub fn with_model(
        rules: RuleSet,
        date_only: bool,
        models: Vec<(String, Forecaster)>,
    ) -> Result<Watch> {
        let mut w = Watch::new(rules, date_only);
        for (id, m) in models {
            if !m.schema.indicators.is_empty() {
                return Err(Error::config(
                    "model",
                    "the model computes indicators from the history, which bars one by one cannot update",
                ));
            }
            if !m.schema.features.is_empty() {
                return Err(Error::config(
                    "model",
                    format!(
                        "the model takes input columns ({}); alert bars carry a close only",
                        m.schema.features.join(", ")
                    ),
                ));
            }
            w.models.insert(id, m);
        }
        Ok(w)
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Bars seen of `series`.
    pub fn bars(&self, series: &str) -> usize {
        self.series.get(series).map_or(0, |s| s.close.len())
    }

    /// Take in a series' bars without firing (the history a watch starts from): the
    /// rules' values on the last bar become the state the next bar is compared with.
    pub fn prime(&mut self, series: &str, times: &[NaiveDateTime], close: &[f64]) -> Result<()> {
        if times.len() != close.len() {
            return Err(Error::config(
                "bars",
                format!("{} times for {} closes", times.len(), close.len()),
            ));
        }
        for (t, c) in times.iter().zip(close) {
            self.check(series, *t, *c)?;
            self.condition(series, *t, *c)?;
            let s = self.series.entry(series.to_string()).or_default();
            s.times.push(*t);
            s.close.push(*c);
        }
        let last = self.values(series)?;
        if let Some(s) = self.series.get_mut(series) {
            s.last = last;
        }
        Ok(())
    }

    /// A new bar of `series`: the alerts it fires. Errors: a time before the series'
    /// last bar, the last bar's time with another close, a close that is not finite and
    /// positive, or a rule's forecast failing.
    pub fn push(&mut self, series: &str, time: NaiveDateTime, close: f64) -> Result<Pushed> {
        if let Some(s) = self.series.get(series) {
            if s.times.last() == Some(&time) && s.close.last() == Some(&close) {
                return Ok(Pushed::Repeat);
            }
        }
        self.check(series, time, close)?;
        self.condition(series, time, close)?;
        let s = self.series.entry(series.to_string()).or_default();
        s.times.push(time);
        s.close.push(close);
        let now = self.values(series)?;
        let s = self.series.get_mut(series).expect("inserted above");
        let before = std::mem::replace(&mut s.last, now.clone());
        let ds = self.fmt(time);
        let mut alerts = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let v = now[i];
            if v == 0 || before.get(i).copied().unwrap_or(0) == v {
                continue;
            }
            let id = (!series.is_empty()).then(|| series.to_string());
            let direction = if v > 0 { "long" } else { "short" };
            let message = rule.message.clone().unwrap_or_else(|| {
                let at = id
                    .as_deref()
                    .map_or(String::new(), |id| format!(" on {id}"));
                format!(
                    "{}: {direction} signal{at} at {ds} (close {close})",
                    rule.name
                )
            });
            alerts.push(Alert {
                key: key(&rule.name, series, &ds, v),
                rule: rule.name.clone(),
                ds: ds.clone(),
                value: close,
                message,
                signal: v,
                series: id,
            });
        }
        Ok(Pushed::New(alerts))
    }

    /// The model rules' values on a new bar: `outside` from the model's forecast made
    /// before it, then the model conditioned on it, then `expected_move` from the
    /// conditioned model. Bars before the model's last row (history it was fitted on)
    /// leave it as it is and get 0; its last row gets its `expected_move` values.
    fn condition(&mut self, series: &str, time: NaiveDateTime, close: f64) -> Result<()> {
        if !self.rules.iter().any(Rule::needs_model) {
            return Ok(());
        }
        let when = self.fmt(time);
        let s = self.series.entry(series.to_string()).or_default();
        if s.model.is_none() {
            s.model = self.models.get(series).cloned();
        }
        s.outside = vec![0; self.rules.len()];
        let Some(m) = &s.model else {
            return Ok(());
        };
        let last = m.schema.last_timestamp;
        let at = |e: Error| Error::config("model", format!("at {when}: {e}"));
        if last.is_some_and(|last| time < last) {
            return Ok(());
        }
        if last != Some(time) {
            for (i, r) in self.rules.iter().enumerate() {
                if let Some(o) = r.outside {
                    let p = m.predict(1, &[o.level], &[]).map_err(at)?;
                    if let Some(band) = p.intervals.first() {
                        s.outside[i] = if close > band.upper[0] {
                            1
                        } else if close < band.lower[0] {
                            -1
                        } else {
                            0
                        };
                    }
                }
            }
            let next = m.extend(&[close], &[], &[time]).map_err(at)?;
            s.model = Some(next);
        }
        if let Some(m) = &s.model {
            for (i, r) in self.rules.iter().enumerate() {
                if let Some(e) = r.expected_move {
                    s.outside[i] = e.value(m, close).map_err(at)?;
                }
            }
        }
        Ok(())
    }

    fn check(&self, series: &str, time: NaiveDateTime, close: f64) -> Result<()> {
        let at = |m: String| {
            let m = if series.is_empty() {
                m
            } else {
                format!("series '{series}': {m}")
            };
            Error::config("bar", m)
        };
        if !(close.is_finite() && close > 0.0) {
            return Err(at(format!(
                "close at {} must be positive and finite, got {close}",
                self.fmt(time)
            )));
        }
        if let Some(last) = self.series.get(series).and_then(|s| s.times.last()) {
            if time <= *last {
                return Err(at(format!(
                    "{} is not after the last bar's time {} (bars must arrive in time order)",
                    self.fmt(time),
                    self.fmt(*last)
                )));
            }
        }
        Ok(())
    }

    /// Each rule's value (after `on`; 0 for rules of other series) on the series' last bar.
    fn values(&self, series: &str) -> Result<Vec<i8>> {
        let Some(s) = self.series.get(series) else {
            return Ok(vec![0; self.rules.len()]);
        };
        let Some(last) = s.close.len().checked_sub(1) else {
            return Ok(vec![0; self.rules.len()]);
        };
        self.rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if r.series.as_deref().is_some_and(|only| only != series) {
                    return Ok(0);
                }
                let v = match &r.when {
                    // `outside` and `expected_move`: worked out by `condition`.
                    Some(when) => {
                        let sig = signal_from(when, &s.close, last)
                            .map_err(|e| Error::config(format!("rule[{i}].when"), e.to_string()))?;
                        sig.get(last).copied().unwrap_or(0)
                    }
                    None => s.outside.get(i).copied().unwrap_or(0),
                };
                Ok(if r.on.matches(v) { v } else { 0 })
            })
            .collect()
    }
}

/// The idempotency key of an alert: 32 hex digits of a SHA-256 over its identity.
fn key(rule: &str, series: &str, ds: &str, v: i8) -> String {
    let mut h = Sha256::new();
    for part in [rule, series, ds, &v.to_string()] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::signal;

    fn day(i: usize) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + chrono::Duration::days(i as i64)
    }

    fn closes(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 100.0 + 10.0 * (i as f64 / 6.0).sin() + i as f64 * 0.05)
            .collect()
    }

    /// Bar by bar, a rule fires exactly where its signal changes to a matching value,
    /// once, and the alerts equal what the backtest's signal says.
    #[test]
    fn fires_once_per_crossing_as_the_signal_says() {
        let text = "[[rule]]\nname = \"state\"\nwhen = { kind = \"sma-cross\", fast = 3, slow = 9, mode = \"state\" }\non = \"long\"\n\n[[rule]]\nname = \"rsi\"\nwhen = { kind = \"rsi\", period = 5, lower = 40, upper = 60 }\n";
        let rules = RuleSet::from_toml(text).unwrap();
        let c = closes(200);
        let mut w = Watch::new(rules.clone(), true);
        w.prime("", &(0..50).map(day).collect::<Vec<_>>(), &c[..50])
            .unwrap();
        let mut fired: Vec<(String, usize, i8)> = vec![];
        for (i, close) in c.iter().enumerate().skip(50) {
            match w.push("", day(i), *close).unwrap() {
                Pushed::New(a) => fired.extend(a.into_iter().map(|a| (a.rule, i, a.signal))),
                Pushed::Repeat => panic!("not a repeat"),
            }
            assert_eq!(w.push("", day(i), *close).unwrap(), Pushed::Repeat);
        }
        let mut expected = vec![];
        for (r, rule) in rules.rules.iter().enumerate() {
            let s = signal(rule.when.as_ref().unwrap(), &c).unwrap();
            let m = |v: i8| if rule.on.matches(v) { v } else { 0 };
            for i in 50..c.len() {
                if m(s[i]) != 0 && m(s[i]) != m(s[i - 1]) {
                    expected.push((rules.rules[r].name.clone(), i, s[i]));
                }
            }
        }
        fired.sort();
        expected.sort();
        assert!(
            expected.len() > 5,
            "too few crossings to test: {expected:?}"
        );
        assert_eq!(fired, expected);
    }

    /// An `outside` rule fires on a jump out of the model's interval, once, and the
    /// model is conditioned on each bar (the bar after the jump is judged from it).
    #[test]
    fn outside_rules_fire_on_a_jump_out_of_the_models_interval() {
        use crate::models::ModelConfig;
        use crate::pipeline::ForecasterSpec;
        use crate::series::Series;
        let c = closes(120);
        let model = ForecasterSpec::new(ModelConfig::from_kind("naive").unwrap())
            .fit_quiet(&Series::from_values(c[..100].to_vec(), 1))
            .unwrap();
        let rules =
            RuleSet::from_toml("[[rule]]\nname = \"jump\"\noutside = { level = 99 }\n").unwrap();
        assert!(rules.needs_model());
        let mut w = Watch::with_model(rules, true, vec![(String::new(), model)]).unwrap();
        // A row-indexed model: the bars' times all come after its (absent) last row.
        let mut fired = vec![];
        let mut bars: Vec<f64> = c[100..110].to_vec();
        let jump = bars[4] * 1.5;
        bars[5] = jump; // far above any 99% interval of a smooth series
        bars[6] = jump * 1.001; // judged from the jump: inside
        for (i, close) in bars.iter().enumerate() {
            if let Pushed::New(a) = w.push("", day(i), *close).unwrap() {
                fired.extend(a.into_iter().map(|a| (i, a.signal)));
            }
        }
        assert_eq!(fired.first(), Some(&(5, 1)), "{fired:?}");
        assert!(!fired.contains(&(6, 1)), "{fired:?}");
        // A drop back from the jump leaves the interval below.
        assert!(fired.contains(&(7, -1)), "{fired:?}");
        let e =
            RuleSet::from_toml("[[rule]]\nname = \"x\"\noutside = { level = 100 }\n").unwrap_err();
        assert!(e.to_string().contains("rule[0].outside.level"), "{e}");
        let e = RuleSet::from_toml("[[rule]]\nname = \"x\"\n").unwrap_err();
        assert!(e.to_string().contains("rule[0]"), "{e}");
    }

    /// An `expected_move` rule fires where the model, conditioned on the bar, forecasts
    /// a move beyond the threshold, once per change, as computed by hand.
    #[test]
    fn expected_move_rules_fire_where_the_models_forecast_moves_far() {
        use crate::models::ModelConfig;
        use crate::pipeline::ForecasterSpec;
        use crate::series::Series;
        // A steady climb, then a fall: drift forecasts keep up, then change direction.
        let c: Vec<f64> = (0..140)
            .map(|i| {
                if i < 120 {
                    100.0 + i as f64
                } else {
                    219.0 - 5.0 * (i - 119) as f64
                }
            })
            .collect();
        let model = ForecasterSpec::new(ModelConfig::from_kind("drift").unwrap())
            .fit_quiet(&Series::from_values(c[..100].to_vec(), 1))
            .unwrap();
        let text =
            "[[rule]]\nname = \"move\"\nexpected_move = { horizon = 5, threshold_pct = 2.0 }\n";
        let rules = RuleSet::from_toml(text).unwrap();
        assert!(rules.needs_model());
        let mut w = Watch::with_model(rules, true, vec![(String::new(), model.clone())]).unwrap();
        let (mut fired, mut expected) = (vec![], vec![]);
        let (mut m, mut before) = (model, 0i8);
        for (i, close) in c.iter().enumerate().skip(100) {
            if let Pushed::New(a) = w.push("", day(i), *close).unwrap() {
                fired.extend(a.into_iter().map(|a| (i, a.signal)));
            }
            m = m.extend(&[*close], &[], &[]).unwrap();
            let mean = *m.predict(5, &[], &[]).unwrap().point.last().unwrap();
            let pct = (mean / close - 1.0) * 100.0;
            let v = if pct > 2.0 {
                1
            } else if pct < -2.0 {
                -1
            } else {
                0
            };
            if v != 0 && v != before {
                expected.push((i, v));
            }
            before = v;
        }
        assert!(!expected.is_empty(), "the series should move the forecast");
        assert_eq!(fired, expected);
        for (bad, key) in [
            (
                "{ horizon = 0, threshold_pct = 1 }",
                "rule[0].expected_move.horizon",
            ),
            (
                "{ threshold_pct = -1 }",
                "rule[0].expected_move.threshold_pct",
            ),
            ("{ horizon = 3 }", "rules"),
        ] {
            let e = RuleSet::from_toml(&format!("[[rule]]\nname = \"x\"\nexpected_move = {bad}\n"))
                .unwrap_err();
            assert!(e.to_string().contains(key), "{bad}: {e}");
        }
        let e = RuleSet::from_toml(
            "[[rule]]\nname = \"x\"\noutside = { level = 95 }\nexpected_move = { threshold_pct = 1 }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("rule[0]"), "{e}");
    }

    #[test]
    fn bad_rules_and_bars_name_the_place() {
        let e = RuleSet::from_toml(
            "[[rule]]\nname = \"a\"\nwhen = { kind = \"sma-cross\", fast = 9, slow = 3 }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("rule[0].when"), "{e}");
        let e =
            RuleSet::from_toml("[[rule]]\nname = \"a\"\nwhen = { kind = \"rsi\", period = 2.5 }\n")
                .unwrap_err();
        assert!(e.to_string().contains("rule[0].when.period"), "{e}");
        let e = RuleSet::from_toml("[[rule]]\nname = \"a\"\nwhen = { kind = \"macd\" }\n[[rule]]\nname = \"a\"\nwhen = { kind = \"macd\" }\n").unwrap_err();
        assert!(e.to_string().contains("rule[1].name"), "{e}");
        assert!(RuleSet::from_toml("").is_err());
        let rules =
            RuleSet::from_toml("[[rule]]\nname = \"a\"\nwhen = { kind = \"macd\" }\n").unwrap();
        let mut w = Watch::new(rules, true);
        w.push("X", day(3), 10.0).unwrap();
        let e = w.push("X", day(2), 10.0).unwrap_err();
        assert!(e.to_string().contains("series 'X'"), "{e}");
        assert!(w.push("X", day(4), f64::NAN).is_err());
        assert!(w.push("X", day(3), 11.0).is_err(), "same time, other close");
        assert_eq!(key("a", "", "2024-01-01", 1), key("a", "", "2024-01-01", 1));
        assert_ne!(
            key("a", "", "2024-01-01", 1),
            key("a", "", "2024-01-01", -1)
        );
    }
}
