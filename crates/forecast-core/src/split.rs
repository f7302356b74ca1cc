//! Time-ordered splits and rolling-origin folds. Every training window ends strictly
//! before its evaluation window begins; the constructors refuse anything else.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Contiguous, time-ordered train / validation / test ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Rows used for fitting.
    pub train: Range<usize>,
    /// Rows used for early stopping / calibration (may be empty).
    pub valid: Range<usize>,
    /// Rows held out for the final evaluation (may be empty).
    pub test: Range<usize>,
}

impl Split {
    /// Split `n` rows by fractions taken from the end: `[train | valid | test]`.
    pub fn by_fraction(n: usize, valid_fraction: f64, test_fraction: f64) -> Result<Split> {
        for (key, f) in [
            ("valid-fraction", valid_fraction),
            ("test-fraction", test_fraction),
        ] {
            if !(0.0..1.0).contains(&f) {
                return Err(Error::config(key, format!("{f} is not in [0, 1)")));
            }
        }
        let test = (n as f64 * test_fraction).round() as usize;
        let valid = (n as f64 * valid_fraction).round() as usize;
        if test + valid >= n {
            return Err(Error::TooFewRows {
                what: "a split with a non-empty training part".into(),
                needed: test + valid + 1,
                available: n,
            });
        }
        let train_end = n - test - valid;
        Ok(Split {
            train: 0..train_end,
            valid: train_end..train_end + valid,
            test: train_end + valid..n,
        })
    }
}

/// One rolling-origin fold: fit on rows `[0, origin)`, evaluate on `[origin, origin + horizon)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    origin: usize,
    horizon: usize,
}

impl Fold {
    /// A fold whose training part ends at `train_end` and whose test part starts at
    /// `test_start`. Refuses any overlap: the test window must start at or after the
    /// end of the training window.
    pub fn new(train_end: usize, test_start: usize, horizon: usize) -> Result<Fold> {
        if test_start < train_end {
            return Err(Error::config(
                "fold",
                format!(
                    "look-ahead: training rows end at {train_end} but the test window starts at {test_start}"
                ),
            ));
        }
        if test_start != train_end {
            return Err(Error::config(
                "fold",
                format!("gap between training end {train_end} and test start {test_start}"),
            ));
        }
        if horizon == 0 {
            return Err(Error::config("horizon", "must be at least 1"));
        }
        Ok(Fold {
            origin: train_end,
            horizon,
        })
    }

    /// First row of the test window (= number of training rows).
    pub fn origin(&self) -> usize {
        self.origin
    }

    /// Test window length.
    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// Training rows of `x`: everything strictly before the origin.
    pub fn train<'a, T>(&self, x: &'a [T]) -> &'a [T] {
        &x[..self.origin.min(x.len())]
    }

    /// Test rows of `x`.
    pub fn test<'a, T>(&self, x: &'a [T]) -> &'a [T] {
        &x[self.origin.min(x.len())..(self.origin + self.horizon).min(x.len())]
    }
}

/// How to place rolling-origin folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FoldPlan {
    /// `k` folds ending at the last row, origins `step` rows apart.
    Count {
        /// Number of folds.
        folds: usize,
        /// Rows between consecutive origins.
        step: usize,
    },
    /// First origin after `initial` rows, then every `step` rows while a full horizon fits.
    Initial {
        /// Rows before the first origin.
        initial: usize,
        /// Rows between consecutive origins.
        step: usize,
    },
}

/// Rolling-origin folds over `n` rows for forecasts of `horizon` steps; each fold must
/// leave at least `min_train` training rows.
pub fn rolling_origin(
    n: usize,
    horizon: usize,
    plan: FoldPlan,
    min_train: usize,
) -> Result<Vec<Fold>> {
    if horizon == 0 {
        return Err(Error::config("horizon", "must be at least 1"));
    }
    let origins: Vec<usize> = match plan {
        FoldPlan::Count { folds, step } => {
            if folds == 0 || step == 0 {
                return Err(Error::config("folds", "folds and step must be at least 1"));
            }
            let span = horizon + step * (folds - 1);
            let needed = span + min_train.max(1);
            if n < needed {
                return Err(Error::TooFewRows {
                    what: format!("{folds} folds of horizon {horizon} (step {step}) with {min_train} training rows"),
                    needed,
                    available: n,
                });
            }
            let first = n - span;
            (0..folds).map(|i| first + i * step).collect()
        }
        FoldPlan::Initial { initial, step } => {
            if step == 0 {
                return Err(Error::config("step", "must be at least 1"));
            }
            if initial < min_train.max(1) || initial + horizon > n {
                return Err(Error::TooFewRows {
                    what: format!("a first fold after {initial} rows with horizon {horizon}"),
                    needed: initial.max(min_train.max(1)) + horizon,
                    available: n,
                });
            }
            (initial..=n - horizon).step_by(step).collect()
        }
    };
    origins
        .into_iter()
        .map(|o| Fold::new(o, o, horizon))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_time_ordered() {
        let s = Split::by_fraction(100, 0.1, 0.2).unwrap();
        assert_eq!((s.train, s.valid, s.test), (0..70, 70..80, 80..100));
        assert!(Split::by_fraction(3, 0.5, 0.5).is_err());
    }

    #[test]
    fn folds_end_at_the_last_row() {
        let f = rolling_origin(144, 12, FoldPlan::Count { folds: 5, step: 12 }, 24).unwrap();
        assert_eq!(f.len(), 5);
        assert_eq!(f.last().unwrap().origin() + 12, 144);
        assert_eq!(f[0].origin(), 144 - 12 * 5);
        let x: Vec<usize> = (0..144).collect();
        for fold in &f {
            assert!(fold.train(&x).iter().all(|&i| i < fold.origin()));
            assert!(fold.test(&x).iter().all(|&i| i >= fold.origin()));
        }
    }

    #[test]
    fn a_fold_that_looks_ahead_is_refused() {
        // Training rows reaching into the test window must fail.
        assert!(Fold::new(100, 95, 10).is_err());
        assert!(Fold::new(100, 100, 10).is_ok());
    }

    #[test]
    fn too_short_is_an_error() {
        assert!(rolling_origin(20, 12, FoldPlan::Count { folds: 5, step: 12 }, 2).is_err());
        assert!(rolling_origin(
            20,
            5,
            FoldPlan::Initial {
                initial: 18,
                step: 1
            },
            2
        )
        .is_err());
    }
}
