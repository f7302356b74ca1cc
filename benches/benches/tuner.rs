//! Tuner scheduling overhead: a few thousand trivial trials (4 reports each, no work),
//! random search over 3 keys, in memory, FIFO and ASHA, 1 and 2 trials at a time. The
//! time per iteration divided by the trial count is the runner's cost per trial.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use tuner::{Control, Experiment, SearchSpace, Store, TuneConfig};

const TRIALS: usize = 2000;

fn run(scheduler: &serde_json::Value, concurrent: usize) -> usize {
    let space = SearchSpace::from_toml(
        r#"
        x = { uniform = [-2.0, 2.0] }
        lr = { loguniform = [1e-4, 1e-1] }
        width = { choice = [16, 32, 64] }
        "#,
    )
    .expect("valid space");
    let config: TuneConfig = serde_json::from_value(serde_json::json!({
        "metric": "loss",
        "samples": TRIALS,
        "max_concurrent": concurrent,
        "threads_per_trial": 1,
        "scheduler": scheduler,
        "seed": 3,
    }))
    .expect("valid config");
    let (summary, _) = Experiment::new("bench", space, config)
        .run(Store::in_memory("bench", serde_json::Value::Null), |t| {
            let x = t.params()["x"].as_f64().ok_or("x")?;
            for step in 1..=4 {
                if t.report(&[("loss", x * x / step as f64)], None) == Control::Stop {
                    break;
                }
            }
            Ok(())
        })
        .expect("runs");
    summary.trials
}

fn scheduling(c: &mut Criterion) {
    let mut g = c.benchmark_group("tuner_2000_trivial_trials");
    g.sample_size(10);
    g.throughput(Throughput::Elements(TRIALS as u64));
    let fifo = serde_json::json!({"kind": "fifo"});
    let asha =
        serde_json::json!({"kind": "asha", "grace_period": 1, "reduction_factor": 2, "max_t": 4});
    for (name, sched) in [("fifo", &fifo), ("asha", &asha)] {
        for k in [1, 2] {
            g.bench_function(format!("{name}_{k}_concurrent"), |b| {
                b.iter(|| assert_eq!(black_box(run(sched, k)), TRIALS))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scheduling);
criterion_main!(benches);
