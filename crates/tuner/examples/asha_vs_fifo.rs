//! ASHA against FIFO on a real sweep: the same experiment spec run twice, once with
//! its own scheduler (ASHA) and once with FIFO. The search and the model are seeded
//! the same way, so both runs sample the same configs; FIFO trains each to its end.
//! Prints, for each run, the best validation loss, the total training epochs (the sum
//! over trials of the epochs each one ran) and the wall time, then the ratios.
//!
//! ```sh
//! cargo run --release -p tuner --example asha_vs_fifo -- experiments/msft-lstm-small-asha.toml
//! ```

use serde_json::Value;
use std::path::PathBuf;
use std::time::Instant;
use tuner::forecast::{ExperimentSpec, ForecastObjective};
use tuner::{Experiment, SchedulerSpec, Store};

struct Outcome {
    best: f64,
    best_trial: usize,
    epochs: usize,
    seconds: f64,
    per_trial: Vec<(usize, usize, Option<f64>)>,
}

fn run(spec: &ExperimentSpec, scheduler: SchedulerSpec) -> Result<Outcome, String> {
    let objective = ForecastObjective::new(spec).map_err(|e| e.to_string())?;
    let mut config = spec.tune.clone();
    config.scheduler = scheduler;
    let space = spec.space().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let (summary, store) = Experiment::new(&spec.name, space, config)
        .run(Store::in_memory(&spec.name, Value::Null), |t| {
            objective.run(t)
        })
        .map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let best = summary.best.ok_or("no trial produced the metric")?;
    let per_trial: Vec<_> = store
        .state()
        .trials
        .iter()
        .map(|t| (t.id, t.iterations(), t.metric))
        .collect();
    Ok(Outcome {
        best: best.metric,
        best_trial: best.trial,
        epochs: per_trial.iter().map(|t| t.1).sum(),
        seconds,
        per_trial,
    })
}

fn main() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("experiments/msft-lstm-small-asha.toml"));
    let spec = ExperimentSpec::from_file(&path).map_err(|e| e.to_string())?;
    let asha = spec.tune.scheduler.clone();
    let mut results = Vec::new();
    for (label, sched) in [("fifo", SchedulerSpec::Fifo), ("asha", asha)] {
        let o = run(&spec, sched)?;
        println!(
            "{label}: best {} = {:.6} (trial {}), total epochs {}, {:.1} s",
            spec.tune.metric, o.best, o.best_trial, o.epochs, o.seconds
        );
        for (id, epochs, metric) in &o.per_trial {
            println!("  trial {id:>2}: {epochs:>2} epochs, best {metric:?}");
        }
        results.push(o);
    }
    let (fifo, asha) = (&results[0], &results[1]);
    println!(
        "asha / fifo: epochs {:.1}%, best loss {:+.2}% (goal: <= 40% of the epochs, within 1%)",
        100.0 * asha.epochs as f64 / fifo.epochs as f64,
        100.0 * (asha.best - fifo.best) / fifo.best.abs()
    );
    Ok(())
}
