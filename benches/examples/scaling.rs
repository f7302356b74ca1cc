//! Scaling curves, printed as Markdown tables (median wall time of repeated runs):
//!
//! 1. ARIMA(1,1,1) fit time vs series length (MSFT log closes, last n rows);
//! 2. many series: ARIMA(1,1,1) fitted on N synthetic tickers (2,000 rows each), on a
//!    pool of 1 and of 2 threads;
//! 3. tuner: 16 trials, each fitting ARIMA(1,1,1) on 2,000 rows, at 1, 2 and 4 trials
//!    at a time.
//!
//! `cargo run --release -p forecast-benches --example scaling`

use forecast_benches::msft_close;
use forecast_core::{ForecasterSpec, ModelConfig, Series};
use rayon::prelude::*;
use std::time::Instant;
use tuner::{Experiment, SearchSpace, Store, TuneConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    f(); // warm-up
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn arima() -> ForecasterSpec {
    let mut m = ModelConfig::from_kind("arima").expect("arima kind");
    m.set("order", "1,1,1").expect("order key");
    ForecasterSpec::new(m)
}

/// A deterministic random walk of log prices.
fn ticker(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut y = Vec::with_capacity(n);
    let mut level = 4.0;
    let mut prev = 0.0;
    for _ in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        let shock = 0.02 * u + 0.3 * prev; // an AR(1) in the returns
        prev = shock;
        level += shock;
        y.push(level);
    }
    y
}

fn main() {
    let spec = arima();
    let close: Vec<f64> = msft_close().iter().map(|v| v.ln()).collect();
    println!("### ARIMA(1,1,1) fit time vs series length (MSFT log closes)\n");
    println!("| rows | fit (ms, median of 7) | µs per row |");
    println!("|---:|---:|---:|");
    for n in [250, 500, 1000, 2000, 4000, 7983] {
        let s = Series::from_values(close[close.len() - n..].to_vec(), 1);
        let t = time(7, || {
            spec.fit_quiet(&s).expect("fits");
        });
        println!("| {n} | {:.2} | {:.2} |", t * 1e3, t * 1e6 / n as f64);
    }

    println!("\n### Many series: ARIMA(1,1,1) on N synthetic tickers of 2,000 rows\n");
    println!("| tickers | 1 thread (s) | 2 threads (s) | speed-up | series/s (2 threads) |");
    println!("|---:|---:|---:|---:|---:|");
    let pools: Vec<rayon::ThreadPool> = [1, 2]
        .iter()
        .map(|&k| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(k)
                .build()
                .expect("pool")
        })
        .collect();
    for n in [1, 8, 32, 128] {
        let series: Vec<Series> = (0..n)
            .map(|i| Series::from_values(ticker(i as u64 + 1, 2000), 1))
            .collect();
        let fit_all = |pool: &rayon::ThreadPool| {
            pool.install(|| {
                series.par_iter().for_each(|s| {
                    let _ = spec.fit_quiet(s).expect("fits");
                })
            })
        };
        let reps = if n >= 32 { 3 } else { 5 };
        let t1 = time(reps, || fit_all(&pools[0]));
        let t2 = time(reps, || fit_all(&pools[1]));
        println!(
            "| {n} | {t1:.3} | {t2:.3} | {:.2} | {:.1} |",
            t1 / t2,
            n as f64 / t2
        );
    }

    println!("\n### Tuner: 16 trials, each an ARIMA fit on 2,000 rows, vs trials at a time\n");
    println!("| trials at a time | wall (s, median of 3) | trials/s |");
    println!("|---:|---:|---:|");
    let s = Series::from_values(ticker(99, 2000), 1);
    for k in [1, 2, 4] {
        let t = time(3, || {
            let space = SearchSpace::from_toml("p = { choice = [0, 1] }\nq = { choice = [0, 1] }")
                .expect("space");
            let config: TuneConfig = serde_json::from_value(serde_json::json!({
                "metric": "loglik", "mode": "max", "samples": 16, "max_concurrent": k,
                "threads_per_trial": 1, "seed": 1,
            }))
            .expect("config");
            let (summary, _) = Experiment::new("scaling", space, config)
                .run(Store::in_memory("scaling", serde_json::Value::Null), |t| {
                    let p = t.params()["p"].as_u64().ok_or("p")?;
                    let q = t.params()["q"].as_u64().ok_or("q")?;
                    let mut m = ModelConfig::from_kind("arima").map_err(|e| e.to_string())?;
                    m.set("order", &format!("{p},1,{q}"))
                        .map_err(|e| e.to_string())?;
                    let f = ForecasterSpec::new(m)
                        .fit_quiet(&s)
                        .map_err(|e| e.to_string())?;
                    let ll = f.fit_stats()["loglik"].as_f64().unwrap_or(f64::NAN);
                    t.report(&[("loglik", ll)], None);
                    Ok(())
                })
                .expect("runs");
            assert_eq!(summary.trials, 16);
            assert_eq!(summary.failed, 0, "every trial must fit");
        });
        println!("| {k} | {t:.3} | {:.1} |", 16.0 / t);
    }
}
