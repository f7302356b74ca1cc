//! The model artifact: a directory with `model.json` and an MLflow `MLmodel` descriptor,
//! written atomically (a temporary directory renamed into place).

use crate::data::{DataSchema, RecentRows};
use crate::error::{Error, Result};
use crate::models::FittedModel;
use crate::panel::{PanelForecaster, Skipped};
use crate::pipeline::{Forecaster, ForecasterSpec, TestReport};
use crate::transform::FittedTransform;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The artifact format this build writes; it reads this version and older ones.
pub const FORMAT_VERSION: u32 = 1;

/// The crate version recorded in artifacts.
pub const CRATE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The contents of `model.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelFile {
    /// Artifact format version.
    pub format_version: u32,
    /// Model kind (`naive`, `arima`, ...).
    pub kind: String,
    /// The model's configuration (the keys of `--set`) with the values the fit chose
    /// for the keys it was left to decide (an inferred `season_length`).
    pub config: Value,
    /// Fit statistics.
    pub fit: Value,
    /// What the model knows of its training data.
    pub data: DataSchema,
    /// The last rows of the data the model last saw (see [`RecentRows`]).
    #[serde(default, skip_serializing_if = "RecentRows::is_empty")]
    pub recent: RecentRows,
    /// Target transform with its fitted state.
    pub transform: FittedTransform,
    /// SHA-256 of the training data.
    pub fingerprint: String,
    /// The file the model was trained from (an absolute path), when it was trained from
    /// one: reports read the whole history from it, after checking it against
    /// `fingerprint`. A hint only: the model never needs it to forecast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Version of forecast-core that wrote the file.
    pub crate_version: String,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// Full fitting spec (model config, transform, split, seed).
    pub spec: ForecasterSpec,
    /// Season length used.
    pub season_length: usize,
    /// Fitted model state (parameters and the end of the data it last saw).
    pub state: FittedModel,
    /// Accuracy on the validation part (forecast from the end of the training part).
    #[serde(default)]
    pub valid: Option<TestReport>,
    /// Accuracy on the held-out test part.
    pub test: Option<TestReport>,
}

fn artifact_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Artifact {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl ModelFile {
    /// The file for a fitted forecaster.
    pub fn new(f: &Forecaster) -> ModelFile {
        ModelFile {
            format_version: FORMAT_VERSION,
            kind: f.spec.model.kind().to_string(),
            config: f.spec.model.resolved(&f.model).config_json(),
            fit: f.fit_stats(),
            data: f.schema.clone(),
            recent: f.recent.clone(),
            transform: f.transform.clone(),
            fingerprint: f.fingerprint.clone(),
            source: None,
            crate_version: CRATE_VERSION.to_string(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            spec: f.spec.clone(),
            season_length: f.season_length,
            state: f.model.clone(),
            valid: f.valid.clone(),
            test: f.test.clone(),
        }
    }

    /// The forecaster this file describes.
    pub fn into_forecaster(mut self) -> Forecaster {
        if self.data.fitted_rows == 0 {
            // Written before the two counts were kept apart: fitted = conditioned.
            self.data.fitted_rows = self.data.conditioned_rows;
        }
        Forecaster {
            spec: self.spec,
            transform: self.transform,
            model: self.state,
            schema: self.data,
            recent: self.recent,
            season_length: self.season_length,
            fingerprint: self.fingerprint,
            valid: self.valid,
            test: self.test,
        }
    }
}

fn mlmodel(file: &ModelFile) -> String {
    format!(
        "artifact_path: model\n\
         flavors:\n  \
           forecast:\n    \
             format_version: {fv}\n    \
             kind: {kind}\n    \
             model_file: model.json\n    \
             forecast_version: {ver}\n    \
             loader: forecast predict --model <this directory>\n\
         utc_time_created: '{created}'\n\
         model_uuid: {uuid}\n",
        fv = file.format_version,
        kind = file.kind,
        ver = file.crate_version,
        created = file.created,
        uuid = &file.fingerprint[..32.min(file.fingerprint.len())],
    )
}

/// Save a fitted forecaster to `dir` atomically and durably ([`crate::fsio::write_dir`]:
/// a server watching the directory sees the old model or the new one). An existing model directory is
/// replaced; an existing directory that is not a model artifact is left alone and
/// reported as an error.
pub fn save(forecaster: &Forecaster, dir: &Path) -> Result<()> {
    save_with_source(forecaster, dir, None)
}

/// [`save`], recording the file the model was trained from (`source`, made absolute)
/// so that a report can show the whole history ([`training_source`]).
pub fn save_with_source(forecaster: &Forecaster, dir: &Path, source: Option<&Path>) -> Result<()> {
    check_overwrite(dir)?;
    let mut file = ModelFile::new(forecaster);
    file.source = source.map(|p| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    });
    let json = serde_json::to_string_pretty(&file)
        .map_err(|e| artifact_err(dir, format!("cannot serialise: {e}")))?;
    let mut files = vec![
        ("model.json".to_string(), json.into_bytes()),
        ("MLmodel".to_string(), mlmodel(&file).into_bytes()),
    ];
    files.extend(forecaster.model.extra_files());
    // Files inside the new directory are fsynced by `write_dir` before the swap.
    crate::fsio::write_dir(dir, |tmp| {
        for (name, body) in &files {
            let p = tmp.join(name);
            std::fs::write(&p, body).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    })
}

/// The file a saved model was trained from, as recorded by [`save_with_source`]
/// (`None` when it was not recorded). The file may have changed or gone since.
pub fn training_source(dir: &Path) -> Result<Option<PathBuf>> {
    let path = dir.join("model.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| artifact_err(dir, format!("model.json is not valid JSON: {e}")))?;
    Ok(v.get("source").and_then(Value::as_str).map(PathBuf::from))
}

/// Refuse to replace `dir` unless it is absent, empty or a model directory.
fn check_overwrite(dir: &Path) -> Result<()> {
    if dir.exists() {
        let is_model = dir.join("model.json").is_file() || dir.join(PANEL_FILE).is_file();
        let is_empty = dir
            .read_dir()
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !dir.is_dir() || !(is_model || is_empty) {
            return Err(artifact_err(
                dir,
                "exists and is not a model directory; refusing to overwrite it",
            ));
        }
    }
    Ok(())
}

/// Load a model artifact. Missing files, truncated or corrupt JSON, and artifacts of a
/// newer format version are errors naming the directory.
pub fn load(dir: &Path) -> Result<Forecaster> {
    if !dir.is_dir() {
        return Err(artifact_err(
            dir,
            "not found (expected a directory written by `forecast train`)",
        ));
    }
    for required in ["model.json", "MLmodel"] {
        if !dir.join(required).is_file() {
            return Err(artifact_err(dir, format!("missing {required}")));
        }
    }
    let path = dir.join("model.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        artifact_err(
            dir,
            format!("model.json is truncated or not valid JSON ({e})"),
        )
    })?;
    let version = value
        .get("format_version")
        .and_then(Value::as_u64)
        .ok_or_else(|| artifact_err(dir, "model.json has no format_version"))?;
    if version > FORMAT_VERSION as u64 {
        return Err(artifact_err(
            dir,
            format!("format version {version} is newer than this build reads ({FORMAT_VERSION}); upgrade forecast"),
        ));
    }
    let file: ModelFile = serde_json::from_value(value)
        .map_err(|e| artifact_err(dir, format!("model.json is incomplete or invalid: {e}")))?;
    if file.kind != file.spec.model.kind() {
        return Err(artifact_err(
            dir,
            format!(
                "kind '{}' does not match its config '{}'",
                file.kind,
                file.spec.model.kind()
            ),
        ));
    }
    let mut forecaster = file.into_forecaster();
    forecaster.model.load_files(dir)?;
    Ok(forecaster)
}

/// The manifest of a panel model directory.
pub const PANEL_FILE: &str = "panel.json";
/// One line per series: `{"unique_id", "model": <model.json's contents>}`.
pub const SERIES_FILE: &str = "series.jsonl";

/// The contents of `panel.json`: what the panel model is, and which series it left out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PanelManifest {
    /// Artifact format version.
    pub format_version: u32,
    /// Model kind, the same for every series.
    pub kind: String,
    /// Name of the series id column.
    pub id_column: String,
    /// Number of series fitted (lines of `series.jsonl`).
    pub series: usize,
    /// Series left out by the short-series policy.
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// For a global model (one network for every series): the parts its series share,
    /// saved once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalParts>,
    /// Version of forecast-core that wrote the directory.
    pub crate_version: String,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
}

/// What the series of a global model share: one network's weights (in
/// [`crate::models::neural::WEIGHTS_FILE`] beside `panel.json`) and the pooled
/// conformal residuals in standardised units (each series line keeps its own scaler
/// and `residual_scale`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GlobalParts {
    /// SHA-256 of the weights file.
    pub weights_sha256: String,
    /// Sorted pooled absolute validation errors per horizon step, standardised units.
    pub residuals: Vec<Vec<f64>>,
}

/// The network of a global model's series.
fn global_net(f: &Forecaster) -> Option<&crate::models::NeuralFitted> {
    match &f.model {
        FittedModel::Lstm(m) | FittedModel::Transformer(m) if m.is_global() => Some(m),
        _ => None,
    }
}

/// A global model's series without the parts saved once for the panel.
fn without_shared(f: &Forecaster) -> Forecaster {
    let mut f = f.clone();
    if let FittedModel::Lstm(m) | FittedModel::Transformer(m) = &mut f.model {
        m.residuals = Default::default();
        m.weights = Default::default();
    }
    f
}

#[derive(Serialize, Deserialize)]
struct SeriesLine {
    unique_id: String,
    model: ModelFile,
}

/// Whether `dir` holds a panel model (`panel.json`) rather than a one-series model.
pub fn is_panel(dir: &Path) -> bool {
    dir.join(PANEL_FILE).is_file()
}

/// Save a model fitted on a panel: `panel.json` (the manifest), `series.jsonl` (one
/// line per series, the same contents as a one-series `model.json`) and `MLmodel`, in
/// one directory written atomically. One file for every series keeps thousands of
/// series to one open and one parse per line (in parallel) when loading.
pub fn save_panel(panel: &PanelForecaster, dir: &Path) -> Result<()> {
    check_overwrite(dir)?;
    let kind = panel.kind().to_string();
    // A global model's series share one network: its weights are written once.
    let nets: Vec<_> = panel
        .series
        .iter()
        .filter_map(|(_, f)| global_net(f))
        .collect();
    let global = match nets.first() {
        Some(first) => {
            if nets.len() != panel.series.len()
                || nets
                    .iter()
                    .any(|m| m.weights_sha256 != first.weights_sha256)
            {
                return Err(artifact_err(
                    dir,
                    "the series do not share one network (not one global model)",
                ));
            }
            Some((
                GlobalParts {
                    weights_sha256: first.weights_sha256.clone(),
                    residuals: first.residuals.to_vec(),
                },
                first.weights.0.to_vec(),
            ))
        }
        None => {
            if panel
                .series
                .iter()
                .any(|(_, f)| !f.model.extra_files().is_empty())
            {
                return Err(artifact_err(
                    dir,
                    format!("'{kind}' keeps weights outside model.json and is not one global model; a panel directory cannot hold one network per series"),
                ));
            }
            None
        }
    };
    let lines: Vec<Result<String>> = panel
        .series
        .par_iter()
        .map(|(id, f)| {
            let stripped;
            let f = if global.is_some() {
                stripped = without_shared(f);
                &stripped
            } else {
                f
            };
            serde_json::to_string(&SeriesLine {
                unique_id: id.clone(),
                model: ModelFile::new(f),
            })
            .map_err(|e| artifact_err(dir, format!("cannot serialise series '{id}': {e}")))
        })
        .collect();
    let mut body = String::new();
    for line in lines {
        body.push_str(&line?);
        body.push('\n');
    }
    let manifest = PanelManifest {
        format_version: FORMAT_VERSION,
        kind: kind.clone(),
        id_column: panel.id_column.clone(),
        series: panel.series.len(),
        skipped: panel.skipped.clone(),
        global: global.as_ref().map(|(g, _)| g.clone()),
        crate_version: CRATE_VERSION.to_string(),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| artifact_err(dir, format!("cannot serialise: {e}")))?;
    let mlmodel = format!(
        "artifact_path: model\n\
         flavors:\n  \
           forecast:\n    \
             format_version: {fv}\n    \
             kind: {kind}\n    \
             panel_file: {PANEL_FILE}\n    \
             series_file: {SERIES_FILE}\n    \
             forecast_version: {ver}\n    \
             loader: forecast predict --model <this directory>\n\
         utc_time_created: '{created}'\n",
        fv = manifest.format_version,
        ver = manifest.crate_version,
        created = manifest.created,
    );
    let mut files = vec![
        (PANEL_FILE, json.into_bytes()),
        (SERIES_FILE, body.into_bytes()),
        ("MLmodel", mlmodel.into_bytes()),
    ];
    if let Some((_, weights)) = global {
        files.push((crate::models::neural::WEIGHTS_FILE, weights));
    }
    crate::fsio::write_dir(dir, |tmp| {
        for (name, bytes) in &files {
            let p = tmp.join(name);
            std::fs::write(&p, bytes).map_err(|e| Error::io(&p, e))?;
        }
        Ok(())
    })
}

/// Load a panel model directory (series parsed in parallel). Missing files, a
/// truncated or corrupt line, a count that differs from the manifest's, and a newer
/// format are errors naming the directory (and the line).
pub fn load_panel(dir: &Path) -> Result<PanelForecaster> {
    for required in [PANEL_FILE, SERIES_FILE] {
        if !dir.join(required).is_file() {
            return Err(artifact_err(dir, format!("missing {required}")));
        }
    }
    let path = dir.join(PANEL_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let manifest: PanelManifest = serde_json::from_str(&text)
        .map_err(|e| artifact_err(dir, format!("{PANEL_FILE} is truncated or invalid ({e})")))?;
    if manifest.format_version > FORMAT_VERSION {
        return Err(artifact_err(
            dir,
            format!(
                "format version {} is newer than this build reads ({FORMAT_VERSION}); upgrade forecast",
                manifest.format_version
            ),
        ));
    }
    let path = dir.join(SERIES_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() != manifest.series {
        return Err(artifact_err(
            dir,
            format!(
                "{SERIES_FILE} has {} series, {PANEL_FILE} says {} (truncated?)",
                lines.len(),
                manifest.series
            ),
        ));
    }
    let parsed: Vec<Result<(String, Forecaster)>> = lines
        .par_iter()
        .enumerate()
        .map(|(i, line)| {
            let l: SeriesLine = serde_json::from_str(line)
                .map_err(|e| artifact_err(dir, format!("{SERIES_FILE} line {}: {e}", i + 1)))?;
            if l.model.kind != manifest.kind || l.model.kind != l.model.spec.model.kind() {
                return Err(artifact_err(
                    dir,
                    format!(
                        "{SERIES_FILE} line {}: kind '{}' differs from the panel's '{}'",
                        i + 1,
                        l.model.kind,
                        manifest.kind
                    ),
                ));
            }
            Ok((l.unique_id, l.model.into_forecaster()))
        })
        .collect();
    let mut series = parsed.into_iter().collect::<Result<Vec<_>>>()?;
    if let Some(g) = &manifest.global {
        share_global(dir, g, &mut series)?;
    }
    Ok(PanelForecaster {
        id_column: manifest.id_column,
        series,
        skipped: manifest.skipped,
    })
}

/// Give every series of a global model the network's weights (read and checked once)
/// and the pooled residuals.
fn share_global(dir: &Path, g: &GlobalParts, series: &mut [(String, Forecaster)]) -> Result<()> {
    let residuals = std::sync::Arc::new(g.residuals.clone());
    let mut weights: Option<crate::models::neural::Weights> = None;
    for (id, f) in series.iter_mut() {
        let (FittedModel::Lstm(m) | FittedModel::Transformer(m)) = &mut f.model else {
            return Err(artifact_err(
                dir,
                format!(
                    "series '{id}' is not a network, but {PANEL_FILE} describes a global model"
                ),
            ));
        };
        if m.weights_sha256 != g.weights_sha256 || !m.is_global() {
            return Err(artifact_err(
                dir,
                format!("series '{id}' does not belong to the panel's network"),
            ));
        }
        match &weights {
            Some(w) => m.weights = w.clone(),
            None => {
                // Reads the file, checks its checksum and that the network loads.
                m.load_files(dir)?;
                weights = Some(m.weights.clone());
            }
        }
        m.residuals = std::sync::Arc::clone(&residuals);
    }
    Ok(())
}
