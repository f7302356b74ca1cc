//! Polynomial roots, for reflecting MA roots into the invertible region.

/// A complex number as `(re, im)`.
type C = (f64, f64);

fn mul(a: C, b: C) -> C {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

fn div(a: C, b: C) -> C {
    let d = b.0 * b.0 + b.1 * b.1;
    ((a.0 * b.0 + a.1 * b.1) / d, (a.1 * b.0 - a.0 * b.1) / d)
}

fn sub(a: C, b: C) -> C {
    (a.0 - b.0, a.1 - b.1)
}

fn abs(a: C) -> f64 {
    a.0.hypot(a.1)
}

/// Roots of `c[0] + c[1] z + ... + c[m] z^m` (`c[m] != 0`) by the Durand–Kerner
/// iteration; adequate for the small degrees of ARMA blocks.
fn roots(c: &[f64]) -> Vec<C> {
    let m = c.len() - 1;
    let lead = c[m];
    let monic: Vec<f64> = c.iter().map(|v| v / lead).collect();
    let eval = |z: C| -> C {
        let mut acc = (1.0, 0.0);
        for k in (0..m).rev() {
            acc = mul(acc, z);
            acc.0 += monic[k];
        }
        acc
    };
    let radius = 1.0 + monic[..m].iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let mut z: Vec<C> = (0..m)
        .map(|k| {
            let ang = 0.4 + 2.0 * std::f64::consts::PI * k as f64 / m as f64;
            (0.5 * radius * ang.cos(), 0.5 * radius * ang.sin())
        })
        .collect();
    for _ in 0..500 {
        let mut change = 0.0f64;
        for i in 0..m {
            let mut den = (1.0, 0.0);
            for j in 0..m {
                if i != j {
                    den = mul(den, sub(z[i], z[j]));
                }
            }
            if abs(den) == 0.0 {
                continue;
            }
            let step = div(eval(z[i]), den);
            z[i] = sub(z[i], step);
            change = change.max(abs(step));
        }
        if change < 1e-14 {
            break;
        }
    }
    z
}

/// Reflect the roots of `1 + θ1 z + .. + θq z^q` that lie inside the unit circle to
/// outside (`ρ → 1/ρ̄`) and return the new `θ`; unchanged when already invertible.
pub fn invert_ma_block(theta: &[f64]) -> Vec<f64> {
    let q = theta.iter().rposition(|v| *v != 0.0).map_or(0, |i| i + 1);
    if q == 0 {
        return theta.to_vec();
    }
    let mut c = vec![1.0];
    c.extend_from_slice(&theta[..q]);
    let rs = roots(&c);
    if rs.iter().all(|r| abs(*r) >= 1.0) {
        return theta.to_vec();
    }
    // Rebuild Π (1 - z/ρ) with the reflected roots.
    let mut poly: Vec<C> = vec![(1.0, 0.0)];
    for r in rs {
        let r = if abs(r) < 1.0 {
            let d = r.0 * r.0 + r.1 * r.1;
            (r.0 / d, r.1 / d)
        } else {
            r
        };
        let inv = div((1.0, 0.0), r);
        let mut next = vec![(0.0, 0.0); poly.len() + 1];
        for (k, p) in poly.iter().enumerate() {
            next[k].0 += p.0;
            next[k].1 += p.1;
            let t = mul(*p, inv);
            next[k + 1].0 -= t.0;
            next[k + 1].1 -= t.1;
        }
        poly = next;
    }
    let mut out = theta.to_vec();
    for (k, o) in out.iter_mut().enumerate().take(q) {
        *o = poly[k + 1].0;
    }
    out
}

/// The smallest modulus among the roots of `c[0] + c[1] z + ... + c[m] z^m`, after
/// dropping trailing zero coefficients; `None` for a constant polynomial.
pub fn min_root_modulus(c: &[f64]) -> Option<f64> {
    let m = c.iter().rposition(|v| *v != 0.0)?;
    if m == 0 {
        return None;
    }
    Some(
        roots(&c[..=m])
            .into_iter()
            .map(abs)
            .fold(f64::INFINITY, f64::min),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ma1_and_ma2_are_reflected() {
        let t = invert_ma_block(&[2.0]);
        assert!((t[0] - 0.5).abs() < 1e-12);
        // (1 + 0.5z)(1 + 4z) = 1 + 4.5z + 2z² → (1 + 0.5z)(1 + 0.25z) = 1 + 0.75z + 0.125z²
        let t = invert_ma_block(&[4.5, 2.0]);
        assert!(
            (t[0] - 0.75).abs() < 1e-10 && (t[1] - 0.125).abs() < 1e-10,
            "{t:?}"
        );
        // invertible stays
        assert_eq!(invert_ma_block(&[0.3, -0.2]), vec![0.3, -0.2]);
    }

    #[test]
    fn smallest_root_modulus() {
        // (1 - 0.5z)(1 + 0.25z) = 1 - 0.25z - 0.125z²: roots 2 and -4.
        let m = min_root_modulus(&[1.0, -0.25, -0.125, 0.0]).unwrap();
        assert!((m - 2.0).abs() < 1e-10, "{m}");
        // 1 - 0.9 z^12: twelve roots of modulus 0.9^(-1/12).
        let mut c = vec![0.0; 13];
        c[0] = 1.0;
        c[12] = -0.9;
        let m = min_root_modulus(&c).unwrap();
        assert!((m - 0.9f64.powf(-1.0 / 12.0)).abs() < 1e-9, "{m}");
        assert_eq!(min_root_modulus(&[1.0, 0.0]), None);
    }
}
