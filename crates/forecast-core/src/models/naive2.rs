//! Naive 2: the naive forecast of the seasonally adjusted series, reseasonalised — the
//! benchmark of the M3 and M4 competitions, and the yardstick of the M4's OWA.
//!
//! The series is seasonally adjusted only when it is seasonal at the 90% level, by the
//! test of the M4 competition's benchmark code: the autocorrelation at lag `m`, `r_m`,
//! must exceed `1.645 √((1 + 2 s) / n)` in absolute value, where
//! `s = r_1 + Σ_{k=2}^{m-1} r_k²` (the M4 code adds `r_1` itself, not its square; we do
//! the same, to score as the competition did). The seasonal indices are those of a
//! classical multiplicative decomposition: the centred moving average of order `m`
//! (`2×m` for even `m`) as the trend, each season position's mean ratio of the series
//! to the trend, normalised to average 1. Series of non-positive values, or shorter
//! than three seasons, are not adjusted (multiplicative indices need positive values
//! and a few cycles), nor are series with `m = 1`.
//!
//! Intervals are the naive forecast's (`σ̂ √h`, σ̂² the mean squared one-step change of
//! the adjusted series), multiplied by the step's seasonal index.

use super::baselines::{check_season_length, need, report_once};
use super::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::Result;
use crate::forecast::Forecast;
use crate::reporter::Reporter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Naive 2: naive forecast of the seasonally adjusted series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Naive2 {
    /// Season length; `None` takes the data's (12 for monthly data, ...).
    pub season_length: Option<usize>,
}

/// A fitted [`Naive2`] model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Naive2Fitted {
    /// Seasonal index of each season position (position = row number modulo the
    /// season length); all 1 when the series was not adjusted.
    pub indices: Vec<f64>,
    /// Last value of the adjusted series.
    pub last: f64,
    /// Rows seen: the next forecast step is at position `nobs % m`.
    pub nobs: usize,
    /// Residual standard deviation of the adjusted series' one-step changes.
    pub sigma: f64,
    /// Whether the seasonality test passed (the series was adjusted).
    pub seasonal: bool,
}

/// Sample autocorrelation of `y` at lag `k` (the M4 code's `acf`).
pub(crate) fn acf(y: &[f64], k: usize) -> f64 {
    let n = y.len();
    let mean = y.iter().sum::<f64>() / n as f64;
    let den: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if k >= n || den == 0.0 {
        return 0.0;
    }
    let num: f64 = (0..n - k).map(|i| (y[i] - mean) * (y[i + k] - mean)).sum();
    num / den
}

/// The M4 benchmark's 90% seasonality test at lag `m`.
pub fn seasonality_test(y: &[f64], m: usize) -> bool {
    if m < 2 || y.len() <= m {
        return false;
    }
    let mut s = acf(y, 1);
    for k in 2..m {
        s += acf(y, k).powi(2);
    }
    let limit = 1.645 * ((1.0 + 2.0 * s) / y.len() as f64).sqrt();
    acf(y, m).abs() > limit
}

/// Seasonal indices of a classical multiplicative decomposition with period `m`
/// (indexed by row number modulo `m`), normalised to average 1.
pub fn multiplicative_indices(y: &[f64], m: usize) -> Vec<f64> {
    let n = y.len();
    let half = m / 2;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for t in half..n.saturating_sub(half) {
        let trend = if m.is_multiple_of(2) {
            (0.5 * y[t - half] + y[t + 1 - half..t + half].iter().sum::<f64>() + 0.5 * y[t + half])
                / m as f64
        } else {
            y[t - half..=t + half].iter().sum::<f64>() / m as f64
        };
        sums[t % m] += y[t] / trend;
        counts[t % m] += 1;
    }
    let mut idx: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { 1.0 })
        .collect();
    let mean = idx.iter().sum::<f64>() / m as f64;
    for v in &mut idx {
        *v /= mean;
    }
    idx
}

impl ModelFacts for Naive2 {
    fn kind(&self) -> &'static str {
        "naive2"
    }
    fn check(&self) -> Result<()> {
        check_season_length(self.season_length)
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        2
    }
}

impl Fit for Naive2 {
    type Fitted = Naive2Fitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<Naive2Fitted> {
        let m = config.season_length.unwrap_or(data.season_length).max(1);
        let y = data.target;
        need("the naive 2 model", 2, y)?;
        let adjustable = m > 1 && y.len() >= 3 * m && y.iter().all(|v| *v > 0.0);
        let seasonal = adjustable && seasonality_test(y, m);
        let indices = if seasonal {
            multiplicative_indices(y, m)
        } else {
            vec![1.0; m]
        };
        let adjusted: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(t, v)| v / indices[t % m])
            .collect();
        let n = adjusted.len();
        let mse = adjusted
            .windows(2)
            .map(|w| (w[1] - w[0]).powi(2))
            .sum::<f64>()
            / (n - 1) as f64;
        report_once(reporter, mse);
        Ok(Naive2Fitted {
            last: adjusted[n - 1],
            indices,
            nobs: n,
            sigma: mse.sqrt(),
            seasonal,
        })
    }
}

impl Predict for Naive2Fitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let m = self.indices.len().max(1);
        let index = |i: usize| self.indices[(self.nobs + i) % m];
        let point: Vec<f64> = (0..h).map(|i| self.last * index(i)).collect();
        let sd: Vec<f64> = (0..h)
            .map(|i| self.sigma * ((i + 1) as f64).sqrt() * index(i))
            .collect();
        Forecast::gaussian(point, &sd, levels)
    }
    /// Re-anchor on `history`, every row from the start of the training rows (the
    /// seasonal positions count from its first row).
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        let y = history.target;
        need("conditioning the naive 2 model", 1, y)?;
        let m = self.indices.len().max(1);
        Ok(Naive2Fitted {
            last: y[y.len() - 1] / self.indices[(y.len() - 1) % m],
            nobs: y.len(),
            ..self.clone()
        })
    }
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        super::baselines::check_new_rows(rows)?;
        let Some(&y) = rows.target.last() else {
            return Ok(self.clone());
        };
        let m = self.indices.len().max(1);
        let nobs = self.nobs + rows.target.len();
        Ok(Naive2Fitted {
            last: y / self.indices[(nobs - 1) % m],
            nobs,
            ..self.clone()
        })
    }
    fn fit_stats(&self) -> Value {
        json!({
            "season_length": self.indices.len(),
            "seasonal": self.seasonal,
            "indices": self.indices,
            "sigma2": self.sigma * self.sigma,
            "sigma": self.sigma,
            "nobs": self.nobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::Silent;

    fn fit(y: &[f64], m: usize) -> Naive2Fitted {
        Naive2::fit_checked(
            &Checked(Naive2::default()),
            &TrainingData::univariate(y, m),
            &mut Silent,
        )
        .unwrap()
    }

    #[test]
    fn a_purely_multiplicative_seasonal_series_is_forecast_exactly() {
        // Level 100 times fixed seasonal factors (mean 1): adjusting recovers the flat
        // level, so the forecast is the factors times 100, continued in phase.
        let f: Vec<f64> = (0..4).map(|j| 1.0 + 0.3 * (j as f64 - 1.5) / 1.5).collect();
        let y: Vec<f64> = (0..40).map(|t| 100.0 * f[t % 4]).collect();
        let m = fit(&y, 4);
        assert!(m.seasonal);
        let fc = m.predict(6, &[], &[]).unwrap();
        for (i, p) in fc.point.iter().enumerate() {
            assert!((p - 100.0 * f[(40 + i) % 4]).abs() < 1e-9, "{i}: {p}");
        }
    }

    #[test]
    fn a_non_seasonal_series_is_the_naive_forecast() {
        let y: Vec<f64> = (0..50).map(|t| 10.0 + t as f64 * 0.5).collect();
        let m = fit(&y, 12);
        assert!(!m.seasonal);
        let fc = m.predict(3, &[], &[]).unwrap();
        assert_eq!(fc.point, vec![34.5; 3]);
        // m = 1: never adjusted.
        assert!(!fit(&y, 1).seasonal);
    }
}
