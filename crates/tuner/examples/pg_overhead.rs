//! One worker process of a study shared through PostgreSQL, for the overhead benchmark
//! `benches/peers/tuner_pg_vs_optuna.sh` (which starts several at once and times them):
//! the objective reports once, after `SPIN` iterations of CPU work (0: none, so the time
//! per trial is the store's and the runner's overhead). The same 3-key space as the
//! in-memory `overhead` example and the Optuna peer; random search, FIFO, one trial at a
//! time per process.
//!
//! ```sh
//! cargo run --release -p tuner --example pg_overhead -- URL STUDY TRIALS SPIN
//! ```
//!
//! Prints `trials_run_here N seconds S` when the study is complete.

use std::hint::black_box;
use std::time::{Duration, Instant};
use tuner::{Experiment, SearchSpace, SharedStudy, TuneConfig};

fn spin(iters: u64) -> f64 {
    let mut acc = 0.0f64;
    for i in 0..iters {
        acc = black_box(acc + (i as f64).sqrt());
    }
    acc
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, study, trials, iters] = args.as_slice() else {
        return Err("usage: pg_overhead URL STUDY TRIALS SPIN".into());
    };
    let (trials, iters): (usize, u64) = (trials.parse()?, iters.parse()?);
    let space = SearchSpace::from_toml(
        "x = { uniform = [0, 1] }\nn = { randint = [1, 100] }\nc = { choice = [\"a\", \"b\"] }",
    )?;
    let mut config = TuneConfig::new("loss");
    config.samples = trials;
    config.max_concurrent = 1;
    config.threads_per_trial = Some(1);
    let spec = serde_json::json!({"name": study, "tune": {"samples": trials}});
    let dir = tempfile::tempdir()?;
    let mut shared = SharedStudy::new(url, dir.path().to_path_buf());
    shared.heartbeat_interval = Duration::from_secs(10);
    let here = std::sync::atomic::AtomicUsize::new(0);
    let start = Instant::now();
    let (summary, _) = Experiment::new(study, space, config)
        .with_spec(spec)
        .run_shared(&shared, |t| {
            let x = t.params()["x"].as_f64().ok_or("x")?;
            let loss = x + 1e-30 * spin(iters);
            t.report(&[("loss", loss)], None);
            here.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        })?;
    if summary.trials != trials {
        return Err(format!("the study finished {} trials, not {trials}", summary.trials).into());
    }
    println!(
        "trials_run_here {} seconds {:.4}",
        here.into_inner(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
