//! # forecast-core
//!
//! Time-series forecasting in Rust: load and validate data, compute features, fit models
//! (baselines today; the ARIMA family and neural networks plug into the same API),
//! forecast with prediction intervals in the user's units, backtest without
//! look-ahead, and save models as artifacts.
//!
//! ```
//! use forecast_core::{ForecasterSpec, ModelConfig, Series};
//!
//! // Monthly data with a yearly season.
//! let y: Vec<f64> = (0..48)
//!     .map(|i| 100.0 + 10.0 * ((i % 12) as f64) + (i as f64 * 0.37).sin())
//!     .collect();
//! let series = Series::from_values(y.clone(), 12);
//! let spec = ForecasterSpec::new(ModelConfig::from_kind("seasonal-naive")?);
//! let fitted = spec.fit_quiet(&series)?;
//! let fc = fitted.predict(12, &[80.0, 95.0], &[])?;
//! assert_eq!(fc.point[0], y[36]); // the same month one year earlier
//! assert!(fc.intervals[1].lower[0] < fc.intervals[0].lower[0]);
//! # Ok::<(), forecast_core::Error>(())
//! ```

pub mod artifact;
pub mod backtest;
pub mod data;
pub mod dataset;
pub mod diagnostics;
pub mod error;
pub mod features;
pub mod forecast;
pub mod fsio;
pub mod future;
pub mod metrics;
pub mod models;
pub mod panel;
pub mod pipeline;
pub mod reporter;
pub mod series;
pub mod split;
pub mod strategy;
pub mod transform;

pub use backtest::{backtest, BacktestReport, BacktestSpec, Refit};
pub use data::{load, Frame, LoadOptions, MissingPolicy};
pub(crate) use error::ensure_config;
pub use error::{Error, Result};
pub use forecast::Forecast;
pub use future::FutureInputs;
pub use models::{FittedModel, ModelConfig};
pub use pipeline::{Forecaster, ForecasterSpec};
pub use reporter::{Decision, EpochReport, Reporter};
pub use series::{Series, SeriesSpec};
