//! Errors of report building and rendering.

use std::path::PathBuf;

/// A report that cannot be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// An input file is missing, unreadable or not what the report kind expects.
    #[error("{}: {message}", path.display())]
    Input {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The input holds nothing to show (an empty study, a backtest with no folds).
    #[error("{}: {message}", path.display())]
    Empty {
        /// The file (or directory) that is empty.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// The requested output format is not one this report kind can write.
    #[error("{0}")]
    Format(String),
    /// Drawing a static chart failed.
    #[error("drawing the chart: {0}")]
    Draw(String),
    /// An error from the forecasting library (loading data or a model, fitting,
    /// forecasting, writing the output).
    #[error(transparent)]
    Core(#[from] forecast_core::Error),
}

impl ReportError {
    /// An input error naming `path`.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An empty-input error naming `path`.
    pub fn empty(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Empty {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = ReportError> = std::result::Result<T, E>;
