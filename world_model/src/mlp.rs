//! A batched multilayer perceptron with a hand-written backward pass.
//!
//! Layers are PyTorch-style `nn.Linear` (`weight (out, in)`, `y = x W^T + b`), each hidden layer
//! optionally followed by LayerNorm, then the activation; the last layer is linear. Weights are
//! packed for the [`crate::packed`] kernel once, at construction. Evaluation runs in blocks of
//! [`BLOCK_ROWS`] rows so that a block's activations stay in cache across all layers; all scratch
//! lives in an [`MlpWorkspace`] allocated up front.
//!
//! The backward pass returns the vector-Jacobian product with respect to the *inputs* (what a
//! gradient planner needs). It reads a per-row tape recorded by the forward pass: the output of
//! each hidden layer, plus its pre-normalization value when the layer has LayerNorm or an
//! activation whose derivative needs the pre-activation.

use crate::activation::Activation;
use crate::error::ModelError;
use crate::packed::{Epilogue, MAX_MR, PackedMatrix, Product, padded};
use serde::{Deserialize, Serialize};

/// Rows evaluated together; a block's activations stay in L1/L2 across layers.
pub const BLOCK_ROWS: usize = 48;
/// LayerNorm epsilon, PyTorch's default.
pub const LAYER_NORM_EPS: f32 = 1e-5;

/// Architecture of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpSpec {
    /// Input width (for a predictor: `latent_dim + action_dim`), at least 1.
    pub input_dim: usize,
    /// Widths of the hidden layers, each at least 1; may be empty (a single linear layer).
    pub hidden: Vec<usize>,
    /// Output width, at least 1.
    pub output_dim: usize,
    /// Nonlinearity after every hidden layer.
    pub activation: Activation,
    /// Whether each hidden layer is followed by LayerNorm (before the activation).
    pub layer_norm: bool,
}

impl MlpSpec {
    /// Checks that every width is positive; the error names the key.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.input_dim == 0 {
            return Err(ModelError::InvalidSpec(
                "input_dim must be at least 1, got 0".into(),
            ));
        }
        if self.output_dim == 0 {
            return Err(ModelError::InvalidSpec(
                "output_dim must be at least 1, got 0".into(),
            ));
        }
        if let Some(i) = self.hidden.iter().position(|&w| w == 0) {
            return Err(ModelError::InvalidSpec(format!(
                "hidden[{i}] must be at least 1, got 0"
            )));
        }
        Ok(())
    }

    /// `(in, out)` of every linear layer, first to last.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        let mut widths = vec![self.input_dim];
        widths.extend(&self.hidden);
        widths.push(self.output_dim);
        widths.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Multiply-add count of one forward row, times two (the nominal FLOP of one row).
    pub fn flops_per_row(&self) -> usize {
        self.layer_dims().iter().map(|(i, o)| 2 * i * o).sum()
    }
}

/// Weights of one linear layer plus their packed forms.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// `(out_dim, in_dim)`, PyTorch layout.
    pub weight: Vec<f32>,
    /// `(out_dim,)`.
    pub bias: Vec<f32>,
    in_dim: usize,
    out_dim: usize,
    bias_padded: Vec<f32>,
    forward: PackedMatrix,
    backward: PackedMatrix,
}

impl Linear {
    /// Builds a layer from `weight (out_dim, in_dim)` and `bias (out_dim,)`.
    pub fn new(
        weight: Vec<f32>,
        bias: Vec<f32>,
        in_dim: usize,
        out_dim: usize,
    ) -> Result<Self, ModelError> {
        crate::error::check_len("weight", weight.len(), in_dim * out_dim)?;
        crate::error::check_len("bias", bias.len(), out_dim)?;
        let mut bias_padded = bias.clone();
        bias_padded.resize(padded(out_dim), 0.0);
        Ok(Self {
            forward: PackedMatrix::from_transposed(&weight, out_dim, in_dim),
            backward: PackedMatrix::from_row_major(&weight, out_dim, in_dim),
            weight,
            bias,
            in_dim,
            out_dim,
            bias_padded,
        })
    }
}

/// LayerNorm parameters of one hidden layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerNormParams {
    /// `(dim,)` scale.
    pub gamma: Vec<f32>,
    /// `(dim,)` shift.
    pub beta: Vec<f32>,
}

/// Scratch memory of one thread evaluating an [`Mlp`].
#[derive(Debug, Clone)]
pub struct MlpWorkspace {
    /// `(BLOCK_ROWS, input_stride)`: the block's input rows.
    pub(crate) input: Vec<f32>,
    bufs: [Vec<f32>; 2],
    scratch: Vec<f32>,
    stride: usize,
    input_stride: usize,
}

/// A multilayer perceptron; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    spec: MlpSpec,
    linears: Vec<Linear>,
    norms: Vec<LayerNormParams>,
    /// Per hidden layer: offset of its output `h` in a tape row, and of its pre-norm value
    /// (`None` when the fused epilogue computes `h` directly).
    tape_offsets: Vec<(usize, Option<usize>)>,
    tape_width: usize,
    stride: usize,
}

impl Mlp {
    /// Builds a network from its layers (`linears.len() == hidden.len() + 1`) and, when
    /// `spec.layer_norm`, one [`LayerNormParams`] per hidden layer.
    pub fn new(
        spec: MlpSpec,
        linears: Vec<Linear>,
        norms: Vec<LayerNormParams>,
    ) -> Result<Self, ModelError> {
        spec.validate()?;
        let dims = spec.layer_dims();
        if linears.len() != dims.len() {
            return Err(ModelError::InvalidSpec(format!(
                "expected {} linear layers, got {}",
                dims.len(),
                linears.len()
            )));
        }
        for (i, (l, &(din, dout))) in linears.iter().zip(&dims).enumerate() {
            if l.in_dim != din || l.out_dim != dout {
                return Err(ModelError::InvalidSpec(format!(
                    "layer {i} is {}x{}, expected {dout}x{din}",
                    l.out_dim, l.in_dim
                )));
            }
        }
        let want_norms = if spec.layer_norm {
            spec.hidden.len()
        } else {
            0
        };
        if norms.len() != want_norms {
            return Err(ModelError::InvalidSpec(format!(
                "expected {want_norms} LayerNorm(s), got {}",
                norms.len()
            )));
        }
        for (i, (n, &w)) in norms.iter().zip(&spec.hidden).enumerate() {
            if n.gamma.len() != w || n.beta.len() != w {
                return Err(ModelError::InvalidSpec(format!(
                    "LayerNorm {i} must have width {w}"
                )));
            }
        }
        let mut tape_offsets = Vec::new();
        let mut tape_width = 0;
        for &w in &spec.hidden {
            let pre = if Self::fused_for(&spec) {
                None
            } else {
                tape_width += padded(w);
                Some(tape_width - padded(w))
            };
            tape_offsets.push((tape_width, pre));
            tape_width += padded(w);
        }
        let stride = dims
            .iter()
            .map(|&(i, o)| padded(i).max(padded(o)))
            .max()
            .unwrap_or(PANEL_MIN);
        Ok(Self {
            spec,
            linears,
            norms,
            tape_offsets,
            tape_width,
            stride,
        })
    }

    fn fused_for(spec: &MlpSpec) -> bool {
        !spec.layer_norm
            && matches!(
                spec.activation,
                Activation::Identity | Activation::Tanh | Activation::Relu
            )
    }

    /// The architecture.
    pub fn spec(&self) -> &MlpSpec {
        &self.spec
    }

    /// LayerNorm parameters, one per hidden layer; empty without LayerNorm.
    pub fn norms(&self) -> &[LayerNormParams] {
        &self.norms
    }

    /// The linear layers, first to last.
    pub fn linears(&self) -> &[Linear] {
        &self.linears
    }

    /// Floats per row of the tape written by [`Mlp::forward_block`].
    pub fn tape_width(&self) -> usize {
        self.tape_width
    }

    /// Allocates the scratch memory of one evaluating thread.
    pub fn workspace(&self) -> MlpWorkspace {
        let input_stride = padded(self.spec.input_dim);
        let max_k = self
            .spec
            .layer_dims()
            .iter()
            .map(|&(i, o)| i.max(o))
            .max()
            .unwrap_or(1);
        MlpWorkspace {
            input: vec![0.0; BLOCK_ROWS * input_stride],
            bufs: [
                vec![0.0; BLOCK_ROWS * self.stride],
                vec![0.0; BLOCK_ROWS * self.stride],
            ],
            scratch: vec![0.0; MAX_MR * max_k],
            stride: self.stride,
            input_stride,
        }
    }

    /// Row stride of the workspace's input block (`input_dim` rounded up to whole panels).
    pub fn input_stride(&self) -> usize {
        padded(self.spec.input_dim)
    }

    /// Row stride of the block returned by [`Mlp::forward_block`] and [`Mlp::backward_block`].
    pub fn block_stride(&self) -> usize {
        self.stride
    }

    /// Evaluates `rows <= BLOCK_ROWS` rows already written to the workspace input block
    /// (`(BLOCK_ROWS, input_stride)`, see [`MlpWorkspace::input_mut`]). Returns the outputs,
    /// `(rows, block_stride)` with the first `output_dim` columns meaningful. When `tape` is
    /// given (`(rows, tape_width)`), records what [`Mlp::backward_block`] needs.
    pub fn forward_block<'w>(
        &self,
        rows: usize,
        ws: &'w mut MlpWorkspace,
        mut tape: Option<&mut [f32]>,
    ) -> &'w [f32] {
        let last = self.linears.len() - 1;
        let stride = ws.stride;
        let fused = Self::fused_for(&self.spec);
        for (i, layer) in self.linears.iter().enumerate() {
            let [b0, b1] = &mut ws.bufs;
            let (src, src_stride, dst): (&[f32], usize, &mut [f32]) = match i {
                0 => (&ws.input, ws.input_stride, b0),
                _ if i % 2 == 1 => (b0, stride, b1),
                _ => (b1, stride, b0),
            };
            let epilogue = if i == last || !fused {
                Epilogue::Linear
            } else {
                match self.spec.activation {
                    Activation::Tanh => Epilogue::Tanh,
                    Activation::Relu => Epilogue::Relu,
                    _ => Epilogue::Linear,
                }
            };
            Product {
                x: src,
                x_stride: src_stride,
                rows,
                b: &layer.forward,
                bias: &layer.bias_padded,
                epilogue,
                out: dst,
                out_stride: stride,
                out_offset: 0,
                scratch: &mut ws.scratch,
            }
            .run();
            if i == last {
                continue;
            }
            let width = layer.out_dim;
            let (h_off, pre_off) = self.tape_offsets[i];
            for r in 0..rows {
                let row = &mut dst[r * stride..r * stride + width];
                if let (Some(t), Some(off)) = (tape.as_deref_mut(), pre_off) {
                    t[r * self.tape_width + off..][..width].copy_from_slice(row);
                }
                if !fused {
                    if let Some(norm) = self.norms.get(i) {
                        layer_norm_row(row, norm);
                    }
                    self.spec.activation.apply_slice(row);
                }
                if let Some(t) = tape.as_deref_mut() {
                    t[r * self.tape_width + h_off..][..width].copy_from_slice(row);
                }
            }
        }
        &ws.bufs[last % 2][..rows * stride]
    }

    /// Vector-Jacobian product with respect to the inputs for `rows <= BLOCK_ROWS` rows.
    ///
    /// - `g_out`: `(rows, output_dim)`, the gradient with respect to the outputs
    /// - `tape`: `(rows, tape_width)`, recorded by [`Mlp::forward_block`] on the same rows
    ///
    /// Returns the input gradient, `(rows, block_stride)` with the first `input_dim` columns
    /// meaningful.
    pub fn backward_block<'w>(
        &self,
        rows: usize,
        g_out: &[f32],
        tape: &[f32],
        ws: &'w mut MlpWorkspace,
    ) -> &'w [f32] {
        let stride = ws.stride;
        let out_dim = self.spec.output_dim;
        let [b0, _] = &mut ws.bufs;
        for r in 0..rows {
            b0[r * stride..r * stride + out_dim]
                .copy_from_slice(&g_out[r * out_dim..(r + 1) * out_dim]);
        }
        let mut cur = 0;
        for i in (0..self.linears.len()).rev() {
            let [b0, b1] = &mut ws.bufs;
            let (src, dst): (&[f32], &mut [f32]) = if cur == 0 { (b0, b1) } else { (b1, b0) };
            Product {
                x: src,
                x_stride: stride,
                rows,
                b: &self.linears[i].backward,
                bias: &[],
                epilogue: Epilogue::Linear,
                out: dst,
                out_stride: stride,
                out_offset: 0,
                scratch: &mut ws.scratch,
            }
            .run();
            cur = 1 - cur;
            if i == 0 {
                break;
            }
            // dst now holds dL/dh for hidden layer i-1: apply its activation and LayerNorm.
            let width = self.linears[i].in_dim;
            let (h_off, pre_off) = self.tape_offsets[i - 1];
            for r in 0..rows {
                let g = &mut dst[r * stride..r * stride + width];
                let t_row = &tape[r * self.tape_width..(r + 1) * self.tape_width];
                let h = &t_row[h_off..h_off + width];
                match pre_off {
                    None => {
                        for (gv, &hv) in g.iter_mut().zip(h) {
                            *gv *= self.spec.activation.derivative(hv, hv);
                        }
                    }
                    Some(off) => {
                        let y = &t_row[off..off + width];
                        self.backward_norm_act(i - 1, y, h, g);
                    }
                }
            }
        }
        &ws.bufs[cur][..rows * stride]
    }

    /// Backward through activation and optional LayerNorm of hidden layer `layer`, in place on
    /// `g` (`(width,)`), given its pre-norm value `y` and output `h`.
    fn backward_norm_act(&self, layer: usize, y: &[f32], h: &[f32], g: &mut [f32]) {
        let act = self.spec.activation;
        match self.norms.get(layer) {
            None => {
                for ((gv, &yv), &hv) in g.iter_mut().zip(y).zip(h) {
                    *gv *= act.derivative(yv, hv);
                }
            }
            Some(norm) => {
                let (mean, rstd) = mean_rstd(y);
                let n = y.len() as f32;
                let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
                for j in 0..y.len() {
                    let xhat = (y[j] - mean) * rstd;
                    let u = norm.gamma[j] * xhat + norm.beta[j];
                    let g_xhat = g[j] * act.derivative(u, h[j]) * norm.gamma[j];
                    g[j] = g_xhat;
                    sum_g += g_xhat;
                    sum_gx += g_xhat * xhat;
                }
                for j in 0..y.len() {
                    let xhat = (y[j] - mean) * rstd;
                    g[j] = rstd * (g[j] - sum_g / n - xhat * sum_gx / n);
                }
            }
        }
    }
}

impl MlpWorkspace {
    /// The input block, `(BLOCK_ROWS, input_stride)`, to fill before [`Mlp::forward_block`].
    pub fn input_mut(&mut self) -> &mut [f32] {
        &mut self.input
    }
}

const PANEL_MIN: usize = crate::packed::PANEL;

/// Sum with 16 independent partial sums, so the loop vectorizes and is not bound by the latency
/// of one serial chain of additions (a plain `iter().sum()` is, for floats).
fn sum_lanes(y: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 16];
    let chunks = y.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f(v);
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn mean_rstd(y: &[f32]) -> (f32, f32) {
    let n = y.len() as f32;
    let mean = sum_lanes(y, |v| v) / n;
    let var = sum_lanes(y, |v| (v - mean) * (v - mean)) / n;
    (mean, 1.0 / (var + LAYER_NORM_EPS).sqrt())
}

fn layer_norm_row(row: &mut [f32], norm: &LayerNormParams) {
    let (mean, rstd) = mean_rstd(row);
    for ((v, &g), &b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *v = (*v - mean) * rstd * g + b;
    }
}
