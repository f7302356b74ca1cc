//! The combination of forecasts: the equally weighted average of several models fitted to
//! the same series (by default AutoARIMA, AutoETS and AutoTheta, the classic robust
//! benchmark of the M competitions' literature).
//!
//! **Point forecast**: the mean of the members' point forecasts.
//!
//! **Intervals**: each bound is the mean of the members' bounds at that level (quantile
//! averaging, "Vincentization"; Lichtendahl, Grushka-Cockayne & Winkler, 2013, "Is it
//! better to average probabilities or quantiles?", Management Science 59). The average
//! of the members' quantiles is the quantile of a distribution whose location is the
//! average of theirs and whose spread is the average of theirs; it is narrower than the
//! mixture of the members' distributions when the members disagree, which is what the
//! combined point forecast's smaller error calls for. The nominal coverage is not
//! guaranteed; check it on a backtest.
//!
//! Members are the per-series kinds (baselines, ARIMA, ETS, Theta); the networks, which
//! train one model across the series of a panel and save weights of their own, are not
//! members, nor is an ensemble.

use super::{Checked, Fit, FittedModel, ModelConfig, ModelFacts, Predict, TrainingData};
use crate::data::Column;
use crate::error::{Error, Result};
use crate::forecast::{Forecast, Interval};
use crate::reporter::Reporter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The equally weighted average of the members' forecasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ensemble {
    /// The members, by kind name (`--set members=auto-arima,auto-ets,auto-theta`), each
    /// with its default configuration.
    pub members: Vec<String>,
    /// Season length given to every member that takes one; `None` takes the data's.
    pub season_length: Option<usize>,
}

impl Default for Ensemble {
    fn default() -> Self {
        Ensemble {
            members: vec!["auto-arima".into(), "auto-ets".into(), "auto-theta".into()],
            season_length: None,
        }
    }
}

/// A fitted [`Ensemble`]: its fitted members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleFitted {
    /// The fitted members, in the configured order.
    pub members: Vec<FittedModel>,
    /// The regressors the members need over the horizon (those of an ARIMAX member).
    #[serde(default)]
    pub regressors: Vec<String>,
}

impl Ensemble {
    /// The members' configurations.
    fn configs(&self) -> Result<Vec<ModelConfig>> {
        if self.members.is_empty() {
            return Err(Error::config(
                "members",
                "an ensemble needs at least one member",
            ));
        }
        self.members
            .iter()
            .map(|name| {
                let mut c = ModelConfig::from_kind(name.trim())
                    .map_err(|e| Error::config("members", e.to_string()))?;
                if matches!(c, ModelConfig::Ensemble(_)) || c.is_global() {
                    return Err(Error::config(
                        "members",
                        format!(
                            "'{name}' cannot be a member (members are the per-series kinds: no networks, no ensembles)"
                        ),
                    ));
                }
                if let Some(m) = self.season_length {
                    if c.has_key("season_length") {
                        c.set_json("season_length", json!(m))?;
                    }
                }
                Ok(c)
            })
            .collect()
    }
}

impl ModelFacts for Ensemble {
    fn kind(&self) -> &'static str {
        "ensemble"
    }
    fn check(&self) -> Result<()> {
        if self.season_length == Some(0) {
            return Err(Error::config("season_length", "must be at least 1"));
        }
        self.configs().map(|_| ())
    }
    fn min_train_rows(&self, season_length: usize) -> usize {
        self.configs()
            .map(|cs| {
                cs.iter()
                    .map(|c| c.min_train_rows(season_length))
                    .max()
                    .unwrap_or(1)
            })
            .unwrap_or(1)
    }
}

impl Fit for Ensemble {
    type Fitted = EnsembleFitted;
    fn fit_checked(
        config: &Checked<Self>,
        data: &TrainingData<'_>,
        reporter: &mut dyn Reporter,
    ) -> Result<EnsembleFitted> {
        let members = config
            .configs()?
            .into_iter()
            .map(|c| {
                let kind = c.kind();
                c.fit(data, reporter).map_err(|e| Error::Numerical {
                    what: format!("the ensemble's member '{kind}'"),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let regressors = members
            .iter()
            .map(|m| m.regressors().to_vec())
            .max_by_key(|r| r.len())
            .unwrap_or_default();
        Ok(EnsembleFitted {
            members,
            regressors,
        })
    }
}

impl Predict for EnsembleFitted {
    fn predict(&self, horizon: usize, levels: &[f64], future: &[Column]) -> Result<Forecast> {
        let forecasts = self
            .members
            .iter()
            .map(|m| m.predict(horizon, levels, future))
            .collect::<Result<Vec<_>>>()?;
        let k = forecasts.len() as f64;
        let mean = |get: &dyn Fn(&Forecast) -> &[f64]| -> Vec<f64> {
            (0..horizon)
                .map(|i| forecasts.iter().map(|f| get(f)[i]).sum::<f64>() / k)
                .collect()
        };
        let point = mean(&|f| &f.point);
        let intervals = levels
            .iter()
            .enumerate()
            .map(|(j, &level)| Interval {
                level,
                lower: mean(&|f| &f.intervals[j].lower),
                upper: mean(&|f| &f.intervals[j].upper),
            })
            .collect();
        Ok(Forecast { point, intervals })
    }

    fn condition(&self, history: &TrainingData<'_>) -> Result<Self> {
        Ok(EnsembleFitted {
            members: self
                .members
                .iter()
                .map(|m| m.condition(history))
                .collect::<Result<_>>()?,
            regressors: self.regressors.clone(),
        })
    }

    fn extend(&self, rows: &TrainingData<'_>) -> Result<Self> {
        Ok(EnsembleFitted {
            members: self
                .members
                .iter()
                .map(|m| m.extend(rows))
                .collect::<Result<_>>()?,
            regressors: self.regressors.clone(),
        })
    }

    fn fit_stats(&self) -> Value {
        json!({
            "members": self
                .members
                .iter()
                .map(|m| json!({"kind": m.kind_name(), "fit": m.fit_stats()}))
                .collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::Silent;

    #[test]
    fn the_average_of_the_members() {
        let y: Vec<f64> = (0..48)
            .map(|t| 50.0 + t as f64 + 5.0 * ((t % 12) as f64))
            .collect();
        let data = TrainingData::univariate(&y, 12);
        let e = Ensemble {
            members: vec!["naive".into(), "seasonal-naive".into()],
            season_length: None,
        };
        let f = e.fit(&data, &mut Silent).unwrap();
        let fc = f.predict(3, &[80.0], &[]).unwrap();
        let a = FittedModel::Naive(
            crate::models::Naive::default()
                .fit(&data, &mut Silent)
                .unwrap(),
        )
        .predict(3, &[80.0], &[])
        .unwrap();
        let b = f.members[1].predict(3, &[80.0], &[]).unwrap();
        for i in 0..3 {
            assert!((fc.point[i] - (a.point[i] + b.point[i]) / 2.0).abs() < 1e-12);
            let lo = (a.intervals[0].lower[i] + b.intervals[0].lower[i]) / 2.0;
            assert!((fc.intervals[0].lower[i] - lo).abs() < 1e-12);
        }
    }

    #[test]
    fn bad_members_are_refused_naming_the_key() {
        for bad in [
            vec![],
            vec!["prophet".to_string()],
            vec!["lstm".into()],
            vec!["ensemble".into()],
        ] {
            let e = Ensemble {
                members: bad,
                season_length: None,
            }
            .check()
            .unwrap_err()
            .to_string();
            assert!(e.contains("members"), "{e}");
        }
    }
}
