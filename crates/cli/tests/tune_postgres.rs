//! `forecast tune --storage postgresql://...`: one study shared by several real
//! processes through a real PostgreSQL (127.0.0.1:5432, trust auth). Each test makes a
//! database of its own and drops it at the end. Without a server the tests say SKIPPED
//! (FORECAST_REQUIRE_POSTGRES=1, as CI sets, makes that a failure). The tests that
//! restart the server or need password authentication run a throwaway cluster of their
//! own (`forecast_test_support::pg::Cluster`: initdb in a temporary directory, a free
//! port, `scram-sha-256`).

use forecast_test_support::pg::TestDb;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn forecast() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forecast"));
    c.current_dir(repo()).env_remove("MLFLOW_TRACKING_URI");
    if std::env::var_os("FORECAST_RUNS_DIR").is_none() {
        c.env(
            "FORECAST_RUNS_DIR",
            std::env::temp_dir().join("forecast-tune-tests-runs"),
        );
    }
    c
}

/// Poll `cond` every 20 ms until it holds, failing after `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A small LSTM on the airline passengers, with ASHA: cheap, deterministic per trial,
/// and several epochs per trial for the scheduler's rungs (1, 3 and 9 epochs).
fn asha_spec(dir: &Path, name: &str, samples: usize, hidden: &str) -> PathBuf {
    let path = dir.join(format!("{name}-{samples}-{}.toml", hidden.len()));
    std::fs::write(
        &path,
        format!(
            r#"
name = "{name}"
[data]
path = "{}"
target = "passengers"
[model]
kind = "lstm"
horizon = 1
transform = "log"
seed = 5
[model.config]
epochs = 9
num_layers = 1
batch_size = 32
patience = 0
[space]
hidden_size = {{ choice = {hidden} }}
lookback = {{ choice = [6, 12] }}
learning_rate = {{ loguniform = [1e-3, 5e-2] }}
[evaluation]
kind = "valid"
fraction = 0.2
[tune]
metric = "valid_loss"
mode = "min"
samples = {samples}
max_concurrent = 1
threads_per_trial = 1
search = "random"
scheduler = {{ kind = "asha", grace_period = 1, reduction_factor = 3, max_t = 9 }}
seed = 7
"#,
            repo().join("datasets/airpassengers.csv").display()
        ),
    )
    .unwrap();
    path
}

fn tune(spec: &Path, url: &str, out: &Path, extra: &[&str]) -> Command {
    let mut c = forecast();
    c.args(["tune", "--json", "--storage", url, "--spec"])
        .arg(spec)
        .arg("--out")
        .arg(out)
        .args(extra);
    c
}

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "tune failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stdout));
    })
}

/// numpy's linear percentile of sorted values.
fn percentile(v: &[f64], p: f64) -> f64 {
    let pos = p / 100.0 * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    if i + 1 < v.len() {
        v[i] + (v[i + 1] - v[i]) * frac
    } else {
        v[i]
    }
}

#[test]
fn four_workers_and_a_writer_run_a_40_trial_asha_study_once_each() {
    let Some(db) = TestDb::new("cli") else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = asha_spec(dir.path(), "shared-asha", 40, "[2, 4]");
    let url = db.url();
    let started = Instant::now();
    let mut workers: Vec<(PathBuf, Child)> = (0..4)
        .map(|i| {
            let out = dir.path().join(format!("worker-{i}"));
            let child = tune(&spec, &url, &out, &["--worker"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    let main_out = dir.path().join("study");
    let writer = tune(&spec, &url, &main_out, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut outputs: Vec<Output> = Vec::new();
    for (out, child) in workers.drain(..) {
        let o = child.wait_with_output().unwrap();
        let v = stdout_json(&o);
        assert_eq!(v["trials"], 40, "{v}");
        // A worker writes nothing of the study's output.
        assert!(!out.join("trials.csv").exists());
        assert!(!out.join("best.json").exists());
        assert!(!out.join("best_model").exists());
        outputs.push(o);
    }
    let w = stdout_json(&writer.wait_with_output().unwrap());
    assert_eq!(w["trials"], 40, "{w}");
    eprintln!(
        "40 trials on 5 processes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The writer's output directory, from the database.
    let csv = std::fs::read_to_string(main_out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), 41, "{csv}");
    let ids: BTreeSet<usize> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..40).collect());
    assert!(main_out.join("best_model/model.json").is_file());
    let best: Value =
        serde_json::from_str(&std::fs::read_to_string(main_out.join("best.json")).unwrap())
            .unwrap();
    assert_eq!(best["summary"]["best"]["trial"], w["best"]["trial"]);
    assert_eq!(best["summary"]["trials"], 40);

    let mut c = db.client();
    let version: i32 = c
        .query_one("SELECT max(version) FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
    // Exactly 40 trials, each finished, each started once, no parameters twice.
    let rows = c
        .query(
            "SELECT id, status, starts, params::text, worker FROM trials ORDER BY id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 40);
    let mut params = BTreeSet::new();
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.get::<_, i32>(0), i as i32);
        let status: String = r.get(1);
        assert!(
            status == "completed" || status == "stopped",
            "trial {i}: {status}"
        );
        assert_eq!(r.get::<_, i32>(2), 1, "trial {i} started more than once");
        assert!(
            params.insert(r.get::<_, String>(3)),
            "trial {i}: params twice"
        );
        *by_worker.entry(r.get(4)).or_default() += 1;
    }
    eprintln!("trials by process: {by_worker:?}");
    assert!(
        by_worker.len() >= 2,
        "one process ran every trial: {by_worker:?}"
    );
    let stopped: i64 = c
        .query_one("SELECT count(*) FROM trials WHERE status = 'stopped'", &[])
        .unwrap()
        .get(0);
    assert!(stopped > 0, "ASHA stopped no trial");

    // ASHA's invariants, from the stored decisions in the order they were made: at rungs
    // 1 and 3, a trial stopped there was worse than the rung's cut (the best third of
    // the results recorded there before it), and a promoted one was not; a stopped
    // trial reported nothing after its rung; at max_t every trial stops.
    let decisions = c
        .query(
            "SELECT trial_id, iteration, loss, action FROM decisions ORDER BY seq",
            &[],
        )
        .unwrap();
    let mut rungs: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut last_iteration: BTreeMap<i32, i32> = BTreeMap::new();
    for r in c
        .query(
            "SELECT trial_id, max(iteration) FROM results GROUP BY trial_id",
            &[],
        )
        .unwrap()
    {
        last_iteration.insert(r.get(0), r.get(1));
    }
    let mut checked = 0;
    for d in &decisions {
        let (trial, it, loss, action): (i32, i32, f64, String) =
            (d.get(0), d.get(1), d.get(2), d.get(3));
        assert!(
            seen.insert((trial, it)),
            "trial {trial} decided twice at {it}"
        );
        if it == 9 {
            assert_eq!(action, "stop");
            continue;
        }
        if it != 1 && it != 3 {
            assert_eq!(action, "continue", "trial {trial} stopped between rungs");
            continue;
        }
        let recorded = rungs.entry(it).or_default();
        let cut = (!recorded.is_empty()).then(|| percentile(recorded, 100.0 / 3.0));
        match action.as_str() {
            "stop" => {
                let cut = cut.expect("stopped with nothing to compare at the rung");
                assert!(
                    loss > cut,
                    "trial {trial} stopped at {it} with {loss} <= cut {cut}"
                );
                assert_eq!(
                    last_iteration[&trial], it,
                    "trial {trial} ran past its stop"
                );
            }
            _ => {
                if let Some(cut) = cut {
                    assert!(
                        loss <= cut,
                        "trial {trial} promoted at {it} with {loss} > cut {cut}"
                    );
                }
                assert!(
                    last_iteration[&trial] > it,
                    "promoted trial {trial} did not go on"
                );
            }
        }
        let at = recorded.partition_point(|x| *x < loss);
        recorded.insert(at, loss);
        checked += 1;
    }
    assert_eq!(
        rungs.get(&1).map(Vec::len),
        Some(40),
        "every trial reaches rung 1"
    );
    assert!(checked >= 40);

    // A process with another spec under the same name is refused, and writes nothing.
    let other = asha_spec(dir.path(), "shared-asha", 40, "[3, 5]");
    let refused_out = dir.path().join("refused");
    let o = tune(&other, &url, &refused_out, &[]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("study 'shared-asha'") && err.contains("another spec"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !refused_out.exists(),
        "the refused process wrote its output directory"
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM trials", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 40);
}

#[test]
fn an_unreachable_database_is_a_clear_error_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let spec = asha_spec(dir.path(), "unreachable", 4, "[2]");
    let start = Instant::now();
    let o = tune(
        &spec,
        "postgresql://postgres@127.0.0.1:1/none",
        &dir.path().join("out"),
        &["--worker"],
    )
    .output()
    .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("127.0.0.1:1") && err.contains("cannot connect"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    // Not tracked in MLflow yet: asking for it is an error, not a silent no-op.
    let o = tune(
        &spec,
        "postgresql://postgres@127.0.0.1:1/none",
        &dir.path().join("out"),
        &["--tracking-uri", "http://127.0.0.1:1"],
    )
    .output()
    .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--tracking-uri"));
    let o = tune(&spec, "mysql://x@y/z", &dir.path().join("out"), &[])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--storage"));
}

#[test]
fn a_killed_workers_trial_is_taken_over_from_its_checkpoint() {
    let Some(db) = TestDb::new("cli") else { return };
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("kill.toml");
    // One LSTM trial of 40 epochs on 8,000 MSFT closes: long enough to be killed in
    // the middle, checkpointed after every epoch.
    std::fs::write(
        &spec,
        format!(
            r#"
name = "shared-kill"
[data]
path = "{}"
target = "close"
[model]
kind = "lstm"
horizon = 1
transform = "log"
seed = 3
[model.config]
epochs = 40
num_layers = 1
batch_size = 64
patience = 0
hidden_size = 8
lookback = 10
[evaluation]
kind = "valid"
fraction = 0.2
[tune]
metric = "valid_loss"
samples = 1
max_concurrent = 1
threads_per_trial = 1
"#,
            repo().join("datasets/msft_daily.csv").display()
        ),
    )
    .unwrap();
    let url = db.url();
    let out = dir.path().join("study");
    let beat = ["--heartbeat-interval", "0.2", "--heartbeat-grace", "1.5"];
    let mut first = tune(&spec, &url, &out, &beat)
        .arg("--worker")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut c = db.client();
    wait_for(
        "a checkpoint after 3 epochs",
        Duration::from_secs(180),
        || {
            assert!(
                first.try_wait().unwrap().is_none(),
                "the worker ended before the kill"
            );
            c.query_opt(
                "SELECT 1 FROM trials WHERE id = 0 AND checkpoint_iteration >= 3",
                &[],
            )
            .ok()
            .flatten()
            .is_some()
        },
    );
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let killed_at: std::time::SystemTime = c.query_one("SELECT now()", &[]).unwrap().get(0);
    let row = c
        .query_one(
            "SELECT status, checkpoint_iteration, worker FROM trials WHERE id = 0",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "running");
    let checkpoint: i32 = row.get(1);
    let first_worker: String = row.get(2);
    assert!(checkpoint < 40);

    let o = tune(&spec, &url, &out, &beat).output().unwrap();
    let v = stdout_json(&o);
    assert_eq!(v["trials"], 1);
    let row = c
        .query_one(
            "SELECT status, starts, worker, checkpoint_iteration FROM trials WHERE id = 0",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "completed");
    assert_eq!(row.get::<_, i32>(1), 2, "taken over once");
    assert_ne!(row.get::<_, String>(2), first_worker);
    assert_eq!(row.get::<_, i32>(3), 40);
    // Every epoch reported once; those up to the checkpoint before the kill (not run
    // again), the rest after it.
    let results = c
        .query(
            "SELECT iteration, reported_at FROM results WHERE trial_id = 0 ORDER BY iteration",
            &[],
        )
        .unwrap();
    let iterations: Vec<i32> = results.iter().map(|r| r.get(0)).collect();
    assert_eq!(iterations, (1..=40).collect::<Vec<_>>());
    for r in &results {
        let (it, at): (i32, std::time::SystemTime) = (r.get(0), r.get(1));
        if it <= checkpoint {
            assert!(
                at < killed_at,
                "epoch {it} (checkpoint {checkpoint}) ran again"
            );
        } else {
            assert!(
                at > killed_at,
                "epoch {it} after the checkpoint {checkpoint} was not re-run"
            );
        }
    }
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert!(
        csv.lines().nth(1).unwrap().starts_with("0,completed,"),
        "{csv}"
    );
}

#[test]
fn a_second_resume_of_a_directory_study_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exp");
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            r#"
name = "resume-lock"
[data]
path = "{}"
target = "close"
[model]
kind = "seasonal-naive"
[space]
season_length = {{ randint = [1, 30] }}
[evaluation]
kind = "backtest"
folds = 60
horizon = 1
[tune]
metric = "backtest_mae"
samples = 400
max_concurrent = 1
seed = 1
out = "{}"
"#,
            repo().join("datasets/msft_daily.csv").display(),
            out.display()
        ),
    )
    .unwrap();
    let runs = out.join("runs.jsonl");
    let lines = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // An experiment interrupted after its first trials.
    let mut first = forecast()
        .args(["tune", "--spec"])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first trials", Duration::from_secs(120), || {
        lines() >= 4
    });
    first.kill().unwrap();
    first.wait().unwrap();

    // Two processes resume it: the first runs, the second is refused.
    let before = lines();
    let mut a = forecast()
        .args(["tune", "--resume", "--spec"])
        .arg(&spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the first resume to run trials",
        Duration::from_secs(120),
        || {
            assert!(
                a.try_wait().unwrap().is_none(),
                "the first resume ended early"
            );
            lines() > before + 2
        },
    );
    let b = forecast()
        .args(["tune", "--resume", "--spec"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(
        a.try_wait().unwrap().is_none(),
        "the first resume was disturbed"
    );
    a.kill().unwrap();
    a.wait().unwrap();
    assert!(!b.status.success());
    let err = String::from_utf8_lossy(&b.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("another process"),
        "{err}"
    );
}

/// Every trial's reported iterations run 1, 2, … without a gap or a repeat.
fn assert_results_whole(c: &mut postgres::Client, trials: usize) {
    let rows = c
        .query(
            "SELECT trial_id, array_agg(iteration ORDER BY iteration) FROM results GROUP BY trial_id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), trials, "trials with results");
    for r in rows {
        let (trial, its): (i32, Vec<i32>) = (r.get(0), r.get(1));
        let want: Vec<i32> = (1..=its.len() as i32).collect();
        assert_eq!(its, want, "trial {trial}'s iterations");
    }
}

#[test]
fn a_restarted_server_loses_and_repeats_nothing() {
    let Some(cluster) = forecast_test_support::pg::Cluster::start("study-pw") else {
        return;
    };
    let url = cluster.url("study-pw", "postgres");
    let dir = tempfile::tempdir().unwrap();
    let spec = asha_spec(dir.path(), "restarted", 12, "[2, 4]");
    let mut worker = tune(&spec, &url, &dir.path().join("worker"), &["--worker"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = dir.path().join("study");
    let mut writer = tune(&spec, &url, &out, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-study: a result is in, and both processes are still running trials.
    let finished = || {
        postgres::Client::connect(&url, postgres::NoTls)
            .ok()
            .and_then(|mut c| {
                c.query_one(
                    "SELECT (SELECT count(*) FROM results), (SELECT count(*) FROM trials WHERE status IN ('completed', 'stopped'))",
                    &[],
                )
                .ok()
            })
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
    };
    wait_for("a first result", Duration::from_secs(120), || {
        finished().is_some_and(|(results, _)| results > 0)
    });
    let (_, done_before) = finished().unwrap();
    assert!(done_before < 12, "the study finished before the restart");
    assert!(writer.try_wait().unwrap().is_none() && worker.try_wait().unwrap().is_none());
    cluster.stop();
    cluster.resume();
    let o = writer.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    eprintln!("{done_before} of 12 trials finished at the restart; the writer said:\n{err}");
    let w = stdout_json(&o);
    assert_eq!(w["trials"], 12, "{w}");
    assert_eq!(
        stdout_json(&worker.wait_with_output().unwrap())["trials"],
        12
    );
    let csv = std::fs::read_to_string(out.join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let rows = c
        .query("SELECT id, status, starts FROM trials ORDER BY id", &[])
        .unwrap();
    assert_eq!(rows.len(), 12);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.get::<_, i32>(0), i as i32);
        let status: String = r.get(1);
        assert!(status == "completed" || status == "stopped", "{status}");
        assert_eq!(r.get::<_, i32>(2), 1, "trial {i} started again: {err}");
    }
    assert_results_whole(&mut c, 12);

    // The study reported from the database (password authentication; the password is
    // never printed).
    let html = dir.path().join("study.html");
    let o = forecast()
        .args(["report", "--study", &url, "--out"])
        .arg(&html)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Tuning study: restarted"));
    assert!(!page.contains("study-pw"));
    assert_eq!(page.matches("<tr><td>").count(), 12, "one row per trial");
    let other = dir.path().join("other.html");
    let o = forecast()
        .args(["report", "--study", &url, "--study-name", "nope", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no study named 'nope'")
            && err.contains("restarted")
            && !err.contains("study-pw"),
        "{err}"
    );
    assert!(!other.exists());
}

#[test]
fn a_wrong_password_and_a_newer_schema_are_clear_errors_that_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = asha_spec(dir.path(), "refused", 4, "[2]");
    if let Some(cluster) = forecast_test_support::pg::Cluster::start("right-pw") {
        let out = dir.path().join("wrong-password");
        let start = Instant::now();
        let o = tune(&spec, &cluster.url("wrong-pw", "postgres"), &out, &[])
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with("error: ") && err.contains("password authentication failed"),
            "{err}"
        );
        assert!(
            !err.contains("wrong-pw") && !err.contains("panicked"),
            "{err}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
        assert!(!out.exists(), "wrote its output directory");
        let mut c =
            postgres::Client::connect(&cluster.url("right-pw", "postgres"), postgres::NoTls)
                .unwrap();
        let tables: i64 = c
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0, "tables written by a refused process");
    }
    // A database whose study schema is newer than this build's.
    let Some(db) = TestDb::new("cli") else { return };
    let mut c = db.client();
    c.batch_execute(
        "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO schema_version (version) VALUES (99);",
    )
    .unwrap();
    let out = dir.path().join("newer");
    let o = tune(&spec, &db.url(), &out, &[]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("version 99, newer than this build"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "wrote its output directory");
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        ["schema_version"],
        "tables written by a refused process"
    );
}
