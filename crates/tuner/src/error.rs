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
    /// A sampled value was rejected by the objective's configuration.
    #[error("sampled {key} = {value}: {message}")]
    InvalidSample {
        /// The parameter key.
        key: String,
        /// The sampled value, as JSON.
        value: String,
        /// Why it was rejected.
        message: String,
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
