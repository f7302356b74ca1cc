//! Our side of the AutoARIMA cases of `benches/peers/arima_vs_statsforecast.sh`: full
//! AutoARIMA searches (default settings) over rolling backtests with a refit at every
//! fold, calling forecast-core directly on one thread, after a warm-up search; prints one
//! `name value unit` line per case:
//!
//! - `msft_autoarima_searches_per_s`: searches per second over 100 folds of MSFT closes,
//!   origins at the last 100 days, each fold's window the 250 closes before its origin
//!   (non-seasonal, season length 1);
//! - `air_autoarima_searches_per_s`: searches per second over 24 folds of airpassengers,
//!   expanding windows of 96, 97, …, 119 months (season length 12).
//!
//! Each figure is the median over `min(REPEATS, 3)` sweeps of all folds (as the
//! fixed-order window sweep of `arima_timing`).
//!
//! With a second argument, the file of statsforecast's choices that
//! `benches/peers/arima_statsforecast.py` writes (one line per fold: `case fold p d q P D
//! Q m constant aicc coefs…`), it also prints `#` lines comparing the chosen models: how
//! often both chose the same model, and how often our chosen model's AICc is at most
//! statsforecast's. statsforecast's AICc is recomputed from its own coefficients with our
//! exact likelihood (mean / drift at their ML value given those coefficients; σ² profiled
//! out), in the convention of the reference (`k` = coefficients + 1, `n* = n − d − D·m`),
//! because the log-likelihood statsforecast reports is not always the exact one at its
//! coefficients. Folds where the two chose different differencing orders are counted
//! apart: their criteria are on different series and do not compare.
//!
//! Usage: `auto_arima_timing [REPEATS] [STATSFORECAST_PICKS]` (default 7).

use forecast_benches::{dataset_column, expanding_windows, msft_close, rolling_windows};
use forecast_core::models::arima::{Arima, ArimaFitted, AutoArima, Trend};
use forecast_core::models::{Fit, TrainingData};
use forecast_core::reporter::Silent;
use std::collections::BTreeMap;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One AutoARIMA search; `None` when it fails (counted, not fatal).
fn search(config: &AutoArima, y: &[f64], season: usize) -> Option<ArimaFitted> {
    config
        .clone()
        .fit(&TrainingData::univariate(y, season), &mut Silent)
        .ok()
        .map(|f| f.model)
}

/// Searches per second over the folds (median of `repeats` sweeps after one warm-up
/// search) and the fits of the last sweep.
fn sweep(
    config: &AutoArima,
    y: &[f64],
    season: usize,
    folds: &[(usize, usize)],
    repeats: usize,
) -> (f64, Vec<Option<ArimaFitted>>) {
    let (a, b) = folds[0];
    let _ = search(config, &y[a..b], season);
    let mut fits = Vec::new();
    let mut times = Vec::new();
    for _ in 0..repeats {
        fits.clear();
        let t = Instant::now();
        for &(a, b) in folds {
            fits.push(search(config, &y[a..b], season));
        }
        times.push(t.elapsed().as_secs_f64());
    }
    (folds.len() as f64 / median(times), fits)
}

/// One fold of statsforecast's record.
struct Pick {
    order: [usize; 3],
    seasonal: [usize; 3],
    season: usize,
    constant: bool,
    coefs: Vec<f64>,
}

fn parse_picks(text: &str) -> BTreeMap<(String, usize), Option<Pick>> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let key = (f[0].to_string(), f[1].parse().expect("fold index"));
        if f.get(2) == Some(&"failed") {
            out.insert(key, None);
            continue;
        }
        let u = |i: usize| -> usize { f[i].parse().expect("order") };
        let pick = Pick {
            order: [u(2), u(3), u(4)],
            seasonal: [u(5), u(6), u(7)],
            season: u(8),
            constant: f[9] == "1",
            coefs: f[11..]
                .iter()
                .map(|v| v.parse().expect("coefficient"))
                .collect(),
        };
        out.insert(key, Some(pick));
    }
    out
}

/// AICc of statsforecast's pick at its own ARMA coefficients, by our exact likelihood.
fn their_aicc(y: &[f64], season: usize, pick: &Pick) -> Option<f64> {
    let config = Arima {
        order: pick.order,
        seasonal_order: [
            pick.seasonal[0],
            pick.seasonal[1],
            pick.seasonal[2],
            pick.season,
        ],
        constant: Some(pick.constant),
        ..Arima::default()
    };
    let ll = config
        .profile_loglik(&TrainingData::univariate(y, season), &pick.coefs)
        .ok()
        .flatten()?;
    let k = (pick.coefs.len() + usize::from(pick.constant) + 1) as f64;
    let nstar = (y.len() - pick.order[1] - pick.seasonal[1] * pick.season) as f64;
    let den = nstar - k - 1.0;
    (den > 0.0).then(|| -2.0 * ll + 2.0 * k + 2.0 * k * (k + 1.0) / den)
}

/// `#` lines comparing our choices with statsforecast's for one case.
fn compare(
    case: &str,
    y: &[f64],
    season: usize,
    folds: &[(usize, usize)],
    ours: &[Option<ArimaFitted>],
    picks: &BTreeMap<(String, usize), Option<Pick>>,
) {
    let (mut same_model, mut same_diff, mut le, mut worse, mut unevaluable) = (0, 0, 0, 0, 0);
    let (mut our_fail, mut their_fail) = (0, 0);
    let mut deltas = Vec::new();
    let mut worst: Option<(f64, String)> = None;
    for (i, (&(a, b), fit)) in folds.iter().zip(ours).enumerate() {
        let window = &y[a..b];
        let Some(fit) = fit else {
            our_fail += 1;
            continue;
        };
        let Some(Some(pick)) = picks.get(&(case.to_string(), i)) else {
            their_fail += 1;
            continue;
        };
        let our_seasonal = [
            fit.seasonal_order[0],
            fit.seasonal_order[1],
            fit.seasonal_order[2],
        ];
        let our_constant = fit.trend != Trend::None;
        let our_sd = if season > 1 { our_seasonal[1] } else { 0 };
        if fit.order == pick.order
            && (season <= 1 || our_seasonal == pick.seasonal)
            && our_constant == pick.constant
        {
            same_model += 1;
        }
        if fit.order[1] != pick.order[1] || our_sd != pick.seasonal[1] {
            continue;
        }
        same_diff += 1;
        let Some(theirs) = their_aicc(window, season, pick) else {
            unevaluable += 1;
            continue;
        };
        let delta = fit.aicc() - theirs;
        deltas.push(delta);
        // 1e-6: the two optimisers may stop a rounding step apart on the same optimum.
        if delta <= 1e-6 {
            le += 1;
        } else {
            worse += 1;
            if worst.as_ref().is_none_or(|(w, _)| delta > *w) {
                worst = Some((delta, format!("fold {i}: ours {}", fit.describe())));
            }
        }
    }
    let n = folds.len();
    println!(
        "# {case}: {n} folds; same model {same_model}; same d and D {same_diff}, of which our AICc <= statsforecast's {le}, worse {worse}, not evaluable {unevaluable}; search failed: ours {our_fail}, statsforecast {their_fail}"
    );
    if !deltas.is_empty() {
        println!(
            "# {case}: AICc ours - statsforecast (same d, D): median {:.3}, min {:.3}, max {:.3}{}",
            median(deltas.clone()),
            deltas.iter().copied().fold(f64::INFINITY, f64::min),
            deltas.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            worst
                .map(|(d, w)| format!(" (worst: {w}, +{d:.3})"))
                .unwrap_or_default()
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let repeats: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(7)
        .clamp(1, 3);
    let picks = args.next().map(|path| {
        parse_picks(&std::fs::read_to_string(&path).expect("statsforecast picks file"))
    });
    let msft = msft_close();
    let air = dataset_column("airpassengers.csv", "passengers");
    let msft_folds = rolling_windows(msft.len(), 100, 250);
    let air_folds = expanding_windows(96, 24);
    let default = AutoArima::default();
    let (rate, msft_fits) = sweep(&default, &msft, 1, &msft_folds, repeats);
    println!("msft_autoarima_searches_per_s {rate:.2} searches/s");
    let (rate, air_fits) = sweep(&default, &air, 12, &air_folds, repeats);
    println!("air_autoarima_searches_per_s {rate:.2} searches/s");
    if let Some(picks) = &picks {
        compare("msft", &msft, 1, &msft_folds, &msft_fits, picks);
        compare("air", &air, 12, &air_folds, &air_fits, picks);
    }
    // The same folds with `confine_roots = true` (one sweep each; a `#` line, not a
    // case of the speed table: statsforecast has no such setting).
    let confined = AutoArima {
        confine_roots: true,
        ..AutoArima::default()
    };
    for (case, y, season, folds) in [
        ("msft", &msft, 1, &msft_folds),
        ("air", &air, 12, &air_folds),
    ] {
        let (rate, fits) = sweep(&confined, y, season, folds, 1);
        println!("# {case} with confine_roots = true: {rate:.2} searches/s");
        if let Some(picks) = &picks {
            compare(case, y, season, folds, &fits, picks);
        }
    }
}
