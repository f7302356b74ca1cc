//! Models: the shared config → checked config → fitted → predict shape, and the model
//! kinds.
//!
//! Each kind has a config type implementing [`ModelFacts`] (its name, its checks, the
//! rows it needs) and [`Fit`]; only a [`Checked`] config can be fitted, and fitting
//! returns a different type implementing [`Predict`], so an unfitted model cannot
//! forecast. [`ModelConfig`] and [`FittedModel`] are serde-tagged enums over the kinds,
//! which the CLI, the tuner and the artifact format use for dynamic choice; both, and
//! the list of kinds [`KINDS`], come from the one table in this module
//! (`model_kinds!`), so adding a kind touches that table and the kind's own module.

pub mod arima;
pub mod baselines;
pub mod ensemble;
pub mod ets;
pub mod naive2;
pub mod neural;
pub mod theta;

use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::reporter::Reporter;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use arima::{Arima, ArimaFitted, AutoArima, AutoArimaFitted};
pub use ensemble::{Ensemble, EnsembleFitted};
pub use ets::{AutoEts, Ets, EtsFitted};
pub use naive2::{Naive2, Naive2Fitted};
pub use neural::{LstmConfig, NeuralFitted, TransformerConfig};
pub use theta::{AutoTheta, Theta, ThetaFitted};

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

/// What a model kind states about a configuration of itself, before any data is seen.
/// Object-safe: [`ModelConfig`] dispatches to its kind's facts once, through
/// `&dyn ModelFacts`.
pub trait ModelFacts {
    /// The kind's name, as `--model` and `model.json` spell it.
    fn kind(&self) -> &'static str;
    /// Check every hyperparameter; an error names the key at fault.
    fn check(&self) -> Result<()> {
        Ok(())
    }
    /// Fewest training rows the model can be fitted on, for data of season
    /// `season_length`.
    fn min_train_rows(&self, season_length: usize) -> usize;
    /// The longest horizon one forecast can have: the trained horizon of the
    /// multi-output (neural) kinds, `None` (unbounded) for the others.
    fn max_horizon(&self) -> Option<usize> {
        None
    }
}

/// A configuration whose hyperparameters passed [`ModelFacts::check`]: the only form a
/// model is fitted from (the idea of linfa's `ParamGuard`). Build one with
/// [`Checked::new`]; it derefs to the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<C>(C);

impl<C: Fit> Checked<C> {
    /// Check `config` once.
    pub fn new(config: C) -> Result<Self> {
        config.check()?;
        Ok(Checked(config))
    }

    /// Fit the checked configuration on `data`, reporting progress to `reporter`.
    pub fn fit(&self, data: &TrainingData<'_>, reporter: &mut dyn Reporter) -> Result<C::Fitted> {
        C::fit_checked(self, data, reporter)
    }

    /// The configuration.
    pub fn into_inner(self) -> C {
        self.0
    }
}

impl<C> std::ops::Deref for Checked<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

/// A model configuration that can be fitted.
pub trait Fit: ModelFacts + Clone {
    /// The fitted model.
    type Fitted: Predict;
    /// Fit a checked configuration on `data`, reporting progress to `reporter`
    /// (called through [`Checked::fit`]; the hyperparameters need no second check).
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<Self::Fitted>;
    /// Check, then fit: `Checked::new(config)?.fit(data, reporter)`.
    fn fit(&self, data: &TrainingData<'_>, reporter: &mut dyn Reporter) -> Result<Self::Fitted> {
        Checked::new(self.clone())?.fit(data, reporter)
    }
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
    /// The same fitted parameters, re-anchored after `rows`: new observations that
    /// follow the data the model last saw (training data or last conditioning), in time
    /// proportional to the new rows (one Kalman step per row for ARIMA, a window shift
    /// for the others), never a pass over the history. Equal to [`Predict::condition`]
    /// on the history followed by `rows`.
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self>;
    /// Fit statistics, as written to `model.json` under `"fit"`.
    fn fit_stats(&self) -> Value;
}

/// One model kind as the command line lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    /// The name `--model` takes.
    pub name: &'static str,
    /// Other names accepted for it.
    pub aliases: &'static [&'static str],
    /// One line on what it is.
    pub about: &'static str,
}

/// The table of model kinds. Each row: the doc line, the enum variant, the config type,
/// the fitted type, the name (kebab-case of the variant, which is also its serde tag)
/// and its aliases. It generates [`ModelConfig`], [`FittedModel`], [`KINDS`] and every
/// method that must name each kind.
macro_rules! model_kinds {
    ($( #[doc = $about:literal] $variant:ident($config:ty => $fitted:ty) = $name:literal $(| $alias:literal)*; )*) => {
        /// Every model kind's configuration.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "config", rename_all = "kebab-case")]
        pub enum ModelConfig {
            $( #[doc = $about] $variant($config), )*
        }

        /// Every model kind, fitted.
        // Fitted models are built once per fit and moved rarely; boxing buys nothing here.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "state", rename_all = "kebab-case")]
        pub enum FittedModel {
            $( #[doc = concat!("A fitted `", $name, "` model.")] $variant($fitted), )*
        }

        /// Every model kind, in the order the command line lists them.
        pub const KINDS: &[KindInfo] = &[
            $( KindInfo { name: $name, aliases: &[$($alias),*], about: $about.trim_ascii() }, )*
        ];

        impl ModelConfig {
            /// The default configuration of the kind named `name` (or an alias).
            fn default_of(name: &str) -> Option<ModelConfig> {
                match name {
                    $( $name $(| $alias)* => Some(ModelConfig::$variant(<$config>::default())), )*
                    _ => None,
                }
            }

            /// The facts of this configuration's kind.
            pub fn facts(&self) -> &dyn ModelFacts {
                match self {
                    $( ModelConfig::$variant(c) => c, )*
                }
            }

            /// Fit the kind's own checked config (this one passed its check).
            fn fit_kind(
                &self,
                data: &TrainingData<'_>,
                reporter: &mut dyn Reporter,
            ) -> Result<FittedModel> {
                Ok(match self {
                    $( ModelConfig::$variant(c) => {
                        FittedModel::$variant(<$config as Fit>::fit_checked(&Checked(c.clone()), data, reporter)?)
                    } )*
                })
            }
        }

        impl FittedModel {
            /// Forecast; see [`Predict::predict`].
            pub fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
                if horizon == 0 {
                    return Err(Error::config("horizon", "must be at least 1"));
                }
                match self {
                    $( FittedModel::$variant(m) => m.predict(horizon, levels, future), )*
                }
            }

            /// Re-anchor on a new history; see [`Predict::condition`].
            pub fn condition(&self, history: &TrainingData<'_>) -> Result<FittedModel> {
                Ok(match self {
                    $( FittedModel::$variant(m) => FittedModel::$variant(m.condition(history)?), )*
                })
            }

            /// Re-anchor after new rows; see [`Predict::extend`].
            pub fn extend(&self, rows: &TrainingData<'_>) -> Result<FittedModel> {
                Ok(match self {
                    $( FittedModel::$variant(m) => FittedModel::$variant(m.extend(rows)?), )*
                })
            }

            /// The kind's name, as `model.json` spells it.
            pub fn kind_name(&self) -> &'static str {
                match self {
                    $( FittedModel::$variant(_) => $name, )*
                }
            }

            /// Fit statistics; see [`Predict::fit_stats`].
            pub fn fit_stats(&self) -> Value {
                match self {
                    $( FittedModel::$variant(m) => m.fit_stats(), )*
                }
            }
        }
    };
}

model_kinds! {
    /// Random walk: the last value.
    Naive(Naive => NaiveFitted) = "naive";
    /// The value one season ago.
    SeasonalNaive(SeasonalNaive => SeasonalNaiveFitted) = "seasonal-naive" | "snaive";
    /// Random walk with drift.
    Drift(Drift => DriftFitted) = "drift";
    /// Naive forecast of the seasonally adjusted series (the M competitions' benchmark).
    Naive2(Naive2 => Naive2Fitted) = "naive2";
    /// The historical mean.
    Mean(Mean => MeanFitted) = "mean";
    /// ARIMA / SARIMA / ARIMAX by exact maximum likelihood.
    Arima(Arima => ArimaFitted) = "arima";
    /// ARIMA with orders chosen by the Hyndman–Khandakar search.
    AutoArima(AutoArima => AutoArimaFitted) = "auto-arima";
    /// Theta method (standard by default; optimised and dynamic variants by `variant`).
    Theta(Theta => ThetaFitted) = "theta";
    /// The best of the four Theta models (standard, optimised, dynamic, dynamic optimised).
    AutoTheta(AutoTheta => ThetaFitted) = "auto-theta";
    /// Exponential smoothing state-space model (`model` code: `ANN`, `AAdN`, `MAM`, ...).
    Ets(Ets => EtsFitted) = "ets";
    /// The exponential smoothing model with the lowest AICc.
    AutoEts(AutoEts => EtsFitted) = "auto-ets";
    /// The average of several models' forecasts (AutoARIMA, AutoETS and AutoTheta by default).
    Ensemble(Ensemble => EnsembleFitted) = "ensemble";
    /// Stacked LSTM network.
    Lstm(LstmConfig => NeuralFitted) = "lstm";
    /// Transformer encoder network.
    Transformer(TransformerConfig => NeuralFitted) = "transformer";
}

impl ModelFacts for ModelConfig {
    fn kind(&self) -> &'static str {
        self.facts().kind()
    }
    fn check(&self) -> Result<()> {
        self.facts().check()
    }
    fn min_train_rows(&self, season_length: usize) -> usize {
        self.facts().min_train_rows(season_length)
    }
    fn max_horizon(&self) -> Option<usize> {
        self.facts().max_horizon()
    }
}

impl Predict for FittedModel {
    fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
        FittedModel::predict(self, horizon, levels, future)
    }
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        FittedModel::condition(self, history)
    }
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        FittedModel::extend(self, rows)
    }
    fn fit_stats(&self) -> Value {
        FittedModel::fit_stats(self)
    }
}

impl Fit for ModelConfig {
    type Fitted = FittedModel;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<FittedModel> {
        config.fit_kind(data, reporter)
    }
}

impl ModelConfig {
    /// The default configuration of a kind, by its name or alias (see [`KINDS`]).
    pub fn from_kind(kind: &str) -> Result<ModelConfig> {
        ModelConfig::default_of(kind).ok_or_else(|| {
            let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
            Error::config(
                "model",
                format!(
                    "unknown model kind '{kind}' (available: {})",
                    names.join(", ")
                ),
            )
        })
    }

    /// The kind's name (see [`KINDS`]).
    pub fn kind(&self) -> &'static str {
        self.facts().kind()
    }

    /// Check every hyperparameter; see [`ModelFacts::check`].
    pub fn validate(&self) -> Result<()> {
        self.facts().check()
    }

    /// Fewest training rows; see [`ModelFacts::min_train_rows`].
    pub fn min_train_rows(&self, season_length: usize) -> usize {
        self.facts().min_train_rows(season_length)
    }

    /// The longest horizon of one forecast; see [`ModelFacts::max_horizon`].
    pub fn max_horizon(&self) -> Option<usize> {
        self.facts().max_horizon()
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

    /// The neural training settings, for the kinds that have them.
    fn neural_train_mut(&mut self) -> Option<&mut neural::TrainConfig> {
        match self {
            ModelConfig::Lstm(c) => Some(&mut c.train),
            ModelConfig::Transformer(c) => Some(&mut c.train),
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

    /// Whether the kind trains one model across the series of a panel (the networks)
    /// rather than one model per series.
    pub fn is_global(&self) -> bool {
        matches!(self, ModelConfig::Lstm(_) | ModelConfig::Transformer(_))
    }

    /// Fewest rows one series of a global model needs (one training window), or `None`
    /// for a kind fitted per series (see [`ModelConfig::min_train_rows`]).
    pub fn global_min_rows(&self) -> Option<usize> {
        match self {
            ModelConfig::Lstm(c) => Some(neural::Arch::Lstm(c.clone()).global_min_rows()),
            ModelConfig::Transformer(c) => {
                Some(neural::Arch::Transformer(c.clone()).global_min_rows())
            }
            _ => None,
        }
    }

    /// Fit one global model on every series of `data` (see [`neural::global`]): one
    /// result per series, in order; the outer error is a failure of the whole fit.
    pub fn fit_global(
        &self,
        data: &[TrainingData<'_>],
        seed: u64,
        reporter: &mut dyn Reporter,
    ) -> Result<Vec<Result<FittedModel>>> {
        let (arch, wrap): (neural::Arch, fn(NeuralFitted) -> FittedModel) = match self {
            ModelConfig::Lstm(c) => (neural::Arch::Lstm(c.clone()), FittedModel::Lstm),
            ModelConfig::Transformer(c) => (
                neural::Arch::Transformer(c.clone()),
                FittedModel::Transformer,
            ),
            other => {
                return Err(Error::config(
                    "model",
                    format!(
                        "'{}' is fitted per series, not as one global model",
                        other.kind()
                    ),
                ))
            }
        };
        arch.validate()?;
        Ok(neural::global::fit_global(&arch, data, seed, reporter)?
            .into_iter()
            .map(|r| r.map(wrap))
            .collect())
    }

    /// The configuration with the values the fit chose for the keys it was left to
    /// decide (a seasonal naive or Theta model's inferred `season_length`, ARIMA's
    /// `constant`), as tracking records it.
    pub fn resolved(&self, fitted: &FittedModel) -> ModelConfig {
        let mut c = self.clone();
        match (&mut c, fitted) {
            (ModelConfig::SeasonalNaive(cfg), FittedModel::SeasonalNaive(f)) => {
                cfg.season_length = Some(f.last_season.len());
            }
            (ModelConfig::Theta(cfg), FittedModel::Theta(f)) => {
                cfg.season_length = Some(f.indices.len());
            }
            (ModelConfig::AutoTheta(cfg), FittedModel::AutoTheta(f)) => {
                cfg.season_length = Some(f.indices.len());
            }
            (ModelConfig::Arima(cfg), FittedModel::Arima(f)) => {
                cfg.constant = Some(f.trend != arima::Trend::None);
            }
            _ => {}
        }
        c
    }
}

impl FittedModel {
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

    /// Names of the regressors whose values over the horizon the forecast needs (the
    /// `future` columns of [`FittedModel::predict`]): an ARIMAX model's exogenous
    /// columns; none for the other kinds, which take no future inputs.
    pub fn regressors(&self) -> &[String] {
        match self {
            FittedModel::Arima(m) => &m.exog,
            FittedModel::AutoArima(m) => &m.model.exog,
            FittedModel::Ensemble(m) => &m.regressors,
            _ => &[],
        }
    }

    /// Whether this is one series of a global model.
    pub fn is_global(&self) -> bool {
        matches!(self, FittedModel::Lstm(m) | FittedModel::Transformer(m) if m.is_global())
    }

    /// A global model's series applied to a series it was not trained on (see
    /// [`NeuralFitted::adopt`]); other kinds refuse.
    pub fn adopt(&self, history: &TrainingData<'_>) -> Result<FittedModel> {
        match self {
            FittedModel::Lstm(m) => Ok(FittedModel::Lstm(m.adopt(history)?)),
            FittedModel::Transformer(m) => Ok(FittedModel::Transformer(m.adopt(history)?)),
            _ => Err(Error::config(
                "data",
                "a model fitted per series forecasts only the series it was fitted on",
            )),
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
    fn every_kind_round_trips_by_name() {
        for k in KINDS {
            let m = ModelConfig::from_kind(k.name).unwrap();
            assert_eq!(m.kind(), k.name);
            let v = serde_json::to_value(&m).unwrap();
            assert_eq!(v["kind"], k.name, "serde tag of {}", k.name);
            assert_eq!(serde_json::from_value::<ModelConfig>(v).unwrap(), m);
            assert!(
                m.validate().is_ok(),
                "default {} config passes its check",
                k.name
            );
            for a in k.aliases {
                assert_eq!(ModelConfig::from_kind(a).unwrap().kind(), k.name);
            }
            assert!(!k.about.is_empty() && !k.about.starts_with(' '));
        }
        let e = ModelConfig::from_kind("prophet").unwrap_err().to_string();
        assert!(e.contains("prophet") && e.contains("auto-arima"), "{e}");
    }

    #[test]
    fn only_a_checked_config_is_fitted() {
        let bad = SeasonalNaive {
            season_length: Some(0),
        };
        assert!(Checked::new(bad.clone()).is_err());
        let e = bad
            .fit(
                &TrainingData::univariate(&[1.0, 2.0, 3.0], 1),
                &mut crate::reporter::Silent,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("season_length"), "{e}");
        let ok = Checked::new(ModelConfig::from_kind("naive").unwrap()).unwrap();
        let f = ok
            .fit(
                &TrainingData::univariate(&[1.0, 2.0, 4.0], 1),
                &mut crate::reporter::Silent,
            )
            .unwrap();
        assert_eq!(f.predict(1, &[], &[]).unwrap().point, vec![4.0]);
    }

    #[test]
    fn configs_round_trip_as_json() {
        let m = ModelConfig::from_kind("drift").unwrap();
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(s, r#"{"kind":"drift","config":{}}"#);
        assert_eq!(serde_json::from_str::<ModelConfig>(&s).unwrap(), m);
    }
}
