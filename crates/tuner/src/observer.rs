//! Hooks for whoever follows an experiment: tracking (one parent run for the
//! experiment, one child run per trial), progress bars, logs.
//!
//! Observers are called in event order, one at a time, while the runner holds its lock:
//! they should be quick (queue, don't ship over the network inline).

use crate::store::{ResultRow, TrialRecord};
use crate::summary::Summary;
use serde_json::{json, Value};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Receives the events of an experiment. Every method has a no-op default.
pub trait TrialObserver: Send {
    /// The experiment starts (or resumes): `spec` is its settings.
    fn experiment_started(&mut self, _name: &str, _spec: &Value, _resumed: bool) {}
    /// A trial starts (or restarts after a failure, a crash or a PBT exploit).
    fn trial_started(&mut self, _trial: &TrialRecord) {}
    /// A trial reported a result (one per epoch).
    fn trial_result(&mut self, _trial: &TrialRecord, _result: &ResultRow) {}
    /// A trial completed or was stopped early.
    fn trial_finished(&mut self, _trial: &TrialRecord) {}
    /// A trial failed (after its last retry).
    fn trial_failed(&mut self, _trial: &TrialRecord, _error: &str) {}
    /// The experiment ended.
    fn experiment_finished(&mut self, _summary: &Summary) {}
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl TrialObserver for NoopObserver {}

/// Records runs locally, one JSON object per line: a parent run for the experiment,
/// a child run per trial (`run_id` `trial-<id>`), with params, per-epoch metrics and
/// the final status — what a tracking server would receive.
#[derive(Debug)]
pub struct JsonlObserver {
    path: PathBuf,
    file: Option<File>,
}

impl JsonlObserver {
    /// Append to `path` (created when missing).
    pub fn new(path: &Path) -> Self {
        let file = OpenOptions::new().create(true).append(true).open(path).ok();
        JsonlObserver {
            path: path.to_path_buf(),
            file,
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, v: Value) {
        // Local run records are best effort: losing one never stops the experiment.
        // One write per line, so a kill never interleaves or splits earlier lines.
        if let Some(f) = self.file.as_mut() {
            let mut line = v.to_string();
            line.push('\n');
            let _ = f.write_all(line.as_bytes());
        }
    }
}

impl TrialObserver for JsonlObserver {
    fn experiment_started(&mut self, name: &str, spec: &Value, resumed: bool) {
        self.write(json!({"event": "run_started", "run_id": "experiment", "name": name, "params": spec, "resumed": resumed}));
    }
    fn trial_started(&mut self, t: &TrialRecord) {
        self.write(json!({"event": "run_started", "run_id": format!("trial-{}", t.id), "parent": "experiment", "params": t.params, "start": t.starts}));
    }
    fn trial_result(&mut self, t: &TrialRecord, r: &ResultRow) {
        self.write(json!({"event": "metrics", "run_id": format!("trial-{}", t.id), "step": r.iteration, "metrics": r.metrics}));
    }
    fn trial_finished(&mut self, t: &TrialRecord) {
        self.write(json!({"event": "run_finished", "run_id": format!("trial-{}", t.id), "status": t.status.name(), "metric": t.metric}));
    }
    fn trial_failed(&mut self, t: &TrialRecord, error: &str) {
        self.write(json!({"event": "run_finished", "run_id": format!("trial-{}", t.id), "status": "failed", "error": error}));
    }
    fn experiment_finished(&mut self, s: &Summary) {
        self.write(json!({"event": "run_finished", "run_id": "experiment", "status": "finished", "summary": s}));
    }
}
