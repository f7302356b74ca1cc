//! Windowed supervised data: a lookback window of inputs (the target and every feature
//! column), and the next `horizon` targets as one multi-output label.
//!
//! Inputs are standardised with means and deviations fitted on the training rows only.
//! The label is the target level, or its change since the window's last row
//! ([`TargetMode::Return`]; with `--transform log` that is the log return), standardised
//! too; [`Scaler::decode`] turns network outputs back into levels on the model's scale.

use crate::data::Column;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What the network predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TargetMode {
    /// The target's level `y[t+k]`.
    #[default]
    Level,
    /// The change `y[t+k] - y[t]` from the window's last row (the log return when the
    /// target is log-transformed); forecasts are reported as levels.
    Return,
}

/// Input and label standardisation, fitted on training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Mean of each input column (target first).
    pub mean: Vec<f64>,
    /// Standard deviation of each input column (1 where a column is constant).
    pub std: Vec<f64>,
    /// Mean of the label.
    pub label_mean: f64,
    /// Standard deviation of the label.
    pub label_std: f64,
    /// What the label is.
    pub mode: TargetMode,
}

fn mean_std(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count().max(1) as f64;
    let mean = v.clone().sum::<f64>() / n;
    let var = v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let std = var.sqrt();
    (
        mean,
        if std > 1e-12 && std.is_finite() {
            std
        } else {
            1.0
        },
    )
}

impl Scaler {
    /// Fit on the first `rows` rows of `table` (columns: target first, then features).
    pub fn fit(table: &[Vec<f64>], rows: usize, mode: TargetMode, horizon: usize) -> Scaler {
        let (mean, std): (Vec<f64>, Vec<f64>) = table
            .iter()
            .map(|c| mean_std(c[..rows].iter().copied()))
            .unzip();
        let y = &table[0][..rows];
        let (label_mean, label_std) = match mode {
            TargetMode::Level => (mean[0], std[0]),
            TargetMode::Return => {
                // Changes over 1..=horizon steps, all from the training rows.
                let d: Vec<f64> = (1..=horizon.min(rows.saturating_sub(1)).max(1))
                    .flat_map(|k| (k..rows).map(move |t| y[t] - y[t - k]))
                    .collect();
                let (_, s) = mean_std(d.iter().copied());
                (0.0, s)
            }
        };
        Scaler {
            mean,
            std,
            label_mean,
            label_std,
            mode,
        }
    }

    /// Standardised input value of column `c`.
    pub fn input(&self, c: usize, v: f64) -> f32 {
        ((v - self.mean[c]) / self.std[c]) as f32
    }

    /// Standardised label for target `y_future`, given the window's last target `y_last`.
    pub fn label(&self, y_future: f64, y_last: f64) -> f32 {
        let raw = match self.mode {
            TargetMode::Level => y_future,
            TargetMode::Return => y_future - y_last,
        };
        ((raw - self.label_mean) / self.label_std) as f32
    }

    /// A network output back to a level on the model's scale.
    pub fn decode(&self, out: f32, y_last: f64) -> f64 {
        let raw = out as f64 * self.label_std + self.label_mean;
        match self.mode {
            TargetMode::Level => raw,
            TargetMode::Return => y_last + raw,
        }
    }
}

/// The target and feature columns as one table, target first; checks lengths and values.
pub fn table(target: &[f64], features: &[Column]) -> Result<Vec<Vec<f64>>> {
    let mut t = Vec::with_capacity(1 + features.len());
    t.push(target.to_vec());
    for c in features {
        if c.values.len() != target.len() {
            return Err(Error::config(
                "features",
                format!(
                    "column '{}' has {} rows, the target {}",
                    c.name,
                    c.values.len(),
                    target.len()
                ),
            ));
        }
        t.push(c.values.clone());
    }
    for (ci, c) in t.iter().enumerate() {
        if let Some(i) = c.iter().position(|v| !v.is_finite()) {
            let name = if ci == 0 {
                "target".to_string()
            } else {
                features[ci - 1].name.clone()
            };
            return Err(Error::Numerical {
                what: "neural network inputs".into(),
                message: format!("column '{name}' is not finite at row {}", i + 1),
            });
        }
    }
    Ok(t)
}

/// Supervised windows over one table: flat `f32` inputs `[n, lookback, features]` and
/// labels `[n, horizon]`, plus each window's last target (to decode returns).
#[derive(Debug, Clone, Default)]
pub struct Windows {
    /// Inputs, row-major `[n, lookback, features]`.
    pub x: Vec<f32>,
    /// Labels, row-major `[n, horizon]`.
    pub y: Vec<f32>,
    /// Target at each window's last input row, model scale.
    pub last: Vec<f64>,
    /// Targets of each window's horizon, model scale, row-major `[n, horizon]`.
    pub actual: Vec<f64>,
    /// Each window's row of the series embedding of a global model (`None`: none).
    pub series: Vec<Option<u32>>,
    /// Number of windows.
    pub n: usize,
    /// Lookback length.
    pub lookback: usize,
    /// Input features per step.
    pub features: usize,
    /// Steps per label.
    pub horizon: usize,
}

impl Windows {
    /// Windows whose last input row `e` lies in `ends` (labels are rows `e+1..=e+horizon`).
    pub fn build(
        table: &[Vec<f64>],
        scaler: &Scaler,
        lookback: usize,
        horizon: usize,
        ends: std::ops::Range<usize>,
    ) -> Windows {
        let f = table.len();
        let mut w = Windows {
            lookback,
            features: f,
            horizon,
            ..Windows::default()
        };
        for e in ends {
            let last = table[0][e];
            for r in e + 1 - lookback..=e {
                for (c, col) in table.iter().enumerate() {
                    w.x.push(scaler.input(c, col[r]));
                }
            }
            for k in 1..=horizon {
                let v = table[0][e + k];
                w.y.push(scaler.label(v, last));
                w.actual.push(v);
            }
            w.last.push(last);
            w.series.push(None);
            w.n += 1;
        }
        w
    }

    /// The same windows, all of the series at row `row` of the series embedding.
    pub fn of_series(mut self, row: u32) -> Windows {
        self.series = vec![Some(row); self.n];
        self
    }

    /// Append the windows of `more` (same lookback, features and horizon).
    pub fn append(&mut self, more: Windows) {
        if self.n == 0 && self.x.is_empty() {
            *self = more;
            return;
        }
        self.x.extend(more.x);
        self.y.extend(more.y);
        self.last.extend(more.last);
        self.actual.extend(more.actual);
        self.series.extend(more.series);
        self.n += more.n;
    }

    /// The windows at `idx` as one mini-batch.
    pub fn batch(&self, idx: &[usize]) -> Batch {
        Batch {
            x: self.gather_x(idx),
            y: self.gather_y(idx),
            ids: idx.iter().map(|&i| self.series[i]).collect(),
            shape: [idx.len(), self.lookback, self.features],
        }
    }

    /// Inputs of the windows at `idx`, flat.
    pub fn gather_x(&self, idx: &[usize]) -> Vec<f32> {
        let s = self.lookback * self.features;
        let mut out = Vec::with_capacity(idx.len() * s);
        for &i in idx {
            out.extend_from_slice(&self.x[i * s..(i + 1) * s]);
        }
        out
    }

    /// Labels of the windows at `idx`, flat.
    pub fn gather_y(&self, idx: &[usize]) -> Vec<f32> {
        let mut out = Vec::with_capacity(idx.len() * self.horizon);
        for &i in idx {
            out.extend_from_slice(&self.y[i * self.horizon..(i + 1) * self.horizon]);
        }
        out
    }
}

/// One mini-batch of windows.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Inputs, row-major `[b, lookback, features]`.
    pub x: Vec<f32>,
    /// Labels, row-major `[b, horizon]`.
    pub y: Vec<f32>,
    /// Each window's row of the series embedding (see [`Windows::series`]).
    pub ids: Vec<Option<u32>>,
    /// `[b, lookback, features]`.
    pub shape: [usize; 3],
}

/// The input window ending at the last row of `table`, standardised, flat.
pub fn last_window(table: &[Vec<f64>], scaler: &Scaler, lookback: usize) -> Result<Vec<f32>> {
    let n = table[0].len();
    if n < lookback {
        return Err(Error::TooFewRows {
            what: format!("a forecast with lookback {lookback}"),
            needed: lookback,
            available: n,
        });
    }
    let mut x = Vec::with_capacity(lookback * table.len());
    for r in n - lookback..n {
        for (c, col) in table.iter().enumerate() {
            x.push(scaler.input(c, col[r]));
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_inputs_and_labels() {
        let t = vec![(0..10).map(|i| i as f64).collect::<Vec<_>>()];
        let s = Scaler {
            mean: vec![0.0],
            std: vec![1.0],
            label_mean: 0.0,
            label_std: 1.0,
            mode: TargetMode::Level,
        };
        let w = Windows::build(&t, &s, 3, 2, 2..8);
        assert_eq!(w.n, 6);
        assert_eq!(&w.x[..3], &[0.0, 1.0, 2.0]);
        assert_eq!(&w.y[..2], &[3.0, 4.0]);
        assert_eq!(&w.y[10..12], &[8.0, 9.0]);
        let r = Scaler {
            mode: TargetMode::Return,
            ..s
        };
        let w = Windows::build(&t, &r, 3, 2, 2..3);
        assert_eq!(w.y, vec![1.0, 2.0]);
        assert_eq!(r.decode(2.0, 2.0), 4.0);
    }

    #[test]
    fn scaler_uses_training_rows_only() {
        let t = vec![vec![1.0, 3.0, 100.0]];
        let s = Scaler::fit(&t, 2, TargetMode::Level, 1);
        assert_eq!(s.mean[0], 2.0);
        assert_eq!(s.std[0], 1.0);
    }
}
