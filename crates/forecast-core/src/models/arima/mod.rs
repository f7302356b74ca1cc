//! ARIMA / SARIMA / ARIMAX by exact Gaussian maximum likelihood.
//!
//! The model is a regression with seasonal ARIMA errors, as R's `arima(xreg=)` and
//! statsforecast: `y_t = x_t'β + z_t`, `φ(L) Φ(L^s) (1-L)^d (1-L^s)^D z_t = θ(L) Θ(L^s) e_t`,
//! `e_t ~ N(0, σ²)`. The regressors are an intercept (`d + D = 0`), a drift `t = 1..n`
//! (`d + D = 1`) and any exogenous columns. Estimation:
//!
//! 1. difference the target and the regressors with `(1-L)^d (1-L^s)^D`;
//! 2. start from the conditional-sum-of-squares estimate (R's `CSS-ML` default) and a few
//!    fixed points ([`optimize`]), maximise the exact likelihood of the differenced
//!    series computed by a Kalman filter ([`kalman`], [`likelihood`]), with σ² and β
//!    profiled out and the ARMA blocks kept stationary / invertible by R's transform
//!    ([`params`]);
//! 3. standard errors from the numerical Hessian.
//!
//! Forecasts run the state-space recursions forward from the filtered end state; their
//! variance includes the state uncertainty at the end of the data and is integrated
//! back through the differencing, so intervals are exact for the Gaussian model (R's
//! `predict.Arima`, statsforecast). Conventions for `loglik`, AIC, AICc, BIC and `nobs`
//! are R's (see [`likelihood`]).

// // Numerical kernels index several arrays in lockstep; index loops read like the maths.
#![allow(clippy::needless_range_loop)]

pub mod auto;
pub mod kalman;
pub mod likelihood;
pub mod optimize;
pub mod params;
pub mod roots;
pub mod unit_root;

pub use auto::{AutoArima, AutoArimaFitted, RootCheck};

use super::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::reporter::{EpochReport, Reporter};
use kalman::StateSpace;
use likelihood::Problem;
pub(crate) use optimize::Starts;
use params::ArmaOrders;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// An ARIMA(p,d,q)(P,D,Q)_s model with optional constant and exogenous regressors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arima {
    /// `[p, d, q]`: AR order, differences, MA order.
    pub order: [usize; 3],
    /// `[P, D, Q, s]`: seasonal AR order, seasonal differences, seasonal MA order and
    /// season length (`s = 0` takes the data's season length).
    #[serde(default)]
    pub seasonal_order: [usize; 4],
    /// Constant term: `true` adds a mean (`d + D = 0`) or a drift (`d + D = 1`; an error
    /// for `d + D ≥ 2`), `false` none, `null` (default) a mean when `d + D = 0` and
    /// nothing otherwise (R's `arima` and statsforecast's `ARIMA` defaults).
    #[serde(default)]
    pub constant: Option<bool>,
    /// Try several starting points (default `true`); `false` starts from the CSS
    /// estimate only, as R does, which is faster but can stop at a lower optimum.
    #[serde(default = "yes")]
    pub multi_start: bool,
}

fn yes() -> bool {
    true
}

impl Default for Arima {
    fn default() -> Self {
        Arima {
            order: [1, 1, 1],
            seasonal_order: [0, 0, 0, 0],
            constant: None,
            multi_start: true,
        }
    }
}

/// The deterministic part of the regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    /// No constant.
    None,
    /// A mean (`d + D = 0`).
    Mean,
    /// A linear drift in `t = 1..n` (`d + D = 1`).
    Drift,
}

/// Orders after resolving the season length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Orders {
    arma: ArmaOrders,
    d: usize,
    sd: usize,
}

impl Orders {
    /// `(1-L)^d (1-L^s)^D = 1 - Σ δ_k L^k`; returns the δ_k.
    fn delta(&self) -> Vec<f64> {
        let mut poly = vec![1.0];
        let mut mul = |lag: usize| {
            let mut next = vec![0.0; poly.len() + lag];
            for (i, c) in poly.iter().enumerate() {
                next[i] += c;
                next[i + lag] -= c;
            }
            poly = next;
        };
        for _ in 0..self.d {
            mul(1);
        }
        for _ in 0..self.sd {
            mul(self.arma.s);
        }
        poly[1..].iter().map(|c| -c).collect()
    }
}

impl Arima {
    /// An ARIMA(p,d,q) without seasonal part, constant chosen as R does.
    pub fn new(p: usize, d: usize, q: usize) -> Self {
        Arima {
            order: [p, d, q],
            ..Arima::default()
        }
    }

    /// Check the orders once, before any data is touched.
    pub fn validate(&self) -> Result<()> {
        let [p, d, q] = self.order;
        let [sp, sd, sq, _] = self.seasonal_order;
        crate::ensure_config!(
            p <= 20 && q <= 20,
            "order",
            "AR and MA orders above 20 are not supported (got {p}, {q})"
        );
        crate::ensure_config!(d <= 2, "order", "at most 2 differences (got d = {d})");
        crate::ensure_config!(
            sp <= 5 && sq <= 5 && sd <= 1,
            "seasonal_order",
            "seasonal orders above P, Q = 5 or D = 1 are not supported (got {sp}, {sd}, {sq})"
        );
        if self.constant == Some(true) {
            let seasonal = sp + sd + sq > 0;
            let dd = d + if seasonal { sd } else { 0 };
            crate::ensure_config!(dd <= 1, "constant", "a constant with d + D = {dd} differences is not identifiable (drift needs d + D = 1)");
        }
        Ok(())
    }

    fn resolve(&self, data_season: usize) -> Result<(Orders, Trend)> {
        self.validate()?;
        let [p, d, q] = self.order;
        let [sp, sd, sq, s] = self.seasonal_order;
        let seasonal = sp + sd + sq > 0;
        let s = if s == 0 { data_season } else { s };
        if seasonal && s < 2 {
            return Err(Error::config(
                "seasonal_order",
                format!("a seasonal part needs a season length of at least 2 (got {s}); give it as the fourth value"),
            ));
        }
        let arma = if seasonal {
            ArmaOrders { p, q, sp, sq, s }
        } else {
            ArmaOrders {
                p,
                q,
                sp: 0,
                sq: 0,
                s: 1,
            }
        };
        let orders = Orders {
            arma,
            d,
            sd: if seasonal { sd } else { 0 },
        };
        let dd = orders.d + orders.sd;
        let trend = match (self.constant, dd) {
            (Some(false), _) => Trend::None,
            (None, 0) | (Some(true), 0) => Trend::Mean,
            (None, _) => Trend::None,
            (Some(true), 1) => Trend::Drift,
            (Some(true), _) => unreachable_trend(dd)?,
        };
        Ok((orders, trend))
    }

    /// Fewest training rows a fit needs with this config (season length of the data
    /// given for `s = 0`): the differencing, one row per coefficient plus σ², and two
    /// more so that AICc is defined.
    pub fn min_train_rows(&self, season_length: usize) -> usize {
        let [p, d, q] = self.order;
        let [sp, sd, sq, s] = self.seasonal_order;
        let s = if s == 0 { season_length.max(1) } else { s };
        let seasonal = sp + sd + sq > 0;
        let (sp, sd, sq) = if seasonal { (sp, sd, sq) } else { (0, 0, 0) };
        let npar = p + q + sp + sq + 1;
        d + sd * s + (npar + 3).max(p + sp * s + 1)
    }
}

fn unreachable_trend(dd: usize) -> Result<Trend> {
    Err(Error::config(
        "constant",
        format!("a constant with d + D = {dd} differences is not identifiable"),
    ))
}

/// A fitted [`Arima`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArimaFitted {
    /// `[p, d, q]`.
    pub order: [usize; 3],
    /// `[P, D, Q, s]` as used (s resolved).
    pub seasonal_order: [usize; 4],
    /// Deterministic part.
    pub trend: Trend,
    /// ARMA coefficients `[ar.., ma.., sar.., sma..]`.
    pub coefs: Vec<f64>,
    /// Regression coefficients: the trend's (if any) first, then the exogenous ones.
    pub beta: Vec<f64>,
    /// Names of the exogenous regressors, in order.
    pub exog: Vec<String>,
    /// Standard errors of `[coefs.., beta..]` (`None` where the Hessian is singular).
    pub se: Vec<Option<f64>>,
    /// ML innovation variance.
    pub sigma2: f64,
    /// Exact log-likelihood of the differenced series.
    pub loglik: f64,
    /// Observations after differencing.
    pub nobs: usize,
    /// Conditioning state: rows of history seen (for the drift's time index).
    pub n_history: usize,
    /// Last `d + D·s` values of `y - x'β` (to undo the differencing).
    pub z_tail: Vec<f64>,
    /// Predicted state of the differenced ARMA after the last row.
    pub state: Vec<f64>,
    /// Its covariance in σ² units (row-major).
    pub state_cov: Vec<f64>,
}

/// Regressors on the original scale: the trend column and the exogenous ones.
fn regressors(trend: Trend, n: usize, offset: usize, exog: &[Column]) -> Vec<Vec<f64>> {
    let mut x = Vec::with_capacity(1 + exog.len());
    match trend {
        Trend::None => {}
        Trend::Mean => x.push(vec![1.0; n]),
        Trend::Drift => x.push((0..n).map(|t| (offset + t + 1) as f64).collect()),
    }
    x.extend(exog.iter().map(|c| c.values.clone()));
    x
}

fn difference(y: &[f64], delta: &[f64]) -> Vec<f64> {
    let m = delta.len();
    (m..y.len())
        .map(|t| {
            y[t] - delta
                .iter()
                .enumerate()
                .map(|(k, d)| d * y[t - k - 1])
                .sum::<f64>()
        })
        .collect()
}

fn check_finite(what: &str, v: &[f64]) -> Result<()> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::Model {
            model: "arima".into(),
            message: format!(
                "{what} has a missing or non-finite value at row {} ({})",
                i + 1,
                v[i]
            ),
        });
    }
    Ok(())
}

fn model_error(message: impl Into<String>) -> Error {
    Error::Model {
        model: "arima".into(),
        message: message.into(),
    }
}

impl Arima {
    /// The exact log-likelihood (σ² and regression coefficients at their ML values) at
    /// given ARMA coefficients `[ar.., ma.., sar.., sma..]`, without fitting; `None`
    /// outside the stationary region. For checking against other implementations.
    pub fn profile_loglik(&self, data: &TrainingData<'_>, coefs: &[f64]) -> Result<Option<f64>> {
        let (problem, orders, _, _) = self.problem(data)?;
        if coefs.len() != orders.arma.len() {
            return Err(Error::config(
                "coefs",
                format!(
                    "expected {} ARMA coefficients, got {}",
                    orders.arma.len(),
                    coefs.len()
                ),
            ));
        }
        Ok(problem.profile(coefs).map(|e| e.loglik))
    }

    /// Check the data against the orders and build the differenced regression problem
    /// (also returned: the undifferenced regressors).
    fn problem(&self, data: &TrainingData<'_>) -> Result<(Problem, Orders, Trend, Vec<Vec<f64>>)> {
        let (orders, trend) = self.resolve(data.season_length)?;
        let y = data.target;
        check_finite("the target", y)?;
        for c in data.features {
            check_finite(&format!("regressor '{}'", c.name), &c.values)?;
            if c.values.len() != y.len() {
                return Err(model_error(format!(
                    "regressor '{}' has {} rows, the target {}",
                    c.name,
                    c.values.len(),
                    y.len()
                )));
            }
        }
        let needed = self.min_train_rows(data.season_length) + data.features.len();
        if y.len() < needed {
            return Err(Error::TooFewRows {
                what: describe(&orders, trend),
                needed,
                available: y.len(),
            });
        }
        let delta = orders.delta();
        let x = regressors(trend, y.len(), 0, data.features);
        let problem = Problem {
            orders: orders.arma,
            w: difference(y, &delta),
            x: x.iter().map(|c| difference(c, &delta)).collect(),
        };
        Ok((problem, orders, trend, x))
    }
}

impl ModelFacts for Arima {
    fn kind(&self) -> &'static str {
        "arima"
    }
    fn check(&self) -> Result<()> {
        self.validate()
    }
    fn min_train_rows(&self, season_length: usize) -> usize {
        Arima::min_train_rows(self, season_length)
    }
}

impl Fit for Arima {
    type Fitted = ArimaFitted;

    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<ArimaFitted> {
        config.fit_with(data, reporter, true, config.starts(), 1.0)
    }
}

impl Arima {
    /// The starting points `multi_start` asks for.
    fn starts(&self) -> Starts {
        if self.multi_start {
            Starts::Multi
        } else {
            Starts::Css
        }
    }

    /// [`Fit::fit`] from the given starts, optionally without the standard errors (a
    /// model search compares criteria only; the Hessian costs a few dozen likelihood
    /// passes per fit), with every root beyond `margin` (1: no constraint; see
    /// [`optimize::maximise`]).
    pub(crate) fn fit_with(
        &self,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
        with_standard_errors: bool,
        starts: Starts,
        margin: f64,
    ) -> Result<ArimaFitted> {
        let (problem, orders, trend, x) = self.problem(data)?;
        let y = data.target;
        let delta = orders.delta();
        let names = regressor_names(trend, data.features);
        check_design(&problem, &names)?;
        let est = optimize::maximise(&problem, starts, margin).ok_or_else(|| Error::Numerical {
            what: format!("fitting {}", describe(&orders, trend)),
            message: "the likelihood cannot be evaluated at any starting point".into(),
        })?;
        let eval = problem
            .profile(&est.coefs)
            .ok_or_else(|| Error::Numerical {
                what: format!("fitting {}", describe(&orders, trend)),
                message: "the likelihood at the optimum is not finite".into(),
            })?;
        let se = if with_standard_errors {
            optimize::standard_errors(&problem, &est.coefs, &eval.beta, eval.sigma2)
        } else {
            vec![None; est.coefs.len() + eval.beta.len()]
        };
        let _ = reporter.report(&EpochReport {
            epoch: 1,
            max_epochs: Some(1),
            train_loss: eval.sigma2,
            valid_loss: None,
            extra: vec![("loglik".into(), eval.loglik)],
        });
        let z = residual_levels(y, &x, &eval.beta);
        let [sp, _, sq, _] = self.seasonal_order;
        let _ = (sp, sq);
        Ok(ArimaFitted {
            order: self.order,
            seasonal_order: [orders.arma.sp, orders.sd, orders.arma.sq, orders.arma.s],
            trend,
            coefs: est.coefs,
            beta: eval.beta,
            exog: data.features.iter().map(|c| c.name.clone()).collect(),
            se,
            sigma2: eval.sigma2,
            loglik: eval.loglik,
            nobs: problem.w.len(),
            n_history: y.len(),
            z_tail: z[z.len() - delta.len()..].to_vec(),
            state: eval.state,
            state_cov: eval.cov,
        })
    }
}

fn describe(o: &Orders, trend: Trend) -> String {
    let a = o.arma;
    let mut s = format!("ARIMA({},{},{})", a.p, o.d, a.q);
    if a.sp + o.sd + a.sq > 0 {
        s += &format!("({},{},{})[{}]", a.sp, o.sd, a.sq, a.s);
    }
    match trend {
        Trend::Mean => s + " with mean",
        Trend::Drift => s + " with drift",
        Trend::None => s,
    }
}

fn regressor_names(trend: Trend, exog: &[Column]) -> Vec<String> {
    let mut v = Vec::new();
    match trend {
        Trend::Mean => v.push("intercept".to_string()),
        Trend::Drift => v.push("drift".to_string()),
        Trend::None => {}
    }
    v.extend(exog.iter().map(|c| c.name.clone()));
    v
}

/// Degenerate designs fail here with a message, not later inside the optimiser.
fn check_design(problem: &Problem, names: &[String]) -> Result<()> {
    let w = &problem.w;
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
    let scale = w.iter().map(|v| v.abs()).fold(0.0f64, f64::max);
    if var <= 1e-20 * scale * scale.max(1.0) * w.len() as f64
        && (problem.x.is_empty() || var == 0.0)
    {
        return Err(model_error(
            "the series is constant after differencing, so its innovation variance is zero; use a naive or mean model",
        ));
    }
    for (c, name) in problem.x.iter().zip(names) {
        if c.iter().all(|v| *v == 0.0) {
            return Err(model_error(format!(
                "regressor '{name}' is constant, so it vanishes after differencing; drop it"
            )));
        }
    }
    if !problem.x.is_empty() && problem.ols().is_none() {
        return Err(model_error(format!(
            "the regressors ({}) are collinear after differencing",
            names.join(", ")
        )));
    }
    Ok(())
}

fn residual_levels(y: &[f64], x: &[Vec<f64>], beta: &[f64]) -> Vec<f64> {
    let mut z = y.to_vec();
    for (col, b) in x.iter().zip(beta) {
        for (zt, xt) in z.iter_mut().zip(col) {
            *zt -= b * xt;
        }
    }
    z
}

impl ArimaFitted {
    /// The model's regressors from `data`, checked: present (else "`needs` regressor
    /// 'x'"), finite and as long as the target.
    fn exog_columns(&self, data: &TrainingData<'_>, needs: &str) -> Result<Vec<Column>> {
        let n = data.target.len();
        let mut exog = Vec::with_capacity(self.exog.len());
        for name in &self.exog {
            let col = data
                .features
                .iter()
                .find(|c| &c.name == name)
                .ok_or_else(|| model_error(format!("{needs} regressor '{name}'")))?;
            check_finite(&format!("regressor '{name}'"), &col.values)?;
            if col.values.len() != n {
                return Err(model_error(format!(
                    "regressor '{name}' has {} rows, the target {n}",
                    col.values.len()
                )));
            }
            exog.push(col.clone());
        }
        Ok(exog)
    }

    fn orders(&self) -> Orders {
        let [p, d, q] = self.order;
        let [sp, sd, sq, s] = self.seasonal_order;
        Orders {
            arma: ArmaOrders {
                p,
                q,
                sp,
                sq,
                s: s.max(1),
            },
            d,
            sd,
        }
    }

    /// Number of estimated parameters including σ² (the `k` of the criteria).
    pub fn n_params(&self) -> usize {
        self.coefs.len() + self.beta.len() + 1
    }

    /// Akaike information criterion `-2 ll + 2k`.
    pub fn aic(&self) -> f64 {
        -2.0 * self.loglik + 2.0 * self.n_params() as f64
    }

    /// Small-sample corrected AIC `AIC + 2k(k+1)/(n* - k - 1)` (infinite when undefined).
    pub fn aicc(&self) -> f64 {
        let k = self.n_params() as f64;
        let den = self.nobs as f64 - k - 1.0;
        if den > 0.0 {
            self.aic() + 2.0 * k * (k + 1.0) / den
        } else {
            f64::INFINITY
        }
    }

    /// Bayesian information criterion `AIC + k(log n* - 2)`.
    pub fn bic(&self) -> f64 {
        self.aic() + self.n_params() as f64 * ((self.nobs as f64).ln() - 2.0)
    }

    /// Coefficient names in the order of `[coefs.., beta..]`.
    pub fn names(&self) -> Vec<String> {
        let mut names = self.orders().arma.names();
        match self.trend {
            Trend::Mean => names.push("intercept".into()),
            Trend::Drift => names.push("drift".into()),
            Trend::None => {}
        }
        names.extend(self.exog.iter().cloned());
        names
    }

    /// A short description, e.g. `ARIMA(0,1,1)(0,1,1)[12]`.
    pub fn describe(&self) -> String {
        describe(&self.orders(), self.trend)
    }

    fn state_space(&self) -> StateSpace {
        let (mut phi, mut theta) = (Vec::new(), Vec::new());
        params::expand(&self.orders().arma, &self.coefs, &mut phi, &mut theta);
        StateSpace::new(&phi, &theta)
    }

    /// Future regressor rows `x_{n+1..n+h}'β`.
    fn future_regression(&self, h: usize, future: &[Column]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; h];
        let mut b = self.beta.iter();
        match self.trend {
            Trend::None => {}
            Trend::Mean => {
                let mu = b.next().copied().unwrap_or(0.0);
                out.iter_mut().for_each(|v| *v += mu);
            }
            Trend::Drift => {
                let slope = b.next().copied().unwrap_or(0.0);
                for (i, v) in out.iter_mut().enumerate() {
                    *v += slope * (self.n_history + i + 1) as f64;
                }
            }
        }
        for (name, coef) in self.exog.iter().zip(b) {
            let col = future.iter().find(|c| &c.name == name).ok_or_else(|| {
                model_error(format!(
                    "forecasting needs future values of regressor '{name}'"
                ))
            })?;
            if col.values.len() < h {
                return Err(model_error(format!(
                    "regressor '{name}' has {} future values, the horizon is {h}",
                    col.values.len()
                )));
            }
            check_finite(&format!("future regressor '{name}'"), &col.values[..h])?;
            for (v, x) in out.iter_mut().zip(&col.values) {
                *v += coef * x;
            }
        }
        Ok(out)
    }

    /// Point forecasts and forecast variances (in data units) for `h` steps.
    pub fn forecast_moments(&self, h: usize, future: &[Column]) -> Result<(Vec<f64>, Vec<f64>)> {
        let ss = self.state_space();
        let r = ss.r;
        if self.state.len() != r || self.state_cov.len() != r * r {
            return Err(model_error(
                "the saved filter state does not match the model orders",
            ));
        }
        let delta = self.orders().delta();
        // Differenced-series forecasts and their covariances Cov(e_i, e_j) = (T^{j-i} P_i)[0][0].
        let mut a = self.state.clone();
        let mut p = self.state_cov.clone();
        let mut scratch = vec![0.0; r * r];
        let mut w_hat = Vec::with_capacity(h);
        let mut cov = vec![0.0; h * h];
        let mut v = vec![0.0; r];
        for i in 0..h {
            w_hat.push(a[0]);
            ss.transition(&mut a);
            for k in 0..r {
                v[k] = p[k * r];
            }
            for j in i..h {
                cov[i * h + j] = v[0];
                cov[j * h + i] = v[0];
                ss.transition(&mut v);
            }
            ss.predict_cov(&mut p, &mut scratch);
        }
        // Undo the differencing: z_t = w_t + Σ δ_k z_{t-k}; errors e_z = C e_w with
        // C[h][i] = ψ_{h-i}, ψ the coefficients of 1/δ(L).
        let mut z: Vec<f64> = self.z_tail.clone();
        let m = z.len();
        for i in 0..h {
            let t = m + i;
            let zt = w_hat[i]
                + delta
                    .iter()
                    .enumerate()
                    .map(|(k, d)| d * z[t - k - 1])
                    .sum::<f64>();
            z.push(zt);
        }
        let mut psi = vec![0.0; h];
        for j in 0..h {
            psi[j] = if j == 0 {
                1.0
            } else {
                delta
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k < j)
                    .map(|(k, d)| d * psi[j - k - 1])
                    .sum()
            };
        }
        let mut var = vec![0.0; h];
        for (t, vt) in var.iter_mut().enumerate() {
            let mut s = 0.0;
            for i in 0..=t {
                let ci = psi[t - i];
                for j in 0..=t {
                    s += ci * psi[t - j] * cov[i * h + j];
                }
            }
            *vt = s * self.sigma2;
        }
        let reg = self.future_regression(h, future)?;
        let point = z[m..].iter().zip(&reg).map(|(a, b)| a + b).collect();
        Ok((point, var))
    }
}

impl Predict for ArimaFitted {
    fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
        let (point, var) = self.forecast_moments(horizon, future)?;
        let sd: Vec<f64> = var.iter().map(|v| v.max(0.0).sqrt()).collect();
        if point.iter().chain(&sd).any(|v| !v.is_finite()) {
            return Err(Error::Numerical {
                what: format!("forecasting with {}", self.describe()),
                message: "non-finite forecast".into(),
            });
        }
        Forecast::gaussian(point, &sd, levels)
    }

    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        let orders = self.orders();
        let y = history.target;
        check_finite("the target", y)?;
        let delta = orders.delta();
        let needed = delta.len() + 1;
        if y.len() < needed {
            return Err(Error::TooFewRows {
                what: format!("conditioning {}", self.describe()),
                needed,
                available: y.len(),
            });
        }
        let exog = self.exog_columns(history, "conditioning needs")?;
        let x = regressors(self.trend, y.len(), 0, &exog);
        let z = residual_levels(y, &x, &self.beta);
        let w = difference(&z, &delta);
        let ss = self.state_space();
        let out = kalman::filter(&ss, &[&w]).ok_or_else(|| Error::Numerical {
            what: format!("conditioning {}", self.describe()),
            message: "the Kalman filter failed".into(),
        })?;
        Ok(ArimaFitted {
            n_history: y.len(),
            z_tail: z[z.len() - delta.len()..].to_vec(),
            state: out.state,
            state_cov: out.cov,
            ..self.clone()
        })
    }

    /// One Kalman step per new row from the stored state (no pass over the history).
    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        let y = rows.target;
        check_finite("the target", y)?;
        let exog = self.exog_columns(rows, "new rows need")?;
        let x = regressors(self.trend, y.len(), self.n_history, &exog);
        let z = residual_levels(y, &x, &self.beta);
        let delta = self.orders().delta();
        let m = delta.len();
        let ss = self.state_space();
        let mut out = self.clone();
        if out.z_tail.len() != m {
            return Err(model_error(format!(
                "the stored state holds {} differencing values, the model needs {m}",
                out.z_tail.len()
            )));
        }
        for &zt in &z {
            let w = zt
                - delta
                    .iter()
                    .enumerate()
                    .map(|(k, d)| d * out.z_tail[m - 1 - k])
                    .sum::<f64>();
            kalman::step(&ss, &mut out.state, &mut out.state_cov, w).ok_or_else(|| {
                Error::Numerical {
                    what: format!("updating {}", self.describe()),
                    message: "the Kalman step failed".into(),
                }
            })?;
            if m > 0 {
                out.z_tail.remove(0);
                out.z_tail.push(zt);
            }
        }
        out.n_history += y.len();
        Ok(out)
    }

    fn fit_stats(&self) -> Value {
        let names = self.names();
        let mut coef = Map::new();
        let mut se = Map::new();
        for (i, (name, value)) in names
            .iter()
            .zip(self.coefs.iter().chain(&self.beta))
            .enumerate()
        {
            coef.insert(name.clone(), json!(value));
            se.insert(name.clone(), json!(self.se.get(i).copied().flatten()));
        }
        json!({
            "model": self.describe(),
            "order": self.order,
            "seasonal_order": self.seasonal_order,
            "constant": self.trend,
            "coef": coef,
            "se": se,
            "sigma2": self.sigma2,
            "loglik": self.loglik,
            "aic": self.aic(),
            "aicc": finite_or_null(self.aicc()),
            "bic": self.bic(),
            "nobs": self.nobs,
            "method": "ML",
        })
    }
}

fn finite_or_null(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

#[cfg(test)]
mod tests;
