//! The stacked LSTM's training step on the CPU without a per-timestep autodiff graph.
//!
//! The recurrence is run forward once, keeping each step's gates and cell state, and back
//! through time once (BPTT), in plain `f32` buffers with `matrixmultiply`'s SGEMM: per
//! layer one product for the inputs of every timestep, one `[b, h] x [h, 4h]` product per
//! step forward and one `[b, 4h] x [4h, h]` per step backward, then one product each for
//! the weight gradients over all steps. Only the head and the loss go through burn's
//! autodiff; the LSTM weights' gradients are handed to the optimiser next to the head's.
//!
//! The batch is cut into fixed chunks of [`CHUNK`] windows that run in parallel (rayon)
//! and whose weight gradients are summed in chunk order, so the result does not depend on
//! the number of threads. [`super::lstm::LstmNet`]'s autodiff forward is the reference
//! the gradients are tested against.

use super::dataset::Batch;
use super::layers::{Dropper, SeriesEmbedding};
use super::lstm::{LstmLayer, LstmNet};
use super::Net;
use burn::optim::GradientsParams;
use burn::prelude::*;
use rayon::prelude::*;

/// Windows per parallel chunk (fixed, so results do not depend on the thread count).
pub const CHUNK: usize = 32;

/// `C = A B (+ C when accumulate)`, all row-major; `A` is logically `m x k` (stored
/// transposed when `ta`), `B` is `k x n` (stored transposed when `tb`), `C` is `m x n`.
#[allow(clippy::too_many_arguments)]
fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
    let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: the slices hold at least the `m x k`, `k x n` and `m x n` elements the
    // strides above address (checked by the assertion), and `c` does not alias `a` or `b`.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// Rows up to which [`gemm_rows`] replaces the packed SGEMM in the recurrence.
const SMALL_ROWS: usize = 4;

/// `C += A B` for few rows (all row-major, `A` is `m x k`, `B` is `k x n`), without the
/// packing and the `MR`-row register tile a general SGEMM pays for: a one-window forecast
/// (`m = 1`) would otherwise spend most of its time packing `B` and multiplying padding.
/// Each row of `C` is built as the sum over `k` of `a[r, k] * B[k, :]` in column blocks
/// held in registers, then added to `C` (the same association as the SGEMM's
/// `C + (A B)`; the order inside the sum differs, so results agree to float32 rounding).
#[inline(always)]
fn gemm_rows(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // 64 columns: eight 8-wide accumulators, enough to hide the add latency.
    const NB: usize = 64;
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    for r in 0..m {
        let ar = &a[r * k..(r + 1) * k];
        let cr = &mut c[r * n..(r + 1) * n];
        let mut j0 = 0;
        while j0 + NB <= n {
            let mut acc = [0f32; NB];
            for (kk, &av) in ar.iter().enumerate() {
                let br: &[f32; NB] = b[kk * n + j0..kk * n + j0 + NB]
                    .try_into()
                    .expect("block of NB columns");
                for j in 0..NB {
                    acc[j] += av * br[j];
                }
            }
            for (cv, v) in cr[j0..j0 + NB].iter_mut().zip(acc) {
                *cv += v;
            }
            j0 += NB;
        }
        if j0 < n {
            let w = n - j0;
            let mut acc = [0f32; NB];
            for (kk, &av) in ar.iter().enumerate() {
                let br = &b[kk * n + j0..kk * n + n];
                for j in 0..w {
                    acc[j] += av * br[j];
                }
            }
            for (cv, v) in cr[j0..].iter_mut().zip(acc) {
                *cv += v;
            }
        }
    }
}

/// `C = A B` (`+ C` when `accumulate`) for the recurrence's per-step products, all
/// row-major and contiguous (`A` is `m x k`, `B` is `k x n`), without packing: the packed
/// SGEMM copies all of `B` (the recurrent weights) at every timestep, which cost as much
/// as a third of its time on these `[32, 64] x [64, 256]` products. Tiles of 4 rows by 16
/// columns stay in registers; `B`'s rows are read in place. Every element is
/// `sum_k a[r, k] b[k, j]` accumulated in `k` order with fused multiply-adds, then added
/// to `C`, whatever tile it falls in. Uses AVX2 and FMA when the CPU has them (checked
/// once per call), else the packed SGEMM.
#[allow(clippy::too_many_arguments)]
fn gemm_step(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32], accumulate: bool) {
    #[cfg(target_arch = "x86_64")]
    if fma() {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        // SAFETY: the CPU has AVX2 and FMA (checked above); the slices hold the elements
        // the kernel addresses (checked by the assertion).
        unsafe { gemm_step_fma(m, k, n, a, b, c, accumulate) };
        return;
    }
    gemm(m, k, n, a, false, b, false, c, accumulate);
}

#[cfg(target_arch = "x86_64")]
fn fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// The AVX2/FMA kernel of [`gemm_step`]; callers check the slice lengths.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_step_fma(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    const MR: usize = 4;
    const NR: usize = 16;
    let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let m4 = m - m % MR;
    let n16 = n - n % NR;
    // SAFETY (all pointer arithmetic below): rows < m, columns < n and kk < k, so every
    // address lies inside the `m x k`, `k x n` and `m x n` slices.
    for r in (0..m4).step_by(MR) {
        for j in (0..n16).step_by(NR) {
            let mut acc = [[_mm256_setzero_ps(); 2]; MR];
            for kk in 0..k {
                let b0 = _mm256_loadu_ps(bp.add(kk * n + j));
                let b1 = _mm256_loadu_ps(bp.add(kk * n + j + 8));
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*ap.add((r + i) * k + kk));
                    row[0] = _mm256_fmadd_ps(av, b0, row[0]);
                    row[1] = _mm256_fmadd_ps(av, b1, row[1]);
                }
            }
            for (i, row) in acc.iter().enumerate() {
                for (h, v) in row.iter().enumerate() {
                    let dst = cp.add((r + i) * n + j + 8 * h);
                    let v = if accumulate {
                        _mm256_add_ps(_mm256_loadu_ps(dst), *v)
                    } else {
                        *v
                    };
                    _mm256_storeu_ps(dst, v);
                }
            }
        }
    }
    // Tails (rows past the last full tile, columns past the last full block): the same
    // per-element arithmetic, one element at a time.
    for r in 0..m {
        let j0 = if r < m4 { n16 } else { 0 };
        for j in j0..n {
            let mut acc = 0f32;
            for kk in 0..k {
                acc = (*ap.add(r * k + kk)).mul_add(*bp.add(kk * n + j), acc);
            }
            let dst = cp.add(r * n + j);
            *dst = if accumulate { *dst + acc } else { acc };
        }
    }
}

/// Whether this CPU runs the AVX2 builds of the layer loops. They perform the same IEEE
/// operations in the same order as the portable build (Rust never contracts `a * b + c`
/// into a fused multiply-add), only in wider vectors, so results are bit-identical.
#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// `fn NAME(ARGS) -> RET` running the `#[inline(always)]` body `IMPL` compiled for AVX2
/// (in `unsafe fn AVX2`) where [`avx2`] says the CPU has it, else the portable build.
macro_rules! with_avx2_build {
    (
        $(#[$meta:meta])*
        fn $name:ident / $avx2:ident => $body:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
    ) => {
        $(#[$meta])*
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: the CPU supports AVX2 (checked above).
                return unsafe { $avx2($($arg),*) };
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2($($arg: $ty),*) -> $ret {
            $body($($arg),*)
        }
    };
}

/// `e^x` for `x` in about `[-87, 88]` (clamped outside), Cephes' `expf` polynomial
/// (relative error about 2e-7): plain arithmetic that the compiler vectorises, where the
/// libm call in a loop stays scalar.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let z = r * r;
    let p = ((((1.987_569_2e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * z + r + 1.0;
    let k = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    y * f32::from_bits(((k + 127) << 23) as u32)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// One layer's weights as flat buffers.
struct Weights {
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    /// `w_hh` transposed (`[4h, h]`), for the backward pass's per-step product.
    w_hh_t: Vec<f32>,
    bias: Vec<f32>,
    d_in: usize,
    h: usize,
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

impl Weights {
    fn of(layer: &LstmLayer) -> Weights {
        let d_in = layer.w_ih.val().dims()[0];
        let h = layer.hidden;
        let w_hh = values(layer.w_hh.val());
        let mut w_hh_t = vec![0f32; w_hh.len()];
        for (i, row) in w_hh.chunks_exact(4 * h).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                w_hh_t[j * h + i] = v;
            }
        }
        Weights {
            w_ih: values(layer.w_ih.val()),
            w_hh,
            w_hh_t,
            bias: values(layer.bias.val()),
            d_in,
            h: layer.hidden,
        }
    }
}

/// What one layer keeps from the forward pass of one chunk (time-major rows `s * bc + r`).
struct Cache {
    /// Layer input `[t * bc, d_in]` (after dropout for upper layers).
    x: Vec<f32>,
    /// Activated gates `[t * bc, 4h]`: input, forget, cell, output.
    gates: Vec<f32>,
    /// Cell state `[t * bc, h]`.
    c: Vec<f32>,
    /// `tanh` of the cell state.
    tc: Vec<f32>,
    /// Hidden state `[t * bc, h]`.
    h: Vec<f32>,
}

with_avx2_build! {
    fn forward_layer / forward_layer_avx2 => forward_layer_impl(
        w: &Weights,
        x: Vec<f32>,
        t: usize,
        bc: usize,
    ) -> Cache
}

#[inline(always)]
fn forward_layer_impl(w: &Weights, x: Vec<f32>, t: usize, bc: usize) -> Cache {
    let (h, g4) = (w.h, 4 * w.h);
    let rows = t * bc;
    let mut gates = vec![0f32; rows * g4];
    gemm(
        rows, w.d_in, g4, &x, false, &w.w_ih, false, &mut gates, false,
    );
    let mut c = vec![0f32; rows * h];
    let mut tc = vec![0f32; rows * h];
    let mut hs = vec![0f32; rows * h];
    for s in 0..t {
        let gs = &mut gates[s * bc * g4..(s + 1) * bc * g4];
        if s > 0 {
            let hp = &hs[(s - 1) * bc * h..s * bc * h];
            if bc <= SMALL_ROWS {
                gemm_rows(bc, h, g4, hp, &w.w_hh, gs);
            } else {
                gemm_step(bc, h, g4, hp, &w.w_hh, gs, true);
            }
        }
        for r in 0..bc {
            let row = &mut gs[r * g4..(r + 1) * g4];
            for (v, b) in row.iter_mut().zip(&w.bias) {
                *v += b;
            }
            let (ifg, og) = row.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            // Two plain loops (a chained iterator would not vectorise).
            for v in i_f.iter_mut() {
                *v = sigmoid(*v);
            }
            for v in og.iter_mut() {
                *v = sigmoid(*v);
            }
            for v in g.iter_mut() {
                *v = tanh(*v);
            }
            let o = (s * bc + r) * h;
            let (ig, fg) = i_f.split_at(h);
            let (cs, cp) = if s > 0 {
                let (prev, cur) = c.split_at_mut(o);
                (&mut cur[..h], Some(&prev[o - bc * h..o - bc * h + h]))
            } else {
                (&mut c[o..o + h], None)
            };
            match cp {
                Some(p) => {
                    for j in 0..h {
                        cs[j] = fg[j] * p[j] + ig[j] * g[j];
                    }
                }
                None => {
                    for j in 0..h {
                        cs[j] = ig[j] * g[j];
                    }
                }
            }
            let (tcs, hss) = (&mut tc[o..o + h], &mut hs[o..o + h]);
            for j in 0..h {
                let t = tanh(cs[j]);
                tcs[j] = t;
                hss[j] = og[j] * t;
            }
        }
    }
    Cache {
        x,
        gates,
        c,
        tc,
        h: hs,
    }
}

/// Gradients of one layer for one chunk, and the gradient of its input when asked.
struct LayerGrads {
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    bias: Vec<f32>,
    dx: Option<Vec<f32>>,
}

with_avx2_build! {
    /// Back through time; `dh` is the loss gradient of every hidden state `[t * bc, h]`.
    fn backward_layer / backward_layer_avx2 => backward_layer_impl(
        w: &Weights,
        cache: &Cache,
        dh: &[f32],
        t: usize,
        bc: usize,
        want_dx: bool,
    ) -> LayerGrads
}

#[inline(always)]
fn backward_layer_impl(
    w: &Weights,
    cache: &Cache,
    dh: &[f32],
    t: usize,
    bc: usize,
    want_dx: bool,
) -> LayerGrads {
    let (h, g4) = (w.h, 4 * w.h);
    let rows = t * bc;
    let mut dg = vec![0f32; rows * g4];
    let mut dh_next = vec![0f32; bc * h];
    let mut dc_next = vec![0f32; bc * h];
    let zeros = vec![0f32; h];
    for s in (0..t).rev() {
        for r in 0..bc {
            let idx = s * bc + r;
            let (o, go) = (idx * h, idx * g4);
            // Slices of exactly `h` elements, so the loop below runs without bounds
            // checks and vectorises (the same operations as element-wise indexing).
            let gates = &cache.gates[go..go + g4];
            let (gi, rest) = gates.split_at(h);
            let (gf, rest) = rest.split_at(h);
            let (gg, go_) = rest.split_at(h);
            let tc = &cache.tc[o..o + h];
            let cp = if s > 0 {
                &cache.c[o - bc * h..o - bc * h + h]
            } else {
                &zeros[..]
            };
            let dhr = &dh[o..o + h];
            let dhn = &dh_next[r * h..(r + 1) * h];
            let dcn = &mut dc_next[r * h..(r + 1) * h];
            let (dgi, rest) = dg[go..go + g4].split_at_mut(h);
            let (dgf, rest) = rest.split_at_mut(h);
            let (dgg, dgo) = rest.split_at_mut(h);
            for j in 0..h {
                let d_h = dhr[j] + dhn[j];
                let dc = d_h * go_[j] * (1.0 - tc[j] * tc[j]) + dcn[j];
                dcn[j] = dc * gf[j];
                dgi[j] = dc * gg[j] * gi[j] * (1.0 - gi[j]);
                dgf[j] = dc * cp[j] * gf[j] * (1.0 - gf[j]);
                dgg[j] = dc * gi[j] * (1.0 - gg[j] * gg[j]);
                dgo[j] = d_h * tc[j] * go_[j] * (1.0 - go_[j]);
            }
        }
        if s > 0 {
            gemm_step(
                bc,
                g4,
                h,
                &dg[s * bc * g4..(s + 1) * bc * g4],
                &w.w_hh_t,
                &mut dh_next,
                false,
            );
        }
    }
    let mut w_hh = vec![0f32; h * g4];
    if t > 1 {
        let n = (t - 1) * bc;
        gemm(
            h,
            n,
            g4,
            &cache.h[..n * h],
            true,
            &dg[bc * g4..],
            false,
            &mut w_hh,
            false,
        );
    }
    let mut w_ih = vec![0f32; w.d_in * g4];
    gemm(
        w.d_in, rows, g4, &cache.x, true, &dg, false, &mut w_ih, false,
    );
    let mut bias = vec![0f32; g4];
    for row in dg.chunks_exact(g4) {
        for (b, v) in bias.iter_mut().zip(row) {
            *b += v;
        }
    }
    let dx = want_dx.then(|| {
        let mut dx = vec![0f32; rows * w.d_in];
        gemm(rows, g4, w.d_in, &dg, false, &w.w_ih, true, &mut dx, false);
        dx
    });
    LayerGrads {
        w_ih,
        w_hh,
        bias,
        dx,
    }
}

/// The forward pass of one chunk through every layer (inter-layer dropout masks
/// time-major, `masks[l]` after layer `l`).
fn forward_chunk(
    ws: &[Weights],
    x: Vec<f32>,
    masks: &[Option<Vec<f32>>],
    t: usize,
    bc: usize,
) -> Vec<Cache> {
    let mut caches: Vec<Cache> = Vec::with_capacity(ws.len());
    let mut input = x;
    for (l, w) in ws.iter().enumerate() {
        let cache = forward_layer(w, input, t, bc);
        if l + 1 < ws.len() {
            input = cache.h.clone();
            if let Some(m) = &masks[l] {
                for (v, k) in input.iter_mut().zip(m) {
                    *v *= k;
                }
            }
        } else {
            input = Vec::new();
        }
        caches.push(cache);
    }
    caches
}

/// Back through every layer of one chunk; the layers' gradients, bottom first, and with
/// `input_grad` the gradient of the bottom layer's input (time-major `[t * bc, d_in]`).
fn backward_chunk(
    ws: &[Weights],
    caches: &[Cache],
    masks: &[Option<Vec<f32>>],
    dh_last: &[f32],
    (t, bc): (usize, usize),
    input_grad: bool,
) -> (Vec<LayerGrads>, Option<Vec<f32>>) {
    let n = ws.len();
    let h = ws[n - 1].h;
    let mut dh = vec![0f32; t * bc * h];
    dh[(t - 1) * bc * h..].copy_from_slice(dh_last);
    let mut out: Vec<LayerGrads> = Vec::with_capacity(n);
    let mut dx0 = None;
    for l in (0..n).rev() {
        let mut g = backward_layer(&ws[l], &caches[l], &dh, t, bc, l > 0 || input_grad);
        if let Some(mut dx) = g.dx.take() {
            if l == 0 {
                dx0 = Some(dx);
            } else {
                if let Some(m) = &masks[l - 1] {
                    for (v, k) in dx.iter_mut().zip(m) {
                        *v *= k;
                    }
                }
                dh = dx;
            }
        }
        out.push(g);
    }
    out.reverse();
    (out, dx0)
}

/// `x` (`[b, t, f]`, batch-major) with the rows of `ids` of the host table `table`
/// ([`SeriesEmbedding::host_table`], `rows` rows plus the mean, `dim` wide) appended at
/// every timestep: `[b, t, f + dim]`.
fn with_embedding(
    x: &[f32],
    [b, t, f]: [usize; 3],
    ids: &[Option<u32>],
    table: &[f32],
    (rows, dim): (usize, usize),
) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * t * (f + dim));
    for r in 0..b {
        let k = SeriesEmbedding::host_row(rows, ids.get(r).copied().flatten());
        let e = &table[k * dim..(k + 1) * dim];
        for s in 0..t {
            let o = (r * t + s) * f;
            out.extend_from_slice(&x[o..o + f]);
            out.extend_from_slice(e);
        }
    }
    out
}

/// Time-major copy of the windows `r0..r1` of a batch-major `[b, t, f]` input.
fn time_major(x: &[f32], r0: usize, r1: usize, t: usize, f: usize) -> Vec<f32> {
    let bc = r1 - r0;
    let mut xt = vec![0f32; t * bc * f];
    for r in 0..bc {
        for s in 0..t {
            let src = ((r0 + r) * t + s) * f;
            let dst = (s * bc + r) * f;
            xt[dst..dst + f].copy_from_slice(&x[src..src + f]);
        }
    }
    xt
}

fn chunks(b: usize) -> Vec<(usize, usize)> {
    (0..b)
        .step_by(CHUNK)
        .map(|r0| (r0, (r0 + CHUNK).min(b)))
        .collect()
}

/// The top layer's last hidden state `[b, h]` (flat) for the batch-major input `x`
/// (`[b, t, f]`), without dropout: the inference forward pass.
pub fn last_hidden(net: &LstmNet, x: &[f32], shape: [usize; 3]) -> Vec<f32> {
    let [b, t, f] = shape;
    let ws: Vec<Weights> = net.layers.iter().map(Weights::of).collect();
    let n = ws.len();
    let h = ws[n - 1].h;
    let none = vec![None; n];
    let run = |&(r0, r1): &(usize, usize)| {
        let caches = forward_chunk(&ws, time_major(x, r0, r1, t, f), &none, t, r1 - r0);
        caches[n - 1].h[(t - 1) * (r1 - r0) * h..].to_vec()
    };
    let bounds = chunks(b);
    if bounds.len() == 1 {
        // One chunk (a single forecast): no hand-over to the thread pool.
        return run(&bounds[0]);
    }
    let parts: Vec<Vec<f32>> = bounds.par_iter().map(run).collect();
    parts.concat()
}

/// One training step's loss and gradients for `net` on `batch`. `train` is the autodiff
/// device and `plain` the same device without autodiff (where gradients live).
pub fn loss_and_grads(
    net: &LstmNet,
    batch: Batch,
    drop: &mut Dropper,
    train: &Device,
    plain: &Device,
) -> (f32, GradientsParams) {
    let Batch { x, y, ids, shape } = batch;
    // A series embedding enters as extra input columns at every step.
    let embed = net.embedding.as_ref().map(|e| {
        let [rows, dim] = e.dims();
        let table = e.host_table();
        (
            with_embedding(&x, shape, &ids, &table, (rows, dim)),
            rows,
            dim,
        )
    });
    let (x, shape) = match &embed {
        Some((xe, _, dim)) => (&xe[..], [shape[0], shape[1], shape[2] + dim]),
        None => (&x[..], shape),
    };
    let [b, t, f] = shape;
    let ws: Vec<Weights> = net.layers.iter().map(Weights::of).collect();
    let n = ws.len();
    let h = ws[n - 1].h;
    let horizon = y.len() / b.max(1);
    // Chunks of the batch, inputs time-major.
    let bounds = chunks(b);
    // Dropout masks are drawn in one fixed order (layer, chunk, time, row, unit).
    let masks: Vec<Vec<Option<Vec<f32>>>> = {
        let mut per_layer: Vec<Vec<Option<Vec<f32>>>> = Vec::with_capacity(n);
        for (l, w) in ws.iter().enumerate() {
            per_layer.push(
                bounds
                    .iter()
                    .map(|&(r0, r1)| {
                        (l + 1 < n)
                            .then(|| drop.mask(t * (r1 - r0) * w.h))
                            .flatten()
                    })
                    .collect(),
            );
        }
        // Regroup per chunk.
        (0..bounds.len())
            .map(|c| per_layer.iter().map(|m| m[c].clone()).collect())
            .collect()
    };
    let caches: Vec<Vec<Cache>> = bounds
        .par_iter()
        .zip(masks.par_iter())
        .map(|(&(r0, r1), m)| forward_chunk(&ws, time_major(x, r0, r1, t, f), m, t, r1 - r0))
        .collect();
    let mut last = Vec::with_capacity(b * h);
    for (cs, &(r0, r1)) in caches.iter().zip(&bounds) {
        let top = &cs[n - 1].h;
        last.extend_from_slice(&top[(t - 1) * (r1 - r0) * h..]);
    }
    // Head and loss through autodiff.
    let hl = Tensor::<2>::from_data(TensorData::new(last, [b, h]), train).require_grad();
    let yt = Tensor::<2>::from_data(TensorData::new(y, [b, horizon]), train);
    let pred = net.head.forward2(drop.apply(hl.clone()));
    let loss = (pred - yt).powi_scalar(2).mean();
    let l: f32 = loss.clone().into_scalar();
    let grads = loss.backward();
    let dh_last = hl
        .grad(&grads)
        .map(values)
        .unwrap_or_else(|| vec![0.0; b * h]);
    let mut params = GradientsParams::from_grads(grads, net);
    // Back through the LSTM, chunks in parallel, sums in chunk order.
    let per_chunk: Vec<(Vec<LayerGrads>, Option<Vec<f32>>)> = bounds
        .par_iter()
        .zip(caches.par_iter())
        .zip(masks.par_iter())
        .map(|((&(r0, r1), cs), m)| {
            let bc = r1 - r0;
            let dh = &dh_last[r0 * h..r1 * h];
            backward_chunk(&ws, cs, m, dh, (t, bc), embed.is_some())
        })
        .collect();
    // The embedding rows' gradient: each window's input gradient in the embedding
    // columns, summed over its steps, added to its series' row (a new series' mean row
    // spreads it evenly), chunks in order.
    if let (Some(e), Some((_, rows, dim))) = (&net.embedding, &embed) {
        let (rows, dim) = (*rows, *dim);
        let f0 = f - dim;
        let mut grad = vec![0f32; rows * dim];
        for ((_, dx), &(r0, r1)) in per_chunk.iter().zip(&bounds) {
            let Some(dx) = dx else { continue };
            let bc = r1 - r0;
            for r in 0..bc {
                let mut d = vec![0f32; dim];
                for s in 0..t {
                    let o = (s * bc + r) * f + f0;
                    add(&mut d, &dx[o..o + dim]);
                }
                match ids.get(r0 + r).copied().flatten() {
                    Some(i) => {
                        let k = SeriesEmbedding::host_row(rows, Some(i));
                        add(&mut grad[k * dim..(k + 1) * dim], &d);
                    }
                    None => {
                        for row in grad.chunks_exact_mut(dim) {
                            for (g, v) in row.iter_mut().zip(&d) {
                                *g += v / rows as f32;
                            }
                        }
                    }
                }
            }
        }
        params.register(
            e.table.id,
            Tensor::<2>::from_data(TensorData::new(grad, [rows, dim]), plain),
        );
    }
    let mut sums = per_chunk.into_iter().map(|(g, _)| g);
    if let Some(mut total) = sums.next() {
        for chunk in sums {
            for (acc, g) in total.iter_mut().zip(chunk) {
                add(&mut acc.w_ih, &g.w_ih);
                add(&mut acc.w_hh, &g.w_hh);
                add(&mut acc.bias, &g.bias);
            }
        }
        for ((layer, w), g) in net.layers.iter().zip(&ws).zip(total) {
            let g4 = 4 * w.h;
            params.register(
                layer.w_ih.id,
                Tensor::<2>::from_data(TensorData::new(g.w_ih, [w.d_in, g4]), plain),
            );
            params.register(
                layer.w_hh.id,
                Tensor::<2>::from_data(TensorData::new(g.w_hh, [w.h, g4]), plain),
            );
            params.register(
                layer.bias.id,
                Tensor::<1>::from_data(TensorData::new(g.bias, [g4]), plain),
            );
        }
    }
    (l, params)
}

fn add(acc: &mut [f32], v: &[f32]) {
    for (a, b) in acc.iter_mut().zip(v) {
        *a += b;
    }
}

/// The LSTM as a trainable [`Net`]: this module's recurrence on the CPU, burn's autodiff
/// elsewhere (the network's layout lives in [`super::lstm`], which does not depend on this
/// module).
impl Net for LstmNet {
    /// On the CPU: the recurrence forward and back through time without a per-step
    /// autodiff graph ([this module]); elsewhere burn's autodiff.
    fn loss_and_grads(
        &self,
        batch: Batch,
        drop: &mut Dropper,
        devices: &super::device::Devices,
    ) -> (f32, burn::optim::GradientsParams) {
        if devices.name == "cpu" {
            loss_and_grads(self, batch, drop, &devices.train, &devices.infer)
        } else {
            super::training::autodiff_step(self, batch, drop, &devices.train)
        }
    }

    /// Without autodiff and dropout on the CPU (validation, forecasts), the recurrence
    /// runs in [`last_hidden`]; otherwise as burn tensor operations.
    fn forward(&self, x: Tensor<3>, ids: &[Option<u32>], drop: &mut Dropper) -> Tensor<2> {
        let x = SeriesEmbedding::append(&self.embedding, x, ids);
        let device = x.device();
        if !drop.active() && !device.is_autodiff() && device == Device::flex() {
            let shape = x.dims();
            if let Ok(v) = x.clone().into_data().try_to_vec::<f32>() {
                let h = self.layers.last().map_or(0, |l| l.hidden);
                let last = last_hidden(self, &v, shape);
                let last = Tensor::<2>::from_data(TensorData::new(last, [shape[0], h]), &device);
                return self.head.forward2(last);
            }
        }
        let n = self.layers.len();
        let mut x = x;
        for (l, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, l + 1 < n);
            if l + 1 < n {
                x = drop.apply(x);
            }
        }
        let [b, _, h] = x.dims();
        let last = drop.apply(x.reshape([b, h]));
        self.head.forward2(last)
    }
}

#[cfg(test)]
mod tests {
    /// The polynomial `exp`, `sigmoid` and `tanh` against the standard library's over the
    /// range the gates see: relative error of `exp` below 1e-6 (Cephes states about 2e-7
    /// for its float32 `expf`), absolute error of the activations below 1e-6.
    #[test]
    fn fast_activations_match_std() {
        for i in -8000..=8000 {
            let x = i as f32 / 100.0;
            let (e, r) = (super::exp(x), x.exp());
            assert!((e - r).abs() <= 1e-6 * r, "exp({x}) = {e}, std {r}");
            let s = 1.0 / (1.0 + (-x).exp());
            assert!((super::sigmoid(x) - s).abs() <= 1e-6, "sigmoid({x})");
            assert!((super::tanh(x) - x.tanh()).abs() <= 1e-6, "tanh({x})");
        }
    }
}
