//! Model-level checkpoints of forecast trials: a tiny LSTM trial continues from a
//! training-loop checkpoint (weights, optimizer state, epoch) after a PBT exploit and
//! after its process was killed.
//!
//! Training is deterministic (seeded init, seeded per-epoch shuffling and dropout, one
//! thread per trial), so a trial that continues from a checkpoint of epoch `k` reports at
//! epoch `k + 1` exactly the loss of an uninterrupted run with the same settings, and a
//! trial that started over would report the loss of epoch 1 instead.
#![cfg(feature = "forecast")]

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tuner::forecast::{ExperimentSpec, ForecastObjective};
use tuner::store::ResultRow;
use tuner::{Experiment, Store, TrialObserver, TrialRecord, TrialStatus};

type Reports = Arc<Mutex<Vec<(usize, usize, f64)>>>;

/// Records every (trial, iteration, valid_loss) in order.
struct Recorder(Reports);

impl TrialObserver for Recorder {
    fn trial_result(&mut self, trial: &TrialRecord, result: &ResultRow) {
        if let Some(v) = result.metrics.get("valid_loss") {
            self.0
                .lock()
                .unwrap()
                .push((trial.id, result.iteration, *v));
        }
    }
}

/// Kills the process (no unwinding, no cleanup: as `kill -9`) at a given result.
struct AbortAt(usize, usize);

impl TrialObserver for AbortAt {
    fn trial_result(&mut self, trial: &TrialRecord, result: &ResultRow) {
        if (trial.id, result.iteration) == (self.0, self.1) {
            std::process::abort();
        }
    }
}

fn write_series(dir: &Path) -> String {
    // A noisy seasonal series (deterministic), 160 rows.
    let mut text = String::from("y\n");
    let mut s = 12345u64;
    for t in 0..160 {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.2;
        let y = 10.0 + (t as f64 * std::f64::consts::TAU / 12.0).sin() + noise;
        text.push_str(&format!("{y}\n"));
    }
    let path = dir.join("series.csv");
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn spec(data: &str, space: &str, tune: &str) -> ExperimentSpec {
    ExperimentSpec::from_toml(&format!(
        r#"
        name = "ckpt"
        [data]
        path = "{data}"
        target = "y"
        [model]
        kind = "lstm"
        seed = 5
        [model.config]
        epochs = 16
        hidden_size = 4
        num_layers = 1
        lookback = 8
        batch_size = 16
        patience = 0
        lr_schedule = "constant"
        [space]
        {space}
        [tune]
        metric = "valid_loss"
        threads_per_trial = 1
        {tune}
        "#
    ))
    .unwrap()
}

fn loss_at(reports: &[(usize, usize, f64)], trial: usize, iteration: usize) -> f64 {
    reports
        .iter()
        .find(|r| r.0 == trial && r.1 == iteration)
        .unwrap_or_else(|| panic!("trial {trial} has no result at {iteration}"))
        .2
}

#[test]
fn pbt_exploit_continues_from_the_donors_weights() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_series(dir.path());
    // Trial 0 learns (learning rate 0.03), trial 1 hardly moves (1e-7). The only
    // mutated key has one value, so after an exploit trial 1 has exactly the donor's
    // settings: continuing from the donor's checkpoint it must report the donor's
    // losses.
    let spec = spec(
        &data,
        "learning_rate = { grid = [0.03, 1e-7] }\nweight_decay = { choice = [0.0] }",
        r#"max_concurrent = 2
        scheduler = { kind = "pbt", perturbation_interval = 2, quantile_fraction = 0.5, resample_probability = 0.0, mutations = ["weight_decay"] }"#,
    );
    let objective = ForecastObjective::new(&spec).unwrap();
    let reports: Reports = Arc::default();
    let restarts = Mutex::new(Vec::new());
    let exp = Experiment::new("ckpt", spec.space().unwrap(), spec.tune.clone())
        .observe(Box::new(Recorder(reports.clone())));
    let (_, store) = exp
        .run(Store::in_memory("ckpt", Value::Null), |t| {
            if t.id() == 1 && t.checkpoint().is_none() {
                // Let the donor get ahead, so that it has a checkpoint (and is still
                // running) when trial 1 is exploited at its iteration 2.
                let start = Instant::now();
                while !reports.lock().unwrap().iter().any(|r| r.0 == 0 && r.1 >= 4)
                    && start.elapsed() < Duration::from_secs(120)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            if t.checkpoint().is_some() {
                restarts.lock().unwrap().push((t.id(), t.iteration()));
            }
            objective.run(t)
        })
        .unwrap();
    for t in &store.state().trials {
        assert_eq!(t.status, TrialStatus::Completed, "{:?}", t.error);
    }
    let t1 = store.trial(1).unwrap();
    assert!(!t1.exploits.is_empty(), "trial 1 was never exploited");
    assert_eq!((t1.exploits[0].iteration, t1.exploits[0].donor), (2, 0));
    let restarts = restarts.into_inner().unwrap();
    let &(_, k) = restarts
        .iter()
        .find(|r| r.0 == 1)
        .expect("trial 1 restarted from a checkpoint");
    assert!(k >= 1, "restarted at iteration {k}");
    let reports = reports.lock().unwrap().clone();
    // Trial 1's third result is its first after the exploit, at iteration k + 1.
    let after: Vec<_> = reports.iter().filter(|r| r.0 == 1).collect();
    assert_eq!(after[2].1, k + 1, "{after:?}");
    let donor = loss_at(&reports, 0, k + 1);
    let fresh = loss_at(&reports, 0, 1); // what a restart from scratch would report
                                         // Same weights, optimizer state, settings and seeds: equal up to rounding (1e-9
                                         // relative; the runs are deterministic, so this is generous).
    assert!(
        (after[2].2 - donor).abs() <= 1e-9 * donor.abs(),
        "after exploit {} vs donor {donor}",
        after[2].2
    );
    assert!(
        (fresh - donor).abs() > 1e-4 * donor.abs(),
        "epoch 1 ({fresh}) and epoch {} ({donor}) cannot be told apart",
        k + 1
    );
}

const CHILD_DIR: &str = "TUNER_TEST_KILLED_TRIAL_DIR";

fn one_trial(data: &str) -> ExperimentSpec {
    spec(
        data,
        "learning_rate = { grid = [0.02] }",
        "max_concurrent = 1",
    )
}

/// Run by `a_killed_neural_trial_resumes_from_its_epoch` in a child process: starts the
/// experiment in the directory it is given and aborts at the trial's 4th result.
#[test]
#[ignore = "helper: run as a child process by a_killed_neural_trial_resumes_from_its_epoch"]
fn child_killed_during_a_neural_trial() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let dir = Path::new(&dir);
    let spec = one_trial(&dir.join("series.csv").to_string_lossy());
    let objective = ForecastObjective::new(&spec).unwrap();
    let store = Store::create(&dir.join("exp"), "ckpt", Value::Null).unwrap();
    let _ = Experiment::new("ckpt", spec.space().unwrap(), spec.tune.clone())
        .observe(Box::new(AbortAt(0, 4)))
        .run(store, |t| objective.run(t));
}

#[test]
fn a_killed_neural_trial_resumes_from_its_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_series(dir.path());
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_killed_during_a_neural_trial",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .status()
        .unwrap();
    assert!(!status.success(), "the child was not killed");
    // The trial was running at the kill, with a checkpoint of an epoch before it.
    let store = Store::open(&dir.path().join("exp")).unwrap();
    let t = store.trial(0).unwrap();
    assert_eq!(t.status, TrialStatus::Running);
    let k = t.checkpoint.as_ref().expect("a checkpoint").iteration;
    assert!((1..4).contains(&k), "checkpoint at {k}");
    // Resume.
    let spec = one_trial(&data);
    let objective = ForecastObjective::new(&spec).unwrap();
    let reports: Reports = Arc::default();
    let resumed_at = Mutex::new(Vec::new());
    let (summary, store) = Experiment::new("ckpt", spec.space().unwrap(), spec.tune.clone())
        .observe(Box::new(Recorder(reports.clone())))
        .run(store, |t| {
            resumed_at.lock().unwrap().push(t.iteration());
            objective.run(t)
        })
        .unwrap();
    assert_eq!(resumed_at.into_inner().unwrap(), vec![k]);
    let t = store.trial(0).unwrap();
    assert_eq!(summary.completed, 1, "{t:?}");
    assert_eq!((t.starts, t.iterations()), (2, 16));
    // The first result after the resume is epoch k + 1 of an uninterrupted run.
    let resumed = reports.lock().unwrap().clone();
    assert_eq!(resumed[0].1, k + 1);
    let reference: Reports = Arc::default();
    Experiment::new("ckpt", spec.space().unwrap(), spec.tune.clone())
        .observe(Box::new(Recorder(reference.clone())))
        .run(Store::in_memory("ckpt", Value::Null), |t| objective.run(t))
        .unwrap();
    let reference = reference.lock().unwrap().clone();
    let want = loss_at(&reference, 0, k + 1);
    assert!(
        (resumed[0].2 - want).abs() <= 1e-9 * want.abs(),
        "resumed {} vs uninterrupted {want}",
        resumed[0].2
    );
    assert!((loss_at(&reference, 0, 1) - want).abs() > 1e-4 * want.abs());
}
