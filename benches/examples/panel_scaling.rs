//! Many series: fit and forecast throughput of local models over N synthetic series of
//! 100–1,000 points, and the load time of the panel model directory they make.
//!
//! ```sh
//! cargo run --release -p forecast-benches --example panel_scaling -- SERIES MODEL [--artifact] [--warmup S] [--repeat R]
//! ```
//!
//! `MODEL` is `naive`, `seasonal-naive`, `drift` or `arima` (ARIMA(1,1,1)). Prints one
//! JSON line: series, rows, fit and forecast (12 steps, 80/95% intervals) wall times,
//! rows per second of the fit, and the process's peak RSS (`VmHWM`). The first fit of
//! the process is reported on its own (`fit_s_first`: the cold cost a one-shot command
//! pays: heap growth, page faults, the thread pool's start); with `--warmup S` further
//! untimed fits run until `S` seconds have passed (as criterion warms up), then with
//! `--repeat R` the fit runs `R` more times (one fitted panel alive at a time) and its
//! median time is reported with the fastest and slowest (`--repeat 0`: the first fit is
//! the figure, for fits of minutes); with `--artifact`
//! also the panel directory's size and its median load time (5 loads). One process per
//! figure, so that the peak RSS is that run's: `benches/panel_scaling.sh` runs the curve.

use forecast_core::artifact::{load_panel, save_panel};
use forecast_core::panel::{fit_panel, PanelSeries, ShortPolicy};
use forecast_core::{ForecasterSpec, ModelConfig, Series};
use std::time::Instant;

/// Series `i`: a deterministic random walk with a monthly-like season, 100–1,000 points.
fn synthetic(i: usize) -> Series {
    let mut state = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let n = 100 + ((next() + 0.5) * 901.0) as usize;
    let mut level = 100.0 + 50.0 * next();
    let y = (0..n)
        .map(|t| {
            level += next();
            level + 5.0 * ((t % 12) as f64 / 12.0 * std::f64::consts::TAU).sin()
        })
        .collect();
    Series::from_values(y, 12)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .first()
        .ok_or("usage: SERIES MODEL [--artifact] [--repeat R]")?
        .parse()?;
    let kind = args.get(1).map_or("naive", String::as_str);
    let artifact = args.iter().any(|a| a == "--artifact");
    let repeat: usize = match args.iter().position(|a| a == "--repeat") {
        Some(i) => args.get(i + 1).ok_or("--repeat needs a count")?.parse()?,
        None => 1,
    };
    let warmup: f64 = match args.iter().position(|a| a == "--warmup") {
        Some(i) => args.get(i + 1).ok_or("--warmup needs seconds")?.parse()?,
        None => 0.0,
    };
    let mut model = ModelConfig::from_kind(kind)?;
    if kind == "arima" {
        model.set("order", "1,1,1")?;
    }
    let spec = ForecasterSpec::new(model);
    let series: Vec<PanelSeries> = (0..n)
        .map(|i| PanelSeries {
            id: format!("S{i}"),
            series: synthetic(i),
        })
        .collect();
    let rows: usize = series.iter().map(|s| s.series.len()).sum();
    let fit_once = || fit_panel(&spec, "unique_id", &series, ShortPolicy::Error, &|| {});
    let t = Instant::now();
    let mut fit = Some(fit_once()?);
    let first_s = t.elapsed().as_secs_f64();
    let mut warmup_fits = 0;
    let warm = Instant::now();
    while warm.elapsed().as_secs_f64() < warmup {
        drop(fit.take());
        fit = Some(fit_once()?);
        warmup_fits += 1;
    }
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        drop(fit.take());
        let t = Instant::now();
        fit = Some(fit_once()?);
        times.push(t.elapsed().as_secs_f64());
    }
    let fit = fit.ok_or("no fit")?;
    if times.is_empty() {
        // --repeat 0: the first fit is the figure (fits long enough to need no warm-up).
        times.push(first_s);
    }
    times.sort_by(f64::total_cmp);
    let fit_s = times[times.len() / 2];
    let t = Instant::now();
    let (forecasts, failed) = fit.fitted.predict(12, &[80.0, 95.0]);
    let predict_s = t.elapsed().as_secs_f64();
    let mut out = serde_json::json!({
        "series": n,
        "rows": rows,
        "model": kind,
        "threads": rayon::current_num_threads(),
        "fit_s": fit_s,
        "fit_runs": times.len(),
        "fit_s_first": first_s,
        "warmup_fits": warmup_fits,
        "fit_s_min": times[0],
        "fit_s_max": times[times.len() - 1],
        "predict_s": predict_s,
        "fit_rows_per_s": rows as f64 / fit_s,
        "forecasts": forecasts.len(),
        "failed": fit.failed.len() + failed.len(),
    });
    drop(forecasts);
    if artifact {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("panel");
        save_panel(&fit.fitted, &path)?;
        let bytes: u64 = std::fs::read_dir(&path)?
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum();
        let mut loads: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let p = load_panel(&path).map(|p| p.series.len());
                (t.elapsed().as_secs_f64(), p)
            })
            .map(|(s, p)| {
                assert_eq!(
                    p.ok(),
                    Some(fit.fitted.series.len()),
                    "the panel reloads whole"
                );
                s
            })
            .collect();
        loads.sort_by(f64::total_cmp);
        out["artifact_bytes"] = bytes.into();
        out["artifact_load_s"] = loads[2].into();
    }
    out["peak_rss_mib"] = peak_rss_mib().into();
    println!("{out}");
    Ok(())
}
