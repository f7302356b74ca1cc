//! Inference: rebuild a network from its saved weights, forecast from the last window,
//! and split-conformal intervals.
//!
//! Intervals are split-conformal, calibrated on the validation windows: for horizon step
//! `k`, the absolute errors `|y - ŷ|` of the validation windows are sorted, and the level
//! `L` interval is `ŷ ± r_(m)` with `m = ceil((n + 1) L / 100)`, which covers a new point
//! with probability at least `L` when errors are exchangeable. With too few validation
//! windows for a level (`m > n`) the interval is unbounded, as the method demands.

use super::dataset::{last_window, Scaler, Windows};
use super::layers::{tensor3, Dropper};
use super::lstm::LstmNet;
use super::training::init_rng;
use super::transformer::{TransformerNet, TransformerShape};
use super::{Arch, Net};
use crate::error::{Error, Result};
use crate::forecast::{Forecast, Interval};
use burn::module::Module;
use burn::prelude::*;
use burn::store::ModuleRecord;

/// A network of either architecture, in validation mode.
#[derive(Debug, Clone)]
pub enum AnyNet {
    /// LSTM.
    Lstm(Box<LstmNet>),
    /// Transformer.
    Transformer(Box<TransformerNet>),
}

impl AnyNet {
    /// A freshly initialised network for `arch` with `features` inputs and, with
    /// `embedded` series (above 0) and the architecture's `embedding_dim` above 0, a series
    /// embedding.
    pub fn init(
        arch: &Arch,
        features: usize,
        embedded: usize,
        seed: u64,
        device: &Device,
    ) -> AnyNet {
        let mut rng = init_rng(seed);
        let t = arch.train();
        let embed = (embedded > 0 && t.embedding_dim > 0).then_some((embedded, t.embedding_dim));
        match arch {
            Arch::Lstm(c) => AnyNet::Lstm(Box::new(LstmNet::new(
                features,
                c.hidden_size,
                c.num_layers,
                t.horizon,
                embed,
                &mut rng,
                device,
            ))),
            Arch::Transformer(c) => AnyNet::Transformer(Box::new(TransformerNet::new(
                TransformerShape {
                    features,
                    d_model: c.width(),
                    heads: c.num_heads,
                    layers: c.num_layers,
                    ff: c.ff_size,
                    horizon: t.horizon,
                    patch_len: c.patch_len.max(1),
                    norm_first: c.norm_first,
                    embed,
                },
                &mut rng,
                device,
            ))),
        }
    }

    /// Serialised weights (burnpack bytes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let rec = match self {
            AnyNet::Lstm(m) => m.clone().into_record(),
            AnyNet::Transformer(m) => m.clone().into_record(),
        };
        rec.into_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| Error::Model {
                model: "neural".into(),
                message: format!("cannot serialise weights: {e}"),
            })
    }

    /// The network for `arch` (with `embedded` series, as in [`AnyNet::init`]) with
    /// weights from `bytes`; errors on corrupt or mismatched weights.
    pub fn from_bytes(
        arch: &Arch,
        features: usize,
        embedded: usize,
        bytes: &[u8],
        device: &Device,
    ) -> Result<AnyNet> {
        let bad = |e: String| Error::Model {
            model: arch.kind().into(),
            message: format!("cannot load weights: {e}"),
        };
        let rec = ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
            .map_err(|e| bad(e.to_string()))?;
        Ok(match AnyNet::init(arch, features, embedded, 0, device) {
            AnyNet::Lstm(m) => AnyNet::Lstm(Box::new(
                m.try_load_record(rec)
                    .map_err(|e| bad(e.to_string()))?
                    .valid(),
            )),
            AnyNet::Transformer(m) => AnyNet::Transformer(Box::new(
                m.try_load_record(rec)
                    .map_err(|e| bad(e.to_string()))?
                    .valid(),
            )),
        })
    }

    /// Network outputs `[n, horizon]` for flat inputs `[n, lookback, features]` of the
    /// series at embedding rows `ids` (see [`Net::forward`]).
    pub fn run(
        &self,
        x: Vec<f32>,
        shape: [usize; 3],
        ids: &[Option<u32>],
        device: &Device,
    ) -> Result<Vec<f32>> {
        let x = tensor3(x, shape, device);
        let out = match self {
            AnyNet::Lstm(m) => m.forward(x, ids, &mut Dropper::off()),
            AnyNet::Transformer(m) => m.forward(x, ids, &mut Dropper::off()),
        };
        out.into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Numerical {
                what: "neural network output".into(),
                message: format!("{e:?}"),
            })
    }
}

/// Decoded forecasts (model scale) for every window of `w`, row-major `[n, horizon]`.
pub fn predict_windows(
    net: &AnyNet,
    w: &Windows,
    scaler: &Scaler,
    device: &Device,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(w.n * w.horizon);
    let idx: Vec<usize> = (0..w.n).collect();
    for chunk in idx.chunks(512) {
        let b = w.batch(chunk);
        let y = net.run(b.x, b.shape, &b.ids, device)?;
        for (j, &i) in chunk.iter().enumerate() {
            for k in 0..w.horizon {
                out.push(scaler.decode(y[j * w.horizon + k], w.last[i]));
            }
        }
    }
    Ok(out)
}

/// Sorted absolute errors per horizon step of `pred` against `w`'s actual values.
pub fn residuals(w: &Windows, pred: &[f64]) -> Vec<Vec<f64>> {
    (0..w.horizon)
        .map(|k| {
            let mut r: Vec<f64> = (0..w.n)
                .map(|i| (w.actual[i * w.horizon + k] - pred[i * w.horizon + k]).abs())
                .collect();
            r.sort_by(f64::total_cmp);
            r
        })
        .collect()
}

/// The split-conformal half-width at `level` percent from sorted residuals.
pub fn conformal_width(sorted: &[f64], level: f64) -> Result<f64> {
    if !(level > 0.0 && level < 100.0) {
        return Err(Error::config(
            "level",
            format!("{level} must lie strictly between 0 and 100"),
        ));
    }
    let n = sorted.len();
    let m = ((n as f64 + 1.0) * level / 100.0).ceil() as usize;
    Ok(if m == 0 {
        0.0
    } else if m > n {
        f64::INFINITY
    } else {
        sorted[m - 1]
    })
}

/// Forecast `horizon` steps from the end of the data `fitted` last saw, with intervals at
/// `levels`.
pub fn forecast(
    net: &AnyNet,
    fitted: &super::NeuralFitted,
    horizon: usize,
    levels: &[f64],
    device: &Device,
) -> Result<Forecast> {
    let (table, scaler, residuals) = (&fitted.recent, &fitted.scaler, &fitted.residuals);
    let scale = fitted.residual_scale.unwrap_or(1.0);
    let lookback = fitted.arch.train().lookback;
    let x = last_window(table, scaler, lookback)?;
    let row = fitted.embedding.as_ref().and_then(|e| e.row);
    let y = net.run(x, [1, lookback, table.len()], &[row], device)?;
    let last = *table[0].last().unwrap_or(&0.0);
    let point: Vec<f64> = y
        .iter()
        .take(horizon)
        .map(|&o| scaler.decode(o, last))
        .collect();
    let intervals = levels
        .iter()
        .map(|&level| {
            let w = (0..horizon)
                .map(|k| {
                    let r = residuals.get(k).map_or(&[][..], |r| r.as_slice());
                    conformal_width(r, level).map(|w| w * scale)
                })
                .collect::<Result<Vec<f64>>>()?;
            Ok(Interval {
                level,
                lower: point.iter().zip(&w).map(|(p, w)| p - w).collect(),
                upper: point.iter().zip(&w).map(|(p, w)| p + w).collect(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Forecast { point, intervals })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformal_rank_follows_the_formula() {
        let r: Vec<f64> = (1..=19).map(|i| i as f64).collect();
        // n = 19: level 90 -> ceil(20 * 0.9) = 18th smallest.
        assert_eq!(conformal_width(&r, 90.0).unwrap(), 18.0);
        assert_eq!(conformal_width(&r, 99.0).unwrap(), f64::INFINITY);
        assert!(conformal_width(&r, 100.0).is_err());
    }
}
