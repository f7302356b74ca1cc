//! A study spec: `[data]`, `[evaluation]` and `[[model]]` entries, checked before any
//! data is touched.

use crate::error::{Error, Result};
use forecast_core::backtest::Refit;
pub use forecast_core::data::DataSpec;
use forecast_core::split::FoldPlan;
use forecast_core::transform::Transform;
use forecast_core::{ForecasterSpec, ModelConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The `[evaluation]` table: horizons and rolling-origin folds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyEvaluation {
    /// Forecast horizons; each gets its own folds and table (none with `test`).
    #[serde(default)]
    pub horizons: Vec<usize>,
    /// Folds per horizon, the last one ending at the last row (none with `test`).
    #[serde(default)]
    pub folds: usize,
    /// Rows between origins (default: the horizon).
    #[serde(default)]
    pub step: Option<usize>,
    /// Default refit policy: `every`, `never` or a number of folds.
    #[serde(default)]
    pub refit: Option<String>,
    /// Run the backtests of different models at the same time (default true).
    #[serde(default = "yes")]
    pub parallel: bool,
    /// Held-out file (competition-style scoring): each series is forecast from the end
    /// of the data over its rows of this file, read as the data is; no rolling origins.
    #[serde(default)]
    pub test: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

/// One `[[model]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyModel {
    /// Model kind (any `--model` kind of this build).
    pub kind: String,
    /// Name in the tables (default: the kind). Unique within a study.
    #[serde(default)]
    pub name: Option<String>,
    /// Target transform (`"log"`, `"boxcox:0.5"`).
    #[serde(default)]
    pub transform: Option<String>,
    /// Refit policy of this model (default: the evaluation's).
    #[serde(default)]
    pub refit: Option<String>,
    /// Config keys, as `--set KEY=VALUE`: a string is read as on the command line
    /// (`order = "1,1,1"`), other TOML values as they are.
    #[serde(default)]
    pub set: Map<String, Value>,
    /// Seed of the model.
    #[serde(default)]
    pub seed: u64,
    /// Tune this model before evaluating (see [`super::tune`]).
    #[serde(default)]
    pub tune: Option<Value>,
}

impl StudyModel {
    /// The name in the tables.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.kind.clone())
    }
}

/// A study spec (`forecast experiment run FILE.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// Study name; the results are written as `<name>.json` and `<name>.md`.
    pub name: String,
    /// What the study asks.
    #[serde(default)]
    pub description: Option<String>,
    /// The series.
    pub data: DataSpec,
    /// Horizons and folds.
    pub evaluation: StudyEvaluation,
    /// The models (`[[model]]`); the naive forecast is added when absent.
    #[serde(rename = "model")]
    pub models: Vec<StudyModel>,
}

/// A model of a study, checked and ready to fit.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedModel {
    /// The entry as written.
    pub entry: StudyModel,
    /// Name in the tables.
    pub name: String,
    /// Model, transform and seed (horizon set per run).
    pub spec: ForecasterSpec,
    /// Refit policy.
    pub refit: Refit,
    /// The entry's `set` keys, as the typed config holds them.
    pub fixed: Map<String, Value>,
}

impl PreparedModel {
    /// The spec at `horizon` (models with a `horizon` key forecast that many steps per
    /// pass).
    pub fn spec_at(&self, horizon: usize) -> Result<ForecasterSpec> {
        with_horizon(&self.spec, horizon)
    }
}

/// `spec` with the model's `horizon` key (when it has one) set to `horizon`.
pub fn with_horizon(spec: &ForecasterSpec, horizon: usize) -> Result<ForecasterSpec> {
    let mut spec = spec.clone();
    if spec.model.config_json().get("horizon").is_some() {
        spec.model.set_json("horizon", Value::from(horizon))?;
    }
    Ok(spec)
}

impl StudySpec {
    /// Read a spec file.
    pub fn from_file(path: &Path) -> Result<StudySpec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml(&text).map_err(|e| match e {
            Error::Config { key, message } if key.is_empty() => Error::Corrupt {
                path: path.to_path_buf(),
                message: format!("cannot parse: {message}"),
            },
            other => other,
        })
    }

    /// Parse a spec (TOML) and check its shape.
    pub fn from_toml(text: &str) -> Result<StudySpec> {
        let spec: StudySpec = toml::from_str(text)
            .map_err(|e| Error::config("", e.to_string().trim().replace('\n', " ")))?;
        spec.check_shape()?;
        Ok(spec)
    }

    fn check_shape(&self) -> Result<()> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || self.name.starts_with('.')
        {
            return Err(Error::config(
                "name",
                format!(
                    "'{}' must be a non-empty file name of letters, digits, '-', '_' or '.'",
                    self.name
                ),
            ));
        }
        let ev = &self.evaluation;
        if ev.test.is_some() {
            if !ev.horizons.is_empty() || ev.folds != 0 || ev.step.is_some() {
                return Err(Error::config(
                    "evaluation.test",
                    "scoring against a test file forecasts each series over its test rows: leave out horizons, folds and step",
                ));
            }
        } else {
            if ev.horizons.is_empty() || ev.horizons.contains(&0) {
                return Err(Error::config(
                    "evaluation.horizons",
                    "must list at least one horizon, each at least 1 (or give a test file)",
                ));
            }
            let mut seen = HashSet::new();
            for h in &ev.horizons {
                if !seen.insert(h) {
                    return Err(Error::config(
                        "evaluation.horizons",
                        format!("horizon {h} listed twice"),
                    ));
                }
            }
            if ev.folds == 0 || ev.step == Some(0) {
                return Err(Error::config(
                    "evaluation.folds",
                    "folds and step must be at least 1",
                ));
            }
        }
        if self.models.is_empty() {
            return Err(Error::config("model", "the study lists no [[model]]"));
        }
        Ok(())
    }

    /// Check every model (kind, keys, values, transform, refit) and add the naive
    /// baseline when the spec has no plain naive model.
    pub fn prepare_models(&self) -> Result<Vec<PreparedModel>> {
        let mut entries = self.models.clone();
        let has_naive = entries
            .iter()
            .any(|m| m.kind == "naive" && m.transform.is_none() && m.name.is_none());
        if !has_naive {
            entries.insert(
                0,
                StudyModel {
                    kind: "naive".into(),
                    name: None,
                    transform: None,
                    refit: None,
                    set: Map::new(),
                    seed: 0,
                    tune: None,
                },
            );
        }
        let default_refit = self.evaluation.refit.as_deref().unwrap_or("every");
        let default_refit: Refit = default_refit
            .parse()
            .map_err(|e| Error::within("evaluation.refit", e))?;
        let mut names = HashSet::new();
        let mut out = Vec::new();
        for (i, m) in entries.into_iter().enumerate() {
            let name = m.display_name();
            let place = format!("model '{name}'");
            let ctx = |e: forecast_core::Error| Error::within(&place, e);
            if !names.insert(name.clone()) {
                return Err(Error::config(
                    &place,
                    format!(
                        "the name is used twice (entry {}); give one a `name`",
                        i + 1
                    ),
                ));
            }
            let mut model = ModelConfig::from_kind(&m.kind).map_err(ctx)?;
            for (k, v) in &m.set {
                match v {
                    Value::String(s) => model.set(k, s),
                    other => model.set_json(k, other.clone()),
                }
                .map_err(ctx)?;
            }
            let config = model.config_json();
            let fixed: Map<String, Value> = m
                .set
                .keys()
                .map(|k| (k.clone(), config.get(k).cloned().unwrap_or(Value::Null)))
                .collect();
            let transform = match &m.transform {
                Some(t) => Transform::from_str(t).map_err(ctx)?,
                None => Transform::None,
            };
            let refit = match &m.refit {
                Some(r) => r.parse().map_err(ctx)?,
                None => default_refit,
            };
            let mut spec = ForecasterSpec::new(model);
            spec.transform = transform;
            spec.seed = m.seed;
            out.push(PreparedModel {
                entry: m,
                name,
                spec,
                refit,
                fixed,
            });
        }
        Ok(out)
    }
}

/// The folds plan of one horizon.
pub(crate) fn plan_for(ev: &StudyEvaluation, horizon: usize) -> FoldPlan {
    FoldPlan::Count {
        folds: ev.folds,
        step: ev.step.unwrap_or(horizon),
    }
}

pub(crate) fn refit_name(r: Refit) -> String {
    match r {
        Refit::Every => "every".into(),
        Refit::Never => "never".into(),
        Refit::EveryN(n) => n.to_string(),
    }
}
