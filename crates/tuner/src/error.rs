//! The tuner's error type: each variant names the key, file or trial at fault.

use std::path::PathBuf;

/// Result alias of the tuner.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way the tuner can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A search-space entry is malformed (`space.KEY: ...`).
    #[error("space.{key}: {message}")]
    Space {
        /// The parameter key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A sampled (or fixed) value was rejected by the model's configuration.
    #[error("sampled {key} = {value}: {source}")]
    InvalidSample {
        /// The parameter key.
        key: String,
        /// The sampled value, as JSON.
        value: String,
        /// Why the forecasting library rejected it.
        #[source]
        source: Box<forecast_core::Error>,
    },
    /// A tuning setting is invalid (`tune.KEY: ...`).
    #[error("{key}: {message}")]
    Config {
        /// The setting, e.g. `tune.scheduler.reduction_factor`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A file of the experiment store could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file of the experiment store is corrupt.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another process holds the experiment directory (a running or resuming study).
    #[error("{path}: another process is running this experiment (its lock file is held); wait for it to finish or stop it before resuming")]
    Locked {
        /// The experiment directory.
        path: PathBuf,
    },
    /// A setting of a spec (a study's model entry, an evaluation key) that the
    /// forecasting library rejected.
    #[error("{place}: {source}")]
    In {
        /// The setting, e.g. `model 'arima-211'`.
        place: String,
        /// Why the library rejected it.
        #[source]
        source: Box<forecast_core::Error>,
    },
    /// The database of a shared study refused a statement or answered nonsense.
    #[error("PostgreSQL at {url}: {message}")]
    Database {
        /// The database (its URL without a password).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The database of a shared study stayed unreachable for longer than the worker's
    /// limit: the worker stops.
    #[error("PostgreSQL at {url}: unreachable for {seconds:.1} s (the limit is {limit:.1} s), giving up: {message}")]
    Unreachable {
        /// The database (its URL without a password).
        url: String,
        /// How long it was tried.
        seconds: f64,
        /// The limit.
        limit: f64,
        /// The last error.
        message: String,
    },
    /// A process joined a shared study with a spec other than the study's.
    #[error("study '{name}' in {url} was started with another spec (its hash {stored}, this spec's {given}): give this spec another name, or run the study's spec")]
    StudyMismatch {
        /// The study (the spec's `name`).
        name: String,
        /// The database (its URL without a password).
        url: String,
        /// The hash of the study's spec.
        stored: String,
        /// The hash of this process's spec.
        given: String,
    },
    /// An error of the forecasting library (data, model, artifact, file write).
    #[error(transparent)]
    Core(#[from] forecast_core::Error),
    /// Every trial failed, so there is no best trial.
    #[error("no trial produced metric '{metric}' ({failed} failed)")]
    NoResult {
        /// The metric asked for.
        metric: String,
        /// How many trials failed.
        failed: usize,
    },
}

impl Error {
    /// A configuration error on `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A sampled (or fixed) `value` of `key` that the library rejected.
    pub fn invalid_sample(
        key: &str,
        value: &serde_json::Value,
        source: forecast_core::Error,
    ) -> Self {
        Error::InvalidSample {
            key: key.to_string(),
            value: value.to_string(),
            source: Box::new(source),
        }
    }

    /// The library's error `source`, about the setting `place`.
    pub fn within(place: &str, source: forecast_core::Error) -> Self {
        Error::In {
            place: place.to_string(),
            source: Box::new(source),
        }
    }

    /// A search-space error on `key`.
    pub fn space(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Space {
            key: key.into(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why one trial failed: what an objective returns. The runner retries the trial up to
/// `max_failures` times, then records it as failed with this error's text; the
/// experiment goes on.
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The forecasting library refused the configuration or failed the fit.
    #[error(transparent)]
    Forecast(Box<forecast_core::Error>),
    /// A tuner-level failure: a rejected sample, a checkpoint that cannot be read or
    /// written.
    #[error(transparent)]
    Tuner(Box<Error>),
    /// A file of the trial (its checkpoint) could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Any other failure, in the objective's own words.
    #[error("{0}")]
    Failed(String),
}

impl From<forecast_core::Error> for TrialError {
    fn from(e: forecast_core::Error) -> Self {
        TrialError::Forecast(Box::new(e))
    }
}

impl From<Error> for TrialError {
    fn from(e: Error) -> Self {
        TrialError::Tuner(Box::new(e))
    }
}

impl From<String> for TrialError {
    fn from(message: String) -> Self {
        TrialError::Failed(message)
    }
}

impl From<&str> for TrialError {
    fn from(message: &str) -> Self {
        TrialError::Failed(message.to_string())
    }
}

/// Read a spec file and parse it with `parse`; a parse error that names no key (bad
/// TOML, an unknown table) is the file's, naming its path.
pub(crate) fn read_spec<T>(
    path: &std::path::Path,
    parse: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(&text).map_err(|e| match e {
        Error::Config { key, message } if key.is_empty() => Error::Corrupt {
            path: path.to_path_buf(),
            message,
        },
        other => other,
    })
}
