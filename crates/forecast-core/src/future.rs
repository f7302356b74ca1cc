//! The regressors' values over the forecast horizon (ARIMAX), read from a table of
//! future rows: one row per future period, continuing the data the model last saw.
//!
//! A model fitted with input columns as regressors forecasts only when it is given
//! their values over the horizon. The model's own derived columns need not be given:
//! calendar indicators (`dow`, `month`) are computed from the future periods'
//! timestamps, and `lag_N` from the target's last `N` values (for the first `N` steps).

use crate::data::{format_timestamp, Column, Frame};
use crate::error::{Error, Result};
use crate::features::Feature;
use crate::pipeline::Forecaster;

/// The model's regressors over the forecast horizon, ready for
/// [`Forecaster::predict`]'s `future`.
#[derive(Debug, Clone, PartialEq)]
pub struct FutureInputs {
    /// Steps to forecast.
    pub horizon: usize,
    /// The regressors over those steps, by name, each `horizon` long.
    pub columns: Vec<Column>,
}

/// How the value of one regressor over the horizon is obtained.
enum Source<'a> {
    /// A column of the data: the table of future rows must hold it.
    Input,
    /// An indicator computed from the timestamps or the target's last values.
    Derived(&'a Feature),
}

/// Names joined as `'a', 'b'`.
fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn future_error(message: impl Into<String>) -> Error {
    Error::config("future", message)
}

impl Forecaster {
    /// Names of the regressors whose values over the horizon the forecast needs (see
    /// [`crate::FittedModel::regressors`]); empty for a model without regressors.
    pub fn regressors(&self) -> &[String] {
        self.model.regressors()
    }

    /// The regressors a table of future rows must hold: the data's input columns among
    /// [`Forecaster::regressors`] (the indicators the model computes itself are not
    /// needed).
    pub fn future_columns(&self) -> Vec<String> {
        self.regressors()
            .iter()
            .filter(|name| matches!(self.source(name), Source::Input))
            .cloned()
            .collect()
    }

    /// Whether `name` is read from the data or derived by an indicator of the model.
    fn source(&self, name: &str) -> Source<'_> {
        if self.schema.input_columns.iter().any(|c| c == name) {
            return Source::Input;
        }
        match self
            .schema
            .indicators
            .iter()
            .find(|f| f.columns().iter().any(|c| c == name))
        {
            Some(f) => Source::Derived(f),
            None => Source::Input,
        }
    }

    /// The regressors over the horizon, from `future` (a table of future rows, see the
    /// module documentation) and the model's own derived columns.
    ///
    /// The horizon is `horizon`, or `future`'s row count when `None`. With a time column
    /// the first `horizon` rows of `future` must be the periods that follow the model's
    /// last row, in order (rows after them are not read); without one, its first
    /// `horizon` rows are taken in file order. Errors name the file, the missing
    /// columns or rows, or the first timestamp that does not continue the series.
    ///
    /// A model without regressors takes no table (an error when one is given), and a
    /// model whose regressors include input columns needs one.
    pub fn future_inputs(
        &self,
        future: Option<&Frame>,
        horizon: Option<usize>,
    ) -> Result<FutureInputs> {
        let needed = self.regressors();
        if needed.is_empty() {
            if let Some(frame) = future {
                return Err(future_error(format!(
                    "{}: the model has no regressors (it was trained without input columns), so it takes no future values",
                    frame.source.display()
                )));
            }
        }
        let inputs = self.future_columns();
        let frame = match future {
            Some(frame) => frame,
            None => {
                if !inputs.is_empty() {
                    let names: Vec<&str> = inputs.iter().map(String::as_str).collect();
                    return Err(future_error(format!(
                        "the model was trained with regressors {}: forecasting needs their values over the horizon (a table of future rows with those columns)",
                        quoted(&names)
                    )));
                }
                let horizon = horizon
                    .filter(|h| *h >= 1)
                    .ok_or_else(|| Error::config("horizon", "must be at least 1"))?;
                let times = self.schema.future_times(horizon);
                let columns = self.derived(&[], horizon, times.as_deref(), None)?;
                return Ok(FutureInputs { horizon, columns });
            }
        };
        let path = frame.source.display();
        let rows = frame.len();
        let horizon = horizon.unwrap_or(rows);
        if horizon == 0 {
            return Err(Error::config("horizon", "must be at least 1"));
        }
        if rows < horizon {
            return Err(future_error(format!(
                "{path}: {rows} future row(s), the horizon is {horizon}: the file needs one row per future period"
            )));
        }
        let missing: Vec<&str> = inputs
            .iter()
            .filter(|name| !frame.columns.iter().any(|c| &c.name == *name))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let text: Vec<&str> = frame
                .text_columns
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| missing.contains(n))
                .collect();
            let all: Vec<&str> = inputs.iter().map(String::as_str).collect();
            let mut message = format!(
                "{path}: missing regressor column(s) {} (the model was trained with {})",
                quoted(&missing),
                quoted(&all)
            );
            if !text.is_empty() {
                message.push_str(&format!("; {} not numeric", quoted(&text)));
            }
            return Err(future_error(message));
        }
        let times = self.check_times(frame, horizon)?;
        self.derived(&frame.columns, horizon, times.as_deref(), Some(frame))
            .map(|columns| FutureInputs { horizon, columns })
    }

    /// With a time column, check that the first `horizon` rows of `frame` are the
    /// periods after the model's last row, and return those periods.
    fn check_times(
        &self,
        frame: &Frame,
        horizon: usize,
    ) -> Result<Option<Vec<chrono::NaiveDateTime>>> {
        let Some(expected) = self.schema.future_times(horizon) else {
            return Ok(None);
        };
        let path = frame.source.display();
        let column = self.schema.time_column.as_deref().unwrap_or("time");
        let Some(times) = &frame.times else {
            return Err(future_error(format!(
                "{path}: no time column (expected '{column}' with the future periods)"
            )));
        };
        let fmt = |t| format_timestamp(t, self.schema.date_only);
        for (i, (got, want)) in times.iter().zip(&expected).enumerate() {
            if got == want {
                continue;
            }
            let after = match i {
                0 => format!("the model's last row ({})", self.last_seen()),
                _ => fmt(expected[i - 1]),
            };
            return Err(future_error(if got > want {
                format!(
                    "{path}: future period {} is missing (the row after {after} is {})",
                    fmt(*want),
                    fmt(*got)
                )
            } else {
                format!(
                    "{path}: row {} has {column} {}, which is not the future period after {after} ({} expected)",
                    i + 1,
                    fmt(*got),
                    fmt(*want)
                )
            }));
        }
        Ok(Some(expected))
    }

    /// The model's last timestamp, formatted (or "none").
    fn last_seen(&self) -> String {
        self.schema
            .last_timestamp
            .map(|t| format_timestamp(t, self.schema.date_only))
            .unwrap_or_else(|| "none".into())
    }

    /// Every regressor over `horizon` steps, in the model's order: input columns from
    /// `given`, derived ones computed (or taken from `given` when it holds them).
    fn derived(
        &self,
        given: &[Column],
        horizon: usize,
        times: Option<&[chrono::NaiveDateTime]>,
        frame: Option<&Frame>,
    ) -> Result<Vec<Column>> {
        let mut out = Vec::with_capacity(self.regressors().len());
        for name in self.regressors() {
            if let Some(col) = given.iter().find(|c| &c.name == name) {
                let values = col.values[..horizon].to_vec();
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    let path = frame
                        .map(|f| format!("{}: ", f.source.display()))
                        .unwrap_or_default();
                    return Err(future_error(format!(
                        "{path}column '{name}' is not finite at future row {}",
                        i + 1
                    )));
                }
                out.push(Column {
                    name: name.clone(),
                    values,
                    integer: col.integer,
                });
                continue;
            }
            let values = match self.source(name) {
                Source::Input => {
                    return Err(future_error(format!(
                        "forecasting needs the future values of regressor '{name}'"
                    )))
                }
                Source::Derived(feature) => self.derive(feature, name, horizon, times)?,
            };
            out.push(Column {
                name: name.clone(),
                values,
                integer: false,
            });
        }
        Ok(out)
    }

    /// The indicator column `name` of `feature` over the horizon.
    fn derive(
        &self,
        feature: &Feature,
        name: &str,
        horizon: usize,
        times: Option<&[chrono::NaiveDateTime]>,
    ) -> Result<Vec<f64>> {
        match feature {
            Feature::DayOfWeek | Feature::Month => {
                let times = times.ok_or_else(|| {
                    future_error(format!(
                        "regressor '{name}' is computed from timestamps, and the model's data has none"
                    ))
                })?;
                let mut cols = feature.compute(&[], Some(times))?;
                cols.pop().ok_or_else(|| {
                    future_error(format!("regressor '{name}' could not be computed"))
                })
            }
            Feature::Lag(n) => {
                let n = *n;
                if horizon > n {
                    return Err(future_error(format!(
                        "regressor '{name}' is the target {n} step(s) back: beyond step {n} it would need the forecast's own unknown values (forecast at most {n} steps, or give '{name}' in the future rows)"
                    )));
                }
                let recent = &self.recent.target;
                if recent.len() < n {
                    return Err(future_error(format!(
                        "regressor '{name}' needs the target's last {n} values, and the model keeps {} (give '{name}' in the future rows)",
                        recent.len()
                    )));
                }
                let start = recent.len() - n;
                Ok(recent[start..start + horizon].to_vec())
            }
            other => Err(future_error(format!(
                "regressor '{name}' is computed from the target (indicator {other}), whose future values are unknown: give '{name}' in the future rows"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Frequency;
    use crate::series::{Series, SeriesSpec};
    use crate::{ForecasterSpec, ModelConfig};
    use chrono::{Datelike, NaiveDate, NaiveDateTime};
    use std::path::PathBuf;

    fn month(i: usize) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2000 + (i / 12) as i32, (i % 12) as u32 + 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    fn column(name: &str, values: Vec<f64>) -> Column {
        Column {
            name: name.into(),
            values,
            integer: false,
        }
    }

    fn frame(rows: std::ops::Range<usize>, columns: Vec<Column>) -> Frame {
        Frame {
            source: PathBuf::from("f.csv"),
            time_column: Some("date".into()),
            times: Some(rows.map(month).collect()),
            date_only: true,
            frequency: Frequency::MonthStart,
            calendar: None,
            columns,
            text_columns: vec![],
            repaired: 0,
        }
    }

    fn x(i: usize) -> f64 {
        (i as f64 * 0.9).cos()
    }

    /// An ARIMAX model on an input column, `lag:2` and `month`: the table gives `x`,
    /// the model computes `lag_2` from its last rows and `month` from the dates.
    #[test]
    fn derived_regressors_are_computed_and_inputs_read() {
        let n = 120;
        let y: Vec<f64> = (0..n)
            .map(|i| 10.0 + 2.0 * x(i) + (i as f64 * 0.37).sin())
            .collect();
        let data = frame(
            0..n,
            vec![column("y", y.clone()), column("x", (0..n).map(x).collect())],
        );
        let spec = SeriesSpec {
            target: "y".into(),
            features: vec!["x".into()],
            indicators: Feature::parse_list("lag:2,month").unwrap(),
            season_length: Some(12),
        };
        let series = Series::from_frame(&data, &spec).unwrap();
        let mut model = ModelConfig::from_kind("arima").unwrap();
        model.set("order", "[1,0,0]").unwrap();
        let f = ForecasterSpec::new(model).fit_quiet(&series).unwrap();
        assert_eq!(f.regressors(), ["x", "lag_2", "month"]);
        assert_eq!(f.future_columns(), ["x"]);

        let future = frame(n..n + 2, vec![column("x", vec![x(n), x(n + 1)])]);
        let got = f.future_inputs(Some(&future), None).unwrap();
        assert_eq!(got.horizon, 2);
        assert_eq!(got.columns[0].values, [x(n), x(n + 1)]);
        assert_eq!(got.columns[1].values, y[n - 2..]);
        let months: Vec<f64> = (n..n + 2).map(|i| month(i).month() as f64).collect();
        assert_eq!(got.columns[2].values, months);
        assert!(f.predict(2, &[], &got.columns).is_ok());

        // lag_2 is unknown beyond step 2.
        let three = frame(n..n + 3, vec![column("x", vec![0.0; 3])]);
        let e = f.future_inputs(Some(&three), None).unwrap_err().to_string();
        assert!(e.contains("lag_2"), "{e}");
        // No table: the input column is named.
        let e = f.future_inputs(None, Some(2)).unwrap_err().to_string();
        assert!(e.contains("'x'"), "{e}");
        // A table starting a month late: the missing period is named.
        let late = frame(n + 1..n + 3, vec![column("x", vec![0.0; 2])]);
        let e = f.future_inputs(Some(&late), None).unwrap_err().to_string();
        assert!(
            e.contains("f.csv") && e.contains("2010-01-01") && e.contains("missing"),
            "{e}"
        );
        // A table without the input column.
        let bare = frame(n..n + 2, vec![column("z", vec![0.0; 2])]);
        let e = f.future_inputs(Some(&bare), None).unwrap_err().to_string();
        assert!(e.contains("missing regressor column(s) 'x'"), "{e}");
    }
}
