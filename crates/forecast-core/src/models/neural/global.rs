//! Global networks: one network trained on the windows of every series of a panel, as
//! neuralforecast trains its models.
//!
//! - **Per-series scaling**: each series' inputs and labels are standardised with a
//!   [`Scaler`] fitted on that series' own training rows (neuralforecast's per-series
//!   scalers), so series of any level and scale share one network.
//! - **Training**: the training windows of every series form one shuffled set; the
//!   validation windows of every series drive early stopping.
//! - **Intervals**: split-conformal on the pooled validation windows of every series,
//!   in standardised label units (a series' error in its own units is its label
//!   deviation times the standardised error), so series with few validation windows
//!   of their own still get calibrated intervals. The pool is thinned to at most
//!   [`POOL_RANKS`] order statistics per horizon step, chosen so that every
//!   interval is at least as wide as the full pool's.
//! - **Series embedding** (`embedding_dim` above 0): a learned vector per series
//!   ([`super::layers::SeriesEmbedding`]) appended to the network's input at every step,
//!   so that series whose scaled windows look alike can still follow dynamics of their
//!   own; a series the network never saw takes the mean vector.
//! - **New series**: [`NeuralFitted::adopt`] forecasts a series the network never saw,
//!   with a scaler fitted on that series' history.
//!
//! Each series keeps its own [`NeuralFitted`] (scaler, last window) sharing one set of
//! weights and one residual pool (reference-counted, not copied).

use super::dataset::{Scaler, Windows};
use super::inference::AnyNet;
use super::{device, sha256, train_net, Arch, EmbeddingSlot, NeuralFitted, Prepared, Weights};
use crate::error::{Error, Result};
use crate::models::TrainingData;
use crate::reporter::Reporter;
use std::sync::Arc;

/// Most order statistics kept per horizon step of the pooled residuals.
pub const POOL_RANKS: usize = 1000;

/// Train one network of `arch` on every series of `data` (each series' training rows and
/// validation rows as [`TrainingData`] gives them). The outer error is a failure of the
/// whole fit (no series usable, training diverged); a series that cannot take part (too
/// short, non-finite values) is an error in its own place, and the others are fitted.
pub fn fit_global(
    arch: &Arch,
    data: &[TrainingData<'_>],
    seed: u64,
    reporter: &mut dyn Reporter,
) -> Result<Vec<Result<NeuralFitted>>> {
    let cfg = arch.train();
    let (l, h) = (cfg.lookback, cfg.horizon);
    let prepared: Vec<Result<(Prepared, Scaler)>> = data
        .iter()
        .map(|d| {
            let p = Prepared::new(arch, d, true)?;
            let scaler = Scaler::fit(&p.tab, p.n_train, cfg.target_mode, h);
            Ok((p, scaler))
        })
        .collect();
    let Some(features) = prepared.iter().flatten().next().map(|(p, _)| p.tab.len()) else {
        // No series can take part: each one's error says why.
        return Ok(prepared
            .into_iter()
            .filter_map(|r| r.err())
            .map(Err)
            .collect());
    };
    // Each series that takes part gets the next row of the series embedding.
    let rows: Vec<Option<u32>> = prepared
        .iter()
        .scan(0u32, |next, r| {
            Some(r.is_ok().then(|| {
                *next += 1;
                *next - 1
            }))
        })
        .collect();
    let embedded = rows.iter().flatten().count();
    let mut train_w = Windows::default();
    let mut valid_w = Windows::default();
    for ((p, scaler), row) in prepared.iter().flatten().zip(rows.iter().flatten()) {
        if p.tab.len() != features {
            return Err(Error::config(
                "features",
                "the series of a panel have different input columns",
            ));
        }
        train_w.append(Windows::build(&p.tab, scaler, l, h, l - 1..p.n_train - h).of_series(*row));
        if p.total() >= p.n_train + h {
            valid_w.append(
                Windows::build(&p.tab, scaler, l, h, p.n_train - 1..p.total() - h).of_series(*row),
            );
        }
    }
    if valid_w.n == 0 && cfg.valid_fraction > 0.0 {
        return Err(Error::config(
            "valid_fraction",
            "no series has a validation window (lower lookback or horizon, or use longer series)",
        ));
    }
    let devices = device::resolve(&cfg.device)?;
    let net = AnyNet::init(arch, features, embedded, seed, &devices.train);
    let embedding = |row: Option<u32>| {
        (cfg.embedding_dim > 0).then_some(EmbeddingSlot {
            series: embedded,
            row,
        })
    };
    let (best, stats) = train_net(arch, net, &train_w, &valid_w, seed, &devices, reporter)?;
    let residuals = Arc::new(pooled_residuals(&best, &valid_w, &devices.infer)?);
    let bytes = best.to_bytes()?;
    let weights_sha256 = sha256(&bytes);
    let weights = Weights(Arc::new(bytes));
    let names: Vec<String> = data
        .first()
        .map(|d| d.features.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    Ok(prepared
        .into_iter()
        .zip(data)
        .zip(rows)
        .map(|((r, d), row)| {
            r.map(|(p, scaler)| NeuralFitted {
                embedding: embedding(row),
                arch: arch.clone(),
                features: names.clone(),
                recent: p.recent(d.target.len(), l),
                residual_scale: Some(scaler.label_std),
                scaler,
                residuals: Arc::clone(&residuals),
                stats: stats.clone(),
                weights_sha256: weights_sha256.clone(),
                weights: weights.clone(),
            })
        })
        .collect())
}

/// Sorted absolute errors per horizon step in standardised label units over `w`,
/// thinned to at most [`POOL_RANKS`] order statistics.
fn pooled_residuals(
    net: &AnyNet,
    w: &Windows,
    device: &burn::prelude::Device,
) -> Result<Vec<Vec<f64>>> {
    let mut errs: Vec<Vec<f64>> = vec![Vec::with_capacity(w.n); w.horizon];
    let idx: Vec<usize> = (0..w.n).collect();
    for chunk in idx.chunks(512) {
        let b = w.batch(chunk);
        let out = net.run(b.x, b.shape, &b.ids, device)?;
        let y = b.y;
        for j in 0..chunk.len() {
            for (k, e) in errs.iter_mut().enumerate() {
                let i = j * w.horizon + k;
                e.push((y[i] as f64 - out[i] as f64).abs());
            }
        }
    }
    Ok(errs
        .into_iter()
        .map(|mut e| {
            e.sort_by(f64::total_cmp);
            thin(e, POOL_RANKS)
        })
        .collect())
}

/// At most `k` order statistics of the sorted `e` (length `n`): the `ceil(j n / k)`-th
/// smallest for `j = 1..=k`. A level-`L` conformal width from the thinned list takes
/// rank `m = ceil((k + 1) L)` of it, the `ceil(m n / k)`-th smallest of `e`, which is at
/// least the full list's rank `ceil((n + 1) L)`: intervals only widen.
pub fn thin(e: Vec<f64>, k: usize) -> Vec<f64> {
    let n = e.len();
    if n <= k {
        return e;
    }
    (1..=k).map(|j| e[(j * n).div_ceil(k) - 1]).collect()
}

impl NeuralFitted {
    /// This series' network applied to a series it was not trained on: the scaler is
    /// fitted on `history` (all of it), and the model is anchored at its end. Only a
    /// global model's series can adopt another (a one-series network's scaling is its
    /// own series').
    pub fn adopt(&self, history: &TrainingData<'_>) -> Result<NeuralFitted> {
        if !self.is_global() {
            return Err(Error::config(
                "data",
                "only a global model (trained on a panel) forecasts series it was not trained on",
            ));
        }
        let tab = self.input_table(history)?;
        let cfg = self.arch.train();
        let l = cfg.lookback;
        let n = tab[0].len();
        if n < l + 1 {
            return Err(Error::TooFewRows {
                what: format!("a new series for a model with lookback {l}"),
                needed: l + 1,
                available: n,
            });
        }
        let scaler = Scaler::fit(&tab, n, cfg.target_mode, cfg.horizon);
        Ok(NeuralFitted {
            recent: tab.iter().map(|c| c[n - l..].to_vec()).collect(),
            residual_scale: Some(scaler.label_std),
            scaler,
            // A new series has no row of its own: the mean of the trained rows.
            embedding: self.embedding.as_ref().map(|e| EmbeddingSlot {
                series: e.series,
                row: None,
            }),
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_never_narrows_a_conformal_width() {
        use super::super::inference::conformal_width;
        for n in [1000usize, 1001, 2500, 7919] {
            let e: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            let t = thin(e.clone(), 1000);
            assert!(t.len() <= 1000);
            for level in [50.0, 80.0, 90.0, 95.0, 99.0] {
                let full = conformal_width(&e, level).unwrap();
                let thinned = conformal_width(&t, level).unwrap();
                assert!(thinned >= full, "n {n} level {level}: {thinned} < {full}");
                // ... and by at most about 2 n / k ranks.
                assert!(thinned - full <= 2.0 * n as f64 / 1000.0 + 2.0);
            }
        }
    }
}
