//! `forecast tune`

use anyhow::{bail, Context, Result};
use clap::Args;
use forecast_core::artifact;
use indicatif::ProgressBar;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use tuner::forecast::{ExperimentSpec, ForecastObjective};
use tuner::store::atomic_write;
use tuner::{Experiment, JsonlObserver, Store, Summary, TrialObserver, TrialRecord, TrialStatus};

/// Hyperparameter search over a model's config keys.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    forecast tune --spec experiments/airpassengers-baselines-grid.toml --json\n  \
    forecast tune --spec experiments/msft-lstm-asha.toml --samples 40 --max-concurrent 2\n  \
    forecast tune --spec experiments/msft-lstm-asha.toml --resume")]
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
    #[arg(long)]
    pub resume: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

// Parts of the spec that must not change between a run and its resume.
fn identity(spec: &Value) -> Value {
    let tune = spec.get("tune");
    json!({
        "data": spec.get("data"),
        "model": spec.get("model"),
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
    let mut spec = ExperimentSpec::from_file(&a.spec)?;
    if let Some(n) = a.samples {
        spec.tune.samples = n;
    }
    if let Some(k) = a.max_concurrent {
        spec.tune.max_concurrent = k;
    }
    if let Some(out) = &a.out {
        spec.tune.out = Some(out.clone());
    }
    let out = spec.out_dir();
    let space = spec.space()?;
    let objective = ForecastObjective::new(&spec)?;
    let spec_json = serde_json::to_value(&spec)?;
    let store = if a.resume {
        if !out.join("state.json").is_file() {
            bail!(
                "{}: no experiment to resume (state.json not found)",
                out.display()
            );
        }
        let store = Store::open(&out)?;
        if identity(&store.state().spec) != identity(&spec_json) {
            bail!(
                "{}: the spec's data, model, space, evaluation, metric, search, scheduler or seed changed since the experiment started; start a new experiment (another tune.out) instead",
                a.spec.display()
            );
        }
        store
    } else {
        Store::create(&out, &spec.name, spec_json.clone())?
    };
    let total = expected_trials(&spec, &space);
    let experiment = Experiment::new(&spec.name, space, spec.tune.clone())
        .with_spec(spec_json)
        .observe(Box::new(JsonlObserver::new(&out.join("runs.jsonl"))))
        .observe(Box::new(TrialsBar::new(total, &spec.tune.metric)));
    let (summary, store) = experiment.run(store, |ctx| objective.run(ctx))?;

    if let Some(best) = &summary.best {
        let rec = store
            .trial(best.trial)
            .context("best trial missing from the store")?;
        let iterations = (rec.status == TrialStatus::Stopped).then(|| rec.iterations());
        let fitted = objective
            .fit_best(&best.params, iterations)
            .map_err(|e| anyhow::anyhow!("refitting the best trial {}: {e}", best.trial))?;
        artifact::save(&fitted, &out.join("best_model"))?;
    }
    let result = json!({
        "best": summary.best.as_ref().map(|b| json!({"trial": b.trial, "params": b.params, "metric": b.metric})),
        "trials": summary.trials,
        "stopped_early": summary.stopped_early,
    });
    let best_file = json!({
        "name": spec.name,
        "metric": spec.tune.metric,
        "mode": spec.tune.mode,
        "summary": summary,
        "model": summary.best.as_ref().map(|_| "best_model"),
    });
    atomic_write(
        &out.join("best.json"),
        serde_json::to_string_pretty(&best_file)?.as_bytes(),
    )?;
    if a.json {
        println!("{result}");
    } else {
        print_human(&summary, &spec.tune.metric, &out);
    }
    Ok(())
}

fn expected_trials(spec: &ExperimentSpec, space: &tuner::SearchSpace) -> Option<u64> {
    let per = match spec.tune.search {
        tuner::SearchKind::Tpe => 1,
        _ => space.grid_points().len(),
    };
    let n = (spec.tune.samples * per) as u64;
    Some(spec.tune.max_trials.map_or(n, |m| n.min(m as u64)))
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
    fn new(total: Option<u64>, metric: &str) -> Self {
        let bar = crate::progress::bar(total.unwrap_or(0), "trials");
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
