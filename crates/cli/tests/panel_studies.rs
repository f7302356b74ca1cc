//! Panels in `experiment run` and `tune`: a study over every series of a panel (rolling
//! origins, or competition-style against a test file) and a search whose objective is
//! the pooled metric over the panel's series.

mod common;

use common::{backtest_json, dataset, isolated, m3_subset, ok, run_ok};
use serde_json::Value;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run_study(dir: &Path, spec: &str) -> Value {
    let path = dir.join("study.toml");
    std::fs::write(&path, spec).unwrap();
    let out = dir.join("results");
    let json = run_ok(isolated(&dir.join("runs")).args([
        "experiment",
        "run",
        s(&path),
        "--out",
        s(&out),
        "--json",
    ]));
    serde_json::from_str(&json).unwrap()
}

#[test]
fn an_m3_study_scores_every_series_against_the_test_file() {
    let dir = tempfile::tempdir().unwrap();
    let train = m3_subset(dir.path(), "m3_monthly_train.csv", 10);
    let test = m3_subset(dir.path(), "m3_monthly_test.csv", 10);
    let spec = format!(
        r#"
name = "m3-subset"
[data]
path = "{}"
[evaluation]
test = "{}"
[[model]]
kind = "seasonal-naive"
[[model]]
kind = "auto-arima"
"#,
        s(&train),
        s(&test)
    );
    let r = run_study(dir.path(), &spec);
    assert_eq!(r["series"], 10);
    assert_eq!(r["id_column"], "unique_id");
    let h = &r["results"][0];
    assert_eq!(h["horizon"], 18);
    let rows = h["models"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["naive", "seasonal-naive", "auto-arima"]);
    // Each row is what `backtest --test` gives for that model on the same files.
    for row in rows {
        let kind = row["kind"].as_str().unwrap();
        let direct = backtest_json(&train, kind, &["--test", s(&test), "--horizon", "18"]);
        assert_eq!(row["series"], 10, "{kind}");
        for k in ["mae", "smape", "mase"] {
            let (a, b) = (
                row["metrics"][k].as_f64().unwrap(),
                direct["metrics"][k].as_f64().unwrap(),
            );
            // Same fits on the same data: equal to rounding.
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "{kind} {k}: {a} vs {b}"
            );
        }
        assert_eq!(row["naive"]["smape"], direct["baseline"]["naive"]["smape"]);
    }
    let md = std::fs::read_to_string(dir.path().join("results/m3-subset.md")).unwrap();
    assert!(md.contains("10 series (id column `unique_id`)"), "{md}");
    assert!(md.contains("test rows (up to 18 steps per series)"), "{md}");

    // A test file with folds, or a series missing from the training data, is refused.
    let e = isolated(&dir.path().join("runs"))
        .args(["experiment", "run"])
        .arg({
            let p = dir.path().join("bad.toml");
            std::fs::write(&p, spec.replace("[evaluation]", "[evaluation]\nfolds = 2")).unwrap();
            p
        })
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        !e.status.success() && err.contains("evaluation.test"),
        "{err}"
    );
}

#[test]
fn a_rolling_origin_study_runs_over_every_ticker() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset("techstocks_daily.csv");
    let spec = format!(
        r#"
name = "tickers"
[data]
path = "{data}"
target = "close"
[evaluation]
horizons = [5]
folds = 3
[[model]]
kind = "drift"
"#
    );
    let r = run_study(dir.path(), &spec);
    assert_eq!(r["id_column"], "ticker");
    let drift = &r["results"][0]["models"][1];
    assert_eq!(drift["name"], "drift");
    let direct = backtest_json(
        Path::new(&data),
        "drift",
        &["--target", "close", "--horizon", "5", "--folds", "3"],
    );
    assert_eq!(drift["series"], direct["series"]);
    assert_eq!(drift["metrics"], direct["metrics"]);
    assert_eq!(drift["naive"], direct["baseline"]["naive"]);
}

#[test]
fn tuning_a_panel_picks_the_best_pooled_model_and_saves_a_panel_model() {
    let dir = tempfile::tempdir().unwrap();
    let train = m3_subset(dir.path(), "m3_monthly_train.csv", 8);
    let out = dir.path().join("exp");
    let spec = dir.path().join("tune.toml");
    std::fs::write(
        &spec,
        format!(
            r#"
name = "panel-kinds"
[data]
path = "{}"
[model]
kind = "naive"
horizon = 12
[space]
kind = {{ grid = ["naive", "seasonal-naive", "drift"] }}
[evaluation]
kind = "backtest"
folds = 2
[tune]
metric = "backtest_mase"
mode = "min"
samples = 1
max_concurrent = 1
search = "grid"
scheduler = "fifo"
seed = 1
out = "{}"
"#,
            s(&train),
            s(&out)
        ),
    )
    .unwrap();
    let json =
        run_ok(isolated(&dir.path().join("runs")).args(["tune", "--spec", s(&spec), "--json"]));
    let v: Value = serde_json::from_str(&json).unwrap();
    // The objective of each kind is the pooled backtest MASE over the 8 series.
    let mut want: Vec<(f64, &str)> = ["naive", "seasonal-naive", "drift"]
        .iter()
        .map(|k| {
            let d = backtest_json(&train, k, &["--horizon", "12", "--folds", "2"]);
            assert_eq!(d["series"], 8);
            (d["metrics"]["mase"].as_f64().unwrap(), *k)
        })
        .collect();
    want.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(v["best"]["params"]["kind"], want[0].1, "{v}");
    let got = v["best"]["metric"].as_f64().unwrap();
    assert!((got - want[0].0).abs() < 1e-12, "{got} vs {:?}", want[0]);
    // The best model is a panel model: it forecasts every series.
    let csv = ok(&[
        "predict",
        "--model",
        s(&out.join("best_model")),
        "--horizon",
        "3",
    ]);
    assert_eq!(csv.lines().count(), 1 + 8 * 3, "{csv}");
    assert!(
        csv.starts_with(&format!("unique_id,ds,{}", want[0].1)),
        "{csv}"
    );
}

#[test]
fn panel_train_and_backtest_are_recorded_as_runs() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let train = m3_subset(dir.path(), "m3_yearly_train.csv", 6);
    let test = m3_subset(dir.path(), "m3_yearly_test.csv", 6);
    let model = dir.path().join("m");
    run_ok(isolated(&runs).args([
        "train",
        "--data",
        s(&train),
        "--model",
        "drift",
        "--out",
        s(&model),
    ]));
    let out = run_ok(isolated(&runs).args([
        "backtest",
        "--data",
        s(&train),
        "--test",
        s(&test),
        "--model",
        "drift",
        "--horizon",
        "6",
        "--json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = common::runs_list(&runs);
    assert_eq!(rows.len(), 2);
    let mut names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["backtest-drift", "train-drift"]);
    for r in &rows {
        assert_eq!(r["status"], "FINISHED", "{r}");
        let id = r["id"].as_str().unwrap();
        let show = common::runs_json(&runs, &["show", &id[..20]]);
        let run = &show["run"];
        assert_eq!(run["tags"]["forecast.panel"], "unique_id");
        assert_eq!(run["params"]["panel.series"], "6");
        if r["name"] == "backtest-drift" {
            assert_eq!(run["params"]["backtest.evaluation"], "test");
            let logged = show["latest_metrics"]["smape"]["value"].as_f64().unwrap();
            assert_eq!(logged, v["metrics"]["smape"].as_f64().unwrap());
            assert_eq!(show["latest_metrics"]["panel.scored"]["value"], 6.0);
        } else {
            assert_eq!(show["latest_metrics"]["panel.fitted"]["value"], 6.0);
            assert!(run["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["path"] == "model/panel.json"));
        }
    }
}
