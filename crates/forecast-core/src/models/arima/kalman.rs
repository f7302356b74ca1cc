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
    /// `P = T P T' + R R'`; `None` when the AR part is not stationary.
    ///
    /// Computed directly from the autocovariances of the ARMA process: unrolling the
    /// transition, state `i` (0-based) is
    /// `α_i,t = Σ_{j=0}^{r-1-i} (φ_{i+j+1} w_{t-1-j} + θ_{i+j} ε_{t-j})`, so with
    /// `x = (w_{t-1}, .., w_{t-r}, ε_t, .., ε_{t-r+1})`, `α = M x` and `P = M Cov(x) M'`,
    /// where `Cov(x)` holds the autocovariances `γ(h)` (a `(p+1)`-square linear system,
    /// Brockwell & Davis §3.3) and the cross-covariances `E[w_s ε_u] = ψ_{s-u}` (the
    /// ψ weights). Only the non-zero coefficients enter the sums, so a seasonal model
    /// (state dimension 13–27 with a handful of non-zero coefficients) costs a few
    /// hundred operations per entry of `P`, instead of the dozens of dense `r³` products
    /// of the doubling algorithm ([`StateSpace::stationary_cov_doubling`], kept as the
    /// fallback should the linear system be singular).
    pub fn stationary_cov(&self) -> Option<Vec<f64>> {
        if !ar_is_stationary(&self.phi) {
            return None;
        }
        match self.stationary_cov_direct() {
            Some(p) => Some(p),
            None => self.stationary_cov_doubling(),
        }
    }

    /// [`StateSpace::stationary_cov`] by the autocovariances (see there); `None` when
    /// the autocovariance system is singular or the result is not a covariance.
    fn stationary_cov_direct(&self) -> Option<Vec<f64>> {
        let r = self.r;
        // ψ_0 .. ψ_{r-1}: ψ_j = θ_j + Σ_{k=1}^{j} φ_k ψ_{j-k}.
        let mut psi = vec![0.0; r];
        for j in 0..r {
            let mut v = self.rvec[j];
            for k in 1..=j {
                v += self.phi[k - 1] * psi[j - k];
            }
            psi[j] = v;
        }
        let gamma = autocovariances(&self.phi, &self.rvec, &psi)?;
        let nz_phi: Vec<usize> = (0..r).filter(|&k| self.phi[k] != 0.0).collect();
        let nz_theta: Vec<usize> = (0..r).filter(|&k| self.rvec[k] != 0.0).collect();
        // Row i of M: w-terms (lag index j = k - i for φ_{k+1}, k ≥ i) and ε-terms
        // (j = k - i for θ_k, k ≥ i), as (j, coefficient) lists.
        let terms = |nz: &[usize], coef: &[f64], i: usize| -> Vec<(usize, f64)> {
            nz.iter()
                .filter(|&&k| k >= i)
                .map(|&k| (k - i, coef[k]))
                .collect()
        };
        let aw: Vec<Vec<(usize, f64)>> = (0..r).map(|i| terms(&nz_phi, &self.phi, i)).collect();
        let ae: Vec<Vec<(usize, f64)>> = (0..r).map(|i| terms(&nz_theta, &self.rvec, i)).collect();
        // E[w_{t-1-j} ε_{t-m}] = ψ_{m-1-j} for m ≥ j + 1.
        let cross = |j: usize, m: usize| if m > j { psi[m - 1 - j] } else { 0.0 };
        let mut p = vec![0.0; r * r];
        for i in 0..r {
            for l in i..r {
                let mut s = 0.0;
                for &(j, a) in &aw[i] {
                    for &(m, b) in &aw[l] {
                        s += a * b * gamma[j.abs_diff(m)];
                    }
                    for &(m, b) in &ae[l] {
                        s += a * b * cross(j, m);
                    }
                }
                for &(j, a) in &ae[i] {
                    for &(m, b) in &aw[l] {
                        s += a * b * cross(m, j);
                    }
                    for &(m, b) in &ae[l] {
                        if m == j {
                            s += a * b;
                        }
                    }
                }
                p[i * r + l] = s;
                p[l * r + i] = s;
            }
        }
        // In σ² units the variance of w is at least 1 (that of one innovation).
        (p.iter().all(|v| v.is_finite()) && p[0] >= 1.0 - 1e-9).then_some(p)
    }

    /// [`StateSpace::stationary_cov`] by the doubling algorithm `P ← P + A P A'`,
    /// `A ← A²`, which sums the series `Σ T^k RR' T'^k` in O(log) steps. `None` when it
    /// does not converge (a unit root).
    pub fn stationary_cov_doubling(&self) -> Option<Vec<f64>> {
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

/// Whether `1 - Σ φ_k z^k` has all its roots outside the unit circle, by the step-down
/// (inverse Levinson–Durbin) recursion: stationary iff every partial autocorrelation
/// it produces is below 1 in absolute value.
fn ar_is_stationary(phi: &[f64]) -> bool {
    let Some(p) = phi.iter().rposition(|v| *v != 0.0).map(|i| i + 1) else {
        return true;
    };
    let mut a = phi[..p].to_vec();
    let mut next = vec![0.0; p];
    for k in (1..=p).rev() {
        let kappa = a[k - 1];
        if !kappa.is_finite() || kappa.abs() >= 1.0 {
            return false;
        }
        let den = 1.0 - kappa * kappa;
        for j in 1..k {
            next[j - 1] = (a[j - 1] + kappa * a[k - j - 1]) / den;
        }
        a[..k - 1].copy_from_slice(&next[..k - 1]);
    }
    true
}

/// Autocovariances `γ(0), .., γ(r-1)` (σ² = 1) of the ARMA process with AR
/// coefficients `phi` and `theta = (1, θ_1, ..)` (both of length `r`), given its ψ
/// weights: `γ(k) - Σ_j φ_j γ(|k-j|) = Σ_{j≥k} θ_j ψ_{j-k}` solved for `k ≤ p` by
/// Gaussian elimination with partial pivoting, then the recursion for `k > p`.
fn autocovariances(phi: &[f64], theta: &[f64], psi: &[f64]) -> Option<Vec<f64>> {
    let r = phi.len();
    let rhs = |k: usize| -> f64 { (k..r).map(|j| theta[j] * psi[j - k]).sum() };
    let p = phi.iter().rposition(|v| *v != 0.0).map_or(0, |i| i + 1);
    let mut gamma = vec![0.0; r.max(p + 1)];
    let m = p + 1;
    let mut a = vec![0.0; m * m];
    let mut b: Vec<f64> = (0..m).map(rhs).collect();
    for k in 0..m {
        a[k * m + k] += 1.0;
        for j in 1..=p {
            a[k * m + k.abs_diff(j)] -= phi[j - 1];
        }
    }
    for col in 0..m {
        let piv =
            (col..m).max_by(|&x, &y| a[x * m + col].abs().total_cmp(&a[y * m + col].abs()))?;
        if a[piv * m + col].abs() < 1e-300 {
            return None;
        }
        if piv != col {
            for c in 0..m {
                a.swap(piv * m + c, col * m + c);
            }
            b.swap(piv, col);
        }
        for row in col + 1..m {
            let f = a[row * m + col] / a[col * m + col];
            if f != 0.0 {
                for c in col..m {
                    a[row * m + c] -= f * a[col * m + c];
                }
                b[row] -= f * b[col];
            }
        }
    }
    for row in (0..m).rev() {
        let s: f64 = (row + 1..m).map(|c| a[row * m + c] * gamma[c]).sum();
        gamma[row] = (b[row] - s) / a[row * m + row];
    }
    for k in m..r {
        gamma[k] = rhs(k) + (1..=p).map(|j| phi[j - 1] * gamma[k - j]).sum::<f64>();
    }
    gamma.truncate(r);
    (gamma.first().is_some_and(|g| *g > 0.0) && gamma.iter().all(|g| g.is_finite()))
        .then_some(gamma)
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

/// What both filters accumulate per observation: the predicted states of the columns,
/// the cross-products of their standardised innovations and `Σ log F_t`.
struct Sums {
    r: usize,
    /// `ncol` predicted states of length `r`.
    a: Vec<f64>,
    /// Scratch: the innovations of the current observation.
    v: Vec<f64>,
    gram: Vec<f64>,
    sumlog: f64,
    /// `Σ log F_t` is accumulated as a running product, its log taken when the product
    /// grows large (one log per many steps instead of one per step; F_t ≥ 1).
    prod: f64,
}

impl Sums {
    fn new(r: usize, ncol: usize) -> Self {
        Sums {
            r,
            a: vec![0.0; r * ncol],
            v: vec![0.0; ncol],
            gram: vec![0.0; ncol * ncol],
            sumlog: 0.0,
            prod: 1.0,
        }
    }

    /// Observation `t` with innovation variance `f` and first column of the predicted
    /// covariance `p0`: the innovations, `F_t`, the cross-products, then each column's
    /// state update (gain `p0 / F_t`) and its transition.
    #[inline]
    fn absorb(&mut self, ss: &StateSpace, cols: &[&[f64]], t: usize, f: f64, p0: &[f64]) {
        let (r, ncol) = (self.r, cols.len());
        let (a, v) = (&mut self.a, &mut self.v);
        for c in 0..ncol {
            v[c] = cols[c][t] - a[c * r];
        }
        if f > 1e100 {
            self.sumlog += f.ln();
        } else {
            self.prod *= f;
            if self.prod > 1e150 {
                self.sumlog += self.prod.ln();
                self.prod = 1.0;
            }
        }
        for i in 0..ncol {
            for j in 0..ncol {
                self.gram[i * ncol + j] += v[i] * v[j] / f;
            }
        }
        for c in 0..ncol {
            let ac = &mut a[c * r..(c + 1) * r];
            let k = v[c] / f;
            for i in 0..r {
                ac[i] += p0[i] * k;
            }
            ss.transition(ac);
        }
    }

    /// The steady-state recursions from observation `t` on, then the end state, the
    /// cross-products and `Σ log F_t`.
    fn finish(mut self, ss: &StateSpace, cols: &[&[f64]], t: usize) -> (Vec<f64>, Vec<f64>, f64) {
        steady_state(ss, cols, t, &mut self.a, &mut self.gram);
        (self.a, self.gram, self.sumlog + self.prod.ln())
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

/// The innovation variance `F_t` (σ² units), or `None` when it is not a finite value of
/// at least 1 (to 1e-7): no predictor beats the innovation variance, so less means the
/// recursion has lost precision (near-cancelling roots), not a better fit.
#[inline]
fn innovation_variance(f: f64) -> Option<f64> {
    (f.is_finite() && f > 1.0 - 1e-7).then_some(f)
}

/// Run the filter over `cols` (equal lengths, column 0 the target) from the stationary
/// initial state. `None` when the model is not stationary or an innovation variance is
/// not positive.
pub fn filter(ss: &StateSpace, cols: &[&[f64]]) -> Option<FilterOutput> {
    let r = ss.r;
    let ncol = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    let mut p = ss.stationary_cov()?;
    let mut row0 = vec![0.0; r];
    let mut sums = Sums::new(r, ncol);
    let mut t = 0;
    // Full recursions until P_{t|t-1} reaches R R'. Only the upper triangle of P is
    // kept up to date inside the loop (P is symmetric; the gain uses row 0, which equals
    // column 0); the lower triangle is filled once at the end.
    while t < n {
        let f = innovation_variance(p[0])?;
        let steady = (f - 1.0).abs() < 1e-11
            && (0..r)
                .all(|i| (i..r).all(|j| (p[i * r + j] - ss.rvec[i] * ss.rvec[j]).abs() < 1e-11));
        if steady {
            break;
        }
        sums.absorb(ss, cols, t, f, &p[..r]);
        // Update and predict in one pass: the filtered covariance
        // M = P - P[:,0] P[0,:] / F has a zero first row and column (the first state
        // is observed without noise), and on such a matrix T acts as a shift (its AR
        // column meets only zeros), so T M T' + RR' = M shifted up-left by one, plus
        // RR': P'[i][j] = P[i+1][j+1] - P[i+1][0] P[0][j+1] / F + R_i R_j, zero-padded.
        // In place, row by row (row i+1 is read before it is written); symmetric.
        row0.copy_from_slice(&p[..r]);
        for i in 0..r - 1 {
            let pi = row0[i + 1] / f;
            let ri = ss.rvec[i];
            for j in i..r - 1 {
                let v = p[(i + 1) * r + j + 1] - pi * row0[j + 1] + ri * ss.rvec[j];
                p[i * r + j] = v;
            }
        }
        let last = r - 1;
        for j in 0..r {
            p[j * r + last] = ss.rvec[last] * ss.rvec[j];
        }
        t += 1;
    }
    for i in 0..r {
        for j in 0..i {
            p[i * r + j] = p[j * r + i];
        }
    }
    let (a, gram, sumlog) = sums.finish(ss, cols, t);
    Some(FilterOutput {
        n,
        sumlog,
        gram,
        state: a,
        cov: p,
    })
}

/// One step of [`filter`] from a stored predicted state: absorb the observation `w` into
/// `a` (`a_{t|t-1}`, length `r`) and `p` (`P_{t|t-1}`, full symmetric row-major `r × r`,
/// σ² units), leaving `a_{t+1|t}` and `P_{t+1|t}`: the same update as the filter's loop,
/// O(r²). `None` (and nothing changed) when the innovation variance is not valid.
pub fn step(ss: &StateSpace, a: &mut [f64], p: &mut [f64], w: f64) -> Option<()> {
    let r = ss.r;
    if a.len() != r || p.len() != r * r || !w.is_finite() {
        return None;
    }
    let f = innovation_variance(p[0])?;
    let v = w - a[0];
    for i in 0..r {
        a[i] += p[i] * v / f;
    }
    ss.transition(a);
    // P' = T (P - P e1 e1' P / F) T' + R R', by the shift the filter's loop uses.
    let row0: Vec<f64> = p[..r].to_vec();
    for i in 0..r - 1 {
        let pi = row0[i + 1] / f;
        for j in i..r - 1 {
            p[i * r + j] = p[(i + 1) * r + j + 1] - pi * row0[j + 1] + ss.rvec[i] * ss.rvec[j];
        }
    }
    let last = r - 1;
    for j in 0..r {
        p[j * r + last] = ss.rvec[last] * ss.rvec[j];
    }
    for i in 0..r {
        for j in 0..i {
            p[i * r + j] = p[j * r + i];
        }
    }
    Some(())
}

/// The filter's steady state from step `t` on: `F = 1`, gain `R`, O(r) per step per
/// column; updates the states `a` and the cross-products `gram`.
fn steady_state(ss: &StateSpace, cols: &[&[f64]], t: usize, a: &mut [f64], gram: &mut [f64]) {
    let r = ss.r;
    let ncol = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    let mut v = vec![0.0; ncol];
    for t in t..n {
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
    }
}

/// [`filter`] for the likelihood only: the same innovations, `Σ log F_t` and
/// cross-products (and the end state), in O(r) per step per column instead of O(r²),
/// by the Chandrasekhar recursions (Morf, Sidhu & Kailath 1974) for a time-invariant
/// model. From the stationary start the covariance changes by a rank-one matrix each
/// step, `P_{t+1} − P_t = m_t u_t u_tᵀ`, with `u_1 = T P_1 e_1`, `m_1 = −1/F_1` and
/// `u_{t+1} = T (u_t − u_{t,0} P_t e_1 / F_t)`, `m_{t+1} = m_t F_t / F_{t+1}`,
/// `P_{t+1} e_1 = P_t e_1 + m_t u_{t,0} u_t`; only the first column of `P_t` (the gain
/// and `F_t`) is carried. Once `P_t e_1` is `R` and the change is negligible (the
/// same 1e-11 as [`filter`]'s switch), the steady-state recursions take over. The
/// covariance itself is not carried: the returned [`FilterOutput::cov`] is empty (use
/// [`filter`] where it is needed).
pub fn filter_likelihood(ss: &StateSpace, cols: &[&[f64]]) -> Option<FilterOutput> {
    let r = ss.r;
    let ncol = cols.len();
    let n = cols.first().map_or(0, |c| c.len());
    let sigma = ss.stationary_cov()?;
    let mut p: Vec<f64> = sigma[..r].to_vec();
    let mut u = p.clone();
    ss.transition(&mut u);
    let mut m = -1.0 / p[0];
    let mut sums = Sums::new(r, ncol);
    let mut t = 0;
    while t < n {
        let f = innovation_variance(p[0])?;
        if (f - 1.0).abs() < 1e-11
            && (0..r).all(|i| (p[i] - ss.rvec[i]).abs() < 1e-11 && (m * u[i] * u[i]).abs() < 1e-11)
        {
            break;
        }
        sums.absorb(ss, cols, t, f, &p[..r]);
        let u0 = u[0];
        let f_next = f + m * u0 * u0;
        let s = u0 / f;
        let mu0 = m * u0;
        for i in 0..r {
            let ui = u[i];
            u[i] = ui - s * p[i];
            p[i] += mu0 * ui;
        }
        ss.transition(&mut u);
        // A non-positive F_{t+1} is caught at the top of the next step.
        m = if f_next > 0.0 { m * f / f_next } else { 0.0 };
        t += 1;
    }
    let (a, gram, sumlog) = sums.finish(ss, cols, t);
    Some(FilterOutput {
        n,
        sumlog,
        gram,
        state: a,
        cov: Vec::new(),
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

    /// The direct (autocovariance) stationary covariance against the doubling
    /// algorithm, an independent computation of the same series `Σ T^k RR' T'^k`, on
    /// non-seasonal, seasonal (expanded multiplicative polynomials) and near-unit-root
    /// models. Tolerance 1e-9 relative to the largest entry: both are exact up to
    /// rounding, and the doubling sums up to 2^k terms.
    #[test]
    fn stationary_cov_direct_matches_doubling() {
        let seasonal = |phi: &[f64], sphi: &[f64], s: usize| -> Vec<f64> {
            // (1 - Σ φ_i L^i)(1 - Σ Φ_j L^{js}) as `1 - Σ c_k L^k`.
            let mut poly = vec![0.0; phi.len() + sphi.len() * s + 1];
            let a: Vec<f64> = std::iter::once(1.0).chain(phi.iter().map(|v| -v)).collect();
            let mut b = vec![0.0; sphi.len() * s + 1];
            b[0] = 1.0;
            for (j, v) in sphi.iter().enumerate() {
                b[(j + 1) * s] = -v;
            }
            for (i, x) in a.iter().enumerate() {
                for (j, y) in b.iter().enumerate() {
                    poly[i + j] += x * y;
                }
            }
            poly[1..].iter().map(|v| -v).collect()
        };
        let ma_seasonal = |theta: &[f64], stheta: &[f64], s: usize| -> Vec<f64> {
            let neg: Vec<f64> = theta.iter().map(|v| -v).collect();
            let sneg: Vec<f64> = stheta.iter().map(|v| -v).collect();
            seasonal(&neg, &sneg, s).iter().map(|v| -v).collect()
        };
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (vec![0.6], vec![]),
            (vec![], vec![0.4, -0.3]),
            (vec![0.5, -0.3], vec![0.4]),
            (vec![1.2, -0.5], vec![-0.8, 0.3, 0.1]),
            // msft ARIMA(2,1,2)-like: complex AR roots of modulus ~0.996, near-cancelling MA
            (vec![1.68, -0.7578], vec![-1.715, 0.7987]),
            (vec![0.999], vec![-0.5]),
            (
                seasonal(&[0.3], &[0.5], 12),
                ma_seasonal(&[-0.4], &[-0.6], 12),
            ),
            (
                seasonal(&[0.5, 0.2], &[0.4, -0.3], 12),
                ma_seasonal(&[0.3, 0.1], &[-0.5, 0.2], 12),
            ),
            (seasonal(&[], &[0.9], 4), ma_seasonal(&[0.5], &[], 4)),
            (vec![], ma_seasonal(&[-0.7], &[-0.9], 12)),
        ];
        for (phi, theta) in cases {
            let ss = StateSpace::new(&phi, &theta);
            let direct = ss.stationary_cov().unwrap();
            let doubling = ss.stationary_cov_doubling().unwrap();
            let scale = doubling.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err = direct
                .iter()
                .zip(&doubling)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= 1e-9 * scale,
                "phi {phi:?} theta {theta:?}: max difference {err:e} (scale {scale})"
            );
        }
        // Not stationary: a unit root, an explosive AR(2), a seasonal unit root.
        for phi in [vec![1.0], vec![0.5, 0.6], seasonal(&[0.2], &[1.0], 4)] {
            assert!(
                StateSpace::new(&phi, &[0.3]).stationary_cov().is_none(),
                "{phi:?}"
            );
        }
    }

    /// The Chandrasekhar filter against the full-covariance filter (an independent
    /// recursion for the same quantities) on non-seasonal and seasonal models, one and
    /// two columns, 300 observations of a deterministic pseudo-random series: `Σ log F`,
    /// the cross-products and the end state to 1e-9 relative (rounding only).
    #[test]
    fn chandrasekhar_filter_matches_full_filter() {
        let mut x = 0.3f64;
        let w: Vec<f64> = (0..300)
            .map(|t| {
                x = (x * 3.7 * (1.0 - x)).clamp(0.01, 0.99);
                x - 0.5 + 0.1 * (t as f64 * 0.5).sin()
            })
            .collect();
        let ones = vec![1.0; w.len()];
        let mut seasonal_ma = vec![0.0; 13];
        seasonal_ma[0] = -0.4;
        seasonal_ma[11] = -0.6;
        seasonal_ma[12] = 0.24;
        let mut seasonal_ar = vec![0.0; 12];
        seasonal_ar[0] = 0.3;
        seasonal_ar[11] = 0.5;
        let cases: Vec<(Vec<f64>, Vec<f64>)> = vec![
            (vec![0.6], vec![]),
            (vec![], vec![0.4, -0.3]),
            (vec![0.684], vec![-0.703]),
            (vec![1.68, -0.7578], vec![-1.715, 0.7987]),
            (vec![], vec![-0.98]),
            (vec![], seasonal_ma.clone()),
            (seasonal_ar, seasonal_ma),
        ];
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        for (phi, theta) in cases {
            let ss = StateSpace::new(&phi, &theta);
            for cols in [vec![w.as_slice()], vec![w.as_slice(), ones.as_slice()]] {
                let full = filter(&ss, &cols).unwrap();
                let fast = filter_likelihood(&ss, &cols).unwrap();
                assert!(
                    close(full.sumlog, fast.sumlog),
                    "{phi:?} {theta:?} sumlog {} vs {}",
                    full.sumlog,
                    fast.sumlog
                );
                for (a, b) in full.gram.iter().zip(&fast.gram) {
                    assert!(close(*a, *b), "{phi:?} {theta:?} gram {a} vs {b}");
                }
                for (a, b) in full.state.iter().zip(&fast.state) {
                    assert!(close(*a, *b), "{phi:?} {theta:?} state {a} vs {b}");
                }
            }
        }
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
