//! The forecast origin: a model trained with a validation or test part forecasts from the
//! period after the last row of its file, exactly as `predict --data` on the whole file
//! does; trading-day data continues on the exchange's calendar.

use serde_json::Value;
use std::path::Path;

mod common;
use common::{dataset, model_json, ok, predict_json, train_args, MSFT_NEXT_TRADING_DAYS};

/// Each model kind with settings small enough for a debug-build test (the neural ones
/// train a few epochs; what is checked is where the forecast starts, not its quality).
const KINDS: &[(&str, &[&str])] = &[
    ("naive", &[]),
    ("seasonal-naive", &[]),
    ("drift", &[]),
    ("mean", &[]),
    ("arima", &["--order", "1,1,1", "--seasonal", "0,1,1,12"]),
    ("auto-arima", &[]),
    ("theta", &[]),
    ("auto-theta", &[]),
    (
        "lstm",
        &[
            "--horizon",
            "3",
            "--set",
            "epochs=2",
            "--set",
            "hidden_size=8",
            "--set",
            "lookback=12",
        ],
    ),
    (
        "transformer",
        &[
            "--horizon",
            "3",
            "--set",
            "epochs=2",
            "--set",
            "d_model=8",
            "--set",
            "num_heads=2",
            "--set",
            "ff_size=16",
            "--set",
            "lookback=12",
        ],
    ),
];

fn points(v: &Value) -> Vec<(String, f64)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["timestamp"].as_str().unwrap().to_string(),
                r["forecast"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// `train` with `split` then `predict` without `--data` forecasts 1961-01.. (the file
/// ends at 1960-12) and equals `predict --data` on the whole file to 1e-9.
fn check_origin(split: &str) {
    let data = dataset("airpassengers.csv");
    let dir = tempfile::tempdir().unwrap();
    for (kind, extra) in KINDS {
        let m = dir.path().join(format!("{kind}{split}"));
        let ms = m.to_str().unwrap();
        let mut args = train_args(
            &data,
            "passengers",
            kind,
            ms,
            &["--transform", "log", split, "0.1"],
        );
        args.extend_from_slice(extra);
        ok(&args);
        let model = model_json(&m);
        let d = &model["data"];
        assert_eq!(d["conditioned_rows"], 144, "{kind} {split}: {d}");
        assert!(
            d["fitted_rows"].as_u64().unwrap() < 144,
            "{kind} {split}: {d}"
        );
        assert_eq!(d["last_timestamp"], "1960-12-01T00:00:00", "{kind} {split}");
        let h = "3";
        let plain = predict_json(ms, h, &[]);
        let whole = predict_json(ms, h, &["--data", &data]);
        let (a, b) = (points(&plain), points(&whole));
        let days: Vec<&str> = a.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            days,
            ["1961-01-01", "1961-02-01", "1961-03-01"],
            "{kind} {split}"
        );
        for ((ta, va), (tb, vb)) in a.iter().zip(&b) {
            assert_eq!(ta, tb, "{kind} {split}");
            assert!(
                (va - vb).abs() <= 1e-9 * vb.abs().max(1.0),
                "{kind} {split}: {va} vs predict --data {vb}"
            );
        }
        // The scored parts are still reported.
        let key = if split == "--test-fraction" {
            "test"
        } else {
            "valid"
        };
        assert_eq!(
            model["fit"][key]["rows"], 14,
            "{kind} {split}: {}",
            model["fit"]
        );
    }
}

#[test]
fn every_kind_forecasts_after_the_last_row_with_a_test_part() {
    check_origin("--test-fraction");
}

#[test]
fn every_kind_forecasts_after_the_last_row_with_a_validation_part() {
    check_origin("--valid-fraction");
}

#[test]
fn refit_final_refits_on_every_row() {
    let data = dataset("airpassengers.csv");
    let dir = tempfile::tempdir().unwrap();
    // ARIMA: the refitted coefficients differ from the scored fit's, and are those of a
    // fit on the whole file.
    let (scored, refit, full) = (
        dir.path().join("scored"),
        dir.path().join("refit"),
        dir.path().join("full"),
    );
    let train = |out: &Path, more: &[&str]| {
        let mut a = train_args(
            &data,
            "passengers",
            "arima",
            out.to_str().unwrap(),
            &[
                "--order",
                "0,1,1",
                "--seasonal",
                "0,1,1,12",
                "--transform",
                "log",
            ],
        );
        a.extend_from_slice(more);
        ok(&a);
        model_json(out)
    };
    let s = train(&scored, &["--test-fraction", "0.1"]);
    let r = train(&refit, &["--test-fraction", "0.1", "--refit-final"]);
    let f = train(&full, &[]);
    assert_eq!(r["data"]["fitted_rows"], 144);
    assert_eq!(s["data"]["fitted_rows"], 130);
    assert_eq!(r["fit"]["coef"], f["fit"]["coef"]);
    assert_ne!(r["fit"]["coef"], s["fit"]["coef"]);
    assert_eq!(
        r["fit"]["test"], s["fit"]["test"],
        "the scores are the scored fit's"
    );
    let p = points(&predict_json(refit.to_str().unwrap(), "1", &[]));
    assert_eq!(p[0].0, "1961-01-01");

    // Neural: trained on every window for the best epoch count, no early stopping.
    let nn = dir.path().join("nn");
    ok(&train_args(
        &data,
        "passengers",
        "lstm",
        nn.to_str().unwrap(),
        &[
            "--transform",
            "log",
            "--horizon",
            "3",
            "--set",
            "epochs=3",
            "--set",
            "hidden_size=8",
            "--set",
            "lookback=12",
            "--valid-fraction",
            "0.15",
            "--refit-final",
        ],
    ));
    let m = model_json(&nn);
    assert_eq!(m["data"]["fitted_rows"], 144);
    assert_eq!(m["fit"]["valid_windows"], 0, "{}", m["fit"]);
    assert!(m["fit"]["valid_loss"].is_null(), "{}", m["fit"]);
    assert_eq!(m["fit"]["stopped_by"], "epochs");
    let p = predict_json(nn.to_str().unwrap(), "3", &["--level", "80"]);
    let row = &p["rows"][0];
    assert_eq!(row["timestamp"], "1961-01-01");
    // The split-conformal intervals of the scored fit are kept.
    assert!(row["lower_80"].as_f64().unwrap() < row["forecast"].as_f64().unwrap());
}

#[test]
fn msft_forecasts_skip_nyse_holidays() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("M");
    let ms = m.to_str().unwrap();
    let data = dataset("msft_daily.csv");
    let drift = |extra: &[&str]| ok(&train_args(&data, "close", "drift", ms, extra));
    drift(&["--test-fraction", "0.1"]);
    assert_eq!(model_json(&m)["data"]["calendar"], "nyse");
    let v = predict_json(ms, "10", &[]);
    let days: Vec<String> = points(&v).into_iter().map(|(t, _)| t).collect();
    // The file ends on Friday 2017-11-10; Thursday 2017-11-23 is Thanksgiving.
    assert_eq!(days, MSFT_NEXT_TRADING_DAYS);
    // --calendar business keeps plain weekdays.
    drift(&["--calendar", "business"]);
    assert_eq!(model_json(&m)["data"]["calendar"], "business");
    let v = predict_json(ms, "9", &[]);
    assert_eq!(points(&v)[8].0, "2017-11-23");
}
