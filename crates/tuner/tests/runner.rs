//! The runner end to end on small objectives: failures, retries, early stopping,
//! resume from a checkpoint, PBT restarts, budgets.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tuner::store::CheckpointRef;
use tuner::{
    Control, Experiment, SchedulerSpec, SearchSpace, Store, TrialRecord, TrialStatus, TuneConfig,
};

fn space(text: &str) -> SearchSpace {
    SearchSpace::from_toml(text).unwrap()
}

fn mem() -> Store {
    Store::in_memory("t", Value::Null)
}

#[test]
fn failures_and_panics_are_recorded_and_the_experiment_goes_on() {
    let mut c = TuneConfig::new("loss");
    c.max_concurrent = 2;
    let exp = Experiment::new("t", space("x = { grid = [0, 1, 2, 3, 4, 5] }"), c);
    let (summary, store) = exp
        .run(mem(), |t| {
            let x = t.params()["x"].as_i64().unwrap();
            match x {
                1 => Err("diverged".into()),
                2 => panic!("boom {x}"),
                _ => {
                    t.report(&[("loss", (x - 4).abs() as f64)], None);
                    Ok(())
                }
            }
        })
        .unwrap();
    assert_eq!(
        (summary.trials, summary.completed, summary.failed),
        (6, 4, 2)
    );
    let best = summary.best.unwrap();
    assert_eq!((best.params["x"].as_i64(), best.metric), (Some(4), 0.0));
    let t1 = store.trial(1).unwrap();
    assert_eq!(
        (t1.status, t1.error.as_deref()),
        (TrialStatus::Failed, Some("diverged"))
    );
    let t2 = store.trial(2).unwrap();
    assert!(
        t2.error.as_deref().unwrap().contains("boom 2"),
        "{:?}",
        t2.error
    );
}

#[test]
fn a_failing_trial_is_retried_from_its_checkpoint() {
    let mut c = TuneConfig::new("loss");
    c.max_failures = 2;
    let attempts = AtomicUsize::new(0);
    let exp = Experiment::new("t", space("x = 1"), c);
    let (summary, store) = exp
        .run(mem(), |t| {
            let first = attempts.fetch_add(1, Ordering::SeqCst) == 0;
            let start = t.iteration();
            if first {
                assert_eq!((start, t.checkpoint()), (0, None));
            } else {
                assert_eq!((start, t.checkpoint()), (2, Some(&b"2"[..])));
            }
            for i in start + 1..=4 {
                t.report(&[("loss", 10.0 - i as f64)], Some(i.to_string().as_bytes()));
                if first && i == 2 {
                    return Err("lost the GPU".into());
                }
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(summary.completed, 1);
    let r = store.trial(0).unwrap();
    assert_eq!(
        (r.starts, r.failures, r.iterations(), r.metric),
        (2, 1, 4, Some(6.0))
    );
    let its: Vec<usize> = r.history.iter().map(|h| h.iteration).collect();
    assert_eq!(its, vec![1, 2, 3, 4]);
}

#[test]
fn asha_stops_bad_trials_in_the_runner() {
    let mut c = TuneConfig::new("loss");
    c.scheduler = SchedulerSpec::Asha {
        grace_period: 1,
        reduction_factor: 2.0,
        max_t: 8,
        brackets: 1,
    };
    // Trials in order of quality: later trials are worse, so most stop at a rung.
    let exp = Experiment::new("t", space("q = { grid = [1, 2, 3, 4, 5, 6, 7, 8] }"), c);
    let (summary, store) = exp
        .run(mem(), |t| {
            let q = t.params()["q"].as_f64().unwrap();
            for i in 1..=20 {
                if t.report(&[("loss", q / i as f64)], None) == Control::Stop {
                    break;
                }
            }
            Ok(())
        })
        .unwrap();
    // The first trial runs to max_t (8 iterations: completed, not stopped early); the
    // later ones stop at a rung.
    assert_eq!((summary.completed, summary.stopped_early), (1, 7));
    assert_eq!(store.trial(0).unwrap().iterations(), 8);
    assert!(store.state().trials[1..].iter().all(|t| t.iterations() < 8));
    assert_eq!(summary.best.unwrap().trial, 0);
}

#[test]
fn resume_skips_finished_trials_and_restarts_running_ones_from_their_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let sp = space("x = { grid = [10, 20, 30] }");
    let mut c = TuneConfig::new("loss");
    c.search = tuner::SearchKind::Grid;
    {
        // The state a crash leaves: trial 0 done, trial 1 running with a checkpoint
        // after iteration 2, trial 2 never created.
        let mut s = Store::create(dir.path(), "t", Value::Null).unwrap();
        let mut t0 = TrialRecord::new(0, [("x".to_string(), Value::from(10))].into());
        t0.status = TrialStatus::Completed;
        t0.starts = 1;
        t0.metric = Some(10.0);
        t0.history.push(tuner::store::ResultRow {
            iteration: 1,
            metrics: BTreeMap::from([("loss".to_string(), 10.0)]),
        });
        s.put(t0).unwrap();
        let mut t1 = TrialRecord::new(1, [("x".to_string(), Value::from(20))].into());
        t1.status = TrialStatus::Running;
        t1.starts = 1;
        let CheckpointRef { iteration, file } = s.save_checkpoint(1, 2, b"state@2").unwrap();
        t1.checkpoint = Some(CheckpointRef { iteration, file });
        for i in 1..=3 {
            t1.history.push(tuner::store::ResultRow {
                iteration: i,
                metrics: BTreeMap::from([("loss".to_string(), 20.0)]),
            });
        }
        s.put(t1).unwrap();
    }
    let calls = Mutex::new(Vec::new());
    let exp = Experiment::new("t", sp, c);
    let (summary, store) = exp
        .run(Store::open(dir.path()).unwrap(), |t| {
            let x = t.params()["x"].as_i64().unwrap();
            calls
                .lock()
                .unwrap()
                .push((x, t.iteration(), t.checkpoint().map(|c| c.to_vec())));
            while t.iteration() < 4 {
                t.report(&[("loss", x as f64)], None);
            }
            Ok(())
        })
        .unwrap();
    let calls = calls.into_inner().unwrap();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.contains(&(20, 2, Some(b"state@2".to_vec()))));
    assert!(calls.contains(&(30, 0, None)));
    assert_eq!(summary.completed, 3);
    let t1 = store.trial(1).unwrap();
    assert_eq!(t1.starts, 2);
    let its: Vec<usize> = t1.history.iter().map(|h| h.iteration).collect();
    assert_eq!(its, vec![1, 2, 3, 4]);
    assert_eq!(store.trial(0).unwrap().starts, 1);
    // One process holds an experiment directory at a time (its lock).
    drop(store);
    // The finished experiment resumed again runs nothing.
    let again = Experiment::new("t", space("x = { grid = [10, 20, 30] }"), {
        let mut c = TuneConfig::new("loss");
        c.search = tuner::SearchKind::Grid;
        c
    });
    let (s2, _) = again
        .run(Store::open(dir.path()).unwrap(), |_| {
            panic!("nothing should run")
        })
        .unwrap();
    assert_eq!(s2.completed, 3);
}

#[test]
fn pbt_restarts_bad_trials_from_a_good_checkpoint() {
    let mut c = TuneConfig::new("loss");
    c.max_concurrent = 4;
    c.seed = 3;
    c.scheduler = SchedulerSpec::Pbt {
        perturbation_interval: 2,
        quantile_fraction: 0.25,
        resample_probability: 0.0,
        mutations: None,
    };
    // "Training" accumulates rate per step; the checkpoint is the accumulated value.
    let exp = Experiment::new("t", space("rate = { grid = [0.1, 0.3, 0.5, 0.9] }"), c);
    let restarts = AtomicUsize::new(0);
    // All four trials report iteration 1 before any reports iteration 2, the first
    // perturbation, and none goes past iteration 2 before the slowest learner (0.1) has
    // reported it: then it is ranked among four live trials, is the bottom quantile
    // and must exploit, whatever the thread timing.
    let first_round = std::sync::Barrier::new(4);
    let slow_ranked = std::sync::atomic::AtomicBool::new(false);
    let (_, store) = exp
        .run(mem(), |t| {
            let rate = t.params()["rate"].as_f64().unwrap();
            let mut acc = match t.checkpoint() {
                Some(b) => {
                    restarts.fetch_add(1, Ordering::SeqCst);
                    String::from_utf8(b.to_vec())
                        .unwrap()
                        .parse::<f64>()
                        .unwrap()
                }
                None => 0.0,
            };
            let fresh = t.checkpoint().is_none();
            while t.iteration() < 8 {
                acc += rate;
                if fresh && t.iteration() == 1 {
                    first_round.wait();
                }
                if fresh && t.iteration() == 2 && rate != 0.1 {
                    while !slow_ranked.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                }
                let control = t.report(&[("loss", -acc)], Some(acc.to_string().as_bytes()));
                if fresh && rate == 0.1 && t.iteration() == 2 {
                    slow_ranked.store(true, Ordering::SeqCst);
                }
                if control == Control::Stop {
                    return Ok(());
                }
            }
            Ok(())
        })
        .unwrap();
    let exploits: usize = store.state().trials.iter().map(|t| t.exploits.len()).sum();
    let slow = store.state().trials.iter().find(|t| {
        t.exploits
            .first()
            .is_some_and(|e| e.previous["rate"] == 0.1)
    });
    assert!(
        slow.is_some_and(|t| t.exploits[0].iteration == 2),
        "the 0.1 trial did not exploit at iteration 2"
    );
    assert_eq!(restarts.load(Ordering::SeqCst), exploits);
    for t in &store.state().trials {
        for e in &t.exploits {
            assert_ne!(e.donor, t.id);
        }
        assert_eq!(t.status, TrialStatus::Completed);
        // Ran to iteration 8: reported, or inherited with the donor's checkpoint (on a
        // loaded machine a donor can reach 8 before the exploited trial reports 2).
        let reached = t
            .iterations()
            .max(t.checkpoint.as_ref().map_or(0, |c| c.iteration));
        assert_eq!(reached, 8, "trial {}", t.id);
    }
}

#[test]
fn budgets_limit_the_experiment() {
    let mut c = TuneConfig::new("loss");
    c.samples = 100;
    c.max_trials = Some(7);
    let exp = Experiment::new("t", space("x = { uniform = [0, 1] }"), c);
    let (s, _) = exp
        .run(mem(), |t| {
            let x = t.params()["x"].as_f64().unwrap();
            t.report(&[("loss", x)], None);
            Ok(())
        })
        .unwrap();
    assert_eq!(s.trials, 7);

    let mut c = TuneConfig::new("loss");
    c.samples = 1_000_000;
    c.time_budget_s = Some(0.2);
    let exp = Experiment::new("t", space("x = { uniform = [0, 1] }"), c);
    let (s, _) = exp
        .run(mem(), |t| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            t.report(&[("loss", 1.0)], None);
            Ok(())
        })
        .unwrap();
    assert!(s.trials < 50, "{}", s.trials);
}

#[test]
fn synchronous_hyperband_pauses_and_resumes_trials_from_their_checkpoints() {
    // max_t 9, eta 3: bracket 0 takes 3 trials and runs them to 9 iterations; bracket 1
    // takes 5, pauses each at 3 iterations until all 5 are there, keeps the best 2
    // (ceil(5 / 3)) and resumes them from their checkpoints up to 9.
    let reports = Mutex::new(Vec::new());
    let (summary, store) = hyperband_experiment()
        .run(mem(), |t| {
            let x = t.params()["x"].as_f64().unwrap();
            // The checkpoint holds the iteration it was taken at.
            let from = t.checkpoint().map_or(0, |b| b[0] as usize);
            assert_eq!(from, t.iteration());
            for it in from + 1..=20 {
                reports.lock().unwrap().push((t.id(), it));
                let control = t.report(&[("loss", x + 1.0 / it as f64)], Some(&[it as u8]));
                if control == Control::Stop {
                    break;
                }
            }
            Ok(())
        })
        .unwrap();
    let iters = assert_hyperband_decisions(&summary, &store);
    // Every iteration of every trial ran exactly once (paused trials resumed from
    // their checkpoints, not from scratch).
    let mut seen = reports.into_inner().unwrap();
    seen.sort_unstable();
    let expected: Vec<(usize, usize)> = iters
        .iter()
        .enumerate()
        .flat_map(|(id, n)| (1..=*n).map(move |it| (id, it)))
        .collect();
    assert_eq!(seen, expected);
    // The two survivors were started twice (paused once), the others once... unless
    // the last trial to reach the rung was a survivor, which continues without a pause.
    let starts: usize = (0..8).map(|i| store.trial(i).unwrap().starts).sum();
    assert!((9..=10).contains(&starts), "starts {starts}");
    assert_eq!(summary.best.unwrap().params["x"].as_f64(), Some(0.1));
}

const HB_CHILD_DIR: &str = "TUNER_TEST_HYPERBAND_KILL_DIR";

/// Synchronous HyperBand with max_t 9 and eta 3 over eight values of `x`, two trials at
/// a time.
fn hyperband_experiment() -> Experiment {
    let mut c = TuneConfig::new("loss");
    c.max_concurrent = 2;
    c.scheduler = SchedulerSpec::Hyperband {
        reduction_factor: 3.0,
        max_t: 9,
    };
    Experiment::new(
        "t",
        space("x = { grid = [0.7, 0.6, 0.5, 0.4, 0.1, 0.3, 0.2, 0.9] }"),
        c,
    )
}

fn hyperband_objective(t: &mut tuner::TrialContext<'_>) -> Result<(), tuner::TrialError> {
    let x = t.params()["x"].as_f64().unwrap();
    let from = t.checkpoint().map_or(0, |b| b[0] as usize);
    for it in from + 1..=20 {
        if t.report(&[("loss", x + 1.0 / it as f64)], Some(&[it as u8])) == Control::Stop {
            break;
        }
    }
    Ok(())
}

/// What [`hyperband_experiment`] decides on [`hyperband_objective`]'s losses: trials that
/// reached max_t (9) completed, the 3 cut at bracket 1's milestone stopped early.
/// Bracket 1 = trials 3..8 with x = 0.4, 0.1, 0.3, 0.2, 0.9: the best two at the cut are
/// trials 4 (0.1) and 6 (0.2). Returns the iterations of each trial.
fn assert_hyperband_decisions(summary: &tuner::Summary, store: &Store) -> Vec<usize> {
    assert_eq!(
        (summary.trials, summary.completed, summary.stopped_early),
        (8, 5, 3)
    );
    let iters: Vec<usize> = (0..8)
        .map(|i| store.trial(i).unwrap().iterations())
        .collect();
    assert_eq!(iters, vec![9, 9, 9, 3, 9, 3, 9, 3]);
    iters
}

/// Kills the process (no unwinding: as `kill -9`) at a given result.
struct AbortAt(usize, usize);

impl tuner::TrialObserver for AbortAt {
    fn trial_result(&mut self, trial: &TrialRecord, result: &tuner::store::ResultRow) {
        if (trial.id, result.iteration) == (self.0, self.1) {
            std::process::abort();
        }
    }
}

/// Run by `hyperband_resumes_after_a_kill_with_the_same_decisions` in a child process.
#[test]
#[ignore = "helper: run as a child process by hyperband_resumes_after_a_kill_with_the_same_decisions"]
fn child_killed_during_hyperband() {
    let Ok(dir) = std::env::var(HB_CHILD_DIR) else {
        return;
    };
    let store = Store::create(std::path::Path::new(&dir), "t", Value::Null).unwrap();
    // Killed when trial 6 reaches bracket 1's first milestone (3): some of the bracket
    // are paused, some have not started.
    let _ = hyperband_experiment()
        .observe(Box::new(AbortAt(6, 3)))
        .run(store, hyperband_objective);
}

#[test]
fn hyperband_resumes_after_a_kill_with_the_same_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let exp_dir = dir.path().join("exp");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_killed_during_hyperband",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HB_CHILD_DIR, &exp_dir)
        .status()
        .unwrap();
    assert!(!status.success(), "the child was not killed");
    let store = Store::open(&exp_dir).unwrap();
    assert!(store.state().trials.iter().any(|t| !t.status.is_finished()));
    let (summary, store) = hyperband_experiment()
        .run(store, hyperband_objective)
        .unwrap();
    // The same decisions as an uninterrupted run (see the test above).
    assert_hyperband_decisions(&summary, &store);
    for t in &store.state().trials {
        let its: Vec<usize> = t.history.iter().map(|r| r.iteration).collect();
        assert_eq!(
            its,
            (1..=t.iterations()).collect::<Vec<_>>(),
            "trial {}",
            t.id
        );
    }
}
