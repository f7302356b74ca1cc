//! The order search of [`AutoArima`](super::AutoArima): the candidates' record, the
//! exhaustive search and R's stepwise search, and the near-unit-root rule that rejects
//! candidates.

use super::{AutoArima, Candidate, Ic, RootCheck};
use crate::error::Error;
use crate::models::arima::{params, roots, Arima, ArimaFitted, Starts};
use crate::models::TrainingData;
use crate::reporter::{Decision, EpochReport, Reporter, Silent};

/// The state of a search: the data, the fixed parts of every candidate, the record.
pub(super) struct Searcher<'a, 'r> {
    pub(super) config: &'a AutoArima,
    pub(super) data: &'a TrainingData<'a>,
    pub(super) ic: Ic,
    pub(super) d: usize,
    pub(super) sd: usize,
    pub(super) m: usize,
    pub(super) candidates: Vec<Candidate>,
    pub(super) best: Option<(f64, ArimaFitted)>,
    pub(super) first_error: Option<Error>,
    pub(super) reporter: &'r mut dyn Reporter,
    pub(super) stopped: bool,
}

impl Searcher<'_, '_> {
    fn seen(&self, p: usize, q: usize, sp: usize, sq: usize, constant: bool) -> bool {
        self.candidates.iter().any(|c| {
            c.order == [p, self.d, q]
                && c.seasonal_order[0] == sp
                && c.seasonal_order[2] == sq
                && c.constant == constant
        })
    }

    /// Fit one candidate and record it; its criterion value, infinite when the fit
    /// failed or was rejected.
    fn try_model(&mut self, p: usize, q: usize, sp: usize, sq: usize, constant: bool) -> f64 {
        let seasonal_order = if self.m > 1 {
            [sp, self.sd, sq, self.m]
        } else {
            [0, 0, 0, 0]
        };
        let config = Arima {
            order: [p, self.d, q],
            seasonal_order,
            constant: Some(constant),
            multi_start: self.config.multi_start,
        };
        let fitted = fit_candidate(
            &config,
            self.data,
            false,
            self.config.root_check,
            self.config.confine_roots,
        );
        let (ic, rejected, fit) = match fitted {
            Ok(fit) => {
                let ic = self.ic.of(&fit);
                if !ic.is_finite() {
                    (None, Some("criterion undefined".to_string()), None)
                } else if let Some(r) = near_unit_root(&fit, self.config.root_check) {
                    (None, Some(format!("root of modulus {r:.4} < 1.01")), None)
                } else {
                    (Some(ic), None, Some(fit))
                }
            }
            Err(e) => {
                let msg = e.to_string();
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
                (None, Some(msg), None)
            }
        };
        self.candidates.push(Candidate {
            order: [p, self.d, q],
            seasonal_order: [sp, self.sd, sq, self.m],
            constant,
            ic,
            rejected,
        });
        if let (Some(v), Some(fit)) = (ic, fit) {
            if self.best.as_ref().is_none_or(|(b, _)| v < *b) {
                self.best = Some((v, fit));
            }
        }
        if let Some((b, _)) = &self.best {
            let decision = self.reporter.report(&EpochReport {
                epoch: self.candidates.len(),
                max_epochs: None,
                train_loss: *b,
                valid_loss: None,
                extra: vec![("models".into(), self.candidates.len() as f64)],
            });
            if decision == Decision::Stop {
                self.stopped = true;
            }
        }
        ic.unwrap_or(f64::INFINITY)
    }
}

/// Modulus beyond which a constrained refit keeps every root: just above the 1.01 of
/// the near-unit-root rule, so that a fit on the edge of the region passes it.
pub(super) const ROOT_MARGIN: f64 = 1.0101;

/// Fit one candidate of a search: one L-BFGS run from the search start
/// ([`Starts::Search`]; every start of [`Starts::Multi`] with `multi_start`). With
/// `confine` under R's rule, the coefficients are confined to the region the rule
/// accepts, every root beyond [`ROOT_MARGIN`], so the fit is the best model the rule
/// lets through (see the module notes of [`super`]); otherwise the fit is unconstrained
/// and a near-unit root rejects the candidate.
pub(super) fn fit_candidate(
    config: &Arima,
    data: &TrainingData<'_>,
    with_standard_errors: bool,
    rule: RootCheck,
    confine: bool,
) -> Result<ArimaFitted, Error> {
    let starts = if config.multi_start {
        Starts::Multi
    } else {
        Starts::Search
    };
    let margin = if confine && rule == RootCheck::R {
        ROOT_MARGIN
    } else {
        1.0
    };
    config.fit_with(data, &mut Silent, with_standard_errors, starts, margin)
}

/// The smallest root modulus below 1.01 of the candidate's full AR or MA polynomial,
/// if any (the polynomials are truncated after their last coefficient above 1e-8 in
/// magnitude, as R and statsforecast do).
pub(super) fn near_unit_root(fit: &ArimaFitted, rule: RootCheck) -> Option<f64> {
    let (mut phi, mut theta) = (Vec::new(), Vec::new());
    params::expand(&fit.orders().arma, &fit.coefs, &mut phi, &mut theta);
    let mut min_root = f64::INFINITY;
    for (coefs, sign) in [(&phi, -1.0), (&theta, 1.0)] {
        let Some(last) = coefs.iter().rposition(|c| c.abs() > 1e-8) else {
            continue;
        };
        if rule == RootCheck::Statsforecast && last == 0 {
            continue;
        }
        let mut poly = vec![1.0];
        poly.extend(coefs[..=last].iter().map(|c| sign * c));
        if let Some(r) = roots::min_root_modulus(&poly) {
            min_root = min_root.min(r);
        }
    }
    (min_root < 1.01).then_some(min_root)
}

/// Upper limits of the orders a search visits.
#[allow(non_snake_case)]
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) p: usize,
    pub(super) q: usize,
    pub(super) P: usize,
    pub(super) Q: usize,
}

/// Neighbour moves of the stepwise search, `(dp, dq, dP, dQ)` in R's order.
const MOVES: [(i32, i32, i32, i32); 16] = [
    (0, 0, -1, 0),
    (0, 0, 0, -1),
    (0, 0, 1, 0),
    (0, 0, 0, 1),
    (0, 0, -1, -1),
    (0, 0, -1, 1),
    (0, 0, 1, -1),
    (0, 0, 1, 1),
    (-1, 0, 0, 0),
    (0, -1, 0, 0),
    (1, 0, 0, 0),
    (0, 1, 0, 0),
    (-1, -1, 0, 0),
    (-1, 1, 0, 0),
    (1, -1, 0, 0),
    (1, 1, 0, 0),
];

/// `v + dv` when it stays within `0..=max`.
fn step(v: usize, dv: i32, max: usize) -> Option<usize> {
    let w = v as i64 + dv as i64;
    (w >= 0 && w as usize <= max).then_some(w as usize)
}

impl Searcher<'_, '_> {
    /// Every order within the limits and `max_order`, with and (when `toggle`) without
    /// the constant.
    pub(super) fn exhaustive(&mut self, l: Limits, toggle: bool) {
        let max_k = usize::from(toggle);
        for p in 0..=l.p {
            for q in 0..=l.q {
                for sp in 0..=l.P {
                    for sq in 0..=l.Q {
                        if p + q + sp + sq > self.config.max_order {
                            continue;
                        }
                        for k in 0..=max_k {
                            self.try_model(p, q, sp, sq, k == 1);
                            if self.stopped {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// The stepwise search: the initial models in R's order, then neighbour moves from
    /// the best so far (and the constant toggled, when `toggle`) until no move improves
    /// or `nmodels` were fitted. `n` is the number of rows (short series start lower).
    #[allow(non_snake_case)]
    pub(super) fn stepwise(&mut self, l: Limits, toggle: bool, n: usize) {
        let c = self.config;
        let (start_p, start_q, start_P, start_Q) = if n < 10 {
            (c.start_p.min(1), c.start_q.min(1), 0, 0)
        } else {
            (c.start_p, c.start_q, c.start_P, c.start_Q)
        };
        let mut constant = toggle;
        let mut p = start_p.min(l.p);
        let mut q = start_q.min(l.q);
        let mut P = start_P.min(l.P);
        let mut Q = start_Q.min(l.Q);
        let nmodels = c.nmodels;
        let m = self.m;
        // The four (five) initial models, in R's order.
        let mut best = self.try_model(p, q, P, Q, constant);
        let mut initial = vec![(0, 0, 0, 0, constant)];
        if l.p > 0 || l.P > 0 {
            initial.push((
                usize::from(l.p > 0),
                0,
                usize::from(m > 1 && l.P > 0),
                0,
                constant,
            ));
        }
        if l.q > 0 || l.Q > 0 {
            initial.push((
                0,
                usize::from(l.q > 0),
                0,
                usize::from(m > 1 && l.Q > 0),
                constant,
            ));
        }
        if constant {
            initial.push((0, 0, 0, 0, false));
        }
        for (ip, iq, iP, iQ, ic) in initial {
            if self.stopped || self.candidates.len() >= nmodels {
                break;
            }
            let v = self.try_model(ip, iq, iP, iQ, ic);
            if v < best {
                best = v;
                (p, q, P, Q) = (ip, iq, iP, iQ);
            }
        }
        let mut startk = 0;
        'search: while startk < self.candidates.len() && self.candidates.len() < nmodels {
            startk = self.candidates.len();
            for (dp, dq, dP, dQ) in MOVES {
                let (Some(np), Some(nq), Some(nP), Some(nQ)) = (
                    step(p, dp, l.p),
                    step(q, dq, l.q),
                    step(P, dP, l.P),
                    step(Q, dQ, l.Q),
                ) else {
                    continue;
                };
                if self.seen(np, nq, nP, nQ, constant) {
                    continue;
                }
                if self.candidates.len() >= nmodels || self.stopped {
                    break 'search;
                }
                let v = self.try_model(np, nq, nP, nQ, constant);
                if v < best {
                    best = v;
                    (p, q, P, Q) = (np, nq, nP, nQ);
                    continue 'search;
                }
            }
            if toggle && !self.seen(p, q, P, Q, !constant) {
                if self.candidates.len() >= nmodels || self.stopped {
                    break 'search;
                }
                let v = self.try_model(p, q, P, Q, !constant);
                if v < best {
                    best = v;
                    constant = !constant;
                    continue 'search;
                }
            }
        }
    }
}
