//! A tuning experiment as runs, the way Ray Tune's MLflow integration records one: a
//! parent run for the experiment and a child run per trial (`mlflow.parentRunId`).
//!
//! - Parent run (named after the experiment): params are the experiment's settings (the
//!   spec flattened: `tune.*`, `space.*`, `model.*`, `evaluation.*`, `data.*`); at the end
//!   metrics `best.<metric>`, `trials`, `completed`, `stopped_early`, `failed` and tags
//!   `tune.best_trial`, `tune.best_run`, `best.<key>` (the best trial's hyperparameters);
//!   the best trial's model under the `model` artifact path when the caller logs it
//!   ([`TuneTracker::log_best_model`]).
//! - Child run per trial (`trial-<id>`): params are the trial's sampled config, flattened
//!   (`hidden_size`, `lstm.dropout`); every reported result is logged with
//!   `step` = its iteration (the epoch); tags `tune.trial_id`, `tune.status`,
//!   `tune.iterations`, `tune.score` and, when it applies, `tune.stop_reason`,
//!   `tune.error`, `tune.starts`, `tune.restarted_from_step`.
//! - Status, with MLflow's meanings (`FINISHED`: the run completed; `FAILED`: it failed;
//!   `KILLED`: it was terminated from outside): a trial that ran to its end is
//!   `FINISHED`; a trial **stopped early by the scheduler** (ASHA, median stopping,
//!   HyperBand) is also `FINISHED` with `tune.status = stopped` and
//!   `tune.stop_reason = scheduler`, as Ray Tune's MLflow callback does, since the search
//!   algorithm ending a trial is the experiment working as designed; a trial cut by the
//!   experiment's time budget is `KILLED`; a trial that failed after its last retry is
//!   `FAILED` with its message in `tune.error`.
//! - Resume: trial ids map to run ids in `<experiment dir>/tracking.jsonl` (one line per
//!   new run, appended, so each trial costs one small write however many there are). A resumed
//!   experiment reopens its parent run instead of creating another one; finished trials
//!   are not run again so their runs are left alone; a trial restarted after a crash
//!   reopens its own child run (tag `tune.restarted_from_step` = the checkpoint's
//!   iteration; the results after it are logged again at the same steps).
//!
//! Every call only writes the local spool (the tracker ships in the background), and a
//! tracking error is a warning, once: tracking never stops or slows an experiment.

use super::error::TrackingError;
use super::flatten::flatten_params;
use super::spool::{RunId, RunStatus};
use super::tracker::{ActiveRun, Tracker};
use crate::observer::TrialObserver;
use crate::runner::Summary;
use crate::store::{ResultRow, TrialRecord, TrialStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The file in an experiment directory that maps the experiment and its trials to runs.
pub const RUNS_FILE: &str = "tracking.jsonl";

/// Longest `tune.error` tag kept (MLflow accepts 8000 characters in a tag value on 3.x,
/// 5000 on older servers).
const MAX_ERROR_TAG: usize = 4000;

/// One line of `tracking.jsonl`: a new parent run (with the spool it lives in; the trials
/// mapped before it belong to an older parent), or a trial's run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct MapLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runs_dir: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<RunId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trial: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<RunId>,
}

/// `tracking.jsonl` folded: which spool runs belong to the experiment.
#[derive(Debug, Clone, Default, PartialEq)]
struct RunMap {
    /// The spool the runs live in.
    runs_dir: Option<PathBuf>,
    /// The experiment's parent run.
    parent: Option<RunId>,
    /// Child run of each trial, by trial id.
    trials: BTreeMap<usize, RunId>,
}

impl RunMap {
    /// Folds the lines of `tracking.jsonl`; a torn last line (a kill during the write) is
    /// ignored, any other bad line is an error naming it.
    fn parse(text: &str) -> Result<RunMap, String> {
        let mut map = RunMap::default();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let l: MapLine = match serde_json::from_str(line) {
                Ok(l) => l,
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => return Err(format!("line {}: {e}", i + 1)),
            };
            if let Some(p) = l.parent {
                map.parent = Some(p);
                map.runs_dir = l.runs_dir;
                map.trials.clear();
            }
            if let (Some(t), Some(r)) = (l.trial, l.run) {
                map.trials.insert(t, r);
            }
        }
        Ok(map)
    }
}

struct State {
    tracker: Tracker,
    map_path: Option<PathBuf>,
    map: RunMap,
    parent: Option<ActiveRun>,
    trials: BTreeMap<usize, ActiveRun>,
    metric: Option<String>,
    hold_parent: bool,
    parent_tags: Vec<(String, String)>,
    /// Whether each trial gets a child run (see [`TuneTracker::without_trial_runs`]).
    trial_runs: bool,
    warned: bool,
}

impl State {
    fn warn(&mut self, what: &str, e: &dyn std::fmt::Display) {
        if !self.warned {
            self.warned = true;
            self.tracker.notify(&format!(
                "{what}: {e} (the experiment goes on; further tracking warnings are not shown)"
            ));
        }
    }

    /// Appends `line` to `tracking.jsonl` in one write.
    fn append_map(&mut self, line: &MapLine) {
        let Some(path) = self.map_path.clone() else {
            return;
        };
        let result = serde_json::to_vec(line)
            .map_err(|e| e.to_string())
            .and_then(|mut bytes| {
                bytes.push(b'\n');
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            self.warn(&format!("writing {}", path.display()), &e);
        }
    }

    /// Reopens run `id` when this tracker's spool has it.
    fn reopen(&mut self, id: &RunId) -> Option<ActiveRun> {
        if self.tracker.spool().load_record(id).is_err() {
            return None;
        }
        match self.tracker.resume_run(id) {
            Ok(r) => Some(r),
            Err(e) => {
                self.warn(&format!("reopening run {id}"), &e);
                None
            }
        }
    }
}

/// Records a tuning experiment as runs: implements [`TrialObserver`], so it is added to an
/// [`crate::Experiment`] with `observe(Box::new(tune_tracker.clone()))`. Cheap to clone;
/// the clones share one state, so the caller keeps a handle to log the best model and
/// end the parent run after the experiment.
///
/// ```
/// use tuner::tracking::{RunStatus, Tracker, TuneTracker};
/// use tuner::{Experiment, SearchSpace, Store, TuneConfig};
/// let runs = tempfile::tempdir().unwrap();
/// let tracker = Tracker::new(runs.path(), None, "demo").unwrap(); // local only
/// let tune = TuneTracker::new(tracker.clone(), None);
/// let space = SearchSpace::from_json(&serde_json::json!({"x": {"grid": [1, 2]}})).unwrap();
/// let mut config = TuneConfig::new("loss");
/// config.search = tuner::SearchKind::Grid;
/// let experiment = Experiment::new("demo", space, config).observe(Box::new(tune.clone()));
/// let store = Store::in_memory("demo", serde_json::Value::Null);
/// experiment
///     .run(store, |ctx| {
///         let x = ctx.params()["x"].as_f64().unwrap();
///         for _ in 0..3 {
///             ctx.report(&[("loss", x)], None);
///         }
///         Ok(())
///     })
///     .unwrap();
/// let parent = tune.parent_id().unwrap();
/// let runs = tracker.spool().list().unwrap();
/// assert_eq!(runs.len(), 3); // the parent and one child per trial
/// assert!(runs.iter().all(|r| r.status == RunStatus::Finished));
/// assert!(runs.iter().filter(|r| r.id != parent).all(|r| r.parent == Some(parent.clone())));
/// ```
#[derive(Clone)]
pub struct TuneTracker {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for TuneTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.lock();
        f.debug_struct("TuneTracker")
            .field("tracker", &s.tracker)
            .field("parent", &s.map.parent)
            .field("trials", &s.map.trials.len())
            .finish()
    }
}

impl TuneTracker {
    /// Records the experiment with `tracker`. With `experiment_dir`, the runs are mapped in
    /// its `tracking.jsonl`, so that resuming the experiment continues the same runs.
    pub fn new(tracker: Tracker, experiment_dir: Option<&Path>) -> TuneTracker {
        let map_path = experiment_dir.map(|d| d.join(RUNS_FILE));
        let mut warn = None;
        let mut map = match &map_path {
            Some(p) if p.is_file() => match std::fs::read(p)
                .map_err(|e| e.to_string())
                .and_then(|b| RunMap::parse(&String::from_utf8_lossy(&b)))
            {
                Ok(m) => m,
                Err(e) => {
                    warn = Some(format!(
                        "{}: {e}; the experiment's runs start afresh",
                        p.display()
                    ));
                    RunMap::default()
                }
            },
            _ => RunMap::default(),
        };
        let root = tracker.spool().root().to_path_buf();
        if map.runs_dir.as_ref().is_some_and(|d| *d != root) {
            tracker.notify(&format!(
                "the experiment's earlier runs were recorded in {}, not {}; new runs are started here",
                map.runs_dir.as_ref().map_or(String::new(), |d| d.display().to_string()),
                root.display()
            ));
            map = RunMap::default();
        }
        map.runs_dir = Some(root);
        if let Some(w) = warn {
            tracker.notify(&w);
        }
        TuneTracker {
            state: Arc::new(Mutex::new(State {
                tracker,
                map_path,
                map,
                parent: None,
                trials: BTreeMap::new(),
                metric: None,
                hold_parent: false,
                trial_runs: true,
                parent_tags: Vec::new(),
                warned: false,
            })),
        }
    }

    /// Leaves the parent run open when the experiment ends, for the caller to log the best
    /// model ([`TuneTracker::log_best_model`]) and end it ([`TuneTracker::finish_parent`]).
    pub fn hold_parent(self) -> Self {
        self.lock().hold_parent = true;
        self
    }

    /// Record the experiment's run only, not a child run per trial (a sweep of
    /// thousands of millisecond trials): the parent still gets the summary, the best
    /// trial's params and metric, and the experiment directory's files.
    pub fn without_trial_runs(self) -> Self {
        self.lock().trial_runs = false;
        self
    }

    /// Tags set on the parent run when the experiment starts.
    pub fn with_parent_tags<K: Into<String>, V: Into<String>>(
        self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.lock()
            .parent_tags
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take tracking down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tracker recording the runs.
    pub fn tracker(&self) -> Tracker {
        self.lock().tracker.clone()
    }

    /// The experiment's parent run, once it started.
    pub fn parent_id(&self) -> Option<RunId> {
        self.lock().map.parent.clone()
    }

    /// The child run of trial `trial`, once it started.
    pub fn trial_run(&self, trial: usize) -> Option<RunId> {
        self.lock().map.trials.get(&trial).cloned()
    }

    /// Logs the best trial's model directory as the parent run's `model` artifact (and
    /// asks for it to be registered as `register_as`). A failure is a warning.
    pub fn log_best_model(&self, model_dir: &Path, register_as: Option<&str>) {
        let mut s = self.lock();
        let s = &mut *s;
        if let Some(run) = s.parent.as_mut() {
            if let Err(e) = run.log_model(model_dir, register_as) {
                s.warn("logging the best model", &e);
            }
        }
    }

    /// Ends the parent run with `status` (when it is still open) and returns its id.
    pub fn finish_parent(&self, status: RunStatus) -> Option<RunId> {
        let mut s = self.lock();
        let run = s.parent.take()?;
        match run.finish(status) {
            Ok(id) => Some(id),
            Err(e) => {
                s.warn("ending the experiment's run", &e);
                None
            }
        }
    }
}

/// The experiment's settings as params: the spec flattened, without its name, tracking
/// settings and nulls.
fn spec_params(spec: &Value) -> Vec<(String, String)> {
    let mut spec = spec.clone();
    if let Some(obj) = spec.as_object_mut() {
        obj.remove("name");
        obj.remove("tracking");
    }
    flatten_params(&spec, "")
        .into_iter()
        .filter(|(_, v)| v != "null")
        .collect()
}

fn trial_params(trial: &TrialRecord) -> Vec<(String, String)> {
    let obj: serde_json::Map<String, Value> = trial
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    flatten_params(&Value::Object(obj), "")
}

/// Logs the params not logged yet; a param whose value changed since (a resumed
/// experiment with other settings, a PBT trial with perturbed hyperparameters) becomes
/// the tag `<prefix>.<key>` instead, since MLflow params cannot change.
fn log_params_keeping_first(
    run: &mut ActiveRun,
    params: Vec<(String, String)>,
    prefix: &str,
) -> Result<(), TrackingError> {
    let (mut fresh, mut changed) = (Vec::new(), Vec::new());
    for (k, v) in params {
        match run.record().params.get(&k) {
            None => fresh.push((k, v)),
            Some(old) if *old == v => {}
            Some(_) => changed.push((format!("{prefix}.{k}"), v)),
        }
    }
    run.log_params(fresh)?;
    run.set_tags(changed)
}

fn run_status(trial: &TrialRecord) -> RunStatus {
    match trial.status {
        TrialStatus::Failed => RunStatus::Failed,
        TrialStatus::Stopped if trial.stop_reason.as_deref() == Some("time budget") => {
            RunStatus::Killed
        }
        _ => RunStatus::Finished,
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl TrialObserver for TuneTracker {
    fn experiment_started(&mut self, name: &str, spec: &Value, resumed: bool) {
        let mut g = self.lock();
        let s = &mut *g;
        s.metric = spec
            .pointer("/tune/metric")
            .and_then(Value::as_str)
            .map(str::to_string);
        let reopened = match s.map.parent.clone() {
            Some(id) => s.reopen(&id),
            None => None,
        };
        let was_reopened = reopened.is_some();
        let run = match reopened {
            Some(r) => r,
            None => match s.tracker.start_run(name, None) {
                Ok(r) => {
                    // Trials of another parent run are not continued under this one.
                    s.map.trials.clear();
                    let line = MapLine {
                        runs_dir: s.map.runs_dir.clone(),
                        parent: Some(r.id().clone()),
                        ..MapLine::default()
                    };
                    s.append_map(&line);
                    r
                }
                Err(e) => {
                    s.warn("starting the experiment's run", &e);
                    return;
                }
            },
        };
        s.map.parent = Some(run.id().clone());
        let mut run = run;
        let mut tags: Vec<(String, String)> = vec![
            ("forecast.command".into(), "tune".into()),
            ("tune.experiment".into(), name.to_string()),
        ];
        if let Some(m) = &s.metric {
            tags.push(("tune.metric".into(), m.clone()));
        }
        if resumed || was_reopened {
            let n = run
                .record()
                .tags
                .get("tune.resumes")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            tags.push(("tune.resumes".into(), (n + 1).to_string()));
        }
        tags.extend(s.parent_tags.iter().cloned());
        let logged = log_params_keeping_first(&mut run, spec_params(spec), "resumed_with")
            .and_then(|()| run.set_tags(tags));
        if let Err(e) = logged {
            s.warn("logging the experiment's settings", &e);
        }
        s.parent = Some(run);
    }

    fn trial_started(&mut self, t: &TrialRecord) {
        let mut g = self.lock();
        let s = &mut *g;
        if !s.trial_runs {
            return;
        }
        let mut tags = vec![("tune.starts".to_string(), t.starts.to_string())];
        let result = if let Some(run) = s.trials.get_mut(&t.id) {
            // A retry after a failure, or a PBT restart with new hyperparameters.
            log_params_keeping_first(run, trial_params(t), "tune.current")
                .and_then(|()| run.set_tags(tags))
        } else {
            let known = s.map.trials.get(&t.id).cloned();
            tags.push(("tune.trial_id".into(), t.id.to_string()));
            tags.push(("tune.status".into(), "running".into()));
            let (run, r) = match known.clone().and_then(|id| s.reopen(&id)) {
                Some(mut run) => {
                    // Restarted after a crash: the same run goes on from the checkpoint.
                    tags.push((
                        "tune.restarted_from_step".into(),
                        t.iterations().to_string(),
                    ));
                    let r = log_params_keeping_first(&mut run, trial_params(t), "tune.current")
                        .and_then(|()| run.set_tags(tags));
                    (run, r)
                }
                None => {
                    let Some(parent) = s.map.parent.clone().filter(|_| s.parent.is_some()) else {
                        return;
                    };
                    let name = format!("trial-{}", t.id);
                    let started = s
                        .tracker
                        .start_run_with(&name, Some(&parent), trial_params(t), tags)
                        .map(|run| (run, Ok(())))
                        .or_else(|e| {
                            // A param or tag MLflow would refuse: the run without them.
                            s.tracker
                                .start_run(&name, Some(&parent))
                                .map(|run| (run, Err(e)))
                        });
                    match started {
                        Ok(started) => started,
                        Err(e) => {
                            s.warn(&format!("starting the run of trial {}", t.id), &e);
                            return;
                        }
                    }
                }
            };
            if known.as_ref() != Some(run.id()) {
                s.map.trials.insert(t.id, run.id().clone());
                let line = MapLine {
                    trial: Some(t.id),
                    run: Some(run.id().clone()),
                    ..MapLine::default()
                };
                s.append_map(&line);
            }
            s.trials.insert(t.id, run);
            r
        };
        if let Err(e) = result {
            s.warn(&format!("recording the start of trial {}", t.id), &e);
        }
    }

    fn trial_result(&mut self, t: &TrialRecord, r: &ResultRow) {
        let mut g = self.lock();
        let s = &mut *g;
        let Some(run) = s.trials.get_mut(&t.id) else {
            return;
        };
        let metrics: Vec<(String, f64)> = r.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let step = i64::try_from(r.iteration).unwrap_or(i64::MAX);
        if let Err(e) = run.log_metrics(&metrics, step) {
            s.warn(&format!("logging a result of trial {}", t.id), &e);
        }
    }

    fn trial_finished(&mut self, t: &TrialRecord) {
        self.end_trial(t, None);
    }

    fn trial_failed(&mut self, t: &TrialRecord, error: &str) {
        self.end_trial(t, Some(error));
    }

    fn experiment_finished(&mut self, summary: &Summary) {
        let mut g = self.lock();
        let s = &mut *g;
        let metric = s.metric.clone().unwrap_or_else(|| "metric".into());
        let best_run = summary
            .best
            .as_ref()
            .and_then(|b| s.map.trials.get(&b.trial).cloned());
        let Some(run) = s.parent.as_mut() else {
            return;
        };
        let count = |n: usize| n as f64;
        let mut metrics = vec![
            ("trials".to_string(), count(summary.trials)),
            ("completed".to_string(), count(summary.completed)),
            ("stopped_early".to_string(), count(summary.stopped_early)),
            ("failed".to_string(), count(summary.failed)),
        ];
        let mut tags: Vec<(String, String)> = Vec::new();
        if let Some(b) = &summary.best {
            metrics.push((format!("best.{metric}"), b.metric));
            tags.push(("tune.best_trial".into(), b.trial.to_string()));
            if let Some(id) = best_run {
                tags.push(("tune.best_run".into(), id.to_string()));
            }
            let obj: serde_json::Map<String, Value> = b
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            tags.extend(flatten_params(&Value::Object(obj), "best"));
        }
        let logged = run
            .log_metrics(&metrics, 0)
            .and_then(|()| run.set_tags(tags));
        if let Err(e) = logged {
            s.warn("logging the experiment's summary", &e);
        }
        if !s.hold_parent {
            if let Some(run) = s.parent.take() {
                if let Err(e) = run.finish(RunStatus::Finished) {
                    s.warn("ending the experiment's run", &e);
                }
            }
        }
    }
}

impl TuneTracker {
    fn end_trial(&self, t: &TrialRecord, error: Option<&str>) {
        let mut g = self.lock();
        let s = &mut *g;
        let Some(run) = s.trials.remove(&t.id) else {
            return;
        };
        let mut tags: Vec<(String, String)> = vec![
            ("tune.status".into(), t.status.name().into()),
            ("tune.iterations".into(), t.iterations().to_string()),
        ];
        if let Some(m) = t.metric {
            tags.push(("tune.score".into(), m.to_string()));
        }
        if let Some(r) = &t.stop_reason {
            tags.push(("tune.stop_reason".into(), r.clone()));
        }
        if let Some(e) = error.or(t.error.as_deref()) {
            tags.push(("tune.error".into(), truncate(e, MAX_ERROR_TAG).to_string()));
        }
        let status = if error.is_some() {
            RunStatus::Failed
        } else {
            run_status(t)
        };
        let result = run.finish_with_tags(tags, status);
        if let Err(e) = result {
            s.warn(&format!("ending the run of trial {}", t.id), &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::{Experiment, SearchKind, SearchSpace, TuneConfig};
    use serde_json::json;

    fn grid_experiment(tune: &TuneTracker, config: TuneConfig) -> Experiment {
        let space = SearchSpace::from_json(&json!({"x": {"grid": [1, 2, 3]}})).unwrap();
        Experiment::new("t", space, config)
            .with_spec(
                json!({"name": "t", "tune": {"metric": "loss", "samples": 1, "seed": null},
                              "space": {"x": {"grid": [1, 2, 3]}}}),
            )
            .observe(Box::new(tune.clone()))
    }

    /// A tracker on a new spool (no server), a tune tracker keeping its run map in a new
    /// experiment directory, and a new store there; the two directories are removed when
    /// their guards (the first two) drop.
    fn fresh() -> (
        tempfile::TempDir,
        tempfile::TempDir,
        Tracker,
        TuneTracker,
        Store,
    ) {
        let runs = tempfile::tempdir().unwrap();
        let exp = tempfile::tempdir().unwrap();
        let tracker = Tracker::new(runs.path(), None, "e").unwrap();
        let tune = TuneTracker::new(tracker.clone(), Some(exp.path()));
        let store = Store::create(exp.path(), "t", Value::Null).unwrap();
        (runs, exp, tracker, tune, store)
    }

    fn config() -> TuneConfig {
        let mut c = TuneConfig::new("loss");
        c.search = SearchKind::Grid;
        c
    }

    #[test]
    fn parent_child_params_steps_and_statuses() {
        let (_runs, exp, tracker, tune, store) = fresh();
        let mut c = config();
        c.max_failures = 0;
        let (summary, _) = grid_experiment(&tune, c)
            .run(store, |ctx| {
                let x = ctx.params()["x"].as_i64().unwrap();
                if x == 3 {
                    return Err("diverged".into());
                }
                for e in 1..=4 {
                    ctx.report(&[("loss", (x * 10 + e) as f64)], None);
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(summary.failed, 1);
        let spool = tracker.spool();
        let parent = tune.parent_id().unwrap();
        let p = spool.load_record(&parent).unwrap();
        assert_eq!(p.status, RunStatus::Finished);
        assert_eq!(p.params["tune.metric"], "loss");
        assert_eq!(p.params["space.x.grid"], "[1,2,3]");
        assert!(!p.params.contains_key("tune.seed"), "nulls are not params");
        assert_eq!(p.tags["tune.best_trial"], "0");
        assert_eq!(p.tags["best.x"], "1");
        let pm = spool.read_metrics(&parent, 0).unwrap().points;
        assert!(pm.iter().any(|m| m.key == "best.loss" && m.value == 11.0));
        assert!(pm.iter().any(|m| m.key == "failed" && m.value == 1.0));
        for trial in 0..3 {
            let id = tune.trial_run(trial).unwrap();
            let r = spool.load_record(&id).unwrap();
            assert_eq!(r.parent.as_ref(), Some(&parent));
            assert_eq!(r.name, format!("trial-{trial}"));
            assert_eq!(r.params["x"], (trial + 1).to_string());
            let pts = spool.read_metrics(&id, 0).unwrap().points;
            if trial == 2 {
                assert_eq!(r.status, RunStatus::Failed);
                assert_eq!(r.tags["tune.error"], "diverged");
                assert!(pts.is_empty());
            } else {
                assert_eq!(r.status, RunStatus::Finished);
                let steps: Vec<i64> = pts.iter().map(|m| m.step).collect();
                assert_eq!(steps, vec![1, 2, 3, 4]);
                assert_eq!(pts[0].value, ((trial + 1) * 10 + 1) as f64);
            }
        }
        let text = std::fs::read_to_string(exp.path().join(RUNS_FILE)).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        let map = RunMap::parse(&format!("{text}{{\"trial\": 9, \"ru")).unwrap();
        assert_eq!(map.parent, Some(parent));
        assert_eq!(map.trials.len(), 3);
    }

    #[test]
    fn early_stopped_is_finished_and_time_budget_is_killed() {
        let mut t = TrialRecord::new(0, Default::default());
        t.status = TrialStatus::Stopped;
        t.stop_reason = Some("scheduler".into());
        assert_eq!(run_status(&t), RunStatus::Finished);
        t.stop_reason = Some("time budget".into());
        assert_eq!(run_status(&t), RunStatus::Killed);
        t.status = TrialStatus::Failed;
        assert_eq!(run_status(&t), RunStatus::Failed);
        assert_eq!(truncate("héllo", 2), "h");
    }

    #[test]
    fn resume_reopens_the_parent_and_the_interrupted_trial_run_and_creates_no_duplicates() {
        // First process: trials 0 and 1 run; then trial 1 is put back to `running` in the
        // store, as a kill -9 in the middle of it would leave it.
        let (_runs, exp, tracker, tune, store) = fresh();
        let mut c = config();
        c.max_trials = Some(2);
        let (_, store) = grid_experiment(&tune, c.clone())
            .run(store, |ctx| {
                for e in 1..=3 {
                    ctx.report(&[("loss", e as f64)], None);
                }
                Ok(())
            })
            .unwrap();
        let parent = tune.parent_id().unwrap();
        let run1 = tune.trial_run(1).unwrap();
        // Pretend trial 1 never finished: back to running, as a kill -9 leaves it.
        let mut rec = store.trial(1).unwrap().clone();
        rec.status = TrialStatus::Running;
        rec.history.truncate(1);
        let mut store = store;
        store.put(rec).unwrap();
        store.set_finished(false).unwrap();
        drop(store);
        drop(tune);

        let tune = TuneTracker::new(tracker.clone(), Some(exp.path()));
        let store = Store::open(exp.path()).unwrap();
        c.max_trials = Some(3);
        grid_experiment(&tune, c)
            .run(store, |ctx| {
                for e in ctx.iteration() + 1..=3 {
                    ctx.report(&[("loss", e as f64)], None);
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(tune.parent_id(), Some(parent.clone()));
        assert_eq!(tune.trial_run(1), Some(run1.clone()));
        let all = tracker.spool().list().unwrap();
        assert_eq!(all.len(), 4, "one parent and one run per trial (3 trials)");
        let p = tracker.spool().load_record(&parent).unwrap();
        assert_eq!(p.status, RunStatus::Finished);
        assert_eq!(p.tags["tune.resumes"], "1");
        let r1 = tracker.spool().load_record(&run1).unwrap();
        assert_eq!(r1.status, RunStatus::Finished);
        assert_eq!(r1.tags["tune.restarted_from_step"], "0");
        let run2 = tune.trial_run(2).unwrap();
        assert_eq!(
            tracker.spool().load_record(&run2).unwrap().parent,
            Some(parent)
        );
    }
}
