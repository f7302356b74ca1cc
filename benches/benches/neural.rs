//! The training loop's step (loss and gradients, Adam update), a batched forward pass and a
//! single-window forward pass (one forecast) of the LSTM and the Transformer at the
//! standard config: batch 64, lookback 64, 5 features, horizon 1; LSTM 2x64; Transformer
//! d_model 64, 4 heads, 2 layers, ff 128.

use burn::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion};
use forecast_core::models::neural::device;
use forecast_core::models::neural::layers::{tensor3, Dropper};
use forecast_core::models::neural::lstm::LstmNet;
use forecast_core::models::neural::training::{init_rng, optimizer};
use forecast_core::models::neural::transformer::{TransformerNet, TransformerShape};
use forecast_core::models::neural::{Net, TrainConfig};

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
fn step<M: Net>(c: &mut Criterion, name: &str, model: M) {
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
            let (_loss, grads) = m.loss_and_grads(
                xv.clone(),
                yv.clone(),
                [B, T, F],
                &mut Dropper::off(),
                &devices,
            );
            model = Some(optim.step(1e-3, m, grads));
        })
    });
    let inf = model.take().expect("model").valid();
    let plain = devices.infer.clone();
    let xb = data(B * T * F);
    c.bench_function(&format!("{name}_forward_b64_t64"), |b| {
        b.iter(|| {
            let out = inf.forward(tensor3(xb.clone(), [B, T, F], &plain), &mut Dropper::off());
            out.into_data()
        })
    });
    let x1 = data(T * F);
    c.bench_function(&format!("{name}_forecast_one_window"), |b| {
        b.iter(|| {
            let out = inf.forward(tensor3(x1.clone(), [1, T, F], &plain), &mut Dropper::off());
            out.into_data()
        })
    });
}

fn benches(c: &mut Criterion) {
    let dev = Device::flex().autodiff();
    let mut rng = init_rng(1);
    step(c, "lstm", LstmNet::new(F, 64, 2, 1, &mut rng, &dev));
    let shape = TransformerShape {
        features: F,
        d_model: 64,
        heads: 4,
        layers: 2,
        ff: 128,
        horizon: 1,
        patch_len: 1,
        norm_first: false,
    };
    step(c, "transformer", TransformerNet::new(shape, &mut rng, &dev));
}

criterion_group! {
    name = neural;
    config = Criterion::default().sample_size(10);
    targets = benches
}
criterion_main!(neural);
