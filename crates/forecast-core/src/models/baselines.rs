//! Baseline forecasters with their standard prediction intervals.
//!
//! Point forecasts and interval widths follow Hyndman & Athanasopoulos, *Forecasting:
//! Principles and Practice* (3rd ed.), section 5.5, with the residual variances of R's
//! `forecast` package (`rwf`, `snaive`, `meanf`), which statsforecast also follows:
//!
//! | model | forecast | σ̂² | σ̂ₕ |
//! |---|---|---|---|
//! | naive | `y_T` | mean of squared one-step changes | `σ̂ √h` |
//! | seasonal naive | `y_{T+h-m(k+1)}` | mean of squared seasonal changes | `σ̂ √(k+1)`, `k = ⌊(h-1)/m⌋` |
//! | drift | `y_T + h·c`, `c = (y_T - y_1)/(T-1)` | `Σ(Δy - c)² / (T-2)` | `σ̂ √(h(1 + h/(T-1)))` |
//! | mean | `ȳ` | sample variance (ddof 1) | `σ̂ √(1 + 1/T)` |
//!
//! Intervals are Gaussian (`meanf` in R uses Student-t quantiles; the difference is
//! below 1% once T > 60).

use super::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::reporter::{EpochReport, Reporter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// At least `needed` values in `data`, else an error naming `what`.
pub(super) fn need(what: &str, needed: usize, data: &[f64]) -> Result<()> {
    if data.len() < needed {
        return Err(Error::TooFewRows {
            what: what.into(),
            needed,
            available: data.len(),
        });
    }
    Ok(())
}

/// The one epoch of a model fitted in one go.
pub(super) fn report_once(reporter: &mut dyn Reporter, mse: f64) {
    let _ = reporter.report(&EpochReport {
        epoch: 1,
        max_epochs: Some(1),
        train_loss: mse,
        valid_loss: None,
        extra: vec![],
    });
}

/// Mean of squared lag-`m` changes of `y` (the residual variance of a lag walk).
fn lag_mse(y: &[f64], m: usize) -> f64 {
    let n = y.len() - m;
    y[m..]
        .iter()
        .zip(y)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n as f64
}

/// A configured season length must be at least 1 (`None` takes the data's).
/// New rows for [`Predict::extend`]: finite target values.
pub(super) fn check_new_rows(rows: &TrainingData<'_>) -> Result<()> {
    match rows.target.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::Numerical {
            what: "the new rows".into(),
            message: format!(
                "target value {} at new row {} is not finite",
                rows.target[i],
                i + 1
            ),
        }),
        None => Ok(()),
    }
}

pub(super) fn check_season_length(season_length: Option<usize>) -> Result<()> {
    if season_length == Some(0) {
        return Err(Error::config("season_length", "must be at least 1"));
    }
    Ok(())
}

/// Random walk: every forecast is the last observation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Naive {}

/// A fitted [`Naive`] model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NaiveFitted {
    /// Last observation.
    pub last: f64,
    /// Residual standard deviation.
    pub sigma: f64,
    /// Observations used.
    pub nobs: usize,
}

impl ModelFacts for Naive {
    fn kind(&self) -> &'static str {
        "naive"
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        2
    }
}

impl Fit for Naive {
    type Fitted = NaiveFitted;
    fn fit_checked(
        _config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<NaiveFitted> {
        let y = data.target;
        need("the naive model", 2, y)?;
        let mse = lag_mse(y, 1);
        report_once(reporter, mse);
        Ok(NaiveFitted {
            last: y[y.len() - 1],
            sigma: mse.sqrt(),
            nobs: y.len(),
        })
    }
}

impl Predict for NaiveFitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let sd: Vec<f64> = (1..=h).map(|i| self.sigma * (i as f64).sqrt()).collect();
        Forecast::gaussian(vec![self.last; h], &sd, levels)
    }
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        need("conditioning the naive model", 1, history.target)?;
        Ok(NaiveFitted {
            last: history.target[history.target.len() - 1],
            ..self.clone()
        })
    }
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        check_new_rows(rows)?;
        Ok(NaiveFitted {
            last: rows.target.last().copied().unwrap_or(self.last),
            ..self.clone()
        })
    }
    fn fit_stats(&self) -> Value {
        json!({"sigma2": self.sigma * self.sigma, "sigma": self.sigma, "nobs": self.nobs})
    }
}

/// Seasonal naive: every forecast is the observation one season earlier.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeasonalNaive {
    /// Season length; `None` takes the data's (12 for monthly data, ...).
    pub season_length: Option<usize>,
}

/// A fitted [`SeasonalNaive`] model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonalNaiveFitted {
    /// The last `m` observations.
    pub last_season: Vec<f64>,
    /// Residual standard deviation.
    pub sigma: f64,
    /// Observations used.
    pub nobs: usize,
}

impl ModelFacts for SeasonalNaive {
    fn kind(&self) -> &'static str {
        "seasonal-naive"
    }
    fn check(&self) -> Result<()> {
        check_season_length(self.season_length)
    }
    fn min_train_rows(&self, season_length: usize) -> usize {
        self.season_length.unwrap_or(season_length).max(1) + 1
    }
}

impl Fit for SeasonalNaive {
    type Fitted = SeasonalNaiveFitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<SeasonalNaiveFitted> {
        let m = config.season_length.unwrap_or(data.season_length).max(1);
        let y = data.target;
        need(&format!("the seasonal naive model (season {m})"), m + 1, y)?;
        let mse = lag_mse(y, m);
        report_once(reporter, mse);
        Ok(SeasonalNaiveFitted {
            last_season: y[y.len() - m..].to_vec(),
            sigma: mse.sqrt(),
            nobs: y.len(),
        })
    }
}

impl Predict for SeasonalNaiveFitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let m = self.last_season.len();
        let point = (0..h).map(|i| self.last_season[i % m]).collect();
        let sd: Vec<f64> = (0..h)
            .map(|i| self.sigma * ((i / m + 1) as f64).sqrt())
            .collect();
        Forecast::gaussian(point, &sd, levels)
    }
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        let m = self.last_season.len();
        need("conditioning the seasonal naive model", m, history.target)?;
        Ok(SeasonalNaiveFitted {
            last_season: history.target[history.target.len() - m..].to_vec(),
            ..self.clone()
        })
    }
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        check_new_rows(rows)?;
        let m = self.last_season.len();
        let mut last_season = self.last_season.clone();
        last_season.extend_from_slice(rows.target);
        let drop = last_season.len() - m;
        last_season.drain(..drop);
        Ok(SeasonalNaiveFitted {
            last_season,
            ..self.clone()
        })
    }
    fn fit_stats(&self) -> Value {
        json!({
            "season_length": self.last_season.len(),
            "sigma2": self.sigma * self.sigma,
            "sigma": self.sigma,
            "nobs": self.nobs,
        })
    }
}

/// Random walk with drift: the line through the first and last observations, extended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {}

/// A fitted [`Drift`] model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftFitted {
    /// Last observation.
    pub last: f64,
    /// Average change per step.
    pub drift: f64,
    /// Residual standard deviation.
    pub sigma: f64,
    /// Observations used.
    pub nobs: usize,
}

impl ModelFacts for Drift {
    fn kind(&self) -> &'static str {
        "drift"
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        3
    }
}

impl Fit for Drift {
    type Fitted = DriftFitted;
    fn fit_checked(
        _config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<DriftFitted> {
        let y = data.target;
        need("the drift model", 3, y)?;
        let t = y.len();
        let drift = (y[t - 1] - y[0]) / (t - 1) as f64;
        let ss: f64 = y.windows(2).map(|w| (w[1] - w[0] - drift).powi(2)).sum();
        let sigma2 = ss / (t - 2) as f64;
        report_once(reporter, ss / (t - 1) as f64);
        Ok(DriftFitted {
            last: y[t - 1],
            drift,
            sigma: sigma2.sqrt(),
            nobs: t,
        })
    }
}

impl Predict for DriftFitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let n1 = (self.nobs - 1) as f64;
        let point = (1..=h).map(|i| self.last + i as f64 * self.drift).collect();
        let sd: Vec<f64> = (1..=h)
            .map(|i| {
                let h = i as f64;
                self.sigma * (h * (1.0 + h / n1)).sqrt()
            })
            .collect();
        Forecast::gaussian(point, &sd, levels)
    }
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        need("conditioning the drift model", 1, history.target)?;
        Ok(DriftFitted {
            last: history.target[history.target.len() - 1],
            ..self.clone()
        })
    }
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        check_new_rows(rows)?;
        Ok(DriftFitted {
            last: rows.target.last().copied().unwrap_or(self.last),
            ..self.clone()
        })
    }
    fn fit_stats(&self) -> Value {
        json!({"drift": self.drift, "sigma2": self.sigma * self.sigma, "sigma": self.sigma, "nobs": self.nobs})
    }
}

/// The historical mean.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mean {}

/// A fitted [`Mean`] model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanFitted {
    /// Mean of the training values.
    pub mean: f64,
    /// Sample standard deviation.
    pub sigma: f64,
    /// Observations used.
    pub nobs: usize,
}

impl ModelFacts for Mean {
    fn kind(&self) -> &'static str {
        "mean"
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        2
    }
}

impl Fit for Mean {
    type Fitted = MeanFitted;
    fn fit_checked(
        _config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<MeanFitted> {
        let y = data.target;
        need("the mean model", 2, y)?;
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let ss: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
        report_once(reporter, ss / n);
        Ok(MeanFitted {
            mean,
            sigma: (ss / (n - 1.0)).sqrt(),
            nobs: y.len(),
        })
    }
}

impl Predict for MeanFitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let sd = vec![self.sigma * (1.0 + 1.0 / self.nobs as f64).sqrt(); h];
        Forecast::gaussian(vec![self.mean; h], &sd, levels)
    }
    fn condition(&self, _: &TrainingData<'_>) -> Result<Self> {
        Ok(self.clone())
    }
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        check_new_rows(rows)?;
        Ok(self.clone())
    }
    fn fit_stats(&self) -> Value {
        json!({"mean": self.mean, "sigma2": self.sigma * self.sigma, "sigma": self.sigma, "nobs": self.nobs})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::Silent;

    const Y: [f64; 6] = [10.0, 12.0, 11.0, 15.0, 14.0, 18.0];
    const Z95: f64 = 1.959963984540054;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }

    // Every expected value below is worked out by hand from the formulas in FPP3 §5.5.

    #[test]
    fn naive_by_hand() {
        let f = Naive {}
            .fit(&TrainingData::univariate(&Y, 1), &mut Silent)
            .unwrap();
        // changes 2, -1, 4, -1, 4 -> mse = 38 / 5
        let sigma = (38.0f64 / 5.0).sqrt();
        let fc = f.predict(3, &[95.0], &[]).unwrap();
        assert_eq!(fc.point, vec![18.0; 3]);
        close(fc.intervals[0].upper[2], 18.0 + Z95 * sigma * 3f64.sqrt());
        close(fc.intervals[0].lower[0], 18.0 - Z95 * sigma);
    }

    #[test]
    fn seasonal_naive_by_hand() {
        let f = SeasonalNaive {
            season_length: Some(2),
        }
        .fit(&TrainingData::univariate(&Y, 1), &mut Silent)
        .unwrap();
        // seasonal changes 1, 3, 3, 3 -> mse = 28 / 4
        let sigma = (28.0f64 / 4.0).sqrt();
        let fc = f.predict(3, &[95.0], &[]).unwrap();
        assert_eq!(fc.point, vec![14.0, 18.0, 14.0]);
        close(fc.intervals[0].upper[1], 18.0 + Z95 * sigma);
        close(fc.intervals[0].upper[2], 14.0 + Z95 * sigma * 2f64.sqrt());
    }

    #[test]
    fn drift_by_hand() {
        let f = Drift {}
            .fit(&TrainingData::univariate(&Y, 1), &mut Silent)
            .unwrap();
        // c = 8 / 5; residuals 0.4, -2.6, 2.4, -2.6, 2.4 -> ss = 0.16+6.76+5.76+6.76+5.76 = 25.2
        close(f.drift, 1.6);
        let sigma = (25.2f64 / 4.0).sqrt();
        let fc = f.predict(2, &[80.0], &[]).unwrap();
        close(fc.point[1], 18.0 + 3.2);
        let z80 = 1.2815515655446004;
        close(
            fc.intervals[0].upper[1],
            21.2 + z80 * sigma * (2.0f64 * (1.0 + 2.0 / 5.0)).sqrt(),
        );
    }

    #[test]
    fn mean_by_hand() {
        let f = Mean {}
            .fit(&TrainingData::univariate(&Y, 1), &mut Silent)
            .unwrap();
        // mean 80/6; deviations squared sum = 41.333...
        let mean = 80.0 / 6.0;
        let ss: f64 = Y.iter().map(|v| (v - mean).powi(2)).sum();
        let fc = f.predict(1, &[95.0], &[]).unwrap();
        close(fc.point[0], mean);
        close(
            fc.intervals[0].upper[0],
            mean + Z95 * (ss / 5.0).sqrt() * (1.0 + 1.0 / 6.0f64).sqrt(),
        );
    }

    #[test]
    fn too_short_is_an_error() {
        assert!(Naive {}
            .fit(&TrainingData::univariate(&[1.0], 1), &mut Silent)
            .is_err());
        assert!(SeasonalNaive {
            season_length: Some(12)
        }
        .fit(&TrainingData::univariate(&Y, 1), &mut Silent)
        .is_err());
    }

    #[test]
    fn intervals_widen_with_horizon() {
        let f = Naive {}
            .fit(&TrainingData::univariate(&Y, 1), &mut Silent)
            .unwrap();
        let fc = f.predict(10, &[80.0, 95.0], &[]).unwrap();
        for iv in &fc.intervals {
            for w in iv.upper.windows(2) {
                assert!(w[1] > w[0]);
            }
        }
        assert!(fc.intervals[1].upper[0] > fc.intervals[0].upper[0]);
    }
}
