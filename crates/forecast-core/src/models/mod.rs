//! Models: the shared config → fit → fitted → predict shape, and the model kinds.
//!
//! Each kind has a config type implementing [`Fit`]; fitting returns a different type
//! implementing [`Predict`], so an unfitted model cannot forecast. [`ModelConfig`] and
//! [`FittedModel`] are serde-tagged enums over the kinds, which the CLI, the tuner and
//! the artifact format use for dynamic choice.

pub mod arima;
pub mod baselines;
pub mod neural;

use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::reporter::Reporter;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use arima::{Arima, ArimaFitted, AutoArima, AutoArimaFitted};
pub use neural::{LstmConfig, NeuralFitted, TransformerConfig};

pub use baselines::{
    Drift, DriftFitted, Mean, MeanFitted, Naive, NaiveFitted, SeasonalNaive, SeasonalNaiveFitted,
};

/// The data a model is fitted on, already transformed, rows in time order.
#[derive(Debug, Clone, Copy)]
pub struct TrainingData<'a> {
    /// Target values of the training part.
    pub target: &'a [f64],
    /// Input features (exogenous regressors, network inputs), aligned with `target`.
    pub features: &'a [Column],
    /// Target and features of the validation part, which follows the training part.
    pub valid: Option<(&'a [f64], &'a [Column])>,
    /// Season length of the data (1 = no seasonality).
    pub season_length: usize,
    /// Seed for anything random (initial weights, shuffling, restarts).
    pub seed: u64,
}

impl<'a> TrainingData<'a> {
    /// Training data with a target only.
    pub fn univariate(target: &'a [f64], season_length: usize) -> Self {
        TrainingData {
            target,
            features: &[],
            valid: None,
            season_length,
            seed: 0,
        }
    }
}

/// A model configuration that can be fitted.
pub trait Fit {
    /// The fitted model.
    type Fitted: Predict;
    /// Fit on `data`, reporting progress to `reporter`.
    fn fit(&self, data: &TrainingData<'_>, reporter: &mut dyn Reporter) -> Result<Self::Fitted>;
}

/// A fitted model.
pub trait Predict: Sized {
    /// Forecast `horizon` steps after the end of the data the model last saw, with a
    /// central interval per level in `levels` (percent). `future` holds the features for
    /// the forecast steps, for models with exogenous inputs.
    fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast>;
    /// The same fitted parameters, re-anchored on a new history (the training data plus
    /// newer rows) without refitting.
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self>;
    /// Fit statistics, as written to `model.json` under `"fit"`.
    fn fit_stats(&self) -> Value;
}

/// Every model kind's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "config", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// Random walk: the last value.
    Naive(Naive),
    /// The value one season ago.
    SeasonalNaive(SeasonalNaive),
    /// Random walk with drift.
    Drift(Drift),
    /// The historical mean.
    Mean(Mean),
    /// ARIMA / SARIMA / ARIMAX by exact maximum likelihood.
    Arima(Arima),
    /// ARIMA with orders chosen by the Hyndman–Khandakar search.
    AutoArima(AutoArima),
    /// Stacked LSTM network.
    Lstm(LstmConfig),
    /// Transformer encoder network.
    Transformer(TransformerConfig),
}

/// Every model kind, fitted.
// Fitted models are built once per fit and moved rarely; boxing buys nothing here.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "kebab-case")]
pub enum FittedModel {
    /// Fitted [`Naive`].
    Naive(NaiveFitted),
    /// Fitted [`SeasonalNaive`].
    SeasonalNaive(SeasonalNaiveFitted),
    /// Fitted [`Drift`].
    Drift(DriftFitted),
    /// Fitted [`Mean`].
    Mean(MeanFitted),
    /// Fitted [`Arima`].
    Arima(ArimaFitted),
    /// Fitted [`AutoArima`].
    AutoArima(AutoArimaFitted),
    /// Fitted [`LstmConfig`].
    Lstm(NeuralFitted),
    /// Fitted [`TransformerConfig`].
    Transformer(NeuralFitted),
}

/// Dispatch a method over every variant of an enum whose variants wrap one value.
macro_rules! dispatch {
    ($enum:ident, $value:expr, $inner:ident => $body:expr) => {
        match $value {
            $enum::Naive($inner) => $body,
            $enum::SeasonalNaive($inner) => $body,
            $enum::Drift($inner) => $body,
            $enum::Mean($inner) => $body,
            $enum::Arima($inner) => $body,
            $enum::AutoArima($inner) => $body,
            $enum::Lstm($inner) => $body,
            $enum::Transformer($inner) => $body,
        }
    };
}

impl ModelConfig {
    /// The default configuration of a kind, by its CLI name.
    pub fn from_kind(kind: &str) -> Result<ModelConfig> {
        Ok(match kind {
            "naive" => ModelConfig::Naive(Naive::default()),
            "seasonal-naive" | "snaive" => ModelConfig::SeasonalNaive(SeasonalNaive::default()),
            "drift" => ModelConfig::Drift(Drift::default()),
            "mean" => ModelConfig::Mean(Mean::default()),
            "arima" => ModelConfig::Arima(Arima::default()),
            "auto-arima" => ModelConfig::AutoArima(AutoArima::default()),
            "lstm" => ModelConfig::Lstm(LstmConfig::default()),
            "transformer" => ModelConfig::Transformer(TransformerConfig::default()),
            _ => {
                return Err(Error::config(
                    "model",
                    format!("unknown or not yet available model kind '{kind}' (available: naive, seasonal-naive, drift, mean, arima, auto-arima, lstm, transformer)"),
                ))
            }
        })
    }

    /// The CLI name of the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Naive(_) => "naive",
            ModelConfig::SeasonalNaive(_) => "seasonal-naive",
            ModelConfig::Drift(_) => "drift",
            ModelConfig::Mean(_) => "mean",
            ModelConfig::Arima(_) => "arima",
            ModelConfig::AutoArima(_) => "auto-arima",
            ModelConfig::Lstm(_) => "lstm",
            ModelConfig::Transformer(_) => "transformer",
        }
    }

    /// The kind's config as a JSON object (the keys `--set` and the tuner use).
    pub fn config_json(&self) -> Value {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("config").cloned())
            .unwrap_or(Value::Null)
    }

    /// Set one config key from text (`--set KEY=VALUE`). The key must exist; the value
    /// is read as JSON when it parses (numbers, booleans, arrays), as a list when it
    /// holds commas (`order=2,1,2`), else as a string.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let parsed = parse_value(value);
        self.set_json(key, parsed)
    }

    /// Whether the kind has config key `key` (the keys of `--set`; the same for every
    /// config of a kind, read once per kind from its default).
    pub fn has_key(&self, key: &str) -> bool {
        use std::collections::{BTreeSet, HashMap};
        use std::sync::{Mutex, OnceLock};
        static KEYS: OnceLock<Mutex<HashMap<&'static str, BTreeSet<String>>>> = OnceLock::new();
        let kind = self.kind();
        let mut cache = KEYS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache
            .entry(kind)
            .or_insert_with(|| {
                ModelConfig::from_kind(kind)
                    .map(|c| c.config_json())
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
                    .unwrap_or_default()
            })
            .contains(key)
    }

    /// Set several config keys at once: one serialisation, one deserialisation and one
    /// validation for all of them (the tuner applies a trial's sampled keys so). On an
    /// error the keys are tried one by one, so that the error names the key at fault;
    /// a rejected set leaves the config as it was.
    pub fn set_json_many(&mut self, pairs: &[(&str, Value)]) -> Result<()> {
        if pairs.iter().all(|(k, _)| self.has_key(k)) {
            let candidate = serde_json::to_value(&*self).ok().and_then(|mut whole| {
                let config = whole.get_mut("config")?.as_object_mut()?;
                for (k, v) in pairs {
                    config.insert((*k).to_string(), v.clone());
                }
                serde_json::from_value::<ModelConfig>(whole).ok()
            });
            if let Some(c) = candidate.filter(|c| c.validate().is_ok()) {
                *self = c;
                return Ok(());
            }
        }
        let mut one_by_one = self.clone();
        for (k, v) in pairs {
            one_by_one.set_json(k, v.clone())?;
        }
        *self = one_by_one;
        Ok(())
    }

    /// Set one config key to a JSON value; an unknown key or a value of the wrong type
    /// is an error naming the key.
    pub fn set_json(&mut self, key: &str, value: Value) -> Result<()> {
        let mut whole =
            serde_json::to_value(&*self).map_err(|e| Error::config(key, e.to_string()))?;
        let config = whole
            .get_mut("config")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                Error::config(key, format!("model '{}' has no config keys", self.kind()))
            })?;
        if !config.contains_key(key) {
            let mut known: Vec<&String> = config.keys().collect();
            known.sort();
            let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
            return Err(Error::config(
                key,
                format!(
                    "unknown config key for model '{}' (known: {})",
                    self.kind(),
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        let shown = value.to_string();
        config.insert(key.to_string(), value);
        let candidate: ModelConfig = serde_json::from_value(whole)
            .map_err(|e| Error::config(key, format!("bad value {shown}: {e}")))?;
        // A rejected value leaves the config as it was.
        candidate.validate()?;
        *self = candidate;
        Ok(())
    }

    /// Check every hyperparameter once, before any data is touched.
    pub fn validate(&self) -> Result<()> {
        match self {
            ModelConfig::SeasonalNaive(c) => c.validate(),
            ModelConfig::Arima(c) => c.validate(),
            ModelConfig::AutoArima(c) => c.validate(),
            ModelConfig::Lstm(c) => neural::Arch::Lstm(c.clone()).validate(),
            ModelConfig::Transformer(c) => neural::Arch::Transformer(c.clone()).validate(),
            _ => Ok(()),
        }
    }

    /// Fit the configured model.
    pub fn fit(&self, data: &TrainingData<'_>, reporter: &mut dyn Reporter) -> Result<FittedModel> {
        self.validate()?;
        Ok(match self {
            ModelConfig::Naive(c) => FittedModel::Naive(c.fit(data, reporter)?),
            ModelConfig::SeasonalNaive(c) => FittedModel::SeasonalNaive(c.fit(data, reporter)?),
            ModelConfig::Drift(c) => FittedModel::Drift(c.fit(data, reporter)?),
            ModelConfig::Mean(c) => FittedModel::Mean(c.fit(data, reporter)?),
            ModelConfig::Arima(c) => FittedModel::Arima(c.fit(data, reporter)?),
            ModelConfig::AutoArima(c) => FittedModel::AutoArima(c.fit(data, reporter)?),
            ModelConfig::Lstm(c) => FittedModel::Lstm(c.fit(data, reporter)?),
            ModelConfig::Transformer(c) => FittedModel::Transformer(c.fit(data, reporter)?),
        })
    }

    /// The neural training settings, for the kinds that have them.
    fn neural_train_mut(&mut self) -> Option<&mut neural::TrainConfig> {
        match self {
            ModelConfig::Lstm(c) => Some(&mut c.train),
            ModelConfig::Transformer(c) => Some(&mut c.train),
            _ => None,
        }
    }

    /// The longest horizon one forecast can have: the trained horizon of the
    /// multi-output (neural) kinds, `None` (unbounded) for the others.
    pub fn max_horizon(&self) -> Option<usize> {
        match self {
            ModelConfig::Lstm(c) => Some(c.train.horizon),
            ModelConfig::Transformer(c) => Some(c.train.horizon),
            _ => None,
        }
    }

    /// The configuration that refits on every row after the split was scored
    /// (`--refit-final`): the neural kinds train for the epoch count that scored best on
    /// the validation windows of `scored`, with no early stopping and no held-out
    /// windows; the other kinds refit as configured.
    pub fn for_refit(&self, scored: &FittedModel) -> ModelConfig {
        let mut cfg = self.clone();
        if let (Some(train), FittedModel::Lstm(m) | FittedModel::Transformer(m)) =
            (cfg.neural_train_mut(), scored)
        {
            train.epochs = m.stats.best_epoch.max(1);
            train.patience = 0;
            train.valid_fraction = 0.0;
            train.checkpoint_dir = None;
        }
        cfg
    }

    /// The configuration with the values the fit chose for the keys it was left to
    /// decide (a seasonal naive model's inferred `season_length`, ARIMA's `constant`),
    /// as tracking records it.
    pub fn resolved(&self, fitted: &FittedModel) -> ModelConfig {
        let mut c = self.clone();
        match (&mut c, fitted) {
            (ModelConfig::SeasonalNaive(cfg), FittedModel::SeasonalNaive(f)) => {
                cfg.season_length = Some(f.last_season.len());
            }
            (ModelConfig::Arima(cfg), FittedModel::Arima(f)) => {
                cfg.constant = Some(f.trend != arima::Trend::None);
            }
            _ => {}
        }
        c
    }

    /// Fewest training rows the model can be fitted on.
    pub fn min_train_rows(&self, season_length: usize) -> usize {
        match self {
            ModelConfig::Naive(_) => 2,
            ModelConfig::SeasonalNaive(c) => c.season_length.unwrap_or(season_length).max(1) + 1,
            ModelConfig::Drift(_) => 3,
            ModelConfig::Mean(_) => 2,
            ModelConfig::Arima(c) => c.min_train_rows(season_length),
            ModelConfig::AutoArima(c) => c.min_train_rows(),
            ModelConfig::Lstm(c) => neural::Arch::Lstm(c.clone()).min_rows(),
            ModelConfig::Transformer(c) => neural::Arch::Transformer(c.clone()).min_rows(),
        }
    }
}

impl FittedModel {
    /// Forecast; see [`Predict::predict`].
    pub fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
        if horizon == 0 {
            return Err(Error::config("horizon", "must be at least 1"));
        }
        dispatch!(FittedModel, self, m => m.predict(horizon, levels, future))
    }

    /// Re-anchor on a new history; see [`Predict::condition`].
    pub fn condition(&self, history: &TrainingData<'_>) -> Result<FittedModel> {
        Ok(match self {
            FittedModel::Naive(m) => FittedModel::Naive(m.condition(history)?),
            FittedModel::SeasonalNaive(m) => FittedModel::SeasonalNaive(m.condition(history)?),
            FittedModel::Drift(m) => FittedModel::Drift(m.condition(history)?),
            FittedModel::Mean(m) => FittedModel::Mean(m.condition(history)?),
            FittedModel::Arima(m) => FittedModel::Arima(m.condition(history)?),
            FittedModel::AutoArima(m) => FittedModel::AutoArima(m.condition(history)?),
            FittedModel::Lstm(m) => FittedModel::Lstm(m.condition(history)?),
            FittedModel::Transformer(m) => FittedModel::Transformer(m.condition(history)?),
        })
    }

    /// Keep the interval calibration of `scored` (a fit that held out validation
    /// windows) in a model refitted on every row, which has no held-out windows of its
    /// own: the neural kinds' split-conformal residuals. Others calibrate on their fit.
    pub fn keep_calibration(&mut self, scored: &FittedModel) {
        if let (
            FittedModel::Lstm(m) | FittedModel::Transformer(m),
            FittedModel::Lstm(s) | FittedModel::Transformer(s),
        ) = (self, scored)
        {
            m.residuals = s.residuals.clone();
        }
    }

    /// Files the model saves beside `model.json` (a network's weights), by name.
    pub fn extra_files(&self) -> Vec<(String, Vec<u8>)> {
        match self {
            FittedModel::Lstm(m) | FittedModel::Transformer(m) => m.extra_files(),
            _ => Vec::new(),
        }
    }

    /// Read the files of [`FittedModel::extra_files`] back from a model directory.
    pub fn load_files(&mut self, dir: &std::path::Path) -> Result<()> {
        match self {
            FittedModel::Lstm(m) | FittedModel::Transformer(m) => m.load_files(dir),
            _ => Ok(()),
        }
    }

    /// Fit statistics; see [`Predict::fit_stats`].
    pub fn fit_stats(&self) -> Value {
        dispatch!(FittedModel, self, m => m.fit_stats())
    }
}

fn parse_value(value: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(value) {
        return v;
    }
    if value.contains(',') {
        let items: Vec<Value> = value.split(',').map(|s| parse_value(s.trim())).collect();
        return Value::Array(items);
    }
    Value::String(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_checks_keys_and_values() {
        let mut m = ModelConfig::from_kind("seasonal-naive").unwrap();
        m.set("season_length", "12").unwrap();
        assert_eq!(
            m,
            ModelConfig::SeasonalNaive(SeasonalNaive {
                season_length: Some(12)
            })
        );
        let e = m.set("hidden_size", "3").unwrap_err().to_string();
        assert!(
            e.contains("hidden_size") && e.contains("season_length"),
            "{e}"
        );
        let e = m.set("season_length", "abc").unwrap_err().to_string();
        assert!(e.contains("season_length"), "{e}");
        assert!(m.set("season_length", "0").is_err());
    }

    #[test]
    fn several_keys_are_set_in_one_step_and_errors_name_the_key() {
        let mut m = ModelConfig::from_kind("lstm").unwrap();
        assert!(m.has_key("hidden_size") && m.has_key("epochs") && !m.has_key("order"));
        assert!(!ModelConfig::from_kind("drift").unwrap().has_key("epochs"));
        m.set_json_many(&[("hidden_size", Value::from(8)), ("epochs", Value::from(3))])
            .unwrap();
        let v = m.config_json();
        assert_eq!(
            (v["hidden_size"].as_u64(), v["epochs"].as_u64()),
            (Some(8), Some(3))
        );
        let before = m.clone();
        let e = m
            .set_json_many(&[("epochs", Value::from(5)), ("dropout", Value::from(1.5))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("dropout"), "{e}");
        assert_eq!(m, before, "a rejected set leaves the config as it was");
        let e = m
            .set_json_many(&[("hidden", Value::from(5))])
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden") && e.contains("hidden_size"), "{e}");
    }

    #[test]
    fn configs_round_trip_as_json() {
        let m = ModelConfig::from_kind("drift").unwrap();
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"kind":"drift","config":{}}"#);
        assert_eq!(serde_json::from_str::<ModelConfig>(&s).unwrap(), m);
    }
}
