//! Transformer encoder over the lookback window with a forecasting head.
//!
//! Input projection (per timestep, or per patch of `patch_len` timesteps as in PatchTST),
//! sinusoidal positional encoding, `num_layers` encoder layers (multi-head self-attention
//! and a GELU feed-forward block, each with dropout and a residual connection, layer
//! normalisation before (`norm_first`) or after each block), and a linear head on the last
//! token that predicts the whole horizon.

use super::layers::{Dense, Dropper, Norm, SeriesEmbedding};
use super::Net;
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use rand::rngs::StdRng;

/// One encoder layer.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Fused query/key/value projection `[d, 3d]`.
    pub qkv: Dense,
    /// Attention output projection.
    pub out: Dense,
    /// Feed-forward up-projection.
    pub ff1: Dense,
    /// Feed-forward down-projection.
    pub ff2: Dense,
    /// Norm of the attention block.
    pub norm1: Norm,
    /// Norm of the feed-forward block.
    pub norm2: Norm,
    /// Attention heads.
    pub heads: usize,
    /// Pre-norm when true, post-norm otherwise.
    pub norm_first: bool,
}

impl EncoderLayer {
    fn new(
        d: usize,
        heads: usize,
        ff: usize,
        norm_first: bool,
        rng: &mut StdRng,
        device: &Device,
    ) -> Self {
        EncoderLayer {
            qkv: Dense::new(d, 3 * d, rng, device),
            out: Dense::new(d, d, rng, device),
            ff1: Dense::new(d, ff, rng, device),
            ff2: Dense::new(ff, d, rng, device),
            norm1: Norm::new(d, rng, device),
            norm2: Norm::new(d, rng, device),
            heads,
            norm_first,
        }
    }

    fn attention(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let h = self.heads;
        let dk = d / h;
        let qkv = self.qkv.forward3(x);
        let split = |i: usize| {
            qkv.clone()
                .narrow(2, i * d, d)
                .reshape([b, t, h, dk])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (dk as f64).sqrt());
        let ctx = softmax(scores, 3).matmul(v);
        self.out.forward3(ctx.swap_dims(1, 2).reshape([b, t, d]))
    }

    fn feed_forward(&self, x: Tensor<3>, drop: &mut Dropper) -> Tensor<3> {
        self.ff2.forward3(drop.apply(gelu(self.ff1.forward3(x))))
    }

    fn forward(&self, x: Tensor<3>, drop: &mut Dropper) -> Tensor<3> {
        if self.norm_first {
            let a = self.attention(self.norm1.forward(x.clone()));
            let x = x + drop.apply(a);
            let f = self.feed_forward(self.norm2.forward(x.clone()), drop);
            x + drop.apply(f)
        } else {
            let a = self.attention(x.clone());
            let x = self.norm1.forward(x + drop.apply(a));
            let f = self.feed_forward(x.clone(), drop);
            self.norm2.forward(x + drop.apply(f))
        }
    }
}

/// The whole network.
#[derive(Module, Debug)]
pub struct TransformerNet {
    /// Input (or patch) projection to `d_model`.
    pub input: Dense,
    /// Encoder layers.
    pub layers: Vec<EncoderLayer>,
    /// Final norm (used with pre-norm layers).
    pub norm: Norm,
    /// `[d_model] -> [horizon]` on the last token.
    pub head: Dense,
    /// The series embedding of a global model, appended to the input at every step.
    pub embedding: Option<SeriesEmbedding>,
    /// Timesteps per token (1 = one token per timestep).
    pub patch_len: usize,
    /// Model width.
    pub d_model: usize,
    /// Pre-norm layers.
    pub norm_first: bool,
}

/// Shape of a [`TransformerNet`].
#[derive(Debug, Clone, Copy)]
pub struct TransformerShape {
    /// Input features per timestep.
    pub features: usize,
    /// Model width.
    pub d_model: usize,
    /// Attention heads (divides `d_model`).
    pub heads: usize,
    /// Encoder layers.
    pub layers: usize,
    /// Feed-forward width.
    pub ff: usize,
    /// Outputs.
    pub horizon: usize,
    /// Timesteps per token.
    pub patch_len: usize,
    /// Pre-norm.
    pub norm_first: bool,
    /// `(series, dim)` of a series embedding.
    pub embed: Option<(usize, usize)>,
}

impl TransformerNet {
    /// A freshly initialised network.
    pub fn new(s: TransformerShape, rng: &mut StdRng, device: &Device) -> TransformerNet {
        let p = s.patch_len.max(1);
        TransformerNet {
            input: Dense::new(
                SeriesEmbedding::input_width(s.features, s.embed) * p,
                s.d_model,
                rng,
                device,
            ),
            layers: (0..s.layers)
                .map(|_| EncoderLayer::new(s.d_model, s.heads, s.ff, s.norm_first, rng, device))
                .collect(),
            norm: Norm::new(s.d_model, rng, device),
            head: Dense::new(s.d_model, s.horizon, rng, device),
            embedding: s
                .embed
                .map(|(n, d)| SeriesEmbedding::new(n, d, rng, device)),
            patch_len: p,
            d_model: s.d_model,
            norm_first: s.norm_first,
        }
    }
}

/// Sinusoidal positional encoding `[1, t, d]` (sin on even, cos on odd channels).
fn positional(t: usize, d: usize, device: &Device) -> Tensor<3> {
    let mut v = vec![0f32; t * d];
    for pos in 0..t {
        for i in (0..d).step_by(2) {
            let div = (-(i as f64) * (10000f64).ln() / d as f64).exp();
            v[pos * d + i] = (pos as f64 * div).sin() as f32;
            if i + 1 < d {
                v[pos * d + i + 1] = (pos as f64 * div).cos() as f32;
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [1, t, d]), device)
}

impl Net for TransformerNet {
    fn forward(&self, x: Tensor<3>, ids: &[Option<u32>], drop: &mut Dropper) -> Tensor<2> {
        let x = SeriesEmbedding::append(&self.embedding, x, ids);
        let [b, t, f] = x.dims();
        let p = self.patch_len;
        let tokens = t / p;
        // Patches: `p` consecutive timesteps of all features become one token.
        let x = if p > 1 {
            x.reshape([b, tokens, p * f])
        } else {
            x
        };
        let device = x.device();
        let mut x = self.input.forward3(x) + positional(tokens, self.d_model, &device);
        x = drop.apply(x);
        for layer in &self.layers {
            x = layer.forward(x, drop);
        }
        if self.norm_first {
            x = self.norm.forward(x);
        }
        let last = x.narrow(1, tokens - 1, 1).reshape([b, self.d_model]);
        self.head.forward2(last)
    }
}
