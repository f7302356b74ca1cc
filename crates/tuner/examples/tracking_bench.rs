//! What tracking costs: metric throughput to an MLflow server through `runs/log-batch`,
//! and the time a training epoch or a tuning trial spends recording its run.
//!
//! ```sh
//! eval "$(scripts/mlflow-test-server.sh up)"
//! cargo run --release -p tuner --no-default-features --example tracking_bench -- "$FORECAST_MLFLOW_URI"
//! ```
//! (`benches/peers/tracking_overhead.sh` does both and times `forecast train` too.)
//!
//! 1. `log_metrics` per epoch (3 metrics), spool only and with the background shipper
//!    sending to the server: microseconds per call, which is what tracking adds to an
//!    epoch (shipping happens on another thread).
//! 2. Throughput: a run of 100,000 metric points (4 keys x 25,000 steps) shipped by
//!    `sync_run` (log-batch, 1,000 points per request, the server's limit): points/s.
//! 3. A tuning experiment of 500 trials x 10 results with a trivial objective, without
//!    tracking and with [`TuneTracker`] (parent + child runs in the spool): overhead per
//!    trial and per result.

use serde_json::Value;
use std::time::{Duration, Instant};
use tuner::tracking::{
    sync_run, Credentials, Destination, MlflowClient, RetryPolicy, RunStatus, Tracker, TuneTracker,
};
use tuner::{Experiment, SearchSpace, Store, TuneConfig};

fn per_epoch(tracker: &Tracker, epochs: i64) -> f64 {
    let mut run = tracker.start_run("epochs", None).expect("run");
    run.log_params([("lr", "0.01"), ("hidden_size", "64")])
        .expect("params");
    let t = Instant::now();
    for e in 1..=epochs {
        let x = 1.0 / e as f64;
        run.log_metrics(
            &[
                ("train_loss".to_string(), x),
                ("valid_loss".to_string(), 1.1 * x),
                ("learning_rate".to_string(), 0.01),
            ],
            e,
        )
        .expect("metrics");
    }
    let us = t.elapsed().as_secs_f64() * 1e6 / epochs as f64;
    run.finish(RunStatus::Finished).expect("finish");
    us
}

fn tune(n: usize, results: usize, tracker: Option<&Tracker>) -> f64 {
    let space = SearchSpace::from_toml("x = { uniform = [0, 1] }\nh = { choice = [32, 64] }")
        .expect("space");
    let mut c = TuneConfig::new("loss");
    c.samples = n;
    c.threads_per_trial = Some(1);
    let mut exp = Experiment::new("bench", space, c)
        .with_spec(serde_json::json!({"tune": {"metric": "loss", "samples": n}}));
    if let Some(t) = tracker {
        exp = exp.observe(Box::new(TuneTracker::new(t.clone(), None)));
    }
    let t = Instant::now();
    exp.run(Store::in_memory("bench", Value::Null), |ctx| {
        let x = ctx.params()["x"].as_f64().ok_or("x")?;
        for i in 0..results {
            ctx.report(&[("loss", x / (i + 1) as f64), ("aux", x)], None);
        }
        Ok(())
    })
    .expect("experiment");
    t.elapsed().as_secs_f64()
}

fn main() {
    let uri = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("FORECAST_MLFLOW_URI").ok())
        .expect("give the MLflow URI (or set FORECAST_MLFLOW_URI)");
    let dest = Destination::parse(&uri, Credentials::None, false).expect("uri");
    let exp = format!("bench-{}", std::process::id());

    // 1. Per-epoch cost.
    let dir = tempfile::tempdir().expect("dir");
    let local = Tracker::new(dir.path(), None, &exp).expect("tracker");
    let epochs = 5000;
    let us_local = per_epoch(&local, epochs);
    let live = Tracker::new(dir.path(), Some(dest.clone()), &exp).expect("tracker");
    let us_live = per_epoch(&live, epochs);
    let t = Instant::now();
    let shipped = live.flush(Duration::from_secs(300));
    println!(
        "log_metrics per epoch (3 metrics): spool only {us_local:.1} us, with the shipper live {us_live:.1} us; \
         {epochs} epochs shipped in {:.2} s after the loop (all shipped: {shipped})",
        t.elapsed().as_secs_f64()
    );

    // 2. Throughput of log-batch.
    let (keys, steps) = (4usize, 25_000i64);
    let mut run = local.start_run("throughput", None).expect("run");
    for s in 0..steps {
        let m: Vec<(String, f64)> = (0..keys)
            .map(|k| (format!("m{k}"), (s as f64).sin() + k as f64))
            .collect();
        run.log_metrics(&m, s).expect("metrics");
    }
    let id = run.finish(RunStatus::Finished).expect("finish");
    let client = MlflowClient::new(dest, RetryPolicy::default()).expect("client");
    let t = Instant::now();
    let rep = sync_run(local.spool(), &client, &id).expect("sync");
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(rep.metrics_sent, keys as u64 * steps as u64);
    println!(
        "log-batch throughput: {} points in {secs:.2} s = {:.0} points/s ({} requests of <= 1000)",
        rep.metrics_sent,
        rep.metrics_sent as f64 / secs,
        rep.metrics_sent.div_ceil(1000)
    );

    // 3. A tuning experiment with and without its runs recorded.
    let (n, results) = (500, 10);
    let bare = tune(n, results, None);
    let tdir = tempfile::tempdir().expect("dir");
    let t_local = Tracker::new(tdir.path(), None, &exp).expect("tracker");
    let tracked = tune(n, results, Some(&t_local));
    println!(
        "tune {n} trials x {results} results: untracked {:.3} s, tracked (spool) {:.3} s: \
         +{:.3} ms per trial, +{:.1} us per result",
        bare,
        tracked,
        (tracked - bare) * 1e3 / n as f64,
        (tracked - bare) * 1e6 / (n * results) as f64
    );
}
