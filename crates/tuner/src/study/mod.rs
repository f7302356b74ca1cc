//! Accuracy studies: one declarative spec (TOML) runs rolling-origin backtests of several
//! models at several horizons on one series, always beside the naive forecast on the
//! same folds, and reports the result.
//!
//! ```toml
//! name = "quick-airpassengers"
//! [data]
//! path = "datasets/airpassengers.csv"
//! target = "passengers"
//! [evaluation]
//! horizons = [12]
//! folds = 4          # origins end at the last row, `step` rows apart
//! step = 12          # default: the horizon
//! refit = "every"    # every | never | N (per model: `refit = ...`)
//! [[model]]
//! kind = "seasonal-naive"
//! [[model]]
//! kind = "arima"
//! name = "arima-airline"
//! transform = "log"
//! set = { order = "0,1,1", seasonal_order = "0,1,1,12" }
//! [[model]]
//! kind = "lstm"
//! set = { hidden_size = 16, epochs = 5 }
//! tune = { samples = 8, space = { learning_rate = { loguniform = [1e-4, 1e-2] } } }
//! ```
//!
//! Every model is checked before any data is touched: an unknown kind, an unknown
//! config key or a bad value is an error naming the model and the key. Models with a
//! `tune` table are tuned ([`tune`]) on the rows before the earliest evaluation window
//! only, so no test fold is seen while tuning.
//!
//! - [`spec`]: the TOML spec, checked before any data is touched;
//! - [`run`]: tuning and the backtests;
//! - [`report`]: what a study reports (JSON; the CLI renders the Markdown tables).

pub mod report;
pub mod run;
pub mod spec;
pub mod tune;

pub use report::{HorizonResult, ModelResult, StudyReport};
pub use run::Study;
pub use spec::{with_horizon, DataSpec, PreparedModel, StudyEvaluation, StudyModel, StudySpec};
pub use tune::TuneOutcome;
