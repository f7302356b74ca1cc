//! Forecast accuracy metrics, computed on the original scale.

use serde::{Deserialize, Serialize};

/// Accuracy of forecasts against actual values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error, in percent (`null` when an actual is 0).
    pub mape: Option<f64>,
    /// Symmetric MAPE, `200 |e| / (|y| + |ŷ|)`, in percent.
    pub smape: f64,
    /// Mean absolute scaled error: MAE over the in-sample MAE of the seasonal naive
    /// forecast on each fold's training data (Hyndman & Koehler, 2006).
    pub mase: Option<f64>,
    /// Share of steps whose forecast moves in the same direction, relative to the last
    /// observation before the origin, as the actual value. A forecast of no change makes
    /// no call and counts as a miss (so the naive forecast scores 0), as in the
    /// statsforecast-based reference backtests.
    pub directional_accuracy: f64,
}

impl Metrics {
    /// The defined metrics as `(name, value)` pairs, in a fixed order (`mae`, `rmse`,
    /// `mape`, `smape`, `mase`, `directional_accuracy`); an undefined `mape` or `mase`
    /// is left out. The one place metrics become keys (tracking, tuner reports).
    pub fn pairs(&self) -> Vec<(&'static str, f64)> {
        let mut out = vec![("mae", self.mae), ("rmse", self.rmse)];
        if let Some(v) = self.mape {
            out.push(("mape", v));
        }
        out.push(("smape", self.smape));
        if let Some(v) = self.mase {
            out.push(("mase", v));
        }
        out.push(("directional_accuracy", self.directional_accuracy));
        out
    }
}

/// One evaluation window: what was forecast and what happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Actual values.
    pub actual: Vec<f64>,
    /// Point forecasts.
    pub forecast: Vec<f64>,
    /// Last observed value before the window (for the direction of change).
    pub last: f64,
    /// In-sample MAE of the seasonal naive forecast on the training data (MASE scale).
    pub scale: f64,
}

/// The MASE scale: in-sample MAE of the lag-`m` naive forecast (`m` falls back to 1
/// when the training data is shorter than two seasons).
pub fn mase_scale(train: &[f64], m: usize) -> f64 {
    let m = if train.len() > 2 * m { m.max(1) } else { 1 };
    if train.len() <= m {
        return f64::NAN;
    }
    train[m..]
        .iter()
        .zip(train)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / (train.len() - m) as f64
}

impl Metrics {
    /// The unweighted mean of each metric over `each` (one entry per series: the
    /// M-competition convention, so that large-scale series do not dominate). A metric
    /// undefined for any entry is undefined in the mean; an empty slice gives NaN.
    pub fn mean(each: &[Metrics]) -> Metrics {
        let n = each.len() as f64;
        let avg = |f: &dyn Fn(&Metrics) -> f64| each.iter().map(f).sum::<f64>() / n;
        let avg_opt = |f: &dyn Fn(&Metrics) -> Option<f64>| {
            let v: Option<Vec<f64>> = each.iter().map(f).collect();
            v.filter(|v| !v.is_empty())
                .map(|v| v.iter().sum::<f64>() / n)
        };
        Metrics {
            mae: avg(&|m| m.mae),
            rmse: avg(&|m| m.rmse),
            mape: avg_opt(&|m| m.mape),
            smape: avg(&|m| m.smape),
            mase: avg_opt(&|m| m.mase),
            directional_accuracy: avg(&|m| m.directional_accuracy),
        }
    }

    /// Pool the errors of several windows. MASE is the mean of each window's scaled MAE.
    pub fn pooled(windows: &[Window]) -> Metrics {
        let mut n = 0.0;
        let (mut ae, mut se, mut ape, mut sape, mut hits) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let mut ape_defined = true;
        let mut mase_sum = 0.0;
        let mut mase_defined = true;
        for w in windows {
            let mut wae = 0.0;
            for (y, f) in w.actual.iter().zip(&w.forecast) {
                let e = y - f;
                n += 1.0;
                ae += e.abs();
                wae += e.abs();
                se += e * e;
                if *y == 0.0 {
                    ape_defined = false;
                } else {
                    ape += (e / y).abs();
                }
                let denom = y.abs() + f.abs();
                if denom > 0.0 {
                    sape += 2.0 * e.abs() / denom;
                }
                let (df, dy) = (f - w.last, y - w.last);
                if df != 0.0 && df.signum() == dy.signum() && dy != 0.0 {
                    hits += 1.0;
                }
            }
            let k = w.actual.len().max(1) as f64;
            if w.scale > 0.0 && w.scale.is_finite() {
                mase_sum += wae / k / w.scale;
            } else {
                mase_defined = false;
            }
        }
        let n = if n == 0.0 { f64::NAN } else { n };
        Metrics {
            mae: ae / n,
            rmse: (se / n).sqrt(),
            mape: ape_defined.then_some(100.0 * ape / n),
            smape: 100.0 * sape / n,
            mase: (mase_defined && !windows.is_empty()).then(|| mase_sum / windows.len() as f64),
            directional_accuracy: hits / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        let w = Window {
            actual: vec![10.0, 12.0],
            forecast: vec![11.0, 9.0],
            last: 10.5,
            scale: 2.0,
        };
        let m = Metrics::pooled(&[w]);
        assert!((m.mae - 2.0).abs() < 1e-12);
        assert!((m.rmse - 5f64.sqrt()).abs() < 1e-12);
        assert!((m.mape.unwrap() - 100.0 * (0.1 + 0.25) / 2.0).abs() < 1e-12);
        assert!((m.smape - 100.0 * (2.0 / 21.0 + 6.0 / 21.0) / 2.0).abs() < 1e-12);
        assert!((m.mase.unwrap() - 1.0).abs() < 1e-12);
        // directions vs 10.5: actual down/up, forecast up/down -> 0 hits
        assert_eq!(m.directional_accuracy, 0.0);
    }

    #[test]
    fn scale_is_seasonal_naive_mae() {
        let y = [1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 9.0];
        assert!((mase_scale(&y, 1) - (1.0 + 1.0 + 2.0 + 1.0 + 1.0 + 2.0) / 6.0).abs() < 1e-12);
        assert!((mase_scale(&y, 3) - (4.0 + 4.0 + 4.0 + 4.0) / 4.0).abs() < 1e-12);
    }
}
