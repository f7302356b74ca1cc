//! Signals from indicators: one value per bar, +1 (long), −1 (short or exit), 0 (hold).

use super::spec::{CrossMode, ForecastSignal, SignalSpec};
use crate::error::{Error, Result};
use crate::features::indicators::{bbands, ema, macd, rsi, sma};
use crate::pipeline::ForecasterSpec;
use crate::series::Series;
use rayon::prelude::*;

/// The signal of `spec` on every bar of `close`: +1, −1 or 0. A bar whose indicators
/// are not defined yet (warm-up) gives 0. Bar `t` uses the closes up to `t` only.
/// Errors: a forecast signal's model failing at some origin (naming the bar).
pub fn signal(spec: &SignalSpec, close: &[f64]) -> Result<Vec<i8>> {
    signal_from(spec, close, 0)
}

/// [`signal`] where only the bars from `from` on are needed: a forecast signal fits
/// only the origins that decide those bars (what a live rule needs on each new bar);
/// the values from `from` on equal [`signal`]'s, earlier ones may be 0.
pub fn signal_from(spec: &SignalSpec, close: &[f64], from: usize) -> Result<Vec<i8>> {
    Ok(match spec {
        SignalSpec::SmaCross { fast, slow, mode } => {
            lines(&sma(close, *fast), &sma(close, *slow), *mode)
        }
        SignalSpec::EmaCross { fast, slow, mode } => {
            lines(&ema(close, *fast), &ema(close, *slow), *mode)
        }
        SignalSpec::Macd {
            fast,
            slow,
            signal,
            mode,
        } => {
            let [line, sig, _] = macd(close, *fast, *slow, *signal);
            lines(&line, &sig, *mode)
        }
        SignalSpec::Rsi {
            period,
            lower,
            upper,
        } => rsi(close, *period)
            .iter()
            .map(|r| {
                if *r < *lower {
                    1
                } else if *r > *upper {
                    -1
                } else {
                    0
                }
            })
            .collect(),
        SignalSpec::Bbands { period, k } => {
            let [up, _, low] = bbands(close, *period, *k);
            close
                .iter()
                .zip(up.iter().zip(&low))
                .map(|(c, (u, l))| {
                    if c < l {
                        1
                    } else if c > u {
                        -1
                    } else {
                        0
                    }
                })
                .collect()
        }
        SignalSpec::Forecast(f) => forecast(spec, f, close, from)?,
        SignalSpec::All { signals, confirm } => {
            combine(signals, close, *confirm, from, |vals, v| {
                vals.iter().all(|x| *x == v)
            })?
        }
        SignalSpec::Any { signals, confirm } => {
            combine(signals, close, *confirm, from, |vals, v| {
                vals.contains(&v) && !vals.contains(&-v)
            })?
        }
    })
}

/// A `forecast` signal, walk-forward: the refit origins are independent, so they run in
/// parallel; between two origins the fitted state is extended bar by bar. Origins whose
/// bars all lie before `from` are skipped.
fn forecast(spec: &SignalSpec, f: &ForecastSignal, close: &[f64], from: usize) -> Result<Vec<i8>> {
    let ForecastSignal {
        horizon,
        threshold_pct,
        level,
        min_train,
        refit_every,
        window,
        season_length,
        ..
    } = f;
    let n = close.len();
    let mut out = vec![0i8; n];
    let first = min_train - 1;
    if first >= n {
        return Ok(out);
    }
    let model = spec
        .model_config("signal")?
        .ok_or_else(|| Error::config("signal.model", "no model"))?;
    let fit = ForecasterSpec::new(model);
    let levels: Vec<f64> = level.iter().copied().collect();
    let thr = threshold_pct / 100.0;
    let origins: Vec<usize> = (first..n)
        .step_by(*refit_every)
        .filter(|t0| t0 + refit_every > from)
        .collect();
    let parts: Vec<Result<Vec<(usize, i8)>>> = origins
        .par_iter()
        .map(|&t0| {
            let at = |e: Error| {
                Error::config(
                    "signal.model",
                    format!("the forecast at bar {t0} failed: {e}"),
                )
            };
            let start = window.map_or(0, |w| (t0 + 1).saturating_sub(w));
            let series = Series::from_values(close[start..=t0].to_vec(), *season_length);
            let mut fc = fit.fit_quiet(&series).map_err(at)?;
            let end = (t0 + refit_every).min(n);
            let mut vals = Vec::with_capacity(end - t0);
            for t in t0..end {
                if t > t0 {
                    fc = fc.extend(&close[t..=t], &[], &[]).map_err(at)?;
                }
                let p = fc.predict(*horizon, &levels, &[]).map_err(at)?;
                let c = close[t];
                let v = match p.intervals.first() {
                    Some(band) if level.is_some() => {
                        let (lo, hi) = (band.lower[horizon - 1], band.upper[horizon - 1]);
                        if lo > c {
                            1
                        } else if hi < c {
                            -1
                        } else {
                            0
                        }
                    }
                    _ => {
                        let r = p.point[horizon - 1] / c - 1.0;
                        if r > thr {
                            1
                        } else if r < -thr {
                            -1
                        } else {
                            0
                        }
                    }
                };
                vals.push((t, v));
            }
            Ok(vals)
        })
        .collect();
    for part in parts {
        for (t, v) in part? {
            out[t] = v;
        }
    }
    Ok(out)
}

/// Two lines: in `Cross` mode +1 on the bar where `a` goes from strictly below `b` to
/// strictly above (backtesting.py's `crossover(a, b)`), −1 the other way round; in
/// `State` mode the sign of `a − b`. NaN compares false, so warm-up gives 0.
fn lines(a: &[f64], b: &[f64], mode: CrossMode) -> Vec<i8> {
    let n = a.len().min(b.len());
    (0..n)
        .map(|t| match mode {
            CrossMode::State => {
                if a[t] > b[t] {
                    1
                } else if a[t] < b[t] {
                    -1
                } else {
                    0
                }
            }
            CrossMode::Cross if t == 0 => 0,
            CrossMode::Cross => {
                if a[t - 1] < b[t - 1] && a[t] > b[t] {
                    1
                } else if b[t - 1] < a[t - 1] && b[t] > a[t] {
                    -1
                } else {
                    0
                }
            }
        })
        .collect()
}

/// Members combined bar by bar (`agrees(values, v)`: whether the members' values make
/// `v`), then held for `confirm` bars in a row before they count.
fn combine(
    members: &[SignalSpec],
    close: &[f64],
    confirm: usize,
    from: usize,
    agrees: impl Fn(&[i8], i8) -> bool,
) -> Result<Vec<i8>> {
    // A value at `from` looks back over `confirm` bars of the members.
    let need = from.saturating_sub(confirm);
    let each: Vec<Vec<i8>> = members
        .iter()
        .map(|m| signal_from(m, close, need))
        .collect::<Result<_>>()?;
    let mut vals = vec![0i8; each.len()];
    let mut run = (0i8, 0usize);
    Ok((0..close.len())
        .map(|t| {
            for (v, s) in vals.iter_mut().zip(&each) {
                *v = s[t];
            }
            let v = if agrees(&vals, 1) {
                1
            } else if agrees(&vals, -1) {
                -1
            } else {
                0
            };
            run = if v == run.0 { (v, run.1 + 1) } else { (v, 1) };
            if v != 0 && run.1 >= confirm {
                v
            } else {
                0
            }
        })
        .collect())
}
