//! The Theta family: the standard Theta method and the optimised and dynamic Theta
//! models of Fiorucci, Pellegrini, Louzada, Petropoulos & Koehler (2016), "Models for
//! optimising the theta method and their relationship to state space models"
//! (International Journal of Forecasting 32), defined as statsforecast defines them
//! (`Theta`, `OptimizedTheta`, `DynamicTheta`, `DynamicOptimizedTheta`, `AutoTheta`).
//!
//! **Seasonal adjustment.** When the season length `m` is at least 4, the series has at
//! least `2m` rows and its autocorrelation at lag `m` passes the 90% test
//! `|r_m| > 1.645 √((1 + 2 Σ_{k<m} r_k²) / n)`, the series is divided by the seasonal
//! indices of a classical multiplicative decomposition (the centred moving average of
//! order `m`, or `2×m` for even `m`, as the trend; each season position's mean ratio to
//! it, normalised to average 1). The additive decomposition (differences, normalised to
//! average 0) is used instead when it is configured, when the series has a value that is
//! not positive, or when a multiplicative index is below 0.01. Forecasts and interval
//! bounds are reseasonalised with the indices that continue the series.
//!
//! **The model** (on the adjusted series `y_0 … y_{n-1}`, `q = 1 − α`, `c = 1 − 1/θ`).
//! The one-step forecast of row `t` is
//! `μ_t = ℓ_{t−1} + c (A_{t−1} q^t + B_{t−1} (1 − q^{t+1}) / α)`, the level is simple
//! exponential smoothing `ℓ_t = α y_t + q ℓ_{t−1}` from `ℓ_{−1}` (the initial level,
//! a parameter), and `A`, `B` are the intercept and slope of the least-squares line
//! through the series against `1, 2, …`: fixed at the whole sample's for the static
//! models (STM, OTM), updated row by row by the recursive least-squares formulas for the
//! dynamic ones (DSTM, DOTM; `B_t = ((t − 1) B_{t−1} + 6 (y_t − ȳ_{t−1}) / (t + 1)) /
//! (t + 2)`, `A_t = ȳ_t − B_t (t + 2) / 2`, from `A_0 = y_0`, `B_0 = 0`, where `ȳ_t` is
//! the mean of the first `t + 1` rows). The first one-step forecast is `y_0` for the
//! dynamic models and `ℓ_{−1} + c (A + B)` for the static ones. Forecasts continue the
//! recursion with each forecast in place of the unseen value.
//!
//! **Estimation.** The standard models fix `θ = 2`; the optimised ones estimate it in
//! `[1, 10¹⁰]`. `α ∈ [0.1, 0.99]` and the initial level (in `[−10¹⁰, 10¹⁰]`) are always
//! estimated. The criterion is statsforecast's: the sum of squared one-step errors after
//! the first three rows, divided by the mean absolute value of the adjusted series. It is
//! minimised by a bounded Nelder–Mead search (see [`nelder_mead`]) with statsforecast's
//! settings: start `(y_0 / 2, 0.5, 2)`, first simplex by 5% steps, adaptive
//! coefficients, stop when the criterion's spread over the simplex falls below 10⁻⁴ or
//! after 1,000 iterations. `auto-theta` fits the four models and keeps the one with the
//! lowest criterion (the first, in the order STM, OTM, DSTM, DOTM, on a tie).
//!
//! **Intervals.** statsforecast draws 200 paths of the recursion above with Gaussian
//! errors of standard deviation `σ` (the sample standard deviation of the in-sample
//! residuals after the first three rows, on the original scale: the adjusted series'
//! residuals times the seasonal indices) and takes their empirical quantiles. Its
//! simulated paths always update `A` and `B` dynamically (also for the static models),
//! with the running mean updated before the slope, so the static models' intervals are
//! centred on the paths' mean, not on the point forecast (on M3's N1702 the two differ by
//! up to 3% by step 18). Every path is linear in the errors,
//! so the distribution they sample is Gaussian; we compute its mean and standard
//! deviation per step exactly and give the Gaussian quantiles, which is what
//! statsforecast's intervals estimate, without their Monte Carlo noise. The bounds are
//! then reseasonalised like the forecast.
//!
//! **Deliberate differences from statsforecast.** (1) Intervals are the exact quantiles
//! of the simulated distribution, not 200-path estimates of them. (2) Under an additive
//! decomposition statsforecast adds the seasonal component to the residuals before
//! taking `σ`; we take `σ` from the residuals themselves (which are the original-scale
//! residuals under an additive decomposition). (3) An objective value that is not a
//! number counts as the worst possible, not the best.

use super::baselines::{check_new_rows, check_season_length, need, report_once};
use super::naive2::{acf, multiplicative_indices};
use super::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::{level_to_prob, normal_quantile, Forecast, Interval};
use crate::reporter::Reporter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The four Theta models of Fiorucci et al. (2016).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThetaVariant {
    /// Standard Theta model: `θ = 2`, static trend line (the classical Theta method).
    #[default]
    Stm,
    /// Optimised Theta model: `θ` estimated, static trend line.
    Otm,
    /// Dynamic standard Theta model: `θ = 2`, trend line updated row by row.
    Dstm,
    /// Dynamic optimised Theta model: `θ` estimated, trend line updated row by row.
    Dotm,
}

impl ThetaVariant {
    /// All four, in the order `auto-theta` tries them.
    pub const ALL: [ThetaVariant; 4] = [
        ThetaVariant::Stm,
        ThetaVariant::Otm,
        ThetaVariant::Dstm,
        ThetaVariant::Dotm,
    ];

    /// The model's name (`"stm"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ThetaVariant::Stm => "stm",
            ThetaVariant::Otm => "otm",
            ThetaVariant::Dstm => "dstm",
            ThetaVariant::Dotm => "dotm",
        }
    }

    fn dynamic(self) -> bool {
        matches!(self, ThetaVariant::Dstm | ThetaVariant::Dotm)
    }

    fn optimises_theta(self) -> bool {
        matches!(self, ThetaVariant::Otm | ThetaVariant::Dotm)
    }
}

/// How a seasonal series is adjusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decomposition {
    /// Divide by multiplicative indices (the default; falls back to additive for
    /// series with non-positive values or an index below 0.01).
    #[default]
    Multiplicative,
    /// Subtract additive indices.
    Additive,
}

/// One Theta model (the standard Theta method by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Theta {
    /// Season length; `None` takes the data's (12 for monthly data, ...).
    pub season_length: Option<usize>,
    /// Which model: `stm` (standard, default), `otm`, `dstm` or `dotm`.
    pub variant: ThetaVariant,
    /// Seasonal decomposition when the seasonality test passes.
    pub decomposition: Decomposition,
}

/// The best of the four Theta models by the in-sample criterion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoTheta {
    /// Season length; `None` takes the data's.
    pub season_length: Option<usize>,
    /// Seasonal decomposition when the seasonality test passes.
    pub decomposition: Decomposition,
}

/// A fitted Theta model (of either kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThetaFitted {
    /// The model fitted (chosen, for `auto-theta`).
    pub variant: ThetaVariant,
    /// The initial level `ℓ_{−1}`.
    pub initial_level: f64,
    /// Smoothing weight `α`.
    pub alpha: f64,
    /// `θ`.
    pub theta: f64,
    /// The adjustment applied: `None` when the series was not seasonally adjusted.
    pub decomposition: Option<Decomposition>,
    /// Seasonal index of each season position (row number modulo the season length):
    /// factors (multiplicative), offsets (additive) or all neutral.
    pub indices: Vec<f64>,
    /// Rows seen.
    pub nobs: usize,
    /// Level after the last row seen.
    pub level: f64,
    /// Running mean of the adjusted rows seen (the recursion's).
    pub mean: f64,
    /// Trend line intercept after the last row (the dynamic models').
    pub a: f64,
    /// Trend line slope after the last row (the dynamic models').
    pub b: f64,
    /// Sum of the adjusted rows seen.
    pub sum_y: f64,
    /// Sum of `t · y_t` over the adjusted rows seen (`t` from 1).
    pub sum_ty: f64,
    /// Standard deviation of the errors (see the module notes).
    pub sigma: f64,
    /// The fit's criterion (statsforecast's `mse`).
    pub criterion: f64,
    /// For `auto-theta`: each model tried and its criterion.
    #[serde(default)]
    pub candidates: Vec<(ThetaVariant, f64)>,
}

/// The recursion's state after some rows.
#[derive(Debug, Clone, Copy)]
struct State {
    level: f64,
    mean: f64,
    a: f64,
    b: f64,
}

/// The static models' trend line: intercept and slope of the least-squares line of `n`
/// values with sum `sum_y` and `Σ t y_t = sum_ty` against `t = 1, …, n`.
fn static_line(n: usize, sum_y: f64, sum_ty: f64) -> (f64, f64) {
    let nf = n as f64;
    let mean = sum_y / nf;
    if n < 2 {
        return (mean, 0.0);
    }
    let b = 6.0 * (2.0 * sum_ty / nf - (nf + 1.0) * mean) / (nf * nf - 1.0);
    (mean - (nf + 1.0) * b / 2.0, b)
}

/// The parameters of one model.
#[derive(Debug, Clone, Copy)]
struct Params {
    variant: ThetaVariant,
    initial_level: f64,
    alpha: f64,
    theta: f64,
}

impl Params {
    /// The one-step forecast of row `t` from the state after row `t − 1`.
    fn one_step(&self, s: &State, t: usize) -> f64 {
        let q = 1.0 - self.alpha;
        s.level
            + (1.0 - 1.0 / self.theta)
                * (s.a * q.powf(t as f64) + s.b * (1.0 - q.powf(t as f64 + 1.0)) / self.alpha)
    }

    /// The state after row `t` (`t ≥ 1`) with value `y`; `line` is the static models'
    /// fixed trend line.
    fn step(&self, s: &State, t: usize, y: f64) -> State {
        let tf = t as f64;
        let mean = (tf * s.mean + y) / (tf + 1.0);
        let (a, b) = if self.variant.dynamic() {
            let b = ((tf - 1.0) * s.b + 6.0 * (y - s.mean) / (tf + 1.0)) / (tf + 2.0);
            (mean - b * (tf + 2.0) / 2.0, b)
        } else {
            (s.a, s.b)
        };
        State {
            level: self.alpha * y + (1.0 - self.alpha) * s.level,
            mean,
            a,
            b,
        }
    }

    /// Run the recursion over `y` (at least one row): the final state and the one-step
    /// errors.
    fn run(&self, y: &[f64]) -> (State, Vec<f64>) {
        let y0 = y[0];
        let (a, b, mu0) = if self.variant.dynamic() {
            (y0, 0.0, y0)
        } else {
            let sum_ty: f64 = y.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum();
            let (a, b) = static_line(y.len(), y.iter().sum(), sum_ty);
            (
                a,
                b,
                self.initial_level + (1.0 - 1.0 / self.theta) * (a + b),
            )
        };
        let mut s = State {
            level: self.alpha * y0 + (1.0 - self.alpha) * self.initial_level,
            mean: y0,
            a,
            b,
        };
        let mut errors = Vec::with_capacity(y.len());
        errors.push(y0 - mu0);
        for (t, &v) in y.iter().enumerate().skip(1) {
            errors.push(v - self.one_step(&s, t));
            s = self.step(&s, t, v);
        }
        (s, errors)
    }

    /// statsforecast's criterion: squared one-step errors after the first three rows,
    /// summed, over the mean absolute value of `y`; not-a-number counts as infinite.
    fn criterion(&self, y: &[f64]) -> f64 {
        let (_, e) = self.run(y);
        let scale = (y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64).max(1e-10);
        let c = e.iter().skip(3).map(|v| v * v).sum::<f64>() / scale;
        if c.is_nan() {
            f64::INFINITY
        } else {
            c
        }
    }
}

/// Minimise `f` over the box `[lower, upper]` by the Nelder–Mead simplex search with
/// every trial point clamped into the box: the first simplex is `x0` and, for each
/// coordinate, `x0` with that coordinate scaled by 1.05 (set to 10⁻⁴ when zero); the
/// coefficients are the adaptive ones of Gao & Han (2012) (reflection 1, expansion
/// `1 + 2/d`, contraction `0.75 − 1/(2d)`, shrink `1 − 1/d` in dimension `d`); it stops
/// when the population standard deviation of the simplex's values is below `tol` or after
/// `max_iter` iterations, and returns the best vertex and its value. The crate's other
/// optimisers (L-BFGS and argmin's Nelder–Mead, for ARIMA's likelihood) take no bounds;
/// this is the search statsforecast runs for these models, so that both reach the same
/// optimum on flat criteria.
pub fn nelder_mead(
    f: impl Fn(&[f64]) -> f64,
    x0: &[f64],
    lower: &[f64],
    upper: &[f64],
    tol: f64,
    max_iter: usize,
) -> (Vec<f64>, f64) {
    let d = x0.len();
    let clamp = |x: &mut [f64]| {
        for (i, v) in x.iter_mut().enumerate() {
            *v = v.max(lower[i]).min(upper[i]);
        }
    };
    let df = d as f64;
    let (gamma, rho, shrink) = (1.0 + 2.0 / df, 0.75 - 1.0 / (2.0 * df), 1.0 - 1.0 / df);
    let mut start = x0.to_vec();
    clamp(&mut start);
    let mut simplex: Vec<Vec<f64>> = vec![start; d + 1];
    for (i, vertex) in simplex.iter_mut().enumerate().take(d) {
        let v = vertex[i];
        vertex[i] = if v == 0.0 { 1e-4 } else { v * 1.05 }
            .max(lower[i])
            .min(upper[i]);
    }
    let mut values: Vec<f64> = simplex.iter().map(|x| f(x)).collect();
    let mut best = 0;
    for _ in 0..max_iter {
        let mut order: Vec<usize> = (0..=d).collect();
        order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
        best = order[0];
        let (worst, second) = (order[d], order[d - 1]);
        let mean = values.iter().sum::<f64>() / (d + 1) as f64;
        let spread =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (d + 1) as f64).sqrt();
        if spread < tol {
            break;
        }
        let centroid: Vec<f64> = (0..d)
            .map(|k| (simplex.iter().map(|x| x[k]).sum::<f64>() - simplex[worst][k]) / df)
            .collect();
        let toward = |from: &[f64], scale: f64| -> Vec<f64> {
            let mut p: Vec<f64> = centroid
                .iter()
                .zip(from)
                .map(|(c, x)| c + scale * (x - c))
                .collect();
            clamp(&mut p);
            p
        };
        // Reflection of the worst vertex through the centroid.
        let reflected: Vec<f64> = {
            let mut p: Vec<f64> = centroid
                .iter()
                .zip(&simplex[worst])
                .map(|(c, w)| c + (c - w))
                .collect();
            clamp(&mut p);
            p
        };
        let fr = f(&reflected);
        if values[best] <= fr && fr < values[second] {
            simplex[worst] = reflected;
            values[worst] = fr;
            continue;
        }
        if fr < values[best] {
            let expanded = toward(&reflected, gamma);
            let fe = f(&expanded);
            if fe < fr {
                simplex[worst] = expanded;
                values[worst] = fe;
            } else {
                simplex[worst] = reflected;
                values[worst] = fr;
            }
            continue;
        }
        if values[second] <= fr && fr < values[worst] {
            let outside = toward(&reflected, rho);
            let fo = f(&outside);
            if fo <= fr {
                simplex[worst] = outside;
                values[worst] = fo;
                continue;
            }
        } else {
            let inside = toward(&reflected, -rho);
            let fi = f(&inside);
            if fi < values[worst] {
                simplex[worst] = inside;
                values[worst] = fi;
                continue;
            }
        }
        // Shrink every vertex toward the best one.
        let anchor = simplex[best].clone();
        for j in 0..=d {
            if j == best {
                continue;
            }
            let mut p: Vec<f64> = anchor
                .iter()
                .zip(&simplex[j])
                .map(|(b, x)| b + shrink * (x - b))
                .collect();
            clamp(&mut p);
            values[j] = f(&p);
            simplex[j] = p;
        }
    }
    (simplex[best].clone(), values[best])
}

/// Seasonal indices of a classical additive decomposition with period `m` (indexed by
/// row number modulo `m`), normalised to average 0.
pub(crate) fn additive_indices(y: &[f64], m: usize) -> Vec<f64> {
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
        sums[t % m] += y[t] - trend;
        counts[t % m] += 1;
    }
    let mut idx: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 })
        .collect();
    let mean = idx.iter().sum::<f64>() / m as f64;
    for v in &mut idx {
        *v -= mean;
    }
    idx
}

/// statsforecast's seasonality test for the Theta models: `m ≥ 4`, at least `2m` rows,
/// and `|r_m| / √((1 + 2 Σ_{k=1}^{m−1} r_k²) / n)` above the standard normal's 95%
/// quantile (a one-sided 90% test of the two-sided kind).
pub fn theta_seasonality_test(y: &[f64], m: usize) -> bool {
    if m < 4 || y.len() < 2 * m {
        return false;
    }
    let s: f64 = (1..m).map(|k| acf(y, k).powi(2)).sum();
    let stat = ((1.0 + 2.0 * s) / y.len() as f64).sqrt();
    acf(y, m).abs() / stat > normal_quantile(0.95)
}

/// The decomposition decision and indices (length `m`) for `y`.
fn decompose(y: &[f64], m: usize, wanted: Decomposition) -> (Option<Decomposition>, Vec<f64>) {
    if !theta_seasonality_test(y, m) {
        return (None, vec![1.0; m.max(1)]);
    }
    let positive = y.iter().all(|v| *v > 0.0);
    if wanted == Decomposition::Multiplicative && positive {
        let idx = multiplicative_indices(y, m);
        if idx.iter().all(|v| *v >= 0.01) {
            return (Some(Decomposition::Multiplicative), idx);
        }
    }
    (Some(Decomposition::Additive), additive_indices(y, m))
}

/// `y` seasonally adjusted, its row 0 at season position `offset`.
fn adjust(y: &[f64], decomposition: Option<Decomposition>, idx: &[f64], offset: usize) -> Vec<f64> {
    let m = idx.len().max(1);
    y.iter()
        .enumerate()
        .map(|(t, v)| match decomposition {
            Some(Decomposition::Multiplicative) => v / idx[(offset + t) % m],
            Some(Decomposition::Additive) => v - idx[(offset + t) % m],
            None => *v,
        })
        .collect()
}

/// Estimate one model on the adjusted series `y` (at least 4 rows).
fn estimate(variant: ThetaVariant, y: &[f64]) -> Params {
    let init = Params {
        variant,
        initial_level: y[0] / 2.0,
        alpha: 0.5,
        theta: 2.0,
    };
    let with = |x: &[f64]| Params {
        initial_level: x[0],
        alpha: x[1],
        theta: if variant.optimises_theta() { x[2] } else { 2.0 },
        ..init
    };
    let (x0, lower, upper): (Vec<f64>, Vec<f64>, Vec<f64>) = if variant.optimises_theta() {
        (
            vec![init.initial_level, 0.5, 2.0],
            vec![-1e10, 0.1, 1.0],
            vec![1e10, 0.99, 1e10],
        )
    } else {
        (
            vec![init.initial_level, 0.5],
            vec![-1e10, 0.1],
            vec![1e10, 0.99],
        )
    };
    let (x, _) = nelder_mead(|x| with(x).criterion(y), &x0, &lower, &upper, 1e-4, 1000);
    with(&x)
}

/// Fit `variants` on `data` and keep the best by the criterion.
fn fit_theta(
    what: &str,
    season_length: Option<usize>,
    decomposition: Decomposition,
    variants: &[ThetaVariant],
    data: &TrainingData<'_>,
    reporter: &mut dyn Reporter,
) -> Result<ThetaFitted> {
    let y = data.target;
    need(what, 4, y)?;
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::Numerical {
            what: what.into(),
            message: format!("target value {} at row {} is not finite", y[i], i + 1),
        });
    }
    let m = season_length.unwrap_or(data.season_length).max(1);
    let (decomposition, indices) = decompose(y, m, decomposition);
    let adjusted = adjust(y, decomposition, &indices, 0);
    let mut best: Option<(Params, f64)> = None;
    let mut candidates = Vec::with_capacity(variants.len());
    for &v in variants {
        let p = estimate(v, &adjusted);
        let c = p.criterion(&adjusted);
        candidates.push((v, c));
        if best.as_ref().is_none_or(|(_, bc)| c < *bc) {
            best = Some((p, c));
        }
    }
    let Some((p, criterion)) = best.filter(|(_, c)| c.is_finite()) else {
        return Err(Error::Numerical {
            what: what.into(),
            message: "no Theta model has a finite criterion on this series".into(),
        });
    };
    let (state, errors) = p.run(&adjusted);
    // Residuals on the original scale (see the module notes), after the first three.
    let resid: Vec<f64> = errors
        .iter()
        .enumerate()
        .map(|(t, e)| match decomposition {
            Some(Decomposition::Multiplicative) => e * indices[t % m],
            _ => *e,
        })
        .collect();
    let tail = if resid.len() >= 5 {
        &resid[3..]
    } else {
        &resid[..]
    };
    let sigma = sample_sd(tail);
    report_once(reporter, sigma * sigma);
    let sum_y: f64 = adjusted.iter().sum();
    let sum_ty: f64 = adjusted
        .iter()
        .enumerate()
        .map(|(i, v)| (i + 1) as f64 * v)
        .sum();
    Ok(ThetaFitted {
        variant: p.variant,
        initial_level: p.initial_level,
        alpha: p.alpha,
        theta: p.theta,
        decomposition,
        indices,
        nobs: y.len(),
        level: state.level,
        mean: state.mean,
        a: state.a,
        b: state.b,
        sum_y,
        sum_ty,
        sigma,
        criterion,
        candidates: if variants.len() > 1 {
            candidates
        } else {
            Vec::new()
        },
    })
}

fn sample_sd(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

impl ModelFacts for Theta {
    fn kind(&self) -> &'static str {
        "theta"
    }
    fn check(&self) -> Result<()> {
        check_season_length(self.season_length)
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        4
    }
}

impl Fit for Theta {
    type Fitted = ThetaFitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<ThetaFitted> {
        fit_theta(
            "the theta model",
            config.season_length,
            config.decomposition,
            &[config.variant],
            data,
            reporter,
        )
    }
}

impl ModelFacts for AutoTheta {
    fn kind(&self) -> &'static str {
        "auto-theta"
    }
    fn check(&self) -> Result<()> {
        check_season_length(self.season_length)
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        4
    }
}

impl Fit for AutoTheta {
    type Fitted = ThetaFitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<ThetaFitted> {
        fit_theta(
            "the auto-theta model",
            config.season_length,
            config.decomposition,
            &ThetaVariant::ALL,
            data,
            reporter,
        )
    }
}

impl ThetaFitted {
    fn params(&self) -> Params {
        Params {
            variant: self.variant,
            initial_level: self.initial_level,
            alpha: self.alpha,
            theta: self.theta,
        }
    }

    /// The state the forecasts start from: the static models' trend line is the whole
    /// history's.
    fn state(&self) -> State {
        let (a, b) = if self.variant.dynamic() {
            (self.a, self.b)
        } else {
            static_line(self.nobs, self.sum_y, self.sum_ty)
        };
        State {
            level: self.level,
            mean: self.mean,
            a,
            b,
        }
    }

    /// The seasonal index of forecast step `i` (from 0).
    fn index(&self, i: usize) -> f64 {
        let m = self.indices.len().max(1);
        self.indices[(self.nobs + i) % m]
    }

    /// Mean forecasts of the adjusted series.
    fn adjusted_forecast(&self, h: usize) -> Vec<f64> {
        let p = self.params();
        let mut s = self.state();
        (0..h)
            .map(|j| {
                let t = self.nobs + j;
                let mu = p.one_step(&s, t);
                s = p.step(&s, t, mu);
                mu
            })
            .collect()
    }

    /// Mean and standard deviation per step of statsforecast's simulated paths (see the
    /// module notes), on the adjusted scale. Each quantity is kept as a constant plus a
    /// coefficient per step's error.
    fn simulated_distribution(&self, h: usize) -> (Vec<f64>, Vec<f64>) {
        #[derive(Clone)]
        struct Affine {
            c: f64,
            e: Vec<f64>,
        }
        let lin = |x: &Affine, wx: f64, y: &Affine, wy: f64| Affine {
            c: wx * x.c + wy * y.c,
            e: x.e.iter().zip(&y.e).map(|(a, b)| wx * a + wy * b).collect(),
        };
        let constant = |c: f64| Affine { c, e: vec![0.0; h] };
        let st = self.state();
        let (alpha, q, k) = (self.alpha, 1.0 - self.alpha, 1.0 - 1.0 / self.theta);
        let mut level = constant(st.level);
        let mut mean = constant(self.sum_y / self.nobs as f64);
        let mut a = constant(st.a);
        let mut b = constant(st.b);
        let mut means = Vec::with_capacity(h);
        let mut sds = Vec::with_capacity(h);
        for j in 0..h {
            let t = (self.nobs + j) as f64;
            let wa = k * q.powf(t);
            let wb = k * (1.0 - q.powf(t + 1.0)) / alpha;
            let mut path = lin(&lin(&level, 1.0, &a, wa), 1.0, &b, wb);
            path.e[j] += 1.0;
            means.push(path.c);
            sds.push(self.sigma * path.e.iter().map(|v| v * v).sum::<f64>().sqrt());
            level = lin(&path, alpha, &level, q);
            mean = lin(&mean, t / (t + 1.0), &path, 1.0 / (t + 1.0));
            let dev = lin(&path, 1.0, &mean, -1.0);
            b = lin(
                &b,
                (t - 1.0) / (t + 2.0),
                &dev,
                6.0 / ((t + 1.0) * (t + 2.0)),
            );
            a = lin(&mean, 1.0, &b, -(t + 2.0) / 2.0);
        }
        (means, sds)
    }

    /// Put the seasonal component of step `i` back.
    fn reseasonalise(&self, i: usize, v: f64) -> f64 {
        match self.decomposition {
            Some(Decomposition::Multiplicative) => v * self.index(i),
            Some(Decomposition::Additive) => v + self.index(i),
            None => v,
        }
    }
}

impl Predict for ThetaFitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let point: Vec<f64> = self
            .adjusted_forecast(h)
            .into_iter()
            .enumerate()
            .map(|(i, v)| self.reseasonalise(i, v))
            .collect();
        let (means, sds) = if levels.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            self.simulated_distribution(h)
        };
        let intervals = levels
            .iter()
            .map(|&level| {
                let z = normal_quantile(level_to_prob(level)?);
                let bound = |sign: f64| -> Vec<f64> {
                    (0..h)
                        .map(|i| self.reseasonalise(i, means[i] + sign * z * sds[i]))
                        .collect()
                };
                Ok(Interval {
                    level,
                    lower: bound(-1.0),
                    upper: bound(1.0),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Forecast { point, intervals })
    }

    /// Re-anchor on `history`, every row from the start of the training rows (the
    /// seasonal positions count from its first row), with the fitted parameters and
    /// indices.
    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        let y = history.target;
        need("conditioning the theta model", 1, y)?;
        check_new_rows(history)?;
        let adjusted = adjust(y, self.decomposition, &self.indices, 0);
        let (s, _) = self.params().run(&adjusted);
        Ok(ThetaFitted {
            nobs: y.len(),
            level: s.level,
            mean: s.mean,
            a: s.a,
            b: s.b,
            sum_y: adjusted.iter().sum(),
            sum_ty: adjusted
                .iter()
                .enumerate()
                .map(|(i, v)| (i + 1) as f64 * v)
                .sum(),
            ..self.clone()
        })
    }

    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        check_new_rows(rows)?;
        let adjusted = adjust(rows.target, self.decomposition, &self.indices, self.nobs);
        let p = self.params();
        let mut s = State {
            level: self.level,
            mean: self.mean,
            a: self.a,
            b: self.b,
        };
        let mut out = self.clone();
        for (j, &v) in adjusted.iter().enumerate() {
            let t = self.nobs + j;
            s = p.step(&s, t, v);
            out.sum_y += v;
            out.sum_ty += (t + 1) as f64 * v;
        }
        out.nobs += adjusted.len();
        out.level = s.level;
        out.mean = s.mean;
        out.a = s.a;
        out.b = s.b;
        Ok(out)
    }

    fn fit_stats(&self) -> Value {
        let mut v = json!({
            "model": self.variant.name(),
            "initial_level": self.initial_level,
            "alpha": self.alpha,
            "theta": self.theta,
            "criterion": self.criterion,
            "sigma": self.sigma,
            "sigma2": self.sigma * self.sigma,
            "seasonal": self.decomposition.is_some(),
            "decomposition": self.decomposition,
            "season_length": self.indices.len(),
            "indices": self.indices,
            "nobs": self.nobs,
        });
        if !self.candidates.is_empty() {
            v["candidates"] = self
                .candidates
                .iter()
                .map(|(m, c)| (m.name().to_string(), json!(c)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::Silent;

    fn fit(variant: ThetaVariant, y: &[f64], m: usize) -> ThetaFitted {
        Theta {
            variant,
            ..Theta::default()
        }
        .fit(&TrainingData::univariate(y, m), &mut Silent)
        .unwrap()
    }

    #[test]
    fn nelder_mead_finds_a_bounded_minimum() {
        let f = |x: &[f64]| (x[0] - 3.0).powi(2) + (x[1] + 1.0).powi(2);
        let (x, v) = nelder_mead(f, &[0.0, 0.0], &[-10.0, -0.5], &[10.0, 10.0], 1e-12, 1000);
        assert!(
            (x[0] - 3.0).abs() < 1e-4 && (x[1] + 0.5).abs() < 1e-9,
            "{x:?}"
        );
        assert!((v - 0.25).abs() < 1e-6);
    }

    #[test]
    fn the_static_line_is_least_squares() {
        let y: Vec<f64> = (1..=10).map(|t| 3.0 + 2.0 * t as f64).collect();
        let sum_ty: f64 = y.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum();
        let (a, b) = static_line(10, y.iter().sum(), sum_ty);
        assert!(
            (a - 3.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12,
            "{a} {b}"
        );
    }

    #[test]
    fn the_dynamic_line_is_recursive_least_squares() {
        let y: Vec<f64> = (0..30)
            .map(|t| (t as f64 * 0.7).sin() * 5.0 + t as f64)
            .collect();
        let p = Params {
            variant: ThetaVariant::Dstm,
            initial_level: 1.0,
            alpha: 0.3,
            theta: 2.0,
        };
        let (s, _) = p.run(&y);
        let sum_ty: f64 = y.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum();
        let (a, b) = static_line(30, y.iter().sum(), sum_ty);
        assert!((s.a - a).abs() < 1e-9 && (s.b - b).abs() < 1e-9);
    }

    #[test]
    fn a_linear_series_is_continued_by_every_variant() {
        // On an exact line, SES lags the line by (1 − α)/α slopes, and θ = 2's half slope
        // drift closes part of it; the forecasts keep rising with the line's slope.
        let y: Vec<f64> = (0..60).map(|t| 10.0 + 0.5 * t as f64).collect();
        for v in ThetaVariant::ALL {
            let m = fit(v, &y, 1);
            let fc = m.predict(5, &[95.0], &[]).unwrap();
            for w in fc.point.windows(2) {
                assert!(
                    (w[1] - w[0] - 0.5 * (1.0 - 1.0 / m.theta)).abs() < 0.3,
                    "{v:?}"
                );
            }
            assert!(fc.intervals[0].lower[0] <= fc.point[0] + 1e-9);
        }
    }

    #[test]
    fn too_short_or_non_finite_series_are_errors() {
        let e = Theta::default()
            .fit(&TrainingData::univariate(&[1.0, 2.0, 3.0], 1), &mut Silent)
            .unwrap_err()
            .to_string();
        assert!(e.contains("theta"), "{e}");
        let e = AutoTheta::default()
            .fit(
                &TrainingData::univariate(&[1.0, 2.0, f64::NAN, 4.0, 5.0], 1),
                &mut Silent,
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 3"), "{e}");
    }

    #[test]
    fn a_seasonal_series_is_adjusted() {
        let f = [0.8, 1.1, 1.3, 0.8];
        let y: Vec<f64> = (0..48).map(|t| (100.0 + t as f64) * f[t % 4]).collect();
        let m = fit(ThetaVariant::Stm, &y, 4);
        assert_eq!(m.decomposition, Some(Decomposition::Multiplicative));
        let fc = m.predict(4, &[], &[]).unwrap();
        // The forecast keeps the seasonal shape: the peak quarter above the troughs.
        assert!(fc.point[2] > fc.point[0] && fc.point[2] > fc.point[3]);
        // Negative values: additive.
        let z: Vec<f64> = y.iter().map(|v| v - 150.0).collect();
        let m = fit(ThetaVariant::Stm, &z, 4);
        assert_eq!(m.decomposition, Some(Decomposition::Additive));
    }
}
