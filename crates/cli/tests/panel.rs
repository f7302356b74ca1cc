//! Many series in one command: train, predict and backtest on panels (long tables,
//! folders), with statsforecast-style outputs and per-series failures.

mod common;

use common::{backtest_json, dataset, fails, forecast, m3_subset, ok};
use forecast_core::data::{load_data, Data, LoadOptions, PanelOptions};
use serde_json::Value;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn m3_subset_trains_predicts_as_parquet_and_scores_against_the_test_file() {
    let dir = tempfile::tempdir().unwrap();
    let train = m3_subset(dir.path(), "m3_monthly_train.csv", 12);
    let test = m3_subset(dir.path(), "m3_monthly_test.csv", 12);
    let model = dir.path().join("m3");
    // --target defaults to y, the id column to unique_id, the time column to ds.
    ok(&[
        "train",
        "--data",
        s(&train),
        "--model",
        "auto-arima",
        "--out",
        s(&model),
    ]);
    assert!(model.join("panel.json").is_file() && model.join("series.jsonl").is_file());

    let out = dir.path().join("f.parquet");
    ok(&[
        "predict",
        "--model",
        s(&model),
        "--horizon",
        "18",
        "--level",
        "80,95",
        "--format",
        "parquet",
        "--output",
        s(&out),
    ]);
    // Read the Parquet back: one forecast of 18 steps per series, statsforecast's names.
    let opts = PanelOptions {
        id_column: None,
        load: LoadOptions {
            required: vec!["auto-arima".into()],
            ..Default::default()
        },
        wide: None,
    };
    let Data::Panel(p) = load_data(&out, &opts).unwrap() else {
        panic!("not a panel")
    };
    assert_eq!(p.id_column, "unique_id");
    assert_eq!(p.len(), 12);
    let m = &p.members[0];
    assert_eq!(m.frame.len(), 18);
    assert_eq!(m.frame.time_column.as_deref(), Some("ds"));
    let names = m.frame.column_names();
    assert_eq!(
        names,
        [
            "auto-arima",
            "auto-arima-lo-95",
            "auto-arima-lo-80",
            "auto-arima-hi-80",
            "auto-arima-hi-95"
        ]
    );
    let (point, lo95, hi95) = (
        m.frame.column("auto-arima").unwrap(),
        m.frame.column("auto-arima-lo-95").unwrap(),
        m.frame.column("auto-arima-hi-95").unwrap(),
    );
    for i in 0..18 {
        assert!(lo95[i] < point[i] && point[i] < hi95[i]);
    }

    // The CSV form, a subset of ids, and a user's alias.
    let csv = ok(&[
        "predict",
        "--model",
        s(&model),
        "--horizon",
        "2",
        "--level",
        "80",
        "--ids",
        &p.members[3].id,
        "--alias",
        "AutoARIMA",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "unique_id,ds,AutoARIMA,AutoARIMA-lo-80,AutoARIMA-hi-80"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with(&format!("{},", p.members[3].id)));
    // The forecast starts the month after each series' last training row: the first
    // test row's date.
    let first_test = std::fs::read_to_string(&test).unwrap();
    let want = first_test
        .lines()
        .find(|l| l.starts_with(&format!("{},", p.members[3].id)))
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(lines[1].split(',').nth(1).unwrap(), want);

    // Competition-style scoring against the test file: per-series and pooled metrics.
    let v = backtest_json(
        &train,
        "seasonal-naive",
        &["--test", s(&test), "--horizon", "18"],
    );
    assert_eq!(v["series"], 12);
    assert_eq!(v["rows"], 12 * 18);
    assert_eq!(v["evaluation"], "test");
    let per: &Vec<Value> = v["per_series"].as_array().unwrap();
    assert_eq!(per.len(), 12);
    // Pooled = the unweighted mean over series.
    let mean = per
        .iter()
        .map(|s| s["metrics"]["smape"].as_f64().unwrap())
        .sum::<f64>()
        / 12.0;
    assert!((v["metrics"]["smape"].as_f64().unwrap() - mean).abs() < 1e-9);
}

#[test]
fn a_short_series_fails_by_name_or_is_skipped_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("short.csv");
    let mut text = String::from("unique_id,ds,y\n");
    for (id, n) in [("long", 40), ("tiny", 5)] {
        for i in 0..n {
            text.push_str(&format!(
                "{id},{}-{:02}-01,{}\n",
                2000 + i / 12,
                i % 12 + 1,
                10 + i % 7
            ));
        }
    }
    std::fs::write(&data, text).unwrap();
    let model = dir.path().join("m");
    let e = fails(&[
        "train",
        "--data",
        s(&data),
        "--model",
        "seasonal-naive",
        "--out",
        s(&model),
    ]);
    assert!(
        e.contains("series 'tiny'") && e.contains("--short skip"),
        "{e}"
    );
    let json = ok(&[
        "train",
        "--data",
        s(&data),
        "--model",
        "seasonal-naive",
        "--short",
        "skip",
        "--json",
        "--out",
        s(&model),
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["series"], 1);
    assert_eq!(v["skipped"][0]["unique_id"], "tiny");
    let out = forecast(&[
        "predict",
        "--model",
        s(&model),
        "--horizon",
        "3",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["series"], 1);
    assert_eq!(v["rows"].as_array().unwrap().len(), 3);
    assert_eq!(v["skipped"][0]["unique_id"], "tiny");
    assert!(v["rows"][0]["seasonal-naive"].is_number());
}

#[test]
fn a_failing_series_is_reported_and_the_others_are_still_written() {
    // A log transform cannot take a non-positive value: that series fails, the
    // others are fitted, saved and forecast; the exit status says some failed.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("p.csv");
    let mut text = String::from("ticker,date,close\n");
    for (id, base) in [("AAA", 10.0), ("NEG", -5.0), ("ZZZ", 20.0)] {
        for d in 0..30 {
            let day = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(d);
            text.push_str(&format!("{id},{day},{}\n", base + (d % 5) as f64));
        }
    }
    std::fs::write(&data, text).unwrap();
    let model = dir.path().join("m");
    let out = forecast(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "close",
        "--model",
        "naive",
        "--transform",
        "log",
        "--out",
        s(&model),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed: series 'NEG'"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let csv = ok(&[
        "predict",
        "--model",
        s(&model),
        "--horizon",
        "1",
        "--level",
        "80",
    ]);
    let ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, ["AAA", "ZZZ"]);
}

#[test]
fn a_folder_of_ticker_files_backtests_with_rolling_origins_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(dataset("techstocks_daily.csv")).unwrap();
    let folder = dir.path().join("lake");
    std::fs::create_dir_all(&folder).unwrap();
    for t in ["AAPL", "GOOG", "MSFT"] {
        let mut body = String::from("date,close\n");
        for l in src.lines().filter(|l| l.starts_with(&format!("{t},"))) {
            body.push_str(l.split_once(',').unwrap().1);
            body.push('\n');
        }
        std::fs::write(folder.join(format!("{t}.csv")), body).unwrap();
    }
    // Drift, 3 folds of 5 steps, as JSON.
    let drift = |data: &str| -> Value {
        let json = ok(&[
            "backtest",
            "--data",
            data,
            "--target",
            "close",
            "--model",
            "drift",
            "--horizon",
            "5",
            "--folds",
            "3",
            "--json",
        ]);
        serde_json::from_str(&json).unwrap()
    };
    let v = drift(s(&folder));
    assert_eq!(v["series"], 3);
    assert_eq!(v["evaluation"], "rolling");
    assert_eq!(v["rows"], 3 * 3 * 5);
    let ids: Vec<&str> = v["per_series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["unique_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["AAPL", "GOOG", "MSFT"]);
    // The long file gives the same figures as the folder.
    let w = drift(&dataset("techstocks_daily.csv"));
    assert_eq!(w["metrics"], v["metrics"]);
    assert_eq!(w["baseline"], v["baseline"]);
}

#[test]
fn one_series_scores_against_a_test_file_too() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dataset("airpassengers.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (head, rows) = (lines[0], &lines[1..]);
    let train = dir.path().join("train.csv");
    let test = dir.path().join("test.csv");
    std::fs::write(&train, format!("{head}\n{}\n", rows[..132].join("\n"))).unwrap();
    std::fs::write(&test, format!("{head}\n{}\n", rows[132..].join("\n"))).unwrap();
    let json = ok(&[
        "backtest",
        "--model",
        "seasonal-naive",
        "--horizon",
        "12",
        "--data",
        s(&train),
        "--test",
        s(&test),
        "--target",
        "passengers",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["rows"], 12);
    // Seasonal naive over the last year: this year's value against last year's.
    let y: Vec<f64> = rows
        .iter()
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    let mae = (0..12)
        .map(|i| (y[132 + i] - y[120 + i]).abs())
        .sum::<f64>()
        / 12.0;
    assert!((v["metrics"]["mae"].as_f64().unwrap() - mae).abs() < 1e-9);
}

#[test]
fn a_wide_file_trains_one_model_per_target_column() {
    let dir = tempfile::tempdir().unwrap();
    // Three monthly columns; LATE starts two years after the others.
    let mut body = String::from("date,north,south,LATE,note\n");
    for i in 0..60 {
        let season = ((i % 12) as f64 - 6.0).abs();
        let late = if i >= 24 {
            format!("{}", 50.0 + season)
        } else {
            String::new()
        };
        body.push_str(&format!(
            "{}-{:02}-01,{},{},{late},text\n",
            2015 + i / 12,
            i % 12 + 1,
            100.0 + season + i as f64,
            200.0 - season
        ));
    }
    let data = dir.path().join("wide.csv");
    std::fs::write(&data, body).unwrap();
    let model = dir.path().join("m");
    ok(&[
        "train",
        "--data",
        s(&data),
        "--target",
        "*",
        "--model",
        "seasonal-naive",
        "--out",
        s(&model),
    ]);
    let csv = ok(&["predict", "--model", s(&model), "--horizon", "2"]);
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(ids, ["north", "north", "south", "south", "LATE", "LATE"]);
    // Seasonal naive repeats the value 12 months back: January 2020 is January 2019.
    assert_eq!(rows[0][1], "2020-01-01");
    assert_eq!(rows[4][2].parse::<f64>().unwrap(), 56.0);
    // Listed columns only, and a named error for a column that is not numeric.
    let csv = ok(&[
        "backtest",
        "--data",
        s(&data),
        "--target",
        "north,LATE",
        "--model",
        "naive",
        "--horizon",
        "3",
        "--folds",
        "2",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&csv).unwrap();
    assert_eq!(v["series"], 2);
    let e = fails(&[
        "backtest",
        "--data",
        s(&data),
        "--target",
        "north,note",
        "--model",
        "naive",
        "--horizon",
        "3",
    ]);
    assert!(e.contains("series 'note'"), "{e}");
}

#[test]
fn shards_cover_the_panel_once_and_merge_into_the_whole_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let train = m3_subset(dir.path(), "m3_quarterly_train.csv", 7);
    let test = m3_subset(dir.path(), "m3_quarterly_test.csv", 7);
    let bt = |extra: &[&str]| -> String {
        let mut args = vec![
            "backtest",
            "--data",
            s(&train),
            "--test",
            s(&test),
            "--model",
            "drift",
            "--horizon",
            "8",
            "--json",
        ];
        args.extend(extra);
        ok(&args)
    };
    let whole: Value = serde_json::from_str(&bt(&[])).unwrap();
    let mut files = vec![];
    let mut ids: Vec<String> = vec![];
    for i in 1..=3 {
        let text = bt(&["--shard", &format!("{i}/3")]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["shard"], format!("{i}/3"));
        for p in v["per_series"].as_array().unwrap() {
            ids.push(p["unique_id"].as_str().unwrap().to_string());
        }
        let f = dir.path().join(format!("s{i}.json"));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    // Shards 1/3, 2/3, 3/3 hold 3, 2 and 2 of the 7 series, each once.
    ids.sort();
    let mut all: Vec<String> = whole["per_series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["unique_id"].as_str().unwrap().to_string())
        .collect();
    all.sort();
    assert_eq!(ids, all);
    let merged: Value =
        serde_json::from_str(&ok(&["merge", s(&files[0]), s(&files[1]), s(&files[2])])).unwrap();
    assert_eq!(merged["series"], 7);
    assert_eq!(merged["shards"], 3);
    assert_eq!(merged["rows"], whole["rows"]);
    for k in ["mae", "rmse", "smape", "mase"] {
        let (a, b) = (
            merged["metrics"][k].as_f64().unwrap(),
            whole["metrics"][k].as_f64().unwrap(),
        );
        // The same per-series values averaged in another order.
        assert!((a - b).abs() <= 1e-12 * b.abs(), "{k}: {a} vs {b}");
    }
    // A missing or repeated shard is refused.
    let e = fails(&["merge", s(&files[0]), s(&files[1])]);
    assert!(e.contains("shards missing: 3/3"), "{e}");
    let e = fails(&["merge", s(&files[0]), s(&files[0]), s(&files[2])]);
    assert!(e.contains("given twice"), "{e}");
    let e = fails(&[
        "backtest",
        "--data",
        &dataset("airpassengers.csv"),
        "--target",
        "passengers",
        "--model",
        "naive",
        "--horizon",
        "3",
        "--shard",
        "1/2",
    ]);
    assert!(e.contains("one series"), "{e}");
}

#[test]
fn a_network_on_a_panel_is_one_global_model_that_also_forecasts_new_series() {
    // Three tickers of the shipped panel: one LSTM for all of them.
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(dataset("techstocks_daily.csv")).unwrap();
    let mut header = src.lines().next().unwrap().to_string();
    header.push('\n');
    let rows = |tickers: &[&str], last: usize| -> String {
        let mut body = header.clone();
        for t in tickers {
            let mine: Vec<&str> = src
                .lines()
                .filter(|l| l.starts_with(&format!("{t},")))
                .collect();
            for l in &mine[mine.len() - last..] {
                body.push_str(l);
                body.push('\n');
            }
        }
        body
    };
    let train = dir.path().join("train.csv");
    std::fs::write(&train, rows(&["AAPL", "GOOG", "MSFT"], 120)).unwrap();
    let model = dir.path().join("lstm");
    let net = [
        "--set",
        "hidden_size=8",
        "--set",
        "num_layers=1",
        "--set",
        "lookback=10",
        "--set",
        "epochs=2",
    ];
    let mut args = vec![
        "train",
        "--data",
        s(&train),
        "--target",
        "close",
        "--model",
        "lstm",
        "--horizon",
        "3",
        "--out",
        s(&model),
        "--json",
    ];
    args.extend(net);
    let v: Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(v["series"], 3);
    // One network for the panel, saved once beside the series' own scalers.
    assert!(model.join("weights.bpk").is_file());
    assert!(model.join("series.jsonl").is_file());

    let csv = ok(&[
        "predict",
        "--model",
        s(&model),
        "--horizon",
        "3",
        "--level",
        "80",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "unique_id,ds,lstm,lstm-lo-80,lstm-hi-80");
    assert_eq!(lines.len(), 1 + 3 * 3);

    // A ticker the network never saw (MSFT's last 60 closes, tripled, under a new
    // name), from --data: forecast with its own scaling.
    let new = dir.path().join("new.csv");
    let mut body = rows(&["MSFT"], 60);
    let closes: Vec<f64> = rows(&["MSFT"], 60)
        .lines()
        .skip(1)
        .map(|l| 3.0 * l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .collect();
    for l in rows(&["MSFT"], 60).lines().skip(1) {
        let (_, rest) = l.split_once(',').unwrap();
        let (date, close) = rest.split_once(',').unwrap();
        body.push_str(&format!(
            "NEWCO,{date},{}\n",
            3.0 * close.parse::<f64>().unwrap()
        ));
    }
    std::fs::write(&new, body).unwrap();
    let csv = ok(&[
        "predict",
        "--model",
        s(&model),
        "--horizon",
        "3",
        "--data",
        s(&new),
        "--ids",
        "NEWCO",
    ]);
    let newco: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| {
            assert!(l.starts_with("NEWCO,"), "{l}");
            l.split(',').nth(2).unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(newco.len(), 3);
    let (lo, hi) = closes
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    for p in newco {
        assert!(
            p > 0.8 * lo && p < 1.2 * hi,
            "NEWCO forecast {p} vs [{lo}, {hi}]"
        );
    }

    // The backtest of the panel trains one network per fold.
    let v = backtest_json(
        &train,
        "lstm",
        &[
            ["--target", "close", "--horizon", "3", "--folds", "2"].as_slice(),
            &net,
        ]
        .concat(),
    );
    assert_eq!(v["series"], 3);
    assert_eq!(v["rows"], 3 * 2 * 3);
}
