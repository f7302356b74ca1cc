//! Hooks for whoever follows an experiment: tracking (one parent run for the
//! experiment, one child run per trial), progress bars, logs.
//!
//! Observers are called in event order, one at a time, while the runner holds its lock:
//! they should be quick (queue, don't ship over the network inline).

use crate::store::{ResultRow, TrialRecord};
use crate::summary::Summary;
use serde::Serialize;
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
    /// The line being written (kept to reuse its allocation).
    line: Vec<u8>,
}

impl JsonlObserver {
    /// Append to `path` (created when missing).
    pub fn new(path: &Path) -> Self {
        let file = OpenOptions::new().create(true).append(true).open(path).ok();
        JsonlObserver {
            path: path.to_path_buf(),
            file,
            line: Vec::new(),
        }
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, v: impl Serialize) {
        // Local run records are best effort: losing one never stops the experiment.
        // One write per line, so a kill never interleaves or splits earlier lines.
        if let Some(f) = self.file.as_mut() {
            self.line.clear();
            if serde_json::to_writer(&mut self.line, &v).is_ok() {
                self.line.push(b'\n');
                let _ = f.write_all(&self.line);
            }
        }
    }
}

/// A trial's event in `runs.jsonl`, serialized from borrowed parts (a sweep writes
/// thousands of them).
#[derive(Serialize)]
struct TrialEvent<'a> {
    event: &'static str,
    run_id: TrialRunId,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a crate::space::Params>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<&'a std::collections::BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    /// `Some(None)` is written as `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    metric: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// `trial-<id>`.
struct TrialRunId(usize);

impl Serialize for TrialRunId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("trial-{}", self.0))
    }
}

impl<'a> TrialEvent<'a> {
    fn new(event: &'static str, id: usize) -> Self {
        TrialEvent {
            event,
            run_id: TrialRunId(id),
            parent: None,
            params: None,
            start: None,
            step: None,
            metrics: None,
            status: None,
            metric: None,
            error: None,
        }
    }
}

impl TrialObserver for JsonlObserver {
    fn experiment_started(&mut self, name: &str, spec: &Value, resumed: bool) {
        self.write(json!({"event": "run_started", "run_id": "experiment", "name": name, "params": spec, "resumed": resumed}));
    }
    fn trial_started(&mut self, t: &TrialRecord) {
        self.write(TrialEvent {
            parent: Some("experiment"),
            params: Some(&t.params),
            start: Some(t.starts),
            ..TrialEvent::new("run_started", t.id)
        });
    }
    fn trial_result(&mut self, t: &TrialRecord, r: &ResultRow) {
        self.write(TrialEvent {
            step: Some(r.iteration),
            metrics: Some(&r.metrics),
            ..TrialEvent::new("metrics", t.id)
        });
    }
    fn trial_finished(&mut self, t: &TrialRecord) {
        self.write(TrialEvent {
            status: Some(t.status.name()),
            metric: Some(t.metric),
            ..TrialEvent::new("run_finished", t.id)
        });
    }
    fn trial_failed(&mut self, t: &TrialRecord, error: &str) {
        self.write(TrialEvent {
            status: Some("failed"),
            error: Some(error),
            ..TrialEvent::new("run_finished", t.id)
        });
    }
    fn experiment_finished(&mut self, s: &Summary) {
        self.write(json!({"event": "run_finished", "run_id": "experiment", "status": "finished", "summary": s}));
    }
}
