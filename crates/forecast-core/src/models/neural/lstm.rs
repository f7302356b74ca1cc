//! Stacked LSTM with a multi-output head.
//!
//! Our own layer rather than `burn::nn::Lstm`: the input projection of every timestep is
//! one matrix product before the recurrence, and each step does one fused matrix product
//! for the four gates (`[h, 4h]`), one sigmoid over all gates and one tanh, as PyTorch's
//! fused cell does. Gate order: input, forget, cell, output.

use super::layers::{uniform, Dense, SeriesEmbedding};
use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand::rngs::StdRng;

/// One LSTM layer.
#[derive(Module, Debug)]
pub struct LstmLayer {
    /// Input weights `[d_in, 4h]`.
    pub w_ih: Param<Tensor<2>>,
    /// Recurrent weights `[h, 4h]`.
    pub w_hh: Param<Tensor<2>>,
    /// Gate bias `[4h]`.
    pub bias: Param<Tensor<1>>,
    /// Hidden size.
    pub hidden: usize,
}

impl LstmLayer {
    /// Uniform `1/sqrt(h)` initialisation, as PyTorch.
    pub fn new(d_in: usize, hidden: usize, rng: &mut StdRng, device: &Device) -> LstmLayer {
        let bound = 1.0 / (hidden as f64).sqrt();
        LstmLayer {
            w_ih: uniform([d_in, 4 * hidden], bound, rng, device),
            w_hh: uniform([hidden, 4 * hidden], bound, rng, device),
            bias: uniform([4 * hidden], bound, rng, device),
            hidden,
        }
    }

    /// Run over `[b, t, d_in]`; returns every step's hidden state `[b, t, h]` when `all`,
    /// else only the last one `[b, h]` reshaped to `[b, 1, h]`.
    pub fn forward(&self, x: Tensor<3>, all: bool) -> Tensor<3> {
        let [b, t, i] = x.dims();
        let h = self.hidden;
        // One product for all timesteps, laid out time-major so a step is a contiguous slice.
        let xp = (x
            .swap_dims(0, 1)
            .reshape([t * b, i])
            .matmul(self.w_ih.val())
            + self.bias.val().unsqueeze_dim(0))
        .reshape([t, b, 4 * h]);
        let w_hh = self.w_hh.val();
        let mut hs: Option<Tensor<2>> = None;
        let mut cs: Option<Tensor<2>> = None;
        let mut outs = Vec::with_capacity(if all { t } else { 0 });
        for s in 0..t {
            let xs = xp.clone().narrow(0, s, 1).reshape([b, 4 * h]);
            let g = match &hs {
                Some(hp) => xs + hp.clone().matmul(w_hh.clone()),
                None => xs,
            };
            let sg = sigmoid(g.clone());
            let ig = sg.clone().narrow(1, 0, h);
            let fg = sg.clone().narrow(1, h, h);
            let og = sg.narrow(1, 3 * h, h);
            let gg = g.narrow(1, 2 * h, h).tanh();
            let c = match cs {
                Some(cp) => fg * cp + ig * gg,
                None => ig * gg,
            };
            let hn = og * c.clone().tanh();
            if all {
                outs.push(hn.clone());
            }
            cs = Some(c);
            hs = Some(hn);
        }
        if all {
            Tensor::stack(outs, 1)
        } else {
            hs.map(|h| h.unsqueeze_dim(1))
                .unwrap_or_else(|| Tensor::zeros([b, 1, h], &xp.device()))
        }
    }
}

/// Stacked LSTM, dropout between layers and before the head, head on the last hidden state.
#[derive(Module, Debug)]
pub struct LstmNet {
    /// The layers, bottom first.
    pub layers: Vec<LstmLayer>,
    /// `[h] -> [horizon]`.
    pub head: Dense,
    /// The series embedding of a global model, appended to the input at every step.
    pub embedding: Option<SeriesEmbedding>,
}

impl LstmNet {
    /// A freshly initialised network; `embed` is `(series, dim)` of a series embedding.
    pub fn new(
        features: usize,
        hidden: usize,
        layers: usize,
        horizon: usize,
        embed: Option<(usize, usize)>,
        rng: &mut StdRng,
        device: &Device,
    ) -> LstmNet {
        let d_in = SeriesEmbedding::input_width(features, embed);
        let layers = (0..layers)
            .map(|l| LstmLayer::new(if l == 0 { d_in } else { hidden }, hidden, rng, device))
            .collect();
        LstmNet {
            layers,
            head: Dense::new(hidden, horizon, rng, device),
            embedding: embed.map(|(s, d)| SeriesEmbedding::new(s, d, rng, device)),
        }
    }
}
