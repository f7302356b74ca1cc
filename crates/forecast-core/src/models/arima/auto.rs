//! AutoARIMA: choose the orders of an [`Arima`] by an information criterion, with the
//! Hyndman–Khandakar (2008) algorithm of R's `forecast::auto.arima` as statsforecast 2.x
//! ports it (`statsforecast.arima.auto_arima_f`).
//!
//! 1. `D` by the seasonal strength heuristic and then `d` by repeated KPSS tests on the
//!    seasonally differenced series ([`unit_root`](super::unit_root)); with exogenous
//!    regressors the tests run on the residuals of an OLS regression on them.
//! 2. A constant is allowed when `d + D ≤ 1`: a mean (`d + D = 0`, `allowmean`) or a
//!    drift (`d + D = 1`, `allowdrift`); the search starts with it switched on.
//! 3. Stepwise search (default): fit ARIMA(p,d,q)(P,D,Q) with `(p,q,P,Q)` at the start
//!    values `(2,2,1,1)`, then `(0,0,0,0)`, `(1,0,1,0)` (AR), `(0,1,0,1)` (MA) and, with
//!    a constant, `(0,0,0,0)` without it; then move from the best model to the first of
//!    its neighbours that improves the criterion, in R's order — P−1, Q−1, P+1, Q+1,
//!    (P−1,Q−1), (P−1,Q+1), (P+1,Q−1), (P+1,Q+1), p−1, q−1, p+1, q+1, (p−1,q−1),
//!    (p−1,q+1), (p+1,q−1), (p+1,q+1), constant toggled — skipping models already fitted,
//!    until no neighbour improves or `nmodels` models have been fitted. With
//!    `stepwise = false`, every model with `p+q+P+Q ≤ max_order` (with and without the
//!    constant) is fitted instead.
//! 4. A candidate counts only if its fit succeeds and its AR and MA polynomials have no
//!    root of modulus below 1.01 (R's guard against near unit roots, which would make
//!    the differencing choice moot).
//!
//! Every candidate is fitted by exact maximum likelihood (our [`Arima`] fit) with one
//! L-BFGS run from the CSS start, the AR and MA parts transformed (R's default `CSS-ML`
//! runs one from CSS with the MA part free, which on the M3 monthly series forecasts
//! worse and searches slower; a plain `Arima` fit without `multi_start` runs both); the
//! chosen model is then refitted from several
//! starting points ([`Arima::multi_start`]) and the refit kept when its criterion is no
//! worse, so the reported fit reaches the better optimum where the surface has several
//! (`multi_start = true` does that for every candidate, at 2.5–5× the cost). R and
//! statsforecast use the CSS approximation during the search when the series has more
//! than 150 points or a season over 12, then refit the winner; we never approximate, so
//! the criterion values compared are the exact ones.
//!
//! Defaults (all R's `auto.arima` and statsforecast's `AutoARIMA` defaults, same names):
//! `max_p = 5`, `max_q = 5`, `max_P = 2`, `max_Q = 2`, `max_order = 5` (exhaustive search
//! only), `max_d = 2`, `max_D = 1`, `start_p = 2`, `start_q = 2`, `start_P = 1`,
//! `start_Q = 1`, `stationary = false`, `seasonal = true`, `ic = "aicc"`,
//! `stepwise = true`, `nmodels = 94`, `alpha = 0.05` (KPSS level), `allowdrift = true`,
//! `allowmean = true`. As in both, `max_p`/`max_q` are capped at `n/3` and
//! `max_P`/`max_Q` at `n/(3m)`; for seasonal data `max_p`/`max_q` at `m − 1`; series
//! of fewer than 10 points start from `(p,q,P,Q) ≤ (1,1,0,0)`; series of 3 points or
//! fewer use AIC.
//!
//! Near-unit-root guard: R checks every fitted AR / MA polynomial; statsforecast, by an
//! off-by-one in its port, skips the check when the only non-zero coefficient of the
//! full polynomial is at lag 1 (so it accepts an MA(1) with θ = −0.999 on over-differenced
//! data, e.g. its ARIMA(0,2,1) on log MSFT). `root_check = "r"` (default) applies R's
//! rule; `"statsforecast"` reproduces statsforecast's, for parity with it (the reference
//! tests compare our search with statsforecast's under its own rule). On the 1,428 M3
//! monthly series R's rule gives the better forecasts (`benches/RESULTS.md`): the
//! boundary MA(1) fits that statsforecast's rule lets through forecast straight lines.
//! With `confine_roots = true` (R's rule only) a candidate is not rejected for a
//! near-unit root: it is fitted with every root confined to modulus ≥ 1.0101 (each
//! block's partial autocorrelations through `sin`, then its roots scaled out; see
//! `params::to_coefs_in`), so the search compares the best fits the rule accepts. The
//! likelihood of an over-parameterised ARMA often peaks on the invertibility boundary;
//! rejecting such fits makes the stepwise search lose its ARIMA(2,d,2) start and settle
//! on a smaller model, where statsforecast's CSS-started fits stop inside the region.
//! R's and statsforecast's second guard, `checkarima` (reject a fit with a NaN
//! coefficient variance), is not applied: our standard errors come from a numerical
//! Hessian, which is legitimately indefinite at optima on the invertibility boundary.
//!
//! Degenerate inputs: a constant series, or one that is constant after the chosen
//! differences (a pure polynomial or seasonal pattern), is an error — R returns a
//! zero-variance "fit" there, which has no likelihood and no useful intervals; use the
//! `mean`, `naive` or `seasonal-naive` models. A series too short for any candidate is
//! an error naming the shortfall.

use super::unit_root::{diff, is_constant, ndiffs, nsdiffs};
mod search;

use super::{check_finite, model_error, Arima, ArimaFitted, Trend};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::Forecast;
use crate::models::{Checked, Fit, ModelFacts, Predict, TrainingData};
use crate::reporter::{Reporter, Silent};
use search::{fit_candidate, near_unit_root, Limits, Searcher};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Information criterion used to compare candidate models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ic {
    /// Akaike's criterion.
    Aic,
    /// Small-sample corrected AIC (default).
    Aicc,
    /// Bayesian (Schwarz) criterion.
    Bic,
}

impl Ic {
    fn of(self, fit: &ArimaFitted) -> f64 {
        match self {
            Ic::Aic => fit.aic(),
            Ic::Aicc => fit.aicc(),
            Ic::Bic => fit.bic(),
        }
    }
}

/// Which near-unit-root rule rejects a candidate (see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootCheck {
    /// statsforecast's rule: polynomials whose only non-zero coefficient is at lag 1
    /// are not checked.
    Statsforecast,
    /// R's rule: every polynomial with a non-zero coefficient is checked (default).
    R,
}

/// AutoARIMA configuration. Field names are R's / statsforecast's (`max_P` is the
/// seasonal AR limit, `D` the seasonal differences); see the module notes for the
/// defaults and their source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct AutoArima {
    /// Largest non-seasonal AR order (5).
    pub max_p: usize,
    /// Largest non-seasonal MA order (5).
    pub max_q: usize,
    /// Largest seasonal AR order (2).
    pub max_P: usize,
    /// Largest seasonal MA order (2).
    pub max_Q: usize,
    /// Largest `p + q + P + Q` in the exhaustive search (5).
    pub max_order: usize,
    /// Largest number of regular differences (2).
    pub max_d: usize,
    /// Largest number of seasonal differences (1).
    pub max_D: usize,
    /// Starting non-seasonal AR order of the stepwise search (2).
    pub start_p: usize,
    /// Starting non-seasonal MA order (2).
    pub start_q: usize,
    /// Starting seasonal AR order (1).
    pub start_P: usize,
    /// Starting seasonal MA order (1).
    pub start_Q: usize,
    /// Regular differences; `null` (default) chooses by KPSS tests.
    pub d: Option<usize>,
    /// Seasonal differences; `null` (default) chooses by the seasonal strength.
    pub D: Option<usize>,
    /// Only stationary models (`d = D = 0`).
    pub stationary: bool,
    /// Consider seasonal models (when the season length is at least 2).
    pub seasonal: bool,
    /// Season length; 0 (default) takes the data's.
    pub season_length: usize,
    /// Criterion: `aicc` (default), `aic` or `bic`.
    pub ic: Ic,
    /// Stepwise search (default) or all models up to `max_order`.
    pub stepwise: bool,
    /// Most models the stepwise search fits (94).
    pub nmodels: usize,
    /// Level of the KPSS tests (0.05; clamped to [0.01, 0.1]).
    pub alpha: f64,
    /// Allow a drift when `d + D = 1`.
    pub allowdrift: bool,
    /// Allow a mean when `d + D = 0`.
    pub allowmean: bool,
    /// Fit every candidate from several starting points (see [`Arima::multi_start`]);
    /// `false` (default) fits candidates from the CSS start, as R does, and refits only
    /// the chosen model from several starts.
    pub multi_start: bool,
    /// Near-unit-root rule (`r`, the default, or `statsforecast`).
    pub root_check: RootCheck,
    /// Under R's rule, fit every candidate inside the region the rule accepts (every
    /// root of modulus at least 1.0101) instead of rejecting a candidate whose optimum
    /// has a near-unit root (see the module notes). `false` by default: it finds models
    /// with a better criterion (on the 100 MSFT folds of `benches/RESULTS.md`, never
    /// worse than statsforecast's) but searches several times slower, since the search
    /// then goes on to larger models.
    pub confine_roots: bool,
}

impl Default for AutoArima {
    fn default() -> Self {
        AutoArima {
            max_p: 5,
            max_q: 5,
            max_P: 2,
            max_Q: 2,
            max_order: 5,
            max_d: 2,
            max_D: 1,
            start_p: 2,
            start_q: 2,
            start_P: 1,
            start_Q: 1,
            d: None,
            D: None,
            stationary: false,
            seasonal: true,
            season_length: 0,
            ic: Ic::Aicc,
            stepwise: true,
            nmodels: 94,
            alpha: 0.05,
            allowdrift: true,
            allowmean: true,
            multi_start: false,
            root_check: RootCheck::R,
            confine_roots: false,
        }
    }
}

/// One model the search fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// `[p, d, q]`.
    pub order: [usize; 3],
    /// `[P, D, Q, s]`.
    pub seasonal_order: [usize; 4],
    /// Whether it had a constant (mean or drift).
    pub constant: bool,
    /// Its criterion value; `None` when the fit failed or was rejected.
    pub ic: Option<f64>,
    /// Why it was rejected, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

/// What the search did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// Criterion used.
    pub ic: Ic,
    /// Regular differences used (chosen or given).
    pub d: usize,
    /// Seasonal differences used.
    #[serde(rename = "D")]
    pub seasonal_d: usize,
    /// Season length used (1 = non-seasonal search).
    pub season_length: usize,
    /// Stepwise or exhaustive.
    pub stepwise: bool,
    /// Every model fitted, in order.
    pub candidates: Vec<Candidate>,
}

/// A fitted [`AutoArima`]: the chosen model and the search record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoArimaFitted {
    /// The chosen model, fitted.
    pub model: ArimaFitted,
    /// How it was chosen.
    pub search: Search,
}

impl AutoArima {
    /// Check the limits once, before any data is touched.
    pub fn validate(&self) -> Result<()> {
        crate::ensure_config!(
            self.max_p <= 20 && self.max_q <= 20,
            "max_p",
            "max_p and max_q above 20 are not supported (got {}, {})",
            self.max_p,
            self.max_q
        );
        crate::ensure_config!(
            self.max_P <= 5 && self.max_Q <= 5,
            "max_P",
            "max_P and max_Q above 5 are not supported (got {}, {})",
            self.max_P,
            self.max_Q
        );
        crate::ensure_config!(
            self.max_d <= 2,
            "max_d",
            "at most 2 differences (got {})",
            self.max_d
        );
        crate::ensure_config!(
            self.max_D <= 1,
            "max_D",
            "at most 1 seasonal difference (got {})",
            self.max_D
        );
        if let Some(d) = self.d {
            crate::ensure_config!(d <= 2, "d", "at most 2 differences (got {d})");
        }
        if let Some(sd) = self.D {
            crate::ensure_config!(sd <= 1, "D", "at most 1 seasonal difference (got {sd})");
        }
        crate::ensure_config!(self.nmodels >= 1, "nmodels", "must be at least 1");
        crate::ensure_config!(
            self.alpha > 0.0 && self.alpha < 1.0,
            "alpha",
            "must be in (0, 1) (got {})",
            self.alpha
        );
        Ok(())
    }

    /// Fewest rows a search can succeed on: the white-noise model after one difference.
    pub fn min_train_rows(&self) -> usize {
        Arima {
            order: [0, 1, 0],
            constant: Some(true),
            ..Arima::default()
        }
        .min_train_rows(1)
    }
}

/// Residuals of the OLS regression of `y` on a constant and the regressors (the series
/// the differencing tests see when there are regressors).
fn regression_residuals(y: &[f64], x: &[Column]) -> Option<Vec<f64>> {
    let k = x.len() + 1;
    let col = |j: usize, t: usize| if j == 0 { 1.0 } else { x[j - 1].values[t] };
    let mut xtx = vec![0.0; k * k];
    let mut xty = vec![0.0; k];
    for t in 0..y.len() {
        for i in 0..k {
            xty[i] += col(i, t) * y[t];
            for j in 0..k {
                xtx[i * k + j] += col(i, t) * col(j, t);
            }
        }
    }
    super::likelihood::cholesky_solve(&mut xtx, &mut xty, k)?;
    Some(
        (0..y.len())
            .map(|t| y[t] - (0..k).map(|j| xty[j] * col(j, t)).sum::<f64>())
            .collect(),
    )
}

impl ModelFacts for AutoArima {
    fn kind(&self) -> &'static str {
        "auto-arima"
    }
    fn check(&self) -> Result<()> {
        self.validate()
    }
    fn min_train_rows(&self, _season_length: usize) -> usize {
        AutoArima::min_train_rows(self)
    }
}

impl Fit for AutoArima {
    type Fitted = AutoArimaFitted;

    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<AutoArimaFitted> {
        config.search(data, reporter)
    }
}

impl AutoArima {
    /// The Hyndman–Khandakar search on a checked config: check the data, choose the
    /// differences, search the orders, refit the winner with standard errors.
    #[allow(non_snake_case)]
    fn search(
        &self,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<AutoArimaFitted> {
        self.check_data(data)?;
        let n = data.target.len();
        let m = if self.seasonal {
            match self.season_length {
                0 => data.season_length,
                s => s,
            }
        } else {
            1
        }
        .max(1);
        let ic = if n <= 3 { Ic::Aic } else { self.ic };
        let (d, D) = self.differences(data, m)?;
        let limits = self.limits(n, m);
        let allowdrift = self.allowdrift && d + D == 1;
        let allowmean = self.allowmean && d + D == 0;
        let mut s = Searcher {
            config: self,
            data,
            ic,
            d,
            sd: D,
            m,
            candidates: Vec::new(),
            best: None,
            first_error: None,
            reporter,
            stopped: false,
        };
        if self.stepwise {
            s.stepwise(limits, allowdrift || allowmean, n);
        } else {
            s.exhaustive(limits, allowdrift || allowmean);
        }
        let Searcher {
            candidates,
            best,
            first_error,
            ..
        } = s;
        let Some((best_ic, model)) = best else {
            let detail = match first_error {
                Some(e) => format!(" (first failure: {e})"),
                None => " (every candidate had a root within 1.01 of the unit circle)".into(),
            };
            return Err(auto_error(format!(
                "no suitable ARIMA model found among {} candidates with d = {d}, D = {D}{detail}",
                candidates.len()
            )));
        };
        Ok(AutoArimaFitted {
            model: self.refine(data, ic, best_ic, model),
            search: Search {
                ic,
                d,
                seasonal_d: D,
                season_length: m,
                stepwise: self.stepwise,
                candidates,
            },
        })
    }

    /// Refuse data no search can model: too few rows, non-finite values, a constant
    /// target, regressors of the wrong length or constant.
    fn check_data(&self, data: &TrainingData<'_>) -> Result<()> {
        let y = data.target;
        check_finite("the target", y)?;
        let n = y.len();
        if n < self.min_train_rows() {
            return Err(Error::TooFewRows {
                what: "AutoARIMA".into(),
                needed: self.min_train_rows(),
                available: n,
            });
        }
        if is_constant(y) {
            return Err(auto_error(format!(
                "the series is constant (every value is {}), so there is nothing to model; use the mean or naive model",
                y[0]
            )));
        }
        for c in data.features {
            check_finite(&format!("regressor '{}'", c.name), &c.values)?;
            if c.values.len() != n {
                return Err(model_error(format!(
                    "regressor '{}' has {} rows, the target {n}",
                    c.name,
                    c.values.len()
                )));
            }
            if is_constant(&c.values) {
                return Err(auto_error(format!(
                    "regressor '{}' is constant; drop it (the model has its own mean / drift)",
                    c.name
                )));
            }
        }
        Ok(())
    }

    /// The order limits for `n` rows of season `m`: a third of the rows, no seasonal
    /// terms without a season, non-seasonal orders below the season length.
    fn limits(&self, n: usize, m: usize) -> Limits {
        let mut l = Limits {
            p: self.max_p.min(n / 3),
            q: self.max_q.min(n / 3),
            P: self.max_P.min(n / 3 / m),
            Q: self.max_Q.min(n / 3 / m),
        };
        if m == 1 {
            (l.P, l.Q) = (0, 0);
        } else {
            if l.p > 0 {
                l.p = l.p.min(m - 1);
            }
            if l.q > 0 {
                l.q = l.q.min(m - 1);
            }
        }
        l
    }

    /// The differences `(d, D)`: the configured ones, else the seasonal strength test
    /// (D) and the KPSS test (d) on the series (the regression residuals when there
    /// are regressors), one fewer where a difference would make a regressor vanish.
    /// An error when the differenced series is too short or constant.
    #[allow(non_snake_case)]
    fn differences(&self, data: &TrainingData<'_>, m: usize) -> Result<(usize, usize)> {
        let y = data.target;
        let n = y.len();
        let xx = if data.features.is_empty() {
            y.to_vec()
        } else {
            regression_residuals(y, data.features).ok_or_else(|| {
                auto_error("the regressors are collinear (with each other or a constant)")
            })?
        };
        let (mut d, mut D) = (self.d, self.D);
        if self.stationary {
            d = Some(0);
            D = Some(0);
        }
        let D = if m == 1 {
            0
        } else {
            match D {
                Some(v) => v,
                None if xx.len() <= 2 * m => 0,
                None => {
                    let mut v = nsdiffs(&xx, m, self.max_D);
                    if v > 0
                        && data
                            .features
                            .iter()
                            .any(|c| is_constant(&diff(&c.values, m)))
                    {
                        v -= 1;
                    }
                    v
                }
            }
        };
        let mut dx = xx;
        for _ in 0..D {
            dx = diff(&dx, m);
        }
        let d = match d {
            Some(v) => v,
            None => {
                let mut v = ndiffs(&dx, self.alpha, self.max_d);
                if v > 0 {
                    let vanishes = data.features.iter().any(|c| {
                        let mut x = c.values.clone();
                        for _ in 0..D {
                            x = diff(&x, m);
                        }
                        for _ in 0..v {
                            x = diff(&x, 1);
                        }
                        x.is_empty() || is_constant(&x)
                    });
                    if vanishes {
                        v -= 1;
                    }
                }
                v
            }
        };
        for _ in 0..d {
            dx = diff(&dx, 1);
        }
        if dx.len() < 2 {
            return Err(Error::TooFewRows {
                what: format!("AutoARIMA with d = {d}, D = {D} (season {m})"),
                needed: n + 2 - dx.len(),
                available: n,
            });
        }
        if is_constant(&dx) {
            return Err(auto_error(format!(
                "the series is constant after {d} difference(s) and {D} seasonal difference(s): it is a deterministic trend or seasonal pattern with no noise to model"
            )));
        }
        Ok((d, D))
    }

    /// The chosen model again, from several starts and with standard errors (confined
    /// as in the search, see [`search::fit_candidate`]): kept when it is no worse and the
    /// rule accepts it; else refitted as searched (unconfined: from the CSS starts), with
    /// standard errors.
    fn refine(
        &self,
        data: &TrainingData<'_>,
        ic: Ic,
        best_ic: f64,
        model: ArimaFitted,
    ) -> ArimaFitted {
        let config = |multi_start| Arima {
            order: model.order,
            seasonal_order: model.seasonal_order,
            constant: Some(model.trend != Trend::None),
            multi_start,
        };
        let (rule, confine) = (self.root_check, self.confine_roots);
        match fit_candidate(&config(true), data, true, rule, confine) {
            Ok(f) if ic.of(&f) <= best_ic && near_unit_root(&f, rule).is_none() => f,
            _ if confine => {
                fit_candidate(&config(self.multi_start), data, true, rule, true).unwrap_or(model)
            }
            _ => config(self.multi_start)
                .fit(data, &mut Silent)
                .unwrap_or(model),
        }
    }
}

fn auto_error(message: impl Into<String>) -> Error {
    Error::Model {
        model: "auto-arima".into(),
        message: message.into(),
    }
}

impl AutoArimaFitted {
    /// The chosen model's criterion value (the one the search minimised).
    pub fn ic_value(&self) -> f64 {
        self.search.ic.of(&self.model)
    }
}

impl Predict for AutoArimaFitted {
    fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
        self.model.predict(horizon, levels, future)
    }

    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        Ok(AutoArimaFitted {
            model: self.model.condition(history)?,
            search: self.search.clone(),
        })
    }

    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        Ok(AutoArimaFitted {
            model: self.model.extend(rows)?,
            search: self.search.clone(),
        })
    }

    fn fit_stats(&self) -> Value {
        let mut stats = self.model.fit_stats();
        let models: Vec<Value> = self
            .search
            .candidates
            .iter()
            .map(|c| {
                let mut v = json!({
                    "order": c.order,
                    "seasonal_order": c.seasonal_order,
                    "constant": c.constant,
                    "ic": c.ic,
                });
                if let Some(r) = &c.rejected {
                    v["rejected"] = json!(r);
                }
                v
            })
            .collect();
        if let Some(obj) = stats.as_object_mut() {
            obj.insert(
                "search".into(),
                json!({
                    "ic": self.search.ic,
                    "ic_value": self.ic_value(),
                    "d": self.search.d,
                    "D": self.search.seasonal_d,
                    "season_length": self.search.season_length,
                    "stepwise": self.search.stepwise,
                    "n_models": self.search.candidates.len(),
                    "models": models,
                }),
            );
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;

    /// Deterministic N(0,1)-like noise (LCG + Box–Muller).
    fn noise(n: usize, seed: u64) -> Vec<f64> {
        crate::models::arima::tests::lcg_normal(
            n,
            seed.wrapping_mul(6364136223846793005).wrapping_add(1),
        )
    }

    fn fit(y: &[f64], m: usize, config: AutoArima) -> Result<AutoArimaFitted> {
        config.fit(&TrainingData::univariate(y, m), &mut Silent)
    }

    #[test]
    fn white_noise_gets_a_mean_model_and_ar1_gets_found() {
        let y: Vec<f64> = noise(300, 1).iter().map(|e| 10.0 + e).collect();
        let f = fit(&y, 1, AutoArima::default()).unwrap();
        assert_eq!(f.model.order, [0, 0, 0], "{}", f.model.describe());
        assert_eq!(f.model.trend, Trend::Mean);
        let e = noise(400, 2);
        let mut ar = vec![0.0; 400];
        for t in 1..400 {
            ar[t] = 0.7 * ar[t - 1] + e[t];
        }
        let f = fit(&ar, 1, AutoArima::default()).unwrap();
        assert_eq!(f.model.order[1], 0);
        assert!(f.model.order[0] >= 1, "{}", f.model.describe());
        // The search record: the chosen model has the smallest criterion.
        let best = f
            .search
            .candidates
            .iter()
            .filter_map(|c| c.ic)
            .fold(f64::INFINITY, f64::min);
        assert!(f.ic_value() <= best + 1e-9);
        let fc = f.predict(5, &[95.0], &[]).unwrap();
        assert!(fc.point.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn exhaustive_search_visits_every_model_up_to_max_order() {
        let y: Vec<f64> = noise(120, 3).iter().map(|e| 5.0 + e).collect();
        let config = AutoArima {
            stepwise: false,
            max_p: 2,
            max_q: 2,
            max_order: 3,
            ..AutoArima::default()
        };
        let f = fit(&y, 1, config).unwrap();
        // (p, q) with p, q ≤ 2 and p + q ≤ 3: 8 pairs, each with and without a mean.
        assert_eq!(f.search.candidates.len(), 16);
        let stepwise = fit(&y, 1, AutoArima::default()).unwrap();
        assert!(f.ic_value() <= stepwise.ic_value() + 1e-9 || stepwise.model.order[0] > 2);
    }

    #[test]
    fn degenerate_series_are_clear_errors() {
        let msg = |r: Result<AutoArimaFitted>| r.map(|_| ()).unwrap_err().to_string();
        let e = msg(fit(&[4.0; 50], 1, AutoArima::default()));
        assert!(e.contains("constant"), "{e}");
        let e = msg(fit(&[1.0, 2.0, 4.0], 1, AutoArima::default()));
        assert!(e.contains("too few rows"), "{e}");
        let line: Vec<f64> = (0..40).map(|t| 3.0 * t as f64 - 2.0).collect();
        let e = msg(fit(&line, 1, AutoArima::default()));
        assert!(e.contains("constant after 1 difference"), "{e}");
        let mut gap = noise(50, 4);
        gap[10] = f64::NAN;
        let e = msg(fit(&gap, 1, AutoArima::default()));
        assert!(e.contains("row 11"), "{e}");
        // Shorter than two seasons: no seasonal difference, still a model.
        let short: Vec<f64> = noise(20, 5).iter().map(|e| 50.0 + e).collect();
        let f = fit(&short, 12, AutoArima::default()).unwrap();
        assert_eq!(f.search.seasonal_d, 0);
        let fc = f.predict(12, &[80.0, 95.0], &[]).unwrap();
        assert!(fc.point.iter().all(|v| v.is_finite()));
        // Very short series: small start, and every forecast finite or a clear error.
        for n in 6..12 {
            let y: Vec<f64> = noise(n, n as u64).iter().map(|e| 1.0 + e).collect();
            if let Ok(f) = fit(&y, 1, AutoArima::default()) {
                let fc = f.predict(3, &[95.0], &[]).unwrap();
                assert!(fc.point.iter().all(|v| v.is_finite()), "n = {n}");
            }
        }
    }

    #[test]
    fn config_keys_use_r_names() {
        let mut m = ModelConfig::from_kind("auto-arima").unwrap();
        for (k, v) in [
            ("max_P", "1"),
            ("max_Q", "0"),
            ("D", "1"),
            ("d", "null"),
            ("ic", "bic"),
            ("stepwise", "false"),
            ("root_check", "statsforecast"),
        ] {
            m.set(k, v).unwrap();
        }
        let ModelConfig::AutoArima(c) = &m else {
            panic!("kind")
        };
        assert_eq!((c.max_P, c.max_Q, c.D, c.d), (1, 0, Some(1), None));
        assert_eq!(
            (c.ic, c.stepwise, c.root_check),
            (Ic::Bic, false, RootCheck::Statsforecast)
        );
        assert!(m.set("max_d", "3").is_err());
        assert!(m.set("ic", "hqic").is_err());
        assert!(m.set("order", "1,1,1").is_err());
    }

    #[test]
    fn confined_search_keeps_the_candidate_the_rule_would_reject() {
        // White noise differenced once: the MA(1) likelihood often peaks at the unit
        // root θ = -1 (the pile-up of over-differenced series), which R's rule rejects.
        // On the first such series of a fixed sequence, the confined search fits the
        // same candidate at the edge of the region the rule accepts, and it wins over
        // ARIMA(0,1,0).
        let base = AutoArima {
            d: Some(1),
            max_p: 0,
            max_q: 1,
            seasonal: false,
            allowdrift: false,
            ..AutoArima::default()
        };
        let (y, free) = (11..41)
            .map(|seed| noise(200, seed))
            .find_map(|y| {
                let f = fit(&y, 1, base.clone()).ok()?;
                let rejected = f
                    .search
                    .candidates
                    .iter()
                    .any(|c| c.order == [0, 1, 1] && c.rejected.is_some());
                rejected.then_some((y, f))
            })
            .expect("a series whose MA(1) optimum is the unit root");
        assert_eq!(free.model.order, [0, 1, 0], "{}", free.model.describe());
        let confined = fit(
            &y,
            1,
            AutoArima {
                confine_roots: true,
                ..base
            },
        )
        .unwrap();
        assert_eq!(
            confined.model.order,
            [0, 1, 1],
            "{}",
            confined.model.describe()
        );
        assert_eq!(near_unit_root(&confined.model, RootCheck::R), None);
        let theta = confined.model.coefs[0];
        assert!((-1.0 / 1.0101 - 1e-9..-0.9).contains(&theta), "θ = {theta}");
        assert!(confined.ic_value() < free.ic_value() - 10.0);
    }

    #[test]
    fn root_check_rules() {
        let base = Arima::new(0, 1, 1)
            .fit(&TrainingData::univariate(&noise(60, 9), 1), &mut Silent)
            .unwrap();
        // An MA(1) at θ = -0.999: only R's rule looks at a lone lag-1 coefficient.
        let fitted = ArimaFitted {
            coefs: vec![-0.999],
            ..base.clone()
        };
        assert_eq!(near_unit_root(&fitted, RootCheck::Statsforecast), None);
        assert!(near_unit_root(&fitted, RootCheck::R).is_some_and(|r| r < 1.01));
        let fine = ArimaFitted {
            coefs: vec![-0.5],
            ..base
        };
        assert_eq!(near_unit_root(&fine, RootCheck::R), None);
    }
}
