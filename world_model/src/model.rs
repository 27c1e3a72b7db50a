//! [`MlpWorldModel`]: an optional encoder (an MLP, or a conv stem ([`crate::conv`]) and an MLP)
//! plus a residual MLP predictor, behind the seam.
//!
//! The predictor maps `concat(z, a)` to a correction: `z' = z + f(z, a)`. Without an encoder the
//! observation *is* the latent (`obs_dim == latent_dim`), which is how fixed latent-space
//! workloads such as W1 are evaluated.
//!
//! Tensor names in a model file follow `{prefix}{i}.weight` / `{prefix}{i}.bias` for linear layer
//! `i`, and `{prefix}{i}.norm.weight` / `{prefix}{i}.norm.bias` for its LayerNorm, with prefixes
//! `encoder.` and `predictor.`.

use crate::conv::{ConvStem, ConvWorkspace};
use crate::error::{ModelError, check_len};
use crate::head::LinearHead;
use crate::io::TensorFile;
use crate::mlp::{BLOCK_ROWS, LayerNormParams, Linear, Mlp, MlpSpec, MlpWorkspace};
use crate::seam::{DifferentiableWorldModel, ModelDims, WorldModel};
use crate::value::GoalValue;
use std::sync::Arc;

/// Encoder (optional, with an optional conv stem in front) and residual predictor.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpWorldModel {
    stem: Option<ConvStem>,
    encoder: Option<Mlp>,
    predictor: Mlp,
    dims: ModelDims,
    /// Read-outs of physical quantities from the latent (not used by `encode` or `step`).
    heads: Vec<LinearHead>,
    /// The learned goal-conditioned cost-to-go, if the file has one (not used by `encode` or
    /// `step`; the planner's energy holds it).
    value: Option<Arc<GoalValue>>,
}

/// Scratch of one thread evaluating an [`MlpWorldModel`].
#[derive(Debug, Clone)]
pub struct MlpWorldModelWorkspace {
    predictor: MlpWorkspace,
    encoder: Option<MlpWorkspace>,
    stem: ConvWorkspace,
}

impl MlpWorldModel {
    /// Builds a model; the predictor's input must be `latent_dim + action_dim` wide and its
    /// output `latent_dim` wide, and the encoder (if any) must output `latent_dim`.
    pub fn new(
        encoder: Option<Mlp>,
        predictor: Mlp,
        latent_dim: usize,
        action_dim: usize,
    ) -> Result<Self, ModelError> {
        let ps = predictor.spec();
        if ps.input_dim != latent_dim + action_dim || ps.output_dim != latent_dim {
            return Err(ModelError::InvalidSpec(format!(
                "predictor is {} -> {}, expected {} -> {latent_dim} (latent_dim {latent_dim} + action_dim {action_dim})",
                ps.input_dim,
                ps.output_dim,
                latent_dim + action_dim
            )));
        }
        let obs_dim = match &encoder {
            Some(e) if e.spec().output_dim != latent_dim => {
                return Err(ModelError::InvalidSpec(format!(
                    "encoder outputs {}, expected latent_dim {latent_dim}",
                    e.spec().output_dim
                )));
            }
            Some(e) => e.spec().input_dim,
            None => latent_dim,
        };
        Ok(Self {
            stem: None,
            encoder,
            predictor,
            heads: Vec::new(),
            value: None,
            dims: ModelDims {
                obs_dim,
                latent_dim,
                action_dim,
            },
        })
    }

    /// Builds a model whose encoder is `stem` followed by the MLP `encoder` (whose input must be
    /// the stem's output); observations are `stem.obs_dim()` wide.
    pub fn with_conv_stem(
        stem: ConvStem,
        encoder: Mlp,
        predictor: Mlp,
        latent_dim: usize,
        action_dim: usize,
    ) -> Result<Self, ModelError> {
        if encoder.spec().input_dim != stem.output_dim() {
            return Err(ModelError::InvalidSpec(format!(
                "the conv stem outputs {} floats but the encoder MLP reads {}",
                stem.output_dim(),
                encoder.spec().input_dim
            )));
        }
        let mut m = Self::new(Some(encoder), predictor, latent_dim, action_dim)?;
        m.dims.obs_dim = stem.obs_dim();
        m.stem = Some(stem);
        Ok(m)
    }

    /// The encoder's conv stem, if it has one.
    pub fn conv_stem(&self) -> Option<&ConvStem> {
        self.stem.as_ref()
    }

    /// The model with `heads` attached (replacing any it had); each must read `latent_dim`
    /// values, and names must be distinct.
    pub fn with_heads(mut self, heads: Vec<LinearHead>) -> Result<Self, ModelError> {
        for (i, h) in heads.iter().enumerate() {
            if h.latent_dim() != self.dims.latent_dim {
                return Err(ModelError::InvalidSpec(format!(
                    "head `{}` reads {} latent values, the model's latent has {}",
                    h.name(),
                    h.latent_dim(),
                    self.dims.latent_dim
                )));
            }
            if heads[..i].iter().any(|o| o.name() == h.name()) {
                return Err(ModelError::InvalidSpec(format!(
                    "two heads are named `{}`",
                    h.name()
                )));
            }
        }
        self.heads = heads;
        Ok(self)
    }

    /// The model with `value` attached (replacing any it had); it must read `latent_dim`.
    pub fn with_value(mut self, value: Option<GoalValue>) -> Result<Self, ModelError> {
        if let Some(v) = &value
            && v.latent_dim() != self.dims.latent_dim
        {
            return Err(ModelError::InvalidSpec(format!(
                "the goal value reads {} latent values, the model's latent has {}",
                v.latent_dim(),
                self.dims.latent_dim
            )));
        }
        self.value = value.map(Arc::new);
        Ok(self)
    }

    /// The learned goal-conditioned cost-to-go, if the model has one.
    pub fn value(&self) -> Option<&Arc<GoalValue>> {
        self.value.as_ref()
    }

    /// The head named `name`, if the model has one.
    pub fn head(&self, name: &str) -> Option<&LinearHead> {
        self.heads.iter().find(|h| h.name() == name)
    }

    /// Every head, in file order.
    pub fn heads(&self) -> &[LinearHead] {
        &self.heads
    }

    /// The predictor network.
    pub fn predictor(&self) -> &Mlp {
        &self.predictor
    }

    /// Nominal FLOP of one predictor step for one row (2 per multiply-add).
    pub fn step_flops(&self) -> usize {
        self.predictor.spec().flops_per_row()
    }

    /// Loads the predictor (and encoder, when `encoder` is given) from a tensor file; every
    /// tensor of the file must be used.
    pub fn from_tensors(
        file: &mut TensorFile,
        encoder: Option<MlpSpec>,
        predictor: MlpSpec,
        latent_dim: usize,
        action_dim: usize,
    ) -> Result<Self, ModelError> {
        let enc = match encoder {
            Some(spec) => Some(load_mlp(file, spec, "encoder.")?),
            None => None,
        };
        let pred = load_mlp(file, predictor, "predictor.")?;
        Self::new(enc, pred, latent_dim, action_dim)
    }

    fn fill_input(&self, z: &[f32], a: &[f32], row0: usize, rows: usize, ws: &mut MlpWorkspace) {
        let (d, na) = (self.dims.latent_dim, self.dims.action_dim);
        let stride = self.predictor.input_stride();
        let input = ws.input_mut();
        for r in 0..rows {
            let dst = &mut input[r * stride..r * stride + d + na];
            dst[..d].copy_from_slice(&z[(row0 + r) * d..(row0 + r + 1) * d]);
            dst[d..].copy_from_slice(&a[(row0 + r) * na..(row0 + r + 1) * na]);
        }
    }

    fn step_impl(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        mut tape: Option<&mut [f32]>,
        ws: &mut MlpWorldModelWorkspace,
    ) -> Result<(), ModelError> {
        let (d, na) = (self.dims.latent_dim, self.dims.action_dim);
        let batch = z.len() / d.max(1);
        check_len("z", z.len(), batch * d)?;
        check_len("a", a.len(), batch * na)?;
        check_len("z_next", z_next.len(), batch * d)?;
        let tw = self.predictor.tape_width();
        if let Some(t) = tape.as_deref() {
            check_len("tape", t.len(), batch * tw)?;
        }
        let stride = self.predictor.block_stride();
        let mut row0 = 0;
        while row0 < batch {
            let rows = BLOCK_ROWS.min(batch - row0);
            self.fill_input(z, a, row0, rows, &mut ws.predictor);
            let t = tape
                .as_deref_mut()
                .map(|t| &mut t[row0 * tw..(row0 + rows) * tw]);
            let out = self.predictor.forward_block(rows, &mut ws.predictor, t);
            for r in 0..rows {
                let zr = &z[(row0 + r) * d..(row0 + r + 1) * d];
                let dst = &mut z_next[(row0 + r) * d..(row0 + r + 1) * d];
                for ((o, &zv), &f) in dst.iter_mut().zip(zr).zip(&out[r * stride..r * stride + d]) {
                    *o = zv + f;
                }
            }
            row0 += rows;
        }
        Ok(())
    }
}

/// Loads one [`Mlp`] whose tensors are named `{prefix}{i}.weight` etc.
pub fn load_mlp(file: &mut TensorFile, spec: MlpSpec, prefix: &str) -> Result<Mlp, ModelError> {
    spec.validate()?;
    let mut linears = Vec::new();
    let mut norms = Vec::new();
    let n_hidden = spec.hidden.len();
    for (i, (din, dout)) in spec.layer_dims().into_iter().enumerate() {
        let w = file.take_f32(&format!("{prefix}{i}.weight"), &[dout, din])?;
        let b = file.take_f32(&format!("{prefix}{i}.bias"), &[dout])?;
        linears.push(Linear::new(w, b, din, dout)?);
        if spec.layer_norm && i < n_hidden {
            norms.push(LayerNormParams {
                gamma: file.take_f32(&format!("{prefix}{i}.norm.weight"), &[dout])?,
                beta: file.take_f32(&format!("{prefix}{i}.norm.bias"), &[dout])?,
            });
        }
    }
    Mlp::new(spec, linears, norms)
}

impl WorldModel for MlpWorldModel {
    type Workspace = MlpWorldModelWorkspace;

    fn dims(&self) -> ModelDims {
        self.dims
    }

    fn workspace(&self, _max_batch: usize) -> Self::Workspace {
        // Evaluation is blocked, so scratch does not grow with the batch.
        MlpWorldModelWorkspace {
            predictor: self.predictor.workspace(),
            encoder: self.encoder.as_ref().map(Mlp::workspace),
            stem: ConvWorkspace::default(),
        }
    }

    fn encode(
        &self,
        obs: &[f32],
        z: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError> {
        let (od, d) = (self.dims.obs_dim, self.dims.latent_dim);
        let batch = obs.len() / od.max(1);
        check_len("obs", obs.len(), batch * od)?;
        check_len("z", z.len(), batch * d)?;
        let (Some(enc), Some(ews)) = (&self.encoder, ws.encoder.as_mut()) else {
            z.copy_from_slice(obs);
            return Ok(());
        };
        let (in_stride, out_stride) = (enc.input_stride(), enc.block_stride());
        let mut row0 = 0;
        while row0 < batch {
            let rows = BLOCK_ROWS.min(batch - row0);
            let input = ews.input_mut();
            let block = &obs[row0 * od..(row0 + rows) * od];
            match &self.stem {
                Some(stem) => stem.forward(block, rows, input, in_stride, &mut ws.stem),
                None => {
                    for r in 0..rows {
                        input[r * in_stride..r * in_stride + od]
                            .copy_from_slice(&block[r * od..(r + 1) * od]);
                    }
                }
            }
            let out = enc.forward_block(rows, ews, None);
            for r in 0..rows {
                z[(row0 + r) * d..(row0 + r + 1) * d]
                    .copy_from_slice(&out[r * out_stride..r * out_stride + d]);
            }
            row0 += rows;
        }
        Ok(())
    }

    fn step(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError> {
        self.step_impl(z, a, z_next, None, ws)
    }
}

impl DifferentiableWorldModel for MlpWorldModel {
    fn tape_width(&self) -> usize {
        self.predictor.tape_width()
    }

    fn step_taped(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        tape: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError> {
        self.step_impl(z, a, z_next, Some(tape), ws)
    }

    fn step_vjp(
        &self,
        tape: &[f32],
        g_next: &[f32],
        g_z: &mut [f32],
        g_a: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError> {
        let (d, na) = (self.dims.latent_dim, self.dims.action_dim);
        let batch = g_next.len() / d.max(1);
        check_len("g_next", g_next.len(), batch * d)?;
        check_len("g_z", g_z.len(), batch * d)?;
        check_len("g_a", g_a.len(), batch * na)?;
        let tw = self.predictor.tape_width();
        check_len("tape", tape.len(), batch * tw)?;
        let stride = self.predictor.block_stride();
        let mut row0 = 0;
        while row0 < batch {
            let rows = BLOCK_ROWS.min(batch - row0);
            let g_in = self.predictor.backward_block(
                rows,
                &g_next[row0 * d..(row0 + rows) * d],
                &tape[row0 * tw..(row0 + rows) * tw],
                &mut ws.predictor,
            );
            for r in 0..rows {
                let gi = &g_in[r * stride..r * stride + d + na];
                let gn = &g_next[(row0 + r) * d..(row0 + r + 1) * d];
                for ((o, &x), &y) in g_z[(row0 + r) * d..(row0 + r + 1) * d]
                    .iter_mut()
                    .zip(gn)
                    .zip(&gi[..d])
                {
                    *o = x + y;
                }
                g_a[(row0 + r) * na..(row0 + r + 1) * na].copy_from_slice(&gi[d..]);
            }
            row0 += rows;
        }
        Ok(())
    }
}
