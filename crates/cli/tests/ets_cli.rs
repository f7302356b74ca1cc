//! ETS, AutoETS and the ensemble through the `forecast` binary: on AirPassengers against
//! statsforecast's fits in the committed reference, and on an M3 panel.

mod common;
use common::{
    dataset, fails, m3_subset, model_json, ok, points, predict_json, reference_fit, train_args,
};

#[test]
fn ets_and_auto_ets_train_and_predict_airpassengers_as_statsforecast_does() {
    let dir = tempfile::tempdir().unwrap();
    let air = dataset("airpassengers.csv");
    for (kind, settings, reference, name, season) in [
        (
            "ets",
            vec!["--set", "model=AAdA"],
            "AAdA",
            "ETS(A,Ad,A)",
            12,
        ),
        ("auto-ets", vec![], "auto", "ETS(M,N,M)", 12),
        // A multiplicative trend (its intervals simulated; no season, so its seasonal
        // states have length 1).
        ("ets", vec!["--set", "model=MMN"], "MMN", "ETS(M,M,N)", 1),
    ] {
        let out = dir.path().join(reference);
        let out = out.to_str().unwrap();
        ok(&train_args(&air, "passengers", kind, out, &settings));
        let saved = model_json(dir.path().join(reference).as_path());
        assert_eq!(saved["kind"], kind);
        let fit = &saved["fit"];
        assert_eq!(fit["model"], name, "{fit}");
        assert_eq!(fit["season_length"], season, "{fit}");
        let want = reference_fit("ets_reference.json", "airpassengers", reference);
        let ll = fit["loglik"].as_f64().unwrap();
        assert!(
            ll > want["loglik"].as_f64().unwrap() - 1e-3,
            "{kind}: loglik {ll} vs {}",
            want["loglik"]
        );
        if kind == "auto-ets" {
            assert!(fit["candidates"].as_object().unwrap().len() >= 8, "{fit}");
        }
        let v = predict_json(out, "12", &["--level", "80,95"]);
        // The forecasts to 1e-3 relative (the library's reference test is tighter).
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
    let e = fails(&train_args(
        &air,
        "passengers",
        "ets",
        dir.path().join("bad").to_str().unwrap(),
        &["--set", "model=AXN"],
    ));
    assert!(e.contains("model") && e.contains("AXN"), "{e}");
}

#[test]
fn the_ensemble_averages_its_members_forecasts() {
    let dir = tempfile::tempdir().unwrap();
    let air = dataset("airpassengers.csv");
    let members = ["auto-arima", "auto-ets", "auto-theta"];
    let mut each = Vec::new();
    for kind in members {
        let out = dir.path().join(kind);
        ok(&train_args(
            &air,
            "passengers",
            kind,
            out.to_str().unwrap(),
            &[],
        ));
        each.push(points(&predict_json(out.to_str().unwrap(), "12", &[])));
    }
    let out = dir.path().join("ensemble");
    let out = out.to_str().unwrap();
    ok(&train_args(
        &air,
        "passengers",
        "ensemble",
        out,
        &["--set", "members=auto-arima,auto-ets,auto-theta"],
    ));
    let saved = model_json(dir.path().join("ensemble").as_path());
    let kinds: Vec<&str> = saved["fit"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, members);
    let v = predict_json(out, "12", &["--level", "95"]);
    for (i, o) in points(&v).iter().enumerate() {
        let mean = each.iter().map(|p| p[i]).sum::<f64>() / 3.0;
        assert!(
            (o - mean).abs() < 1e-9 * mean,
            "step {}: {o} vs {mean}",
            i + 1
        );
    }
    let e = fails(&train_args(
        &air,
        "passengers",
        "ensemble",
        dir.path().join("bad").to_str().unwrap(),
        &["--set", "members=auto-arima,lstm"],
    ));
    assert!(e.contains("members") && e.contains("lstm"), "{e}");
}

#[test]
fn auto_ets_and_the_ensemble_fit_an_m3_panel_one_model_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let train = m3_subset(dir.path(), "m3_quarterly_train.csv", 6);
    for kind in ["auto-ets", "ensemble"] {
        let model = dir.path().join(kind);
        ok(&[
            "train",
            "--data",
            train.to_str().unwrap(),
            "--model",
            kind,
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
        assert!(lines[0].contains(&format!("{kind}-lo-95")), "{}", lines[0]);
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
}
