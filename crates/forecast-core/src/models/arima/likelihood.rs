//! The exact Gaussian log-likelihood of a regression with seasonal ARMA errors on the
//! differenced data, with σ² (and, optionally, the regression coefficients) profiled
//! out, and the conditional sum of squares used for starting values.
//!
//! Convention (R's `stats::arima`, statsforecast): the likelihood is that of the
//! `n* = n - d - D·s` differenced observations, which equals the exact diffuse likelihood
//! of the undifferenced model; `loglik = -½ (n* log(2π σ̂²) + Σ log F_t + n*)` with
//! `σ̂² = Σ v_t² / F_t / n*`.

use super::kalman::{filter, filter_likelihood, FilterOutput, StateSpace};
use super::params::{expand, ArmaOrders};

/// The data of one fit: differenced target and regressors.
#[derive(Debug, Clone)]
pub struct Problem {
    /// ARMA orders.
    pub orders: ArmaOrders,
    /// Differenced target.
    pub w: Vec<f64>,
    /// Differenced regressors (intercept / drift / exogenous), each of `w`'s length.
    pub x: Vec<Vec<f64>>,
}

/// The likelihood at one set of ARMA coefficients.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Exact log-likelihood at the ML σ² (and GLS regression coefficients).
    pub loglik: f64,
    /// ML innovation variance.
    pub sigma2: f64,
    /// Regression coefficients (GLS given the ARMA coefficients, or as given).
    pub beta: Vec<f64>,
    /// The filter's end state for the regression-error series `w - X β` (length `r`)
    /// and its covariance in σ² units.
    pub state: Vec<f64>,
    /// Covariance of [`Evaluation::state`].
    pub cov: Vec<f64>,
}

fn loglik_from(n: usize, ssq: f64, sumlog: f64) -> Option<(f64, f64)> {
    let nf = n as f64;
    let sigma2 = ssq / nf;
    if sigma2.is_nan() || sigma2 <= 0.0 || !sigma2.is_finite() {
        return None;
    }
    let ll = -0.5 * (nf * ((2.0 * std::f64::consts::PI * sigma2).ln() + 1.0) + sumlog);
    Some((ll, sigma2))
}

impl Problem {
    /// The state-space form at coefficients `coefs` (`[ar.., ma.., sar.., sma..]`).
    pub fn state_space(&self, coefs: &[f64]) -> StateSpace {
        let (mut phi, mut theta) = (Vec::new(), Vec::new());
        expand(&self.orders, coefs, &mut phi, &mut theta);
        StateSpace::new(&phi, &theta)
    }

    /// Profile log-likelihood: σ² and the regression coefficients at their ML values
    /// given the ARMA coefficients. `None` outside the stationary region or when the
    /// innovations vanish.
    pub fn profile(&self, coefs: &[f64]) -> Option<Evaluation> {
        let ss = self.state_space(coefs);
        let mut cols: Vec<&[f64]> = Vec::with_capacity(1 + self.x.len());
        cols.push(&self.w);
        cols.extend(self.x.iter().map(|c| c.as_slice()));
        let out = filter(&ss, &cols)?;
        let k = self.x.len();
        let (beta, ssq) = gls(&out, k)?;
        let (loglik, sigma2) = loglik_from(out.n, ssq, out.sumlog)?;
        let state = combine(&out, &beta, ss.r);
        Some(Evaluation {
            loglik,
            sigma2,
            beta,
            state,
            cov: out.cov,
        })
    }

    /// [`Problem::profile`]'s log-likelihood alone, by the O(r)-per-step
    /// [`filter_likelihood`] (what the optimiser evaluates thousands of times).
    pub fn profile_loglik(&self, coefs: &[f64]) -> Option<f64> {
        let ss = self.state_space(coefs);
        let mut cols: Vec<&[f64]> = Vec::with_capacity(1 + self.x.len());
        cols.push(&self.w);
        cols.extend(self.x.iter().map(|c| c.as_slice()));
        let out = filter_likelihood(&ss, &cols)?;
        let (_, ssq) = gls(&out, self.x.len())?;
        loglik_from(out.n, ssq, out.sumlog).map(|(ll, _)| ll)
    }

    /// Log-likelihood at given ARMA and regression coefficients (σ² profiled out).
    pub fn loglik_at(&self, coefs: &[f64], beta: &[f64]) -> Option<f64> {
        let ss = self.state_space(coefs);
        let z = self.residual_series(beta);
        let out = filter(&ss, &[&z])?;
        loglik_from(out.n, out.gram[0], out.sumlog).map(|(ll, _)| ll)
    }

    /// `w - X β`.
    pub fn residual_series(&self, beta: &[f64]) -> Vec<f64> {
        let mut z = self.w.clone();
        for (col, b) in self.x.iter().zip(beta) {
            for (zt, xt) in z.iter_mut().zip(col) {
                *zt -= b * xt;
            }
        }
        z
    }

    /// Ordinary least squares of `w` on the regressors (the CSS start for β).
    pub fn ols(&self) -> Option<Vec<f64>> {
        let k = self.x.len();
        let mut xtx = vec![0.0; k * k];
        let mut xty = vec![0.0; k];
        for i in 0..k {
            xty[i] = self.x[i].iter().zip(&self.w).map(|(a, b)| a * b).sum();
            for j in 0..k {
                xtx[i * k + j] = self.x[i].iter().zip(&self.x[j]).map(|(a, b)| a * b).sum();
            }
        }
        cholesky_solve(&mut xtx, &mut xty, k)?;
        Some(xty)
    }

    /// Conditional sum of squares objective `½ log(Σ e_t² / m)`: ARMA residuals of
    /// `z = w - X β` from zero pre-sample residuals, conditioning on the first
    /// `p + P·s` values (R's `CSS`).
    pub fn css(&self, coefs: &[f64], z: &[f64], resid: &mut Vec<f64>) -> f64 {
        let (mut phi, mut theta) = (Vec::new(), Vec::new());
        expand(&self.orders, coefs, &mut phi, &mut theta);
        let n = z.len();
        let ncond = phi.len();
        resid.clear();
        resid.resize(n, 0.0);
        let mut ssq = 0.0;
        for t in ncond..n {
            let mut e = z[t];
            for (k, ph) in phi.iter().enumerate() {
                e -= ph * z[t - k - 1];
            }
            for (k, th) in theta.iter().enumerate().take(t - ncond) {
                e -= th * resid[t - k - 1];
            }
            resid[t] = e;
            ssq += e * e;
        }
        let m = (n - ncond) as f64;
        0.5 * (ssq / m).ln()
    }
}

/// GLS coefficients and residual sum of squares from the filter's cross-products.
fn gls(out: &FilterOutput, k: usize) -> Option<(Vec<f64>, f64)> {
    let ncol = k + 1;
    let yty = out.gram[0];
    if k == 0 {
        return Some((Vec::new(), yty));
    }
    let mut xtx = vec![0.0; k * k];
    let mut xty = vec![0.0; k];
    for i in 0..k {
        xty[i] = out.gram[(i + 1) * ncol];
        for j in 0..k {
            xtx[i * k + j] = out.gram[(i + 1) * ncol + j + 1];
        }
    }
    let rhs = xty.clone();
    cholesky_solve(&mut xtx, &mut xty, k)?;
    let ssq = yty - xty.iter().zip(&rhs).map(|(b, c)| b * c).sum::<f64>();
    Some((xty, ssq))
}

/// End state of `w - X β` from the per-column states.
fn combine(out: &FilterOutput, beta: &[f64], r: usize) -> Vec<f64> {
    let mut s = out.state[..r].to_vec();
    for (c, b) in beta.iter().enumerate() {
        for i in 0..r {
            s[i] -= b * out.state[(c + 1) * r + i];
        }
    }
    s
}

/// Solve `A x = b` for a symmetric positive definite `A` (row-major `k × k`, destroyed);
/// the solution replaces `b`. `None` when `A` is singular.
pub fn cholesky_solve(a: &mut [f64], b: &mut [f64], k: usize) -> Option<()> {
    let scale = (0..k).map(|i| a[i * k + i].abs()).fold(0.0f64, f64::max);
    for j in 0..k {
        let mut d = a[j * k + j];
        for m in 0..j {
            d -= a[j * k + m] * a[j * k + m];
        }
        if d.is_nan() || d <= 1e-12 * scale {
            return None;
        }
        let d = d.sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for m in 0..j {
                s -= a[i * k + m] * a[j * k + m];
            }
            a[i * k + j] = s / d;
        }
    }
    for i in 0..k {
        let mut s = b[i];
        for m in 0..i {
            s -= a[i * k + m] * b[m];
        }
        b[i] = s / a[i * k + i];
    }
    for i in (0..k).rev() {
        let mut s = b[i];
        for m in i + 1..k {
            s -= a[m * k + i] * b[m];
        }
        b[i] = s / a[i * k + i];
    }
    Some(())
}

/// Invert a symmetric positive definite matrix (row-major); `None` when singular.
pub fn spd_inverse(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; k * k];
    for col in 0..k {
        let mut m = a.to_vec();
        let mut e = vec![0.0; k];
        e[col] = 1.0;
        cholesky_solve(&mut m, &mut e, k)?;
        for row in 0..k {
            inv[row * k + col] = e[row];
        }
    }
    Some(inv)
}
