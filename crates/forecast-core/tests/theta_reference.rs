//! The Theta family against statsforecast 2.1.1 (`benches/peers/theta_reference.py`,
//! committed as `tests/reference/theta_reference.json`; see `benches/peers/REFERENCES.md`):
//! airpassengers, wineind and 12 M3 series (monthly, quarterly, yearly), each fitted as
//! STM, OTM, DSTM, DOTM and AutoTheta.
//!
//! What is compared, and why each tolerance:
//!
//! - the seasonal decomposition decision and type: equal (the same test on the same data);
//!   the seasonal indices to 1e-9 relative (the same arithmetic in another order);
//! - the fitted parameters (initial level, α, θ), the criterion both minimise and the
//!   mean forecasts: within 1e-6 relative. Both run the same bounded Nelder–Mead search
//!   (same start, first simplex, coefficients and stopping rule), so both follow the same
//!   path to the same stopping point, flat directions included (θ of 10⁵ and more, where
//!   the criterion barely moves and a different search would stop elsewhere); what can
//!   differ is the order of floating-point operations, which could flip one comparison
//!   of the search. The largest difference seen is 1e-8 (an initial level); a flipped
//!   comparison would show as 1e-4 or more;
//! - AutoTheta's chosen model: equal on every series;
//! - the 80% and 95% bounds: within 0.06 standard deviations of statsforecast's own
//!   simulation run with 100,000 paths (`intervals_sampled`; our bounds are the exact
//!   quantiles of the distribution those paths sample; the 100,000-path Monte Carlo
//!   error of a 2.5% quantile is about 0.009 standard deviations, and the largest of
//!   some 3,000 such errors about 4 of those), and within 0.6 of its default 200-path
//!   intervals (`intervals`; 3 Monte Carlo standard errors of a 2.5% quantile of 200
//!   draws, 0.19 standard deviations each). The standard deviation of a step is read
//!   off statsforecast's sampled 95% interval.

use forecast_core::models::theta::{AutoTheta, Theta, ThetaFitted, ThetaVariant};
use forecast_core::models::{Fit, Predict, TrainingData};
use forecast_core::reporter::Silent;
use serde_json::Value;

mod common;
use common::{f64s, reference_json, rel};

fn reference() -> Value {
    reference_json("theta_reference.json")
}

/// The largest differences seen for one fit kind, for the printed summary.
#[derive(Default)]
struct Worst {
    forecast: f64,
    alpha: f64,
    level: f64,
    theta: f64,
    criterion: f64,
    sampled: f64,
    default: f64,
}

#[test]
fn the_theta_family_matches_statsforecast() {
    let doc = reference();
    let levels = f64s(&doc["levels"]);
    let mut failures = Vec::new();
    let mut worst: Vec<(String, Worst)> = Vec::new();
    let mut agree = 0;
    let series = doc["series"].as_array().unwrap();
    for s in series {
        let name = s["name"].as_str().unwrap();
        let m = s["season_length"].as_u64().unwrap() as usize;
        let h = s["horizon"].as_u64().unwrap() as usize;
        let y = f64s(&s["y"]);
        let data = TrainingData::univariate(&y, m);
        for (key, want) in s["fits"].as_object().unwrap() {
            let ours: ThetaFitted = match key.as_str() {
                "auto" => AutoTheta::default().fit(&data, &mut Silent).unwrap(),
                v => Theta {
                    variant: serde_json::from_value(Value::from(v.to_lowercase())).unwrap(),
                    ..Theta::default()
                }
                .fit(&data, &mut Silent)
                .unwrap(),
            };
            let tag = format!("{name} {key}");
            let mut check = |ok: bool, what: String| {
                if !ok {
                    failures.push(format!("{tag}: {what}"));
                }
            };
            let chosen = want["model"].as_str().unwrap().to_lowercase();
            if key == "auto" {
                if ours.variant.name() == chosen {
                    agree += 1;
                }
                check(
                    ours.variant.name() == chosen,
                    format!("chose {} vs {chosen}", ours.variant.name()),
                );
                if ours.variant.name() != chosen {
                    continue;
                }
            }
            let decompose = want["decompose"].as_bool().unwrap();
            check(
                ours.decomposition.is_some() == decompose,
                format!("decomposition {:?} vs {decompose}", ours.decomposition),
            );
            if decompose {
                let kind = serde_json::to_value(ours.decomposition).unwrap();
                check(
                    kind == want["decomposition_type"],
                    format!("{kind} vs {}", want["decomposition_type"]),
                );
                let n = y.len();
                let seas = f64s(&want["seasonal_forecast"]);
                for (j, w) in seas.iter().enumerate() {
                    let o = ours.indices[(n - m + j) % m];
                    check(rel(o, *w) < 1e-9, format!("index {j}: {o} vs {w}"));
                }
            }
            let row = match worst.iter().position(|(k, _)| k == key) {
                Some(i) => i,
                None => {
                    worst.push((key.clone(), Worst::default()));
                    worst.len() - 1
                }
            };
            let w = &mut worst[row].1;
            let crit = want["mse"].as_f64().unwrap();
            w.criterion = w.criterion.max(rel(ours.criterion, crit));
            check(
                rel(ours.criterion, crit) < 1e-6,
                format!("criterion {} vs {crit}", ours.criterion),
            );
            let (a, l, t) = (
                want["alpha"].as_f64().unwrap(),
                want["initial_level"].as_f64().unwrap(),
                want["theta"].as_f64().unwrap(),
            );
            w.alpha = w.alpha.max(rel(ours.alpha, a));
            w.level = w.level.max(rel(ours.initial_level, l));
            w.theta = w.theta.max(rel(ours.theta, t));
            check(
                rel(ours.alpha, a) < 1e-6,
                format!("alpha {} vs {a}", ours.alpha),
            );
            check(
                rel(ours.initial_level, l) < 1e-6,
                format!("initial level {} vs {l}", ours.initial_level),
            );
            check(
                rel(ours.theta, t) < 1e-6,
                format!("theta {} vs {t}", ours.theta),
            );
            let fc = ours.predict(h, &levels, &[]).unwrap();
            for (i, (o, e)) in fc.point.iter().zip(f64s(&want["mean"])).enumerate() {
                w.forecast = w.forecast.max(rel(*o, e));
                check(rel(*o, e) < 1e-6, format!("step {}: {o} vs {e}", i + 1));
            }
            let sampled95 = &want["intervals_sampled"]["95"];
            let sd: Vec<f64> = f64s(&sampled95["upper"])
                .iter()
                .zip(f64s(&sampled95["lower"]))
                .map(|(u, l)| (u - l) / (2.0 * 1.959_963_984_540_054))
                .collect();
            for (interval, lv) in fc.intervals.iter().zip(&levels) {
                let key = format!("{lv}");
                for (which, tol, slot) in [("intervals_sampled", 0.06, 0), ("intervals", 0.6, 1)] {
                    let theirs = &want[which][&key];
                    for (bound, ours_b) in [("lower", &interval.lower), ("upper", &interval.upper)]
                    {
                        for (i, (o, e)) in ours_b.iter().zip(f64s(&theirs[bound])).enumerate() {
                            let d = (o - e).abs() / sd[i];
                            if slot == 0 {
                                w.sampled = w.sampled.max(d);
                            } else {
                                w.default = w.default.max(d);
                            }
                            check(
                                d < tol,
                                format!(
                                    "{which} {lv}% {bound} step {}: {o} vs {e} ({d:.3} sd)",
                                    i + 1
                                ),
                            );
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "fit   max rel forecast  max rel alpha  max rel level  max rel theta  max rel criterion  bounds/sd (1e5 paths)  bounds/sd (200 paths)"
    );
    for (k, w) in &worst {
        eprintln!(
            "{k:5} {:.2e}          {:.2e}       {:.2e}       {:.2e}       {:.2e}           {:.3}                  {:.3}",
            w.forecast, w.alpha, w.level, w.theta, w.criterion, w.sampled, w.default
        );
    }
    eprintln!(
        "AutoTheta's choice agrees on {agree} of {} series",
        series.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(agree, series.len());
}

/// `auto-theta` is the best of the four variants by the criterion, and its fit is that
/// variant's fit.
#[test]
fn auto_theta_is_the_best_variant() {
    let doc = reference();
    for s in doc["series"].as_array().unwrap().iter().take(4) {
        let m = s["season_length"].as_u64().unwrap() as usize;
        let y = f64s(&s["y"]);
        let data = TrainingData::univariate(&y, m);
        let auto = AutoTheta::default().fit(&data, &mut Silent).unwrap();
        let fits: Vec<ThetaFitted> = ThetaVariant::ALL
            .iter()
            .map(|&variant| {
                Theta {
                    variant,
                    ..Theta::default()
                }
                .fit(&data, &mut Silent)
                .unwrap()
            })
            .collect();
        let best = fits
            .iter()
            .min_by(|a, b| a.criterion.total_cmp(&b.criterion))
            .unwrap();
        assert_eq!(auto.variant, best.variant);
        assert_eq!(auto.alpha, best.alpha);
        assert_eq!(auto.candidates.len(), 4);
    }
}
