//! `forecast report` for market data, tuning studies and results, through the binary on
//! the shipped data: the page is written and holds the charts and tables it should; bad
//! input fails with an error that names the file and writes nothing.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

mod common;
use common::{dataset, failed, m3_subset, ok, root, train_args};

/// `forecast` run from the repository root (specs name data relative to it), its
/// tracking kept in `runs`.
fn forecast_in_root(runs: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_forecast"));
    c.current_dir(root())
        .env("FORECAST_RUNS_DIR", runs)
        .env_remove("MLFLOW_TRACKING_URI");
    c
}

/// The charts' JSON block of a written page.
fn page_data(html: &Path) -> Value {
    let text = std::fs::read_to_string(html).unwrap();
    let start = text
        .find("id=\"forecast-report-data\">")
        .expect("the page's data block")
        + "id=\"forecast-report-data\">".len();
    let end = start + text[start..].find("</script>").unwrap();
    serde_json::from_str(&text[start..end].replace("<\\/", "</")).unwrap()
}

fn chart<'a>(data: &'a Value, id: &str) -> &'a Value {
    data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no chart {id}"))
}

fn series_names(option: &Value) -> Vec<String> {
    option["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Runs a report that must fail: exit status 1, one error line naming `names`, no file.
fn report_fails(args: &[&str], out: &Path, names: &str) -> String {
    let mut all = vec!["report"];
    all.extend(args);
    all.extend(["--out", out.to_str().unwrap()]);
    let o = Command::new(env!("CARGO_BIN_EXE_forecast"))
        .args(&all)
        .output()
        .unwrap();
    let stderr = failed(&o, &format!("{all:?}"));
    assert!(stderr.contains(names), "{all:?}: {stderr}");
    assert!(!out.exists(), "{all:?} wrote {}", out.display());
    stderr
}

#[test]
fn market_report_of_msft_with_a_model_forecast() {
    let dir = tempfile::tempdir().unwrap();
    let msft = dataset("msft_daily.csv");
    let model = dir.path().join("naive");
    ok(&train_args(
        &msft,
        "close",
        "naive",
        model.to_str().unwrap(),
        &[],
    ));
    let out = dir.path().join("market.html");
    ok(&[
        "report",
        "--data",
        &msft,
        "--model",
        model.to_str().unwrap(),
        "--horizon",
        "10",
        "--out",
        out.to_str().unwrap(),
    ]);
    let data = page_data(&out);
    let option = &chart(&data, "market")["option"];
    assert_eq!(option["grid"].as_array().unwrap().len(), 4);
    let names = series_names(option);
    for want in [
        "close",
        "sma_20",
        "sma_50",
        "bb_upper_20",
        "volume",
        "rsi_14",
        "macd",
        "macd_signal",
        "macd_hist",
        "forecast (naive)",
        "95%",
        "80%",
    ] {
        assert!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    let rows = std::fs::read_to_string(&msft).unwrap().lines().count() - 1;
    let x = option["xAxis"][0]["data"].as_array().unwrap();
    assert_eq!(x.len(), rows + 10);
    let candles = &option["series"][0];
    assert_eq!(candles["type"], "candlestick");
    let last_line = std::fs::read_to_string(&msft).unwrap();
    let last: Vec<f64> = last_line
        .lines()
        .last()
        .unwrap()
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    // [open, close, low, high] of the last bar, as in the file.
    assert_eq!(
        candles["data"][rows - 1],
        serde_json::json!([last[0], last[3], last[2], last[1]])
    );
}

#[test]
fn market_report_bad_input_names_the_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.html");
    let missing = dir.path().join("missing.csv");
    report_fails(&["--data", missing.to_str().unwrap()], &out, "missing.csv");
    let msft = dataset("msft_daily.csv");
    let e = report_fails(
        &["--data", &msft, "--indicators", "sma:20,wobble:3"],
        &out,
        "msft_daily.csv",
    );
    assert!(e.contains("wobble:3"), "{e}");
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "date,open,high,low,close,volume\n").unwrap();
    report_fails(&["--data", empty.to_str().unwrap()], &out, "empty.csv");
}

#[test]
fn study_report_of_the_baseline_grid() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    let o = forecast_in_root(&dir.path().join("runs"))
        .args([
            "tune",
            "--spec",
            "experiments/airpassengers-baselines-grid.toml",
            "--json",
            "--out",
        ])
        .arg(&study)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    let out = dir.path().join("study.html");
    ok(&[
        "report",
        "--study",
        study.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let data = page_data(&out);
    let objective = &chart(&data, "objective")["option"];
    // 16 completed trials, and the running best ends at the study's best.
    assert_eq!(objective["series"][0]["data"].as_array().unwrap().len(), 16);
    let best_line = objective["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "best so far")
        .unwrap();
    let last = best_line["data"].as_array().unwrap().last().unwrap();
    assert_eq!(last["value"][1], summary["best"]["metric"]);
    // One scatter per parameter: kind and transform on category axes.
    let params: Vec<&Value> = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("param-"))
        .collect();
    assert_eq!(params.len(), 3);
    assert!(params
        .iter()
        .any(|c| c["option"]["xAxis"]["type"] == "category"
            && c["option"]["title"]["text"] == "kind"));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("Best configuration"));
    assert!(html.contains("id=\"trials\""));
    assert_eq!(html.matches("<tr><td>").count(), 16);
}

#[test]
fn study_report_bad_locations_fail_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.html");
    let missing = dir.path().join("no-such-study");
    report_fails(
        &["--study", missing.to_str().unwrap()],
        &out,
        "no-such-study",
    );
    let e = report_fails(
        &["--study", "postgresql://tuner@127.0.0.1:1/studies"],
        &out,
        "cannot connect",
    );
    assert!(e.contains("postgresql://"), "{e}");
    report_fails(
        &["--study", missing.to_str().unwrap(), "--study-name", "x"],
        &out,
        "PostgreSQL",
    );
    let corrupt = dir.path().join("corrupt");
    std::fs::create_dir(&corrupt).unwrap();
    std::fs::write(corrupt.join("state.json"), "{\"version\": 1").unwrap();
    report_fails(&["--study", corrupt.to_str().unwrap()], &out, "state.json");
}

#[test]
fn results_report_of_an_experiment_and_of_a_panel_backtest() {
    let dir = tempfile::tempdir().unwrap();
    // A shipped experiment.
    let exp = root().join("experiments/results/quick-airpassengers.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&exp).unwrap()).unwrap();
    let out = dir.path().join("exp.html");
    ok(&[
        "report",
        "--results",
        exp.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let data = page_data(&out);
    let bars = &chart(&data, "main-metric")["option"];
    let models = doc["results"][0]["models"].as_array().unwrap();
    assert_eq!(
        bars["xAxis"]["data"].as_array().unwrap().len(),
        models.len()
    );
    assert_eq!(bars["series"][0]["data"][0], models[0]["metrics"]["mase"]);

    // A panel's backtest on 30 M3 series.
    let train = m3_subset(dir.path(), "m3_monthly_train.csv", 30);
    let test = m3_subset(dir.path(), "m3_monthly_test.csv", 30);
    let bt = ok(&[
        "backtest",
        "--data",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--model",
        "theta",
        "--horizon",
        "18",
        "--json",
    ]);
    let bt_path = dir.path().join("bt.json");
    std::fs::write(&bt_path, &bt).unwrap();
    let bt: Value = serde_json::from_str(&bt).unwrap();
    let out = dir.path().join("panel.html");
    ok(&[
        "report",
        "--results",
        bt_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let data = page_data(&out);
    let small: Vec<&Value> = data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let id = c["id"].as_str().unwrap();
            id.starts_with("best-") || id.starts_with("worst-")
        })
        .collect();
    assert_eq!(small.len(), 12);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("id=\"series\""));
    let per_series = bt["per_series"].as_array().unwrap();
    assert_eq!(per_series.len(), 30);
    // The best series is the one with the JSON's lowest MASE, drawn as its test steps:
    // actual and forecast, by date.
    let best_series = per_series
        .iter()
        .filter(|s| s["metrics"]["mase"].is_f64())
        .min_by(|a, b| {
            let m = |s: &Value| s["metrics"]["mase"].as_f64().unwrap();
            m(a).total_cmp(&m(b))
        })
        .unwrap();
    let best = &small[0]["option"];
    let title = best["title"]["text"].as_str().unwrap();
    assert!(
        title.contains(best_series["unique_id"].as_str().unwrap()),
        "{title}"
    );
    assert_eq!(best["xAxis"]["data"], best_series["ds"]);
    let line = |name: &str| {
        best["series"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()["data"]
            .clone()
    };
    assert_eq!(line("actual"), best_series["actual"]);
    assert_eq!(line("forecast"), best_series["forecast"]);
    assert_eq!(best_series["actual"].as_array().unwrap().len(), 18);
}

#[test]
fn results_report_bad_input_names_the_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let missing = dir.path().join("missing.json");
    report_fails(
        &["--results", missing.to_str().unwrap()],
        &out,
        "missing.json",
    );
    let invalid = dir.path().join("invalid.json");
    std::fs::write(&invalid, "{\"results\": [").unwrap();
    report_fails(
        &["--results", invalid.to_str().unwrap()],
        &out,
        "invalid.json",
    );
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"rows\": []}").unwrap();
    let e = report_fails(&["--results", other.to_str().unwrap()], &out, "other.json");
    assert!(e.contains("per_series"), "{e}");
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{\"name\": \"x\", \"results\": []}").unwrap();
    report_fails(&["--results", empty.to_str().unwrap()], &out, "empty.json");
}
