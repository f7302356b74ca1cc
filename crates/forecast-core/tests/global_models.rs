//! Global networks over a panel: one network trained on the windows of every series,
//! each series scaled on its own training part, saved once, forecasting the panel's
//! series and new ones. Networks are tiny so that debug builds stay fast.

use forecast_core::artifact::{load_panel, save_panel};
use forecast_core::backtest::{BacktestSpec, Refit};
use forecast_core::models::{FittedModel, ModelConfig, NeuralFitted};
use forecast_core::panel::{backtest_panel, fit_panel, PanelForecaster, PanelSeries, ShortPolicy};
use forecast_core::split::FoldPlan;
use forecast_core::{ForecasterSpec, Series};

/// A monthly season shared by every series, at the series' own level and scale, with
/// deterministic noise (an LCG) of 5% of the season's amplitude.
fn seasonal(n: usize, level: f64, scale: f64, seed: u64) -> Series {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let y = (0..n)
        .map(|t| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let season = (2.0 * std::f64::consts::PI * t as f64 / 12.0).sin();
            level + scale * (season + 0.1 * u)
        })
        .collect();
    Series::from_values(y, 12)
}

/// Six series of one shape at very different levels and scales.
fn panel() -> Vec<PanelSeries> {
    [
        (10.0, 1.0),
        (5_000.0, 1_000.0),
        (0.5, 0.1),
        (200.0, 50.0),
        (-30.0, 3.0),
        (1e5, 2e4),
    ]
    .iter()
    .enumerate()
    .map(|(i, &(level, scale))| PanelSeries {
        id: format!("s{i}"),
        series: seasonal(96 + 6 * i, level, scale, i as u64),
    })
    .collect()
}

fn lstm(epochs: usize) -> ForecasterSpec {
    let mut model = ModelConfig::from_kind("lstm").unwrap();
    model
        .set_json_many(&[
            ("hidden_size", 12.into()),
            ("num_layers", 1.into()),
            ("lookback", 24.into()),
            ("horizon", 6.into()),
            ("batch_size", 32.into()),
            ("epochs", epochs.into()),
            ("patience", 0.into()),
            ("learning_rate", 0.01.into()),
        ])
        .unwrap();
    let mut spec = ForecasterSpec::new(model);
    spec.seed = 7;
    spec
}

fn net(f: &forecast_core::Forecaster) -> &NeuralFitted {
    match &f.model {
        FittedModel::Lstm(m) | FittedModel::Transformer(m) => m,
        _ => panic!("not a network"),
    }
}

fn fit(spec: &ForecasterSpec, series: &[PanelSeries]) -> PanelForecaster {
    let fit = fit_panel(spec, "unique_id", series, ShortPolicy::Error, &|| {}).unwrap();
    assert!(fit.failed.is_empty(), "{:?}", fit.failed);
    fit.fitted
}

#[test]
fn one_network_serves_every_series_each_in_its_own_units() {
    let series = panel();
    let model = fit(&lstm(15), &series);
    assert_eq!(model.series.len(), 6);
    let first = net(&model.series[0].1);
    for (id, f) in &model.series {
        let m = net(f);
        assert!(m.is_global(), "{id}");
        assert_eq!(
            m.weights_sha256, first.weights_sha256,
            "{id}: another network"
        );
        // One training run over the windows of all six series.
        assert_eq!(m.stats.train_windows, first.stats.train_windows);
    }
    // Every series' windows, not one series' (each has ~ (n - lookback - horizon)
    // training windows, minus its validation part).
    assert!(first.stats.train_windows > 6 * 40, "{:?}", first.stats);

    let (forecasts, failed) = model.predict(6, &[80.0]);
    assert!(failed.is_empty());
    let mut standardised_width = None;
    for (f, s) in forecasts.iter().zip(&series) {
        // Forecasts land in the series' own range: the scaler is the series' own.
        let y = &s.series.target;
        let (lo, hi) = y
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let pad = 0.25 * (hi - lo);
        for p in &f.forecast.point {
            assert!(
                *p >= lo - pad && *p <= hi + pad,
                "{}: forecast {p} outside [{lo}, {hi}]",
                f.unique_id
            );
        }
        // Pooled conformal widths, scaled by each series' label deviation: the same
        // width in standardised units for every series.
        let iv = &f.forecast.intervals[0];
        let scale = net(&model
            .series
            .iter()
            .find(|(id, _)| *id == f.unique_id)
            .unwrap()
            .1)
        .residual_scale
        .unwrap();
        let w = (iv.upper[0] - iv.lower[0]) / 2.0 / scale;
        assert!(w.is_finite() && w > 0.0, "{}: width {w}", f.unique_id);
        let w0 = *standardised_width.get_or_insert(w);
        assert!((w - w0).abs() <= 1e-9 * w0, "{}: {w} vs {w0}", f.unique_id);
    }
}

#[test]
fn a_global_model_is_saved_once_and_reloads_to_the_same_forecasts() {
    let series = panel();
    let model = fit(&lstm(2), &series);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("global");
    save_panel(&model, &out).unwrap();
    // One weights file for the panel; the series lines hold no weights or residuals.
    assert!(out.join("weights.bpk").is_file());
    let lines = std::fs::read_to_string(out.join("series.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 6);
    assert!(!lines.contains("\"residuals\""));
    let manifest = std::fs::read_to_string(out.join("panel.json")).unwrap();
    assert!(manifest.contains("\"global\""));

    let loaded = load_panel(&out).unwrap();
    let (a, _) = model.predict(6, &[80.0, 95.0]);
    let (b, _) = loaded.predict(6, &[80.0, 95.0]);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.unique_id, y.unique_id);
        assert_eq!(x.forecast, y.forecast, "{}", x.unique_id);
    }

    // A truncated weights file is an error naming it, not a panic or a wrong forecast.
    let w = std::fs::read(out.join("weights.bpk")).unwrap();
    std::fs::write(out.join("weights.bpk"), &w[..w.len() / 2]).unwrap();
    let e = load_panel(&out).unwrap_err().to_string();
    assert!(e.contains("weights.bpk"), "{e}");
}

#[test]
fn a_series_the_network_never_saw_is_forecast_in_its_own_units() {
    let series = panel();
    let model = fit(&lstm(10), &series);
    let template = &model.series[0].1;
    let new = seasonal(60, 3_000.0, 400.0, 99);
    let adopted = template.adopt(&new).unwrap();
    let fc = adopted.predict(6, &[80.0], &[]).unwrap();
    for p in &fc.point {
        assert!((1_800.0..4_200.0).contains(p), "forecast {p}");
    }
    // The adopted series keeps the network, not the template's scaling.
    assert_eq!(net(&adopted).weights_sha256, net(template).weights_sha256);
    assert_ne!(net(&adopted).scaler, net(template).scaler);

    // A model fitted per series cannot forecast a series it was not fitted on.
    let naive = ForecasterSpec::new(ModelConfig::from_kind("naive").unwrap());
    let local = naive.fit_quiet(&series[0].series).unwrap();
    let e = local.adopt(&new).unwrap_err().to_string();
    assert!(e.contains("fitted per series"), "{e}");
}

#[test]
fn a_global_backtest_trains_one_network_per_fold_and_beats_naive_on_a_shared_season() {
    let series = panel();
    let bt = BacktestSpec {
        horizon: 6,
        plan: FoldPlan::Count { folds: 2, step: 6 },
        refit: Refit::Every,
    };
    let spec = lstm(15);
    let (score, failed) = backtest_panel(&spec, &series, &bt, ShortPolicy::Error, &|| {}).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(score.series, 6);
    assert_eq!(score.rows, 6 * 2 * 6);
    // Naive forecasts a sine of period 12 badly at h = 6; one network that learnt the
    // shared season from six series of very different scales does far better.
    let (model, naive) = (score.metrics.mase.unwrap(), score.naive.mase.unwrap());
    assert!(model < 0.5 * naive, "global MASE {model} vs naive {naive}");
    // Deterministic: the same seed gives the same scores.
    let (again, _) = backtest_panel(&spec, &series, &bt, ShortPolicy::Error, &|| {}).unwrap();
    assert_eq!(score, again);
}

/// Two series whose two-step windows coincide but continue differently: the period-4
/// pattern (1, 1, −1, −1) and the period-2 pattern (1, −1). After the window (1, −1) the
/// first goes on with −1 and the second with +1 (after (−1, 1) the other way round), and
/// both series end on that window. With lookback 2 the network sees the same scaled
/// window for both: without an embedding it can only answer the same for both (about 0);
/// a 2-wide series embedding lets it answer each series' own continuation.
#[test]
fn a_series_embedding_tells_apart_series_whose_windows_look_alike() {
    let a: Vec<f64> = (0..203)
        .map(|i| if i % 4 < 2 { 1.0 } else { -1.0 })
        .collect();
    let b: Vec<f64> = (0..200)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let series = vec![
        PanelSeries {
            id: "four".into(),
            series: Series::from_values(a, 4),
        },
        PanelSeries {
            id: "two".into(),
            series: Series::from_values(b, 2),
        },
    ];
    let spec = |kind: &str, embedding_dim: usize| {
        let mut model = ModelConfig::from_kind(kind).unwrap();
        model
            .set_json_many(&[
                ("hidden_size", 8.into()),
                ("num_layers", 1.into()),
                ("lookback", 2.into()),
                ("horizon", 1.into()),
                ("batch_size", 32.into()),
                ("epochs", 80.into()),
                ("patience", 0.into()),
                ("dropout", 0.0.into()),
                ("learning_rate", 0.02.into()),
                ("target_mode", "level".into()),
                ("embedding_dim", embedding_dim.into()),
            ])
            .unwrap();
        if kind == "transformer" {
            model
                .set_json_many(&[("num_heads", 2.into()), ("ff_size", 16.into())])
                .unwrap();
        }
        let mut spec = ForecasterSpec::new(model);
        spec.seed = 3;
        spec
    };
    let next = |model: &PanelForecaster| -> Vec<f64> {
        let (f, failed) = model.predict(1, &[80.0]);
        assert!(failed.is_empty());
        f.iter().map(|s| s.forecast.point[0]).collect()
    };

    let mut lstm = None;
    for kind in ["lstm", "transformer"] {
        let plain = next(&fit(&spec(kind, 0), &series));
        assert!(
            (plain[0] - plain[1]).abs() < 0.5,
            "{kind}: without an embedding the two series look alike: {plain:?}"
        );
        let model = fit(&spec(kind, 2), &series);
        let embedded = next(&model);
        assert!(
            embedded[0] < -0.5 && embedded[1] > 0.5,
            "{kind}: with an embedding each series continues its own pattern: {embedded:?}"
        );
        let slots: Vec<_> = model
            .series
            .iter()
            .map(|(_, f)| net(f).embedding.unwrap())
            .collect();
        assert_eq!((slots[0].series, slots[0].row), (2, Some(0)));
        assert_eq!((slots[1].series, slots[1].row), (2, Some(1)));

        // Saved and reloaded: the same forecasts (the embedding travels in weights.bpk).
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(kind);
        save_panel(&model, &out).unwrap();
        assert_eq!(next(&load_panel(&out).unwrap()), embedded, "{kind}");
        if kind == "lstm" {
            lstm = Some(model);
        }
    }
    let model = lstm.unwrap();

    // A new series takes the mean row: a finite forecast between the two.
    let c: Vec<f64> = (0..40)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let adopted = model.series[0].1.adopt(&Series::from_values(c, 2)).unwrap();
    assert_eq!(net(&adopted).embedding.unwrap().row, None);
    let p = adopted.predict(1, &[80.0], &[]).unwrap().point[0];
    assert!(p.is_finite() && p.abs() < 2.0, "{p}");
}
