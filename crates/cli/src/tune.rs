//! `forecast tune`

use crate::args::TrackingArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use forecast_core::artifact;
use forecast_core::fsio::write_file;
use indicatif::ProgressBar;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;
use tuner::forecast::{BestModel, ExperimentSpec, ForecastObjective};
use tuner::strategy::{StrategyObjective, StrategySweepSpec};
use tuner::tracking::{default_runs_dir, Destination, RunStatus, Tracker, TuneTracker};
use tuner::{Experiment, JsonlObserver, Store, Summary, TrialObserver, TrialRecord, TrialStatus};

/// Hyperparameter search over a model's config keys.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast tune --spec experiments/airpassengers-baselines-grid.toml --json\n  \
    forecast tune --spec experiments/msft-lstm-asha.toml --samples 40 --max-concurrent 2\n  \
    forecast tune --spec experiments/msft-lstm-asha.toml --resume\n  \
    forecast tune --spec experiments/wineind-snaive-tpe.toml --tracking-uri http://127.0.0.1:5000\n  \
    forecast tune --spec experiments/msft-lstm-small-asha.toml --storage postgresql://postgres@db:5432/studies --worker\n\n\
    Every run is recorded in the local spool (`forecast runs list`): a parent run for the\n\
    experiment and a child run per trial, shipped to MLflow when a tracking URI is given.\n\n\
    With --storage, the study lives in PostgreSQL and any number of processes, on any\n\
    hosts, join it (by the spec's name) and share its trials; see docs/DISTRIBUTED.md.")]
pub struct TuneArgs {
    /// Experiment spec (TOML): data, model, search space, metric, search, scheduler.
    #[arg(long)]
    pub spec: PathBuf,
    /// Samples (overrides tune.samples; for grid search: repeats of the grid).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Trials running at the same time (overrides tune.max_concurrent).
    #[arg(long)]
    pub max_concurrent: Option<usize>,
    /// Experiment directory (overrides tune.out).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted experiment: finished trials are not run again.
    #[arg(long, conflicts_with = "storage")]
    pub resume: bool,
    /// Keep the study in PostgreSQL (postgresql://USER@HOST:PORT/DB) instead of the
    /// experiment directory: every process started with the same spec joins the study
    /// and runs its trials until all are finished.
    #[arg(long, value_name = "URL")]
    pub storage: Option<String>,
    /// With --storage: only run trials; leave the experiment directory (trials.csv,
    /// best.json, the best model) to a process started without --worker.
    #[arg(long, requires = "storage")]
    pub worker: bool,
    /// With --storage: seconds between the heartbeats of a running trial.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub heartbeat_interval: f64,
    /// With --storage: a running trial whose heartbeat is older than this many seconds
    /// is taken over by another process, from its last checkpoint.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub heartbeat_grace: f64,
    /// With --storage: seconds a process retries a database it cannot reach before it
    /// stops with an error.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub storage_timeout: f64,
    /// With --storage: where trials' checkpoints are written, a directory every process
    /// of the study sees [default: the experiment directory's checkpoints/].
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub tracking: TrackingArgs,
    /// Register the best trial's model in the MLflow Model Registry under this name.
    #[arg(long, value_name = "NAME")]
    pub register_model: Option<String>,
}

/// How long `tune` waits at the end for its runs to ship before leaving them to
/// `forecast runs sync`.
const FINAL_FLUSH: Duration = Duration::from_secs(20);

// Parts of the spec that must not change between a run and its resume.
fn identity(spec: &Value) -> Value {
    let tune = spec.get("tune");
    json!({
        "data": spec.get("data"),
        "model": spec.get("model"),
        "strategy": spec.get("strategy"),
        "space": spec.get("space"),
        "evaluation": spec.get("evaluation"),
        "metric": tune.and_then(|t| t.get("metric")),
        "mode": tune.and_then(|t| t.get("mode")),
        "search": tune.and_then(|t| t.get("search")),
        "scheduler": tune.and_then(|t| t.get("scheduler")),
        "seed": tune.and_then(|t| t.get("seed")),
    })
}

pub fn run(a: TuneArgs) -> Result<()> {
    let text =
        std::fs::read_to_string(&a.spec).with_context(|| format!("--spec {}", a.spec.display()))?;
    if StrategySweepSpec::is_sweep(&text) {
        return sweep(a);
    }
    let mut spec = ExperimentSpec::from_file(&a.spec)?;
    overrides(&a, &mut spec.tune);
    let out = spec.out_dir();
    let space = spec.space()?;
    let objective = ForecastObjective::new(&spec)?;
    let spec_json = serde_json::to_value(&spec)?;
    let setup = Setup {
        name: &spec.name,
        tune: &spec.tune,
        tracking: spec.tracking.as_ref(),
        out: &out,
    };
    let (summary, store, tracking) = drive(&a, &setup, space, spec_json, |ctx| objective.run(ctx))?;

    if a.worker {
        // The study's output directory is written by a process without --worker.
        return finish(&a, &setup, &summary, [("model", Value::Null)]);
    }
    if let Some(best) = &summary.best {
        let rec = store
            .trial(best.trial)
            .context("best trial missing from the store")?;
        let capped = rec.status == TrialStatus::Stopped
            || rec.stop_reason.as_deref() == Some(tuner::runner::MAX_T_REASON);
        let iterations = capped.then(|| rec.iterations());
        let fitted = objective
            .fit_best(&best.params, iterations)
            .map_err(|e| anyhow::anyhow!("refitting the best trial {}: {e}", best.trial))?;
        match fitted {
            BestModel::One(f) => artifact::save(&f, &out.join("best_model"))?,
            BestModel::Panel(p) => artifact::save_panel(&p, &out.join("best_model"))?,
        }
        if let Some(t) = &tracking {
            t.log_best_model(&out.join("best_model"), a.register_model.as_deref());
        }
    }
    finish_tracking(tracking.as_ref(), RunStatus::Finished);
    let model = json!(summary.best.as_ref().map(|_| "best_model"));
    finish(&a, &setup, &summary, [("model", model)])?;
    Ok(())
}

/// A strategy sweep: trials on the in-sample bars, then the best parameters on the
/// held-out bars, side by side.
fn sweep(a: TuneArgs) -> Result<()> {
    if a.register_model.is_some() {
        bail!("--register-model: a strategy sweep fits no model to register");
    }
    let mut spec = StrategySweepSpec::from_file(&a.spec)?;
    overrides(&a, &mut spec.tune);
    let out = spec.out_dir();
    let space = spec.space()?;
    let objective = StrategyObjective::new(&spec)?;
    let spec_json = serde_json::to_value(&spec)?;
    let setup = Setup {
        name: &spec.name,
        tune: &spec.tune,
        tracking: spec.tracking.as_ref(),
        out: &out,
    };
    let (summary, _store, tracking) =
        drive(&a, &setup, space, spec_json, |ctx| objective.run(ctx))?;
    let holdout = match &summary.best {
        Some(_) if a.worker => None,
        Some(best) => match objective.holdout(&best.params) {
            Ok(h) => Some(h),
            Err(e) => {
                finish_tracking(tracking.as_ref(), RunStatus::Failed);
                return Err(anyhow::anyhow!("the best trial {}: {e}", best.trial));
            }
        },
        None => None,
    };
    finish_tracking(tracking.as_ref(), RunStatus::Finished);
    let in_sample = json!(holdout.as_ref().map(|h| &h.in_sample));
    let held_out = json!(holdout.as_ref().map(|h| &h.held_out));
    finish(
        &a,
        &setup,
        &summary,
        [
            ("holdout", json!(spec.strategy.holdout)),
            ("in_sample", in_sample),
            ("held_out", held_out),
        ],
    )?;
    if let (false, Some(h)) = (a.json, &holdout) {
        print!(
            "{}",
            crate::strategy::side_by_side(&h.in_sample, &h.held_out)
        );
    }
    Ok(())
}

/// Write `best.json` (name, metric, mode, summary and `extra`) and print the result:
/// JSON (with `extra` but `holdout` and `model`), or the human summary.
fn finish<const N: usize>(
    a: &TuneArgs,
    setup: &Setup<'_>,
    summary: &Summary,
    extra: [(&str, Value); N],
) -> Result<()> {
    let mut best_file = json!({
        "name": setup.name,
        "metric": setup.tune.metric,
        "mode": setup.tune.mode,
        "summary": summary,
    });
    let mut result = json!({
        "best": summary.best.as_ref().map(|b| json!({"trial": b.trial, "params": b.params, "metric": b.metric})),
        "trials": summary.trials,
        "stopped_early": summary.stopped_early,
    });
    for (k, v) in extra {
        if !["holdout", "model"].contains(&k) {
            result[k] = v.clone();
        }
        best_file[k] = v;
    }
    if !a.worker {
        write_file(
            &setup.out.join("best.json"),
            serde_json::to_string_pretty(&best_file)?.as_bytes(),
        )?;
    }
    if a.json {
        println!("{result}");
    } else {
        print_human(summary, &setup.tune.metric, setup.out);
    }
    Ok(())
}

/// The command line's overrides of the `[tune]` table.
fn overrides(a: &TuneArgs, tune: &mut tuner::TuneConfig) {
    if let Some(n) = a.samples {
        tune.samples = n;
    }
    if let Some(k) = a.max_concurrent {
        tune.max_concurrent = k;
    }
    if let Some(out) = &a.out {
        tune.out = Some(out.clone());
    }
}

/// What every experiment kind shares: its name, `[tune]`, `[tracking]` and folder.
struct Setup<'a> {
    name: &'a str,
    tune: &'a tuner::TuneConfig,
    tracking: Option<&'a Value>,
    out: &'a std::path::Path,
}

/// Open (or resume) the experiment store, start tracking, and run the trials.
fn drive<F>(
    a: &TuneArgs,
    setup: &Setup<'_>,
    space: tuner::SearchSpace,
    spec_json: Value,
    objective: F,
) -> Result<(Summary, Store, Option<TuneTracker>)>
where
    F: Fn(&mut tuner::TrialContext<'_>) -> std::result::Result<(), tuner::TrialError> + Sync,
{
    let out = setup.out;
    if let Some(url) = &a.storage {
        return drive_shared(a, setup, url, space, spec_json, objective);
    }
    let store = if a.resume {
        if !out.join("state.json").is_file() {
            bail!(
                "{}: no experiment to resume (state.json not found)",
                out.display()
            );
        }
        let store = Store::open(out)?;
        if identity(&store.state().spec) != identity(&spec_json) {
            bail!(
                "{}: the spec's data, model, strategy, space, evaluation, metric, search, scheduler or seed changed since the experiment started; start a new experiment (another tune.out) instead",
                a.spec.display()
            );
        }
        store
    } else {
        Store::create(out, setup.name, spec_json.clone())?
    };
    let total = expected_trials(setup.tune, &space);
    let tracking = start_tracking(a, setup)?;
    let mut experiment = Experiment::new(setup.name, space, setup.tune.clone())
        .with_spec(spec_json)
        .observe(Box::new(JsonlObserver::new(&out.join("runs.jsonl"))))
        .observe(Box::new(TrialsBar::new(total, &setup.tune.metric)));
    if let Some(t) = &tracking {
        experiment = experiment.observe(Box::new(t.clone()));
    }
    match experiment.run(store, objective) {
        Ok((summary, store)) => Ok((summary, store, tracking)),
        Err(e) => {
            finish_tracking(tracking.as_ref(), RunStatus::Failed);
            Err(e.into())
        }
    }
}

/// Join the study in PostgreSQL and run its trials until all are finished; a process
/// without --worker then writes the experiment directory's trials.csv from the
/// database (best.json and the best model follow in the caller).
fn drive_shared<F>(
    a: &TuneArgs,
    setup: &Setup<'_>,
    url: &str,
    space: tuner::SearchSpace,
    spec_json: Value,
    objective: F,
) -> Result<(Summary, Store, Option<TuneTracker>)>
where
    F: Fn(&mut tuner::TrialContext<'_>) -> std::result::Result<(), tuner::TrialError> + Sync,
{
    if a.tracking.tracking_uri.is_some() || a.register_model.is_some() {
        bail!("--tracking-uri and --register-model: a shared study (--storage) is not tracked in MLflow yet; the database is its record");
    }
    if setup.tracking.is_some() {
        eprintln!("warning: [tracking]: a shared study (--storage) is not tracked in MLflow yet; the database is its record");
    }
    let seconds = |flag: &str, v: f64| -> Result<Duration> {
        Duration::try_from_secs_f64(v)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| format!("{flag} {v}: must be a positive number of seconds"))
    };
    let mut shared = tuner::SharedStudy::new(
        url,
        a.checkpoint_dir
            .clone()
            .unwrap_or_else(|| setup.out.join("checkpoints")),
    );
    shared.heartbeat_interval = seconds("--heartbeat-interval", a.heartbeat_interval)?;
    shared.grace = seconds("--heartbeat-grace", a.heartbeat_grace)?;
    shared.unreachable_limit = seconds("--storage-timeout", a.storage_timeout)?;
    let experiment = Experiment::new(setup.name, space, setup.tune.clone()).with_spec(spec_json);
    let (summary, store) = experiment.run_shared(&shared, objective)?;
    if !a.worker {
        write_file(&setup.out.join("trials.csv"), store.trials_csv().as_bytes())?;
    }
    Ok((summary, store, None))
}

/// The experiment's runs (always in the local spool; shipped when a tracking URI is
/// given). A spool that cannot be opened is a warning: tuning goes on untracked.
fn start_tracking(a: &TuneArgs, setup: &Setup<'_>) -> Result<Option<TuneTracker>> {
    let out = setup.out;
    let setting = |key: &str| {
        setup
            .tracking
            .and_then(|t| t.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let uri = a.tracking.tracking_uri.clone().or_else(|| setting("uri"));
    let destination = Destination::from_env(uri.as_deref())?;
    let experiment = a
        .tracking
        .experiment
        .clone()
        .or_else(|| setting("experiment"))
        .or_else(|| std::env::var("MLFLOW_EXPERIMENT_NAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| setup.name.to_string());
    let trial_runs = match setup.tracking.and_then(|t| t.get("trial_runs")) {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => bail!("tracking.trial_runs: must be true or false, got {other}"),
    };
    match default_runs_dir().and_then(|dir| Tracker::new(&dir, destination, &experiment)) {
        Ok(tracker) => {
            let t = TuneTracker::new(tracker, Some(out))
                .hold_parent()
                .with_parent_tags([("forecast.experiment_dir", out.display().to_string())]);
            Ok(Some(if trial_runs {
                t
            } else {
                t.without_trial_runs()
            }))
        }
        Err(e) => {
            eprintln!("warning: tracking: runs not recorded: {e}");
            Ok(None)
        }
    }
}

/// Ends the experiment's run, waits a little for the runs to ship, and says where they are.
fn finish_tracking(tracking: Option<&TuneTracker>, status: RunStatus) {
    let Some(t) = tracking else { return };
    let Some(id) = t.finish_parent(status) else {
        return;
    };
    let tracker = t.tracker();
    let shipped = tracker.flush(FINAL_FLUSH);
    if status != RunStatus::Finished {
        return;
    }
    match tracker.destination() {
        None => eprintln!("experiment run {id} and its trials recorded locally (no tracking URI)"),
        Some(d) if shipped => eprintln!("experiment run {id} and its trials logged to {}", d.uri),
        Some(d) => eprintln!(
            "experiment run {id} recorded locally; not all of it reached {} yet: `forecast runs sync` ships the rest",
            d.uri
        ),
    }
}

/// Trials the search will create: `samples` per grid point (TPE samples the grid keys
/// too), capped by `max_trials`. A time budget may end the study sooner.
fn expected_trials(tune: &tuner::TuneConfig, space: &tuner::SearchSpace) -> u64 {
    let per = match tune.search {
        tuner::SearchKind::Tpe => 1,
        _ => space.grid_points().len(),
    };
    let n = (tune.samples * per) as u64;
    tune.max_trials.map_or(n, |m| n.min(m as u64))
}

fn print_human(s: &Summary, metric: &str, out: &std::path::Path) {
    match &s.best {
        Some(b) => println!(
            "best: trial {} {metric} = {} params {}",
            b.trial,
            b.metric,
            serde_json::to_string(&b.params).unwrap_or_default()
        ),
        None => println!("best: none (no trial reported {metric})"),
    }
    println!(
        "trials: {} ({} completed, {} stopped early, {} failed) in {:.1}s",
        s.trials, s.completed, s.stopped_early, s.failed, s.seconds
    );
    println!("results: {}", out.display());
}

/// The live progress of an experiment (drawn only when stderr is a terminal).
struct TrialsBar {
    bar: ProgressBar,
    metric: String,
    running: HashSet<usize>,
    finished: u64,
    stopped: u64,
    failed: u64,
    best: Option<f64>,
    minimize: bool,
}

impl TrialsBar {
    fn new(total: u64, metric: &str) -> Self {
        let bar = crate::progress::bar(total, "trials");
        TrialsBar {
            bar,
            metric: metric.to_string(),
            running: HashSet::new(),
            finished: 0,
            stopped: 0,
            failed: 0,
            best: None,
            minimize: true,
        }
    }

    fn redraw(&self) {
        let best = self.best.map_or("-".to_string(), |b| format!("{b:.5}"));
        self.bar.set_message(format!(
            "running {} | finished {} | stopped early {} | failed {} | best {} {best}",
            self.running.len(),
            self.finished,
            self.stopped,
            self.failed,
            self.metric
        ));
        self.bar
            .set_position(self.finished + self.stopped + self.failed);
    }
}

impl TrialObserver for TrialsBar {
    fn experiment_started(&mut self, _: &str, spec: &Value, _: bool) {
        self.minimize = spec.pointer("/tune/mode").and_then(Value::as_str) != Some("max");
        self.redraw();
    }
    fn trial_started(&mut self, t: &TrialRecord) {
        self.running.insert(t.id);
        self.redraw();
    }
    fn trial_finished(&mut self, t: &TrialRecord) {
        self.running.remove(&t.id);
        if t.status == TrialStatus::Stopped {
            self.stopped += 1;
        } else {
            self.finished += 1;
        }
        if let Some(m) = t.metric {
            let better = self
                .best
                .is_none_or(|b| if self.minimize { m < b } else { m > b });
            if better {
                self.best = Some(m);
            }
        }
        self.redraw();
    }
    fn trial_failed(&mut self, t: &TrialRecord, _: &str) {
        self.running.remove(&t.id);
        self.failed += 1;
        self.redraw();
    }
    fn experiment_finished(&mut self, _: &Summary) {
        self.bar.finish_and_clear();
    }
}
