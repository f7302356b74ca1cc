//! Building blocks shared by the networks: seeded initialisation, a dense layer, layer
//! normalisation, a series embedding and dropout driven by the training run's own seeded
//! generator.
//!
//! Weights are drawn from a [`StdRng`] seeded by the run, not from the backend's global
//! generator, so the same seed gives the same weights whatever else runs in the process.

use burn::module::{Param, ParamId};
use burn::prelude::*;
use rand::rngs::StdRng;
use rand::Rng;

/// A parameter of `shape` drawn uniformly from `[-bound, bound]`.
pub fn uniform<const D: usize>(
    shape: [usize; D],
    bound: f64,
    rng: &mut StdRng,
    device: &Device,
) -> Param<Tensor<D>> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
        .collect();
    with_id(Param::from_data(TensorData::new(v, shape), device), rng)
}

/// A parameter of `shape` filled with `value`.
pub fn constant<const D: usize>(
    shape: [usize; D],
    value: f32,
    rng: &mut StdRng,
    device: &Device,
) -> Param<Tensor<D>> {
    let n: usize = shape.iter().product();
    with_id(
        Param::from_data(TensorData::new(vec![value; n], shape), device),
        rng,
    )
}

/// Give a parameter an id drawn from the run's generator: burn draws ids at random, and
/// the ids are part of the saved record, so seeded ids make saved weights byte-identical.
fn with_id<const D: usize>(p: Param<Tensor<D>>, rng: &mut StdRng) -> Param<Tensor<D>> {
    let (_, value, mapper) = p.consume();
    Param::from_mapped_value(ParamId::from(rng.random::<u64>()), value, mapper)
}

/// `x W + b`.
#[derive(Module, Debug)]
pub struct Dense {
    /// Weight `[d_in, d_out]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[d_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Dense {
    /// PyTorch's default initialisation: uniform with bound `1/sqrt(d_in)`.
    pub fn new(d_in: usize, d_out: usize, rng: &mut StdRng, device: &Device) -> Dense {
        let bound = 1.0 / (d_in as f64).sqrt();
        Dense {
            weight: uniform([d_in, d_out], bound, rng, device),
            bias: uniform([d_out], bound, rng, device),
        }
    }

    /// Apply to `[n, d_in]`.
    pub fn forward2(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.val()) + self.bias.val().unsqueeze_dim(0)
    }

    /// Apply to the last axis of `[b, t, d_in]`.
    pub fn forward3(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, i] = x.dims();
        let o = self.weight.val().dims()[1];
        self.forward2(x.reshape([b * t, i])).reshape([b, t, o])
    }
}

/// A learned vector per series of a global model ([`super::global`]), appended to the
/// network's input at every timestep (as neuralforecast feeds static features to its
/// recurrent encoders), so that one network can learn series-specific dynamics for
/// series whose scaled windows look alike.
#[derive(Module, Debug)]
pub struct SeriesEmbedding {
    /// One row per series `[series, dim]`.
    pub table: Param<Tensor<2>>,
}

impl SeriesEmbedding {
    /// Uniform with bound `1/sqrt(dim)`.
    pub fn new(series: usize, dim: usize, rng: &mut StdRng, device: &Device) -> SeriesEmbedding {
        SeriesEmbedding {
            table: uniform([series, dim], 1.0 / (dim.max(1) as f64).sqrt(), rng, device),
        }
    }

    /// `[series, dim]`.
    pub fn dims(&self) -> [usize; 2] {
        self.table.val().dims()
    }

    /// The rows of `ids` (`[ids.len(), dim]`); `None` (a series the network never saw)
    /// takes the mean of every row.
    pub fn lookup(&self, ids: &[Option<u32>], device: &Device) -> Tensor<2> {
        let table = self.table.val();
        let [rows, _] = table.dims();
        let index: Vec<i64> = ids
            .iter()
            .map(|&i| Self::host_row(rows, i) as i64)
            .collect();
        let n = index.len();
        let mean = table.clone().mean_dim(0);
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [n]), device);
        Tensor::cat(vec![table, mean], 0).select(0, index)
    }

    /// `x` (`[b, t, f]`) with the embedding rows of `ids` appended at every timestep
    /// (`[b, t, f + dim]`; no ids: every window takes the mean row); `x` unchanged
    /// without an embedding.
    pub fn append(
        embedding: &Option<SeriesEmbedding>,
        x: Tensor<3>,
        ids: &[Option<u32>],
    ) -> Tensor<3> {
        let Some(e) = embedding else { return x };
        let [b, t, _] = x.dims();
        debug_assert!(ids.is_empty() || ids.len() == b);
        let ids: Vec<Option<u32>> = if ids.is_empty() {
            vec![None; b]
        } else {
            ids.to_vec()
        };
        let rows = e
            .lookup(&ids, &x.device())
            .unsqueeze_dim::<3>(1)
            .repeat_dim(1, t);
        Tensor::cat(vec![x, rows], 2)
    }

    /// Input width per timestep: `features` plus the embedding's width.
    pub fn input_width(features: usize, embed: Option<(usize, usize)>) -> usize {
        features + embed.map_or(0, |(_, dim)| dim)
    }

    /// The table's values, row-major, with the mean row appended (row `series`), for
    /// the CPU training step ([`super::bptt`]).
    pub fn host_table(&self) -> Vec<f32> {
        let [rows, dim] = self.dims();
        let mut v = self
            .table
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_else(|_| vec![0.0; rows * dim]);
        let mut mean = vec![0f32; dim];
        for row in v.chunks_exact(dim) {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / rows as f32;
            }
        }
        v.extend(mean);
        v
    }

    /// The row of `id` in the table with the mean row appended (row `rows`), the layout
    /// of [`SeriesEmbedding::lookup`] and [`SeriesEmbedding::host_table`].
    pub fn host_row(rows: usize, id: Option<u32>) -> usize {
        id.map_or(rows, |i| (i as usize).min(rows - 1))
    }
}

/// Layer normalisation over the last axis.
#[derive(Module, Debug)]
pub struct Norm {
    /// Scale.
    pub gamma: Param<Tensor<1>>,
    /// Shift.
    pub beta: Param<Tensor<1>>,
}

impl Norm {
    /// Scale 1, shift 0.
    pub fn new(d: usize, rng: &mut StdRng, device: &Device) -> Norm {
        Norm {
            gamma: constant([d], 1.0, rng, device),
            beta: constant([d], 0.0, rng, device),
        }
    }

    /// Normalise `[b, t, d]` over `d`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let (var, mean) = x.clone().var_mean_bias(2);
        let g = self.gamma.val().unsqueeze_dim::<2>(0).unsqueeze_dim::<3>(0);
        let b = self.beta.val().unsqueeze_dim::<2>(0).unsqueeze_dim::<3>(0);
        (x - mean) / (var + 1e-5).sqrt() * g + b
    }
}

/// Inverted dropout with masks from a seeded generator; a no-op outside training.
pub struct Dropper {
    rng: Option<StdRng>,
    p: f64,
}

impl Dropper {
    /// No dropout (inference, validation).
    pub fn off() -> Dropper {
        Dropper { rng: None, p: 0.0 }
    }

    /// Dropout with probability `p`, masks drawn from `rng`.
    pub fn train(rng: StdRng, p: f64) -> Dropper {
        Dropper { rng: Some(rng), p }
    }

    /// Whether this dropper drops anything (training with `p > 0`).
    pub fn active(&self) -> bool {
        self.rng.is_some() && self.p > 0.0
    }

    /// Zero each element with probability `p`, scale the rest by `1/(1-p)`.
    pub fn apply<const D: usize>(&mut self, x: Tensor<D>) -> Tensor<D> {
        let Some(rng) = self.rng.as_mut() else {
            return x;
        };
        if self.p <= 0.0 {
            return x;
        }
        let dims = x.dims();
        let n: usize = dims.iter().product();
        let v = mask_values(rng, self.p, n);
        let mask = Tensor::<D>::from_data(TensorData::new(v, dims), &x.device());
        x * mask
    }

    /// A mask of `n` factors (0 or `1/(1-p)`) drawn like [`Dropper::apply`]'s; `None`
    /// outside training or when `p` is 0.
    pub fn mask(&mut self, n: usize) -> Option<Vec<f32>> {
        let rng = self.rng.as_mut()?;
        (self.p > 0.0).then(|| mask_values(rng, self.p, n))
    }
}

fn mask_values(rng: &mut StdRng, p: f64, n: usize) -> Vec<f32> {
    let keep = 1.0 - p;
    let scale = (1.0 / keep) as f32;
    // Keep when a uniform 32-bit draw falls below `keep * 2^32` (one draw per element).
    let threshold = (keep * 4_294_967_296.0) as u64;
    (0..n)
        .map(|_| {
            if u64::from(rng.random::<u32>()) < threshold {
                scale
            } else {
                0.0
            }
        })
        .collect()
}

/// A tensor `[b, t, f]` from flat values.
pub fn tensor3(v: Vec<f32>, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// A tensor `[b, h]` from flat values.
pub fn tensor2(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}
