//! Exponential smoothing state-space models (ETS) by maximum likelihood, and AutoETS,
//! as R's `forecast::ets` defines them (Hyndman, Koehler, Ord & Snyder, 2008,
//! "Forecasting with Exponential Smoothing", Springer) and statsforecast 2.1.1's `ets_f`
//! / `AutoETS` estimate them.
//!
//! **Models.** A model is named by a code of error, trend and season: `A`dditive or
//! `M`ultiplicative error; `N`o, `A`dditive, `M`ultiplicative or damped (`Ad`, `Md`)
//! trend; `N`o, `A`dditive or `M`ultiplicative season: `ANN` is simple exponential
//! smoothing, `AAdN` the damped trend method, `MAM` multiplicative Holt–Winters, `MMdN`
//! a damped multiplicative (exponential) trend. The combinations `forecast::ets`
//! forbids by default are not offered (an additive error with a multiplicative trend or
//! season, a multiplicative trend with an additive season), and AutoETS tries
//! multiplicative trends only when asked (`multiplicative_trend`), as R and
//! statsforecast do. The state after row `t` is the level `ℓ`, the growth `b`
//! and the last `m` seasonal values `s_0 … s_{m−1}` (`s_{m−1}` is the one row `t + 1`
//! uses). With `q = ℓ + φ b` (`φ = 1` undamped) and `p` the row seasonally adjusted
//! (`y − s_{m−1}` or `y / s_{m−1}`), the one-step forecast is `q` (plus or times
//! `s_{m−1}`) and the update is `ℓ' = q + α (p − q)`, `b' = φ b + (β/α)(ℓ' − ℓ − φ b)`,
//! `s'_0 = s_{m−1} + γ (y − q − s_{m−1})` (additive) or `s_{m−1} + γ (y / q − s_{m−1})`
//! (multiplicative), the other seasonal values moving one place on. A multiplicative
//! trend multiplies where an additive one adds: `q = ℓ b^φ` and
//! `b' = b^φ + (β/α)(ℓ'/ℓ − b^φ)`, so the point forecast `k` steps ahead is
//! `ℓ b^{φ + … + φ^k}`; a growth below zero makes the likelihood not a number, as in R. The error `e_t` is
//! `y_t − ŷ_t` (additive) or `(y_t − ŷ_t) / ŷ_t` (multiplicative).
//!
//! **Likelihood** (R's convention, which statsforecast keeps): `−2 log L = n log Σ e_t²`
//! `+ 2 Σ log |ŷ_t|` (the second term for multiplicative errors only), with the error
//! variance concentrated out and the constant `n (1 + log 2π − log n)` left out.
//! `loglik = −½ (−2 log L)`; with `k` the number of estimated parameters plus one (the
//! variance), `AIC = −2 log L + 2k`, `BIC = −2 log L + k log n`,
//! `AICc = AIC + 2k(k + 1)/(n − k − 1)`; `σ² = Σ e_t² / (n − k − 1)` (statsforecast's
//! divisor).
//!
//! **Estimation**, as statsforecast does it: the parameters `α`, `β`, `γ`, `φ` and the
//! initial states (level, growth and `m − 1` seasonal values; the last seasonal value
//! makes them sum to 0 or `m`) are found by a bounded Nelder–Mead search
//! ([`super::theta::nelder_mead`], the same search statsforecast runs: adaptive
//! coefficients, first simplex by 5% steps, stop when the criterion's spread over the
//! simplex is below 10⁻⁴ or after 1,000 iterations) from these starting values:
//! `α = 10⁻⁴ + 0.2 (0.9999 − 10⁻⁴) / m`, `β` a tenth of the way from 10⁻⁴ to `min(0.9999,
//! α)`, `γ` 5% of the way from 10⁻⁴ to `min(0.9999, 1 − α)`, `φ = 0.8 + 0.99 · 0.18`;
//! bounds `[10⁻⁴, 0.9999]` for `α`, `[10⁻⁴, min(0.9999, α₀)]` for `β` (`α₀` the start of
//! `α`), `[10⁻⁴, min(0.9999, 1 − α₀)]` for `γ`, `[0.8, 0.98]` for `φ`, none for the
//! states. A multiplicative season with a negative seasonal value is refused (infinite
//! criterion). Initial states: the seasonal values of a classical decomposition (the
//! series' seasonal indices in reverse order; multiplicative ones at least 0.01) when
//! there are three seasons of data, else from a least-squares fit of a line and one
//! Fourier pair; the level (and growth) from the mean (or least-squares line) of the
//! first `max(10, 2m)` seasonally adjusted rows.
//!
//! **AutoETS** fits every allowed model (errors `A`, `M`; trends `N`, `Ad`, `A`; seasons
//! `N`, `A`, `M` where the data are seasonal and there are more rows than `m`;
//! multiplicative parts only for positive data) in statsforecast's order and keeps the
//! lowest AICc (the first on a tie). Like statsforecast, it carries the upper bounds of
//! `β` and `γ` from one candidate to the next (each candidate lowers them to its own
//! `α₀` and `1 − α₀` if smaller), so that the seasonal candidates' tight bound on `β`
//! also holds for the non-seasonal trend models tried after them; a model with as many
//! parameters as rows less one is not fitted. A constant series is fitted as `ANN` with
//! `α = 0.9999`.
//!
//! **Intervals** are Gaussian around the point forecast with the variances of
//! Hyndman et al. (2008, ch. 6): for the linear models (additive error and components,
//! class 1) `σ² (1 + Σ_{j<h} c_j²)` with `c_j = α + β φ_j + γ d_{j,m}` (`φ_j = φ + … +
//! φ^j`, `d_{j,m} = 1` when `m` divides `j`); for multiplicative errors with additive
//! components (class 2) the recursion `θ_h = μ_h² + σ² Σ_{j<h} c_j² θ_{h−j}`, variance
//! `(1 + σ²) θ_h − μ_h²`; for multiplicative errors and seasons (class 3) the matrix
//! recursion of R's `forecast:::class3`. Multiplicative trends (classes 4 and 5) have no
//! closed form: their intervals are quantiles of 5,000 simulated paths of the fitted
//! model (a fixed seed), as R's `forecast.ets` computes them; the point forecast stays
//! the deterministic path, as in R and statsforecast.
//!
//! **Deliberate differences from statsforecast.** (1) A criterion that is not a number
//! counts as the worst possible, not the best. (2) Class 1 variances use `d_{j,m}` per
//! step; statsforecast's closed forms use the last step's `⌊(h − 1)/m⌋` at every step,
//! which differs for horizons longer than a season. (3) Class 2 `MAA` uses
//! `c_j = α + β j + γ d_{j,m}` (Hyndman et al., Table 6.2); statsforecast multiplies `α`
//! and `β j`. (4) Class 3 follows R (the mean matrix advances every step, the state
//! matrix is vectorised by columns as its Kronecker products require); statsforecast
//! advances it once after the loop and flattens it by rows. (5) A damped trend's
//! forecast `k` steps ahead is `ℓ + (φ + φ² + … + φ^k) b` by the model's definition;
//! statsforecast's forecast function accumulates `φ + φ + φ² + …` (one more `φ`, one
//! fewer power) from the second step on. The reference test compares (3) and (4) with a
//! simulation of the fitted model, and (5) with the definition evaluated from
//! statsforecast's final states.

use super::baselines::{check_new_rows, check_season_length, need, report_once};
use super::naive2::multiplicative_indices;
use super::theta::{additive_indices, nelder_mead};
use super::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::{level_to_prob, Forecast, Interval};
use crate::reporter::Reporter;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const TOL: f64 = 1e-10;
const HUGE: f64 = 1e10;
const LOWER: [f64; 4] = [1e-4, 1e-4, 1e-4, 0.8];
const UPPER: [f64; 4] = [0.9999, 0.9999, 0.9999, 0.98];
/// Paths simulated for the intervals of a multiplicative trend (R's default `npaths`).
const SIMULATED_PATHS: usize = 5000;
/// The simulation's seed: the same model forecasts the same intervals every time.
const SIMULATION_SEED: u64 = 20_081_010;

/// One component of an ETS model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Component {
    /// None.
    N,
    /// Additive.
    A,
    /// Multiplicative.
    M,
}

impl Component {
    fn letter(self) -> char {
        match self {
            Component::N => 'N',
            Component::A => 'A',
            Component::M => 'M',
        }
    }
}

/// An ETS model: error, trend (damped or not) and season.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtsSpec {
    /// Error: `A` or `M`.
    pub error: Component,
    /// Trend: `N` or `A`.
    pub trend: Component,
    /// Whether the trend is damped.
    pub damped: bool,
    /// Season: `N`, `A` or `M`.
    pub season: Component,
}

impl EtsSpec {
    /// The model's code, `AAdN` style.
    pub fn code(&self) -> String {
        format!(
            "{}{}{}{}",
            self.error.letter(),
            self.trend.letter(),
            if self.damped { "d" } else { "" },
            self.season.letter()
        )
    }

    /// The model's name, `ETS(A,Ad,N)` style.
    pub fn name(&self) -> String {
        format!(
            "ETS({},{}{},{})",
            self.error.letter(),
            self.trend.letter(),
            if self.damped { "d" } else { "" },
            self.season.letter()
        )
    }

    /// Whether the combination is one `forecast::ets` allows by default (its
    /// `restrict = TRUE`): not an additive error with a multiplicative trend or season,
    /// nor a multiplicative trend with an additive season.
    fn allowed(&self) -> bool {
        let forbidden = (self.error == Component::A
            && (self.season == Component::M || self.trend == Component::M))
            || (self.trend == Component::M && self.season == Component::A);
        let damped_without_trend = self.damped && self.trend == Component::N;
        !forbidden && !damped_without_trend
    }

    fn has_trend(&self) -> bool {
        self.trend != Component::N
    }

    fn has_season(&self) -> bool {
        self.season != Component::N
    }
}

/// A model code with `Z` ("choose") allowed in any place: `ZZZ`, `AZN`, `MAdM`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    error: Option<Component>,
    trend: Option<Component>,
    damped: Option<bool>,
    season: Option<Component>,
    /// Whether a `Z` trend includes `M`.
    multiplicative_trend: bool,
}

fn parse_code(key: &str, code: &str, allow_choice: bool) -> Result<Pattern> {
    let bad = |why: &str| {
        Error::config(
            key,
            format!(
                "'{code}' is not an ETS model code ({why}; e.g. ANN, AAdN, MAM{})",
                if allow_choice { ", ZZZ" } else { "" }
            ),
        )
    };
    let chars: Vec<char> = code.chars().collect();
    let (e, t, d, s) = match chars.as_slice() {
        [e, t, s] => (*e, *t, false, *s),
        [e, t, 'd', s] => (*e, *t, true, *s),
        _ => {
            return Err(bad(
                "three letters, with `d` after the trend for a damped one",
            ))
        }
    };
    let comp = |c: char, allowed: &[char], what: &str| -> Result<Option<Component>> {
        if !allowed.contains(&c) {
            return Err(bad(&format!(
                "the {what} is one of {}",
                allowed
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(match c {
            'N' => Some(Component::N),
            'A' => Some(Component::A),
            'M' => Some(Component::M),
            _ => None,
        })
    };
    let z: &[char] = if allow_choice { &['Z'] } else { &[] };
    let with = |base: &[char]| -> Vec<char> { base.iter().chain(z).copied().collect() };
    let error = comp(e, &with(&['A', 'M']), "error")?;
    let trend = comp(t, &with(&['N', 'A', 'M']), "trend")?;
    let season = comp(s, &with(&['N', 'A', 'M']), "season")?;
    if d && trend == Some(Component::N) {
        return Err(bad("a damped trend needs a trend"));
    }
    if error == Some(Component::A) && season == Some(Component::M) {
        return Err(bad(
            "an additive error with a multiplicative season is not a stable model",
        ));
    }
    if error == Some(Component::A) && trend == Some(Component::M) {
        return Err(bad(
            "an additive error with a multiplicative trend is not a stable model",
        ));
    }
    if trend == Some(Component::M) && season == Some(Component::A) {
        return Err(bad(
            "a multiplicative trend with an additive season is not a stable model",
        ));
    }
    Ok(Pattern {
        error,
        trend,
        damped: if d {
            Some(true)
        } else if trend == Some(Component::N) {
            Some(false)
        } else if t == 'Z' {
            None
        } else {
            Some(false)
        },
        season,
        multiplicative_trend: false,
    })
}

/// One ETS model, given by its code (`ANN` by default: simple exponential smoothing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ets {
    /// Season length; `None` takes the data's (12 for monthly data, ...).
    pub season_length: Option<usize>,
    /// The model: error, trend (`d` after it when damped) and season, e.g. `AAdN`, `MAM`.
    pub model: String,
}

impl Default for Ets {
    fn default() -> Self {
        Ets {
            season_length: None,
            model: "ANN".into(),
        }
    }
}

/// The ETS model with the lowest AICc among those the code allows (`ZZZ`: all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoEts {
    /// Season length; `None` takes the data's.
    pub season_length: Option<usize>,
    /// Which models to try: a code with `Z` for a component to choose (`ZZZ`, `MZZ`,
    /// `ZAdZ`, ...).
    pub model: String,
    /// Damped trend: `true` or `false` fixes it; unset tries both.
    pub damped: Option<bool>,
    /// Whether a `Z` trend also tries multiplicative trends (`MMN`, `MMdN`, `MMM`,
    /// `MMdM`); off by default, as in R's `ets()` (`allow.multiplicative.trend`) and
    /// statsforecast. A code with `M` in the trend place fits them either way.
    #[serde(default)]
    pub multiplicative_trend: bool,
}

impl Default for AutoEts {
    fn default() -> Self {
        AutoEts {
            season_length: None,
            model: "ZZZ".into(),
            damped: None,
            multiplicative_trend: false,
        }
    }
}

/// The smoothing parameters of a model (`β = 0` without trend, `γ = 0` without season,
/// `φ = 1` undamped).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Smoothing {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

/// A fitted ETS model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtsFitted {
    /// The model fitted (chosen, for `auto-ets`).
    pub spec: EtsSpec,
    /// Season length of the seasonal states (1 without season).
    pub m: usize,
    /// Level smoothing `α`.
    pub alpha: f64,
    /// Growth smoothing `β` (0 without trend).
    pub beta: f64,
    /// Seasonal smoothing `γ` (0 without season).
    pub gamma: f64,
    /// Damping `φ` (1 undamped).
    pub phi: f64,
    /// The states before the first row: level, growth (with trend), `m` seasonal values
    /// (with season; the last is the one the first row uses).
    pub initial_state: Vec<f64>,
    /// The states after the last row seen, in the same layout.
    pub state: Vec<f64>,
    /// Rows seen.
    pub nobs: usize,
    /// Log-likelihood in R's convention (see the module notes).
    pub loglik: f64,
    /// Akaike information criterion.
    pub aic: f64,
    /// AIC corrected for small samples.
    pub aicc: f64,
    /// Bayesian information criterion.
    pub bic: f64,
    /// Error variance.
    pub sigma2: f64,
    /// Mean squared one-step error on the training rows.
    pub mse: f64,
    /// Estimated parameters, the variance included.
    pub n_params: usize,
    /// For `auto-ets`: each model tried (by code) and its AICc.
    #[serde(default)]
    pub candidates: Vec<(String, f64)>,
}

/// Model, season length and parameters: what the recursion needs.
#[derive(Debug, Clone, Copy)]
struct Recursion {
    spec: EtsSpec,
    m: usize,
    par: Smoothing,
}

/// What one pass of the recursion over rows gives.
struct Pass {
    /// `n log Σ e²` plus, for multiplicative errors, `2 Σ log |ŷ|`.
    lik: f64,
    /// Sum of squared errors `e` (relative ones for multiplicative errors).
    sse: f64,
    /// Sum of squared one-step errors `y − ŷ`.
    sse_additive: f64,
}

impl Recursion {
    /// A multiplicative trend's growth over one step, `b^φ` (`b` itself undamped).
    fn damped_growth(&self, b: f64) -> f64 {
        if (self.par.phi - 1.0).abs() < TOL {
            b
        } else {
            b.powf(self.par.phi)
        }
    }

    /// The one-step forecast from `state`.
    fn one_step(&self, state: &[f64]) -> f64 {
        let l = state[0];
        let mut f = match self.spec.trend {
            Component::N => l,
            Component::A => l + self.par.phi * state[1],
            Component::M => l * self.damped_growth(state[1]),
        };
        if self.spec.has_season() {
            let s = state[state.len() - 1];
            match self.spec.season {
                Component::A => f += s,
                _ => f *= s,
            }
        }
        f
    }

    /// The state after a row with value `y`.
    fn update(&self, state: &mut [f64], y: f64) {
        let Smoothing {
            alpha,
            beta,
            gamma,
            phi,
        } = self.par;
        let trend = self.spec.has_trend();
        let l = state[0];
        let b = if trend { state[1] } else { 0.0 };
        // The growth carried into this row (`φ b`, or `b^φ` for a multiplicative trend)
        // and the level it gives.
        let (phi_b, q) = match self.spec.trend {
            Component::M => {
                let g = self.damped_growth(b);
                (g, l * g)
            }
            _ => (phi * b, l + phi * b),
        };
        let first_season = 1 + usize::from(trend);
        let p = match self.spec.season {
            Component::N => y,
            Component::A => y - state[state.len() - 1],
            Component::M => {
                let s = state[state.len() - 1];
                if s.abs() < TOL {
                    HUGE
                } else {
                    y / s
                }
            }
        };
        let new_l = q + alpha * (p - q);
        state[0] = new_l;
        if trend {
            // The growth seen in this row: the level's change, or its ratio.
            let r = match self.spec.trend {
                Component::M if l.abs() < TOL => HUGE,
                Component::M => new_l / l,
                _ => new_l - l,
            };
            state[1] = phi_b + (beta / alpha) * (r - phi_b);
        }
        if self.spec.has_season() {
            let seasons = &mut state[first_season..];
            let old = seasons[seasons.len() - 1];
            let t = match self.spec.season {
                Component::A => y - q,
                _ => {
                    if q.abs() < TOL {
                        HUGE
                    } else {
                        y / q
                    }
                }
            };
            seasons.rotate_right(1);
            seasons[0] = old + gamma * (t - old);
        }
    }

    /// Run over `y` from `state` (updated in place).
    fn run(&self, y: &[f64], state: &mut [f64]) -> Pass {
        let mut sse = 0.0;
        let mut sse_additive = 0.0;
        let mut sum_log = 0.0;
        for &v in y {
            if self.spec.trend == Component::M && state[1] < 0.0 {
                // A negative growth has no power (R's `forecast` returns its NA here).
                return Pass {
                    lik: f64::NAN,
                    sse: f64::NAN,
                    sse_additive: f64::NAN,
                };
            }
            let f = self.one_step(state);
            let e = match self.spec.error {
                Component::M => {
                    let d = if f.abs() < TOL { f + TOL } else { f };
                    (v - f) / d
                }
                _ => v - f,
            };
            sse += e * e;
            sse_additive += (v - f) * (v - f);
            let a = f.abs();
            sum_log += if a > 0.0 { a.ln() } else { (a + 1e-8).ln() };
            self.update(state, v);
        }
        let n = y.len() as f64;
        let mut lik = if sse > 0.0 {
            n * sse.ln()
        } else {
            n * (sse + 1e-8).ln()
        };
        if self.spec.error == Component::M {
            lik += 2.0 * sum_log;
        }
        Pass {
            lik,
            sse,
            sse_additive,
        }
    }
}

/// Starting values and bounds of the smoothing parameters, statsforecast's `initparam`;
/// `upper` is lowered in place for `β` and `γ` (see the module notes).
fn initial_smoothing(spec: &EtsSpec, m: usize, upper: &mut [f64; 4]) -> Smoothing {
    let (lower, mf) = (LOWER, m as f64);
    let mut alpha = lower[0] + 0.2 * (upper[0] - lower[0]) / mf;
    if !(0.0..=1.0).contains(&alpha) {
        alpha = lower[0] + 2e-3;
    }
    let mut beta = 0.0;
    if spec.has_trend() {
        upper[1] = upper[1].min(alpha);
        beta = lower[1] + 0.1 * (upper[1] - lower[1]);
        if beta < 0.0 || beta > alpha {
            beta = alpha - 1e-3;
        }
    }
    let mut gamma = 0.0;
    if spec.has_season() {
        upper[2] = upper[2].min(1.0 - alpha);
        gamma = lower[2] + 0.05 * (upper[2] - lower[2]);
        if gamma < 0.0 || gamma > 1.0 - alpha {
            gamma = 1.0 - alpha - 1e-3;
        }
    }
    let mut phi = 1.0;
    if spec.damped {
        phi = lower[3] + 0.99 * (upper[3] - lower[3]);
        if !(0.0..=1.0).contains(&phi) {
            phi = upper[3] - 1e-3;
        }
    }
    Smoothing {
        alpha,
        beta,
        gamma,
        phi,
    }
}

/// Solve the least-squares problem `min |X c − y|` for a design with few columns, by the
/// normal equations (Gaussian elimination with partial pivoting).
fn least_squares(columns: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let k = columns.len();
    let mut a = vec![vec![0.0; k + 1]; k];
    for i in 0..k {
        for j in 0..k {
            a[i][j] = columns[i].iter().zip(&columns[j]).map(|(u, v)| u * v).sum();
        }
        a[i][k] = columns[i].iter().zip(y).map(|(u, v)| u * v).sum();
    }
    for c in 0..k {
        let p = (c..k).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, p);
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, pv) in row[c..].iter_mut().zip(&pivot[c..]) {
                    *x -= f * pv;
                }
            }
        }
    }
    Some((0..k).map(|i| a[i][k] / a[i][i]).collect())
}

/// The initial states (level, growth, `m − 1` seasonal values), statsforecast's
/// `initstate`.
fn initial_states(y: &[f64], m: usize, spec: &EtsSpec) -> Result<Vec<f64>> {
    let n = y.len();
    let (seasonal_tail, adjusted, m_eff): (Vec<f64>, Vec<f64>, usize) = if spec.has_season() {
        let mult = spec.season == Component::M;
        let seasonal: Vec<f64> = if n < 3 * m {
            let t: Vec<f64> = (1..=n).map(|i| i as f64).collect();
            let w = 2.0 * std::f64::consts::PI / m as f64;
            let cols = vec![
                vec![1.0; n],
                t.clone(),
                t.iter().map(|v| (w * v).cos()).collect(),
                t.iter().map(|v| (w * v).sin()).collect(),
            ];
            let c = least_squares(&cols, y).ok_or_else(|| Error::Numerical {
                what: "the ets model".into(),
                message: "the initial seasonal fit is singular".into(),
            })?;
            y.iter()
                .zip(&t)
                .map(|(v, tt)| {
                    if mult {
                        v / (c[0] + c[1] * tt)
                    } else {
                        v - c[0] - c[1] * tt
                    }
                })
                .collect()
        } else {
            let idx = if mult {
                multiplicative_indices(y, m)
            } else {
                additive_indices(y, m)
            };
            (0..n).map(|t| idx[t % m]).collect()
        };
        let mut init: Vec<f64> = (1..m).rev().map(|i| seasonal[i]).collect();
        let adjusted: Vec<f64> = if mult {
            for v in &mut init {
                *v = v.max(1e-2);
            }
            let sum: f64 = init.iter().sum();
            if sum > m as f64 {
                let denom: f64 = init.iter().map(|v| v + 1e-2).sum();
                for v in &mut init {
                    *v /= denom;
                }
            }
            y.iter()
                .zip(&seasonal)
                .map(|(v, s)| v / s.max(1e-2))
                .collect()
        } else {
            y.iter().zip(&seasonal).map(|(v, s)| v - s).collect()
        };
        (init, adjusted, m)
    } else {
        (Vec::new(), y.to_vec(), 1)
    };
    let maxn = (2 * m_eff).max(10).min(n);
    let head = &adjusted[..maxn];
    let mut out = if spec.has_trend() {
        let t: Vec<f64> = (1..=maxn).map(|i| i as f64).collect();
        let c = least_squares(&[vec![1.0; maxn], t], head).ok_or_else(|| Error::Numerical {
            what: "the ets model".into(),
            message: "the initial trend fit is singular".into(),
        })?;
        if spec.trend == Component::M {
            multiplicative_trend_start(c[0], c[1], head)
        } else {
            let (mut l0, mut b0) = (c[0], c[1]);
            if (l0 + b0).abs() < 1e-8 {
                l0 *= 1.0 + 1e-3;
                b0 *= 1.0 - 1e-3;
            }
            vec![l0, b0]
        }
    } else {
        vec![head.iter().sum::<f64>() / maxn as f64]
    };
    out.extend(seasonal_tail);
    Ok(out)
}

/// The initial level and growth of a multiplicative trend from the least-squares line
/// `a + b t` through the first seasonally adjusted rows `head` (R's `initstate`): the
/// growth is the ratio of the line's first two fitted values, the level the first fitted
/// value divided by it; where that gives a level or growth below 10⁻⁸, the first row
/// and the ratio of the first two rows instead (each at least 10⁻³).
fn multiplicative_trend_start(a: f64, b: f64, head: &[f64]) -> Vec<f64> {
    let mut first = a + b;
    if first.abs() < 1e-8 {
        first = 1e-7;
    }
    let mut growth = (a + 2.0 * b) / first;
    let level = first / if growth.abs() < 1e-8 { 1e-8 } else { growth };
    if growth.abs() > 1e10 {
        growth = 1e10f64.copysign(growth);
    }
    if level >= 1e-8 && growth >= 1e-8 {
        return vec![level, growth];
    }
    let y0 = head[0];
    let y1 = head.get(1).copied().unwrap_or(y0);
    let div = if y0.abs() < 1e-8 { 1e-8 } else { y0 };
    vec![y0.max(1e-3), (y1 / div).max(1e-3)]
}

/// One fitted model, before it becomes an [`EtsFitted`].
struct OneFit {
    rec: Recursion,
    initial_state: Vec<f64>,
    state: Vec<f64>,
    lik: f64,
    mse: f64,
    sse: f64,
    n_estimated: usize,
}

impl OneFit {
    fn k(&self) -> usize {
        self.n_estimated + 1
    }
    fn aicc(&self, n: usize) -> f64 {
        let k = self.k() as f64;
        let nf = n as f64;
        let aic = self.lik + 2.0 * k;
        if nf - k - 1.0 == 0.0 {
            f64::INFINITY
        } else {
            aic + 2.0 * k * (k + 1.0) / (nf - k - 1.0)
        }
    }
}

/// The full state vector from the estimated initial states (the last seasonal value
/// makes the seasons sum to 0 or `m`).
fn full_state(spec: &EtsSpec, m: usize, estimated: &[f64]) -> Vec<f64> {
    let mut s = estimated.to_vec();
    if spec.has_season() {
        let first = 1 + usize::from(spec.has_trend());
        let sum: f64 = estimated[first..].iter().sum();
        let total = if spec.season == Component::M {
            m as f64
        } else {
            0.0
        };
        s.push(total - sum);
    }
    s
}

/// Fit one model on `y`; `None` when it has too many parameters for the rows.
/// `fixed_alpha` fixes `α` (a constant series).
fn fit_one(
    y: &[f64],
    m: usize,
    spec: EtsSpec,
    upper: &mut [f64; 4],
    fixed_alpha: Option<f64>,
) -> Result<Option<OneFit>> {
    let m = if spec.has_season() { m } else { 1 };
    let start = initial_smoothing(&spec, m, upper);
    let init = initial_states(y, m, &spec)?;
    let n_state = init.len();
    // The smoothing parameters searched, in statsforecast's order.
    let mut x0 = Vec::new();
    let (mut lo, mut hi) = (Vec::new(), Vec::new());
    let mut push = |v: f64, i: usize| {
        x0.push(v);
        lo.push(LOWER[i]);
        hi.push(upper[i]);
    };
    if fixed_alpha.is_none() {
        push(start.alpha, 0);
    }
    if spec.has_trend() {
        push(start.beta, 1);
    }
    if spec.has_season() {
        push(start.gamma, 2);
    }
    if spec.damped {
        push(start.phi, 3);
    }
    let n_smooth = x0.len();
    // statsforecast counts a fixed α among the parameters too (it stays in the search
    // vector, unused).
    let n_estimated = n_smooth + usize::from(fixed_alpha.is_some()) + n_state;
    if n_estimated >= y.len().saturating_sub(1) {
        return Ok(None);
    }
    x0.extend(&init);
    lo.extend(std::iter::repeat_n(f64::NEG_INFINITY, n_state));
    hi.extend(std::iter::repeat_n(f64::INFINITY, n_state));
    let unpack = |x: &[f64]| -> Recursion {
        let mut j = 0;
        let mut next = |default: f64, on: bool| {
            if on {
                j += 1;
                x[j - 1]
            } else {
                default
            }
        };
        let alpha = next(fixed_alpha.unwrap_or(start.alpha), fixed_alpha.is_none());
        let beta = next(0.0, spec.has_trend());
        let gamma = next(0.0, spec.has_season());
        let phi = next(1.0, spec.damped);
        Recursion {
            spec,
            m,
            par: Smoothing {
                alpha,
                beta,
                gamma,
                phi,
            },
        }
    };
    let objective = |x: &[f64]| -> f64 {
        let rec = unpack(x);
        let mut state = full_state(&spec, m, &x[n_smooth..]);
        if spec.season == Component::M {
            let first = 1 + usize::from(spec.has_trend());
            if state[first..].iter().any(|v| *v < 0.0) {
                return f64::INFINITY;
            }
        }
        // Not a number (a multiplicative trend's growth below zero, say) is the worst,
        // checked before the floor (`max` would turn it into the floor).
        let lik = rec.run(y, &mut state).lik;
        if lik.is_nan() {
            f64::INFINITY
        } else {
            lik.max(-1e10)
        }
    };
    let x = if fixed_alpha.is_some() && n_smooth == 0 {
        // Only the initial level is searched; the constant series' mean is its optimum.
        x0.clone()
    } else {
        nelder_mead(objective, &x0, &lo, &hi, 1e-4, 1000).0
    };
    let rec = unpack(&x);
    let initial_state = full_state(&spec, m, &x[n_smooth..]);
    let mut state = initial_state.clone();
    let pass = rec.run(y, &mut state);
    Ok(Some(OneFit {
        rec,
        initial_state,
        state,
        lik: pass.lik,
        mse: pass.sse_additive / y.len() as f64,
        sse: pass.sse,
        n_estimated,
    }))
}

fn finish(one: OneFit, n: usize, candidates: Vec<(String, f64)>) -> EtsFitted {
    let k = one.k();
    let (nf, kf) = (n as f64, k as f64);
    let aic = one.lik + 2.0 * kf;
    EtsFitted {
        spec: one.rec.spec,
        m: one.rec.m,
        alpha: one.rec.par.alpha,
        beta: one.rec.par.beta,
        gamma: one.rec.par.gamma,
        phi: one.rec.par.phi,
        initial_state: one.initial_state.clone(),
        state: one.state.clone(),
        nobs: n,
        loglik: -0.5 * one.lik,
        aic,
        aicc: one.aicc(n),
        bic: one.lik + nf.ln() * kf,
        sigma2: one.sse / (nf - kf - 1.0),
        mse: one.mse,
        n_params: k,
        candidates,
    }
}

fn check_target(what: &str, y: &[f64]) -> Result<()> {
    match y.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(Error::Numerical {
            what: what.into(),
            message: format!("target value {} at row {} is not finite", y[i], i + 1),
        }),
        None => Ok(()),
    }
}

/// Parameters counted by statsforecast's tiny-data rule for a code: two per component
/// given (not chosen), plus one for a damped trend.
fn tiny_rule_params(p: &Pattern) -> usize {
    let mut k = 2;
    if matches!(p.trend, Some(Component::A | Component::M)) {
        k += 2;
    }
    if matches!(p.season, Some(Component::A | Component::M)) {
        k += 2;
    }
    if p.damped == Some(true) {
        k += 1;
    }
    k
}

/// Fit the models `pattern` allows on `data`, keeping the lowest AICc.
fn fit_ets(
    what: &str,
    pattern: &Pattern,
    season_length: Option<usize>,
    data: &TrainingData<'_>,
    reporter: &mut dyn Reporter,
) -> Result<EtsFitted> {
    let y = data.target;
    check_target(what, y)?;
    let needed = tiny_rule_params(pattern) + 5;
    need(what, needed, y)?;
    let m_given = season_length.unwrap_or(data.season_length).max(1);
    let n = y.len();
    let mut upper = UPPER;
    if y.iter().all(|v| *v == y[0]) {
        let spec = EtsSpec {
            error: Component::A,
            trend: Component::N,
            damped: false,
            season: Component::N,
        };
        let one =
            fit_one(y, 1, spec, &mut upper, Some(0.9999))?.ok_or_else(|| Error::Numerical {
                what: what.into(),
                message: "too few rows for a model".into(),
            })?;
        report_once(reporter, one.mse);
        return Ok(finish(one, n, Vec::new()));
    }
    let seasonal_ok = m_given > 1 && n > m_given;
    let positive = y.iter().all(|v| *v > 0.0);
    let fixed = |c: Option<Component>, default: &[Component]| -> Vec<Component> {
        c.map(|c| vec![c]).unwrap_or_else(|| default.to_vec())
    };
    if let Some(s @ (Component::A | Component::M)) = pattern.season {
        if !seasonal_ok {
            return Err(Error::config(
                "model",
                format!(
                    "a seasonal model needs a season length above 1 and more rows than it (season length {m_given}, {n} rows)"
                ),
            ));
        }
        if s == Component::M && !positive {
            return Err(Error::config(
                "model",
                "a multiplicative season needs positive data",
            ));
        }
    }
    if pattern.error == Some(Component::M) && !positive {
        return Err(Error::config(
            "model",
            "a multiplicative error needs positive data",
        ));
    }
    if pattern.trend == Some(Component::M) && !positive {
        return Err(Error::config(
            "model",
            "a multiplicative trend needs positive data",
        ));
    }
    let errors = fixed(pattern.error, &[Component::A, Component::M]);
    let trends = if pattern.multiplicative_trend {
        fixed(pattern.trend, &[Component::N, Component::A, Component::M])
    } else {
        fixed(pattern.trend, &[Component::N, Component::A])
    };
    let seasons = if pattern.season.is_none() && !seasonal_ok {
        vec![Component::N]
    } else {
        fixed(pattern.season, &[Component::N, Component::A, Component::M])
    };
    let dampings = pattern
        .damped
        .map(|d| vec![d])
        .unwrap_or_else(|| vec![true, false]);
    let mut best: Option<(OneFit, f64)> = None;
    let mut candidates = Vec::new();
    for &error in &errors {
        for &trend in &trends {
            for &season in &seasons {
                for &damped in &dampings {
                    let spec = EtsSpec {
                        error,
                        trend,
                        damped,
                        season,
                    };
                    if !spec.allowed()
                        || (!positive && [error, trend, season].contains(&Component::M))
                        || (season != Component::N && !seasonal_ok)
                    {
                        continue;
                    }
                    let Some(one) = fit_one(y, m_given, spec, &mut upper, None)? else {
                        continue;
                    };
                    let ic = one.aicc(n);
                    candidates.push((spec.code(), ic));
                    if !ic.is_nan() && best.as_ref().is_none_or(|(_, b)| ic < *b) {
                        best = Some((one, ic));
                    }
                }
            }
        }
    }
    let Some((one, _)) = best.filter(|(_, ic)| ic.is_finite()) else {
        return Err(Error::Numerical {
            what: what.into(),
            message:
                "no ETS model could be fitted to this series (too few rows for every candidate)"
                    .into(),
        });
    };
    report_once(reporter, one.mse);
    let list = if candidates.len() > 1 {
        candidates
    } else {
        Vec::new()
    };
    Ok(finish(one, n, list))
}

impl ModelFacts for Ets {
    fn kind(&self) -> &'static str {
        "ets"
    }
    fn check(&self) -> Result<()> {
        check_season_length(self.season_length)?;
        parse_code("model", &self.model, false).map(|_| ())
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        parse_code("model", &self.model, false)
            .map(|p| tiny_rule_params(&p) + 5)
            .unwrap_or(11)
    }
}

impl Fit for Ets {
    type Fitted = EtsFitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<EtsFitted> {
        let pattern = parse_code("model", &config.model, false)?;
        fit_ets(
            "the ets model",
            &pattern,
            config.season_length,
            data,
            reporter,
        )
    }
}

impl AutoEts {
    fn pattern(&self) -> Result<Pattern> {
        let mut p = parse_code("model", &self.model, true)?;
        if let Some(d) = self.damped {
            if d && p.trend == Some(Component::N) {
                return Err(Error::config(
                    "damped",
                    "a damped trend needs a trend (the model code says none)",
                ));
            }
            if p.trend != Some(Component::N) {
                p.damped = Some(d);
            }
        }
        p.multiplicative_trend = self.multiplicative_trend;
        Ok(p)
    }
}

impl ModelFacts for AutoEts {
    fn kind(&self) -> &'static str {
        "auto-ets"
    }
    fn check(&self) -> Result<()> {
        check_season_length(self.season_length)?;
        self.pattern().map(|_| ())
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        self.pattern()
            .map(|p| tiny_rule_params(&p) + 5)
            .unwrap_or(7)
    }
}

impl Fit for AutoEts {
    type Fitted = EtsFitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<EtsFitted> {
        let pattern = config.pattern()?;
        fit_ets(
            "the auto-ets model",
            &pattern,
            config.season_length,
            data,
            reporter,
        )
    }
}

/// Dense row-major matrix helpers for the class 3 variance recursion.
#[derive(Clone)]
struct Mat {
    r: usize,
    c: usize,
    v: Vec<f64>,
}

impl Mat {
    fn zeros(r: usize, c: usize) -> Mat {
        Mat {
            r,
            c,
            v: vec![0.0; r * c],
        }
    }
    fn at(&self, i: usize, j: usize) -> f64 {
        self.v[i * self.c + j]
    }
    fn set(&mut self, i: usize, j: usize, x: f64) {
        self.v[i * self.c + j] = x;
    }
    fn mul(&self, o: &Mat) -> Mat {
        let mut out = Mat::zeros(self.r, o.c);
        for i in 0..self.r {
            for k in 0..self.c {
                let a = self.at(i, k);
                if a == 0.0 {
                    continue;
                }
                for j in 0..o.c {
                    out.v[i * o.c + j] += a * o.v[k * o.c + j];
                }
            }
        }
        out
    }
    fn t(&self) -> Mat {
        let mut out = Mat::zeros(self.c, self.r);
        for i in 0..self.r {
            for j in 0..self.c {
                out.set(j, i, self.at(i, j));
            }
        }
        out
    }
    fn kron(&self, o: &Mat) -> Mat {
        let mut out = Mat::zeros(self.r * o.r, self.c * o.c);
        for i in 0..self.r {
            for j in 0..self.c {
                for k in 0..o.r {
                    for l in 0..o.c {
                        out.set(i * o.r + k, j * o.c + l, self.at(i, j) * o.at(k, l));
                    }
                }
            }
        }
        out
    }
    fn add(&self, o: &Mat) -> Mat {
        Mat {
            r: self.r,
            c: self.c,
            v: self.v.iter().zip(&o.v).map(|(a, b)| a + b).collect(),
        }
    }
    fn scale(&self, s: f64) -> Mat {
        Mat {
            r: self.r,
            c: self.c,
            v: self.v.iter().map(|a| a * s).collect(),
        }
    }
    /// Quadratic form `A V Bᵀ`.
    fn sandwich(a: &Mat, v: &Mat, b: &Mat) -> Mat {
        a.mul(v).mul(&b.t())
    }
}

impl EtsFitted {
    fn recursion(&self) -> Recursion {
        Recursion {
            spec: self.spec,
            m: self.m,
            par: Smoothing {
                alpha: self.alpha,
                beta: self.beta,
                gamma: self.gamma,
                phi: self.phi,
            },
        }
    }

    /// Point forecasts: the recursion with each forecast in place of the unseen value
    /// (the state's deterministic path).
    fn point(&self, h: usize) -> Vec<f64> {
        let rec = self.recursion();
        let mut state = self.state.clone();
        (0..h)
            .map(|_| {
                let f = rec.one_step(&state);
                rec.update(&mut state, f);
                f
            })
            .collect()
    }

    /// `c_j` for `j = 1 … h` (see the module notes).
    fn c_values(&self, h: usize) -> Vec<f64> {
        let mut phi_sum = 0.0;
        (1..=h)
            .map(|j| {
                phi_sum += self.phi.powi(j as i32);
                let mut c = self.alpha;
                if self.spec.has_trend() {
                    c += self.beta * phi_sum;
                }
                if self.spec.has_season() && j % self.m == 0 {
                    c += self.gamma;
                }
                c
            })
            .collect()
    }

    /// Forecast variance per step.
    fn variances(&self, point: &[f64]) -> Vec<f64> {
        let h = point.len();
        let s2 = self.sigma2;
        match (self.spec.error, self.spec.season) {
            (Component::A, _) => {
                let c = self.c_values(h);
                let mut acc = 0.0;
                (0..h)
                    .map(|i| {
                        if i > 0 {
                            acc += c[i - 1] * c[i - 1];
                        }
                        s2 * (1.0 + acc)
                    })
                    .collect()
            }
            (Component::M, Component::M) => self.class3(h),
            _ => {
                let c = self.c_values(h);
                let mut theta = vec![0.0; h];
                for k in 0..h {
                    let sum: f64 = (0..k).map(|j| c[j] * c[j] * theta[k - 1 - j]).sum();
                    theta[k] = point[k] * point[k] + s2 * sum;
                }
                (0..h)
                    .map(|k| (1.0 + s2) * theta[k] - point[k] * point[k])
                    .collect()
            }
        }
    }

    /// Intervals from the quantiles of [`SIMULATED_PATHS`] paths of the fitted model
    /// (Gaussian errors of variance `σ²`, added or multiplied as `1 + e`; a fixed seed,
    /// so a forecast is reproducible), quantiles interpolated linearly between order
    /// statistics (R's and numpy's default): the multiplicative trend models, whose
    /// forecast distribution has no closed form (R's `forecast.ets` simulates them too).
    /// Paths whose value is not a number (a growth driven below zero) are left out.
    fn simulated_intervals(&self, h: usize, levels: &[f64]) -> Result<Vec<Interval>> {
        let probs = levels
            .iter()
            .map(|&l| level_to_prob(l))
            .collect::<Result<Vec<_>>>()?;
        let rec = self.recursion();
        let normal =
            Normal::new(0.0, self.sigma2.max(0.0).sqrt()).map_err(|e| Error::Numerical {
                what: "the ets model's simulated intervals".into(),
                message: e.to_string(),
            })?;
        let mut rng = StdRng::seed_from_u64(SIMULATION_SEED);
        let mut steps = vec![Vec::with_capacity(SIMULATED_PATHS); h];
        let mut state = self.state.clone();
        for _ in 0..SIMULATED_PATHS {
            state.copy_from_slice(&self.state);
            for step in steps.iter_mut() {
                let f = rec.one_step(&state);
                let e = normal.sample(&mut rng);
                let y = match self.spec.error {
                    Component::M => f * (1.0 + e),
                    _ => f + e,
                };
                if y.is_nan() {
                    break;
                }
                step.push(y);
                rec.update(&mut state, y);
            }
        }
        for step in &mut steps {
            step.sort_by(f64::total_cmp);
        }
        let quantile = |v: &[f64], p: f64| -> f64 {
            if v.is_empty() {
                return f64::NAN;
            }
            let pos = p * (v.len() - 1) as f64;
            let (i, frac) = (pos.floor() as usize, pos.fract());
            let next = v[(i + 1).min(v.len() - 1)];
            v[i] + frac * (next - v[i])
        };
        Ok(levels
            .iter()
            .zip(probs)
            .map(|(&level, upper)| Interval {
                level,
                lower: steps.iter().map(|v| quantile(v, 1.0 - upper)).collect(),
                upper: steps.iter().map(|v| quantile(v, upper)).collect(),
            })
            .collect())
    }

    /// R's `forecast:::class3`: multiplicative error and season.
    fn class3(&self, h: usize) -> Vec<f64> {
        let m = self.m;
        let s2 = self.sigma2;
        let trend = self.spec.has_trend();
        let k1 = 1 + usize::from(trend);
        let p = self.state.len();
        let mut h1 = Mat::zeros(1, k1);
        h1.v.fill(1.0);
        let mut h2 = Mat::zeros(1, m);
        h2.set(0, m - 1, 1.0);
        let (f1, g1) = if trend {
            let mut f1 = Mat::zeros(2, 2);
            f1.v = vec![1.0, 1.0, 0.0, if self.spec.damped { self.phi } else { 1.0 }];
            let mut g1 = Mat::zeros(2, 2);
            g1.v = vec![self.alpha, self.alpha, self.beta, self.beta];
            (f1, g1)
        } else {
            let mut f1 = Mat::zeros(1, 1);
            f1.v = vec![1.0];
            let mut g1 = Mat::zeros(1, 1);
            g1.v = vec![self.alpha];
            (f1, g1)
        };
        let mut f2 = Mat::zeros(m, m);
        f2.set(0, m - 1, 1.0);
        for i in 1..m {
            f2.set(i, i - 1, 1.0);
        }
        let mut g2 = Mat::zeros(m, m);
        g2.set(0, m - 1, self.gamma);
        // Mh = (level, growth)ᵀ (seasons): k1 × m.
        let mut mh = Mat::zeros(k1, m);
        for i in 0..k1 {
            for j in 0..m {
                mh.set(i, j, self.state[i] * self.state[p - m + j]);
            }
        }
        let d = k1 * m;
        let mut vh = Mat::zeros(d, d);
        let h21 = h2.kron(&h1);
        let f21 = f2.kron(&f1);
        let g21 = g2.kron(&g1);
        let kk = g2.kron(&f1).add(&f2.kron(&g1));
        let mut var = Vec::with_capacity(h);
        for _ in 0..h {
            let mu = h1.mul(&mh).mul(&h2.t()).v[0];
            let q = Mat::sandwich(&h21, &vh, &h21).v[0];
            var.push((1.0 + s2) * q + s2 * mu * mu);
            // vec(Mh), column-major, as the Kronecker products index it.
            let mut vec_mh = Mat::zeros(d, 1);
            for j in 0..m {
                for i in 0..k1 {
                    vec_mh.v[j * k1 + i] = mh.at(i, j);
                }
            }
            let outer = vec_mh.mul(&vec_mh.t());
            let term = Mat::sandwich(&f21, &vh, &g21)
                .add(&Mat::sandwich(&g21, &vh, &f21))
                .add(&Mat::sandwich(&kk, &vh.add(&outer), &kk))
                .add(&Mat::sandwich(&g21, &vh.scale(3.0).add(&outer.scale(2.0)), &g21).scale(s2));
            vh = Mat::sandwich(&f21, &vh, &f21).add(&term.scale(s2));
            mh = f1
                .mul(&mh)
                .mul(&f2.t())
                .add(&g1.mul(&mh).mul(&g2.t()).scale(s2));
        }
        var
    }
}

impl Predict for EtsFitted {
    fn predict(&self, h: usize, levels: &[f64], _: &[Column]) -> Result<Forecast> {
        let point = self.point(h);
        if levels.is_empty() {
            return Ok(Forecast {
                point,
                intervals: Vec::new(),
            });
        }
        if self.spec.trend == Component::M {
            let intervals = self.simulated_intervals(h, levels)?;
            return Ok(Forecast { point, intervals });
        }
        let sd: Vec<f64> = self
            .variances(&point)
            .iter()
            .map(|v| v.max(0.0).sqrt())
            .collect();
        Forecast::gaussian(point, &sd, levels)
    }

    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        let y = history.target;
        need("conditioning the ets model", 1, y)?;
        check_new_rows(history)?;
        let mut state = self.initial_state.clone();
        self.recursion().run(y, &mut state);
        Ok(EtsFitted {
            state,
            nobs: y.len(),
            ..self.clone()
        })
    }

    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        check_new_rows(rows)?;
        let mut out = self.clone();
        self.recursion().run(rows.target, &mut out.state);
        out.nobs += rows.target.len();
        Ok(out)
    }

    fn fit_stats(&self) -> Value {
        let mut v = json!({
            "model": self.spec.name(),
            "code": self.spec.code(),
            "alpha": self.alpha,
            "season_length": self.m,
            "initial_state": self.initial_state,
            "loglik": self.loglik,
            "aic": self.aic,
            "aicc": self.aicc,
            "bic": self.bic,
            "sigma2": self.sigma2,
            "mse": self.mse,
            "n_params": self.n_params,
            "nobs": self.nobs,
        });
        if self.spec.has_trend() {
            v["beta"] = json!(self.beta);
        }
        if self.spec.has_season() {
            v["gamma"] = json!(self.gamma);
        }
        if self.spec.damped {
            v["phi"] = json!(self.phi);
        }
        if !self.candidates.is_empty() {
            v["candidates"] = self
                .candidates
                .iter()
                .map(|(m, c)| (m.clone(), json!(c)))
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

    #[test]
    fn codes_parse_and_bad_ones_name_the_key() {
        let p = parse_code("model", "AAdN", false).unwrap();
        assert_eq!(
            (p.error, p.trend, p.damped, p.season),
            (
                Some(Component::A),
                Some(Component::A),
                Some(true),
                Some(Component::N)
            )
        );
        let p = parse_code("model", "ZZZ", true).unwrap();
        assert_eq!((p.error, p.trend, p.damped), (None, None, None));
        for bad in ["ZZZ", "AM", "ANM", "ANdN", "XNN", "AMN"] {
            let e = parse_code("model", bad, false).unwrap_err().to_string();
            assert!(e.contains("model") && e.contains(bad), "{e}");
        }
        let mut auto = AutoEts {
            damped: Some(true),
            model: "ANN".into(),
            ..AutoEts::default()
        };
        assert!(auto.check().unwrap_err().to_string().contains("damped"));
        auto.model = "AZN".into();
        assert!(auto.check().is_ok());
    }

    #[test]
    fn multiplicative_trends_parse_where_r_allows_them() {
        let p = parse_code("model", "MMdM", false).unwrap();
        assert_eq!(
            (p.error, p.trend, p.damped, p.season),
            (
                Some(Component::M),
                Some(Component::M),
                Some(true),
                Some(Component::M)
            )
        );
        for (bad, why) in [("AMN", "additive error"), ("MMA", "additive season")] {
            let e = parse_code("model", bad, false).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains(why), "{e}");
        }
        let y: Vec<f64> = (0..40).map(|t| t as f64 - 5.0).collect();
        let e = Ets {
            model: "MMN".into(),
            season_length: None,
        }
        .fit(&TrainingData::univariate(&y, 1), &mut Silent)
        .unwrap_err()
        .to_string();
        assert!(e.contains("positive"), "{e}");
    }

    /// A growing series compounded at 3% a step with a little multiplicative noise.
    fn compounding(n: usize) -> Vec<f64> {
        (0..n)
            .map(|t| {
                50.0 * 1.03f64.powi(t as i32) * (1.0 + 0.02 * ((t * 7 % 11) as f64 - 5.0) / 5.0)
            })
            .collect()
    }

    #[test]
    fn a_damped_multiplicative_trend_forecasts_by_its_definition() {
        let y = compounding(60);
        let f = Ets {
            model: "MMdN".into(),
            season_length: None,
        }
        .fit(&TrainingData::univariate(&y, 1), &mut Silent)
        .unwrap();
        assert!(f.beta > 0.0 && f.phi < 1.0 && f.loglik.is_finite(), "{f:?}");
        let (l, b) = (f.state[0], f.state[1]);
        assert!((b - 1.03).abs() < 0.02, "growth {b}");
        let fc = f.predict(8, &[], &[]).unwrap();
        let mut phi_sum = 0.0;
        for (k, p) in fc.point.iter().enumerate() {
            phi_sum += f.phi.powi(k as i32 + 1);
            let want = l * b.powf(phi_sum);
            assert!(
                (p - want).abs() < 1e-9 * want,
                "step {}: {p} vs {want}",
                k + 1
            );
        }
    }

    #[test]
    fn simulated_intervals_nest_around_the_forecast_and_repeat() {
        let y = compounding(60);
        let f = Ets {
            model: "MMN".into(),
            season_length: None,
        }
        .fit(&TrainingData::univariate(&y, 1), &mut Silent)
        .unwrap();
        let fc = f.predict(6, &[80.0, 95.0], &[]).unwrap();
        assert_eq!(fc, f.predict(6, &[80.0, 95.0], &[]).unwrap());
        let (i80, i95) = (&fc.intervals[0], &fc.intervals[1]);
        for k in 0..6 {
            assert!(
                i95.lower[k] < i80.lower[k] && i80.lower[k] < fc.point[k],
                "{fc:?}"
            );
            assert!(
                fc.point[k] < i80.upper[k] && i80.upper[k] < i95.upper[k],
                "{fc:?}"
            );
            if k > 0 {
                assert!(
                    i95.upper[k] - i95.lower[k] > i95.upper[k - 1] - i95.lower[k - 1],
                    "{fc:?}"
                );
            }
        }
        // One step ahead the distribution is the point times 1 + e, e ~ N(0, σ²): the
        // 95% bounds are within the simulation's sampling error of 1 ± 1.96 σ.
        let sd = f.sigma2.sqrt();
        for (bound, z) in [(i95.lower[0], -1.959964), (i95.upper[0], 1.959964)] {
            let want = fc.point[0] * (1.0 + z * sd);
            assert!(
                (bound - want).abs() < 0.1 * fc.point[0] * sd,
                "{bound} vs {want}"
            );
        }
        assert!(f.predict(2, &[100.0], &[]).is_err());
    }

    #[test]
    fn auto_ets_tries_multiplicative_trends_only_when_asked() {
        let y = compounding(60);
        let data = TrainingData::univariate(&y, 1);
        let plain = AutoEts::default().fit(&data, &mut Silent).unwrap();
        assert!(plain.candidates.iter().all(|(c, _)| !c.starts_with("MM")));
        let with = AutoEts {
            multiplicative_trend: true,
            ..AutoEts::default()
        }
        .fit(&data, &mut Silent)
        .unwrap();
        let tried: Vec<&str> = with.candidates.iter().map(|(c, _)| c.as_str()).collect();
        assert!(
            tried.contains(&"MMN") && tried.contains(&"MMdN"),
            "{tried:?}"
        );
        assert!(with.aicc <= plain.aicc, "{} vs {}", with.aicc, plain.aicc);
    }

    #[test]
    fn a_constant_series_is_its_own_forecast() {
        let y = vec![5.0; 30];
        let f = AutoEts::default()
            .fit(&TrainingData::univariate(&y, 12), &mut Silent)
            .unwrap();
        assert_eq!(f.spec.code(), "ANN");
        let fc = f.predict(3, &[95.0], &[]).unwrap();
        assert!(fc.point.iter().all(|v| (v - 5.0).abs() < 1e-9), "{fc:?}");
    }

    #[test]
    fn extend_equals_condition_on_the_longer_history() {
        let y: Vec<f64> = (0..60)
            .map(|t| 100.0 + t as f64 + 10.0 * ((t % 12) as f64 - 5.5).abs())
            .collect();
        let f = Ets {
            model: "MAdM".into(),
            season_length: Some(12),
        }
        .fit(&TrainingData::univariate(&y[..48], 12), &mut Silent)
        .unwrap();
        let a = f
            .extend(&TrainingData::univariate(&y[48..], 12))
            .unwrap()
            .predict(6, &[80.0], &[])
            .unwrap();
        let b = f
            .condition(&TrainingData::univariate(&y, 12))
            .unwrap()
            .predict(6, &[80.0], &[])
            .unwrap();
        for (x, z) in a.point.iter().zip(&b.point) {
            assert!((x - z).abs() < 1e-9 * x.abs(), "{x} vs {z}");
        }
    }

    #[test]
    fn too_few_rows_and_bad_data_are_clear_errors() {
        let e = Ets {
            model: "AAA".into(),
            season_length: Some(4),
        }
        .fit(&TrainingData::univariate(&[1.0; 8], 4), &mut Silent)
        .unwrap_err()
        .to_string();
        assert!(e.contains("11"), "{e}");
        let y: Vec<f64> = (0..30).map(|t| t as f64 - 10.0).collect();
        let e = Ets {
            model: "MNN".into(),
            season_length: None,
        }
        .fit(&TrainingData::univariate(&y, 1), &mut Silent)
        .unwrap_err()
        .to_string();
        assert!(e.contains("positive"), "{e}");
        let mut y2 = y.clone();
        y2[4] = f64::NAN;
        assert!(AutoEts::default()
            .fit(&TrainingData::univariate(&y2, 1), &mut Silent)
            .unwrap_err()
            .to_string()
            .contains("row 5"));
    }
}
