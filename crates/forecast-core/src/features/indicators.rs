//! Technical indicators with TA-Lib's conventions (seeding, smoothing, alignment).
//!
//! Every function returns a vector as long as its input, with `NaN` in the warm-up rows
//! where TA-Lib gives no value. The conventions, checked against TA-Lib's own output in
//! `tests/indicators_reference.rs`:
//!
//! * EMA: `alpha = 2 / (n + 1)`, seeded with the simple mean of the first `n` values, so
//!   the first value is at index `n - 1`.
//! * RSI: Wilder smoothing (`alpha = 1 / n`) of gains and losses, seeded with their simple
//!   mean over the first `n` changes; first value at index `n`.
//! * MACD: both EMAs are seeded at index `slow - 1` (the fast EMA's seed is the mean of
//!   the `fast` values ending there), the signal is an EMA of the MACD line seeded with
//!   its first `signal` values; all three outputs start at `slow + signal - 2`.
//! * Bollinger bands: SMA middle, `± k` *population* standard deviations.
//! * Volatility: *sample* standard deviation (ddof = 1) of the last `n` log returns.
//!
//! One difference from TA-Lib, on purpose: TA-Lib's standard deviation returns 0 for any
//! variance below 1e-8, which silently flattens the bands of low-priced or rescaled
//! series; we return the true value (the two agree wherever TA-Lib's variance is above
//! its threshold, i.e. on every row of the MSFT reference).

/// Simple moving average over `n` values; first value at index `n - 1`.
pub fn sma(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if n == 0 || x.len() < n {
        return out;
    }
    // Running sum, as TA-Lib computes it.
    let mut total: f64 = x[..n - 1].iter().sum();
    for i in n - 1..x.len() {
        total += x[i];
        out[i] = total / n as f64;
        total -= x[i + 1 - n];
    }
    out
}

/// Exponential moving average seeded at index `start + n - 1` with the mean of the `n`
/// values ending there. Values before `start` are ignored (used by MACD alignment).
fn ema_from(x: &[f64], n: usize, seed_end: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if n == 0 || seed_end >= x.len() || seed_end + 1 < n {
        return out;
    }
    let k = 2.0 / (n as f64 + 1.0);
    let mut prev = x[seed_end + 1 - n..=seed_end].iter().sum::<f64>() / n as f64;
    out[seed_end] = prev;
    for i in seed_end + 1..x.len() {
        prev = (x[i] - prev) * k + prev;
        out[i] = prev;
    }
    out
}

/// Exponential moving average, `alpha = 2/(n+1)`, seeded with the SMA of the first `n`
/// values; first value at index `n - 1`.
pub fn ema(x: &[f64], n: usize) -> Vec<f64> {
    if n == 0 {
        return vec![f64::NAN; x.len()];
    }
    ema_from(x, n, n - 1)
}

/// Relative strength index with Wilder smoothing; first value at index `n`.
pub fn rsi(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    if n == 0 || x.len() <= n {
        return out;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=n {
        let d = x[i] - x[i - 1];
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
    }
    let nf = n as f64;
    gain /= nf;
    loss /= nf;
    let value = |g: f64, l: f64| {
        let t = g + l;
        if t != 0.0 {
            100.0 * g / t
        } else {
            0.0
        }
    };
    out[n] = value(gain, loss);
    for i in n + 1..x.len() {
        let d = x[i] - x[i - 1];
        gain *= nf - 1.0;
        loss *= nf - 1.0;
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
        gain /= nf;
        loss /= nf;
        out[i] = value(gain, loss);
    }
    out
}

/// MACD line, signal line and histogram, aligned as TA-Lib aligns them.
pub fn macd(x: &[f64], fast: usize, slow: usize, signal: usize) -> [Vec<f64>; 3] {
    let nan = || vec![f64::NAN; x.len()];
    // TA-Lib swaps the periods if given in the wrong order.
    let (fast, slow) = if slow < fast {
        (slow, fast)
    } else {
        (fast, slow)
    };
    if fast == 0 || signal == 0 || x.len() < slow {
        return [nan(), nan(), nan()];
    }
    let start = slow - 1;
    let f = ema_from(x, fast, start);
    let s = ema_from(x, slow, start);
    let line: Vec<f64> = f.iter().zip(&s).map(|(a, b)| a - b).collect();
    let first = start + signal - 1;
    let mut macd_out = nan();
    let mut sig_out = nan();
    let mut hist = nan();
    if first >= x.len() {
        return [macd_out, sig_out, hist];
    }
    let sig = ema_from(&line, signal, first);
    for i in first..x.len() {
        macd_out[i] = line[i];
        sig_out[i] = sig[i];
        hist[i] = line[i] - sig[i];
    }
    [macd_out, sig_out, hist]
}

/// Mean and standard deviation of each window of `n` values ending at index `i`
/// (two-pass per window, so no cancellation).
fn rolling_mean_std(x: &[f64], n: usize, ddof: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![f64::NAN; x.len()];
    let mut sd = vec![f64::NAN; x.len()];
    if n == 0 || n <= ddof || x.len() < n {
        return (mean, sd);
    }
    for i in n - 1..x.len() {
        let w = &x[i + 1 - n..=i];
        let m = w.iter().sum::<f64>() / n as f64;
        let ss: f64 = w.iter().map(|v| (v - m) * (v - m)).sum();
        mean[i] = m;
        sd[i] = (ss / (n - ddof) as f64).max(0.0).sqrt();
    }
    (mean, sd)
}

/// Bollinger bands `[upper, middle, lower]`: SMA(n) ± k population standard deviations.
pub fn bbands(x: &[f64], n: usize, k: f64) -> [Vec<f64>; 3] {
    let middle = sma(x, n);
    let (_, sd) = rolling_mean_std(x, n, 0);
    let upper = middle.iter().zip(&sd).map(|(m, s)| m + k * s).collect();
    let lower = middle.iter().zip(&sd).map(|(m, s)| m - k * s).collect();
    [upper, middle, lower]
}

/// Simple returns `x_t / x_{t-1} - 1`; first value at index 1.
pub fn returns(x: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    for i in 1..x.len() {
        out[i] = x[i] / x[i - 1] - 1.0;
    }
    out
}

/// Log returns `ln x_t - ln x_{t-1}`; first value at index 1.
pub fn log_returns(x: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; x.len()];
    for i in 1..x.len() {
        out[i] = x[i].ln() - x[i - 1].ln();
    }
    out
}

/// Rolling volatility: sample standard deviation of the last `n` log returns; first
/// value at index `n`.
pub fn volatility(x: &[f64], n: usize) -> Vec<f64> {
    let lr = log_returns(x);
    let mut out = vec![f64::NAN; x.len()];
    if x.len() > n {
        let (_, sd) = rolling_mean_std(&lr[1..], n, 1);
        out[1..].copy_from_slice(&sd);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    // Hand-computed values on a short series (independent of TA-Lib's table).
    const X: [f64; 6] = [1.0, 2.0, 3.0, 2.0, 4.0, 5.0];

    #[test]
    fn sma_and_ema_by_hand() {
        let s = sma(&X, 3);
        assert!(s[1].is_nan());
        assert!(close(s[2], 2.0) && close(s[3], 7.0 / 3.0) && close(s[5], 11.0 / 3.0));
        let e = ema(&X, 3);
        // seed 2.0 at index 2, then k = 0.5
        assert!(close(e[2], 2.0) && close(e[3], 2.0) && close(e[4], 3.0) && close(e[5], 4.0));
    }

    #[test]
    fn rsi_by_hand() {
        // changes: +1 +1 -1 +2 +1 ; n = 3: gain (1+1+0)/3, loss 1/3 -> 66.67 at index 3
        let r = rsi(&X, 3);
        assert!(close(r[3], 100.0 * (2.0 / 3.0) / 1.0));
        // index 4: gain = (2/3*2 + 2)/3 = 10/9, loss = (1/3*2)/3 = 2/9
        assert!(close(r[4], 100.0 * (10.0 / 9.0) / (12.0 / 9.0)));
    }

    #[test]
    fn bands_use_population_sd() {
        let [u, m, l] = bbands(&X, 3, 2.0);
        // window [1,2,3]: mean 2, population sd sqrt(2/3)
        let sd = (2.0f64 / 3.0).sqrt();
        assert!(close(m[2], 2.0) && close(u[2], 2.0 + 2.0 * sd) && close(l[2], 2.0 - 2.0 * sd));
    }

    #[test]
    fn volatility_uses_sample_sd_of_log_returns() {
        let v = volatility(&X, 2);
        assert!(v[1].is_nan());
        let a = (2.0f64).ln();
        let b = (1.5f64).ln();
        let m = (a + b) / 2.0;
        let expect = (((a - m).powi(2) + (b - m).powi(2)) / 1.0).sqrt();
        assert!(close(v[2], expect));
    }

    #[test]
    fn macd_alignment() {
        let x: Vec<f64> = (0..60)
            .map(|i| (i as f64 * 0.3).sin() + i as f64 * 0.1)
            .collect();
        let [m, s, h] = macd(&x, 12, 26, 9);
        assert!(m[32].is_nan() && !m[33].is_nan() && !s[33].is_nan());
        assert!(close(h[40], m[40] - s[40]));
        // fast EMA seeded with the 12 values ending at 25
        let seed_fast = x[14..=25].iter().sum::<f64>() / 12.0;
        let seed_slow = x[..=25].iter().sum::<f64>() / 26.0;
        let line25 = seed_fast - seed_slow;
        let _ = line25; // the signal seed includes it:
        let mut f = seed_fast;
        let mut sl = seed_slow;
        let mut lines = vec![line25];
        for v in &x[26..=33] {
            f = (v - f) * (2.0 / 13.0) + f;
            sl = (v - sl) * (2.0 / 27.0) + sl;
            lines.push(f - sl);
        }
        assert!(close(m[33], *lines.last().unwrap()));
        assert!(close(s[33], lines.iter().sum::<f64>() / 9.0));
    }
}
