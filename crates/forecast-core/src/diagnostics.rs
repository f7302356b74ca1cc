//! Residual diagnostics of a fitted forecaster: its one-step-ahead fitted values over a
//! history, the sample autocorrelation function and the Ljung–Box portmanteau test.
//!
//! ```
//! use forecast_core::diagnostics::{acf, ljung_box};
//!
//! let x: Vec<f64> = (0..60).map(|i| ((i * 7919) % 31) as f64 - 15.0).collect();
//! let r = acf(&x, 5).expect("the values vary");
//! assert_eq!(r.len(), 6);
//! assert_eq!(r[0], 1.0);
//! let lb = ljung_box(&x, 10, 0)?;
//! assert!(lb.q >= 0.0 && (0.0..=1.0).contains(&lb.p_value));
//! # Ok::<(), forecast_core::Error>(())
//! ```

use crate::data::Column;
use crate::error::{Error, Result};
use crate::models::FittedModel;
use crate::pipeline::Forecaster;
use crate::series::Series;

/// The sample autocorrelations of `x` at lags `0..=max_lag` (lag 0 is 1), the
/// estimator of Box and Jenkins that statsmodels' `acf(x, adjusted=False)` and R's
/// `acf` compute: `r_k = Σ (x_t − x̄)(x_{t+k} − x̄) / Σ (x_t − x̄)²`. `max_lag` is cut to
/// `x.len() − 1`. `None` when `x` has fewer than two values or does not vary.
pub fn acf(x: &[f64], max_lag: usize) -> Option<Vec<f64>> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let c0: f64 = d.iter().map(|v| v * v).sum();
    if !(c0 > 0.0 && c0.is_finite()) {
        return None;
    }
    Some(
        (0..=max_lag.min(n - 1))
            .map(|k| {
                if k == 0 {
                    1.0
                } else {
                    d[..n - k]
                        .iter()
                        .zip(&d[k..])
                        .map(|(a, b)| a * b)
                        .sum::<f64>()
                        / c0
                }
            })
            .collect(),
    )
}

/// The outcome of a Ljung–Box test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LjungBox {
    /// The statistic `Q = n(n+2) Σ_{k=1..lag} r_k² / (n−k)`.
    pub q: f64,
    /// The lags summed.
    pub lag: usize,
    /// Degrees of freedom of the chi-square reference: `lag − fitted_params`.
    pub df: usize,
    /// `P(χ²_df > Q)`: small values say the residuals are autocorrelated.
    pub p_value: f64,
}

/// The Ljung–Box test that `residuals` are uncorrelated up to `lag`, with the chi-square
/// degrees of freedom reduced by `fitted_params` (the ARMA coefficients of the model
/// whose residuals these are), as statsmodels' `acorr_ljungbox(x, lags=[lag],
/// model_df=fitted_params)` does. Errors: `lag` of 0 or not below the number of
/// residuals, no degrees of freedom left, residuals that do not vary.
pub fn ljung_box(residuals: &[f64], lag: usize, fitted_params: usize) -> Result<LjungBox> {
    let n = residuals.len();
    if lag == 0 || lag >= n {
        return Err(Error::config(
            "lag",
            format!(
                "the Ljung–Box lag must be between 1 and {} (the residuals less one), not {lag}",
                n.saturating_sub(1)
            ),
        ));
    }
    if fitted_params >= lag {
        return Err(Error::config(
            "lag",
            format!("a Ljung–Box test at lag {lag} has no degrees of freedom left after {fitted_params} fitted parameters"),
        ));
    }
    let r = acf(residuals, lag).ok_or_else(|| Error::Numerical {
        what: "Ljung–Box test".into(),
        message: "the residuals do not vary".into(),
    })?;
    let nf = n as f64;
    let q = nf
        * (nf + 2.0)
        * (1..=lag)
            .map(|k| r[k] * r[k] / (nf - k as f64))
            .sum::<f64>();
    let df = lag - fitted_params;
    Ok(LjungBox {
        q,
        lag,
        df,
        p_value: chi_square_sf(q, df)?,
    })
}

/// `P(χ²_df > q)`: the regularised upper incomplete gamma function `Q(df/2, q/2)`.
pub fn chi_square_sf(q: f64, df: usize) -> Result<f64> {
    if q <= 0.0 {
        return Ok(1.0);
    }
    statrs::function::gamma::checked_gamma_ur(df as f64 / 2.0, q / 2.0).map_err(|e| {
        Error::Numerical {
            what: "chi-square tail probability".into(),
            message: format!("Q = {q}, {df} degrees of freedom: {e}"),
        }
    })
}

/// One-step-ahead fitted values of a forecaster over the history it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct OneStep {
    /// The first row with a fitted value (the rows before it are what the model needs
    /// to forecast at all).
    pub start: usize,
    /// `fitted[i]` forecasts row `start + i` from the rows before it, in original units.
    pub fitted: Vec<f64>,
    /// `actual − fitted`, row by row.
    pub residuals: Vec<f64>,
}

/// The one-step-ahead fitted values of `forecaster` over `history` (the data it was
/// fitted on, possibly with later rows): for each row from the first one the model can
/// forecast from, the forecast of that row made by the fitted parameters from the rows
/// before it, without refitting. For ARIMA these are the Kalman filter's one-step
/// predictions (residuals = innovations, from row `d + D·s`); for the baselines the
/// textbook fitted values (the last value, the value a season before, ...); for a
/// network its forecast of the next step from the window before it. The model is
/// conditioned on the first rows and then extended one row at a time
/// ([`Forecaster::extend`], time linear in the rows); a model with indicator features,
/// which cannot be extended, is conditioned on each prefix instead (quadratic time).
pub fn one_step_fitted(forecaster: &Forecaster, history: &Series) -> Result<OneStep> {
    let n = history.len();
    let mut start = first_forecastable_row(forecaster).clamp(1, n.max(1));
    // A model whose conditioning needs more rows than its order suggests falls back to
    // the rows its kind is fitted on.
    let mut model = match forecaster.condition(&history.head(start)) {
        Ok(m) => m,
        Err(_) => {
            start = forecaster
                .spec
                .model
                .min_train_rows(forecaster.season_length)
                .clamp(1, n.max(1));
            forecaster.condition(&history.head(start))?
        }
    };
    if start >= n {
        return Err(Error::config(
            "data",
            format!("{n} rows leave no row to forecast one step ahead (the model needs {start} before the first)"),
        ));
    }
    let incremental = forecaster.schema.indicators.is_empty();
    let mut fitted = Vec::with_capacity(n - start);
    for t in start..n {
        if !incremental && t > start {
            model = forecaster.condition(&history.head(t))?;
        }
        let row: Vec<Column> = history.columns(t..t + 1);
        let fc = model.predict(1, &[], &row)?;
        fitted.push(fc.point[0]);
        if incremental && t + 1 < n {
            let times = history
                .times
                .as_ref()
                .map(|ts| ts[t..t + 1].to_vec())
                .unwrap_or_default();
            model = model.extend(&history.target[t..t + 1], &row, &times)?;
        }
    }
    let residuals = history.target[start..]
        .iter()
        .zip(&fitted)
        .map(|(y, f)| y - f)
        .collect();
    Ok(OneStep {
        start,
        fitted,
        residuals,
    })
}

/// The first row a fitted model can forecast from the rows before it: after the
/// differences of an ARIMA model, after a network's input window, after one season for
/// the seasonal naive model, after one row for the other baselines, else after the rows
/// its kind is fitted on.
fn first_forecastable_row(f: &Forecaster) -> usize {
    let arima = |order: [usize; 3], seasonal: [usize; 4]| order[1] + seasonal[1] * seasonal[3] + 1;
    match &f.model {
        FittedModel::Arima(m) => arima(m.order, m.seasonal_order),
        FittedModel::AutoArima(m) => arima(m.model.order, m.model.seasonal_order),
        FittedModel::Lstm(m) | FittedModel::Transformer(m) => m.recent.len().max(1),
        FittedModel::SeasonalNaive(m) => m.last_season.len().max(1),
        FittedModel::Naive(_) | FittedModel::Drift(_) | FittedModel::Mean(_) => 1,
        _ => f.spec.model.min_train_rows(f.season_length),
    }
}

/// The number of ARMA coefficients of a fitted ARIMA model (`p + q + P + Q`), which the
/// Ljung–Box test of its residuals takes off the degrees of freedom; 0 for other kinds.
pub fn arma_params(model: &FittedModel) -> usize {
    match model {
        FittedModel::Arima(m) => m.coefs.len(),
        FittedModel::AutoArima(m) => m.model.coefs.len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;
    use crate::pipeline::ForecasterSpec;

    /// AirPassengers' seasonal differences `x_t = y_t − y_{t−12}` (the seasonal naive
    /// model's residuals, 132 values) and their first differences (131).
    fn air_residuals() -> (Vec<f64>, Vec<f64>) {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../datasets/airpassengers.csv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let y: Vec<f64> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect();
        let x: Vec<f64> = (12..y.len()).map(|t| y[t] - y[t - 12]).collect();
        let z: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        (x, z)
    }

    /// Reference values from statsmodels 0.15.0 (python3, numpy float64):
    /// `statsmodels.tsa.stattools.acf(x, nlags=10, adjusted=False, fft=False)` and
    /// `statsmodels.stats.diagnostic.acorr_ljungbox(x, lags=[lag], model_df=df)` on the
    /// series of [`air_residuals`]. Tolerances: 1e-10 absolute for the autocorrelations,
    /// 1e-8 relative for Q and the p-value. One row per case.
    #[test]
    fn acf_and_ljung_box_match_statsmodels() {
        let (x, z) = air_residuals();
        let acf_x = [
            1.0,
            0.7464603296014448,
            0.6470831419756372,
            0.504892195702806,
            0.40646014136416964,
            0.3547815708825675,
            0.2833776568021563,
            0.21627638130233073,
            0.17502544745315973,
            0.1647323599914423,
            0.0572007538396862,
        ];
        let acf_z = [
            1.0,
            -0.30981464314727186,
            0.0953514582201233,
            -0.09689089129003468,
            -0.09899503356394518,
            0.061000706560238704,
        ];
        for (series, want) in [(&x, &acf_x[..]), (&z, &acf_z[..])] {
            let got = acf(series, want.len() - 1).unwrap();
            assert_eq!(got.len(), want.len());
            for (k, (g, w)) in got.iter().zip(want).enumerate() {
                assert!((g - w).abs() < 1e-10, "lag {k}: {g} vs {w}");
            }
        }
        // (series, lag, model_df, Q, p-value)
        let cases: [(&[f64], usize, usize, f64, f64); 6] = [
            (&x, 24, 0, 275.036389140433, 1.7113026403210162e-44),
            (&x, 24, 2, 275.036389140433, 1.3582225371205118e-45),
            (&x, 10, 0, 234.1585575777562, 1.152889762748918e-44),
            (&z, 10, 0, 25.450926263716706, 0.004553247043304132),
            (&z, 24, 2, 51.36242015510289, 0.00038259585637609054),
            (&z, 5, 1, 17.2290354345009, 0.0017445764080821701),
        ];
        for (series, lag, df, q, p) in cases {
            let lb = ljung_box(series, lag, df).unwrap();
            assert_eq!((lb.lag, lb.df), (lag, lag - df));
            assert!(
                (lb.q - q).abs() <= 1e-8 * q,
                "lag {lag} df {df}: Q {} vs {q}",
                lb.q
            );
            assert!(
                (lb.p_value - p).abs() <= 1e-8 * p,
                "lag {lag} df {df}: p {} vs {p}",
                lb.p_value
            );
        }
    }

    #[test]
    fn acf_of_too_little_or_constant_data_is_none() {
        assert!(acf(&[], 3).is_none());
        assert!(acf(&[1.0], 3).is_none());
        assert!(acf(&[2.0; 10], 3).is_none());
        assert_eq!(acf(&[1.0, 2.0, 3.0], 10).map(|r| r.len()), Some(3));
    }

    #[test]
    fn ljung_box_refuses_lags_it_cannot_test() {
        let x: Vec<f64> = (0..20).map(|i| (i as f64).sin()).collect();
        assert!(ljung_box(&x, 0, 0).is_err());
        assert!(ljung_box(&x, 20, 0).is_err());
        assert!(ljung_box(&x, 3, 3).is_err());
        assert!(ljung_box(&[1.0; 20], 5, 0).is_err());
        assert_eq!(chi_square_sf(0.0, 3).unwrap(), 1.0);
    }

    /// The baselines' fitted values are their textbook ones: the value a season
    /// before for the seasonal naive model, the last value plus the drift for drift.
    #[test]
    fn one_step_fitted_values_of_the_baselines() {
        let y: Vec<f64> = (0..48)
            .map(|i| 100.0 + i as f64 + 10.0 * ((i % 12) as f64 - 6.0).abs() + (i as f64).sin())
            .collect();
        let s = Series::from_values(y.clone(), 12);
        let snaive = ForecasterSpec::new(ModelConfig::from_kind("seasonal-naive").unwrap())
            .fit_quiet(&s)
            .unwrap();
        let o = one_step_fitted(&snaive, &s).unwrap();
        assert_eq!(o.start, 12);
        for (i, f) in o.fitted.iter().enumerate() {
            let t = o.start + i;
            assert_eq!(*f, y[t - 12], "row {t}");
            assert_eq!(o.residuals[i], y[t] - y[t - 12]);
        }
        let drift = ForecasterSpec::new(ModelConfig::from_kind("drift").unwrap())
            .fit_quiet(&s)
            .unwrap();
        let FittedModel::Drift(d) = &drift.model else {
            unreachable!()
        };
        let o = one_step_fitted(&drift, &s).unwrap();
        for (i, f) in o.fitted.iter().enumerate() {
            let t = o.start + i;
            assert!((f - (y[t - 1] + d.drift)).abs() < 1e-9, "row {t}");
        }
    }

    /// ARIMA's one-step residuals by extending row by row equal those of conditioning
    /// on every prefix (the definition), and the forecaster is left as it was.
    #[test]
    fn arima_one_step_residuals_match_conditioning_on_each_prefix() {
        let y: Vec<f64> = (0..80)
            .map(|i| {
                let t = i as f64;
                20.0 + 0.2 * t + 3.0 * (t * std::f64::consts::PI / 6.0).sin() + (t * 1.3).sin()
            })
            .collect();
        let s = Series::from_values(y.clone(), 12);
        let mut model = ModelConfig::from_kind("arima").unwrap();
        model.set("order", "[1,1,1]").unwrap();
        let f = ForecasterSpec::new(model).fit_quiet(&s).unwrap();
        let o = one_step_fitted(&f, &s).unwrap();
        assert_eq!(o.start, 2);
        assert_eq!(o.fitted.len(), 78);
        for t in [2, 10, 40, 79] {
            let want = f
                .condition(&s.head(t))
                .unwrap()
                .predict(1, &[], &[])
                .unwrap()
                .point[0];
            let got = o.fitted[t - o.start];
            assert!(
                (got - want).abs() <= 1e-9 * want.abs(),
                "row {t}: {got} vs {want}"
            );
        }
        assert_eq!(arma_params(&f.model), 2);
    }
}
