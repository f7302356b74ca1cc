//! Unit tests of the ARIMA model on small synthetic series.

use super::*;
use crate::reporter::Silent;

/// `n` deterministic pseudo-random N(0,1) values: Box–Muller on the uniforms of the
/// 64-bit LCG (Knuth's MMIX constants) from `state`.
pub(super) fn lcg_normal(n: usize, mut state: u64) -> Vec<f64> {
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| (-2.0 * next().ln()).sqrt() * (2.0 * std::f64::consts::PI * next()).cos())
        .collect()
}

/// A deterministic pseudo-random N(0,1) sequence (Box–Muller on an LCG).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    lcg_normal(
        n,
        seed.wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407),
    )
}

fn arma11(n: usize, phi: f64, theta: f64, seed: u64) -> Vec<f64> {
    let e = noise(n + 100, seed);
    let mut y = vec![0.0; n + 100];
    for t in 1..n + 100 {
        y[t] = phi * y[t - 1] + e[t] + theta * e[t - 1];
    }
    y[100..].to_vec()
}

#[test]
fn recovers_arma11_coefficients() {
    let y = arma11(2000, 0.6, 0.3, 7);
    let fit = Arima {
        order: [1, 0, 1],
        constant: Some(false),
        ..Arima::default()
    }
    .fit(&TrainingData::univariate(&y, 1), &mut Silent)
    .unwrap();
    // Standard errors at n = 2000 are about 0.02-0.03: 5 SE tolerance.
    assert!((fit.coefs[0] - 0.6).abs() < 0.1, "{:?}", fit.coefs);
    assert!((fit.coefs[1] - 0.3).abs() < 0.1, "{:?}", fit.coefs);
    assert!((fit.sigma2 - 1.0).abs() < 0.1);
    let se = fit.se[0].unwrap();
    assert!(se > 0.01 && se < 0.05, "{se}");
}

#[test]
fn forecast_intervals_widen_and_condition_matches_refilter() {
    let mut y: Vec<f64> = arma11(300, 0.5, -0.2, 3);
    // integrate once: ARIMA(1,1,1)
    for t in 1..y.len() {
        y[t] += y[t - 1];
    }
    let cfg = Arima::new(1, 1, 1);
    let fit = cfg
        .fit(&TrainingData::univariate(&y[..250], 1), &mut Silent)
        .unwrap();
    let fc = fit.predict(10, &[95.0], &[]).unwrap();
    let w: Vec<f64> = fc.intervals[0]
        .upper
        .iter()
        .zip(&fc.intervals[0].lower)
        .map(|(u, l)| u - l)
        .collect();
    assert!(w.windows(2).all(|p| p[1] > p[0]), "{w:?}");
    // conditioning on the same history reproduces the fitted state
    let again = fit
        .condition(&TrainingData::univariate(&y[..250], 1))
        .unwrap();
    let fc2 = again.predict(10, &[95.0], &[]).unwrap();
    for (a, b) in fc.point.iter().zip(&fc2.point) {
        assert!((a - b).abs() < 1e-9);
    }
    // and conditioning on more rows moves the forecast origin
    let later = fit.condition(&TrainingData::univariate(&y, 1)).unwrap();
    assert_eq!(later.n_history, 300);
    let fc3 = later.predict(1, &[95.0], &[]).unwrap();
    assert!((fc3.point[0] - y[299]).abs() < 5.0);
}

#[test]
fn degenerate_inputs_are_errors_not_panics() {
    let flat = vec![3.0; 50];
    let e = Arima::new(1, 1, 1)
        .fit(&TrainingData::univariate(&flat, 1), &mut Silent)
        .unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
    let short = vec![1.0, 2.0, 1.5];
    let e = Arima::new(2, 1, 2)
        .fit(&TrainingData::univariate(&short, 1), &mut Silent)
        .unwrap_err();
    assert!(matches!(e, Error::TooFewRows { .. }), "{e}");
    let y = arma11(100, 0.5, 0.0, 1);
    let nan = Column {
        name: "x".into(),
        values: vec![f64::NAN; 100],
        integer: false,
    };
    let data = TrainingData {
        features: std::slice::from_ref(&nan),
        ..TrainingData::univariate(&y, 1)
    };
    let e = Arima::new(1, 0, 0).fit(&data, &mut Silent).unwrap_err();
    assert!(e.to_string().contains("'x'"), "{e}");
    let e = Arima {
        order: [0, 2, 1],
        constant: Some(true),
        ..Arima::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("constant"), "{e}");
}

#[test]
fn regression_with_arma_errors_recovers_beta() {
    let n = 400;
    let e = arma11(n, 0.5, 0.0, 11);
    let x: Vec<f64> = noise(n, 5).iter().map(|v| 3.0 * v).collect();
    let y: Vec<f64> = (0..n).map(|t| 10.0 + 2.0 * x[t] + e[t]).collect();
    let col = Column {
        name: "x".into(),
        values: x.clone(),
        integer: false,
    };
    let data = TrainingData {
        features: std::slice::from_ref(&col),
        ..TrainingData::univariate(&y, 1)
    };
    let fit = Arima::new(1, 0, 0).fit(&data, &mut Silent).unwrap();
    assert_eq!(fit.names(), ["ar1", "intercept", "x"]);
    assert!((fit.beta[1] - 2.0).abs() < 0.05, "{:?}", fit.beta);
    assert!((fit.beta[0] - 10.0).abs() < 0.5, "{:?}", fit.beta);
    // forecasts need the future regressor
    assert!(fit.predict(3, &[95.0], &[]).is_err());
    let fut = Column {
        name: "x".into(),
        values: vec![1.0, 0.0, -1.0],
        integer: false,
    };
    let zero = Column {
        name: "x".into(),
        values: vec![0.0; 3],
        integer: false,
    };
    let fc = fit.predict(3, &[95.0], std::slice::from_ref(&fut)).unwrap();
    let base = fit
        .predict(3, &[95.0], std::slice::from_ref(&zero))
        .unwrap();
    for (i, xv) in fut.values.iter().enumerate() {
        assert!((fc.point[i] - base.point[i] - fit.beta[1] * xv).abs() < 1e-9);
    }
}
