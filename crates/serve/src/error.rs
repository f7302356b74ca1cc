//! Errors: [`ServeError`] when a server cannot start, [`ApiError`] as a request's answer
//! (MLflow's shape: `{"error_code", "message"}` with a 4xx or 5xx status).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;

/// A server that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The model directory or folder cannot be served.
    #[error("{path}: {message}")]
    Source {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A model failed to load.
    #[error(transparent)]
    Model(#[from] forecast_core::Error),
    /// An option is out of range.
    #[error("{option}: {message}")]
    Option {
        /// The option.
        option: &'static str,
        /// Why it is refused.
        message: String,
    },
    /// The listener failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// A request's error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// MLflow's error code (`BAD_REQUEST`, `INVALID_PARAMETER_VALUE`, ...).
    pub code: &'static str,
    /// What went wrong, naming the field.
    pub message: String,
}

impl ApiError {
    /// 400 `BAD_REQUEST`: a body that cannot be read as the protocol's shape.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: message.into(),
        }
    }

    /// 400 `INVALID_PARAMETER_VALUE`: a well-formed request with a value out of range.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER_VALUE",
            message: message.into(),
        }
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`: an unknown model or series.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "RESOURCE_DOES_NOT_EXIST",
            message: message.into(),
        }
    }

    /// 413 `REQUEST_LIMIT_EXCEEDED`: a body over the limit.
    pub fn too_large(limit: usize) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "REQUEST_LIMIT_EXCEEDED",
            message: format!("the request body is over the limit of {limit} bytes"),
        }
    }

    /// 415 `BAD_REQUEST`: a content type the route does not take.
    pub fn media_type(got: &str, takes: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "BAD_REQUEST",
            message: format!("content type '{got}' is not supported; send {takes}"),
        }
    }

    /// 401 `UNAUTHENTICATED`.
    pub fn unauthenticated() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHENTICATED",
            message: "a valid bearer token is required (Authorization: Bearer <token>)".into(),
        }
    }

    /// 503 `TEMPORARILY_UNAVAILABLE`: the request ran past the server's time limit.
    pub fn timeout(limit: std::time::Duration) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "TEMPORARILY_UNAVAILABLE",
            message: format!("the request ran past the time limit of {limit:?}"),
        }
    }

    /// 500 `INTERNAL_ERROR`.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR",
            message: message.into(),
        }
    }

    /// The error as its JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({"error_code": self.code, "message": self.message}).to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}
