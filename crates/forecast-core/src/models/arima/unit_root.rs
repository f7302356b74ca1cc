//! How many differences: the KPSS test for the regular order `d` and the seasonal
//! strength heuristic for the seasonal order `D`, as AutoARIMA uses them.
//!
//! Both follow statsforecast 2.x (`statsforecast.arima.ndiffs` / `nsdiffs`), which port
//! R's `forecast::ndiffs` / `nsdiffs`:
//!
//! - `d`: difference while the KPSS level-stationarity test rejects at `alpha` (0.05),
//!   up to `max_d`. The statistic is KPSS (1992) with the Newey–West long-run variance
//!   (Bartlett weights) and `trunc(3·√n / 13)` lags — the lag rule R's `ndiffs` passes
//!   to `urca::ur.kpss(use.lag=)` and statsforecast to `statsmodels.tsa.stattools.kpss`
//!   (not urca's `"short"` default `trunc(4·(n/100)^¼)`). The p-value interpolates the
//!   KPSS table (critical values 0.347, 0.463, 0.574, 0.739 at 10%, 5%, 2.5%, 1%)
//!   linearly and clamps to [0.01, 0.10], as both R and statsmodels do.
//! - `D`: one seasonal difference when the seasonal strength of an STL decomposition,
//!   `max(0, min(1, 1 - Var(remainder) / Var(remainder + seasonal)))`, exceeds 0.64
//!   (R's `seas.heuristic` threshold in `nsdiffs(test = "seas")`). The STL is
//!   statsforecast's `mstl` for one period: seasonal window 11 (`7 + 4·1`), seasonal
//!   degree 0 and statsmodels' `STL` defaults for the rest: trend window the odd number
//!   from `⌈1.5·m / (1 - 1.5/11)⌉`, low-pass window the odd number from `m + 1`, no
//!   robustness iterations, 5 inner iterations, jumps 1 (R's `stl` differs slightly:
//!   2 inner iterations, jumps `⌈window/10⌉`).

use stlrs::StlParams;

/// KPSS critical values for the level (`"mu"` / `"c"`) case, KPSS (1992) table 1.
const KPSS_CRIT: [f64; 4] = [0.347, 0.463, 0.574, 0.739];
/// Their upper-tail probabilities.
const KPSS_PROB: [f64; 4] = [0.10, 0.05, 0.025, 0.01];

/// Seasonal strength above which one seasonal difference is taken (R's `nsdiffs`).
pub const SEASONAL_STRENGTH_THRESHOLD: f64 = 0.64;

/// Whether every value equals the first (R's and statsforecast's `is.constant`).
pub fn is_constant(x: &[f64]) -> bool {
    x.iter().all(|v| *v == x[0])
}

/// `x_t - x_{t-lag}` for `t ≥ lag`.
pub fn diff(x: &[f64], lag: usize) -> Vec<f64> {
    if x.len() <= lag {
        return Vec::new();
    }
    (lag..x.len()).map(|t| x[t] - x[t - lag]).collect()
}

/// The lag count R's `ndiffs` and statsforecast use for KPSS: `trunc(3·√n / 13)`.
pub fn kpss_lags(n: usize) -> usize {
    (3.0 * (n as f64).sqrt() / 13.0).floor() as usize
}

/// The KPSS level-stationarity statistic of `x` with `lags` Newey–West (Bartlett) lags;
/// `None` when undefined (fewer than `lags + 2` values, or zero long-run variance).
pub fn kpss_statistic(x: &[f64], lags: usize) -> Option<f64> {
    let n = x.len();
    if n < 2 || lags >= n {
        return None;
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let e: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let mut s = 0.0;
    let mut eta = 0.0;
    for v in &e {
        s += v;
        eta += s * s;
    }
    eta /= nf * nf;
    let mut lrv: f64 = e.iter().map(|v| v * v).sum();
    for i in 1..=lags {
        let w = 1.0 - i as f64 / (lags as f64 + 1.0);
        let cov: f64 = e[i..].iter().zip(&e[..n - i]).map(|(a, b)| a * b).sum();
        lrv += 2.0 * w * cov;
    }
    lrv /= nf;
    let stat = eta / lrv;
    (lrv > 0.0 && stat.is_finite()).then_some(stat)
}

/// The KPSS p-value of a level-case statistic: linear interpolation in the KPSS table,
/// clamped to [0.01, 0.10].
pub fn kpss_p_value(stat: f64) -> f64 {
    if stat <= KPSS_CRIT[0] {
        return KPSS_PROB[0];
    }
    for i in 1..KPSS_CRIT.len() {
        if stat <= KPSS_CRIT[i] {
            let t = (stat - KPSS_CRIT[i - 1]) / (KPSS_CRIT[i] - KPSS_CRIT[i - 1]);
            return KPSS_PROB[i - 1] + t * (KPSS_PROB[i] - KPSS_PROB[i - 1]);
        }
    }
    KPSS_PROB[KPSS_PROB.len() - 1]
}

/// Number of regular differences by repeated KPSS tests at level `alpha` (clamped to
/// [0.01, 0.10] as R does), at most `max_d`. A test that cannot be computed counts as
/// "do not difference" (statsforecast's behaviour on errors).
pub fn ndiffs(x: &[f64], alpha: f64, max_d: usize) -> usize {
    let alpha = alpha.clamp(0.01, 0.10);
    let rejects =
        |x: &[f64]| kpss_statistic(x, kpss_lags(x.len())).is_some_and(|s| kpss_p_value(s) < alpha);
    let mut x = x.to_vec();
    let mut d = 0;
    if x.is_empty() || is_constant(&x) {
        return 0;
    }
    while d < max_d && rejects(&x) {
        d += 1;
        x = diff(&x, 1);
        if x.is_empty() || is_constant(&x) {
            return d;
        }
    }
    d
}

/// Seasonal strength of `x` at period `m` from an STL decomposition (see the module
/// notes); `None` when the decomposition cannot be made (fewer than two full seasons,
/// `m < 2`) or the variances are degenerate.
pub fn seasonal_strength(x: &[f64], m: usize) -> Option<f64> {
    if m < 2 || x.len() < 2 * m {
        return None;
    }
    let ns = 11;
    let nt = {
        let t = (1.5 * m as f64 / (1.0 - 1.5 / ns as f64)).ceil() as usize;
        t + (1 - t % 2)
    };
    let nl = (m + 1) + (1 - (m + 1) % 2);
    let fit = StlParams::new()
        .seasonal_length(ns)
        .trend_length(nt)
        .low_pass_length(nl)
        .seasonal_degree(0)
        .trend_degree(1)
        .low_pass_degree(1)
        .seasonal_jump(1)
        .trend_jump(1)
        .low_pass_jump(1)
        .inner_loops(5)
        .outer_loops(0)
        .robust(false)
        .fit(x, m)
        .ok()?;
    let remainder = fit.remainder();
    let both: Vec<f64> = remainder
        .iter()
        .zip(fit.seasonal())
        .map(|(r, s)| r + s)
        .collect();
    let (vr, vb) = (variance(remainder)?, variance(&both)?);
    if vb <= 0.0 {
        return None;
    }
    let s = (1.0 - vr / vb).clamp(0.0, 1.0);
    s.is_finite().then_some(s)
}

fn variance(x: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    Some(x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64)
}

/// Number of seasonal differences at period `m` by the seasonal strength heuristic, at
/// most `max_sd`: difference while the strength exceeds 0.64 and at least two seasons
/// remain (R's / statsforecast's `nsdiffs(test = "seas")`).
pub fn nsdiffs(x: &[f64], m: usize, max_sd: usize) -> usize {
    if x.is_empty() || is_constant(x) || m < 2 || m >= x.len() {
        return 0;
    }
    let strong =
        |x: &[f64]| seasonal_strength(x, m).is_some_and(|s| s > SEASONAL_STRENGTH_THRESHOLD);
    let mut x = x.to_vec();
    let mut sd = 0;
    let mut dodiff = strong(&x);
    while dodiff && sd < max_sd {
        sd += 1;
        x = diff(&x, m);
        if x.is_empty() || is_constant(&x) {
            return sd;
        }
        dodiff = x.len() >= 2 * m && sd < max_sd && strong(&x);
    }
    sd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, LoadOptions};
    use std::path::PathBuf;

    fn dataset(file: &str, column: &str) -> Vec<f64> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../datasets")
            .join(file);
        let frame = load(
            &path,
            &LoadOptions {
                required: vec![column.into()],
                ..Default::default()
            },
        )
        .unwrap();
        frame.column(column).unwrap().to_vec()
    }

    /// KPSS statistics and p-values against statsmodels 0.15.0
    /// (`statsmodels.tsa.stattools.kpss(x, "c", nlags=L)`, run in the project's peer
    /// venv on the shipped CSVs). Tolerance 1e-9 relative: same formula, only the
    /// summation order differs.
    #[test]
    fn kpss_matches_statsmodels() {
        let air = dataset("airpassengers.csv", "passengers");
        let sun = dataset("sunspots_yearly.csv", "sunactivity");
        let wine = dataset("wineind.csv", "sales");
        let msft = dataset("msft_daily.csv", "close");
        let tail = &msft[msft.len() - 250..];
        let cases: &[(&str, Vec<f64>, usize, f64, f64)] = &[
            ("air", air.clone(), 2, 4.342286797114149, 0.01),
            ("air", air.clone(), 0, 12.365876095799258, 0.01),
            ("air diff", diff(&air, 1), 2, 0.011484728338723346, 0.1),
            ("air diff", diff(&air, 1), 4, 0.014626312320007039, 0.1),
            (
                "sunspots",
                sun.clone(),
                4,
                0.5646680940815663,
                0.027101780612259842,
            ),
            ("sunspots", sun, 0, 1.5670605242750213, 0.01),
            ("wine", wine.clone(), 3, 0.8345313710790326, 0.01),
            ("wine", wine, 4, 0.7705823106368686, 0.01),
            ("msft tail", tail.to_vec(), 3, 5.889115807742049, 0.01),
            ("msft tail diff", diff(tail, 1), 3, 0.12524701301278557, 0.1),
        ];
        for (name, x, lags, stat, p) in cases {
            let ours = kpss_statistic(x, *lags).unwrap();
            assert!(
                (ours - stat).abs() <= 1e-9 * stat,
                "{name} lags {lags}: {ours} vs {stat}"
            );
            let ours_p = kpss_p_value(ours);
            assert!((ours_p - p).abs() <= 1e-9, "{name}: p {ours_p} vs {p}");
        }
        // The lag rule: statsforecast's nlags = floor(3 sqrt(n) / 13).
        assert_eq!(kpss_lags(144), 2);
        assert_eq!(kpss_lags(176), 3);
        assert_eq!(kpss_lags(309), 4);
    }

    #[test]
    fn kpss_p_value_interpolates_the_table() {
        assert_eq!(kpss_p_value(0.1), 0.10);
        assert_eq!(kpss_p_value(0.463), 0.05);
        assert!((kpss_p_value((0.463 + 0.574) / 2.0) - 0.0375).abs() < 1e-12);
        assert_eq!(kpss_p_value(5.0), 0.01);
        assert_eq!(kpss_statistic(&[1.0], 0), None);
        assert_eq!(kpss_statistic(&[2.0; 10], 1), None);
    }

    /// Orders of differencing against statsforecast 2.0.1's `ndiffs` / `nsdiffs` and
    /// seasonal strength against its `seas_heuristic` (same venv): air 0.9410288793899182,
    /// log air 0.9646983909142213, wineind 0.8909384429357524. Tolerance 1e-6: the STL
    /// is the same Fortran algorithm in both, ported separately.
    #[test]
    fn differencing_orders_match_statsforecast() {
        let air = dataset("airpassengers.csv", "passengers");
        let log_air: Vec<f64> = air.iter().map(|v| v.ln()).collect();
        let wine = dataset("wineind.csv", "sales");
        for (name, x, strength) in [
            ("air", &air, 0.9410288793899182),
            ("log air", &log_air, 0.9646983909142213),
            ("wine", &wine, 0.8909384429357524),
        ] {
            let s = seasonal_strength(x, 12).unwrap();
            assert!((s - strength).abs() < 1e-6, "{name}: {s} vs {strength}");
            assert_eq!(nsdiffs(x, 12, 1), 1, "{name} D");
            assert_eq!(ndiffs(x, 0.05, 2), 1, "{name} d");
        }
        // Odd and other periods exercise the window rules (same source):
        // seas_heuristic(air, 7), (air, 4), (last 500 MSFT closes, 5).
        let msft = dataset("msft_daily.csv", "close");
        for (x, m, strength) in [
            (&air[..], 7, 0.040463684708068715),
            (&air[..], 4, 0.26130545290616936),
            (&msft[msft.len() - 500..], 5, 0.21824103435349163),
        ] {
            let s = seasonal_strength(x, m).unwrap();
            assert!((s - strength).abs() < 1e-6, "m = {m}: {s} vs {strength}");
        }
        let sun = dataset("sunspots_yearly.csv", "sunactivity");
        assert_eq!(ndiffs(&sun, 0.05, 2), 1);
        assert_eq!(ndiffs(&msft, 0.05, 2), 2);
        let log_msft: Vec<f64> = msft.iter().map(|v| v.ln()).collect();
        assert_eq!(ndiffs(&log_msft, 0.05, 2), 2);
        // Degenerate inputs.
        assert_eq!(ndiffs(&[3.0; 20], 0.05, 2), 0);
        assert_eq!(nsdiffs(&[3.0; 40], 12, 1), 0);
        assert_eq!(nsdiffs(&air[..20], 12, 1), 0);
        assert_eq!(seasonal_strength(&air[..20], 12), None);
        // A linear trend is constant after one difference.
        let line: Vec<f64> = (0..50).map(|t| 2.0 * t as f64 + 1.0).collect();
        assert_eq!(ndiffs(&line, 0.05, 2), 1);
    }
}
