//! End-to-end runs of the `forecast` binary on the shipped datasets.

use serde_json::Value;

mod common;
use common::{
    dataset, fails, model_json, ok, predict_json, root, train_args, usage_error,
    MSFT_NEXT_TRADING_DAYS,
};

#[test]
fn help_lists_commands_with_examples() {
    let top = ok(&["--help"]);
    for cmd in ["train", "predict", "backtest", "features", "tune", "runs"] {
        assert!(top.contains(cmd), "{cmd} missing from --help");
    }
    for cmd in ["train", "predict", "backtest", "features"] {
        let h = ok(&[cmd, "--help"]);
        assert!(
            h.contains("Examples:") && h.contains(&format!("forecast {cmd}")),
            "{cmd}"
        );
    }
}

#[test]
fn train_then_predict_business_days_with_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("M");
    let m = m.to_str().unwrap();
    let msft = dataset("msft_daily.csv");
    let out = ok(&train_args(&msft, "close", "naive", m, &["--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "naive");
    assert_eq!(v["fit"]["nobs"], 7983);
    let model = model_json(&dir.path().join("M"));
    for key in [
        "kind",
        "config",
        "fit",
        "format_version",
        "data",
        "fingerprint",
        "crate_version",
    ] {
        assert!(model.get(key).is_some(), "model.json lacks {key}");
    }
    assert!(dir.path().join("M/MLmodel").is_file());

    let v = predict_json(m, "10", &["--level", "80,95"]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    // 2017-11-10 is a Friday: the next 10 NYSE trading days (Thanksgiving, 2017-11-23,
    // skipped; the calendar is detected from the file's missing weekdays).
    for (row, day) in rows.iter().zip(MSFT_NEXT_TRADING_DAYS) {
        assert_eq!(row["timestamp"], day);
        let f = row["forecast"].as_f64().unwrap();
        for l in ["80", "95"] {
            assert!(row[format!("lower_{l}")].as_f64().unwrap() < f);
            assert!(row[format!("upper_{l}")].as_f64().unwrap() > f);
        }
        assert_eq!(f, 83.87); // the last close
    }

    let csv = ok(&["predict", "--model", m, "--horizon", "2"]);
    assert!(
        csv.starts_with(
            "timestamp,forecast,lower_80,upper_80,lower_95,upper_95\n2017-11-13,83.87,"
        ),
        "{csv}"
    );
}

#[test]
fn predict_conditions_on_new_data_without_refit() {
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.csv");
    let text = std::fs::read_to_string(dataset("airpassengers.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&short, lines[..lines.len() - 12].join("\n")).unwrap();
    let m = dir.path().join("M");
    let m = m.to_str().unwrap();
    ok(&train_args(
        short.to_str().unwrap(),
        "passengers",
        "seasonal-naive",
        m,
        &[],
    ));
    let before = ok(&["predict", "--model", m, "--horizon", "1"]);
    assert!(before.contains("1960-01-01"), "{before}");
    let after = ok(&[
        "predict",
        "--model",
        m,
        "--horizon",
        "1",
        "--data",
        &dataset("airpassengers.csv"),
    ]);
    // Anchored on the full data: next month after 1960-12, value of 1960-01 (417).
    assert!(after.contains("\n1961-01-01,417,"), "{after}");
}

#[test]
fn backtest_reports_metrics_beside_naive() {
    let out = ok(&[
        "backtest",
        "--data",
        &dataset("airpassengers.csv"),
        "--target",
        "passengers",
        "--model",
        "seasonal-naive",
        "--horizon",
        "12",
        "--folds",
        "5",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["model"], "seasonal-naive");
    assert_eq!(v["horizon"], 12);
    assert_eq!(v["folds"], 5);
    for part in [&v["metrics"], &v["baseline"]["naive"]] {
        for key in [
            "mae",
            "rmse",
            "mape",
            "smape",
            "mase",
            "directional_accuracy",
        ] {
            assert!(part[key].is_number(), "{key} in {part}");
        }
    }
    // Seasonal naive beats naive on a seasonal series.
    assert!(
        v["metrics"]["mase"].as_f64().unwrap() < v["baseline"]["naive"]["mase"].as_f64().unwrap()
    );
}

#[test]
fn bad_inputs_give_one_error_line_and_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let cases = [
        (
            write(
                "unsorted.csv",
                "date,close\n2020-01-02,1\n2020-01-01,2\n2020-01-03,3\n",
            ),
            "line 3",
        ),
        (
            write(
                "dup.csv",
                "date,close\n2020-01-01,1\n2020-01-01,2\n2020-01-03,3\n",
            ),
            "duplicate",
        ),
        (
            write(
                "text.csv",
                "date,close\n2020-01-01,1\n2020-01-02,x\n2020-01-03,3\n",
            ),
            "non-numeric",
        ),
        (
            write(
                "nan.csv",
                "date,close\n2020-01-01,1\n2020-01-02,NaN\n2020-01-03,3\n",
            ),
            "non-finite",
        ),
        (
            write(
                "missing.csv",
                "date,close\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n",
            ),
            "missing value",
        ),
        (write("empty.csv", ""), "no data rows"),
        (write("header.csv", "date,close\n"), "no data rows"),
        (
            write("nocol.csv", "date,price\n2020-01-01,1\n2020-01-02,2\n"),
            "'close' not found",
        ),
        (
            write("short.csv", "date,close\n2020-01-01,1\n"),
            "too few rows",
        ),
        (
            dir.path().join("absent.csv").display().to_string(),
            "absent.csv",
        ),
    ];
    for (i, (path, expect)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        let e = fails(&train_args(
            path,
            "close",
            "naive",
            out.to_str().unwrap(),
            &[],
        ));
        assert!(e.contains(expect), "{path}: {e}");
        assert!(!out.exists(), "{path}: output left behind");
    }
    let out = dir.path().join("o");
    let os = out.to_str().unwrap();
    let air = dataset("airpassengers.csv");
    let e = fails(&train_args(
        &air,
        "passengers",
        "seasonal-naive",
        os,
        &["--set", "hidden=3"],
    ));
    assert!(e.contains("hidden"), "{e}");
    // An unknown kind is a usage error; the message lists the kinds there are.
    let e = usage_error(&train_args(&air, "passengers", "wavenet", os, &[]));
    assert!(e.contains("wavenet") && e.contains("auto-arima"), "{e}");
    assert!(!out.exists());
    let e = fails(&[
        "predict",
        "--model",
        out.to_str().unwrap(),
        "--horizon",
        "3",
    ]);
    assert!(e.contains("not found"), "{e}");
    let e = fails(&[
        "predict",
        "--model",
        dir.path().to_str().unwrap(),
        "--horizon",
        "3",
        "--level",
        "120",
    ]);
    assert!(
        e.contains("missing model.json") || e.contains("level"),
        "{e}"
    );
}

#[test]
fn damaged_artifacts_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("M");
    let ms = m.to_str().unwrap();
    ok(&train_args(
        &dataset("wineind.csv"),
        "sales",
        "drift",
        ms,
        &[],
    ));
    let json = std::fs::read_to_string(m.join("model.json")).unwrap();

    std::fs::write(m.join("model.json"), &json[..json.len() / 2]).unwrap();
    assert!(fails(&["predict", "--model", ms, "--horizon", "2"]).contains("truncated"));

    let newer = json.replacen("\"format_version\": 1", "\"format_version\": 99", 1);
    std::fs::write(m.join("model.json"), newer).unwrap();
    assert!(fails(&["predict", "--model", ms, "--horizon", "2"]).contains("newer"));

    std::fs::write(m.join("model.json"), &json).unwrap();
    std::fs::remove_file(m.join("MLmodel")).unwrap();
    assert!(fails(&["predict", "--model", ms, "--horizon", "2"]).contains("missing MLmodel"));
}

#[test]
fn features_match_talib_in_parquet_and_csv() {
    use forecast_core::data::{load, LoadOptions};
    let dir = tempfile::tempdir().unwrap();
    // TA-Lib's table, with empty warm-up cells.
    let text = std::fs::read_to_string(
        root().join("crates/forecast-core/tests/reference/indicators_msft.csv"),
    )
    .unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for ext in ["parquet", "csv"] {
        let out = dir.path().join(format!("F.{ext}"));
        ok(&[
            "features",
            "--data",
            &dataset("msft_daily.csv"),
            "--indicators",
            "sma:20,ema:12,rsi:14,macd,bbands:20,returns,log_returns,volatility:20",
            "--output",
            out.to_str().unwrap(),
        ]);
        // Warm-up cells are empty by design: read back dropping those rows.
        let frame = load(
            &out,
            &LoadOptions {
                missing: forecast_core::MissingPolicy::Drop,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            frame.len(),
            rows.len() - 33,
            "{ext}: MACD's warm-up is the longest"
        );
        let n = frame.len();
        let offset = rows.len() - n; // rows dropped at the start (warm-up)
        let mut checked = 0;
        for (j, name) in header.iter().enumerate().skip(2) {
            let ours = frame.column(name).unwrap();
            for (i, v) in ours.iter().enumerate() {
                let theirs: f64 = rows[i + offset][j].parse().unwrap();
                assert!(
                    (v - theirs).abs() <= 1e-9 * theirs.abs() || (v - theirs).abs() <= 1e-12,
                    "{ext} {name} row {i}: {v} vs {theirs}"
                );
            }
            checked += 1;
        }
        assert_eq!(checked, 12, "{ext}");
        assert!(
            frame.column("volume").is_ok() && frame.column("open").is_ok(),
            "input columns kept"
        );
    }
}
