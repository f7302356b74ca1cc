//! The training loop's step (loss and gradients, Adam update), a batched forward pass and
//! one forecast of the LSTM and the Transformer at the standard config: batch 64, lookback
//! 64, 5 features, horizon 1; LSTM 2x64; Transformer d_model 64, 4 heads, 2 layers, ff 128.
//!
//! `*_forecast_one_window` is the prediction path of a fitted model whose network is
//! loaded: scale the last window, run the network on it, turn the output back into a
//! level, add the conformal intervals (`inference::forecast`, what `Predict::predict`
//! runs after loading the weights). `*_predict_with_weight_loading` is `Predict::predict`
//! itself, which also rebuilds the network from the saved weights on every call.

use burn::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use forecast_core::data::Column;
use forecast_core::models::neural::dataset::Batch;
use forecast_core::models::neural::inference::{self, AnyNet};
use forecast_core::models::neural::layers::{tensor3, Dropper};
use forecast_core::models::neural::lstm::LstmNet;
use forecast_core::models::neural::training::{init_rng, optimizer};
use forecast_core::models::neural::transformer::{TransformerNet, TransformerShape};
use forecast_core::models::neural::{device, Arch, LstmConfig, NeuralFitted, TransformerConfig};
use forecast_core::models::neural::{Net, TrainConfig};
use forecast_core::models::{Fit, Predict, TrainingData};
use forecast_core::reporter::Silent;

const B: usize = 64;
const T: usize = 64;
const F: usize = 5;

fn data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect()
}

/// The training loop's own step (`Net::loss_and_grads`, then the optimiser): for the
/// LSTM on the CPU that is the hand-written back-propagation through time.
fn step<M: Net>(c: &mut Criterion, name: &str, model: M, arch: &Arch) {
    let devices = device::resolve("cpu").expect("cpu device");
    let cfg = TrainConfig {
        dropout: 0.0,
        ..TrainConfig::default()
    };
    let mut optim = optimizer(&cfg);
    let mut model = Some(model);
    let (xv, yv) = (data(B * T * F), data(B));
    c.bench_function(&format!("{name}_train_step_b64_t64"), |b| {
        b.iter(|| {
            let m = model.take().expect("model");
            let batch = Batch {
                x: xv.clone(),
                y: yv.clone(),
                ids: Vec::new(),
                shape: [B, T, F],
            };
            let (_loss, grads) = m.loss_and_grads(batch, &mut Dropper::off(), &devices);
            model = Some(optim.step(1e-3, m, grads));
        })
    });
    let inf = model.take().expect("model").valid();
    let plain = devices.infer.clone();
    let xb = data(B * T * F);
    c.bench_function(&format!("{name}_forward_b64_t64"), |b| {
        b.iter(|| {
            let out = inf.forward(
                tensor3(xb.clone(), [B, T, F], &plain),
                &[],
                &mut Dropper::off(),
            );
            out.into_data()
        })
    });
    let fitted = fit_one_epoch(arch);
    let net = AnyNet::from_bytes(arch, F, 0, &fitted.weights.0, &plain).expect("saved weights");
    let levels = [80.0, 95.0];
    c.bench_function(&format!("{name}_forecast_one_window"), |b| {
        b.iter(|| inference::forecast(&net, &fitted, 1, &levels, &plain).expect("forecast"))
    });
    c.bench_function(&format!("{name}_predict_with_weight_loading"), |b| {
        b.iter(|| fitted.predict(1, &levels, &[]).expect("predict"))
    });
}

/// A model of `arch` fitted for one epoch on a synthetic target and four features (the
/// standard config's 5 inputs), through the public `Fit` API.
fn fit_one_epoch(arch: &Arch) -> NeuralFitted {
    let n = 400;
    let wave = |p: f64, k: usize| -> Vec<f64> {
        (0..n)
            .map(|i| 100.0 + (i as f64 / p).sin() * 5.0 + (i * k % 7) as f64 * 0.1)
            .collect()
    };
    let target = wave(9.0, 3);
    let features: Vec<Column> = (0..F - 1)
        .map(|j| Column {
            name: format!("x{j}"),
            values: wave(5.0 + j as f64, j + 1),
            integer: false,
        })
        .collect();
    let mut data = TrainingData::univariate(&target, 1);
    data.features = &features;
    data.seed = 1;
    let fitted = match arch {
        Arch::Lstm(c) => c.fit(&data, &mut Silent),
        Arch::Transformer(c) => c.fit(&data, &mut Silent),
    };
    fitted.expect("one-epoch fit")
}

fn standard_train() -> TrainConfig {
    TrainConfig {
        lookback: T,
        horizon: 1,
        batch_size: B,
        epochs: 1,
        ..TrainConfig::default()
    }
}

fn benches(c: &mut Criterion) {
    // As the training loop does (the allocator keeps freed tensor buffers).
    device::keep_freed_memory();
    let dev = Device::flex().autodiff();
    let mut rng = init_rng(1);
    let lstm = Arch::Lstm(LstmConfig {
        train: standard_train(),
        hidden_size: 64,
        num_layers: 2,
    });
    step(
        c,
        "lstm",
        LstmNet::new(F, 64, 2, 1, None, &mut rng, &dev),
        &lstm,
    );
    let shape = TransformerShape {
        features: F,
        d_model: 64,
        heads: 4,
        layers: 2,
        ff: 128,
        horizon: 1,
        patch_len: 1,
        norm_first: false,
        embed: None,
    };
    let transformer = Arch::Transformer(TransformerConfig {
        train: standard_train(),
        hidden_size: 64,
        d_model: Some(64),
        num_heads: 4,
        num_layers: 2,
        ff_size: 128,
        norm_first: false,
        patch_len: 1,
    });
    step(
        c,
        "transformer",
        TransformerNet::new(shape, &mut rng, &dev),
        &transformer,
    );
}

criterion_group! {
    name = neural;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(neural);
