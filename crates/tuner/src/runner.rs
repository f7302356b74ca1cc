//! The runner: trials in parallel on a rayon pool, results through the scheduler,
//! every event into the store and the observers.

mod drive;
#[cfg(feature = "postgres")]
mod worker;

use crate::error::{Error, Result, TrialError};
use crate::observer::TrialObserver;
use crate::scheduler::{Action, Scheduler, SchedulerSpec};
use crate::search::{SearchKind, Searcher};
use crate::space::{Params, SearchSpace};
use crate::store::{ExploitStep, ResultRow, Store, TrialRecord, TrialStatus};
pub use crate::summary::{Best, Summary};
use drive::{dispatch, replay, wrap_up, Pools};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
#[cfg(feature = "postgres")]
pub use worker::SharedStudy;

/// Whether lower or higher metric values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lower is better.
    #[default]
    Min,
    /// Higher is better.
    Max,
}

/// Which of a trial's results stands for the trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Its best result (a model that keeps its best weights).
    #[default]
    Best,
    /// Its last result.
    Last,
}

fn default_samples() -> usize {
    1
}
fn default_concurrency() -> usize {
    1
}

/// How to run an experiment (the `[tune]` table of a spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneConfig {
    /// The metric to optimise, as reported by the objective.
    pub metric: String,
    /// Minimise or maximise it.
    #[serde(default)]
    pub mode: Mode,
    /// Which result stands for a trial.
    #[serde(default)]
    pub scope: Scope,
    /// Samples (random / TPE: trials; grid: repeats of the grid).
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Trials running at the same time.
    #[serde(default = "default_concurrency")]
    pub max_concurrent: usize,
    /// Threads each trial may use (its own rayon pool); default: the cores divided by
    /// `max_concurrent`, at least 1.
    #[serde(default)]
    pub threads_per_trial: Option<usize>,
    /// Retries of a trial that errors or panics (from its last checkpoint).
    #[serde(default)]
    pub max_failures: usize,
    /// Stop starting trials, and stop running ones, after this many seconds.
    #[serde(default)]
    pub time_budget_s: Option<f64>,
    /// Create at most this many trials.
    #[serde(default)]
    pub max_trials: Option<usize>,
    /// Search algorithm.
    #[serde(default)]
    pub search: SearchKind,
    /// Scheduler (a name, or a table with `kind` and its settings).
    #[serde(default, deserialize_with = "scheduler_from_name_or_table")]
    pub scheduler: SchedulerSpec,
    /// Seed of the search and the schedulers.
    #[serde(default)]
    pub seed: u64,
    /// Experiment directory.
    #[serde(default)]
    pub out: Option<std::path::PathBuf>,
}

fn scheduler_from_name_or_table<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<SchedulerSpec, D::Error> {
    use serde::de::Error as _;
    let v = serde_json::Value::deserialize(d)?;
    let v = match v {
        serde_json::Value::String(s) => serde_json::json!({ "kind": s }),
        other => other,
    };
    SchedulerSpec::deserialize(v).map_err(D::Error::custom)
}

impl TuneConfig {
    /// Settings with defaults for everything but the metric.
    pub fn new(metric: &str) -> Self {
        TuneConfig {
            metric: metric.to_string(),
            mode: Mode::Min,
            scope: Scope::Best,
            samples: 1,
            max_concurrent: 1,
            threads_per_trial: None,
            max_failures: 0,
            time_budget_s: None,
            max_trials: None,
            search: SearchKind::Random,
            scheduler: SchedulerSpec::Fifo,
            seed: 0,
            out: None,
        }
    }

    /// The experiment directory: `out`, default `experiments/runs/<name>`.
    pub fn out_dir(&self, name: &str) -> std::path::PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from("experiments/runs").join(name))
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.metric.is_empty() {
            return Err(Error::config("tune.metric", "must name a metric"));
        }
        if self.max_concurrent == 0 {
            return Err(Error::config("tune.max_concurrent", "must be at least 1"));
        }
        if self.threads_per_trial == Some(0) {
            return Err(Error::config(
                "tune.threads_per_trial",
                "must be at least 1",
            ));
        }
        if self.time_budget_s.is_some_and(|t| t.is_nan() || t <= 0.0) {
            return Err(Error::config("tune.time_budget_s", "must be positive"));
        }
        Ok(())
    }

    /// A trial's metric after a new result `v`: its best or its last, per `scope`.
    pub(crate) fn scoped(&self, old: Option<f64>, v: f64) -> Option<f64> {
        match (self.scope, old) {
            (Scope::Best, Some(old)) if self.loss(old) <= self.loss(v) => Some(old),
            _ => Some(v),
        }
    }

    pub(crate) fn loss(&self, value: f64) -> f64 {
        match self.mode {
            Mode::Min => value,
            Mode::Max => -value,
        }
    }
}

/// The summary of the trials in `store`.
pub fn summarize(store: &Store, config: &TuneConfig, seconds: f64) -> Summary {
    let trials = &store.state().trials;
    let count = |s: TrialStatus| trials.iter().filter(|t| t.status == s).count();
    let best = trials
        .iter()
        .filter(|t| t.status != TrialStatus::Failed)
        .filter_map(|t| t.metric.map(|m| (t, m)))
        .min_by(|a, b| {
            config
                .loss(a.1)
                .total_cmp(&config.loss(b.1))
                .then(a.0.id.cmp(&b.0.id))
        })
        .map(|(t, m)| Best {
            trial: t.id,
            params: t.params.clone(),
            metric: m,
        });
    Summary {
        best,
        trials: trials.len(),
        completed: count(TrialStatus::Completed),
        stopped_early: count(TrialStatus::Stopped),
        failed: count(TrialStatus::Failed),
        seconds,
    }
}

/// The objective's answer from [`TrialContext::report`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Return now (stopped early, or to be restarted with other hyperparameters).
    Stop,
}

struct Inner {
    store: Store,
    scheduler: Box<dyn Scheduler>,
    searcher: Box<dyn Searcher>,
    observers: Vec<Box<dyn TrialObserver>>,
    error: Option<Error>,
    /// Trials the scheduler stopped while their objective was still returning from a
    /// pause: recorded as stopped once it has returned.
    stop_when_paused: HashSet<usize>,
}

struct Shared {
    inner: Mutex<Inner>,
    config: TuneConfig,
    started: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking observer must not take the experiment down with it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn over_budget(&self) -> bool {
        self.config
            .time_budget_s
            .is_some_and(|b| self.started.elapsed().as_secs_f64() >= b)
    }
}

impl Inner {
    fn put(&mut self, rec: TrialRecord) {
        if let Err(e) = self.store.put(rec) {
            self.error.get_or_insert(e);
        }
    }

    /// Record the paused trials the scheduler has stopped.
    fn drain_stops(&mut self, config: &TuneConfig) {
        // `finish` tells the scheduler, which may stop more trials: drained by the
        // nested call.
        for id in self.scheduler.take_stopped() {
            let Some(mut rec) = self.store.trial(id).cloned() else {
                continue;
            };
            match rec.status {
                TrialStatus::Paused => {
                    rec.status = TrialStatus::Stopped;
                    rec.stop_reason = Some("scheduler".into());
                    finish(self, rec, config);
                }
                s if !s.is_finished() => {
                    self.stop_when_paused.insert(id);
                }
                _ => {}
            }
        }
    }
}

/// What an objective sees of its trial.
pub struct TrialContext<'a> {
    id: usize,
    params: Params,
    checkpoint: Option<Vec<u8>>,
    iteration: usize,
    threads: usize,
    sink: &'a dyn TrialSink,
    started: Instant,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Running,
    Stopped,
    Restart,
    Paused,
    /// The trial is no longer this process's to run (a shared study handed it to
    /// another worker, or lost its database): nothing more is recorded for it here.
    Abandoned,
}

/// Where a running trial's results and checkpoints go: the in-process runner's store
/// and scheduler, or a shared study's database.
pub(crate) trait TrialSink: Sync {
    /// Record `row` of trial `id` (with a checkpoint of the state after it) that took
    /// `seconds` since the last report; the objective's answer and the trial's fate.
    fn report(
        &self,
        id: usize,
        row: ResultRow,
        checkpoint: Option<&[u8]>,
        seconds: f64,
    ) -> (Control, Outcome);
    /// Save trial `id`'s checkpoint after `iteration` iterations.
    fn save_checkpoint(&self, id: usize, iteration: usize, checkpoint: &[u8]);
}

impl TrialContext<'_> {
    /// The trial's id.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The hyperparameters to use.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The checkpoint to continue from (after a crash, a retry, or a PBT exploit).
    pub fn checkpoint(&self) -> Option<&[u8]> {
        self.checkpoint.as_deref()
    }

    /// Iterations already done (restored from the checkpoint); the next report is
    /// iteration `iteration() + 1`.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// Threads this trial may use; its code already runs inside a rayon pool of
    /// this size.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Save a checkpoint of the state after the last reported iteration (for objectives
    /// that can only write it after hearing the answer to [`report`](Self::report)).
    /// Ignored before the first report and after a PBT exploit (the trial then
    /// restarts from the donor's checkpoint).
    pub fn save_checkpoint(&mut self, checkpoint: &[u8]) {
        if self.iteration == 0 || matches!(self.outcome, Outcome::Restart | Outcome::Abandoned) {
            return;
        }
        self.sink
            .save_checkpoint(self.id, self.iteration, checkpoint);
    }

    /// Report one iteration's metrics, with an optional checkpoint of the state after
    /// it. On [`Control::Stop`] the objective should return `Ok(())`.
    pub fn report(&mut self, metrics: &[(&str, f64)], checkpoint: Option<&[u8]>) -> Control {
        if self.outcome == Outcome::Abandoned {
            return Control::Stop;
        }
        self.iteration += 1;
        let row = ResultRow {
            iteration: self.iteration,
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        let seconds = self.started.elapsed().as_secs_f64();
        self.started = Instant::now();
        let (control, outcome) = self.sink.report(self.id, row, checkpoint, seconds);
        if outcome != Outcome::Running {
            self.outcome = outcome;
        }
        control
    }
}

impl TrialSink for Shared {
    fn save_checkpoint(&self, id: usize, iteration: usize, checkpoint: &[u8]) {
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(mut rec) = inner.store.trial(id).cloned() else {
            return;
        };
        if rec
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.iteration > iteration)
        {
            return;
        }
        match inner.store.save_checkpoint(id, iteration, checkpoint) {
            Ok(r) => {
                rec.checkpoint = Some(r);
                inner.put(rec);
            }
            Err(e) => {
                inner.error.get_or_insert(e);
            }
        }
    }

    fn report(
        &self,
        id: usize,
        row: ResultRow,
        checkpoint: Option<&[u8]>,
        seconds: f64,
    ) -> (Control, Outcome) {
        let shared = self;
        let config = &shared.config;
        let iteration = row.iteration;
        let mut g = shared.lock();
        let inner = &mut *g;
        let Some(mut rec) = inner.store.trial(id).cloned() else {
            return (Control::Stop, Outcome::Running);
        };
        if let Some(bytes) = checkpoint {
            match inner.store.save_checkpoint(id, iteration, bytes) {
                Ok(r) => rec.checkpoint = Some(r),
                Err(e) => {
                    inner.error.get_or_insert(e);
                }
            }
        }
        let value = row
            .metrics
            .get(&config.metric)
            .copied()
            .filter(|v| !v.is_nan());
        if let Some(v) = value {
            rec.metric = config.scoped(rec.metric, v);
        }
        rec.seconds += seconds;
        rec.history.push(row.clone());
        let action = match value {
            Some(v) => inner.scheduler.on_result(id, iteration, config.loss(v)),
            None => Action::Continue,
        };
        let (control, outcome) = match action {
            _ if shared.over_budget() => {
                rec.stop_reason = Some("time budget".into());
                (Control::Stop, Outcome::Stopped)
            }
            Action::Continue => (Control::Continue, Outcome::Running),
            Action::Pause => (Control::Stop, Outcome::Paused),
            Action::Stop => {
                rec.stop_reason = Some("scheduler".into());
                (Control::Stop, Outcome::Stopped)
            }
            Action::Exploit { donor, params } => {
                let donor_ckpt = inner.store.trial(donor).and_then(|d| d.checkpoint.clone());
                rec.checkpoint = None;
                if let Some(r) = donor_ckpt {
                    match inner
                        .store
                        .load_checkpoint(&r)
                        .and_then(|b| inner.store.save_checkpoint(id, r.iteration, &b))
                    {
                        Ok(mine) => rec.checkpoint = Some(mine),
                        Err(e) => {
                            inner.error.get_or_insert(e);
                        }
                    }
                }
                rec.exploits.push(ExploitStep {
                    iteration,
                    donor,
                    previous: rec.params.clone(),
                });
                rec.params = params;
                inner.scheduler.on_trial_add(id, &rec.params);
                (Control::Stop, Outcome::Restart)
            }
        };
        inner.put(rec.clone());
        for o in inner.observers.iter_mut() {
            o.trial_result(&rec, &row);
        }
        inner.drain_stops(config);
        (control, outcome)
    }
}

/// An experiment: a search space, settings, observers.
pub struct Experiment {
    name: String,
    space: SearchSpace,
    config: TuneConfig,
    spec: serde_json::Value,
    observers: Vec<Box<dyn TrialObserver>>,
}

impl Experiment {
    /// An experiment over `space` with `config`.
    pub fn new(name: &str, space: SearchSpace, config: TuneConfig) -> Self {
        Experiment {
            name: name.to_string(),
            space,
            config,
            spec: serde_json::Value::Null,
            observers: Vec::new(),
        }
    }

    /// Settings recorded with the experiment (shown to observers).
    pub fn with_spec(mut self, spec: serde_json::Value) -> Self {
        self.spec = spec;
        self
    }

    /// Add an observer.
    pub fn observe(mut self, observer: Box<dyn TrialObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// The settings.
    pub fn config(&self) -> &TuneConfig {
        &self.config
    }

    /// Run (or resume: `store` may hold trials) until the searcher, the trial budget or
    /// the time budget is exhausted. Finished trials are never run again; trials
    /// that were running restart from their last checkpoint. A trial that errors or
    /// panics is retried up to `max_failures` times, then recorded as failed; the
    /// experiment goes on. Returns the summary and the store.
    pub fn run<F>(self, store: Store, objective: F) -> Result<(Summary, Store)>
    where
        F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
    {
        let config = self.config.clone();
        config.check()?;
        let started = Instant::now();
        let mut searcher = config
            .search
            .build(&self.space, config.samples, config.seed)?;
        let mut scheduler = config.scheduler.build(&self.space, config.seed)?;
        let mut store = store;
        let resumed = !store.state().trials.is_empty();
        let queue = replay(&mut store, &config, &mut *searcher, &mut *scheduler)?;
        let mut observers = self.observers;
        for o in observers.iter_mut() {
            o.experiment_started(&self.name, &self.spec, resumed);
        }
        let pools = Pools::new(&config)?;
        let shared = Shared {
            inner: Mutex::new(Inner {
                store,
                scheduler,
                searcher,
                observers,
                error: None,
                stop_when_paused: HashSet::new(),
            }),
            config: config.clone(),
            started,
        };
        dispatch(&shared, pools, queue, &objective);
        wrap_up(shared)
    }
}

/// The `stop_reason` of a trial that completed at the scheduler's `max_t` (its
/// configured epoch count may be larger; refitting it uses the iterations it ran).
pub const MAX_T_REASON: &str = "max_t";

fn finish(inner: &mut Inner, mut rec: TrialRecord, config: &TuneConfig) {
    // A trial the scheduler stopped at its cap ran to its end (Ray Tune likewise reports
    // such a trial as terminated, not stopped early).
    if rec.status == TrialStatus::Stopped
        && rec.stop_reason.as_deref() != Some("time budget")
        && inner
            .scheduler
            .max_iterations()
            .is_some_and(|m| rec.iterations() >= m)
    {
        rec.status = TrialStatus::Completed;
        rec.stop_reason = Some(MAX_T_REASON.into());
    }
    inner.stop_when_paused.remove(&rec.id);
    inner.scheduler.on_trial_complete(rec.id);
    inner
        .searcher
        .observe(rec.id, &rec.params, rec.metric.map(|m| config.loss(m)));
    inner.put(rec.clone());
    for o in inner.observers.iter_mut() {
        o.trial_finished(&rec);
    }
    inner.drain_stops(config);
}
