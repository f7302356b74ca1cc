//! Neural forecasters on burn: a stacked LSTM and a Transformer encoder, trained on
//! windowed multivariate data to predict the whole horizon in one forward pass.
//!
//! - [`dataset`]: windows, standardisation fitted on the training rows, level or return
//!   targets.
//! - [`lstm`], [`transformer`]: the networks; [`layers`]: shared blocks.
//! - [`training`]: the shared loop (Adam/AdamW, schedule, clipping, early stopping,
//!   reporter, checkpoints).
//! - [`inference`]: reload, forecast, split-conformal intervals.
//! - [`device`]: the one place a device name becomes a backend.
//!
//! Weights are saved next to `model.json` as `weights.bpk` (burn's burnpack record).

pub mod bptt;
pub mod dataset;
pub mod device;
pub mod global;
pub mod inference;
pub mod layers;
pub mod lstm;
pub mod training;
pub mod transformer;

use super::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::reporter::Reporter;
use burn::prelude::*;
use dataset::{table, Scaler, TargetMode, Windows};
use inference::AnyNet;
use layers::Dropper;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use training::FitStats;

/// A network the training loop can fit.
pub trait Net: Module {
    /// `[b, lookback, features] -> [b, horizon]` (standardised label units). `ids` are the
    /// windows' rows of the series embedding (empty, or `None` for a window, where the
    /// series is new to the network; ignored by a network without an embedding).
    fn forward(&self, x: Tensor<3>, ids: &[Option<u32>], drop: &mut Dropper) -> Tensor<2>;

    /// Mean squared error on one mini-batch and the gradients of every parameter. The default runs [`Net::forward`] on the autodiff device and
    /// back-propagates through burn's graph.
    fn loss_and_grads(
        &self,
        batch: dataset::Batch,
        drop: &mut Dropper,
        devices: &device::Devices,
    ) -> (f32, burn::optim::GradientsParams) {
        training::autodiff_step(self, batch, drop, &devices.train)
    }
}

/// The file the weights are saved to inside a model directory.
pub const WEIGHTS_FILE: &str = "weights.bpk";

/// Data and training settings shared by both networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Timesteps of input per window.
    pub lookback: usize,
    /// Steps predicted per forward pass (set by `--horizon`).
    pub horizon: usize,
    /// Dropout probability.
    pub dropout: f64,
    /// Windows per mini-batch.
    pub batch_size: usize,
    /// Most epochs.
    pub epochs: usize,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Weight decay (L2 for `adam`, decoupled for `adamw`).
    pub weight_decay: f64,
    /// Epochs without a better validation loss before stopping (0 = never stop early).
    pub patience: usize,
    /// Largest gradient norm per parameter tensor (0 = no clipping).
    pub grad_clip: f64,
    /// `adam` or `adamw`.
    pub optimizer: String,
    /// `constant` or `cosine` (annealed to 1% over `epochs`).
    pub lr_schedule: String,
    /// `return` (default: the change since the window's last row, the log return under
    /// `--transform log`; trending series stay in the range seen in training) or `level`.
    pub target_mode: TargetMode,
    /// Share of the rows held out for validation when the split has no validation part.
    pub valid_fraction: f64,
    /// `cpu`, `wgpu`, `cuda` or `cuda:N` (set by `--device`).
    pub device: String,
    /// Directory to write per-epoch checkpoints to and resume from.
    pub checkpoint_dir: Option<String>,
    /// Width of a learned per-series embedding appended to the head's input (0, the
    /// default: none). Global models only (a network trained on a panel, see
    /// [`global`]); a network of one series has none.
    pub embedding_dim: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            lookback: 32,
            horizon: 1,
            dropout: 0.1,
            batch_size: 64,
            epochs: 50,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            patience: 8,
            grad_clip: 1.0,
            optimizer: "adam".into(),
            lr_schedule: "cosine".into(),
            target_mode: TargetMode::Return,
            valid_fraction: 0.2,
            device: "cpu".into(),
            checkpoint_dir: None,
            embedding_dim: 0,
        }
    }
}

impl TrainConfig {
    fn validate(&self) -> Result<()> {
        let pos = |k: &str, v: usize| -> Result<()> {
            crate::ensure_config!(v >= 1, k, "must be at least 1, got {v}");
            Ok(())
        };
        pos("lookback", self.lookback)?;
        pos("horizon", self.horizon)?;
        pos("batch_size", self.batch_size)?;
        pos("epochs", self.epochs)?;
        crate::ensure_config!(
            (0.0..1.0).contains(&self.dropout),
            "dropout",
            "must lie in [0, 1), got {}",
            self.dropout
        );
        crate::ensure_config!(
            self.learning_rate > 0.0 && self.learning_rate.is_finite(),
            "learning_rate",
            "must be positive, got {}",
            self.learning_rate
        );
        crate::ensure_config!(
            non_negative(self.weight_decay),
            "weight_decay",
            "must not be negative, got {}",
            self.weight_decay
        );
        crate::ensure_config!(
            non_negative(self.grad_clip),
            "grad_clip",
            "must not be negative, got {}",
            self.grad_clip
        );
        crate::ensure_config!(
            matches!(self.optimizer.as_str(), "adam" | "adamw"),
            "optimizer",
            "'{}': expected adam or adamw",
            self.optimizer
        );
        crate::ensure_config!(
            matches!(self.lr_schedule.as_str(), "constant" | "cosine"),
            "lr_schedule",
            "'{}': expected constant or cosine",
            self.lr_schedule
        );
        // 0 = no held-out windows (a refit on every row for a known epoch count).
        crate::ensure_config!(
            self.valid_fraction >= 0.0 && self.valid_fraction < 0.9,
            "valid_fraction",
            "must lie in [0, 0.9), got {}",
            self.valid_fraction
        );
        crate::ensure_config!(
            self.valid_fraction > 0.0 || self.patience == 0,
            "valid_fraction",
            "0 (no validation windows) needs patience = 0 (no early stopping)"
        );
        device::resolve(&self.device).map(|_| ())
    }
}

/// Whether `v` is a number `>= 0` (NaN is not).
fn non_negative(v: f64) -> bool {
    matches!(
        v.partial_cmp(&0.0),
        Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
    )
}

/// Stacked LSTM configuration (kind `lstm`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LstmConfig {
    /// Shared data and training settings.
    #[serde(flatten)]
    pub train: TrainConfig,
    /// Hidden units per layer.
    pub hidden_size: usize,
    /// Stacked layers.
    pub num_layers: usize,
}

impl Default for LstmConfig {
    fn default() -> Self {
        LstmConfig {
            train: TrainConfig::default(),
            hidden_size: 64,
            num_layers: 2,
        }
    }
}

/// Transformer encoder configuration (kind `transformer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TransformerConfig {
    /// Shared data and training settings.
    #[serde(flatten)]
    pub train: TrainConfig,
    /// Model width when `d_model` is not set (shared key with the LSTM for search spaces).
    pub hidden_size: usize,
    /// Model width; overrides `hidden_size`.
    pub d_model: Option<usize>,
    /// Attention heads (must divide the width).
    pub num_heads: usize,
    /// Encoder layers.
    pub num_layers: usize,
    /// Feed-forward width.
    pub ff_size: usize,
    /// Layer norm before each block (pre-norm) instead of after (post-norm).
    pub norm_first: bool,
    /// Timesteps per input token (PatchTST-style patches; 1 = one token per step).
    pub patch_len: usize,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        TransformerConfig {
            train: TrainConfig::default(),
            hidden_size: 64,
            d_model: None,
            num_heads: 4,
            num_layers: 2,
            ff_size: 128,
            norm_first: false,
            patch_len: 1,
        }
    }
}

impl TransformerConfig {
    /// The model width.
    pub fn width(&self) -> usize {
        self.d_model.unwrap_or(self.hidden_size)
    }
}

/// Either architecture's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "arch", content = "config", rename_all = "kebab-case")]
pub enum Arch {
    /// LSTM.
    Lstm(LstmConfig),
    /// Transformer.
    Transformer(TransformerConfig),
}

impl Arch {
    /// The shared settings.
    pub fn train(&self) -> &TrainConfig {
        match self {
            Arch::Lstm(c) => &c.train,
            Arch::Transformer(c) => &c.train,
        }
    }

    /// The model kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Arch::Lstm(_) => "lstm",
            Arch::Transformer(_) => "transformer",
        }
    }

    /// Check every hyperparameter.
    pub fn validate(&self) -> Result<()> {
        self.train().validate()?;
        match self {
            Arch::Lstm(c) => {
                crate::ensure_config!(c.hidden_size >= 1, "hidden_size", "must be at least 1");
                crate::ensure_config!(c.num_layers >= 1, "num_layers", "must be at least 1");
            }
            Arch::Transformer(c) => {
                let d = c.width();
                crate::ensure_config!(d >= 1, "d_model", "must be at least 1");
                crate::ensure_config!(
                    c.num_heads >= 1 && d % c.num_heads == 0,
                    "num_heads",
                    "{} must divide d_model {d}",
                    c.num_heads
                );
                crate::ensure_config!(c.num_layers >= 1, "num_layers", "must be at least 1");
                crate::ensure_config!(c.ff_size >= 1, "ff_size", "must be at least 1");
                let p = c.patch_len.max(1);
                crate::ensure_config!(
                    c.train.lookback % p == 0,
                    "patch_len",
                    "{p} must divide lookback {}",
                    c.train.lookback
                );
            }
        }
        Ok(())
    }

    /// Fewest rows of one series of a global model: one training window (the other
    /// series' validation windows serve the network).
    pub fn global_min_rows(&self) -> usize {
        let t = self.train();
        t.lookback + t.horizon
    }

    /// Fewest training rows: one training window plus the validation rows.
    pub fn min_rows(&self) -> usize {
        let t = self.train();
        let train = t.lookback + t.horizon;
        ((train + t.horizon) as f64 / (1.0 - t.valid_fraction)).ceil() as usize + 1
    }
}

/// The facts and the fit of a network kind: both kinds are an [`Arch`] variant over the
/// shared training loop.
macro_rules! network_kind {
    ($config:ty, $arch:ident, $name:literal) => {
        impl ModelFacts for $config {
            fn kind(&self) -> &'static str {
                $name
            }
            fn check(&self) -> Result<()> {
                Arch::$arch(self.clone()).validate()
            }
            fn min_train_rows(&self, _season_length: usize) -> usize {
                Arch::$arch(self.clone()).min_rows()
            }
            fn max_horizon(&self) -> Option<usize> {
                Some(self.train.horizon)
            }
        }

        impl Fit for $config {
            type Fitted = NeuralFitted;
            fn fit_checked(
                config: &Checked<Self>,
                data: &TrainingData<'_>,
                reporter: &mut dyn Reporter,
            ) -> Result<NeuralFitted> {
                fit(&Arch::$arch((**config).clone()), data, reporter)
            }
        }
    };
}

network_kind!(LstmConfig, Lstm, "lstm");
network_kind!(TransformerConfig, Transformer, "transformer");

/// A fitted neural forecaster. The weights travel beside `model.json` in
/// [`WEIGHTS_FILE`]; their SHA-256 is kept here to detect a truncated or foreign file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuralFitted {
    /// Architecture and settings.
    pub arch: Arch,
    /// Input feature names (after the target), in input order.
    pub features: Vec<String>,
    /// Standardisation fitted on the training rows.
    pub scaler: Scaler,
    /// The last `lookback` rows the model saw (target first), model scale.
    pub recent: Vec<Vec<f64>>,
    /// Sorted absolute validation errors per horizon step (conformal calibration). For a
    /// global model (see [`global`]) they are the pooled errors of every series'
    /// validation windows in standardised label units, shared by the series of the panel
    /// (and saved once in its directory), and [`NeuralFitted::residual_scale`] turns them
    /// into the series' units.
    #[serde(default, skip_serializing_if = "no_residuals")]
    pub residuals: Arc<Vec<Vec<f64>>>,
    /// For a series of a global model: the factor from standardised residuals to this
    /// series' units (its label deviation). `None` for a network fitted on one series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_scale: Option<f64>,
    /// For a series of a global model with a series embedding: its row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingSlot>,
    /// Training statistics.
    pub stats: FitStats,
    /// SHA-256 of the weights.
    pub weights_sha256: String,
    /// The weights (burnpack bytes); saved as a separate file, not in JSON.
    #[serde(skip)]
    pub weights: Weights,
}

/// A series' place in the series embedding of a global model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingSlot {
    /// Rows of the embedding (the series the network was trained on).
    pub series: usize,
    /// This series' row; `None` for a series adopted after training
    /// ([`NeuralFitted::adopt`]), which takes the mean row.
    pub row: Option<u32>,
}

impl NeuralFitted {
    /// Rows of the network's series embedding (0: none).
    fn embedded(&self) -> usize {
        self.embedding.map_or(0, |e| e.series)
    }
}

fn no_residuals(r: &Arc<Vec<Vec<f64>>>) -> bool {
    r.is_empty()
}

/// Serialised network weights (burnpack bytes), shared by the series of a global model;
/// `Debug` shows the size only.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Weights(pub Arc<Vec<u8>>);

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Weights({} bytes)", self.0.len())
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One series' input table (target first, then features; training rows then validation
/// rows) and the number of training rows, checked against the architecture.
struct Prepared {
    tab: Vec<Vec<f64>>,
    n_train: usize,
}

impl Prepared {
    /// One series' table. A series of a global model too short for a validation part of
    /// its own (but holding one training window) trains on all its rows: the other
    /// series' validation windows serve the network.
    fn new(arch: &Arch, data: &TrainingData<'_>, global: bool) -> Result<Prepared> {
        let cfg = arch.train();
        let (l, h) = (cfg.lookback, cfg.horizon);
        let mut tab = table(data.target, data.features)?;
        let n_train = match data.valid {
            Some((vt, vf)) if vt.len() >= h => {
                let vtab = table(vt, vf)?;
                if vtab.len() != tab.len() {
                    return Err(Error::config(
                        "features",
                        "validation part has other columns than the training part",
                    ));
                }
                let n = tab[0].len();
                for (c, v) in tab.iter_mut().zip(vtab) {
                    c.extend(v);
                }
                n
            }
            _ if cfg.valid_fraction == 0.0 => tab[0].len(),
            _ => {
                let n = tab[0].len();
                n - ((n as f64 * cfg.valid_fraction).round() as usize)
                    .max(h)
                    .min(n)
            }
        };
        let total = tab[0].len();
        if n_train < l + h || (total < n_train + h && cfg.valid_fraction > 0.0) {
            if global && total >= l + h {
                return Ok(Prepared {
                    tab,
                    n_train: total,
                });
            }
            let (what, needed) = if global {
                ("a series of a global", l + h)
            } else {
                ("", arch.min_rows())
            };
            return Err(Error::TooFewRows {
                what: format!("{what}{} with lookback {l} and horizon {h}", arch.kind()),
                needed,
                available: total,
            });
        }
        Ok(Prepared { tab, n_train })
    }

    fn total(&self) -> usize {
        self.tab[0].len()
    }

    /// The last `lookback` rows of the training data (the model's anchor).
    fn recent(&self, anchor: usize, lookback: usize) -> Vec<Vec<f64>> {
        self.tab
            .iter()
            .map(|c| c[anchor - lookback..anchor].to_vec())
            .collect()
    }
}

/// Train `net` on `train_w` with `valid_w` for early stopping; the best weights.
fn train_net(
    arch: &Arch,
    net: AnyNet,
    train_w: &Windows,
    valid_w: &Windows,
    seed: u64,
    devices: &device::Devices,
    reporter: &mut dyn Reporter,
) -> Result<(AnyNet, FitStats)> {
    let cfg = arch.train();
    let setup = training::Setup {
        train: train_w,
        valid: valid_w,
        cfg,
        seed,
        devices,
    };
    let ckpt = cfg.checkpoint_dir.as_ref().map(PathBuf::from);
    Ok(match net {
        AnyNet::Lstm(m) => {
            let (b, s) = training::train(*m, &setup, ckpt.as_ref(), reporter)?;
            (AnyNet::Lstm(Box::new(b)), s)
        }
        AnyNet::Transformer(m) => {
            let (b, s) = training::train(*m, &setup, ckpt.as_ref(), reporter)?;
            (AnyNet::Transformer(Box::new(b)), s)
        }
    })
}

/// Train a network of a checked architecture (see [`Checked`]).
fn fit(arch: &Arch, data: &TrainingData<'_>, reporter: &mut dyn Reporter) -> Result<NeuralFitted> {
    let cfg = arch.train();
    let (l, h) = (cfg.lookback, cfg.horizon);
    let p = Prepared::new(arch, data, false)?;
    let (tab, n_train, total) = (&p.tab, p.n_train, p.total());
    let scaler = Scaler::fit(tab, n_train, cfg.target_mode, h);
    let train_w = Windows::build(tab, &scaler, l, h, l - 1..n_train - h);
    let valid_w = Windows::build(tab, &scaler, l, h, n_train - 1..total - h);
    let devices = device::resolve(&cfg.device)?;
    let net = AnyNet::init(arch, tab.len(), 0, data.seed, &devices.train);
    let (best, stats) = train_net(arch, net, &train_w, &valid_w, data.seed, &devices, reporter)?;
    let pred = inference::predict_windows(&best, &valid_w, &scaler, &devices.infer)?;
    let residuals = inference::residuals(&valid_w, &pred);
    let weights = best.to_bytes()?;
    // The model is anchored at the end of the training rows, as the pipeline's schema is.
    Ok(NeuralFitted {
        arch: arch.clone(),
        features: data.features.iter().map(|c| c.name.clone()).collect(),
        scaler,
        recent: p.recent(data.target.len(), l),
        residuals: Arc::new(residuals),
        residual_scale: None,
        embedding: None,
        stats,
        weights_sha256: sha256(&weights),
        weights: Weights(Arc::new(weights)),
    })
}

impl NeuralFitted {
    /// The network with its weights, on the inference device.
    fn net(&self) -> Result<(AnyNet, Device)> {
        if self.weights.0.is_empty() {
            return Err(Error::Model {
                model: self.arch.kind().into(),
                message: format!("weights not loaded (expected {WEIGHTS_FILE} beside model.json)"),
            });
        }
        let devices = device::resolve(&self.arch.train().device)?;
        let net = AnyNet::from_bytes(
            &self.arch,
            self.recent.len(),
            self.embedded(),
            &self.weights.0,
            &devices.infer,
        )?;
        Ok((net, devices.infer))
    }

    /// The input table of `history`, which must have the model's input columns.
    fn input_table(&self, history: &TrainingData<'_>) -> Result<Vec<Vec<f64>>> {
        let tab = table(history.target, history.features)?;
        if tab.len() != self.recent.len() {
            return Err(Error::config(
                "features",
                format!(
                    "the model takes {} input columns, the data has {}",
                    self.recent.len(),
                    tab.len()
                ),
            ));
        }
        Ok(tab)
    }

    /// Files to write beside `model.json`.
    pub fn extra_files(&self) -> Vec<(String, Vec<u8>)> {
        vec![(WEIGHTS_FILE.to_string(), self.weights.0.to_vec())]
    }

    /// Whether this is one series of a global model (one network trained across a
    /// panel).
    pub fn is_global(&self) -> bool {
        self.residual_scale.is_some()
    }

    /// Read the weights from a model directory; a missing, truncated or foreign file is an
    /// error naming it.
    pub fn load_files(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join(WEIGHTS_FILE);
        let err = |m: String| Error::Artifact {
            path: dir.to_path_buf(),
            message: m,
        };
        if !path.is_file() {
            return Err(err(format!(
                "missing {WEIGHTS_FILE} (the network's weights)"
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        if sha256(&bytes) != self.weights_sha256 {
            return Err(err(format!(
                "{WEIGHTS_FILE} is truncated or does not belong to this model.json ({} bytes, checksum mismatch)",
                bytes.len()
            )));
        }
        let device = Device::flex();
        AnyNet::from_bytes(
            &self.arch,
            self.recent.len(),
            self.embedded(),
            &bytes,
            &device,
        )
        .map_err(|e| err(e.to_string()))?;
        self.weights = Weights(Arc::new(bytes));
        Ok(())
    }
}

impl Predict for NeuralFitted {
    fn predict(&self, horizon: usize, levels: &[f64], _future: &[Column]) -> Result<Forecast> {
        let cfg = self.arch.train();
        if horizon > cfg.horizon {
            return Err(Error::config(
                "horizon",
                format!("the {} was trained for {} steps; {horizon} asked (retrain with --horizon {horizon})", self.arch.kind(), cfg.horizon),
            ));
        }
        let (net, device) = self.net()?;
        inference::forecast(&net, self, horizon, levels, &device)
    }

    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        let tab = self.input_table(history)?;
        let l = self.arch.train().lookback;
        let n = tab[0].len();
        if n < l {
            return Err(Error::TooFewRows {
                what: format!("conditioning a model with lookback {l}"),
                needed: l,
                available: n,
            });
        }
        Ok(NeuralFitted {
            recent: tab.iter().map(|c| c[n - l..].to_vec()).collect(),
            ..self.clone()
        })
    }

    /// The input window shifted by the new rows.
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        let tab = self.input_table(rows)?;
        let l = self.arch.train().lookback;
        let mut recent = self.recent.clone();
        for (window, new) in recent.iter_mut().zip(&tab) {
            window.extend_from_slice(new);
            let drop = window.len().saturating_sub(l);
            window.drain(..drop);
        }
        Ok(NeuralFitted {
            recent,
            ..self.clone()
        })
    }

    fn fit_stats(&self) -> Value {
        let mut v = serde_json::to_value(&self.stats).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "intervals".into(),
                Value::String("split-conformal on the validation windows".into()),
            );
            o.insert("weights".into(), Value::String(WEIGHTS_FILE.into()));
        }
        v
    }
}

#[cfg(test)]
mod tests;
