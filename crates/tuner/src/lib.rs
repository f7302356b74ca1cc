//! # tuner
//!
//! Hyperparameter search in the style of Ray Tune, for any objective: a search space
//! over configuration keys ([`space`]), search algorithms (random, grid, TPE:
//! [`search`]), schedulers that stop or exploit trials from their per-epoch results
//! (FIFO, ASHA, HyperBand, median stopping, PBT: [`scheduler`]), a parallel runner with
//! retries and budgets ([`runner`]), a resumable experiment store ([`store`]), a
//! study shared by many worker processes through PostgreSQL ([`pgstore`],
//! [`Experiment::run_shared`]) and hooks for tracking ([`observer`]).
//!
//! ```
//! use tuner::{Control, Experiment, SearchSpace, Store, TuneConfig};
//!
//! let space = SearchSpace::from_toml(r#"
//!     x = { uniform = [-2.0, 2.0] }
//!     steps = { grid = [1, 3] }
//! "#)?;
//! let mut config = TuneConfig::new("loss");
//! config.samples = 4; // 4 repeats of the 2-point grid
//! config.max_concurrent = 2;
//! let experiment = Experiment::new("quadratic", space, config);
//! let (summary, _store) = experiment.run(Store::in_memory("quadratic", serde_json::Value::Null), |trial| {
//!     let x = trial.params()["x"].as_f64().ok_or("x is not a number")?;
//!     let steps = trial.params()["steps"].as_u64().ok_or("steps is not an integer")?;
//!     for _ in 0..steps {
//!         if trial.report(&[("loss", x * x)], None) == Control::Stop {
//!             break;
//!         }
//!     }
//!     Ok(())
//! })?;
//! assert_eq!(summary.trials, 8);
//! assert!(summary.best.unwrap().metric < 1.0);
//! # Ok::<(), tuner::Error>(())
//! ```

pub mod error;
#[cfg(feature = "forecast")]
pub mod forecast;
pub mod observer;
#[cfg(feature = "postgres")]
pub mod pgstore;
pub mod runner;
pub mod scheduler;
pub mod search;
pub mod space;
pub mod store;
#[cfg(feature = "forecast")]
pub mod strategy;
#[cfg(feature = "forecast")]
pub mod study;
pub mod summary;
#[cfg(feature = "tracking")]
pub mod tracking;

pub use error::{Error, Result, TrialError};
pub use observer::{JsonlObserver, NoopObserver, TrialObserver};
#[cfg(feature = "postgres")]
pub use runner::SharedStudy;
pub use runner::{
    summarize, Best, Control, Experiment, Mode, Scope, Summary, TrialContext, TuneConfig,
};
pub use scheduler::{Action, Scheduler, SchedulerSpec};
pub use search::{SearchKind, Searcher};
pub use space::{Domain, Param, Params, SearchSpace};
pub use store::{Store, TrialRecord, TrialStatus};
