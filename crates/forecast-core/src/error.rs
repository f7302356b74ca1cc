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
        /// The file (or directory) at fault.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file extension does not name a supported format.
    #[error("{path}: unsupported file format (expected .csv or .parquet)")]
    UnsupportedFormat {
        /// The file (or directory) at fault.
        path: PathBuf,
    },
    /// The CSV / Parquet reader rejected the file.
    #[error("{path}: cannot parse: {message}")]
    Parse {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file holds no data rows.
    #[error("{path}: file has no data rows")]
    Empty {
        /// The file (or directory) at fault.
        path: PathBuf,
    },
    /// A column the request needs is absent.
    #[error("{path}: column '{column}' not found (columns: {available})")]
    ColumnNotFound {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// The column.
        column: String,
        /// The columns the file has.
        available: String,
    },
    /// A cell in a numeric column is not a number.
    #[error("{path}: {place}, column '{column}': non-numeric value {value:?}")]
    NonNumeric {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
        /// The value at fault, as read.
        value: String,
    },
    /// A cell holds NaN or an infinity.
    #[error("{path}: {place}, column '{column}': non-finite value {value:?}")]
    NonFinite {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
        /// The value at fault, as read.
        value: String,
    },
    /// A cell is empty and the missing-value policy is `error`.
    #[error("{path}: {place}, column '{column}': missing value (choose a policy with --missing ffill|interpolate|drop)")]
    Missing {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
    },
    /// A missing value cannot be repaired by the chosen policy (e.g. ffill at the first row).
    #[error(
        "{path}: {place}, column '{column}': missing value cannot be repaired by policy '{policy}'"
    )]
    Unrepairable {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
        /// The missing-value policy.
        policy: String,
    },
    /// A timestamp cannot be parsed.
    #[error("{path}: {place}, column '{column}': cannot parse timestamp {value:?} (expected ISO 8601, e.g. 2017-11-10 or 2017-11-10T16:00:00)")]
    BadTimestamp {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
        /// The value at fault, as read.
        value: String,
    },
    /// Timestamps go backwards.
    #[error("{path}: {place}, column '{column}': timestamps not sorted ({value} comes after {previous})")]
    Unsorted {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
        /// The value at fault, as read.
        value: String,
        /// The timestamp before it.
        previous: String,
    },
    /// The same timestamp appears twice.
    #[error("{path}: {place}, column '{column}': duplicate timestamp {value}")]
    Duplicate {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The column.
        column: String,
        /// The value at fault, as read.
        value: String,
    },
    /// A row of a long-format panel has no series id.
    #[error("{path}: {place}, column '{column}': empty series id")]
    EmptyId {
        /// The file at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The id column.
        column: String,
    },
    /// One series of a panel mixes sampling frequencies (e.g. a daily row among monthly
    /// ones).
    #[error(
        "{path}: {place}: timestamp {step} is not a whole number of the series' {frequency} steps"
    )]
    MixedFrequency {
        /// The file at fault.
        path: PathBuf,
        /// Where in the file: `line N` of a CSV, `row N` of a Parquet file.
        place: String,
        /// The timestamp at fault and the one before it (`T after PREV`).
        step: String,
        /// The frequency inferred for the series.
        frequency: String,
    },
    /// A failure in one series of a panel: the series id, then what failed.
    #[error("series '{id}': {source}")]
    Series {
        /// The series id.
        id: String,
        /// What failed.
        #[source]
        source: Box<Error>,
    },
    /// The data is too short for what was asked.
    #[error("too few rows: {what} needs at least {needed}, the data has {available}")]
    TooFewRows {
        /// What needs the rows.
        what: String,
        /// Rows needed.
        needed: usize,
        /// Rows the data has.
        available: usize,
    },
    /// A configuration value (model, transform, split, indicator) is invalid.
    #[error("invalid {key}: {message}")]
    InvalidConfig {
        /// The configuration key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A transform cannot be applied to these values (e.g. log of a non-positive value).
    #[error("transform '{transform}': {message}")]
    Transform {
        /// The transform.
        transform: String,
        /// What is wrong.
        message: String,
    },
    /// A model artifact directory is missing files, truncated, or from a newer format.
    #[error("model artifact {path}: {message}")]
    Artifact {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The model cannot do what was asked (e.g. exogenous values missing for a forecast).
    #[error("model '{model}': {message}")]
    Model {
        /// The model kind.
        model: String,
        /// What is wrong.
        message: String,
    },
    /// A numerical routine failed (non-finite likelihood, singular matrix, ...).
    #[error("numerical failure in {what}: {message}")]
    Numerical {
        /// The routine that failed.
        what: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidConfig`].
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidConfig {
            key: key.into(),
            message: message.into(),
        }
    }

    /// This error, as raised while handling the series `id` of a panel.
    pub fn in_series(self, id: &str) -> Self {
        match self {
            e @ Error::Series { .. } => e,
            e => Error::Series {
                id: id.to_string(),
                source: Box::new(e),
            },
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
