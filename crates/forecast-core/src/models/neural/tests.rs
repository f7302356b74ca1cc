//! Tests of the neural forecasters. Networks are tiny so that debug builds stay fast.

use super::*;
use crate::models::ModelConfig;
use crate::pipeline::ForecasterSpec;
use crate::reporter::{Decision, EpochReport, Silent};
use crate::series::Series;
use dataset::Batch;

/// `sin(2πt/period)` plus Gaussian-like noise of standard deviation `sigma` (sum of 12
/// uniforms, deterministic from a fixed LCG).
fn noisy_sine(n: usize, period: f64, sigma: f64, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut uni = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|t| {
            let z: f64 = (0..12).map(|_| uni()).sum::<f64>() - 6.0;
            (2.0 * std::f64::consts::PI * t as f64 / period).sin() + sigma * z
        })
        .collect()
}

fn tiny_lstm() -> LstmConfig {
    LstmConfig {
        train: TrainConfig {
            lookback: 8,
            horizon: 2,
            batch_size: 16,
            epochs: 3,
            patience: 0,
            ..TrainConfig::default()
        },
        hidden_size: 8,
        num_layers: 2,
    }
}

fn tiny_transformer() -> TransformerConfig {
    TransformerConfig {
        train: tiny_lstm().train,
        hidden_size: 8,
        d_model: None,
        num_heads: 2,
        num_layers: 1,
        ff_size: 16,
        norm_first: true,
        patch_len: 2,
    }
}

fn fit_on(cfg: &LstmConfig, y: &[f64], seed: u64) -> NeuralFitted {
    let mut data = TrainingData::univariate(y, 1);
    data.seed = seed;
    cfg.fit(&data, &mut Silent).unwrap()
}

#[test]
fn same_seed_gives_bit_identical_weights_and_forecasts() {
    let y = noisy_sine(120, 12.0, 0.1, 1);
    let a = fit_on(&tiny_lstm(), &y, 7);
    let b = fit_on(&tiny_lstm(), &y, 7);
    assert!(
        a.weights == b.weights,
        "weights differ between two runs with one seed"
    );
    assert_eq!(
        a.predict(2, &[80.0], &[]).unwrap(),
        b.predict(2, &[80.0], &[]).unwrap()
    );
    let c = fit_on(&tiny_lstm(), &y, 8);
    assert!(
        a.weights != c.weights,
        "another seed must give other weights"
    );
}

#[test]
fn reporter_stop_ends_training_and_stats_are_reported() {
    let y = noisy_sine(120, 12.0, 0.1, 2);
    let mut seen = Vec::new();
    let mut reporter = |r: &EpochReport| {
        seen.push(r.epoch);
        assert!(r.train_loss.is_finite() && r.valid_loss.is_some_and(f64::is_finite));
        if r.epoch == 2 {
            Decision::Stop
        } else {
            Decision::Continue
        }
    };
    let mut cfg = tiny_lstm();
    cfg.train.epochs = 5;
    let f = cfg
        .fit(&TrainingData::univariate(&y, 1), &mut reporter)
        .unwrap();
    assert_eq!(seen, vec![1, 2]);
    assert_eq!(f.stats.epochs, 2);
    assert_eq!(f.stats.stopped_by, "reporter");
    let s = f.fit_stats();
    for k in [
        "epochs",
        "best_epoch",
        "train_loss",
        "valid_loss",
        "seconds",
        "samples_per_second",
        "device",
    ] {
        assert!(s.get(k).is_some(), "fit stats lack {k}: {s}");
    }
    assert!(f.stats.samples_per_second > 0.0);
}

#[test]
fn checkpoint_resume_reproduces_an_uninterrupted_run() {
    let y = noisy_sine(100, 12.0, 0.1, 3);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_lstm();
    cfg.train.epochs = 4;
    cfg.train.lr_schedule = "constant".into();
    let straight = fit_on(&cfg, &y, 5);
    // First run: stopped by the reporter after 2 epochs, checkpointing each epoch.
    cfg.train.checkpoint_dir = Some(dir.path().to_string_lossy().into());
    let mut stop2 = |r: &EpochReport| {
        if r.epoch == 2 {
            Decision::Stop
        } else {
            Decision::Continue
        }
    };
    let mut data = TrainingData::univariate(&y, 1);
    data.seed = 5;
    cfg.fit(&data, &mut stop2).unwrap();
    // Second run resumes at epoch 3.
    let resumed = cfg.fit(&data, &mut Silent).unwrap();
    assert_eq!(resumed.stats.resumed_from, 2);
    assert_eq!(resumed.stats.epochs, 4);
    assert!(
        resumed.weights == straight.weights,
        "resumed run differs from the uninterrupted one"
    );
}

#[test]
fn save_and_load_reproduce_the_forecast_and_bad_weights_are_errors() {
    let y: Vec<f64> = noisy_sine(110, 12.0, 0.1, 4)
        .iter()
        .map(|v| v + 3.0)
        .collect();
    let mut spec = ForecasterSpec::new(ModelConfig::Transformer(tiny_transformer()));
    spec.valid_fraction = 0.2;
    spec.seed = 3;
    let f = spec.fit_quiet(&Series::from_values(y, 1)).unwrap();
    let fc = f.predict(2, &[80.0, 95.0], &[]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    crate::artifact::save(&f, &m).unwrap();
    let g = crate::artifact::load(&m).unwrap();
    assert_eq!(g.predict(2, &[80.0, 95.0], &[]).unwrap(), fc);
    assert!(g
        .predict(3, &[], &[])
        .unwrap_err()
        .to_string()
        .contains("horizon"));
    let w = m.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    let e = crate::artifact::load(&m).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");
    std::fs::remove_file(&w).unwrap();
    let e = crate::artifact::load(&m).unwrap_err().to_string();
    assert!(e.contains("missing weights.bpk"), "{e}");
}

#[test]
fn bad_config_and_short_data_are_errors() {
    let mut m = ModelConfig::from_kind("transformer").unwrap();
    assert!(m
        .set("num_heads", "3")
        .unwrap_err()
        .to_string()
        .contains("num_heads"));
    let mut m = ModelConfig::from_kind("lstm").unwrap();
    m.set("hidden_size", "4").unwrap();
    assert!(m.set("dropout", "1.5").is_err());
    #[cfg(not(feature = "wgpu"))]
    let e = m.set("device", "wgpu").unwrap_err().to_string();
    assert!(e.contains("--features wgpu"), "{e}");
    let y = vec![1.0; 9];
    let e = tiny_lstm()
        .fit(&TrainingData::univariate(&y, 1), &mut Silent)
        .unwrap_err();
    assert!(matches!(e, crate::Error::TooFewRows { .. }), "{e}");
}

/// One-step forecasts of a noisy sine over 300 held-out points: (model MSE, noise floor,
/// 80% interval coverage). The floor is measured on the same points, the mean squared
/// noise `(y - sin)^2`, which no forecaster can beat in expectation.
///
/// The lookback covers four periods: even the best linear predictor, fitting the sine's
/// two coefficients to `L` noisy points, exceeds the floor by about `2/L` of it in
/// expectation (12.5% for one period of 16, 3% for 64), so one period could never come
/// within 10%.
fn noisy_sine_run() -> (f64, f64, f64) {
    let (n_fit, n_test, period, sigma) = (600, 300, 16.0, 0.2);
    let y = noisy_sine(n_fit + n_test, period, sigma, 11);
    let clean: Vec<f64> = (0..y.len())
        .map(|t| (2.0 * std::f64::consts::PI * t as f64 / period).sin())
        .collect();
    let cfg = LstmConfig {
        train: TrainConfig {
            lookback: 64,
            horizon: 1,
            batch_size: 32,
            epochs: 100,
            learning_rate: 0.01,
            patience: 20,
            dropout: 0.0,
            target_mode: TargetMode::Level,
            ..TrainConfig::default()
        },
        hidden_size: 32,
        num_layers: 1,
    };
    let mut data = TrainingData::univariate(&y[..n_fit], 1);
    data.seed = 1;
    let fitted = cfg.fit(&data, &mut Silent).unwrap();
    let (mut se, mut floor, mut covered) = (0.0, 0.0, 0usize);
    for t in n_fit..n_fit + n_test {
        let m = fitted
            .condition(&TrainingData::univariate(&y[..t], 1))
            .unwrap();
        let fc = m.predict(1, &[80.0], &[]).unwrap();
        se += (y[t] - fc.point[0]).powi(2);
        floor += (y[t] - clean[t]).powi(2);
        let iv = &fc.intervals[0];
        covered += usize::from(iv.lower[0] <= y[t] && y[t] <= iv.upper[0]);
    }
    let n = n_test as f64;
    (se / n, floor / n, covered as f64 / n)
}

/// The 80% split-conformal interval covers held-out points at 80% ± 7% (three binomial
/// standard errors for 300 points: 3 * sqrt(0.8 * 0.2 / 300) = 0.069).
#[test]
fn conformal_intervals_cover_held_out_points() {
    let (_, _, coverage) = noisy_sine_run();
    assert!(
        (coverage - 0.8).abs() <= 0.07,
        "80% interval covered {coverage}"
    );
}

/// The one-step error comes within 10% of the noise floor.
#[test]
fn noisy_sine_reaches_the_noise_floor() {
    let (mse, floor, _) = noisy_sine_run();
    println!("mse {mse}, noise floor {floor}, ratio {}", mse / floor);
    assert!(mse <= 1.1 * floor, "mse {mse} vs noise floor {floor}");
}

/// The hand-written back-propagation through time gives burn autodiff's loss and
/// gradients (the reference: the same network's `forward` on the autodiff device) for a
/// 2-layer LSTM whose batch spans two parallel chunks and a short tail. Tolerance: 1e-4
/// relative to the largest gradient entry, for float32 sums taken in another order.
#[test]
fn lstm_bptt_matches_autodiff_gradients() {
    use super::bptt::{self, CHUNK};
    use super::lstm::LstmNet;
    let devices = device::resolve("cpu").unwrap();
    let (b, t, f, h) = (CHUNK + 5, 7, 3, 6);
    // With a series embedding of 3 series in 2 dimensions; some windows of a new series.
    let net = LstmNet::new(
        f,
        h,
        2,
        2,
        Some((3, 2)),
        &mut training::init_rng(9),
        &devices.train,
    );
    let x: Vec<f32> = (0..b * t * f)
        .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
        .collect();
    let y: Vec<f32> = (0..b * 2)
        .map(|i| ((i * 13 % 7) as f32 / 3.0) - 1.0)
        .collect();
    let ids: Vec<Option<u32>> = (0..b)
        .map(|i| (i % 4 < 3).then_some((i % 4) as u32))
        .collect();
    let batch = Batch {
        x: x.clone(),
        y,
        ids: ids.clone(),
        shape: [b, t, f],
    };
    let (l_ref, g_ref) =
        training::autodiff_step(&net, batch.clone(), &mut Dropper::off(), &devices.train);
    let (l, g) = bptt::loss_and_grads(
        &net,
        batch,
        &mut Dropper::off(),
        &devices.train,
        &devices.infer,
    );
    assert!(
        (l - l_ref).abs() <= 1e-5 * l_ref.abs().max(1.0),
        "{l} vs {l_ref}"
    );
    // The inference forward (plain CPU device) against the autodiff device's tensor ops.
    let x_ad = layers::tensor3(x.clone(), [b, t, f], &devices.train);
    let x_cpu = layers::tensor3(x.clone(), [b, t, f], &devices.infer);
    let p_ref = net.forward(x_ad, &ids, &mut Dropper::off()).into_data();
    let p_cpu = net
        .valid()
        .forward(x_cpu, &ids, &mut Dropper::off())
        .into_data();
    p_cpu.assert_approx_eq::<f32>(&p_ref, burn::tensor::Tolerance::absolute(1e-5));
    let vals = |t: Option<Tensor<2>>| t.unwrap().into_data().try_to_vec::<f32>().unwrap();
    let vals1 = |t: Option<Tensor<1>>| t.unwrap().into_data().try_to_vec::<f32>().unwrap();
    let mut pairs = vec![
        (
            vals(g.get(net.head.weight.id)),
            vals(g_ref.get(net.head.weight.id)),
        ),
        (
            vals1(g.get(net.head.bias.id)),
            vals1(g_ref.get(net.head.bias.id)),
        ),
    ];
    let table = &net.embedding.as_ref().unwrap().table;
    pairs.push((vals(g.get(table.id)), vals(g_ref.get(table.id))));
    for layer in &net.layers {
        pairs.push((vals(g.get(layer.w_ih.id)), vals(g_ref.get(layer.w_ih.id))));
        pairs.push((vals(g.get(layer.w_hh.id)), vals(g_ref.get(layer.w_hh.id))));
        pairs.push((vals1(g.get(layer.bias.id)), vals1(g_ref.get(layer.bias.id))));
    }
    for (k, (ours, reference)) in pairs.iter().enumerate() {
        assert_eq!(ours.len(), reference.len());
        let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (a, r) in ours.iter().zip(reference) {
            assert!(
                (a - r).abs() <= 1e-4 * scale,
                "parameter {k}: {a} vs {r} (scale {scale})"
            );
        }
    }
}

/// The few-row recurrence of a forecast (one window, and up to the small-row limit) gives
/// the network's tensor forward on the autodiff device (burn's own ops, the reference).
/// Hidden size 20 makes the gate width 80, so the product runs one full 64-column block
/// and a 16-column tail. Tolerance: 1e-5 absolute on outputs of order 1, for float32 sums
/// taken in another order.
#[test]
fn lstm_few_window_forward_matches_tensor_forward() {
    use super::lstm::LstmNet;
    let devices = device::resolve("cpu").unwrap();
    let (t, f, h) = (9, 3, 20);
    let net = LstmNet::new(f, h, 2, 2, None, &mut training::init_rng(4), &devices.train);
    let plain = net.valid();
    for b in [1, 3, 5] {
        let x: Vec<f32> = (0..b * t * f)
            .map(|i| ((i * 53 % 97) as f32 / 48.0) - 1.0)
            .collect();
        let x_ad = layers::tensor3(x.clone(), [b, t, f], &devices.train);
        let x_cpu = layers::tensor3(x, [b, t, f], &devices.infer);
        let p_ref = net.forward(x_ad, &[], &mut Dropper::off()).into_data();
        let p = plain.forward(x_cpu, &[], &mut Dropper::off()).into_data();
        p.assert_approx_eq::<f32>(&p_ref, burn::tensor::Tolerance::absolute(1e-5));
    }
}

/// The monthly airline passengers (1949-1960), read from the shipped dataset.
fn airpassengers() -> Series {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/airpassengers.csv"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let y: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().trim().parse().unwrap())
        .collect();
    assert_eq!(y.len(), 144);
    Series::from_values(y, 12)
}

/// MASE of a rolling-origin backtest on the log airline passengers: 24 one-step-ahead
/// origins over the last two years, the model fitted once on the rows before the first
/// origin and conditioned on the newer rows at each later one (no look-ahead).
fn airpassengers_mase(model: ModelConfig, seed: u64) -> f64 {
    use crate::backtest::{backtest, BacktestSpec, Refit};
    use crate::split::FoldPlan;
    let mut spec = ForecasterSpec::new(model);
    spec.transform = crate::transform::Transform::Log;
    spec.seed = seed;
    let bt = BacktestSpec {
        horizon: 1,
        plan: FoldPlan::Count { folds: 24, step: 1 },
        refit: Refit::Never,
    };
    let report = backtest(&spec, &airpassengers(), &bt, &|| {}).unwrap();
    assert_eq!(report.folds, 24);
    report.metrics.mase.unwrap()
}

fn air_train() -> TrainConfig {
    TrainConfig {
        lookback: 24,
        horizon: 1,
        epochs: 100,
        patience: 0,
        learning_rate: 0.003,
        dropout: 0.0,
        valid_fraction: 0.1,
        ..TrainConfig::default()
    }
}

/// Both networks beat the seasonal naive forecast's MASE on the same folds, with fixed
/// seeds (the seasonal naive scores about 1.58 here: a year's growth is its error).
#[test]
fn lstm_and_transformer_beat_seasonal_naive_on_airpassengers() {
    let snaive = airpassengers_mase(ModelConfig::from_kind("seasonal-naive").unwrap(), 0);
    let lstm = airpassengers_mase(
        ModelConfig::Lstm(LstmConfig {
            train: air_train(),
            hidden_size: 16,
            num_layers: 1,
        }),
        1,
    );
    let transformer = airpassengers_mase(
        ModelConfig::Transformer(TransformerConfig {
            train: air_train(),
            hidden_size: 16,
            num_heads: 2,
            ff_size: 32,
            ..TransformerConfig::default()
        }),
        1,
    );
    assert!(
        lstm < snaive && transformer < snaive,
        "MASE: lstm {lstm}, transformer {transformer}, seasonal naive {snaive}"
    );
}
