//! [`PredictorLayout`]: an [`MlpWorldModel`]'s predictor packed into the flat buffers the
//! rollout kernels read, with the limits of the kernels checked on the host.
//!
//! `params` holds, per linear layer, `W^T (in, out)` (forward reads, coalesced over outputs),
//! `W (out, in)` (backward reads, coalesced over inputs), the bias, and the LayerNorm scale and
//! shift of hidden layers when the model has them. `layers` is the table described in
//! `cuda/common.cuh`, one row of [`LAYER_FIELDS`] ints per linear layer. A tape row (one per
//! sample and step, gradient kernel only) holds each hidden layer's pre-norm value `y` and output
//! `h`.

use crate::error::KernelError;
use crate::sources::{LAYER_FIELDS, TILE};
use world_model::{Activation, LayerNormParams, Mlp, MlpWorldModel, WorldModel};

/// Widest hidden layer the kernels accept (shared memory holds two `(TILE, width)` buffers).
pub const MAX_WIDTH: usize = 4096;
/// Most linear layers in a predictor.
pub const MAX_LAYERS: usize = 32;

/// The packed predictor; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictorLayout {
    /// All weights, offsets in `layers`.
    pub params: Vec<f32>,
    /// `(num_layers, LAYER_FIELDS)` layer table.
    pub layers: Vec<i32>,
    /// Number of linear layers.
    pub num_layers: usize,
    /// Activation code (`ACT_*` in `common.cuh`).
    pub activation: i32,
    /// Latent width `D`.
    pub latent_dim: usize,
    /// Action width `A`.
    pub action_dim: usize,
    /// Row stride of the forward kernel's activation buffers: `max(hidden widths, D)`.
    pub width: usize,
    /// Row stride of the gradient kernel's buffers: `max(width, D + A)`.
    pub grad_width: usize,
    /// Floats per tape row (per sample and step): `2 * sum(hidden widths)`.
    pub tape_width: usize,
}

/// Activation code shared with `common.cuh`.
pub fn activation_code(a: Activation) -> i32 {
    match a {
        Activation::Identity => 0,
        Activation::Tanh => 1,
        Activation::Relu => 2,
        Activation::Gelu => 3,
        Activation::Silu => 4,
    }
}

impl PredictorLayout {
    /// Packs `model`'s predictor. `norms` must hold one [`LayerNormParams`] per hidden layer when
    /// the predictor uses LayerNorm (the `world_model` crate does not expose them yet), and be
    /// empty otherwise.
    pub fn new(model: &MlpWorldModel, norms: &[LayerNormParams]) -> Result<Self, KernelError> {
        let dims = model.dims();
        Self::from_mlp(model.predictor(), norms, dims.latent_dim, dims.action_dim)
    }

    /// Packs a residual predictor MLP `(D + A) -> D`; see [`PredictorLayout::new`].
    pub fn from_mlp(
        mlp: &Mlp,
        norms: &[LayerNormParams],
        latent_dim: usize,
        action_dim: usize,
    ) -> Result<Self, KernelError> {
        let spec = mlp.spec();
        if spec.input_dim != latent_dim + action_dim || spec.output_dim != latent_dim {
            return Err(KernelError::Unsupported(format!(
                "predictor is {} -> {}, expected {} -> {latent_dim}",
                spec.input_dim,
                spec.output_dim,
                latent_dim + action_dim
            )));
        }
        let want_norms = if spec.layer_norm {
            spec.hidden.len()
        } else {
            0
        };
        if norms.len() != want_norms {
            return Err(KernelError::Unsupported(format!(
                "the predictor has {} LayerNorm(s) but {} parameter set(s) were given{}",
                want_norms,
                norms.len(),
                if want_norms > 0 {
                    " (pass them with CudaRollout::with_layer_norms)"
                } else {
                    ""
                }
            )));
        }
        for (i, (n, &w)) in norms.iter().zip(&spec.hidden).enumerate() {
            if n.gamma.len() != w || n.beta.len() != w {
                return Err(KernelError::Unsupported(format!(
                    "LayerNorm {i} has {} / {} parameters, expected {w}",
                    n.gamma.len(),
                    n.beta.len()
                )));
            }
        }
        let linears = mlp.linears();
        if linears.len() > MAX_LAYERS {
            return Err(KernelError::Limit {
                what: "number of linear layers",
                value: linears.len(),
                max: MAX_LAYERS,
            });
        }
        let widest = spec.hidden.iter().copied().max().unwrap_or(0);
        if widest > MAX_WIDTH {
            return Err(KernelError::Limit {
                what: "hidden width",
                value: widest,
                max: MAX_WIDTH,
            });
        }
        if latent_dim + action_dim > MAX_WIDTH {
            return Err(KernelError::Limit {
                what: "latent_dim + action_dim",
                value: latent_dim + action_dim,
                max: MAX_WIDTH,
            });
        }
        let mut params = Vec::new();
        let mut layers = Vec::with_capacity(linears.len() * LAYER_FIELDS);
        let mut tape_width = 0usize;
        for (l, (lin, (din, dout))) in linears.iter().zip(spec.layer_dims()).enumerate() {
            let wt_off = params.len();
            for i in 0..din {
                params.extend((0..dout).map(|j| lin.weight[j * din + i]));
            }
            let w_off = params.len();
            params.extend_from_slice(&lin.weight);
            let b_off = params.len();
            params.extend_from_slice(&lin.bias);
            let (mut g_off, mut be_off, mut y_off, mut h_off) = (-1i64, -1i64, -1i64, -1i64);
            if l < spec.hidden.len() {
                if let Some(n) = norms.get(l) {
                    g_off = params.len() as i64;
                    params.extend_from_slice(&n.gamma);
                    be_off = params.len() as i64;
                    params.extend_from_slice(&n.beta);
                }
                y_off = tape_width as i64;
                h_off = (tape_width + dout) as i64;
                tape_width += 2 * dout;
            }
            for v in [
                din as i64,
                dout as i64,
                wt_off as i64,
                w_off as i64,
                b_off as i64,
                g_off,
                be_off,
                y_off,
                h_off,
            ] {
                layers.push(to_i32(v)?);
            }
        }
        to_i32(params.len() as i64)?;
        let width = widest.max(latent_dim);
        Ok(Self {
            params,
            layers,
            num_layers: linears.len(),
            activation: activation_code(spec.activation),
            latent_dim,
            action_dim,
            width,
            grad_width: width.max(latent_dim + action_dim),
            tape_width,
        })
    }

    /// Dynamic shared memory of `rollout_energy`, bytes.
    pub fn rollout_smem_bytes(&self) -> usize {
        4 * (TILE * (self.latent_dim + self.action_dim + 2 * self.width) + TILE)
    }

    /// Dynamic shared memory of `rollout_energy_grad`, bytes.
    pub fn grad_smem_bytes(&self) -> usize {
        let (d, a) = (self.latent_dim, self.action_dim);
        4 * (TILE * (d + a + 2 * self.grad_width + d) + TILE)
    }

    /// `(offset of W^T, in, out, offset of bias, gamma, beta)` of layer `l`, for tests and tools.
    fn row(&self, l: usize) -> &[i32] {
        &self.layers[l * LAYER_FIELDS..(l + 1) * LAYER_FIELDS]
    }

    /// One predictor step of one sample, computed from the packed buffers exactly as the kernel
    /// indexes them (sequential sums): `z' = z + f([z; a])`. The host-side check of the layout.
    ///
    /// - `z`: `(latent_dim,)`, `a`: `(action_dim,)`, returns `(latent_dim,)`
    pub fn reference_step(&self, z: &[f32], a: &[f32]) -> Vec<f32> {
        let mut x: Vec<f32> = z.iter().chain(a).copied().collect();
        for l in 0..self.num_layers {
            let r = self.row(l);
            let (din, dout) = (r[0] as usize, r[1] as usize);
            let (wt, b) = (r[2] as usize, r[4] as usize);
            let mut y: Vec<f32> = (0..dout)
                .map(|j| {
                    (0..din).fold(self.params[b + j], |acc, i| {
                        x[i].mul_add(self.params[wt + i * dout + j], acc)
                    })
                })
                .collect();
            if l + 1 < self.num_layers {
                if r[5] >= 0 {
                    let (g, be) = (r[5] as usize, r[6] as usize);
                    let n = dout as f32;
                    let mean = y.iter().sum::<f32>() / n;
                    let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
                    let rstd = 1.0 / (var + world_model::mlp::LAYER_NORM_EPS).sqrt();
                    for (j, v) in y.iter_mut().enumerate() {
                        *v = (*v - mean) * rstd * self.params[g + j] + self.params[be + j];
                    }
                }
                let act = match self.activation {
                    1 => Activation::Tanh,
                    2 => Activation::Relu,
                    3 => Activation::Gelu,
                    4 => Activation::Silu,
                    _ => Activation::Identity,
                };
                y.iter_mut().for_each(|v| *v = act.apply(*v));
            }
            x = y;
        }
        z.iter().zip(&x).map(|(a, b)| a + b).collect()
    }
}

fn to_i32(v: i64) -> Result<i32, KernelError> {
    i32::try_from(v).map_err(|_| KernelError::Limit {
        what: "packed parameter offset",
        value: v.max(0) as usize,
        max: i32::MAX as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use world_model::{Linear, MlpSpec};

    /// A deterministic small model: latent 5, action 2, hidden `[7, 6]`.
    fn model(act: Activation, layer_norm: bool) -> (MlpWorldModel, Vec<LayerNormParams>) {
        let spec = MlpSpec {
            input_dim: 7,
            hidden: vec![7, 6],
            output_dim: 5,
            activation: act,
            layer_norm,
        };
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / 16_777_216.0 - 0.5
        };
        let linears = spec
            .layer_dims()
            .into_iter()
            .map(|(i, o)| {
                let w = (0..i * o).map(|_| next()).collect();
                let b = (0..o).map(|_| next()).collect();
                Linear::new(w, b, i, o).expect("linear")
            })
            .collect();
        let norms: Vec<LayerNormParams> = if layer_norm {
            spec.hidden
                .iter()
                .map(|&w| LayerNormParams {
                    gamma: (0..w).map(|_| 1.0 + next()).collect(),
                    beta: (0..w).map(|_| next()).collect(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let mlp = Mlp::new(spec, linears, norms.clone()).expect("mlp");
        (MlpWorldModel::new(None, mlp, 5, 2).expect("model"), norms)
    }

    #[test]
    fn packed_layout_reproduces_the_model_step() {
        for act in [
            Activation::Identity,
            Activation::Tanh,
            Activation::Relu,
            Activation::Gelu,
            Activation::Silu,
        ] {
            for ln in [false, true] {
                let (m, norms) = model(act, ln);
                let layout = PredictorLayout::new(&m, &norms).expect("layout");
                let z = [0.3f32, -0.2, 0.5, 0.1, -0.7];
                let a = [0.4f32, -0.9];
                let mut ws = m.workspace(1);
                let mut want = [0.0f32; 5];
                m.step(&z, &a, &mut want, &mut ws).expect("step");
                let got = layout.reference_step(&z, &a);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "{act:?} ln={ln}: {got:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn layer_table_and_sizes_are_consistent() {
        let (m, norms) = model(Activation::Tanh, true);
        let l = PredictorLayout::new(&m, &norms).expect("layout");
        assert_eq!(l.num_layers, 3);
        assert_eq!(l.layers.len(), 3 * LAYER_FIELDS);
        assert_eq!(l.tape_width, 2 * (7 + 6));
        assert_eq!((l.width, l.grad_width), (7, 7));
        // Last layer has no norm and no tape slots.
        assert_eq!(&l.layers[2 * LAYER_FIELDS + 5..], &[-1, -1, -1, -1]);
        assert_eq!(l.rollout_smem_bytes(), 4 * (8 * (5 + 2 + 14) + 8));
    }

    #[test]
    fn missing_layer_norm_parameters_are_an_error() {
        let (m, _) = model(Activation::Tanh, true);
        let err = PredictorLayout::new(&m, &[]).unwrap_err();
        assert!(err.to_string().contains("2 LayerNorm(s)"), "{err}");
    }
}
