//! A trainable conv stem: the forward pass of [`crate::conv`] with a cache, and its hand-written
//! backward pass (weight and bias gradients; the stem's own input needs none).
//!
//! Parameters live in the flat vector as `{prefix}{i}.weight (cout, cin, 3, 3)` and
//! `{prefix}{i}.bias (cout,)`. The input is the *normalized* observation, `(rows, obs_dim)`; the
//! output is the encoder MLP's input, `(rows, feature_dim + obs_dim - pixels)`.

use crate::conv::{ConvGeom, ConvSpec, col2im_add, im2col};
use crate::train::matmul::{Rhs, matmul, matmul_tn_acc};

/// One conv stem's view into a flat parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConv {
    /// Architecture.
    pub spec: ConvSpec,
    /// Floats per observation.
    pub obs_dim: usize,
    geoms: Vec<ConvGeom>,
    /// `(weight, bias)` offsets of each convolution.
    slots: Vec<(usize, usize)>,
}

/// What one convolution's forward pass keeps for the backward pass.
#[derive(Debug, Clone, Default)]
struct LayerCache {
    /// `(rows * positions, patch)`.
    cols: Vec<f32>,
    /// Pre-activation output, `(rows * positions, cout)`.
    pre: Vec<f32>,
}

/// The forward cache of one stem evaluation; reusable across calls.
#[derive(Debug, Clone, Default)]
pub struct ConvCache {
    rows: usize,
    layers: Vec<LayerCache>,
    /// The encoder MLP's input, `(rows, spec.mlp_input_dim(obs_dim))`.
    pub output: Vec<f32>,
}

impl TrainConv {
    /// A view of the stem whose convolutions sit at `slots` (from
    /// [`crate::train::params::ParamLayout::add_conv`]).
    pub fn new(spec: ConvSpec, obs_dim: usize, slots: Vec<(usize, usize)>) -> Self {
        let geoms = spec.geoms();
        debug_assert_eq!(geoms.len(), slots.len());
        Self {
            spec,
            obs_dim,
            geoms,
            slots,
        }
    }

    /// Width of the output rows.
    pub fn output_dim(&self) -> usize {
        self.spec.mlp_input_dim(self.obs_dim)
    }

    /// Forward pass over `x (rows, obs_dim)`, normalized observations.
    pub fn forward(&self, params: &[f32], x: &[f32], rows: usize, cache: &mut ConvCache) {
        let (od, px) = (self.obs_dim, self.spec.pixels());
        debug_assert_eq!(x.len(), rows * od);
        cache.rows = rows;
        cache
            .layers
            .resize_with(self.geoms.len(), LayerCache::default);
        let mut act: Vec<f32> = (0..rows)
            .flat_map(|r| x[r * od..r * od + px].iter().copied())
            .collect();
        for (i, (g, &(w, b))) in self.geoms.iter().zip(&self.slots).enumerate() {
            let c = &mut cache.layers[i];
            let m = rows * g.positions();
            c.cols.resize(m * g.patch(), 0.0);
            im2col(&act, rows, g, &mut c.cols);
            c.pre.resize(m * g.cout, 0.0);
            let weight = &params[w..w + g.cout * g.patch()];
            matmul(
                &c.cols,
                m,
                g.patch(),
                Rhs::Transposed(weight),
                g.cout,
                &mut c.pre,
            );
            let bias = &params[b..b + g.cout];
            for p in 0..m {
                for (v, bv) in c.pre[p * g.cout..(p + 1) * g.cout].iter_mut().zip(bias) {
                    *v += bv;
                }
            }
            act = c
                .pre
                .iter()
                .map(|&v| self.spec.activation.apply(v))
                .collect();
        }
        let (feat, out_w) = (self.spec.feature_dim(), self.output_dim());
        cache.output.resize(rows * out_w, 0.0);
        for r in 0..rows {
            let o = &mut cache.output[r * out_w..(r + 1) * out_w];
            o[..feat].copy_from_slice(&act[r * feat..(r + 1) * feat]);
            o[feat..].copy_from_slice(&x[r * od + px..(r + 1) * od]);
        }
    }

    /// Backward pass: given `g_out = dL/d(output)`, `(rows, output_dim)`, adds the gradients of
    /// every convolution's weight and bias into `grads`.
    pub fn backward(&self, params: &[f32], cache: &ConvCache, g_out: &[f32], grads: &mut [f32]) {
        let rows = cache.rows;
        let (feat, out_w) = (self.spec.feature_dim(), self.output_dim());
        debug_assert_eq!(g_out.len(), rows * out_w);
        let mut g: Vec<f32> = (0..rows)
            .flat_map(|r| g_out[r * out_w..r * out_w + feat].iter().copied())
            .collect();
        let act = self.spec.activation;
        for (i, (geom, &(w, b))) in self.geoms.iter().zip(&self.slots).enumerate().rev() {
            let c = &cache.layers[i];
            let (m, cout, patch) = (rows * geom.positions(), geom.cout, geom.patch());
            for (gv, &x) in g.iter_mut().zip(&c.pre) {
                *gv *= act.derivative(x, act.apply(x));
            }
            for p in 0..m {
                for (gb, gv) in grads[b..b + cout]
                    .iter_mut()
                    .zip(&g[p * cout..(p + 1) * cout])
                {
                    *gb += gv;
                }
            }
            matmul_tn_acc(&g, &c.cols, m, cout, patch, &mut grads[w..w + cout * patch]);
            if i == 0 {
                break;
            }
            let mut g_cols = vec![0.0f32; m * patch];
            let weight = &params[w..w + cout * patch];
            matmul(&g, m, cout, Rhs::Plain(weight), patch, &mut g_cols);
            let mut g_x = vec![0.0f32; rows * geom.in_len()];
            col2im_add(&g_cols, rows, geom, &mut g_x);
            g = g_x;
        }
    }
}
