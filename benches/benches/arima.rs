//! ARIMA: one Kalman filter pass (the likelihood evaluation the optimiser repeats), one
//! ARIMA(1,1,1) fit on the 7,983 MSFT closes, one airline-model fit on airpassengers, and
//! one AutoARIMA search (defaults: stepwise, AICc) on the last 250 MSFT closes and on the
//! 144 airpassengers months (m = 12).

use criterion::{criterion_group, criterion_main, Criterion};
use forecast_benches::{dataset_column, msft_close};
use forecast_core::models::arima::kalman::{filter, StateSpace};
use forecast_core::models::arima::{Arima, AutoArima};
use forecast_core::models::{Fit, TrainingData};
use forecast_core::reporter::Silent;
use std::hint::black_box;

fn arima(c: &mut Criterion) {
    let close = msft_close();
    let diff: Vec<f64> = close.windows(2).map(|w| w[1] - w[0]).collect();
    // ARMA(1,1) at msft_close ARIMA(1,1,1)'s optimum.
    let ss = StateSpace::new(&[0.684], &[-0.703]);
    c.bench_function("arima/kalman_filter_arma11_7982_obs", |b| {
        b.iter(|| black_box(filter(black_box(&ss), &[&diff]).expect("stationary")))
    });
    let mut group = c.benchmark_group("arima");
    group.sample_size(10);
    let arima111 = Arima {
        order: [1, 1, 1],
        constant: Some(false),
        ..Arima::default()
    };
    group.bench_function("fit_arima111_msft_7983", |b| {
        b.iter(|| {
            black_box(
                arima111
                    .fit(&TrainingData::univariate(&close, 1), &mut Silent)
                    .expect("fits"),
            )
        })
    });
    let air = dataset_column("airpassengers.csv", "passengers");
    let airline = Arima {
        order: [0, 1, 1],
        seasonal_order: [0, 1, 1, 12],
        constant: Some(false),
        ..Arima::default()
    };
    group.bench_function("fit_airline_airpassengers_144", |b| {
        b.iter(|| {
            black_box(
                airline
                    .fit(&TrainingData::univariate(&air, 12), &mut Silent)
                    .expect("fits"),
            )
        })
    });
    let last250 = &close[close.len() - 250..];
    group.bench_function("auto_arima_msft_last_250", |b| {
        b.iter(|| {
            black_box(
                AutoArima::default()
                    .fit(&TrainingData::univariate(last250, 1), &mut Silent)
                    .expect("search succeeds"),
            )
        })
    });
    group.bench_function("auto_arima_airpassengers_144_m12", |b| {
        b.iter(|| {
            black_box(
                AutoArima::default()
                    .fit(&TrainingData::univariate(&air, 12), &mut Silent)
                    .expect("search succeeds"),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, arima);
criterion_main!(benches);
