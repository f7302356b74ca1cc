//! Our side of `benches/peers/arima_vs_statsforecast.sh`: times ARIMA fits by calling
//! forecast-core directly (no process start, the CSV loaded once before timing), on one
//! thread, after a warm-up fit; prints one `name value unit` line per case:
//!
//! - `msft_arima111_ms`: median ms of an ARIMA(1,1,1) fit on the 7,983 MSFT closes;
//! - `msft_window_arima111_fits_per_s`: ARIMA(1,1,1) fits per second over 200 windows of
//!   250 MSFT closes (median of the repeats of the whole sweep);
//! - `airline_ms`: median ms of an ARIMA(0,1,1)(0,1,1)[12] fit on airpassengers.
//!
//! Usage: `arima_timing [REPEATS]` (default 7).

use forecast_benches::{dataset_column, msft_close, window_start};
use forecast_core::models::arima::Arima;
use forecast_core::models::{Fit, TrainingData};
use forecast_core::reporter::Silent;
use std::hint::black_box;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fit(config: &Arima, y: &[f64], season: usize) -> f64 {
    let fitted = config
        .fit(&TrainingData::univariate(y, season), &mut Silent)
        .expect("reference series fit");
    fitted.loglik
}

/// Median seconds of `f` over `repeats` runs after one warm-up run.
fn time(repeats: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(7);
    let msft = msft_close();
    let air = dataset_column("airpassengers.csv", "passengers");
    let arima111 = Arima {
        order: [1, 1, 1],
        constant: Some(false),
        ..Arima::default()
    };
    let airline = Arima {
        order: [0, 1, 1],
        seasonal_order: [0, 1, 1, 12],
        constant: Some(false),
        ..Arima::default()
    };
    let s = time(repeats, || {
        black_box(fit(&arima111, &msft, 1));
    });
    println!("msft_arima111_ms {:.3} ms", s * 1e3);
    let (count, len) = (200, 250);
    let s = time(repeats.min(3), || {
        for i in 0..count {
            let a = window_start(i, count, msft.len(), len);
            black_box(fit(&arima111, &msft[a..a + len], 1));
        }
    });
    println!(
        "msft_window_arima111_fits_per_s {:.1} fits/s",
        count as f64 / s
    );
    let s = time(repeats, || {
        black_box(fit(&airline, &air, 12));
    });
    println!("airline_ms {:.3} ms", s * 1e3);
}
