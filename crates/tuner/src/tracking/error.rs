//! Errors of the tracking layer.

use std::path::PathBuf;

/// What can go wrong while recording or shipping a run.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// Reading or writing the local spool failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A spool file exists but cannot be understood.
    #[error("{path}: {message}")]
    Spool {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// No run with this id (or id prefix) in the spool, or the prefix is ambiguous.
    #[error("run `{id}`: {message}")]
    UnknownRun {
        /// The id or prefix asked for.
        id: String,
        /// Not found, or ambiguous.
        message: String,
    },
    /// Bad tracking settings (URI, flag or environment variable).
    #[error("tracking settings: {0}")]
    Config(String),
    /// The server answered with an error status; `message` is the server's own.
    #[error("MLflow server {endpoint}: HTTP {status}{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Server {
        /// The API path called (`runs/log-batch`), never with credentials.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// MLflow's `error_code`, when the body was an MLflow error.
        code: Option<String>,
        /// The server's message (or the start of its text body).
        message: String,
    },
    /// The server could not be reached (connection refused, DNS, TLS, timeout).
    #[error("MLflow server {endpoint}: unreachable: {message}")]
    Unreachable {
        /// The API path called.
        endpoint: String,
        /// The transport error.
        message: String,
    },
    /// Another process holds this run's shipping lock.
    #[error("run `{0}` is being shipped by another process")]
    Busy(String),
    /// Writing a spool file through the library's atomic writer failed.
    #[error(transparent)]
    Core(#[from] forecast_core::Error),
}

impl TrackingError {
    /// True for failures that may go away by themselves: an unreachable server, 429 and 5xx.
    /// Other 4xx answers are permanent for the request that caused them.
    pub fn is_transient(&self) -> bool {
        match self {
            TrackingError::Unreachable { .. } | TrackingError::Busy(_) => true,
            TrackingError::Server { status, .. } => {
                *status == 429 || *status == 408 || *status >= 500
            }
            _ => false,
        }
    }

    /// MLflow's `error_code`, if the server sent one.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            TrackingError::Server { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            TrackingError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> TrackingError {
        TrackingError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of the tracking layer.
pub type Result<T, E = TrackingError> = std::result::Result<T, E>;
