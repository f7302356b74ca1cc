//! ARIMA against independent fits (statsmodels, statsforecast and a multi-start exact
//! MLE search), read from `tests/reference/arima_reference.json`; described in the
//! project's ARIMA reference notes. Every case in the JSON is checked: adding a case is
//! one JSON entry, no code.
//!
//! Tolerances and why:
//! - log-likelihood ≥ best-known − 1e-3: the best-known value is the best exact optimum
//!   any of several optimisers found; reaching it to 1e-3 means we found the same optimum
//!   (the optima that differ are ≥ 0.9 apart, see `start_logliks_concentrated`).
//! - σ² within 1% and AIC / AICc / BIC with the same `k` convention (exact after removing
//!   the log-likelihood difference).
//! - 12-step point forecasts and 95% bounds within 1% (relative, original units: log
//!   series are compared after `exp`) of the best-known fit's: the forecasts of two fits
//!   whose likelihoods agree to 1e-3 differ far less, while a wrong variance recursion or
//!   undifferencing error moves the bounds by several percent.

use forecast_core::models::arima::Arima;
use forecast_core::models::{Fit, Predict, TrainingData};
use forecast_core::reporter::Silent;
use rayon::prelude::*;
use serde_json::Value;

mod common;
use common::{assert_no_failures, f64s, reference, rel, series, usizes};

/// Cases where the fit is known to stop short of the best-known optimum, with the
/// largest shortfall tolerated (log-likelihood units). Each entry is an open defect: the
/// test still fails if the shortfall grows, and reports it every run. Empty: every case
/// reaches the best-known optimum (msft_close ARIMA(2,1,2), 8.1 short until the
/// root-pair starts of `optimize.rs`, was the last entry).
const KNOWN_GAPS: &[(&str, f64)] = &[];

/// Cases where our fit is ABOVE the best-known optimum (the reference search missed a
/// higher optimum), with the log-likelihood of our coefficients evaluated independently
/// by statsmodels (`SARIMAX(.., concentrate_scale=True, use_exact_diffuse=True)
/// .loglike(coefs) + ½ d log 2π`, the reference's R convention) and by statsforecast
/// (`arima(.., fixed=coefs, method="ML")`): `benches/peers/arima_check_optima.py`.
/// Our fit must reach that value to 1e-3 (the two libraries agree with each other and
/// with ours to 2e-5 on all three). A fit above the best-known value that is not listed
/// is reported, not failed: our likelihood is checked against the reference at the
/// best-known coefficients of every case, so a higher value is a better optimum, but it
/// should be verified and listed here.
///
/// All three are ARMA(2,2) optima with a complex AR root pair near the unit circle and
/// an MA pair nearly cancelling it, found by the root-pair starts of `optimize.rs`;
/// statsmodels' BFGS polished from our point stays there (same log-likelihood to 1e-6):
/// - airpassengers_log: AR roots of modulus 0.97 at a 12-month cycle (ω = 0.527), MA
///   roots of modulus 0.99 at ω = 0.397 — the seasonal cycle a non-seasonal model
///   otherwise misses (the best-known optimum of raw airpassengers is of this kind);
///   +16.09 over the best known.
/// - msft_logclose: +0.544; wineind: +6.99.
const VERIFIED_ABOVE_BEST: &[(&str, f64)] = &[
    ("airpassengers_log ARIMA(2,1,2)", 144.984756),
    ("msft_logclose ARIMA(2,1,2)", 18816.531996),
    ("wineind ARIMA(2,1,2)", -1733.105345),
];

/// One fixed-order case; returns the failures (empty = pass) and a summary line.
fn check_case(reference: &Value, case: &Value) -> (Vec<String>, String) {
    let name = case["series"].as_str().unwrap();
    let spec = &case["spec"];
    let label = format!("{name} {}", spec["name"].as_str().unwrap());
    let common::Series {
        y,
        season_length: season,
        log,
    } = series(reference, name);
    let o = usizes(&spec["order"]);
    let so = usizes(&spec["seasonal_order"]);
    let s = spec["season_length"].as_u64().unwrap() as usize;
    let config = Arima {
        order: [o[0], o[1], o[2]],
        seasonal_order: [so[0], so[1], so[2], s],
        constant: Some(spec["constant"].is_string()),
        ..Arima::default()
    };
    let mut fails = Vec::new();
    // The likelihood itself, independent of the optimiser: ours at the best-known
    // coefficients must equal the best-known value (1e-6: summation-order rounding).
    let best = &case["best_known_mle"];
    let names: Vec<String> = {
        let mut v = Vec::new();
        v.extend((1..=o[0]).map(|i| format!("ar{i}")));
        v.extend((1..=o[2]).map(|i| format!("ma{i}")));
        v.extend((1..=so[0]).map(|i| format!("sar{i}")));
        v.extend((1..=so[2]).map(|i| format!("sma{i}")));
        v
    };
    let coefs: Vec<f64> = names
        .iter()
        .map(|n| best["coef_statsforecast_naming"][n].as_f64().unwrap())
        .collect();
    let data = TrainingData::univariate(&y, season);
    let at_best = config.profile_loglik(&data, &coefs).unwrap();
    let best_ll = best["loglik"].as_f64().unwrap();
    match at_best {
        Some(ll) if (ll - best_ll).abs() <= 1e-6 * best_ll.abs().max(1.0) => {}
        other => fails.push(format!(
            "{label}: likelihood at the best-known coefficients {other:?} vs {best_ll}"
        )),
    }
    let fit = match config.fit(&TrainingData::univariate(&y, season), &mut Silent) {
        Ok(f) => f,
        Err(e) => return (vec![format!("{label}: fit failed: {e}")], label),
    };
    let allowed = KNOWN_GAPS
        .iter()
        .find(|(l, _)| *l == label)
        .map_or(1e-3, |(_, g)| *g);
    if fit.loglik < best_ll - allowed {
        fails.push(format!(
            "{label}: loglik {:.4} < best known {best_ll:.4}",
            fit.loglik
        ));
    }
    let known_gap = allowed > 1e-3;
    if known_gap {
        println!(
            "{label}: KNOWN GAP, {:.4} below the best-known loglik",
            best_ll - fit.loglik
        );
    }
    let bs2 = best["sigma2"].as_f64().unwrap();
    if rel(fit.sigma2, bs2) > 0.01 {
        fails.push(format!("{label}: sigma2 {} vs {bs2}", fit.sigma2));
    }
    let dll = -2.0 * (fit.loglik - best_ll);
    for (ours, key) in [(fit.aic(), "aic"), (fit.aicc(), "aicc"), (fit.bic(), "bic")] {
        let want = best[key].as_f64().unwrap() + dll;
        if (ours - want).abs() > 1e-6 * want.abs().max(1.0) {
            fails.push(format!("{label}: {key} {ours} vs {want} (k convention)"));
        }
    }
    if fit.nobs as u64 != case["n_used"].as_u64().unwrap() {
        fails.push(format!(
            "{label}: nobs {} vs n_used {}",
            fit.nobs, case["n_used"]
        ));
    }
    // A fit that beats the best-known likelihood by more than rounding found a different
    // (higher) optimum, typically on the MA invertibility boundary where the surface is
    // flat; its forecasts legitimately differ, so only the likelihood checks apply.
    let improved = fit.loglik > best_ll + 1e-2 || known_gap;
    let verified = VERIFIED_ABOVE_BEST.iter().find(|(l, _)| *l == label);
    if let Some((_, v)) = verified {
        if (fit.loglik - v).abs() > 1e-3 {
            fails.push(format!(
                "{label}: loglik {:.6} vs the independently verified {v:.6}",
                fit.loglik
            ));
        }
    }
    if improved && !known_gap {
        println!(
            "{label}: improves on the best-known loglik by {:.4} at {:?}{}",
            fit.loglik - best_ll,
            fit.coefs,
            if verified.is_some() {
                " (verified)"
            } else {
                " (NOT YET VERIFIED independently)"
            }
        );
    }
    if improved {
        fails.retain(|f| !f.contains("sigma2"));
    }
    let fc = fit.predict(12, &[95.0], &[]).unwrap();
    let back = |v: f64| if log { v.exp() } else { v };
    let want = &best["forecast"];
    for (ours, key) in [
        (&fc.point, "mean"),
        (&fc.intervals[0].lower, "lo95"),
        (&fc.intervals[0].upper, "hi95"),
    ] {
        for (h, (a, b)) in ours.iter().zip(f64s(&want[key])).enumerate() {
            if !improved && rel(back(*a), back(b)) > 0.01 {
                fails.push(format!(
                    "{label}: {key}[{}] {} vs {}",
                    h + 1,
                    back(*a),
                    back(b)
                ));
                break;
            }
        }
    }
    let line = format!(
        "{label:<45} loglik {:>12.4} best {:>12.4} diff {:+.2e}",
        fit.loglik,
        best_ll,
        fit.loglik - best_ll
    );
    (fails, line)
}

#[test]
fn fixed_order_fits_reach_the_best_known_mle() {
    let reference = reference();
    let cases = reference["fixed_order_fits"].as_array().unwrap();
    let only = std::env::var("ARIMA_CASE").ok();
    let cases: Vec<&Value> = cases
        .iter()
        .filter(|c| {
            only.as_deref()
                .is_none_or(|o| c["series"].as_str() == Some(o))
        })
        .collect();
    assert!(only.is_some() || cases.len() >= 24);
    let results: Vec<(Vec<String>, String)> = cases
        .par_iter()
        .map(|c| check_case(&reference, c))
        .collect();
    assert_no_failures(results);
}
