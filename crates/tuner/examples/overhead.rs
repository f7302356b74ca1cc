//! Scheduling overhead and parallel efficiency of the runner.
//!
//! ```sh
//! cargo run --release -p tuner --no-default-features --example overhead
//! ```
//!
//! 1. 10,000 trials of a trivial objective (one report, no work): trials per second
//!    and wall time per trial, which is the runner's overhead (search, scheduler,
//!    store, thread hand-off), in memory and with the on-disk store.
//! 2. 8 CPU-bound trials (one thread each) with 1 and with 2 trials at a time: the
//!    speed-up of 2 concurrent trials over 1.

use serde_json::Value;
use std::hint::black_box;
use std::time::Instant;
use tuner::{Control, Experiment, SchedulerSpec, SearchSpace, Store, TuneConfig};

fn space() -> SearchSpace {
    SearchSpace::from_toml(
        "x = { uniform = [0, 1] }\nn = { randint = [1, 100] }\nc = { choice = [\"a\", \"b\"] }",
    )
    .expect("valid space")
}

fn trivial(n: usize, concurrent: usize, scheduler: SchedulerSpec, disk: bool) -> f64 {
    let mut c = TuneConfig::new("loss");
    c.samples = n;
    c.max_concurrent = concurrent;
    c.threads_per_trial = Some(1);
    c.scheduler = scheduler;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = if disk {
        Store::create(dir.path(), "overhead", Value::Null).expect("store")
    } else {
        Store::in_memory("overhead", Value::Null)
    };
    let start = Instant::now();
    let (summary, _) = Experiment::new("overhead", space(), c)
        .run(store, |t| {
            let x = t.params()["x"].as_f64().ok_or("x")?;
            t.report(&[("loss", x)], None);
            Ok(())
        })
        .expect("experiment");
    assert_eq!(summary.trials, n);
    start.elapsed().as_secs_f64()
}

fn spin(iters: u64) -> f64 {
    let mut acc = 0.0f64;
    for i in 0..iters {
        acc = black_box(acc + (i as f64).sqrt());
    }
    acc
}

fn cpu_bound(trials: usize, concurrent: usize, iters: u64) -> f64 {
    let mut c = TuneConfig::new("loss");
    c.samples = trials;
    c.max_concurrent = concurrent;
    c.threads_per_trial = Some(1);
    let start = Instant::now();
    Experiment::new("cpu", space(), c)
        .run(Store::in_memory("cpu", Value::Null), |t| {
            let v = spin(iters);
            if t.report(&[("loss", v)], None) == Control::Stop {
                return Ok(());
            }
            Ok(())
        })
        .expect("experiment");
    start.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn main() {
    let n = 10_000;
    let asha = SchedulerSpec::Asha {
        grace_period: 1,
        reduction_factor: 4.0,
        max_t: 10,
        brackets: 1,
    };
    println!("trivial objective, {n} trials (median of 3 runs)");
    for (label, concurrent, sched, disk) in [
        (
            "fifo, in memory, 1 at a time",
            1,
            SchedulerSpec::Fifo,
            false,
        ),
        (
            "fifo, in memory, 2 at a time",
            2,
            SchedulerSpec::Fifo,
            false,
        ),
        ("asha, in memory, 2 at a time", 2, asha.clone(), false),
        ("fifo, on disk, 1 at a time", 1, SchedulerSpec::Fifo, true),
        ("asha, on disk, 2 at a time", 2, asha, true),
    ] {
        let t = median(
            (0..3)
                .map(|_| trivial(n, concurrent, sched.clone(), disk))
                .collect(),
        );
        println!(
            "  {label:32} {:>9.0} trials/s  {:>7.1} us/trial",
            n as f64 / t,
            t / n as f64 * 1e6
        );
    }
    // Calibrate one trial to ~0.25 s.
    let probe = 20_000_000u64;
    let t0 = Instant::now();
    black_box(spin(probe));
    let iters = (probe as f64 * 0.25 / t0.elapsed().as_secs_f64()) as u64;
    let trials = 8;
    let one = median((0..3).map(|_| cpu_bound(trials, 1, iters)).collect());
    let two = median((0..3).map(|_| cpu_bound(trials, 2, iters)).collect());
    println!("CPU-bound objective, {trials} trials of ~0.25 s (median of 3 runs)");
    println!(
        "  1 at a time: {one:.2} s   2 at a time: {two:.2} s   speed-up {:.2}x",
        one / two
    );
}
