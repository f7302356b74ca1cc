//! Missing-value policies: never silent, always chosen.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What to do with empty cells in numeric columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Fail, naming the first missing cell (the default).
    #[default]
    Error,
    /// Carry the last observed value forward (a leading gap is an error).
    Ffill,
    /// Linear interpolation in row order between the neighbouring observations
    /// (a leading or trailing gap is an error).
    Interpolate,
    /// Drop every row with a missing value in any numeric column.
    Drop,
}

impl MissingPolicy {
    /// The policy's name as given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            MissingPolicy::Error => "error",
            MissingPolicy::Ffill => "ffill",
            MissingPolicy::Interpolate => "interpolate",
            MissingPolicy::Drop => "drop",
        }
    }
}

impl FromStr for MissingPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "error" => MissingPolicy::Error,
            "ffill" => MissingPolicy::Ffill,
            "interpolate" => MissingPolicy::Interpolate,
            "drop" => MissingPolicy::Drop,
            _ => {
                return Err(format!(
                    "unknown missing-value policy '{s}' (error, ffill, interpolate, drop)"
                ))
            }
        })
    }
}

/// Fill the `None`s of one column in place. Returns the index of the first value that
/// cannot be filled (a leading gap for ffill, a leading or trailing gap for interpolate).
pub(crate) fn fill(values: &mut [Option<f64>], policy: MissingPolicy) -> Result<(), usize> {
    match policy {
        MissingPolicy::Ffill => {
            let mut last = None;
            for (i, v) in values.iter_mut().enumerate() {
                match v {
                    Some(x) => last = Some(*x),
                    None => *v = Some(last.ok_or(i)?),
                }
            }
        }
        MissingPolicy::Interpolate => {
            let mut prev: Option<usize> = None;
            let mut i = 0;
            while i < values.len() {
                if values[i].is_some() {
                    prev = Some(i);
                    i += 1;
                    continue;
                }
                let start = prev.ok_or(i)?;
                let end = (i..values.len()).find(|&j| values[j].is_some()).ok_or(i)?;
                let (a, b) = (values[start].unwrap_or(0.0), values[end].unwrap_or(0.0));
                for (j, slot) in values.iter_mut().enumerate().take(end).skip(i) {
                    let w = (j - start) as f64 / (end - start) as f64;
                    *slot = Some(a + w * (b - a));
                }
                i = end;
            }
        }
        MissingPolicy::Error | MissingPolicy::Drop => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffill_and_interpolate() {
        let mut v = vec![Some(1.0), None, None, Some(4.0)];
        fill(&mut v, MissingPolicy::Interpolate).unwrap();
        assert_eq!(v, vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)]);
        let mut v = vec![Some(1.0), None, Some(3.0), None];
        fill(&mut v, MissingPolicy::Ffill).unwrap();
        assert_eq!(v, vec![Some(1.0), Some(1.0), Some(3.0), Some(3.0)]);
        let mut v = vec![None, Some(1.0)];
        assert_eq!(fill(&mut v, MissingPolicy::Ffill), Err(0));
        let mut v = vec![Some(1.0), None];
        assert_eq!(fill(&mut v, MissingPolicy::Interpolate), Err(1));
    }
}
