//! The training loop shared by both networks: Adam or AdamW, a learning-rate schedule,
//! gradient clipping, seeded shuffled mini-batches, early stopping on the validation loss
//! with the best epoch's weights restored, one reporter call per epoch, and checkpoints
//! that a later run resumes from.
//!
//! Determinism: initial weights, shuffling and dropout masks all come from generators
//! seeded by the run's seed and the epoch number, so the same seed on the same backend
//! and data gives the same weights.

use super::dataset::{Batch, Windows};
use super::device::Devices;
use super::layers::{tensor2, tensor3, Dropper};
use super::{Net, TrainConfig};
use crate::error::{Error, Result};
use crate::reporter::{Decision, EpochReport, Reporter};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::store::ModuleRecord;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What training reports in `model.json`'s `"fit"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitStats {
    /// Epochs run (including any resumed from a checkpoint).
    pub epochs: usize,
    /// Epoch whose weights were kept (lowest validation loss; the last epoch when there
    /// are no validation windows).
    pub best_epoch: usize,
    /// Training loss of the best epoch (MSE on the standardised label).
    pub train_loss: f64,
    /// Validation loss of the best epoch (MSE on the standardised label); absent when
    /// the fit had no validation windows (`--refit-final`).
    #[serde(default)]
    pub valid_loss: Option<f64>,
    /// Wall seconds of the epoch loop.
    pub seconds: f64,
    /// Training windows processed per wall second of the epoch loop (validation included
    /// in the time).
    pub samples_per_second: f64,
    /// Device trained on.
    pub device: String,
    /// Training windows.
    pub train_windows: usize,
    /// Validation windows.
    pub valid_windows: usize,
    /// Trainable parameters.
    pub params: usize,
    /// Why training ended: `epochs`, `early-stopping` or `reporter`.
    pub stopped_by: String,
    /// Epoch a checkpoint was resumed from (0 = fresh run).
    pub resumed_from: usize,
    /// The losses of every epoch run (after `resumed_from`), in order; empty in
    /// artifacts written before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<EpochLoss>,
}

/// One epoch's losses (MSE on the standardised label).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochLoss {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Loss on the validation windows after the epoch (none without them).
    pub valid_loss: Option<f64>,
}

/// The data and settings of one training run.
pub struct Setup<'a> {
    /// Training windows.
    pub train: &'a Windows,
    /// Validation windows (early stopping, conformal calibration).
    pub valid: &'a Windows,
    /// Hyperparameters.
    pub cfg: &'a TrainConfig,
    /// Seed.
    pub seed: u64,
    /// Devices.
    pub devices: &'a Devices,
}

/// The seed of a generator for `purpose` in `epoch`.
fn stream(seed: u64, purpose: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    )
}

/// Generator for the initial weights.
pub fn init_rng(seed: u64) -> StdRng {
    stream(seed, 1, 0)
}

/// The configured optimiser (Adam or AdamW, with weight decay and gradient clipping).
pub fn optimizer(cfg: &TrainConfig) -> ModuleOptimizer {
    let clip = (cfg.grad_clip > 0.0).then_some(GradientClippingConfig::Norm(cfg.grad_clip as f32));
    if cfg.optimizer == "adamw" {
        AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .with_grad_clipping(clip)
            .init()
    } else {
        AdamConfig::new()
            .with_weight_decay(
                (cfg.weight_decay > 0.0).then_some(WeightDecayConfig::new(cfg.weight_decay as f32)),
            )
            .with_grad_clipping(clip)
            .init()
    }
}

/// Learning rate of `epoch` (1-based): constant, or cosine annealing to 1% of the start.
pub fn learning_rate(cfg: &TrainConfig, epoch: usize) -> f64 {
    match cfg.lr_schedule.as_str() {
        "cosine" if cfg.epochs > 1 => {
            let frac = (epoch - 1) as f64 / (cfg.epochs - 1) as f64;
            let min = cfg.learning_rate * 0.01;
            min + 0.5 * (cfg.learning_rate - min) * (1.0 + (std::f64::consts::PI * frac).cos())
        }
        _ => cfg.learning_rate,
    }
}

/// One mini-batch's mean squared error and gradients through burn's autodiff graph (on
/// the autodiff `device`).
pub fn autodiff_step<M: Net>(
    model: &M,
    batch: Batch,
    drop: &mut Dropper,
    device: &Device,
) -> (f32, GradientsParams) {
    let b = batch.shape[0];
    let horizon = batch.y.len() / b.max(1);
    let x = tensor3(batch.x, batch.shape, device);
    let y = tensor2(batch.y, [b, horizon], device);
    let loss = (model.forward(x, &batch.ids, drop) - y)
        .powi_scalar(2)
        .mean();
    let l: f32 = loss.clone().into_scalar();
    (l, GradientsParams::from_grads(loss.backward(), model))
}

/// Mean squared error of `model` (in validation mode) on `w`, in batches.
pub fn evaluate<M: Net>(model: &M, w: &Windows, device: &Device, batch: usize) -> f64 {
    if w.n == 0 {
        return f64::NAN;
    }
    let idx: Vec<usize> = (0..w.n).collect();
    let mut sum = 0.0;
    for chunk in idx.chunks(batch.max(1)) {
        let b = w.batch(chunk);
        let x = tensor3(b.x, b.shape, device);
        let y = tensor2(b.y, [chunk.len(), w.horizon], device);
        let pred = model.forward(x, &b.ids, &mut Dropper::off());
        let se: f32 = (pred - y).powi_scalar(2).sum().into_scalar();
        sum += se as f64;
    }
    sum / (w.n * w.horizon) as f64
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    epoch: usize,
    best_epoch: usize,
    best_valid: f64,
    best_train: f64,
    bad_epochs: usize,
    seed: u64,
}

fn ckpt_err(dir: &Path, m: impl std::fmt::Display) -> Error {
    Error::Artifact {
        path: dir.to_path_buf(),
        message: format!("checkpoint: {m}"),
    }
}

fn save_checkpoint<M: Net>(
    dir: &Path,
    model: &M,
    best: &M,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, bytes: &[u8]| crate::fsio::write_file(&dir.join(name), bytes);
    let m = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| ckpt_err(dir, e))?;
    let b = best
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| ckpt_err(dir, e))?;
    let o = optim
        .to_record()
        .into_bytes()
        .map_err(|e| ckpt_err(dir, e))?;
    write("model.bpk", &m)?;
    write("best.bpk", &b)?;
    write("optimizer.bpk", &o)?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| ckpt_err(dir, e))?;
    write("state.json", &json)
}

struct Resumed<M> {
    model: M,
    best: M,
    optim: ModuleOptimizer,
    state: CheckpointState,
}

fn load_checkpoint<M: Net>(
    dir: &Path,
    fresh: &M,
    optim: ModuleOptimizer,
    seed: u64,
) -> Result<Option<Resumed<M>>> {
    let state_path = dir.join("state.json");
    if !state_path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: CheckpointState = serde_json::from_slice(&text).map_err(|e| ckpt_err(dir, e))?;
    if state.seed != seed {
        return Err(ckpt_err(
            dir,
            format!("written with seed {}, this run has seed {seed}", state.seed),
        ));
    }
    let read = |name: &str| -> Result<burn::tensor::Bytes> {
        let p = dir.join(name);
        let v = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        Ok(burn::tensor::Bytes::from_bytes_vec(v))
    };
    let load = |name: &str| -> Result<M> {
        let rec = ModuleRecord::from_bytes(read(name)?)
            .map_err(|e| ckpt_err(dir, format!("{name}: {e}")))?;
        fresh
            .clone()
            .try_load_record(rec)
            .map_err(|e| ckpt_err(dir, format!("{name}: {e}")))
    };
    let model = load("model.bpk")?;
    let best = load("best.bpk")?.valid();
    let orec = burn::optim::OptimizerRecord::from_bytes(read("optimizer.bpk")?)
        .map_err(|e| ckpt_err(dir, format!("optimizer.bpk: {e}")))?;
    Ok(Some(Resumed {
        model,
        best,
        optim: optim.load_record(orec),
        state,
    }))
}

/// Train `model` (initialised on the autodiff device); returns the best epoch's weights in
/// validation mode and the fit statistics. `checkpoint`: a directory to write a checkpoint
/// to each epoch (and when the reporter asks) and to resume from when it holds one.
pub fn train<M: Net>(
    model: M,
    s: &Setup<'_>,
    checkpoint: Option<&PathBuf>,
    reporter: &mut dyn Reporter,
) -> Result<(M, FitStats)> {
    let cfg = s.cfg;
    let (w, v) = (s.train, s.valid);
    let params = model.num_params();
    let mut optim = optimizer(cfg);
    let mut model = model;
    let mut best = model.valid();
    let mut state = CheckpointState {
        epoch: 0,
        best_epoch: 0,
        best_valid: f64::INFINITY,
        best_train: f64::NAN,
        bad_epochs: 0,
        seed: s.seed,
    };
    if let Some(dir) = checkpoint {
        if let Some(r) = load_checkpoint(dir, &model, optim.clone(), s.seed)? {
            model = r.model;
            best = r.best;
            optim = r.optim;
            state = r.state;
        }
    }
    let resumed_from = state.epoch;
    let mut stopped_by = "epochs";
    let start = Instant::now();
    let mut samples = 0usize;
    let mut order: Vec<usize> = (0..w.n).collect();
    let mut epochs_run = state.epoch;
    let mut history = Vec::new();
    for epoch in state.epoch + 1..=cfg.epochs {
        if state.bad_epochs >= cfg.patience.max(1) && cfg.patience > 0 {
            stopped_by = "early-stopping";
            break;
        }
        let lr = learning_rate(cfg, epoch);
        order.sort_unstable();
        order.shuffle(&mut stream(s.seed, 2, epoch));
        let mut drop = Dropper::train(stream(s.seed, 3, epoch), cfg.dropout);
        let mut sum = 0.0;
        for batch in order.chunks(cfg.batch_size) {
            let (l, grads) = model.loss_and_grads(w.batch(batch), &mut drop, s.devices);
            if !l.is_finite() {
                return Err(Error::Numerical {
                    what: "neural network training".into(),
                    message: format!(
                        "loss is {l} in epoch {epoch} (lower learning_rate or set grad_clip)"
                    ),
                });
            }
            model = optim.step(lr, model, grads);
            sum += l as f64 * batch.len() as f64;
        }
        samples += w.n;
        epochs_run = epoch;
        let train_loss = sum / w.n.max(1) as f64;
        let snapshot = model.valid();
        // Without validation windows (a refit for a known epoch count) the last epoch is
        // kept.
        let valid_loss =
            (v.n > 0).then(|| evaluate(&snapshot, v, &s.devices.infer, cfg.batch_size.max(256)));
        state.epoch = epoch;
        history.push(EpochLoss {
            epoch,
            train_loss,
            valid_loss,
        });
        if valid_loss.is_none_or(|l| l < state.best_valid) {
            state.best_valid = valid_loss.unwrap_or(f64::INFINITY);
            state.best_train = train_loss;
            state.best_epoch = epoch;
            state.bad_epochs = 0;
            best = snapshot;
        } else {
            state.bad_epochs += 1;
        }
        let decision = reporter.report(&EpochReport {
            epoch,
            max_epochs: Some(cfg.epochs),
            train_loss,
            valid_loss,
            extra: vec![("learning_rate".into(), lr)],
        });
        if let Some(dir) = checkpoint {
            save_checkpoint(dir, &model, &best, &optim, &state)?;
        } else if decision == Decision::Checkpoint {
            return Err(Error::config(
                "checkpoint_dir",
                "the reporter asked for a checkpoint but no checkpoint_dir is configured",
            ));
        }
        if decision == Decision::Stop {
            stopped_by = "reporter";
            break;
        }
        if cfg.patience > 0 && state.bad_epochs >= cfg.patience {
            stopped_by = "early-stopping";
            break;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    if state.best_epoch == 0 {
        return Err(Error::Numerical {
            what: "neural network training".into(),
            message: "no epoch finished with a finite validation loss".into(),
        });
    }
    let stats = FitStats {
        epochs: epochs_run,
        best_epoch: state.best_epoch,
        train_loss: state.best_train,
        valid_loss: (v.n > 0).then_some(state.best_valid),
        seconds,
        samples_per_second: if seconds > 0.0 {
            samples as f64 / seconds
        } else {
            0.0
        },
        device: s.devices.name.clone(),
        train_windows: w.n,
        valid_windows: v.n,
        params,
        stopped_by: stopped_by.into(),
        resumed_from,
        history,
    };
    Ok((best, stats))
}
