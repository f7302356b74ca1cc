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
//! statsforecast's (statsforecast's AICc recomputed at its own coefficients by our exact
//! likelihood: see [`forecast_benches::picks`]).
//!
//! Usage: `auto_arima_timing [REPEATS] [STATSFORECAST_PICKS]` (default 7).

use forecast_benches::picks::{self, parse_picks, Picks, Window};
use forecast_benches::{dataset_column, expanding_windows, msft_close, rolling_windows};
use forecast_core::models::arima::{ArimaFitted, AutoArima};
use forecast_core::models::{Fit, TrainingData};
use forecast_core::reporter::Silent;
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

/// `#` lines comparing our choices with statsforecast's for one case.
fn compare(
    case: &str,
    y: &[f64],
    season: usize,
    folds: &[(usize, usize)],
    ours: &[Option<ArimaFitted>],
    picks: &Picks,
) {
    let windows: Vec<Window> = folds
        .iter()
        .zip(ours)
        .enumerate()
        .map(|(fold, (&(a, b), fit))| Window {
            case,
            fold,
            y: &y[a..b],
            ours: fit.as_ref(),
        })
        .collect();
    picks::compare(case, "folds", season, &windows, picks);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let repeats: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(7)
        .clamp(1, 3);
    let picks = args.next().map(|path| {
        let text = std::fs::read_to_string(&path).expect("statsforecast picks file");
        parse_picks(&text).unwrap_or_else(|e| panic!("{e}"))
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
