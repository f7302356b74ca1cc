//! The Theta family through the `forecast` binary: `theta` and `auto-theta` on
//! AirPassengers (against statsforecast's forecasts in the committed reference) and on
//! an M3 panel.

mod common;
use common::{
    dataset, fails, m3_subset, model_json, ok, points, predict_json, reference_fit, train_args,
};

#[test]
fn theta_and_auto_theta_train_and_predict_airpassengers_as_statsforecast_does() {
    let dir = tempfile::tempdir().unwrap();
    let air = dataset("airpassengers.csv");
    for (kind, reference, model) in [("theta", "STM", "stm"), ("auto-theta", "auto", "otm")] {
        let out = dir.path().join(kind);
        let out = out.to_str().unwrap();
        ok(&train_args(&air, "passengers", kind, out, &[]));
        let saved = model_json(dir.path().join(kind).as_path());
        assert_eq!(saved["kind"], kind);
        let fit = &saved["fit"];
        assert_eq!(fit["model"], model, "{fit}");
        assert_eq!(fit["seasonal"], true, "{fit}");
        assert_eq!(fit["decomposition"], "multiplicative", "{fit}");
        assert_eq!(fit["season_length"], 12, "{fit}");
        if kind == "auto-theta" {
            assert_eq!(fit["candidates"].as_object().map(|o| o.len()), Some(4));
        }
        let v = predict_json(out, "12", &["--level", "80,95"]);
        let want = reference_fit("theta_reference.json", "airpassengers", reference);
        // The forecasts to 1e-3 relative, as in the library's reference test.
        for (i, (o, e)) in points(&v)
            .iter()
            .zip(want["mean"].as_array().unwrap())
            .enumerate()
        {
            let e = e.as_f64().unwrap();
            assert!(
                (o - e).abs() < 1e-3 * e,
                "{kind} step {}: {o} vs {e}",
                i + 1
            );
        }
        for row in v["rows"].as_array().unwrap() {
            let f = row["forecast"].as_f64().unwrap();
            assert!(row["lower_95"].as_f64().unwrap() < row["lower_80"].as_f64().unwrap());
            assert!(row["lower_80"].as_f64().unwrap() < f && f < row["upper_80"].as_f64().unwrap());
        }
    }
}

#[test]
fn theta_variants_are_set_and_checked_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let air = dataset("airpassengers.csv");
    let out = dir.path().join("dotm");
    let out = out.to_str().unwrap();
    ok(&train_args(
        &air,
        "passengers",
        "theta",
        out,
        &["--set", "variant=dotm"],
    ));
    let saved = model_json(dir.path().join("dotm").as_path());
    assert_eq!(saved["config"]["variant"], "dotm");
    assert_eq!(saved["fit"]["model"], "dotm");
    let e = fails(&train_args(
        &air,
        "passengers",
        "theta",
        out,
        &["--set", "variant=best"],
    ));
    assert!(e.contains("variant"), "{e}");
}

#[test]
fn auto_theta_fits_an_m3_panel_one_model_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let train = m3_subset(dir.path(), "m3_quarterly_train.csv", 6);
    let model = dir.path().join("m3");
    ok(&[
        "train",
        "--data",
        train.to_str().unwrap(),
        "--model",
        "auto-theta",
        "--out",
        model.to_str().unwrap(),
    ]);
    let csv = ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--horizon",
        "8",
        "--level",
        "95",
    ]);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].contains("auto-theta-lo-95"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + 6 * 8, "{csv}");
    for line in &lines[1..] {
        let cells: Vec<f64> = line
            .split(',')
            .skip(2)
            .map(|c| c.parse::<f64>().unwrap())
            .collect();
        assert!(cells.iter().all(|v| v.is_finite()), "{line}");
    }
}
