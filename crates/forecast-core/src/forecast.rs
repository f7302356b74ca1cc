//! Forecasts: point values plus prediction intervals at any levels.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// A central prediction interval at one level (e.g. 95 for 95%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Coverage in percent, in (0, 100).
    pub level: f64,
    /// Lower bound per step.
    pub lower: Vec<f64>,
    /// Upper bound per step.
    pub upper: Vec<f64>,
}

/// A multi-step forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Point forecast per step (the mean on the model's scale; the median after a
    /// non-linear back-transform such as log).
    pub point: Vec<f64>,
    /// Intervals, one per requested level, in the order requested.
    pub intervals: Vec<Interval>,
}

impl Forecast {
    /// A forecast from Gaussian point forecasts and per-step standard deviations.
    pub fn gaussian(point: Vec<f64>, sd: &[f64], levels: &[f64]) -> Result<Self> {
        let intervals = levels
            .iter()
            .map(|&level| {
                let z = normal_quantile(level_to_prob(level)?);
                Ok(Interval {
                    level,
                    lower: point.iter().zip(sd).map(|(p, s)| p - z * s).collect(),
                    upper: point.iter().zip(sd).map(|(p, s)| p + z * s).collect(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Forecast { point, intervals })
    }

    /// Apply a monotone increasing map (a back-transform) to points and bounds.
    /// Quantiles map exactly through a monotone map, so the intervals keep their coverage.
    pub fn map(mut self, f: impl Fn(f64) -> f64) -> Self {
        self.point.iter_mut().for_each(|v| *v = f(*v));
        for i in &mut self.intervals {
            i.lower.iter_mut().for_each(|v| *v = f(*v));
            i.upper.iter_mut().for_each(|v| *v = f(*v));
        }
        self
    }

    /// Number of steps.
    pub fn horizon(&self) -> usize {
        self.point.len()
    }
}

/// Check a level (percent) and turn it into the upper quantile's probability.
pub fn level_to_prob(level: f64) -> Result<f64> {
    if !(level > 0.0 && level < 100.0) {
        return Err(Error::config(
            "level",
            format!("{level} is not a coverage in percent strictly between 0 and 100"),
        ));
    }
    Ok(0.5 + level / 200.0)
}

/// Standard normal quantile function (Wichura's algorithm AS 241, about 1e-16 relative
/// accuracy). `p` must be in (0, 1).
// The coefficients are quoted as published.
#[allow(clippy::excessive_precision, clippy::inconsistent_digit_grouping)]
pub fn normal_quantile(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q
            * (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r
                + 67265.770927008700853)
                * r
                + 45921.953931549871457)
                * r
                + 13731.693765509461125)
                * r
                + 1971.5909503065514427)
                * r
                + 133.14166789178437745)
                * r
                + 3.387132872796366608)
            / (((((((r * 5226.495278852545925 + 28729.085735721942674) * r
                + 39307.89580009271061)
                * r
                + 21213.794301586595867)
                * r
                + 5394.1960214247511077)
                * r
                + 687.1870074920579083)
                * r
                + 42.313330701600911252)
                * r
                + 1.0);
    }
    let r0 = if q < 0.0 { p } else { 1.0 - p };
    let mut r = (-r0.ln()).sqrt();
    let val = if r <= 5.0 {
        r -= 1.6;
        (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r
            + 0.24178072517745061177)
            * r
            + 1.27045825245236838258)
            * r
            + 3.64784832476320460504)
            * r
            + 5.7694972214606914055)
            * r
            + 4.6303378461565452959)
            * r
            + 1.42343711074968357734)
            / (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r
                + 0.0151986665636164571966)
                * r
                + 0.14810397642748007459)
                * r
                + 0.68976733498510000455)
                * r
                + 1.6763848301838038494)
                * r
                + 2.05319162663775882187)
                * r
                + 1.0)
    } else {
        r -= 5.0;
        (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r
            + 0.0012426609473880784386)
            * r
            + 0.026532189526576123093)
            * r
            + 0.29656057182850489123)
            * r
            + 1.7848265399172913358)
            * r
            + 5.4637849111641143699)
            * r
            + 6.6579046435011037772)
            / (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r
                + 1.8463183175100546818e-5)
                * r
                + 7.868691311456132591e-4)
                * r
                + 0.0148753612908506148525)
                * r
                + 0.13692988092273580531)
                * r
                + 0.59983220655588793769)
                * r
                + 1.0)
    };
    if q < 0.0 {
        -val
    } else {
        val
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tables() {
        // Reference values: scipy.stats.norm.ppf.
        for (p, z) in [
            (0.975, 1.959963984540054),
            (0.9, 1.2815515655446004),
            (0.5, 0.0),
            (0.995, 2.5758293035489004),
            (1e-10, -6.361340902404056),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-12, "{p}");
        }
    }

    #[test]
    fn rejects_bad_levels() {
        assert!(level_to_prob(0.0).is_err());
        assert!(level_to_prob(100.0).is_err());
        assert!(level_to_prob(f64::NAN).is_err());
    }
}
