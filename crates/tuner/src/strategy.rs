//! Sweeping a trading strategy's parameters: the search space's keys are dotted paths
//! into the strategy file (`signal.fast`, `execution.commission_bps`,
//! `exits.stop_loss_pct`), each trial backtests the strategy on the in-sample part of
//! the bars, and the best parameters are then run on the held-out last part, which no
//! trial saw.
//!
//! ```toml
//! name = "msft-ma-cross-sweep"
//! [data]
//! path = "datasets/msft_daily.csv"
//! [strategy]
//! file = "experiments/strategies/ma-cross.toml"   # or an inline [strategy.spec] table
//! holdout = 0.25                                   # the last quarter of the bars
//! [space.signal]
//! fast = { randint = [5, 50] }
//! slow = { randint = [60, 250] }
//! [tune]
//! metric = "sharpe"      # any statistic's key, or return_over_max_drawdown
//! mode = "max"
//! search = "tpe"
//! samples = 200
//! ```
//!
//! Each trial reports every statistic of [`Stats::entries`] (by its JSON key) and
//! `return_over_max_drawdown` (Return [%] over the absolute Max. Drawdown [%]); a
//! statistic that is undefined for the trial (a Sharpe ratio without any trade) is
//! not reported, so such a trial never ranks. On a panel the portfolio's statistics
//! are reported.

use crate::error::{Error, TrialError};
use crate::runner::{TrialContext, TuneConfig};
use crate::space::{Params, SearchSpace};
use forecast_core::data::{load_data, Data, DataSpec};
use forecast_core::strategy::{
    run as simulate, run_panel, run_stats, Bars, BarsStats, Stats, StrategySpec,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

fn quarter() -> f64 {
    0.25
}

/// The `[strategy]` table of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyTable {
    /// The base strategy file (relative to the working directory).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The base strategy inline (`[strategy.spec]`), instead of `file`.
    #[serde(default)]
    pub spec: Option<Map<String, Value>>,
    /// Share of the bars, at the end, held out of the search (in `(0, 1)`).
    #[serde(default = "quarter")]
    pub holdout: f64,
}

/// A strategy sweep (`forecast tune --spec FILE.toml` with a `[strategy]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySweepSpec {
    /// Experiment name.
    pub name: String,
    /// The bars: a file with open, high, low, close (and volume) columns, one ticker
    /// or a long table of several (`target` is not used).
    pub data: DataSpec,
    /// The base strategy and the held-out share.
    pub strategy: StrategyTable,
    /// The search space over the strategy's keys (see [`crate::space`]).
    #[serde(default = "empty_table")]
    pub space: Value,
    /// How the search runs; `metric` is a statistic's key.
    pub tune: TuneConfig,
    /// Tracking settings (read by the tracking layer).
    #[serde(default)]
    pub tracking: Option<Value>,
}

fn empty_table() -> Value {
    Value::Object(Map::new())
}

/// The metric that divides the return by the drawdown.
pub const RETURN_OVER_MAX_DRAWDOWN: &str = "return_over_max_drawdown";

impl StrategySweepSpec {
    /// Whether a spec file's text is a strategy sweep (it has a `[strategy]` table).
    pub fn is_sweep(text: &str) -> bool {
        toml::from_str::<toml::Table>(text).is_ok_and(|t| t.contains_key("strategy"))
    }

    /// Read and check a spec file.
    pub fn from_file(path: &Path) -> crate::Result<StrategySweepSpec> {
        crate::error::read_spec(path, Self::from_toml)
    }

    /// Parse and check a spec: the space, the held-out share and the metric's name.
    pub fn from_toml(text: &str) -> crate::Result<StrategySweepSpec> {
        let spec: StrategySweepSpec = toml::from_str(text)
            .map_err(|e| Error::config("", e.to_string().trim().to_string()))?;
        spec.space()?;
        let h = spec.strategy.holdout;
        if !(h > 0.0 && h < 1.0) {
            return Err(Error::config(
                "strategy.holdout",
                format!("must be in (0, 1), got {h}"),
            ));
        }
        let names = Stats::default().entries().map(|(k, _)| k);
        let metric = spec.tune.metric.as_str();
        if metric != RETURN_OVER_MAX_DRAWDOWN && !names.contains(&metric) {
            return Err(Error::config(
                "tune.metric",
                format!(
                    "'{metric}' is not a strategy statistic; one of {}, {RETURN_OVER_MAX_DRAWDOWN}",
                    names.join(", ")
                ),
            ));
        }
        Ok(spec)
    }

    /// The search space.
    pub fn space(&self) -> crate::Result<SearchSpace> {
        SearchSpace::from_json(&self.space)
    }

    /// The experiment directory (`tune.out`, default `experiments/runs/<name>`).
    pub fn out_dir(&self) -> PathBuf {
        self.tune.out_dir(&self.name)
    }
}

/// One part of the bars, backtested.
#[derive(Debug, Clone, Serialize)]
pub struct PartResult {
    /// First bar traded (its timestamp, or its row number).
    pub start: Value,
    /// Last bar.
    pub end: Value,
    /// Bars in the part (one ticker: its own; a panel: the first ticker's), the
    /// warm-up bars included.
    pub bars: usize,
    /// Bars at the start that only warm the indicators up (before `start`).
    pub warmup: usize,
    /// The strategy's statistics (a panel's portfolio).
    pub stats: Stats,
    /// Buy and hold's statistics over the same bars.
    pub benchmark: Stats,
}

/// The best parameters on the searched bars and on the held-out bars.
#[derive(Debug, Clone, Serialize)]
pub struct Holdout {
    /// The parameters.
    pub params: Params,
    /// The backtest on the bars the search saw.
    pub in_sample: PartResult,
    /// The backtest on the held-out bars (the indicators warmed up on the bars just
    /// before them, so that trading can start on the first held-out bar).
    pub held_out: PartResult,
}

/// The objective of a strategy sweep: bars loaded once, each trial sets its sampled
/// keys in the base strategy and backtests it on the in-sample bars.
#[derive(Debug, Clone)]
pub struct StrategyObjective {
    base: toml::Table,
    /// Each ticker's bars (one entry, with an empty id, for one ticker).
    members: Vec<(String, Bars)>,
    panel: bool,
    holdout: f64,
    date_only: bool,
    /// One series' in-sample bars, cut once for every trial, and the part of their
    /// statistics every trial shares.
    in_sample: Bars,
    in_sample_stats: Option<BarsStats>,
}

impl StrategyObjective {
    /// Load the bars and the base strategy, and check that the base strategy runs.
    pub fn new(spec: &StrategySweepSpec) -> crate::Result<StrategyObjective> {
        let base: toml::Table =
            match (&spec.strategy.file, &spec.strategy.spec) {
                (Some(file), None) => {
                    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
                    toml::from_str(&text).map_err(|e| Error::Corrupt {
                        path: file.clone(),
                        message: e.to_string().trim().to_string(),
                    })?
                }
                (None, Some(inline)) => toml::Table::try_from(inline)
                    .map_err(|e| Error::config("strategy.spec", e.to_string()))?,
                _ => return Err(Error::config(
                    "strategy",
                    "give the base strategy as `file` or as a [strategy.spec] table (one of them)",
                )),
            };
        StrategySpec::from_table(base.clone()).map_err(|e| Error::within("strategy", e))?;
        let (mut options, _) = spec.data.options()?;
        options.load.required.clear();
        let (members, panel, date_only) = match load_data(&spec.data.path, &options)? {
            Data::One(frame) => (
                vec![(String::new(), Bars::from_frame(&frame)?)],
                false,
                frame.date_only,
            ),
            Data::Panel(panel) => (
                Bars::of_panel(&panel)?,
                true,
                panel.members.iter().all(|m| m.frame.date_only),
            ),
        };
        let mut objective = StrategyObjective {
            base,
            members,
            panel,
            holdout: spec.strategy.holdout,
            date_only,
            in_sample: Bars::default(),
            in_sample_stats: None,
        };
        if !panel {
            let bars = &objective.members[0].1;
            let in_sample = bars.window(0..objective.split(bars));
            objective.in_sample_stats = Some(BarsStats::of(&in_sample)?);
            objective.in_sample = in_sample;
        }
        Ok(objective)
    }

    /// The strategy of a trial: the base table with the sampled keys set.
    pub fn configure(&self, params: &Params) -> crate::Result<StrategySpec> {
        let mut table = self.base.clone();
        for (key, value) in params {
            set_path(&mut table, key, value)?;
        }
        StrategySpec::from_table(table).map_err(|e| {
            let key = params.keys().cloned().collect::<Vec<_>>().join(", ");
            Error::within(&format!("the sampled strategy ({key})"), e)
        })
    }

    /// The first held-out bar of each ticker.
    fn split(&self, bars: &Bars) -> usize {
        let n = bars.len();
        n - ((n as f64 * self.holdout).round() as usize).clamp(1, n.saturating_sub(1).max(1))
    }

    /// Backtest `spec` on the in-sample bars (`held_out = false`) or on the held-out
    /// bars with the warm-up bars just before them.
    fn part(&self, spec: &StrategySpec, held_out: bool) -> forecast_core::Result<PartResult> {
        let warmup = spec.warmup().0;
        let windows: Vec<(String, Bars)> = self
            .members
            .iter()
            .map(|(id, bars)| {
                let s = self.split(bars);
                let range = if held_out {
                    s.saturating_sub(warmup)..bars.len()
                } else {
                    0..s
                };
                (id.clone(), bars.window(range))
            })
            .collect();
        let bars_of = |bars: &Bars| bars.len();
        let when = |bars: &Bars, i: usize| -> Value {
            match &bars.times {
                Some(t) => Value::from(forecast_core::data::format_timestamp(t[i], self.date_only)),
                None => Value::from(i),
            }
        };
        let first = &windows[0].1;
        let offset = if held_out {
            let s = self.split(&self.members[0].1);
            s - s.saturating_sub(warmup)
        } else {
            warmup
        };
        let (stats, benchmark) = if self.panel {
            let run = run_panel(spec, &windows)?;
            (run.portfolio.stats, run.portfolio.benchmark)
        } else {
            let run = simulate(spec, first)?;
            (run.stats, run.benchmark)
        };
        Ok(PartResult {
            start: when(first, offset.min(first.len().saturating_sub(1))),
            end: when(first, first.len().saturating_sub(1)),
            bars: bars_of(first),
            warmup: offset,
            stats,
            benchmark,
        })
    }

    /// Run one trial: configure, backtest on the in-sample bars, report every
    /// defined statistic.
    pub fn run(&self, ctx: &mut TrialContext<'_>) -> Result<(), TrialError> {
        let spec = self.configure(ctx.params())?;
        let stats = match &self.in_sample_stats {
            // One series: the strategy's statistics only (buy and hold is not scored).
            Some(shared) => run_stats(&spec, &self.in_sample, shared)?,
            None => self.part(&spec, false)?.stats,
        };
        let metrics = metric_pairs(&stats);
        let refs: Vec<(&str, f64)> = metrics.iter().map(|(k, v)| (*k, *v)).collect();
        ctx.report(&refs, None);
        Ok(())
    }

    /// The best parameters' backtests on the searched and the held-out bars.
    pub fn holdout(&self, params: &Params) -> crate::Result<Holdout> {
        let spec = self.configure(params)?;
        let in_sample = self
            .part(&spec, false)
            .map_err(|e| Error::within("in-sample backtest", e))?;
        let held_out = self
            .part(&spec, true)
            .map_err(|e| Error::within("held-out backtest", e))?;
        Ok(Holdout {
            params: params.clone(),
            in_sample,
            held_out,
        })
    }
}

/// The defined statistics of a run, with `return_over_max_drawdown`.
pub fn metric_pairs(stats: &Stats) -> Vec<(&'static str, f64)> {
    let mut m: Vec<(&'static str, f64)> = stats.entries().into_iter().collect();
    m.push((
        RETURN_OVER_MAX_DRAWDOWN,
        stats.return_pct / stats.max_drawdown_pct.abs(),
    ));
    m.retain(|(_, v)| v.is_finite());
    m
}

/// Set the dotted `key` (`signal.fast`, `signal.signals.0.lower`) of `table` to the
/// JSON `value`; missing tables on the way are created.
fn set_path(table: &mut toml::Table, key: &str, value: &Value) -> crate::Result<()> {
    let v = toml::Value::try_from(value)
        .map_err(|e| Error::config(key, format!("not a TOML value: {e}")))?;
    let parts: Vec<&str> = key.split('.').collect();
    let mut root = toml::Value::Table(std::mem::take(table));
    let r = set_in(&mut root, &parts, v);
    if let toml::Value::Table(t) = root {
        *table = t;
    }
    r.map_err(|m| Error::config(key, m))
}

fn set_in(here: &mut toml::Value, parts: &[&str], v: toml::Value) -> Result<(), String> {
    let Some((head, rest)) = parts.split_first() else {
        *here = v;
        return Ok(());
    };
    let next = match here {
        toml::Value::Table(t) => t
            .entry(head.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new())),
        toml::Value::Array(a) => {
            let len = a.len();
            let i: usize = head
                .parse()
                .map_err(|_| format!("'{head}' is not an index of an array"))?;
            a.get_mut(i)
                .ok_or_else(|| format!("index {i} is past the array's {len} items"))?
        }
        _ => return Err(format!("'{head}' is inside a value that is not a table")),
    };
    set_in(next, rest, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_keys_land_in_the_strategy() {
        let mut t: toml::Table = toml::from_str(
            "[signal]\nkind = \"any\"\nsignals = [{kind = \"rsi\"}, {kind = \"sma-cross\", fast = 3, slow = 8}]\n",
        )
        .unwrap();
        set_path(&mut t, "signal.signals.1.slow", &Value::from(12)).unwrap();
        set_path(&mut t, "execution.commission_bps", &Value::from(2.5)).unwrap();
        let spec = StrategySpec::from_table(t.clone()).unwrap();
        assert_eq!(spec.execution.commission_bps, 2.5);
        assert_eq!(spec.warmup().0, 14); // rsi's 14 beats the slow SMA's 11
        let e = set_path(&mut t, "signal.signals.5.slow", &Value::from(1)).unwrap_err();
        assert!(e.to_string().contains("signal.signals.5.slow"), "{e}");
        let e = set_path(&mut t, "signal.kind.x", &Value::from(1)).unwrap_err();
        assert!(e.to_string().contains("not a table"), "{e}");
    }

    #[test]
    fn bad_sweeps_name_the_key() {
        let base = "name = \"s\"\n[data]\npath = \"x.csv\"\n[strategy]\nfile = \"s.toml\"\n";
        let e = StrategySweepSpec::from_toml(&format!("{base}[tune]\nmetric = \"sharp\"\n"))
            .unwrap_err();
        assert!(e.to_string().contains("tune.metric"), "{e}");
        let e = StrategySweepSpec::from_toml(
            "name = \"s\"\n[data]\npath = \"x.csv\"\n[strategy]\nfile = \"s.toml\"\nholdout = 1.5\n[tune]\nmetric = \"sharpe\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("strategy.holdout"), "{e}");
        assert!(StrategySweepSpec::is_sweep(base));
        assert!(!StrategySweepSpec::is_sweep(
            "name = \"m\"\n[model]\nkind = \"naive\"\n"
        ));
    }
}
