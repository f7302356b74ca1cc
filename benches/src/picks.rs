//! statsforecast's AutoARIMA choices beside ours: the record its peer scripts write (one
//! line per fitted window: `case fold p d q P D Q m constant aicc coefs…`, coefficients
//! in the order ar, ma, sar, sma; `case fold failed` where its search failed) and the
//! comparison of the chosen models.
//!
//! statsforecast's AICc is recomputed from its own coefficients with our exact
//! likelihood (mean / drift at their ML value given those coefficients; σ² profiled out),
//! in the convention of the reference (`k` = coefficients + 1, `n* = n − d − D·m`),
//! because the log-likelihood statsforecast reports is not always the exact one at its
//! coefficients. Windows where the two chose different differencing orders are counted
//! apart: their criteria are on different series and do not compare.

use forecast_core::models::arima::{Arima, ArimaFitted, Trend};
use forecast_core::models::TrainingData;
use std::collections::BTreeMap;

/// One window of statsforecast's record.
pub struct Pick {
    order: [usize; 3],
    seasonal: [usize; 3],
    season: usize,
    constant: bool,
    coefs: Vec<f64>,
}

/// statsforecast's record, by `(case, fold)`; `None` where its search failed.
pub type Picks = BTreeMap<(String, usize), Option<Pick>>;

/// Parses the record a peer script wrote; `Err` names the line that does not parse.
pub fn parse_picks(text: &str) -> Result<Picks, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = || format!("statsforecast record, line {}: {line:?}", n + 1);
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            return Err(bad());
        }
        let key = (f[0].to_string(), f[1].parse().map_err(|_| bad())?);
        if f[2] == "failed" {
            out.insert(key, None);
            continue;
        }
        if f.len() < 11 {
            return Err(bad());
        }
        let u = |i: usize| f[i].parse::<usize>().map_err(|_| bad());
        let pick = Pick {
            order: [u(2)?, u(3)?, u(4)?],
            seasonal: [u(5)?, u(6)?, u(7)?],
            season: u(8)?,
            constant: f[9] == "1",
            coefs: f[11..]
                .iter()
                .map(|v| v.parse().map_err(|_| bad()))
                .collect::<Result<_, _>>()?,
        };
        out.insert(key, Some(pick));
    }
    Ok(out)
}

/// AICc of statsforecast's pick at its own ARMA coefficients, by our exact likelihood.
fn their_aicc(y: &[f64], season: usize, pick: &Pick) -> Option<f64> {
    let config = Arima {
        order: pick.order,
        seasonal_order: [
            pick.seasonal[0],
            pick.seasonal[1],
            pick.seasonal[2],
            pick.season,
        ],
        constant: Some(pick.constant),
        ..Arima::default()
    };
    let ll = config
        .profile_loglik(&TrainingData::univariate(y, season), &pick.coefs)
        .ok()
        .flatten()?;
    let k = (pick.coefs.len() + usize::from(pick.constant) + 1) as f64;
    let nstar = y
        .len()
        .checked_sub(pick.order[1] + pick.seasonal[1] * pick.season)? as f64;
    let den = nstar - k - 1.0;
    (den > 0.0).then(|| -2.0 * ll + 2.0 * k + 2.0 * k * (k + 1.0) / den)
}

/// One fitted window: its key in the record, the data it was fitted to, our fit.
pub struct Window<'a> {
    /// `case` of the record.
    pub case: &'a str,
    /// `fold` of the record.
    pub fold: usize,
    /// The training window.
    pub y: &'a [f64],
    /// Our search's choice (`None`: the search failed).
    pub ours: Option<&'a ArimaFitted>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Prints `#` lines comparing our choices with statsforecast's over `windows` (all of
/// season length `season`; `unit` names them, "folds" or "series"), under `label`: how often both chose the same model, and how
/// often our chosen model's AICc is at most statsforecast's.
pub fn compare(label: &str, unit: &str, season: usize, windows: &[Window], picks: &Picks) {
    let (mut same_model, mut same_diff, mut le, mut worse, mut unevaluable) = (0, 0, 0, 0, 0);
    let (mut our_fail, mut their_fail) = (0, 0);
    let mut deltas = Vec::new();
    let mut worst: Option<(f64, String)> = None;
    for w in windows {
        let Some(fit) = w.ours else {
            our_fail += 1;
            continue;
        };
        let Some(Some(pick)) = picks.get(&(w.case.to_string(), w.fold)) else {
            their_fail += 1;
            continue;
        };
        let our_seasonal = [
            fit.seasonal_order[0],
            fit.seasonal_order[1],
            fit.seasonal_order[2],
        ];
        let our_constant = fit.trend != Trend::None;
        let our_sd = if season > 1 { our_seasonal[1] } else { 0 };
        if fit.order == pick.order
            && (season <= 1 || our_seasonal == pick.seasonal)
            && our_constant == pick.constant
        {
            same_model += 1;
        }
        if fit.order[1] != pick.order[1] || our_sd != pick.seasonal[1] {
            continue;
        }
        same_diff += 1;
        let Some(theirs) = their_aicc(w.y, season, pick) else {
            unevaluable += 1;
            continue;
        };
        let delta = fit.aicc() - theirs;
        deltas.push(delta);
        // 1e-6: the two optimisers may stop a rounding step apart on the same optimum.
        if delta <= 1e-6 {
            le += 1;
        } else {
            worse += 1;
            if worst.as_ref().is_none_or(|(d, _)| delta > *d) {
                worst = Some((
                    delta,
                    format!("{} {}: ours {}", w.case, w.fold, fit.describe()),
                ));
            }
        }
    }
    let n = windows.len();
    println!(
        "# {label}: {n} {unit}; same model {same_model}; same d and D {same_diff}, of which our AICc <= statsforecast's {le}, worse {worse}, not evaluable {unevaluable}; search failed: ours {our_fail}, statsforecast {their_fail}"
    );
    if !deltas.is_empty() {
        println!(
            "# {label}: AICc ours - statsforecast (same d, D): median {:.3}, min {:.3}, max {:.3}{}",
            median(deltas.clone()),
            deltas.iter().copied().fold(f64::INFINITY, f64::min),
            deltas.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            worst
                .map(|(d, w)| format!(" (worst: {w}, +{d:.3})"))
                .unwrap_or_default()
        );
    }
}
