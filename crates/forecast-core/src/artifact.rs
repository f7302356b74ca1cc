//! The model artifact: a directory with `model.json` and an MLflow `MLmodel` descriptor,
//! written atomically (a temporary directory renamed into place).

use crate::data::DataSchema;
use crate::error::{Error, Result};
use crate::models::FittedModel;
use crate::pipeline::{Forecaster, ForecasterSpec, TestReport};
use crate::transform::FittedTransform;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

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
    /// Target transform with its fitted state.
    pub transform: FittedTransform,
    /// SHA-256 of the training data.
    pub fingerprint: String,
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
            transform: f.transform.clone(),
            fingerprint: f.fingerprint.clone(),
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
    if dir.exists() {
        let is_model = dir.join("model.json").is_file();
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
    let file = ModelFile::new(forecaster);
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
