//! Invertible transforms, fitted on the training part only.
//!
//! A [`Transform`] is configuration; [`Transform::fit`] looks at training values once and
//! returns a [`FittedTransform`] whose `apply` / `inverse` never look at data again, so
//! validation and test rows cannot leak into the scaling.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A transform before fitting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transform {
    /// Identity.
    #[default]
    None,
    /// Natural logarithm (values must be positive).
    Log,
    /// Box-Cox with a fixed lambda (values must be positive).
    BoxCox {
        /// The power; 0 is the logarithm.
        lambda: f64,
    },
    /// `(x - mean) / sd`, mean and sd (ddof 0) of the training values.
    Standard,
    /// `(x - min) / (max - min)` with the training min and max.
    MinMax,
}

/// The transform as written in specs and on the command line (`log`, `boxcox:0.5`);
/// [`FromStr`] reads it back.
impl std::fmt::Display for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transform::None => write!(f, "none"),
            Transform::Log => write!(f, "log"),
            Transform::BoxCox { lambda } => write!(f, "boxcox:{lambda}"),
            Transform::Standard => write!(f, "standard"),
            Transform::MinMax => write!(f, "minmax"),
        }
    }
}

impl FromStr for Transform {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, arg) = match s.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        let bad = |m: &str| Error::config("transform", format!("'{s}': {m}"));
        Ok(match name {
            "none" => Transform::None,
            "log" => Transform::Log,
            "boxcox" => Transform::BoxCox {
                lambda: arg
                    .ok_or_else(|| bad("needs a lambda, e.g. boxcox:0.5"))?
                    .parse()
                    .map_err(|_| bad("lambda must be a number"))?,
            },
            "standard" => Transform::Standard,
            "minmax" => Transform::MinMax,
            "diff" | "difference" => {
                return Err(bad(
                    "differencing is a model's job (ARIMA's d and D, or --model drift), not a target transform",
                ))
            }
            _ => {
                return Err(bad(
                    "unknown transform (none, log, boxcox:L, standard, minmax)",
                ))
            }
        })
    }
}

/// A transform with its state learnt from the training values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FittedTransform {
    /// Identity.
    None,
    /// Natural logarithm.
    Log,
    /// Box-Cox.
    BoxCox {
        /// The power; 0 is the logarithm.
        lambda: f64,
    },
    /// Standard scaling.
    Standard {
        /// Mean of the training values.
        mean: f64,
        /// Standard deviation (ddof 0) of the training values.
        sd: f64,
    },
    /// Min-max scaling.
    MinMax {
        /// Smallest training value.
        min: f64,
        /// Largest training value.
        max: f64,
    },
}

fn positive(name: &str, x: &[f64]) -> Result<()> {
    match x.iter().position(|v| *v <= 0.0 || !v.is_finite()) {
        Some(i) => Err(Error::Transform {
            transform: name.into(),
            message: format!("value {} at position {} is not positive", x[i], i + 1),
        }),
        None => Ok(()),
    }
}

impl Transform {
    /// Learn the transform's state from training values.
    pub fn fit(&self, train: &[f64]) -> Result<FittedTransform> {
        if train.is_empty() {
            return Err(Error::TooFewRows {
                what: "fitting a transform".into(),
                needed: 1,
                available: 0,
            });
        }
        Ok(match *self {
            Transform::None => FittedTransform::None,
            Transform::Log => {
                positive("log", train)?;
                FittedTransform::Log
            }
            Transform::BoxCox { lambda } => {
                positive("boxcox", train)?;
                if !lambda.is_finite() {
                    return Err(Error::config("transform", "boxcox lambda must be finite"));
                }
                FittedTransform::BoxCox { lambda }
            }
            Transform::Standard => {
                let n = train.len() as f64;
                let mean = train.iter().sum::<f64>() / n;
                let sd = (train.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
                if sd == 0.0 {
                    return Err(Error::Transform {
                        transform: "standard".into(),
                        message: "training values are constant (standard deviation 0)".into(),
                    });
                }
                FittedTransform::Standard { mean, sd }
            }
            Transform::MinMax => {
                let min = train.iter().copied().fold(f64::INFINITY, f64::min);
                let max = train.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if max == min {
                    return Err(Error::Transform {
                        transform: "minmax".into(),
                        message: "training values are constant (max = min)".into(),
                    });
                }
                FittedTransform::MinMax { min, max }
            }
        })
    }
}

impl FittedTransform {
    /// Transform one value.
    fn forward_one(&self, v: f64) -> f64 {
        match self {
            FittedTransform::None => v,
            FittedTransform::Log => v.ln(),
            FittedTransform::BoxCox { lambda } => {
                if *lambda == 0.0 {
                    v.ln()
                } else {
                    (v.powf(*lambda) - 1.0) / lambda
                }
            }
            FittedTransform::Standard { mean, sd } => (v - mean) / sd,
            FittedTransform::MinMax { min, max } => (v - min) / (max - min),
        }
    }

    /// Invert one value. Monotone increasing, so it maps
    /// forecast quantiles to quantiles.
    pub fn inverse_one(&self, v: f64) -> f64 {
        match self {
            FittedTransform::None => v,
            FittedTransform::Log => v.exp(),
            FittedTransform::BoxCox { lambda } => {
                if *lambda == 0.0 {
                    v.exp()
                } else {
                    (lambda * v + 1.0).max(0.0).powf(1.0 / lambda)
                }
            }
            FittedTransform::Standard { mean, sd } => v * sd + mean,
            FittedTransform::MinMax { min, max } => v * (max - min) + min,
        }
    }

    /// Transform a series. Log / Box-Cox check positivity.
    pub fn apply(&self, x: &[f64]) -> Result<Vec<f64>> {
        match self {
            FittedTransform::Log => positive("log", x)?,
            FittedTransform::BoxCox { .. } => positive("boxcox", x)?,
            _ => {}
        }
        Ok(x.iter().map(|v| self.forward_one(*v)).collect())
    }

    /// Invert [`apply`](Self::apply).
    pub fn inverse(&self, y: &[f64]) -> Vec<f64> {
        y.iter().map(|v| self.inverse_one(*v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Within 1e-9 relative: of each value for the non-linear transforms, of the
    /// series' magnitude for the affine ones, whose round trip (`(x - m) / s * s + m`)
    /// loses absolute precision of that order.
    fn rel_close(a: &[f64], b: &[f64], elementwise: bool) -> bool {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                let r = if elementwise { y.abs() } else { scale };
                (x - y).abs() <= 1e-9 * r
            })
    }

    #[test]
    fn known_values() {
        // Independent values: ln(e) = 1; Box-Cox(4, 0.5) = (2 - 1) / 0.5 = 2.
        let t = Transform::Log.fit(&[1.0]).unwrap();
        assert!((t.apply(&[std::f64::consts::E]).unwrap()[0] - 1.0).abs() < 1e-15);
        let t = Transform::BoxCox { lambda: 0.5 }.fit(&[1.0]).unwrap();
        assert_eq!(t.apply(&[4.0]).unwrap(), vec![2.0]);
        let t = Transform::Standard.fit(&[1.0, 3.0]).unwrap();
        assert_eq!(t.apply(&[1.0, 3.0, 5.0]).unwrap(), vec![-1.0, 1.0, 3.0]);
        let t = Transform::MinMax.fit(&[2.0, 4.0]).unwrap();
        assert_eq!(t.apply(&[3.0, 6.0]).unwrap(), vec![0.5, 2.0]);
    }

    #[test]
    fn fitted_on_train_only() {
        // Scaling learnt on the training part does not move when test values change.
        let train = [1.0, 2.0, 3.0];
        let a = Transform::Standard.fit(&train).unwrap();
        let b = Transform::Standard.fit(&train).unwrap();
        assert_eq!(a.apply(&[100.0]).unwrap(), b.apply(&[100.0]).unwrap());
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(Transform::Log.fit(&[1.0, 0.0]).is_err());
        assert!(Transform::Standard.fit(&[2.0, 2.0]).is_err());
        assert!("boxcox".parse::<Transform>().is_err());
        let e = "diff:1".parse::<Transform>().unwrap_err().to_string();
        assert!(e.contains("ARIMA"), "{e}");
    }

    proptest! {
        #[test]
        fn inverse_of_apply_is_identity(
            x in proptest::collection::vec(0.001f64..1e5, 3..60),
            lambda in -1.0f64..2.0,
        ) {
            for t in [
                Transform::None,
                Transform::Log,
                Transform::BoxCox { lambda },
                Transform::Standard,
                Transform::MinMax,
            ] {
                let Ok(f) = t.fit(&x) else { continue }; // constant inputs are rejected
                let y = f.apply(&x).unwrap();
                let back = f.inverse(&y);
                let elementwise = matches!(t, Transform::Log | Transform::BoxCox { .. });
                prop_assert!(rel_close(&back, &x, elementwise), "{t:?}: {back:?} vs {x:?}");
            }
        }
    }
}
