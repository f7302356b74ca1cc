//! The one error type of the core library: each variant names what failed and where.

use std::path::PathBuf;

/// Result alias used throughout `forecast_core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every way the core library can fail. Variants carry the file, row, column, key or
/// value at fault so that a caller can print one precise line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file extension does not name a supported format.
    #[error("{path}: unsupported file format (expected .csv or .parquet)")]
    UnsupportedFormat { path: PathBuf },
    /// The CSV / Parquet reader rejected the file.
    #[error("{path}: cannot parse: {message}")]
    Parse { path: PathBuf, message: String },
    /// The file holds no data rows.
    #[error("{path}: file has no data rows")]
    Empty { path: PathBuf },
    /// A column the request needs is absent.
    #[error("{path}: column '{column}' not found (columns: {available})")]
    ColumnNotFound {
        path: PathBuf,
        column: String,
        available: String,
    },
    /// A cell in a numeric column is not a number.
    #[error("{path}: {place}, column '{column}': non-numeric value {value:?}")]
    NonNumeric {
        path: PathBuf,
        place: String,
        column: String,
        value: String,
    },
    /// A cell holds NaN or an infinity.
    #[error("{path}: {place}, column '{column}': non-finite value {value:?}")]
    NonFinite {
        path: PathBuf,
        place: String,
        column: String,
        value: String,
    },
    /// A cell is empty and the missing-value policy is `error`.
    #[error("{path}: {place}, column '{column}': missing value (choose a policy with --missing ffill|interpolate|drop)")]
    Missing {
        path: PathBuf,
        place: String,
        column: String,
    },
    /// A missing value cannot be repaired by the chosen policy (e.g. ffill at the first row).
    #[error(
        "{path}: {place}, column '{column}': missing value cannot be repaired by policy '{policy}'"
    )]
    Unrepairable {
        path: PathBuf,
        place: String,
        column: String,
        policy: String,
    },
    /// A timestamp cannot be parsed.
    #[error("{path}: {place}, column '{column}': cannot parse timestamp {value:?} (expected ISO 8601, e.g. 2017-11-10 or 2017-11-10T16:00:00)")]
    BadTimestamp {
        path: PathBuf,
        place: String,
        column: String,
        value: String,
    },
    /// Timestamps go backwards.
    #[error("{path}: {place}, column '{column}': timestamps not sorted ({value} comes after {previous})")]
    Unsorted {
        path: PathBuf,
        place: String,
        column: String,
        value: String,
        previous: String,
    },
    /// The same timestamp appears twice.
    #[error("{path}: {place}, column '{column}': duplicate timestamp {value}")]
    Duplicate {
        path: PathBuf,
        place: String,
        column: String,
        value: String,
    },
    /// The data is too short for what was asked.
    #[error("too few rows: {what} needs at least {needed}, the data has {available}")]
    TooFewRows {
        what: String,
        needed: usize,
        available: usize,
    },
    /// A configuration value (model, transform, split, indicator) is invalid.
    #[error("invalid {key}: {message}")]
    InvalidConfig { key: String, message: String },
    /// A transform cannot be applied to these values (e.g. log of a non-positive value).
    #[error("transform '{transform}': {message}")]
    Transform { transform: String, message: String },
    /// A model artifact directory is missing files, truncated, or from a newer format.
    #[error("model artifact {path}: {message}")]
    Artifact { path: PathBuf, message: String },
    /// The model cannot do what was asked (e.g. exogenous values missing for a forecast).
    #[error("model '{model}': {message}")]
    Model { model: String, message: String },
    /// A numerical routine failed (non-finite likelihood, singular matrix, ...).
    #[error("numerical failure in {what}: {message}")]
    Numerical { what: String, message: String },
}

impl Error {
    /// Shorthand for [`Error::InvalidConfig`].
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Fail with [`Error::InvalidConfig`] unless `cond` holds; keeps checks on one line.
macro_rules! ensure_config {
    ($cond:expr, $key:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::Error::config($key, format!($($fmt)+)));
        }
    };
}
pub(crate) use ensure_config;
