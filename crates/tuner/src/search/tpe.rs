//! Tree-structured Parzen Estimator (Bergstra et al., 2011), independent per
//! parameter as Optuna's default sampler.
//!
//! After `n_startup` random trials, the finished trials are split into the best
//! `gamma(n) = min(ceil(0.1 n), 25)` ("good") and the rest ("bad"). For each active
//! parameter a Parzen density is built from each group (a Gaussian per observation,
//! bandwidth from the distance to its neighbours, plus a wide prior component;
//! categorical: smoothed counts), `n_candidates` values are drawn from the good
//! density, and the one maximising `l(x) / g(x)` is taken. Numeric densities live in
//! log space for `loguniform` keys and are truncated to the bounds.

use super::{trial_rng, Searcher};
use crate::space::{Domain, Param, Params, SearchSpace};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

/// TPE settings (Optuna's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TpeOptions {
    /// Random trials before the model is used.
    pub n_startup: usize,
    /// Candidates drawn from the good density per parameter.
    pub n_candidates: usize,
    /// Weight of the prior component / pseudo-count of each category.
    pub prior_weight: f64,
}

impl Default for TpeOptions {
    fn default() -> Self {
        TpeOptions {
            n_startup: 10,
            n_candidates: 24,
            prior_weight: 1.0,
        }
    }
}

/// The TPE searcher.
#[derive(Debug, Clone)]
pub struct Tpe {
    space: SearchSpace,
    samples: usize,
    seed: u64,
    options: TpeOptions,
    observed: Vec<(Params, f64)>,
}

impl Tpe {
    /// A TPE searcher giving `samples` configurations.
    pub fn new(space: SearchSpace, samples: usize, seed: u64, options: TpeOptions) -> Self {
        Tpe {
            space,
            samples,
            seed,
            options,
            observed: Vec::new(),
        }
    }
}

impl Searcher for Tpe {
    fn suggest(&mut self, trial: usize) -> Option<Params> {
        if trial >= self.samples {
            return None;
        }
        let mut rng = trial_rng(self.seed, trial);
        if self.observed.len() < self.options.n_startup.max(2) {
            return Some(self.space.sample(&mut rng));
        }
        let mut sorted: Vec<&(Params, f64)> = self.observed.iter().collect();
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
        let n_good = ((0.1 * sorted.len() as f64).ceil() as usize).clamp(1, 25);
        let (good, bad) = sorted.split_at(n_good);
        let groups = Groups {
            good,
            bad,
            options: &self.options,
        };
        let mut out = Params::new();
        for p in self.space.params() {
            if !p.is_active(&out) {
                continue;
            }
            let value = match &p.domain {
                Domain::Fixed(v) => v.clone(),
                d if d.categories().is_some() => categorical(p, groups, &mut rng),
                _ => numeric(p, groups, &mut rng),
            };
            out.insert(p.name.clone(), value);
        }
        Some(out)
    }

    fn observe(&mut self, _: usize, params: &Params, loss: Option<f64>) {
        if let Some(l) = loss.filter(|l| l.is_finite()) {
            self.observed.push((params.clone(), l));
        }
    }

    fn total(&self) -> Option<usize> {
        Some(self.samples)
    }
}

/// The observations split by loss (the best `gamma(n)` and the rest) and the options:
/// what each parameter's value is drawn from.
#[derive(Clone, Copy)]
struct Groups<'a> {
    good: &'a [&'a (Params, f64)],
    bad: &'a [&'a (Params, f64)],
    options: &'a TpeOptions,
}

fn categorical<R: Rng>(p: &Param, groups: Groups<'_>, rng: &mut R) -> Value {
    let Groups {
        good,
        bad,
        options: o,
    } = groups;
    let cats = p.domain.categories().unwrap_or(&[]);
    let weights = |group: &[&(Params, f64)]| -> Vec<f64> {
        let mut w = vec![o.prior_weight; cats.len()];
        for (params, _) in group {
            if let Some(i) = params
                .get(&p.name)
                .and_then(|v| cats.iter().position(|c| c == v))
            {
                w[i] += 1.0;
            }
        }
        let total: f64 = w.iter().sum();
        w.iter().map(|x| x / total).collect()
    };
    let (l, g) = (weights(good), weights(bad));
    let mut best = (f64::NEG_INFINITY, 0);
    for _ in 0..o.n_candidates {
        let mut u = rng.random::<f64>();
        let mut i = 0;
        while i + 1 < l.len() && u >= l[i] {
            u -= l[i];
            i += 1;
        }
        let score = l[i].ln() - g[i].ln();
        if score > best.0 {
            best = (score, i);
        }
    }
    cats[best.1].clone()
}

/// A mixture of truncated Gaussians on `[low, high]`, equal weights.
struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    low: f64,
    high: f64,
}

impl Parzen {
    fn new(obs: &[f64], low: f64, high: f64) -> Parzen {
        let width = high - low;
        let mut mus: Vec<f64> = obs.to_vec();
        mus.push(0.5 * (low + high)); // the prior
        let n = mus.len();
        let mut order: Vec<usize> = (0..n - 1).collect();
        order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
        let mut sigmas = vec![width; n];
        // Bandwidth: the larger distance to a sorted neighbour (bounds at the ends),
        // clipped as hyperopt does.
        let min_sigma = width / (100.0f64).min(1.0 + n as f64);
        for (k, &i) in order.iter().enumerate() {
            let left = if k == 0 { low } else { mus[order[k - 1]] };
            let right = if k + 1 == order.len() {
                high
            } else {
                mus[order[k + 1]]
            };
            sigmas[i] = (mus[i] - left).max(right - mus[i]).clamp(min_sigma, width);
        }
        Parzen {
            mus,
            sigmas,
            low,
            high,
        }
    }

    fn sample<R: Rng>(&self, rng: &mut R) -> f64 {
        let k = rng.random_range(0..self.mus.len());
        for _ in 0..100 {
            let z: f64 = StandardNormal.sample(rng);
            let x = self.mus[k] + self.sigmas[k] * z;
            if (self.low..=self.high).contains(&x) {
                return x;
            }
        }
        self.mus[k].clamp(self.low, self.high)
    }

    fn log_pdf(&self, x: f64) -> f64 {
        let mut total = 0.0;
        for (&mu, &s) in self.mus.iter().zip(&self.sigmas) {
            let mass = normal_cdf((self.high - mu) / s) - normal_cdf((self.low - mu) / s);
            let z = (x - mu) / s;
            total +=
                (-0.5 * z * z).exp() / (s * (2.0 * std::f64::consts::PI).sqrt() * mass.max(1e-12));
        }
        (total / self.mus.len() as f64).max(1e-300).ln()
    }
}

fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
}

fn numeric<R: Rng>(p: &Param, groups: Groups<'_>, rng: &mut R) -> Value {
    let Groups {
        good,
        bad,
        options: o,
    } = groups;
    let Some((mut low, mut high)) = p.domain.bounds() else {
        return p.domain.sample(rng);
    };
    let log = p.domain.is_log();
    let to_internal = |x: f64| if log { x.ln() } else { x };
    if log {
        (low, high) = (low.ln(), high.ln());
    }
    if let Domain::RandInt { .. } = p.domain {
        // Integers own the half-unit around them.
        (low, high) = (low - 0.5, high + 0.5);
    }
    let values = |group: &[&(Params, f64)]| -> Vec<f64> {
        group
            .iter()
            .filter_map(|(params, _)| params.get(&p.name).and_then(Value::as_f64))
            .map(to_internal)
            .collect()
    };
    let l = Parzen::new(&values(good), low, high);
    let g = Parzen::new(&values(bad), low, high);
    let _ = o.prior_weight; // equal-weight prior component (weight 1) in both densities
    let mut best = (f64::NEG_INFINITY, 0.5 * (low + high));
    for _ in 0..o.n_candidates {
        let x = l.sample(rng);
        let score = l.log_pdf(x) - g.log_pdf(x);
        if score > best.0 {
            best = (score, x);
        }
    }
    let x = if log { best.1.exp() } else { best.1 };
    p.domain.from_number(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::VariantGenerator;

    // A shifted 2-D bowl with a narrow basin, on [-5, 5]^2: minimum 0 at (1.3, -2.1).
    fn bowl(p: &Params) -> f64 {
        let x = p["x"].as_f64().unwrap();
        let y = p["y"].as_f64().unwrap();
        (x - 1.3).powi(2) + (y + 2.1).powi(2)
    }

    fn best_after(searcher: &mut dyn Searcher, n: usize) -> f64 {
        let mut best = f64::INFINITY;
        for i in 0..n {
            let p = searcher.suggest(i).unwrap();
            let loss = bowl(&p);
            searcher.observe(i, &p, Some(loss));
            best = best.min(loss);
        }
        best
    }

    #[test]
    fn tpe_beats_random_on_a_2d_bowl() {
        let space =
            SearchSpace::from_toml("x = { uniform = [-5, 5] }\ny = { uniform = [-5, 5] }").unwrap();
        let (mut tpe_wins, mut tpe_sum, mut rnd_sum) = (0, 0.0, 0.0);
        let seeds = 10;
        for seed in 0..seeds {
            let t = best_after(
                &mut Tpe::new(space.clone(), 60, seed, TpeOptions::default()),
                60,
            );
            let r = best_after(&mut VariantGenerator::new(space.clone(), 60, seed), 60);
            tpe_wins += usize::from(t < r);
            tpe_sum += t;
            rnd_sum += r;
        }
        // With 60 trials random search's best is ~0.3 on average; TPE concentrates near
        // the minimum. Required: better mean and a win on most seeds.
        assert!(tpe_sum < 0.5 * rnd_sum, "tpe {tpe_sum} vs random {rnd_sum}");
        assert!(tpe_wins >= 8, "tpe won {tpe_wins} of {seeds}");
    }

    #[test]
    fn tpe_respects_domains_and_conditions() {
        let space = SearchSpace::from_toml(
            r#"
            kind = { choice = ["a", "b"] }
            n = { randint = [1, 4], when = { kind = "b" } }
            lr = { loguniform = [1e-4, 1e-1] }
            "#,
        )
        .unwrap();
        let mut t = Tpe::new(space, 40, 3, TpeOptions::default());
        for i in 0..40 {
            let p = t.suggest(i).unwrap();
            let lr = p["lr"].as_f64().unwrap();
            assert!((1e-4..=1e-1).contains(&lr), "{lr}");
            match p["kind"].as_str().unwrap() {
                "a" => assert!(!p.contains_key("n")),
                _ => assert!((1..4).contains(&p["n"].as_i64().unwrap()), "{p:?}"),
            }
            let loss = (lr.ln() - 1e-3f64.ln()).abs() + if p["kind"] == "b" { 0.0 } else { 1.0 };
            t.observe(i, &p, Some(loss));
        }
    }
}
