//! Arguments shared by `train` and `backtest`: the data and the model.

use anyhow::{Context, Result};
use clap::Args;
use forecast_core::data::panel::column_names;
use forecast_core::data::{CalendarChoice, LoadOptions, MissingPolicy, PanelOptions};
use forecast_core::dataset::{target_options, Dataset};
use forecast_core::features::Feature;
use forecast_core::panel::{Shard, ShortPolicy};
use forecast_core::transform::Transform;
use forecast_core::{ForecasterSpec, ModelConfig, SeriesSpec};
use std::path::PathBuf;

/// Where the series comes from.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// CSV or Parquet file (by extension); a long-format file with a series id column,
    /// a folder or a glob ('data/*.csv', one series per file; hive folders KEY=VALUE/)
    /// is a panel of many series.
    #[arg(long)]
    pub data: PathBuf,
    /// Series id column of a long-format file [default: the first of unique_id,
    /// ticker, symbol present; none: one series].
    #[arg(long)]
    pub id_column: Option<String>,
    /// Time column [default: date (or datetime, timestamp, time, ds), else the file is
    /// indexed by row].
    #[arg(long)]
    pub time_col: Option<String>,
    /// Column to forecast [default: y, when the data has such a column].
    #[arg(long)]
    pub target: Option<String>,
    /// Input columns (exogenous regressors / network inputs), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub features: Vec<String>,
    /// Indicators computed from the target, e.g. sma:20,ema:12,rsi:14,macd,bbands:20,returns.
    #[arg(long)]
    pub indicators: Option<String>,
    /// Missing values: error (default), ffill, interpolate or drop.
    #[arg(long, default_value = "error")]
    pub missing: MissingPolicy,
    /// Season length [default: from the frequency: 12 monthly, 4 quarterly, 52 weekly, 7 daily, 1 otherwise].
    #[arg(long)]
    pub season_length: Option<usize>,
    /// Trading-day calendar of daily weekday data: auto (NYSE when the missing weekdays
    /// are mostly NYSE holidays), nyse or business (plain weekdays).
    #[arg(long, default_value = "auto")]
    pub calendar: CalendarChoice,
    /// A panel's series too short for the model: error (default) or skip (left out and
    /// listed in the output).
    #[arg(long, default_value = "error")]
    pub short: ShortPolicy,
    /// Only shard I of N of a panel's series (positions I-1, I-1+N, ... in the panel's
    /// order); shards' outputs concatenate, and `forecast merge` pools their backtests.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

impl DataArgs {
    /// The target column: `--target`, else `y` when the data has it.
    pub fn target(&self) -> Result<String> {
        if let Some(t) = &self.target {
            return Ok(t.clone());
        }
        let names = column_names(&self.data)?;
        anyhow::ensure!(
            names.iter().any(|n| n == "y"),
            "--target is required: {} has no 'y' column (columns: {})",
            self.data.display(),
            names.join(", ")
        );
        Ok("y".into())
    }

    /// How to read the data (the target and features are required, other columns are
    /// not validated; `--target a,b` or `'*'` reads a wide table), and the modelling
    /// series' target column.
    pub fn options(&self, target: &str) -> Result<(PanelOptions, String)> {
        let base = PanelOptions {
            id_column: self.id_column.clone(),
            load: LoadOptions {
                time_col: self.time_col.clone(),
                required: vec![],
                missing: self.missing,
                calendar: self.calendar,
            },
            wide: None,
        };
        Ok(target_options(target, &self.features, base)?)
    }

    /// Load and validate the data, then build the modelling series (one, or one per
    /// series of a panel).
    pub fn load(&self) -> Result<Dataset> {
        let target = self.target()?;
        let indicators = match &self.indicators {
            Some(s) => Feature::parse_list(s)?,
            None => vec![],
        };
        let (options, target) = self.options(&target)?;
        let spec = SeriesSpec {
            target,
            features: self.features.clone(),
            indicators,
            season_length: self.season_length,
        };
        let data = Dataset::load(&self.data, &options, &spec)?;
        Ok(match self.shard {
            Some(shard) => data.shard(shard)?,
            None => data,
        })
    }
}

/// Where a command's run is tracked (every command that records runs flattens these).
#[derive(Args, Debug, Clone, Default)]
pub struct TrackingArgs {
    /// MLflow tracking URI [default: MLFLOW_TRACKING_URI; for `tune`, the spec's
    /// tracking.uri first]. Runs are always recorded locally too.
    #[arg(long)]
    pub tracking_uri: Option<String>,
    /// MLflow experiment name [default: MLFLOW_EXPERIMENT_NAME; for `tune`, the spec's
    /// tracking.experiment first, else the spec's name].
    #[arg(long)]
    pub experiment: Option<String>,
}

/// Which model, with which hyperparameters.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model kind.
    #[arg(long, value_parser = model_kinds())]
    pub model: String,
    /// ARIMA order p,d,q.
    #[arg(long)]
    pub order: Option<String>,
    /// Seasonal order P,D,Q,s.
    #[arg(long)]
    pub seasonal: Option<String>,
    /// Include a constant (mean or drift).
    #[arg(long, conflicts_with = "no_constant")]
    pub constant: bool,
    /// Exclude the constant.
    #[arg(long)]
    pub no_constant: bool,
    /// Target transform: log or boxcox:LAMBDA (forecasts come back in original units).
    #[arg(long)]
    pub transform: Option<String>,
    /// TOML file of config keys (a table of KEY = VALUE).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Set one config key, e.g. --set hidden_size=64 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Device: cpu, cuda[:N] or wgpu.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

/// `--model`'s values: the library's list of kinds, with their aliases and help lines.
fn model_kinds() -> clap::builder::PossibleValuesParser {
    use clap::builder::PossibleValue;
    clap::builder::PossibleValuesParser::new(forecast_core::models::KINDS.iter().map(|k| {
        PossibleValue::new(k.name)
            .aliases(k.aliases.iter().copied())
            .help(k.about)
    }))
}

impl ModelArgs {
    /// The model config: defaults, then the config file, then `--set`, then the flags.
    pub fn model_config(&self, horizon: Option<usize>) -> Result<ModelConfig> {
        let mut m = ModelConfig::from_kind(&self.model)?;
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let table: toml::Table = toml::from_str(&text)
                .with_context(|| format!("{}: invalid TOML", path.display()))?;
            for (k, v) in table {
                let v = serde_json::to_value(v)?;
                m.set_json(&k, v)
                    .with_context(|| format!("in {}", path.display()))?;
            }
        }
        for kv in &self.set {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--set '{kv}': expected KEY=VALUE"))?;
            m.set(k.trim(), v.trim())?;
        }
        if let Some(o) = &self.order {
            m.set("order", o)?;
        }
        if let Some(s) = &self.seasonal {
            m.set("seasonal_order", s)?;
        }
        if self.constant || self.no_constant {
            m.set("constant", if self.constant { "true" } else { "false" })?;
        }
        let keys = m.config_json();
        if let (Some(h), Some(obj)) = (horizon, keys.as_object()) {
            if obj.contains_key("horizon") {
                m.set_json("horizon", h.into())?;
            }
        }
        if self.device != "cpu" {
            if keys.get("device").is_some() {
                m.set("device", &self.device)?;
            } else {
                anyhow::bail!(
                    "--device {}: model '{}' runs on the CPU only",
                    self.device,
                    m.kind()
                );
            }
        }
        Ok(m)
    }

    /// The whole fitting spec.
    pub fn spec(
        &self,
        horizon: Option<usize>,
        valid: f64,
        test: f64,
        refit_final: bool,
    ) -> Result<ForecasterSpec> {
        let transform: Transform = match &self.transform {
            Some(t) => t.parse()?,
            None => Transform::None,
        };
        Ok(ForecasterSpec {
            model: self.model_config(horizon)?,
            transform,
            valid_fraction: valid,
            test_fraction: test,
            seed: self.seed,
            refit_final,
        })
    }

    /// Size the global thread pool once, before any parallel work.
    pub fn init_threads(&self) -> Result<()> {
        if let Some(n) = self.threads {
            anyhow::ensure!(n >= 1, "--threads must be at least 1");
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
                .context("cannot size the thread pool")?;
        }
        Ok(())
    }
}
