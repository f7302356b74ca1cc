//! `forecast report --model` and `--backtest`, and `forecast backtest --json --report`,
//! through the binary: one self-contained page whose chart data holds the forecast
//! `forecast predict` makes, and bad inputs that fail naming the file, writing nothing.

use serde_json::Value;
use std::path::Path;

mod common;
use common::{dataset, fails, model_json, ok, points, predict_json, train_args};

/// The chart data of a report page (`<script type="application/json"
/// id="forecast-report-data">`), after checking that the page loads nothing from
/// elsewhere.
fn report_data(html_path: &Path) -> Value {
    let html = std::fs::read_to_string(html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "one HTML page");
    assert_eq!(html.matches("<html").count(), 1);
    let open = "<script type=\"application/json\" id=\"forecast-report-data\">";
    let data_at = html.find(open).expect("the chart data block");
    // The markup before the inlined scripts (whose code mentions tags as strings).
    let markup = &html[..data_at];
    for external in ["<script", "<link", "<img", "src=", "href=\"http"] {
        assert!(!markup.contains(external), "the page loads {external}…");
    }
    assert!(!html.contains("<script src"), "every script is inlined");
    let start = data_at + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end].replace("<\\/", "</")).expect("chart data is JSON")
}

/// The option of the chart with element id `id`.
fn chart<'a>(data: &'a Value, id: &str) -> &'a Value {
    &data["charts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no chart '{id}'"))["option"]
}

/// The non-null values of the series named `name` of a chart option (a band's upper
/// series carries `lo` and `hi` in each point).
fn series<'a>(option: &'a Value, name: &str) -> Vec<&'a Value> {
    option["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .flat_map(|s| s["data"].as_array().unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn model_reports_hold_the_forecast_predict_makes() {
    let dir = tempfile::tempdir().unwrap();
    let air = dataset("airpassengers.csv");
    let msft = dataset("msft_daily.csv");
    let cases: [(&str, &str, &str, &[&str]); 3] = [
        (&air, "passengers", "seasonal-naive", &[]),
        (
            &air,
            "passengers",
            "arima",
            &[
                "--set",
                "order=0,1,1",
                "--set",
                "seasonal_order=0,1,1,12",
                "--transform",
                "log",
            ],
        ),
        (&msft, "close", "drift", &[]),
    ];
    for (data, target, kind, extra) in cases {
        let model = dir.path().join(kind);
        let m = model.to_str().unwrap();
        ok(&train_args(data, target, kind, m, extra));
        let season = model_json(&model)["season_length"].as_u64().unwrap() as usize;
        let horizon = (2 * season).max(10);
        let out = dir.path().join(format!("{kind}.html"));
        ok(&["report", "--model", m, "--out", out.to_str().unwrap()]);
        let data = report_data(&out);
        assert_eq!(
            data["charts"][0]["id"], "forecast",
            "{kind}: the forecast chart comes first"
        );
        let fc = chart(&data, "forecast");
        let want = predict_json(m, &horizon.to_string(), &["--level", "80,95"]);
        let got: Vec<f64> = series(fc, "forecast")
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(
            got,
            points(&want),
            "{kind}: the report's forecast is predict's"
        );
        // The 95% band's points carry predict's bounds.
        let upper: Vec<&Value> = series(fc, "95%")
            .into_iter()
            .filter(|p| p["band"] == "upper")
            .collect();
        assert_eq!(upper.len(), horizon, "{kind}");
        for (p, row) in upper.iter().zip(want["rows"].as_array().unwrap()) {
            assert_eq!(p["lo"], row["lower_95"], "{kind}");
            assert_eq!(p["hi"], row["upper_95"], "{kind}");
        }
        // The bands come widest first so the narrower draws on top.
        let names: Vec<&str> = fc["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        let (p95, p80) = (
            names.iter().position(|n| *n == "95%").unwrap(),
            names.iter().position(|n| *n == "80%").unwrap(),
        );
        assert!(p95 < p80, "{kind}: {names:?}");
        // x labels: the history the artifact keeps, then the forecast's timestamps.
        let x = fc["xAxis"]["data"].as_array().unwrap();
        let times: Vec<&Value> = want["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["timestamp"])
            .collect();
        assert_eq!(
            x[x.len() - horizon..].iter().collect::<Vec<_>>(),
            times,
            "{kind}"
        );
        assert!(
            x.len() > horizon,
            "{kind}: some history before the forecast"
        );
    }
}

/// The first array named `key` anywhere in `v`.
fn find_array<'a>(v: &'a Value, key: &str) -> Option<&'a Vec<Value>> {
    match v {
        Value::Object(m) => m.iter().find_map(|(k, x)| match x {
            Value::Array(a) if k == key => Some(a),
            _ => find_array(x, key),
        }),
        Value::Array(a) => a.iter().find_map(|x| find_array(x, key)),
        _ => None,
    }
}

#[test]
fn a_network_report_draws_the_loss_of_every_epoch_it_trained() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("lstm");
    let model = model.to_str().unwrap();
    ok(&train_args(
        &dataset("airpassengers.csv"),
        "passengers",
        "lstm",
        model,
        &[
            "--horizon",
            "3",
            "--set",
            "epochs=3",
            "--set",
            "hidden_size=8",
            "--set",
            "lookback=12",
        ],
    ));
    let page = dir.path().join("lstm.html");
    ok(&["report", "--model", model, "--out", page.to_str().unwrap()]);
    let data = report_data(&page);
    let loss = chart(&data, "training-loss");
    // The artifact's per-epoch record, drawn epoch by epoch.
    let saved = model_json(Path::new(model));
    let history = find_array(&saved, "history").expect("per-epoch losses in model.json");
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(loss["xAxis"]["data"], serde_json::json!(["1", "2", "3"]));
    let drawn = series(loss, "training loss");
    for (d, h) in drawn.iter().zip(history) {
        assert_eq!(**d, h["train_loss"]);
    }
    assert_eq!(drawn.len(), 3);
}

#[test]
fn bad_model_inputs_fail_naming_the_path_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let o = out.to_str().unwrap();
    let missing = dir.path().join("no-such-model");
    let e = fails(&["report", "--model", missing.to_str().unwrap(), "--out", o]);
    assert!(e.contains("no-such-model"), "{e}");
    assert!(!out.exists());

    let model = dir.path().join("snaive");
    let m = model.to_str().unwrap();
    ok(&train_args(
        &dataset("airpassengers.csv"),
        "passengers",
        "seasonal-naive",
        m,
        &[],
    ));
    let file = model.join("model.json");
    let text = std::fs::read(&file).unwrap();
    std::fs::write(&file, &text[..text.len() / 2]).unwrap();
    let e = fails(&["report", "--model", m, "--out", o]);
    assert!(e.contains("snaive") && e.contains("model.json"), "{e}");
    assert!(!out.exists());
}

#[test]
fn backtests_print_their_windows_and_report_them() {
    let dir = tempfile::tempdir().unwrap();
    let air = dataset("airpassengers.csv");
    let inline = dir.path().join("inline.html");
    let text = ok(&[
        "backtest",
        "--data",
        &air,
        "--target",
        "passengers",
        "--model",
        "seasonal-naive",
        "--horizon",
        "12",
        "--folds",
        "3",
        "--json",
        "--report",
        inline.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_str(&text).unwrap();
    for key in ["model", "horizon", "folds", "metrics", "baseline"] {
        assert!(doc.get(key).is_some(), "{key} is kept");
    }
    let windows = doc["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3);
    // The last fold ends at the last row (1960-12); its origin is the row before.
    assert_eq!(windows[2]["origin"], "1959-12-01");
    assert_eq!(windows[2]["ds"][11], "1960-12-01");
    assert_eq!(windows[2]["actual"][11], 432.0);
    // The seasonal naive forecast is the value a year before the step.
    assert_eq!(windows[2]["forecast"][11], 405.0);
    assert_eq!(windows[2]["naive"][0], 405.0);

    let json_path = dir.path().join("bt.json");
    std::fs::write(&json_path, &text).unwrap();
    let out = dir.path().join("bt.html");
    ok(&[
        "report",
        "--backtest",
        json_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    for page in [&inline, &out] {
        let data = report_data(page);
        assert_eq!(data["charts"][0]["id"], "backtest");
        let c = chart(&data, "backtest");
        let f: Vec<f64> = series(c, "origin 1959-12-01")
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let want: Vec<f64> = windows[2]["forecast"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(f, want);
    }
}

#[test]
fn bad_backtest_inputs_fail_naming_the_file_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let o = out.to_str().unwrap();
    let cases = [
        (
            "no-folds.json",
            r#"{"model":"drift","horizon":5,"folds":0,"windows":[]}"#,
            "no folds",
        ),
        (
            "old.json",
            r#"{"model":"drift","horizon":5,"folds":2,"metrics":{}}"#,
            "re-run forecast backtest --json",
        ),
        ("table.json", "model,mae\ndrift,1.0\n", "not JSON"),
    ];
    for (name, body, says) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let e = fails(&["report", "--backtest", p.to_str().unwrap(), "--out", o]);
        assert!(e.contains(name) && e.contains(says), "{name}: {e}");
        assert!(!out.exists(), "{name}");
    }
    let e = fails(&[
        "report",
        "--backtest",
        dir.path().join("gone.json").to_str().unwrap(),
        "--out",
        o,
    ]);
    assert!(e.contains("gone.json"), "{e}");
    assert!(!out.exists());
}
