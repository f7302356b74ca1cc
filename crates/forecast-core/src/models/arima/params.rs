//! ARMA coefficients: the seasonal / non-seasonal blocks, their product polynomials, and
//! the unconstrained parameterisation that keeps AR parts stationary and MA parts
//! invertible during optimisation.
//!
//! The transform is R's `stats::arima` one (Jones 1980, as in `partrans`): each block's
//! unconstrained values go through `tanh` to partial autocorrelations in (-1, 1), then
//! the Durbin–Levinson recursion turns them into the coefficients of a stationary
//! polynomial. R applies it to AR blocks only; we also apply it to MA blocks (with the
//! sign flip below), as statsmodels' `enforce_invertibility` does, so every candidate
//! the optimiser visits is invertible and the MLE is the invertible representative.

/// Orders of a seasonal ARMA, after differencing: `(p, q)` and `(P, Q)` at season `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmaOrders {
    /// Non-seasonal AR order.
    pub p: usize,
    /// Non-seasonal MA order.
    pub q: usize,
    /// Seasonal AR order.
    pub sp: usize,
    /// Seasonal MA order.
    pub sq: usize,
    /// Season length (1 when there is no seasonal part).
    pub s: usize,
}

impl ArmaOrders {
    /// Number of ARMA coefficients.
    pub fn len(&self) -> usize {
        self.p + self.q + self.sp + self.sq
    }

    /// Whether the model has no ARMA coefficients (white noise).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Degree of the full AR polynomial `phi(L) Phi(L^s)`.
    pub fn full_ar(&self) -> usize {
        self.p + self.sp * self.s
    }

    /// Degree of the full MA polynomial `theta(L) Theta(L^s)`.
    pub fn full_ma(&self) -> usize {
        self.q + self.sq * self.s
    }

    /// Coefficient names in the order of the parameter vector (statsforecast / R naming).
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::with_capacity(self.len());
        v.extend((1..=self.p).map(|i| format!("ar{i}")));
        v.extend((1..=self.q).map(|i| format!("ma{i}")));
        v.extend((1..=self.sp).map(|i| format!("sar{i}")));
        v.extend((1..=self.sq).map(|i| format!("sma{i}")));
        v
    }

    /// The blocks of the parameter vector as `(start, len, is_ma)`.
    fn blocks(&self) -> [(usize, usize, bool); 4] {
        [
            (0, self.p, false),
            (self.p, self.q, true),
            (self.p + self.q, self.sp, false),
            (self.p + self.q + self.sp, self.sq, true),
        ]
    }
}

/// Multiply out `phi(L) Phi(L^s)` and `theta(L) Theta(L^s)` from a parameter vector
/// `[ar.., ma.., sar.., sma..]`, writing the full AR coefficients (`1 - Σ phi_k L^k`)
/// and MA coefficients (`1 + Σ theta_k L^k`).
pub fn expand(o: &ArmaOrders, par: &[f64], phi: &mut Vec<f64>, theta: &mut Vec<f64>) {
    let (ar, rest) = par.split_at(o.p);
    let (ma, rest) = rest.split_at(o.q);
    let (sar, sma) = rest.split_at(o.sp);
    phi.clear();
    phi.resize(o.full_ar(), 0.0);
    theta.clear();
    theta.resize(o.full_ma(), 0.0);
    phi[..o.p].copy_from_slice(ar);
    theta[..o.q].copy_from_slice(ma);
    for (j, &big) in sar.iter().enumerate() {
        let lag = (j + 1) * o.s;
        phi[lag - 1] += big;
        for (i, &small) in ar.iter().enumerate() {
            phi[lag + i] -= small * big;
        }
    }
    for (j, &big) in sma.iter().enumerate() {
        let lag = (j + 1) * o.s;
        theta[lag - 1] += big;
        for (i, &small) in ma.iter().enumerate() {
            theta[lag + i] += small * big;
        }
    }
}

/// Map unconstrained values to the coefficients of a stationary AR polynomial
/// (`tanh`, then Durbin–Levinson), in place; with `closed`, `sin` instead of `tanh`,
/// which reaches partial autocorrelations of ±1 (a unit root) at finite values.
fn partrans(x: &mut [f64], closed: bool) {
    let p = x.len();
    for v in x.iter_mut() {
        *v = if closed { v.sin() } else { v.tanh() };
    }
    let mut work = [0.0f64; 64];
    let mut big = Vec::new();
    let work: &mut [f64] = if p <= 64 {
        &mut work[..p]
    } else {
        big.resize(p, 0.0);
        &mut big
    };
    work.copy_from_slice(x);
    for j in 1..p {
        let a = x[j];
        for k in 0..j {
            work[k] -= a * x[j - k - 1];
        }
        x[..j].copy_from_slice(&work[..j]);
    }
}

/// Inverse of [`partrans`]; `None` when the polynomial is not stationary.
fn invpartrans(x: &mut [f64], closed: bool) -> Option<()> {
    let p = x.len();
    let mut work = x.to_vec();
    for j in (1..p).rev() {
        let a = x[j];
        if a.abs() >= 1.0 {
            return None;
        }
        for k in 0..j {
            work[k] = (x[k] + a * x[j - k - 1]) / (1.0 - a * a);
        }
        x[..j].copy_from_slice(&work[..j]);
    }
    for v in x.iter_mut() {
        if v.abs() >= 1.0 {
            return None;
        }
        *v = if closed { v.asin() } else { v.atanh() };
    }
    Some(())
}

/// Unconstrained vector → coefficients `[ar.., ma.., sar.., sma..]` (stationary and
/// invertible by construction).
pub fn to_coefs(o: &ArmaOrders, u: &[f64], out: &mut Vec<f64>) {
    to_coefs_with(o, u, out, false)
}

/// As [`to_coefs`]; with `ma_free` the MA blocks are taken as they are (R's choice),
/// which lets an optimiser walk onto and through the invertibility boundary: the exact
/// likelihood of a non-invertible MA equals that of its invertible counterpart.
pub fn to_coefs_with(o: &ArmaOrders, u: &[f64], out: &mut Vec<f64>, ma_free: bool) {
    to_coefs_in(o, u, out, ma_free, 1.0)
}

/// As [`to_coefs_with`], into the region where every root of every block lies beyond
/// `margin` when `margin > 1`: the partial autocorrelations through `sin` (the closed
/// region, so that an optimum on its edge is reached at finite values instead of at
/// infinity, where a quasi-Newton method crawls), then [`scale_roots`].
pub fn to_coefs_in(o: &ArmaOrders, u: &[f64], out: &mut Vec<f64>, ma_free: bool, margin: f64) {
    let closed = margin > 1.0;
    out.clear();
    out.extend_from_slice(u);
    for (start, len, is_ma) in o.blocks() {
        if is_ma && ma_free {
            continue;
        }
        let block = &mut out[start..start + len];
        partrans(block, closed);
        if is_ma {
            // 1 + θ1 L + ... is invertible iff 1 - (-θ1) L - ... is stationary.
            block.iter_mut().for_each(|v| *v = -*v);
        }
    }
    if closed {
        scale_roots(o, out, margin);
    }
}

/// Scale the coefficients `[ar.., ma.., sar.., sma..]` so that the roots of every block's
/// polynomial are multiplied by `factor`: coefficient `k` of a non-seasonal block by
/// `factor^-k`, of a seasonal block (a polynomial in `L^s`) by `factor^-(s k)`. The full
/// AR and MA polynomials are products of their blocks, so their roots move likewise.
pub fn scale_roots(o: &ArmaOrders, coefs: &mut [f64], factor: f64) {
    for (block, (start, len, _)) in o.blocks().into_iter().enumerate() {
        let step = if block >= 2 { o.s as i32 } else { 1 };
        for (k, v) in coefs[start..start + len].iter_mut().enumerate() {
            *v *= factor.powi(-step * (k as i32 + 1));
        }
    }
}

/// Coefficients → unconstrained vector; `None` when a block is not stationary /
/// invertible.
pub fn to_unconstrained(o: &ArmaOrders, coefs: &[f64]) -> Option<Vec<f64>> {
    to_unconstrained_in(o, coefs, 1.0)
}

/// Inverse of [`to_coefs_in`] (MA blocks transformed); `None` when a root of a block
/// lies within `margin` (on or within the unit circle when `margin` is 1).
pub fn to_unconstrained_in(o: &ArmaOrders, coefs: &[f64], margin: f64) -> Option<Vec<f64>> {
    let closed = margin > 1.0;
    let mut u = coefs.to_vec();
    if closed {
        scale_roots(o, &mut u, 1.0 / margin);
    }
    for (start, len, is_ma) in o.blocks() {
        let block = &mut u[start..start + len];
        if is_ma {
            block.iter_mut().for_each(|v| *v = -*v);
        }
        invpartrans(block, closed)?;
    }
    if u.iter().all(|v| v.is_finite()) {
        Some(u)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_round_trips_and_stays_stationary() {
        let o = ArmaOrders {
            p: 2,
            q: 2,
            sp: 1,
            sq: 1,
            s: 4,
        };
        let u = vec![0.3, -1.2, 2.0, 0.1, -0.4, 0.7];
        let mut c = Vec::new();
        to_coefs(&o, &u, &mut c);
        let back = to_unconstrained(&o, &c).unwrap();
        for (a, b) in u.iter().zip(&back) {
            assert!((a - b).abs() < 1e-10, "{u:?} vs {back:?}");
        }
        // AR(2) stationarity triangle: |phi2| < 1, phi2 ± phi1 < 1.
        assert!(c[1].abs() < 1.0 && c[1] + c[0] < 1.0 && c[1] - c[0] < 1.0);
        // a unit root has no unconstrained image
        assert!(to_unconstrained(
            &ArmaOrders {
                p: 1,
                q: 0,
                sp: 0,
                sq: 0,
                s: 1
            },
            &[1.0]
        )
        .is_none());
    }

    #[test]
    fn scaling_moves_every_root_by_the_factor() {
        let o = ArmaOrders {
            p: 2,
            q: 1,
            sp: 1,
            sq: 1,
            s: 4,
        };
        let mut c = vec![0.5, -0.3, 0.4, 0.6, -0.7];
        let (mut phi, mut theta) = (Vec::new(), Vec::new());
        let min_roots = |c: &[f64], phi: &mut Vec<f64>, theta: &mut Vec<f64>| {
            expand(&o, c, phi, theta);
            let ar: Vec<f64> = std::iter::once(1.0).chain(phi.iter().map(|v| -v)).collect();
            let ma: Vec<f64> = std::iter::once(1.0).chain(theta.iter().copied()).collect();
            (
                super::super::roots::min_root_modulus(&ar).unwrap(),
                super::super::roots::min_root_modulus(&ma).unwrap(),
            )
        };
        let (ar0, ma0) = min_roots(&c, &mut phi, &mut theta);
        scale_roots(&o, &mut c, 1.25);
        let (ar1, ma1) = min_roots(&c, &mut phi, &mut theta);
        assert!((ar1 / ar0 - 1.25).abs() < 1e-9 && (ma1 / ma0 - 1.25).abs() < 1e-9);
    }

    #[test]
    fn confined_coefficients_keep_every_root_beyond_the_margin() {
        let o = ArmaOrders {
            p: 2,
            q: 2,
            sp: 0,
            sq: 1,
            s: 4,
        };
        let (mut c, mut phi, mut theta) = (Vec::new(), Vec::new(), Vec::new());
        // The second point is on the edge: every partial autocorrelation ±1.
        let edge = std::f64::consts::FRAC_PI_2;
        for u in [
            vec![0.3, -1.2, 2.0, 0.1, -0.4],
            vec![edge, -edge, edge, edge, 7.0],
        ] {
            to_coefs_in(&o, &u, &mut c, false, 1.0101);
            expand(&o, &c, &mut phi, &mut theta);
            let ar: Vec<f64> = std::iter::once(1.0).chain(phi.iter().map(|v| -v)).collect();
            let ma: Vec<f64> = std::iter::once(1.0).chain(theta.iter().copied()).collect();
            for poly in [ar, ma] {
                let r = super::super::roots::min_root_modulus(&poly).unwrap();
                assert!(r >= 1.0101 - 1e-7, "{u:?}: root {r}");
            }
        }
        // Inside the region the map inverts.
        let u = vec![0.3, -1.2, 1.0, 0.1, -0.4];
        to_coefs_in(&o, &u, &mut c, false, 1.0101);
        let back = to_unconstrained_in(&o, &c, 1.0101).unwrap();
        for (a, b) in u.iter().zip(&back) {
            assert!((a - b).abs() < 1e-9, "{u:?} vs {back:?}");
        }
    }

    #[test]
    fn seasonal_product_is_multiplied_out() {
        // (1 - 0.5L)(1 - 0.3L^4) = 1 - 0.5L - 0.3L^4 + 0.15L^5
        // (1 + 0.2L)(1 + 0.6L^4) = 1 + 0.2L + 0.6L^4 + 0.12L^5
        let o = ArmaOrders {
            p: 1,
            q: 1,
            sp: 1,
            sq: 1,
            s: 4,
        };
        let (mut phi, mut theta) = (Vec::new(), Vec::new());
        expand(&o, &[0.5, 0.2, 0.3, 0.6], &mut phi, &mut theta);
        let want_phi = [0.5, 0.0, 0.0, 0.3, -0.15];
        let want_theta = [0.2, 0.0, 0.0, 0.6, 0.12];
        for k in 0..5 {
            assert!((phi[k] - want_phi[k]).abs() < 1e-15);
            assert!((theta[k] - want_theta[k]).abs() < 1e-15);
        }
    }
}
