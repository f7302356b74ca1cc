//! The Kalman filter for a stationary ARMA in Harvey's state-space form, as R's
//! `stats::arima` uses it: state dimension `r = max(p, q + 1)`, transition `T` with the AR
//! coefficients in its first column and ones on the superdiagonal, disturbance loading
//! `R = (1, θ1, .., θ_{r-1})`, observation `Z = (1, 0, .., 0)`, no observation noise. The
//! state covariance is kept in units of σ² so that σ² concentrates out of the likelihood.
//!
//! The filter runs over several columns at once (the differenced target and the
//! differenced regressors): the gains depend on the model only, not on the data, so one
//! pass gives the GLS cross-products that profile the regression coefficients out
//! exactly. Once the predicted covariance reaches its steady state `RR'` (after a few
//! dozen steps for an invertible MA), the recursions drop to O(r) per step per column,
//! the switch R's filter also makes. The loop allocates nothing.

/// A stationary ARMA model in state-space form.
#[derive(Debug, Clone)]
pub struct StateSpace {
    /// State dimension.
    pub r: usize,
    /// AR coefficients padded with zeros to length `r` (first column of `T`).
    pub phi: Vec<f64>,
    /// `(1, θ1, .., θ_{r-1})`, padded with zeros.
    pub rvec: Vec<f64>,
}

impl StateSpace {
    /// The model `(1 - Σ phi_k L^k) w_t = (1 + Σ theta_k L^k) e_t`.
    pub fn new(phi: &[f64], theta: &[f64]) -> Self {
        let r = phi.len().max(theta.len() + 1);
        let mut p = vec![0.0; r];
        p[..phi.len()].copy_from_slice(phi);
        let mut rv = vec![0.0; r];
        rv[0] = 1.0;
        rv[1..=theta.len()].copy_from_slice(theta);
        StateSpace {
            r,
            phi: p,
            rvec: rv,
        }
    }

    /// `v ← T v` for a state vector.
    #[inline]
    pub fn transition(&self, v: &mut [f64]) {
        let r = self.r;
        let v0 = v[0];
        for i in 0..r - 1 {
            v[i] = self.phi[i] * v0 + v[i + 1];
        }
        v[r - 1] = self.phi[r - 1] * v0;
    }

    /// `P ← T P T' + R R'` for a symmetric row-major `r × r` matrix, in O(r²).
    #[inline]
    pub fn predict_cov(&self, p: &mut [f64], scratch: &mut [f64]) {
        let r = self.r;
        // M = T P: M[i][j] = phi_i P[0][j] + P[i+1][j]
        for i in 0..r {
            for j in 0..r {
                let below = if i + 1 < r { p[(i + 1) * r + j] } else { 0.0 };
                scratch[i * r + j] = self.phi[i] * p[j] + below;
            }
        }
        // P = M T' + RR': P[i][j] = M[i][0] phi_j + M[i][j+1] + R_i R_j
        for i in 0..r {
            let m0 = scratch[i * r];
            for j in 0..r {
                let right = if j + 1 < r {
                    scratch[i * r + j + 1]
                } else {
                    0.0
                };
                p[i * r + j] = m0 * self.phi[j] + right + self.rvec[i] * self.rvec[j];
            }
        }
    }

    /// The stationary state covariance (in σ² units), the solution of
    /// `P = T P T' + R R'`, by the doubling algorithm `P ← P + A P A'`, `A ← A²`, which
    /// sums the series `Σ T^k RR' T'^k` in O(log) steps. `None` when it does not
    /// converge (a unit root).
    pub fn stationary_cov(&self) -> Option<Vec<f64>> {
        let r = self.r;
        let mut p = vec![0.0; r * r];
        for i in 0..r {
            for j in 0..r {
                p[i * r + j] = self.rvec[i] * self.rvec[j];
            }
        }
        let mut a = vec![0.0; r * r];
        for i in 0..r {
            a[i * r] = self.phi[i];
            if i + 1 < r {
                a[i * r + i + 1] = 1.0;
            }
        }
        let mut ap = vec![0.0; r * r];
        let mut apa = vec![0.0; r * r];
        for _ in 0..200 {
            matmul(&a, &p, &mut ap, r, false);
            matmul(&ap, &a, &mut apa, r, true);
            let mut change = 0.0f64;
            let mut size = 0.0f64;
            for (x, d) in p.iter_mut().zip(&apa) {
                *x += d;
                change = change.max(d.abs());
                size = size.max(x.abs());
            }
            if !size.is_finite() {
                return None;
            }
            if change <= 1e-15 * size {
                return Some(p);
            }
            matmul(&a, &a.clone(), &mut ap, r, false);
            std::mem::swap(&mut a, &mut ap);
        }
        None
    }
}

/// `out = a b` or `out = a b'` for row-major `r × r` matrices.
fn matmul(a: &[f64], b: &[f64], out: &mut [f64], r: usize, transpose_b: bool) {
    for i in 0..r {
        for j in 0..r {
            let mut s = 0.0;
            for k in 0..r {
                let bv = if transpose_b {
                    b[j * r + k]
                } else {
                    b[k * r + j]
                };
                s += a[i * r + k] * bv;
            }
            out[i * r + j] = s;
        }
    }
}

/// What one filter pass gives.
#[derive(Debug, Clone)]
pub struct FilterOutput {
    /// Observations filtered.
    pub n: usize,
    /// `Σ log F_t` (innovation variances in σ² units).
    pub sumlog: f64,
    /// Cross-products of the standardised innovations of the columns, row-major
    /// `ncol × ncol`: `gram[i][j] = Σ_t v_it v_jt / F_t`.
    pub gram: Vec<f64>,
    /// Predicted state after the last observation, `ncol` vectors of length `r`.
    pub state: Vec<f64>,
    /// Its covariance `P_{n+1|n}` in σ² units (row-major `r × r`).
    pub cov: Vec<f64>,
}

/// Run the filter over `cols` (equal lengths, column 0 the target) from the stationary
/// initial state. `None` when the model is not stationary or an innovation variance is
/// not positive.
pub fn filter(ss: &StateSpace, cols: &[&[f64]]) -> Option<FilterOutput> {
    let r = ss.r;
    let ncol = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    let mut p = ss.stationary_cov()?;
    let mut scratch = vec![0.0; r * r];
    let mut row0 = vec![0.0; r];
    let mut a = vec![0.0; r * ncol];
    let mut v = vec![0.0; ncol];
    let mut gram = vec![0.0; ncol * ncol];
    let mut sumlog = 0.0;
    let mut t = 0;
    // Full recursions until P_{t|t-1} reaches R R'.
    while t < n {
        let f = p[0];
        // In σ² units F_t ≥ 1 (no predictor beats the innovation variance); less means
        // the recursion has lost precision (near-cancelling roots), not a better fit.
        if f.is_nan() || f <= 1.0 - 1e-7 || !f.is_finite() {
            return None;
        }
        let steady = (f - 1.0).abs() < 1e-11
            && (0..r)
                .all(|i| (0..r).all(|j| (p[i * r + j] - ss.rvec[i] * ss.rvec[j]).abs() < 1e-11));
        if steady {
            break;
        }
        for c in 0..ncol {
            v[c] = cols[c][t] - a[c * r];
        }
        sumlog += f.ln();
        for i in 0..ncol {
            for j in 0..ncol {
                gram[i * ncol + j] += v[i] * v[j] / f;
            }
        }
        for c in 0..ncol {
            let ac = &mut a[c * r..(c + 1) * r];
            let k = v[c] / f;
            for i in 0..r {
                ac[i] += p[i * r] * k;
            }
            ss.transition(ac);
        }
        // P ← P - P[:,0] P[0,:] / F in place (row 0 saved first), then predict.
        row0.copy_from_slice(&p[..r]);
        for i in 0..r {
            let pi0 = row0[i] / f;
            for j in 0..r {
                p[i * r + j] -= pi0 * row0[j];
            }
        }
        ss.predict_cov(&mut p, &mut scratch);
        t += 1;
    }
    // Steady state: F = 1, gain = R.
    while t < n {
        for c in 0..ncol {
            let ac = &mut a[c * r..(c + 1) * r];
            let vc = cols[c][t] - ac[0];
            v[c] = vc;
            for i in 0..r {
                ac[i] += ss.rvec[i] * vc;
            }
            ss.transition(ac);
        }
        if ncol == 1 {
            gram[0] += v[0] * v[0];
        } else {
            for i in 0..ncol {
                for j in 0..ncol {
                    gram[i * ncol + j] += v[i] * v[j];
                }
            }
        }
        t += 1;
    }
    Some(FilterOutput {
        n,
        sumlog,
        gram,
        state: a,
        cov: p,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stationary_cov_of_ar1_and_ma1() {
        // AR(1): var = 1 / (1 - phi^2)
        let ss = StateSpace::new(&[0.6], &[]);
        let p = ss.stationary_cov().unwrap();
        assert!((p[0] - 1.0 / (1.0 - 0.36)).abs() < 1e-12);
        // MA(1): var = 1 + theta^2, state 2 = theta e_t, cov(w, x2) = theta
        let ss = StateSpace::new(&[], &[0.4]);
        let p = ss.stationary_cov().unwrap();
        assert!(
            (p[0] - 1.16).abs() < 1e-14
                && (p[1] - 0.4).abs() < 1e-14
                && (p[3] - 0.16).abs() < 1e-14
        );
        // ARMA(1,1): gamma0 = (1 + 2 phi theta + theta^2) / (1 - phi^2)
        let (ph, th) = (0.7, -0.3);
        let ss = StateSpace::new(&[ph], &[th]);
        let p = ss.stationary_cov().unwrap();
        let g0 = (1.0 + 2.0 * ph * th + th * th) / (1.0 - ph * ph);
        assert!((p[0] - g0).abs() < 1e-12, "{} vs {g0}", p[0]);
        assert!(StateSpace::new(&[1.0], &[]).stationary_cov().is_none());
    }

    #[test]
    fn ar1_likelihood_matches_closed_form() {
        // Exact AR(1) likelihood: first obs variance 1/(1-phi^2), then innovations.
        let phi = 0.5;
        let y = [0.3, -0.2, 1.1, 0.4, -0.7, 0.05];
        let out = filter(&StateSpace::new(&[phi], &[]), &[&y]).unwrap();
        let mut ss = y[0] * y[0] * (1.0 - phi * phi);
        for t in 1..y.len() {
            ss += (y[t] - phi * y[t - 1]).powi(2);
        }
        assert!((out.gram[0] - ss).abs() < 1e-12);
        assert!((out.sumlog - (1.0 / (1.0 - phi * phi)).ln()).abs() < 1e-12);
    }
}
