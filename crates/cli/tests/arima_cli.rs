//! End-to-end runs of the ARIMA family through the `forecast` binary: the acceptance
//! commands of the ARIMA issue and CLI.md's ARIMA fields.

use serde_json::Value;

mod common;
use common::{dataset, fails, model_json, ok, predict_json, train_args};

/// CLI.md: ARIMA-family `"fit"` holds at least these, with finite numbers.
fn assert_arima_fields(fit: &Value) {
    for key in ["loglik", "aic", "aicc", "bic", "sigma2"] {
        assert!(
            fit[key].as_f64().is_some_and(f64::is_finite),
            "{key}: {fit}"
        );
    }
    assert_eq!(fit["order"].as_array().map(Vec::len), Some(3), "{fit}");
    assert_eq!(
        fit["seasonal_order"].as_array().map(Vec::len),
        Some(4),
        "{fit}"
    );
    assert!(fit["coef"].is_object(), "{fit}");
    assert!(fit["nobs"].as_u64().is_some(), "{fit}");
}

/// `train --model auto-arima` on AirPassengers (`air`, its path) into `out`, then `extra`.
fn auto_arima_args<'a>(air: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    train_args(air, "passengers", "auto-arima", out, extra)
}

/// `predict --level 80,95` as JSON: every row's bounds around the forecast, the 95%
/// interval wider than the 80% one, and both widening with the horizon.
fn assert_widening_intervals(model: &str, horizon: usize) {
    let v = predict_json(model, &horizon.to_string(), &["--level", "80,95"]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), horizon);
    let width = |row: &Value, l: &str| {
        row[format!("upper_{l}")].as_f64().unwrap() - row[format!("lower_{l}")].as_f64().unwrap()
    };
    for (i, row) in rows.iter().enumerate() {
        let f = row["forecast"].as_f64().unwrap();
        assert!(f.is_finite());
        assert!(row["lower_95"].as_f64().unwrap() < row["lower_80"].as_f64().unwrap());
        assert!(row["lower_80"].as_f64().unwrap() < f);
        assert!(f < row["upper_80"].as_f64().unwrap());
        assert!(width(row, "95") > width(row, "80"));
        if i > 0 {
            for l in ["80", "95"] {
                assert!(
                    width(row, l) > width(&rows[i - 1], l),
                    "{l}% interval does not widen at step {}: {v}",
                    i + 1
                );
            }
        }
    }
}

#[test]
fn arima_order_on_msft_writes_the_arima_fields() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("M");
    let ms = m.to_str().unwrap();
    let msft = dataset("msft_daily.csv");
    let out = ok(&train_args(
        &msft,
        "close",
        "arima",
        ms,
        &["--order", "2,1,2", "--json"],
    ));
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["kind"], "arima");
    let model = model_json(&m);
    assert_eq!(model["kind"], "arima");
    let fit = &model["fit"];
    assert_arima_fields(fit);
    assert_eq!(fit["order"], serde_json::json!([2, 1, 2]));
    assert_eq!(fit["nobs"], 7982);
    for name in ["ar1", "ar2", "ma1", "ma2"] {
        assert!(fit["coef"][name].as_f64().is_some(), "{name}: {fit}");
    }
    assert_widening_intervals(ms, 12);
}

#[test]
fn auto_arima_on_airpassengers_chooses_a_seasonal_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("M2");
    let ms = m.to_str().unwrap();
    let air = dataset("airpassengers.csv");
    ok(&auto_arima_args(&air, ms, &[]));
    let model = model_json(&m);
    assert_eq!(model["kind"], "auto-arima");
    let fit = &model["fit"];
    assert_arima_fields(fit);
    let so: Vec<u64> = fit["seasonal_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(so[3], 12, "{fit}");
    assert!(so[0] + so[1] + so[2] > 0, "not seasonal: {fit}");
    let search = &fit["search"];
    assert_eq!(search["ic"], "aicc");
    let n = search["n_models"].as_u64().unwrap();
    assert!((5..=94).contains(&n), "{search}");
    assert_eq!(search["models"].as_array().unwrap().len() as u64, n);
    // The chosen model's AICc is the smallest among the candidates.
    let best = search["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["ic"].as_f64())
        .fold(f64::INFINITY, f64::min);
    assert!(fit["aicc"].as_f64().unwrap() <= best + 1e-9, "{search}");
    assert_widening_intervals(ms, 12);
}

#[test]
fn auto_arima_config_keys_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("M3");
    let ms = m.to_str().unwrap();
    let air = dataset("airpassengers.csv");
    // Fixed differences and a small non-seasonal space through --set.
    ok(&auto_arima_args(
        &air,
        ms,
        &[
            "--set",
            "seasonal=false",
            "--set",
            "d=1",
            "--set",
            "max_p=1",
            "--set",
            "max_q=1",
            "--set",
            "ic=bic",
        ],
    ));
    let fit = &model_json(&m)["fit"];
    assert_eq!(fit["order"][1], 1);
    assert!(fit["order"][0].as_u64().unwrap() <= 1 && fit["order"][2].as_u64().unwrap() <= 1);
    assert_eq!(fit["seasonal_order"][3], 1);
    assert_eq!(fit["search"]["ic"], "bic");
    let out = dir.path().join("bad");
    let bad = out.to_str().unwrap();
    let e = fails(&auto_arima_args(&air, bad, &["--set", "ic=hqic"]));
    assert!(e.contains("ic"), "{e}");
    let e = fails(&auto_arima_args(&air, bad, &["--set", "max_D=2"]));
    assert!(e.contains("max_D"), "{e}");
    assert!(!out.exists());
}
