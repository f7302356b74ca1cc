//! Our side of `benches/peers/m3_aicc_vs_statsforecast.sh`: AutoARIMA (default settings,
//! then `confine_roots = true`) on every series of an M3 training file, two threads,
//! and the comparison of the chosen models with statsforecast's record (see
//! [`forecast_benches::picks`]): on how many series our AICc is at most statsforecast's.
//!
//! Usage: `m3_arima_aicc TRAIN_CSV SEASON PICKS [SERIES]` (`SERIES`: only the first so
//! many series, in the file's order, as the peer script's `--series`).

use forecast_benches::picks::{compare, parse_picks, Window};
use forecast_core::models::arima::{ArimaFitted, AutoArima};
use forecast_core::models::{Fit, TrainingData};
use forecast_core::reporter::Silent;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The series of a long-format `unique_id,ds,y` file, in order of first appearance.
fn read_long(path: &str) -> Result<Vec<(String, Vec<f64>)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let mut f = line.split(',');
        let (Some(id), Some(_), Some(y)) = (f.next(), f.next(), f.next()) else {
            return Err(format!("{path}, line {}: expected unique_id,ds,y", n + 1));
        };
        let y: f64 = y
            .trim()
            .parse()
            .map_err(|_| format!("{path}, line {}: y is not a number", n + 1))?;
        match out.last_mut() {
            Some((last, values)) if last == id => values.push(y),
            _ => out.push((id.to_string(), vec![y])),
        }
    }
    Ok(out)
}

/// Every series searched on two threads; the fits in the series' order, and seconds.
fn search_all(
    config: &AutoArima,
    series: &[(String, Vec<f64>)],
    season: usize,
) -> (Vec<Option<ArimaFitted>>, f64) {
    let next = AtomicUsize::new(0);
    let fits = Mutex::new(vec![None; series.len()]);
    let t = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((_, y)) = series.get(i) else { break };
                let fit = config
                    .clone()
                    .fit(&TrainingData::univariate(y, season), &mut Silent)
                    .ok()
                    .map(|f| f.model);
                if let Ok(mut fits) = fits.lock() {
                    fits[i] = fit;
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    (fits.into_inner().unwrap_or_default(), secs)
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [train, season, picks_path, rest @ ..] = args.as_slice() else {
        return Err("usage: m3_arima_aicc TRAIN_CSV SEASON PICKS [SERIES]".into());
    };
    let season: usize = season.parse().map_err(|_| "SEASON: a whole number")?;
    let mut series = read_long(train)?;
    if let Some(n) = rest.first() {
        series.truncate(n.parse().map_err(|_| "SERIES: a whole number")?);
    }
    let text = std::fs::read_to_string(picks_path).map_err(|e| format!("{picks_path}: {e}"))?;
    let picks = parse_picks(&text)?;
    for (label, config) in [
        ("default", AutoArima::default()),
        (
            "confine_roots = true",
            AutoArima {
                confine_roots: true,
                ..AutoArima::default()
            },
        ),
    ] {
        let (fits, secs) = search_all(&config, &series, season);
        println!(
            "# ours, {label}: {} series in {secs:.1} s (2 threads)",
            series.len()
        );
        let windows: Vec<Window> = series
            .iter()
            .zip(&fits)
            .map(|((id, y), fit)| Window {
                case: id,
                fold: 0,
                y,
                ours: fit.as_ref(),
            })
            .collect();
        compare(label, "series", season, &windows, &picks);
    }
    Ok(())
}
