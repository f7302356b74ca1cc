//! Search spaces over configuration keys.
//!
//! A space maps keys to domains, written as in Ray Tune:
//!
//! ```toml
//! hidden_size = { choice = [32, 64, 128] }
//! learning_rate = { loguniform = [1e-4, 1e-2] }
//! num_layers = { randint = [1, 4] }            # upper bound exclusive
//! dropout = { uniform = [0.0, 0.3] }
//! batch_size = { quniform = [16, 128, 16] }    # rounded to a multiple of 16
//! season_length = { grid = [4, 12], when = { kind = "seasonal-naive" } }
//! [arima]                                       # nested table: keys `arima.order`, ...
//! order = { choice = [[1, 1, 0], [2, 1, 1]] }
//! ```
//!
//! A key with a `when` condition exists only when the named keys took one of the given
//! values (a parameter of one model kind). Plain values are fixed.

use crate::error::{Error, Result};
use rand::Rng;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One sampled configuration: key → value (JSON, so it lands in any serde config).
pub type Params = BTreeMap<String, Value>;

/// Where a parameter's values come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Always this value.
    Fixed(Value),
    /// One of these values, uniformly.
    Choice(Vec<Value>),
    /// Every one of these values (enumerated by grid / random search, as Ray Tune's
    /// `grid_search`; a categorical for model-based search).
    Grid(Vec<Value>),
    /// Uniform on `[low, high)`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Uniform on `[low, high]`, rounded to a multiple of `q`.
    QUniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Quantum.
        q: f64,
    },
    /// Log-uniform on `[low, high)`, `0 < low < high`.
    LogUniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Integers in `[low, high)` (upper bound exclusive, as Ray Tune).
    RandInt {
        /// Lowest value.
        low: i64,
        /// One past the highest value.
        high: i64,
    },
}

impl Domain {
    /// Draw one value.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
        match self {
            Domain::Fixed(v) => v.clone(),
            Domain::Choice(vs) | Domain::Grid(vs) => vs[rng.random_range(0..vs.len())].clone(),
            Domain::Uniform { low, high } => Value::from(low + (high - low) * rng.random::<f64>()),
            Domain::QUniform { low, high, .. } => {
                let x = low + (high - low) * rng.random::<f64>();
                self.quantize(x)
            }
            Domain::LogUniform { low, high } => {
                let (a, b) = (low.ln(), high.ln());
                Value::from((a + (b - a) * rng.random::<f64>()).exp())
            }
            Domain::RandInt { low, high } => Value::from(rng.random_range(*low..*high)),
        }
    }

    /// Map a number onto the domain: clip to the bounds, round integers, quantize.
    /// Used by model-based search and PBT's perturbations.
    pub fn from_number(&self, x: f64) -> Value {
        match self {
            Domain::Uniform { low, high } | Domain::LogUniform { low, high } => {
                Value::from(x.clamp(*low, *high))
            }
            Domain::QUniform { low, high, .. } => self.quantize(x.clamp(*low, *high)),
            Domain::RandInt { low, high } => Value::from((x.round() as i64).clamp(*low, *high - 1)),
            Domain::Fixed(v) => v.clone(),
            Domain::Choice(vs) | Domain::Grid(vs) => {
                let i = (x.round().max(0.0) as usize).min(vs.len() - 1);
                vs[i].clone()
            }
        }
    }

    /// Values of a categorical domain (`choice`, `grid`), else `None`.
    pub fn categories(&self) -> Option<&[Value]> {
        match self {
            Domain::Choice(vs) | Domain::Grid(vs) => Some(vs),
            _ => None,
        }
    }

    /// Whether the domain is searched on a log scale.
    pub fn is_log(&self) -> bool {
        matches!(self, Domain::LogUniform { .. })
    }

    /// Numeric bounds `(low, high)` of a numeric domain, else `None`.
    pub fn bounds(&self) -> Option<(f64, f64)> {
        match self {
            Domain::Uniform { low, high }
            | Domain::LogUniform { low, high }
            | Domain::QUniform { low, high, .. } => Some((*low, *high)),
            Domain::RandInt { low, high } => Some((*low as f64, (*high - 1) as f64)),
            _ => None,
        }
    }

    // Ray Tune's quniform: round(x / q) * q, kept inside the bounds; integral when the
    // quantum and bounds are, so it can feed integer config keys.
    fn quantize(&self, x: f64) -> Value {
        let Domain::QUniform { low, high, q } = self else {
            return Value::from(x);
        };
        let mut v = (x / q).round() * q;
        if v > *high + 1e-12 {
            v -= q;
        }
        if v < *low - 1e-12 {
            v += q;
        }
        if q.fract() == 0.0 && low.fract() == 0.0 {
            Value::from(v.round() as i64)
        } else {
            Value::from(v)
        }
    }
}

/// One parameter of a space.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Key (dotted for nested tables: `arima.order`).
    pub name: String,
    /// Its values.
    pub domain: Domain,
    /// Conditions: the parameter exists only when each named key took one of the values.
    pub when: Vec<(String, Vec<Value>)>,
}

impl Param {
    /// Whether the conditions hold for the values sampled so far.
    pub fn is_active(&self, sampled: &Params) -> bool {
        self.when
            .iter()
            .all(|(key, values)| sampled.get(key).is_some_and(|v| values.contains(v)))
    }
}

/// A search space: parameters in an order where every condition's key comes first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchSpace {
    params: Vec<Param>,
}

const KEYWORDS: [&str; 7] = [
    "choice",
    "grid",
    "grid_search",
    "uniform",
    "quniform",
    "loguniform",
    "randint",
];

impl SearchSpace {
    /// A space from parameters; conditions must name parameters of the space and form
    /// no cycle.
    pub fn new(params: Vec<Param>) -> Result<SearchSpace> {
        let mut ordered: Vec<Param> = Vec::with_capacity(params.len());
        let mut rest = params;
        for p in &rest {
            for (key, _) in &p.when {
                if !rest.iter().any(|q| &q.name == key) {
                    return Err(Error::space(
                        &p.name,
                        format!("condition names unknown key '{key}'"),
                    ));
                }
            }
        }
        while !rest.is_empty() {
            let before = rest.len();
            let mut i = 0;
            while i < rest.len() {
                let ready = rest[i]
                    .when
                    .iter()
                    .all(|(key, _)| ordered.iter().any(|q| &q.name == key));
                if ready {
                    ordered.push(rest.remove(i));
                } else {
                    i += 1;
                }
            }
            if rest.len() == before {
                return Err(Error::space(&rest[0].name, "conditions form a cycle"));
            }
        }
        Ok(SearchSpace { params: ordered })
    }

    /// Parse a space from a TOML / JSON table (see the module docs).
    pub fn from_json(table: &Value) -> Result<SearchSpace> {
        let obj = table
            .as_object()
            .ok_or_else(|| Error::space("", "the search space must be a table"))?;
        let mut params = Vec::new();
        parse_table(obj, "", &mut params)?;
        SearchSpace::new(params)
    }

    /// Parse a space from TOML text.
    pub fn from_toml(text: &str) -> Result<SearchSpace> {
        let v: Value = toml::from_str(text).map_err(|e| Error::space("", e.to_string()))?;
        SearchSpace::from_json(&v)
    }

    /// The parameters, conditions' keys first.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Look a parameter up by key.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Parameters with a `grid` domain.
    pub fn grid_params(&self) -> Vec<&Param> {
        self.params
            .iter()
            .filter(|p| matches!(p.domain, Domain::Grid(_)))
            .collect()
    }

    /// Sample every active parameter; `fixed` overrides the draw of the keys it holds
    /// (grid points, model-based suggestions).
    pub fn sample_with<R: Rng + ?Sized>(&self, rng: &mut R, fixed: &Params) -> Params {
        let mut out = Params::new();
        for p in &self.params {
            // Draw even for inactive or fixed keys so that one key's draw does not depend
            // on whether another key is active: samples stay comparable across spaces.
            let drawn = p.domain.sample(rng);
            if !p.is_active(&out) {
                continue;
            }
            let v = fixed.get(&p.name).cloned().unwrap_or(drawn);
            out.insert(p.name.clone(), v);
        }
        out
    }

    /// Sample every active parameter.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Params {
        self.sample_with(rng, &Params::new())
    }

    /// Every grid point: the cartesian product of the `grid` parameters, leaving out the
    /// combinations that differ only in a parameter its conditions switch off.
    pub fn grid_points(&self) -> Vec<Params> {
        let grid = self.grid_params();
        let mut points: Vec<Params> = vec![Params::new()];
        for p in &grid {
            let Domain::Grid(values) = &p.domain else {
                continue;
            };
            let mut next = Vec::with_capacity(points.len() * values.len());
            for point in &points {
                for v in values {
                    let mut q = point.clone();
                    q.insert(p.name.clone(), v.clone());
                    next.push(q);
                }
            }
            points = next;
        }
        // Drop inactive grid keys (conditions see the grid values and fixed values).
        let fixed: Params = self
            .params
            .iter()
            .filter_map(|p| match &p.domain {
                Domain::Fixed(v) => Some((p.name.clone(), v.clone())),
                _ => None,
            })
            .collect();
        let mut out: Vec<Params> = Vec::new();
        for point in points {
            let mut active = Params::new();
            for p in &self.params {
                let value = point.get(&p.name).or_else(|| fixed.get(&p.name));
                if let Some(v) = value {
                    if p.is_active(&active) {
                        active.insert(p.name.clone(), v.clone());
                    }
                }
            }
            let kept: Params = active
                .into_iter()
                .filter(|(k, _)| point.contains_key(k))
                .collect();
            if !out.contains(&kept) {
                out.push(kept);
            }
        }
        out
    }
}

fn parse_table(obj: &Map<String, Value>, prefix: &str, out: &mut Vec<Param>) -> Result<()> {
    for (key, value) in obj {
        let name = format!("{prefix}{key}");
        match value {
            Value::Object(inner) if inner.keys().any(|k| KEYWORDS.contains(&k.as_str())) => {
                out.push(parse_param(&name, inner)?);
            }
            Value::Object(inner) if inner.contains_key("when") => {
                return Err(Error::space(
                    &name,
                    format!("'when' without a domain (one of: {})", KEYWORDS.join(", ")),
                ));
            }
            Value::Object(inner) => parse_table(inner, &format!("{name}."), out)?,
            v => out.push(Param {
                name,
                domain: Domain::Fixed(v.clone()),
                when: vec![],
            }),
        }
    }
    Ok(())
}

fn parse_param(name: &str, obj: &Map<String, Value>) -> Result<Param> {
    let mut domain = None;
    let mut when = Vec::new();
    for (k, v) in obj {
        match k.as_str() {
            "when" => {
                let conds = v.as_object().ok_or_else(|| {
                    Error::space(name, "'when' must be a table of key = value(s)")
                })?;
                for (ck, cv) in conds {
                    let values = match cv {
                        Value::Array(a) => a.clone(),
                        other => vec![other.clone()],
                    };
                    when.push((ck.clone(), values));
                }
            }
            kw if KEYWORDS.contains(&kw) => {
                if domain.is_some() {
                    return Err(Error::space(name, "more than one domain given"));
                }
                domain = Some(parse_domain(name, kw, v)?);
            }
            other => {
                return Err(Error::space(
                    name,
                    format!(
                        "unknown field '{other}' (expected one of: {}, when)",
                        KEYWORDS.join(", ")
                    ),
                ))
            }
        }
    }
    let domain = domain.ok_or_else(|| Error::space(name, "no domain given"))?;
    Ok(Param {
        name: name.to_string(),
        domain,
        when,
    })
}

fn numbers(name: &str, kw: &str, v: &Value, n: &[usize]) -> Result<Vec<f64>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::space(name, format!("{kw} needs a list of numbers")))?;
    let xs: Option<Vec<f64>> = arr.iter().map(Value::as_f64).collect();
    match xs {
        Some(xs) if n.contains(&xs.len()) && xs.iter().all(|x| x.is_finite()) => Ok(xs),
        _ => Err(Error::space(
            name,
            format!(
                "{kw} needs {} finite numbers, got {v}",
                n.iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        )),
    }
}

fn parse_domain(name: &str, kw: &str, v: &Value) -> Result<Domain> {
    let bounded = |low: f64, high: f64| -> Result<()> {
        if low < high {
            Ok(())
        } else {
            Err(Error::space(
                name,
                format!("{kw} needs low < high, got [{low}, {high}]"),
            ))
        }
    };
    Ok(match kw {
        "choice" | "grid" | "grid_search" => {
            let vs = v.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                Error::space(name, format!("{kw} needs a non-empty list of values"))
            })?;
            if kw == "choice" {
                Domain::Choice(vs.clone())
            } else {
                Domain::Grid(vs.clone())
            }
        }
        "uniform" => {
            let x = numbers(name, kw, v, &[2])?;
            bounded(x[0], x[1])?;
            Domain::Uniform {
                low: x[0],
                high: x[1],
            }
        }
        "loguniform" => {
            let x = numbers(name, kw, v, &[2])?;
            bounded(x[0], x[1])?;
            if x[0] <= 0.0 {
                return Err(Error::space(
                    name,
                    format!("loguniform needs 0 < low, got {}", x[0]),
                ));
            }
            Domain::LogUniform {
                low: x[0],
                high: x[1],
            }
        }
        "quniform" => {
            let x = numbers(name, kw, v, &[3])?;
            bounded(x[0], x[1])?;
            if x[2] <= 0.0 || x[2] > x[1] - x[0] {
                return Err(Error::space(
                    name,
                    format!("quniform needs 0 < q <= high - low, got q = {}", x[2]),
                ));
            }
            Domain::QUniform {
                low: x[0],
                high: x[1],
                q: x[2],
            }
        }
        "randint" => {
            let x = numbers(name, kw, v, &[2])?;
            if x.iter().any(|a| a.fract() != 0.0) {
                return Err(Error::space(
                    name,
                    format!("randint needs integers, got {v}"),
                ));
            }
            bounded(x[0], x[1])?;
            Domain::RandInt {
                low: x[0] as i64,
                high: x[1] as i64,
            }
        }
        _ => return Err(Error::space(name, format!("unknown domain '{kw}'"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn space(text: &str) -> SearchSpace {
        SearchSpace::from_toml(text).unwrap()
    }

    // Chi-square statistic of observed counts against equal expected counts.
    fn chi2_uniform(counts: &[usize]) -> f64 {
        let n: usize = counts.iter().sum();
        let e = n as f64 / counts.len() as f64;
        counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
    }

    // Kolmogorov-Smirnov distance of samples from the uniform CDF on [0, 1).
    fn ks_uniform(mut u: Vec<f64>) -> f64 {
        u.sort_by(|a, b| a.total_cmp(b));
        let n = u.len() as f64;
        u.iter()
            .enumerate()
            .map(|(i, &x)| ((i + 1) as f64 / n - x).abs().max((x - i as f64 / n).abs()))
            .fold(0.0, f64::max)
    }

    const N: usize = 20_000;
    // KS critical value at alpha = 0.001: 1.95 / sqrt(n).
    fn ks_crit() -> f64 {
        1.95 / (N as f64).sqrt()
    }

    #[test]
    fn uniform_is_uniform() {
        let d = Domain::Uniform {
            low: -2.0,
            high: 3.0,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let u: Vec<f64> = (0..N)
            .map(|_| (d.sample(&mut rng).as_f64().unwrap() + 2.0) / 5.0)
            .collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(ks_uniform(u) < ks_crit());
    }

    #[test]
    fn loguniform_is_uniform_in_log_space() {
        let d = Domain::LogUniform {
            low: 1e-4,
            high: 1e-2,
        };
        let mut rng = StdRng::seed_from_u64(2);
        let (a, b) = (1e-4f64.ln(), 1e-2f64.ln());
        let u: Vec<f64> = (0..N)
            .map(|_| (d.sample(&mut rng).as_f64().unwrap().ln() - a) / (b - a))
            .collect();
        assert!(ks_uniform(u) < ks_crit());
    }

    #[test]
    fn randint_excludes_the_upper_bound_and_is_flat() {
        let d = Domain::RandInt { low: 1, high: 5 };
        let mut rng = StdRng::seed_from_u64(3);
        let mut counts = [0usize; 4];
        for _ in 0..N {
            let v = d.sample(&mut rng).as_i64().unwrap();
            assert!((1..5).contains(&v), "{v}");
            counts[(v - 1) as usize] += 1;
        }
        // chi-square, 3 degrees of freedom, alpha = 0.001: 16.27
        assert!(chi2_uniform(&counts) < 16.27, "{counts:?}");
    }

    #[test]
    fn choice_is_flat() {
        let d = Domain::Choice(vec![Value::from("a"), Value::from(2), Value::from(true)]);
        let mut rng = StdRng::seed_from_u64(4);
        let mut counts = [0usize; 3];
        for _ in 0..N {
            let v = d.sample(&mut rng);
            counts[[Value::from("a"), Value::from(2), Value::from(true)]
                .iter()
                .position(|c| *c == v)
                .unwrap()] += 1;
        }
        // chi-square, 2 degrees of freedom, alpha = 0.001: 13.82
        assert!(chi2_uniform(&counts) < 13.82, "{counts:?}");
    }

    #[test]
    fn quniform_hits_multiples_with_half_weight_at_the_ends() {
        // Ray Tune's rounding: on [0, 100] with q = 25 the ends get half the mass of
        // the inner points (1/8 vs 1/4).
        let d = Domain::QUniform {
            low: 0.0,
            high: 100.0,
            q: 25.0,
        };
        let mut rng = StdRng::seed_from_u64(5);
        let mut counts = [0usize; 5];
        for _ in 0..N {
            let v = d.sample(&mut rng).as_i64().unwrap();
            assert_eq!(v % 25, 0);
            counts[(v / 25) as usize] += 1;
        }
        let expected = [0.125, 0.25, 0.25, 0.25, 0.125];
        let chi2: f64 = counts
            .iter()
            .zip(expected)
            .map(|(&c, p)| (c as f64 - p * N as f64).powi(2) / (p * N as f64))
            .sum();
        // chi-square, 4 degrees of freedom, alpha = 0.001: 18.47
        assert!(chi2 < 18.47, "{counts:?}");
    }

    #[test]
    fn same_seed_same_samples() {
        let s = space("a = { uniform = [0, 1] }\nb = { choice = [1, 2, 3] }");
        let x: Vec<Params> = (0..5)
            .map(|_| s.sample(&mut StdRng::seed_from_u64(9)))
            .collect();
        assert!(x.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn parse_errors_name_the_key() {
        for (text, key) in [
            ("lr = { loguniform = [0, 1] }", "space.lr"),
            ("n = { randint = [3, 3] }", "space.n"),
            ("n = { randint = [1.5, 3] }", "space.n"),
            ("x = { uniform = [0] }", "space.x"),
            ("c = { choice = [] }", "space.c"),
            ("c = { choice = [1], bogus = 2 }", "space.c"),
            ("c = { choice = [1], when = { missing = 1 } }", "space.c"),
            ("q = { quniform = [0, 10, 0] }", "space.q"),
        ] {
            let e = SearchSpace::from_toml(text).unwrap_err().to_string();
            assert!(e.starts_with(key), "{text}: {e}");
        }
    }

    #[test]
    fn conditional_and_nested_keys() {
        let s = space(
            r#"
            kind = { choice = ["naive", "seasonal-naive"] }
            season_length = { randint = [2, 13], when = { kind = "seasonal-naive" } }
            [arima]
            order = { choice = [[1, 1, 0]] }
            "#,
        );
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = [false; 2];
        for _ in 0..200 {
            let p = s.sample(&mut rng);
            assert_eq!(p["arima.order"], serde_json::json!([1, 1, 0]));
            match p["kind"].as_str().unwrap() {
                "naive" => {
                    assert!(!p.contains_key("season_length"));
                    seen[0] = true;
                }
                _ => {
                    assert!(p.contains_key("season_length"));
                    seen[1] = true;
                }
            }
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn grid_is_the_full_cartesian_product() {
        let s = space(
            "a = { grid = [1, 2, 3] }\nb = { grid = [\"x\", \"y\"] }\nc = { uniform = [0, 1] }",
        );
        let pts = s.grid_points();
        assert_eq!(pts.len(), 6);
        for a in [1, 2, 3] {
            for b in ["x", "y"] {
                let want: Params = [
                    ("a".to_string(), Value::from(a)),
                    ("b".to_string(), Value::from(b)),
                ]
                .into();
                assert_eq!(pts.iter().filter(|p| **p == want).count(), 1, "{want:?}");
            }
        }
    }

    #[test]
    fn grid_skips_switched_off_keys() {
        let s = space(
            r#"
            kind = { grid = ["naive", "seasonal-naive"] }
            season_length = { grid = [4, 12], when = { kind = "seasonal-naive" } }
            "#,
        );
        let pts = s.grid_points();
        assert_eq!(pts.len(), 3, "{pts:?}");
        assert!(pts.iter().any(|p| p.len() == 1 && p["kind"] == "naive"));
    }
}
