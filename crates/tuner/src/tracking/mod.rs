//! Experiment tracking: runs are recorded in a local spool first, then shipped to an
//! MLflow tracking server (or DagsHub, which speaks the same REST API) in the background.
//!
//! - [`Tracker`] records runs ([`ActiveRun`]: params, per-step metrics, tags, artifacts,
//!   status, model registration) and ships them from a background thread. A server that
//!   is down never fails or slows training; what was not shipped stays in the spool.
//! - [`sync_run`] / [`sync_all`] ship spooled runs later (`forecast runs sync`),
//!   idempotently.
//! - [`MlflowClient`] is the REST client: only calls the MLflow 2.x and 3.x lines share,
//!   `log-batch` chunked within the server's limits, retries with exponential backoff and
//!   jitter on connection errors, 429 and 5xx.
//! - [`Destination::from_env`] reads `MLFLOW_TRACKING_URI`, `MLFLOW_TRACKING_USERNAME` /
//!   `MLFLOW_TRACKING_PASSWORD`, `MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_INSECURE_TLS`;
//!   [`default_runs_dir`] says where the spool lives (`FORECAST_RUNS_DIR`, ...).
//! - [`fetch_model`] brings a registered model version (`models:/NAME/VERSION` or
//!   `latest`) into a local cache, which also serves it when the server is down.
//!
//! Tuning: a parent run per experiment and a child run per trial
//! (`tracker.start_run("trial-3", Some(parent.id()))`), linked on the server by the
//! `mlflow.parentRunId` tag. [`TuneTracker`] is the [`crate::TrialObserver`] that records
//! an experiment that way (and continues the same runs when it is resumed).

mod client;
mod config;
mod error;
mod flatten;
mod registry;
mod ship;
mod spool;
mod tracker;
mod tune;

pub use client::{
    limits, ArtifactEntry, KeyValue, MlflowClient, ModelVersion, RemoteRun, RetryPolicy,
};
pub use config::{
    default_runs_dir, experiment_from_env, redact_uri, Credentials, Destination, DEFAULT_EXPERIMENT,
};
pub use error::{Result, TrackingError};
pub use flatten::{flatten_params, numeric_leaves};
pub use registry::{fetch_model, Fetched, ModelUri};
pub use ship::{
    is_complete, sync_all, sync_run, SyncReport, MODEL_ARTIFACT_PATH, PARENT_TAG, RUN_ID_TAG,
};
pub use spool::{
    ArtifactRecord, Ledger, Metric, Registration, RunId, RunRecord, RunStatus, Shipment, Spool,
};
pub use tracker::{check_key, ActiveRun, Notifier, ShipperOptions, Tracker, TrackingReporter};
pub use tune::{TuneTracker, RUNS_FILE};
