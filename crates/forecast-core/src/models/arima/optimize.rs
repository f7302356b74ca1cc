//! Maximising the exact likelihood: CSS start, multi-start L-BFGS on the unconstrained
//! parameters (argmin), and standard errors from a numerical Hessian.
//!
//! Why several starts: ARMA likelihood surfaces of stock prices have several optima with
//! near-cancelling AR/MA roots (see the reference notes: msft_close ARIMA(1,1,1) and
//! ARIMA(2,1,2)), and a single start from CSS or zero — what R and statsforecast do —
//! stops at the lower one. We start from the CSS estimate (R's CSS-ML default), from
//! zero, and from the two "ridges" where every partial autocorrelation of the AR blocks
//! is ±0.5 and of the MA blocks ∓0.5, and — for `p, q ≥ 2` — from the best points of a
//! coarse scan over nearly cancelling complex AR/MA root pairs (angle and moduli; see
//! [`root_pair_starts`], which reaches msft_close ARIMA(2,1,2)'s best optimum, 8
//! log-likelihood units above the others), run L-BFGS from each, and keep the best; a final
//! Nelder–Mead pass polishes optima on the invertibility boundary, where the gradient
//! in unconstrained coordinates vanishes and L-BFGS stops early.

use super::likelihood::{spd_inverse, Problem};
use super::params::ArmaOrders;
use super::params::{to_coefs_in, to_coefs_with, to_unconstrained, to_unconstrained_in};
use super::roots;
use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::LBFGS;
use std::cell::RefCell;

/// Stand-in cost outside the stationary region: large but finite, so line searches
/// back off instead of producing NaN.
const INFEASIBLE: f64 = 1e20;

/// Which starting points to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starts {
    /// The CSS estimate only (R / statsforecast behaviour; fastest).
    Css,
    /// CSS, zero, the two ridges and the root-pair scan (default: reaches the best-known
    /// optimum on every reference case).
    Multi,
    /// One run from the CSS estimate with the AR and MA parts transformed (the MA part
    /// kept invertible), falling back to the MA-free CSS start, then zero, when that
    /// start is not available: the fits of an AutoARIMA search, whose winner is refitted
    /// from every start of [`Starts::Multi`]. Chosen over the MA-free start (R's
    /// `CSS-ML`) by the M3 monthly measurements in `benches/RESULTS.md`: more accurate
    /// forecasts and a faster search.
    Search,
}

/// Negative profile log-likelihood in unconstrained coordinates; remembers the best
/// point it has seen, so a solver that errors out loses nothing.
struct Objective<'a> {
    problem: &'a Problem,
    best: &'a RefCell<(f64, Vec<f64>)>,
    coefs: RefCell<Vec<f64>>,
    ma_free: bool,
    /// Every root of the coefficients visited has a modulus of at least this (1: the
    /// usual stationary and invertible region); see [`maximise`].
    margin: f64,
}

impl<'a> Objective<'a> {
    fn new(problem: &'a Problem, best: &'a RefCell<(f64, Vec<f64>)>) -> Self {
        Objective {
            problem,
            best,
            coefs: RefCell::new(Vec::new()),
            ma_free: false,
            margin: 1.0,
        }
    }

    fn value(&self, u: &[f64]) -> f64 {
        let mut c = self.coefs.borrow_mut();
        to_coefs_in(&self.problem.orders, u, &mut c, self.ma_free, self.margin);
        // Free MA coefficients may reach the invertibility boundary but not cross it:
        // beyond it the filter's precision degrades and the likelihood is not trusted.
        if self.ma_free
            && to_unconstrained(&self.problem.orders, &ma_only(&self.problem.orders, &c)).is_none()
        {
            return INFEASIBLE;
        }
        let f = match self.problem.profile_loglik(&c) {
            Some(ll) if ll.is_finite() => -ll,
            _ => INFEASIBLE,
        };
        let mut best = self.best.borrow_mut();
        if f < best.0 {
            *best = (f, u.to_vec());
        }
        f
    }
}

/// Central-difference gradient of `f` at `u` with relative step `rel_step`; with
/// `guard`, a component whose probe lands outside the feasible region is 0.
fn central_gradient(u: &[f64], rel_step: f64, guard: bool, f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
    let mut x = u.to_vec();
    let mut g = vec![0.0; u.len()];
    for i in 0..u.len() {
        let h = rel_step * (1.0 + u[i].abs());
        x[i] = u[i] + h;
        let fp = f(&x);
        x[i] = u[i] - h;
        let fm = f(&x);
        x[i] = u[i];
        g[i] = if guard && (fp >= INFEASIBLE || fm >= INFEASIBLE) {
            0.0
        } else {
            (fp - fm) / (2.0 * h)
        };
    }
    g
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, u: &Vec<f64>) -> Result<f64, ArgminError> {
        Ok(self.value(u))
    }
}

impl Gradient for Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, u: &Vec<f64>) -> Result<Vec<f64>, ArgminError> {
        // The step balances truncation (h²) against the rounding noise of a likelihood
        // summed over thousands of terms.
        Ok(central_gradient(u, 1e-5, true, |x| self.value(x)))
    }
}

/// Minimise with L-BFGS from `u0`; returns the best `(cost, u)` seen.
fn lbfgs(
    problem: &Problem,
    u0: Vec<f64>,
    max_iters: u64,
    ma_free: bool,
    margin: f64,
) -> (f64, Vec<f64>) {
    let best = RefCell::new((f64::INFINITY, u0.clone()));
    let mut obj = Objective::new(problem, &best);
    obj.ma_free = ma_free;
    obj.margin = margin;
    let f0 = obj.value(&u0);
    if f0 < INFEASIBLE && !u0.is_empty() {
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
            .with_tolerance_grad(1e-6)
            .and_then(|s| s.with_tolerance_cost(1e-12));
        if let Ok(solver) = solver {
            let _ = Executor::new(obj, solver)
                .configure(|s| s.param(u0).max_iters(max_iters))
                .run();
        }
    }
    best.into_inner()
}

/// Polish with Nelder–Mead from `u0` with a small simplex.
fn nelder_mead(problem: &Problem, u0: Vec<f64>, max_iters: u64, ma_free: bool) -> (f64, Vec<f64>) {
    let best = RefCell::new((f64::INFINITY, u0.clone()));
    let mut obj = Objective::new(problem, &best);
    obj.ma_free = ma_free;
    obj.value(&u0);
    let mut simplex = vec![u0.clone()];
    for i in 0..u0.len() {
        let mut v = u0.clone();
        v[i] += 0.1 * (1.0 + u0[i].abs());
        simplex.push(v);
    }
    if let Ok(solver) = NelderMead::new(simplex).with_sd_tolerance(1e-10) {
        let _ = Executor::new(obj, solver)
            .configure(|s| s.max_iters(max_iters))
            .run();
    }
    best.into_inner()
}

/// CSS estimate of the ARMA coefficients (regression coefficients fixed at OLS), over
/// the raw coefficients as R does; zero when it fails or leaves the stationary region
/// far behind.
fn css_start(problem: &Problem, beta: &[f64]) -> Vec<f64> {
    struct Css<'a> {
        problem: &'a Problem,
        z: Vec<f64>,
        scratch: RefCell<(Vec<f64>, Vec<f64>)>,
    }
    impl Css<'_> {
        fn value(&self, u: &[f64]) -> f64 {
            let mut s = self.scratch.borrow_mut();
            let (_, resid) = &mut *s;
            let v = self.problem.css(u, &self.z, resid);
            if v.is_finite() {
                v
            } else {
                INFEASIBLE
            }
        }
    }
    impl CostFunction for Css<'_> {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, u: &Vec<f64>) -> Result<f64, ArgminError> {
            Ok(self.value(u))
        }
    }
    impl Gradient for Css<'_> {
        type Param = Vec<f64>;
        type Gradient = Vec<f64>;
        fn gradient(&self, u: &Vec<f64>) -> Result<Vec<f64>, ArgminError> {
            Ok(central_gradient(u, 1e-6, false, |x| self.value(x)))
        }
    }
    let k = problem.orders.len();
    let css = Css {
        problem,
        z: problem.residual_series(beta),
        scratch: RefCell::new((Vec::new(), Vec::new())),
    };
    let u0 = vec![0.0; k];
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 7)
        .with_tolerance_grad(1e-8)
        .and_then(|s| s.with_tolerance_cost(1e-12));
    let Ok(solver) = solver else { return u0 };
    match Executor::new(css, solver)
        .configure(|s| s.param(u0.clone()).max_iters(100))
        .run()
    {
        Ok(res) => match res.state().get_best_param() {
            Some(u) if u.iter().all(|v| v.is_finite() && v.abs() < 5.0) => u.clone(),
            _ => u0,
        },
        Err(_) => u0,
    }
}

/// The maximum-likelihood estimate.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// ARMA coefficients `[ar.., ma.., sar.., sma..]`.
    pub coefs: Vec<f64>,
    /// Log-likelihood at the optimum.
    pub loglik: f64,
}

/// Maximise the profile likelihood over the ARMA coefficients.
///
/// With `margin > 1` the coefficients are confined to the region where every root of the
/// AR and MA blocks has a modulus of at least `margin` (see [`to_coefs_in`]): an
/// AutoARIMA search that confines its candidates finds the best fit R's near-unit-root
/// rule accepts. Every start is then transformed (no MA-free start, no boundary polish).
pub fn maximise(problem: &Problem, starts: Starts, margin: f64) -> Option<Estimate> {
    let o = problem.orders;
    let k = o.len();
    let constrained = margin > 1.0;
    // Unconstrained coordinates of coefficients inside the region.
    let to_u = |c: &[f64]| to_unconstrained_in(&o, c, margin);
    if k == 0 {
        let e = problem.profile(&[])?;
        return Some(Estimate {
            coefs: vec![],
            loglik: e.loglik,
        });
    }
    let beta0 = problem.ols().unwrap_or_else(|| vec![0.0; problem.x.len()]);
    let css = css_start(problem, &beta0);
    // (start, MA free?) pairs. The CSS estimate and zero are run both ways: with MA
    // transformed (invertible by construction) and with MA free (R's choice), since
    // each reaches optima the other misses.
    let mut candidates: Vec<(Vec<f64>, bool)> = Vec::new();
    let zero = vec![0.0; k];
    if let Some(u) = to_u(&invert_ma(&o, css.clone())) {
        candidates.push((u, false));
    }
    if !constrained {
        if let Some(v) = mixed_from_coefs(&o, &css) {
            candidates.push((v, true));
        }
    }
    if starts == Starts::Search {
        // The transformed start first, else the MA-free one, else zero.
        candidates.truncate(1);
    }
    if starts == Starts::Multi || candidates.is_empty() {
        candidates.push((zero.clone(), false));
    }
    if starts == Starts::Multi {
        candidates.push((zero, true));
        if let Some(hr) = hannan_rissanen(problem, &beta0) {
            if let Some(u) = to_u(&invert_ma(&o, hr.clone())) {
                candidates.push((u, false));
            }
            if let Some(v) = mixed_from_coefs(&o, &hr).filter(|_| !constrained) {
                candidates.push((v, true));
            }
        }
        let ridge = 0.5f64.atanh();
        for sign in [1.0, -1.0] {
            // Partial autocorrelations of the AR blocks sign·0.5, of the MA blocks
            // -sign·0.5 (same sign in unconstrained coordinates) ...
            candidates.push((vec![sign * ridge; k], false));
            // ... and the same ridges in natural coefficients: every AR coefficient
            // ±0.5, every MA coefficient ∓0.5, where stationary and invertible.
            let mut c = Vec::with_capacity(k);
            c.extend(std::iter::repeat_n(0.5 * sign, o.p));
            c.extend(std::iter::repeat_n(-0.5 * sign, o.q));
            c.extend(std::iter::repeat_n(0.5 * sign, o.sp));
            c.extend(std::iter::repeat_n(-0.5 * sign, o.sq));
            if let Some(u) = to_u(&c) {
                candidates.push((u, false));
            }
        }
    }
    if starts == Starts::Multi {
        for c in root_pair_starts(problem) {
            if let Some(u) = to_u(&c) {
                candidates.push((u, false));
            }
        }
    }
    let has_ma = o.q + o.sq > 0;
    let mut best = (f64::INFINITY, vec![0.0; k], false);
    let mut tried: Vec<(Vec<f64>, bool)> = Vec::with_capacity(candidates.len());
    for (u0, ma_free) in candidates {
        // Without an MA block the MA-free coordinates are the transformed ones; some starts coincide
        // (the two ridges are the same point when every block has order 1): each
        // distinct start runs once (L-BFGS is deterministic).
        let ma_free = ma_free && has_ma && !constrained;
        let same = |(v, f): &(Vec<f64>, bool)| {
            *f == ma_free && v.iter().zip(&u0).all(|(a, b)| (a - b).abs() <= 1e-12)
        };
        if tried.iter().any(same) {
            continue;
        }
        tried.push((u0.clone(), ma_free));
        let run = lbfgs(problem, u0, 200, ma_free, margin);
        if run.0 < best.0 {
            best = (run.0, run.1, ma_free);
        }
    }
    if best.0.is_nan() || best.0 >= INFEASIBLE {
        return None;
    }
    // Polish a winner near the MA invertibility boundary: Nelder–Mead, then L-BFGS
    // again from wherever it ends. An optimum on the invertibility boundary sits at
    // infinity in transformed coordinates, where L-BFGS stops short, so polish with the
    // MA free. Interior optima skip the polish (it cost ~400 likelihood evaluations).
    let mut coefs = Vec::new();
    to_coefs_in(&o, &best.1, &mut coefs, best.2, margin);
    if !constrained && has_ma && near_ma_boundary(&o, &coefs) {
        if let Some(v) = mixed_from_coefs(&o, &coefs) {
            let nm = nelder_mead(problem, v, 400, true);
            let polished = lbfgs(problem, nm.1.clone(), 100, true, 1.0);
            let polished = if polished.0 <= nm.0 { polished } else { nm };
            if polished.0 < best.0 {
                best = (polished.0, polished.1, true);
                to_coefs_with(&o, &best.1, &mut coefs, true);
            }
        }
    }
    Some(Estimate {
        coefs: invert_ma(&o, coefs),
        loglik: -best.0,
    })
}

/// Angles of the root-pair scan: `π j / PAIR_ANGLES`, `j = 1 .. PAIR_ANGLES - 1`.
const PAIR_ANGLES: usize = 24;
/// Moduli of the AR root pair in the scan; the MA pair sits at a modulus a little inside
/// or outside it (`PAIR_OFFSETS`), so the two nearly cancel.
const PAIR_MODULI: [f64; 4] = [0.9, 0.97, 0.99, 0.996];
const PAIR_OFFSETS: [f64; 4] = [-0.02, -0.005, 0.005, 0.02];
/// How many of the scan's local maxima (over the angle) are run to convergence.
const PAIR_STARTS: usize = 3;

/// Starts with a nearly cancelling pair of complex roots, for models with `p ≥ 2` and
/// `q ≥ 2`.
///
/// Why: an ARMA(2,2) (or larger) fitted to a near-random walk has optima where a complex
/// AR root pair `ρ e^{±iω}` of modulus close to 1 is almost cancelled by an MA pair at
/// the same angle: the model is white noise plus a faint, persistent cycle of period
/// `2π/ω`. The likelihood of such a point is barely above the white-noise value except
/// in a narrow ridge (the moduli within ~1% of each other, the angle within a few
/// degrees of the cycle in the data), so starts at zero, at CSS or at the ±0.5 ridges
/// never enter that basin. msft_close ARIMA(2,1,2) is the reference case: its best
/// optimum has AR roots of modulus 0.996 at ω ≈ 2.53 (a 2.5-day cycle) and lies 8 log-
/// likelihood units above the optimum the other starts reach.
///
/// How: the AR polynomial `1 - 2ρ cos ω L + ρ² L²` and the MA polynomial
/// `1 - 2ρ' cos ω L + ρ'² L²` (the other coefficients zero) are evaluated on a coarse
/// grid, `ω = π j / 24`, `ρ ∈ {0.9, 0.97, 0.99, 0.996}`, `ρ' = ρ + {±0.005, ±0.02}`
/// (one filter pass each, a few hundred in all: far cheaper than one optimiser run);
/// along the angle the best value over the moduli is taken, and the
/// `PAIR_STARTS` best local maxima over the angle (distinct cycles) become starts.
fn root_pair_starts(problem: &Problem) -> Vec<Vec<f64>> {
    let o = problem.orders;
    if o.p < 2 || o.q < 2 {
        return Vec::new();
    }
    let mut coefs = vec![0.0; o.len()];
    // best (loglik, coefs) per angle
    let mut per_angle: Vec<Option<(f64, Vec<f64>)>> = vec![None; PAIR_ANGLES];
    for (j, slot) in per_angle.iter_mut().enumerate().skip(1) {
        let cos = (std::f64::consts::PI * j as f64 / PAIR_ANGLES as f64).cos();
        for rho in PAIR_MODULI {
            for off in PAIR_OFFSETS {
                let rho_ma = rho + off;
                if rho_ma >= 1.0 {
                    continue;
                }
                coefs[0] = 2.0 * rho * cos;
                coefs[1] = -rho * rho;
                coefs[o.p] = -2.0 * rho_ma * cos;
                coefs[o.p + 1] = rho_ma * rho_ma;
                if let Some(ll) = problem.profile_loglik(&coefs) {
                    if ll.is_finite() && slot.as_ref().is_none_or(|(best, _)| ll > *best) {
                        *slot = Some((ll, coefs.clone()));
                    }
                }
            }
        }
    }
    let value = |j: usize| {
        per_angle[j]
            .as_ref()
            .map_or(f64::NEG_INFINITY, |(ll, _)| *ll)
    };
    let mut maxima: Vec<(f64, Vec<f64>)> = (1..PAIR_ANGLES)
        .filter(|&j| {
            let v = value(j);
            v > f64::NEG_INFINITY && v >= value(j - 1) && (j + 1 >= PAIR_ANGLES || v > value(j + 1))
        })
        .filter_map(|j| per_angle[j].clone())
        .collect();
    maxima.sort_by(|a, b| b.0.total_cmp(&a.0));
    maxima
        .into_iter()
        .take(PAIR_STARTS)
        .map(|(_, c)| c)
        .collect()
}

/// Hannan–Rissanen estimate of a non-seasonal ARMA(p, q): residuals of a long
/// autoregression stand in for the innovations, then one least-squares regression on
/// lagged values and lagged residuals. `None` for seasonal models or short series.
fn hannan_rissanen(problem: &Problem, beta: &[f64]) -> Option<Vec<f64>> {
    let o = problem.orders;
    if o.sp + o.sq > 0 || o.q == 0 {
        return None;
    }
    let z = problem.residual_series(beta);
    let n = z.len();
    let m = (20 + o.p + o.q).min(n / 4);
    if m <= o.p.max(o.q) || n < 3 * m {
        return None;
    }
    let lags = |t: usize, k: usize| z[t - k];
    let ar_long = least_squares(
        m,
        (m..n).map(|t| ((1..=m).map(|k| lags(t, k)).collect::<Vec<_>>(), z[t])),
    )?;
    let mut e = vec![0.0; n];
    for t in m..n {
        e[t] = z[t] - (1..=m).map(|k| ar_long[k - 1] * z[t - k]).sum::<f64>();
    }
    let start = m + o.q.max(o.p);
    let rows = (start..n).map(|t| {
        let mut x: Vec<f64> = (1..=o.p).map(|k| z[t - k]).collect();
        x.extend((1..=o.q).map(|k| e[t - k]));
        (x, z[t])
    });
    least_squares(o.p + o.q, rows)
}

fn least_squares(k: usize, rows: impl Iterator<Item = (Vec<f64>, f64)>) -> Option<Vec<f64>> {
    let mut xtx = vec![0.0; k * k];
    let mut xty = vec![0.0; k];
    for (x, y) in rows {
        for i in 0..k {
            xty[i] += x[i] * y;
            for j in 0..k {
                xtx[i * k + j] += x[i] * x[j];
            }
        }
    }
    super::likelihood::cholesky_solve(&mut xtx, &mut xty, k)?;
    Some(xty)
}

/// Partial autocorrelation (in absolute value) of an MA block beyond which the optimum
/// is treated as on the invertibility boundary and polished with the MA free.
const BOUNDARY_PACF: f64 = 0.98;

/// Whether an MA block of `coefs` is not invertible or has a partial autocorrelation
/// beyond [`BOUNDARY_PACF`]. Interior optima are interior in the transformed
/// coordinates too, where L-BFGS converges to them; only these need the polish.
fn near_ma_boundary(o: &ArmaOrders, coefs: &[f64]) -> bool {
    match to_unconstrained(o, &ma_only(o, coefs)) {
        Some(u) => u
            .iter()
            .enumerate()
            .any(|(i, v)| is_ma_index(o, i) && v.abs() > BOUNDARY_PACF.atanh()),
        None => true,
    }
}

/// The coefficients with the AR blocks zeroed.
fn ma_only(o: &ArmaOrders, coefs: &[f64]) -> Vec<f64> {
    coefs
        .iter()
        .enumerate()
        .map(|(i, v)| if is_ma_index(o, i) { *v } else { 0.0 })
        .collect()
}

/// Mixed coordinates: AR blocks unconstrained, MA blocks as they are.
fn mixed_from_coefs(o: &ArmaOrders, coefs: &[f64]) -> Option<Vec<f64>> {
    let mut ar_only = coefs.to_vec();
    for (i, v) in ar_only.iter_mut().enumerate() {
        if is_ma_index(o, i) {
            *v = 0.0;
        }
    }
    let mut u = to_unconstrained(o, &ar_only)?;
    for (i, v) in u.iter_mut().enumerate() {
        if is_ma_index(o, i) {
            *v = coefs[i];
        }
    }
    Some(u)
}

fn is_ma_index(o: &ArmaOrders, i: usize) -> bool {
    (o.p..o.p + o.q).contains(&i) || (o.p + o.q + o.sp..o.len()).contains(&i)
}

/// Make each MA block invertible by reflecting its roots inside the unit circle (R's
/// `maInvert`); the exact likelihood and the forecasts are unchanged.
fn invert_ma(o: &ArmaOrders, mut coefs: Vec<f64>) -> Vec<f64> {
    for (start, len) in [(o.p, o.q), (o.p + o.q + o.sp, o.sq)] {
        if len > 0 {
            let block = &mut coefs[start..start + len];
            let flipped = roots::invert_ma_block(block);
            block.copy_from_slice(&flipped);
        }
    }
    coefs
}

/// Unconstrained coordinates of given coefficients (for user-supplied starts).
pub fn unconstrained(problem: &Problem, coefs: &[f64]) -> Option<Vec<f64>> {
    to_unconstrained(&problem.orders, coefs)
}

/// Standard errors of `[coefs.., beta..]` from the inverse of the numerical Hessian of
/// the negative log-likelihood (σ² profiled out), R's `var.coef` convention. `None` per
/// parameter when the Hessian is not positive definite there (an optimum on the
/// stationarity / invertibility boundary).
pub fn standard_errors(
    problem: &Problem,
    coefs: &[f64],
    beta: &[f64],
    sigma2: f64,
) -> Vec<Option<f64>> {
    let k = coefs.len();
    let m = k + beta.len();
    let n = problem.w.len().max(1) as f64;
    let mut x: Vec<f64> = coefs.iter().chain(beta).copied().collect();
    // Steps of about 1% of each parameter's expected standard error.
    let steps: Vec<f64> = (0..m)
        .map(|i| {
            if i < k {
                1e-2 / n.sqrt()
            } else {
                let ss: f64 = problem.x[i - k].iter().map(|v| v * v).sum();
                1e-2 * (sigma2 / ss.max(f64::MIN_POSITIVE)).sqrt()
            }
        })
        .collect();
    let f = |x: &[f64]| -> Option<f64> { problem.loglik_at(&x[..k], &x[k..]).map(|ll| -ll) };
    let none = vec![None; m];
    let Some(f0) = f(&x) else { return none };
    let mut h = vec![0.0; m * m];
    for i in 0..m {
        for j in i..m {
            let (hi, hj) = (steps[i], steps[j]);
            let v = if i == j {
                x[i] += hi;
                let fp = f(&x);
                x[i] -= 2.0 * hi;
                let fm = f(&x);
                x[i] += hi;
                match (fp, fm) {
                    (Some(a), Some(b)) => (a - 2.0 * f0 + b) / (hi * hi),
                    _ => return none,
                }
            } else {
                let mut g = |di: f64, dj: f64| {
                    x[i] += di;
                    x[j] += dj;
                    let r = f(&x);
                    x[i] -= di;
                    x[j] -= dj;
                    r
                };
                match (g(hi, hj), g(hi, -hj), g(-hi, hj), g(-hi, -hj)) {
                    (Some(a), Some(b), Some(c), Some(d)) => (a - b - c + d) / (4.0 * hi * hj),
                    _ => return none,
                }
            };
            h[i * m + j] = v;
            h[j * m + i] = v;
        }
    }
    match spd_inverse(&h, m) {
        Some(inv) => (0..m)
            .map(|i| {
                let v = inv[i * m + i];
                (v > 0.0 && v.is_finite()).then(|| v.sqrt())
            })
            .collect(),
        None => none,
    }
}
