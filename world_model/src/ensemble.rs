//! [`Ensemble`]: several world models planned through as one, their energies averaged.
//!
//! The ensemble's latent is the concatenation of its members' latents, each scaled by
//! `s = 1 / sqrt(K)` for `K` members: `z = s * [z_1, ..., z_K]`. A squared distance between two
//! ensemble latents is then the *mean* of the members' squared distances, so an energy, its
//! weights and the sub-goal thresholds mean the same for one model and for an ensemble of it,
//! and a plan only scores well when every member predicts it reaches the goal. Members see the
//! same observations and actions; they may differ in latent width, not in observation or action
//! width.
//!
//! Evaluation copies each member's slice of a row into a contiguous buffer, so every member runs
//! its own batched kernels. A step's tape is laid out member after member
//! (`[member 0: (batch, tape_0) | member 1: (batch, tape_1) | ...]`), which is why
//! [`DifferentiableWorldModel::step_vjp`] must get the same batch as the `step_taped` that wrote
//! it (as the seam already requires). One member is passed through without copies.

use crate::error::{ModelError, check_len};
use crate::seam::{DifferentiableWorldModel, ModelDims, WorldModel};

/// An ensemble of world models of the same observation and action width; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ensemble<M> {
    members: Vec<M>,
    /// Offset of each member's slice in an ensemble latent, `(K + 1,)`: the last is `latent_dim`.
    offsets: Vec<usize>,
    /// `1 / sqrt(K)`.
    scale: f32,
    dims: ModelDims,
}

/// Scratch of one thread evaluating an [`Ensemble`].
#[derive(Debug)]
pub struct EnsembleWorkspace<W> {
    members: Vec<W>,
    /// Rows per call the buffers hold; larger batches are split into chunks of this many rows.
    rows: usize,
    /// `(rows, max member latent_dim)`: a member's input latents (or output gradients).
    z_in: Vec<f32>,
    /// `(rows, max member latent_dim)`: a member's output latents (or input gradients).
    z_out: Vec<f32>,
    /// `(rows, action_dim)`: a member's action gradient.
    g_a: Vec<f32>,
}

impl<M: WorldModel> Ensemble<M> {
    /// An ensemble of `members` (at least one), all with the same observation and action width.
    pub fn new(members: Vec<M>) -> Result<Self, ModelError> {
        let Some(first) = members.first().map(WorldModel::dims) else {
            return Err(ModelError::InvalidSpec(
                "an ensemble needs at least one member".into(),
            ));
        };
        let mut offsets = vec![0];
        for (i, m) in members.iter().enumerate() {
            let d = m.dims();
            if d.obs_dim != first.obs_dim || d.action_dim != first.action_dim {
                return Err(ModelError::InvalidSpec(format!(
                    "ensemble member {i} takes {} observation and {} action values, member 0 \
                     takes {} and {}",
                    d.obs_dim, d.action_dim, first.obs_dim, first.action_dim
                )));
            }
            offsets.push(offsets[i] + d.latent_dim);
        }
        let dims = ModelDims {
            obs_dim: first.obs_dim,
            latent_dim: offsets[members.len()],
            action_dim: first.action_dim,
        };
        Ok(Self {
            scale: 1.0 / (members.len() as f32).sqrt(),
            members,
            offsets,
            dims,
        })
    }

    /// The members, in order.
    pub fn members(&self) -> &[M] {
        &self.members
    }

    /// The only member of a one-member ensemble, `None` otherwise.
    pub fn single(&self) -> Option<&M> {
        match self.members.as_slice() {
            [m] => Some(m),
            _ => None,
        }
    }

    fn max_member_latent(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }

    /// Rows of `buf` with rows of `width`; an error when its length is not a whole number of rows.
    fn rows_of(name: &'static str, buf: &[f32], width: usize) -> Result<usize, ModelError> {
        let rows = buf.len() / width.max(1);
        check_len(name, buf.len(), rows * width)?;
        Ok(rows)
    }
}

/// Copies `scale *` columns `lo..hi` of `src` `(rows, width)` into `dst` `(rows, hi - lo)`.
fn gather(src: &[f32], width: usize, lo: usize, hi: usize, scale: f32, dst: &mut [f32]) {
    let d = hi - lo;
    for (row, out) in src.chunks_exact(width).zip(dst.chunks_exact_mut(d)) {
        for (o, &x) in out.iter_mut().zip(&row[lo..hi]) {
            *o = scale * x;
        }
    }
}

/// Writes `scale * src` `(rows, hi - lo)` into columns `lo..hi` of `dst` `(rows, width)`.
fn scatter(src: &[f32], scale: f32, dst: &mut [f32], width: usize, lo: usize, hi: usize) {
    let d = hi - lo;
    for (row, out) in src.chunks_exact(d).zip(dst.chunks_exact_mut(width)) {
        for (o, &x) in out[lo..hi].iter_mut().zip(row) {
            *o = scale * x;
        }
    }
}

impl<M: WorldModel> WorldModel for Ensemble<M> {
    type Workspace = EnsembleWorkspace<M::Workspace>;

    fn dims(&self) -> ModelDims {
        self.dims
    }

    fn workspace(&self, max_batch: usize) -> Self::Workspace {
        let rows = max_batch.max(1);
        let width = if self.members.len() == 1 {
            0
        } else {
            self.max_member_latent()
        };
        EnsembleWorkspace {
            members: self.members.iter().map(|m| m.workspace(rows)).collect(),
            rows,
            z_in: vec![0.0; rows * width],
            z_out: vec![0.0; rows * width],
            g_a: vec![0.0; rows * self.dims.action_dim],
        }
    }

    fn encode(
        &self,
        obs: &[f32],
        z: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError> {
        if self.members.len() == 1 {
            return self.members[0].encode(obs, z, &mut ws.members[0]);
        }
        let (od, d) = (self.dims.obs_dim, self.dims.latent_dim);
        let batch = Self::rows_of("obs", obs, od)?;
        check_len("z", z.len(), batch * d)?;
        let mut row0 = 0;
        while row0 < batch {
            let rows = ws.rows.min(batch - row0);
            let o = &obs[row0 * od..(row0 + rows) * od];
            let zc = &mut z[row0 * d..(row0 + rows) * d];
            for (k, m) in self.members.iter().enumerate() {
                let (lo, hi) = (self.offsets[k], self.offsets[k + 1]);
                let out = &mut ws.z_out[..rows * (hi - lo)];
                m.encode(o, out, &mut ws.members[k])?;
                scatter(out, self.scale, zc, d, lo, hi);
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
        self.map_members(z, a, z_next, ws, |_, m, zk, zn, w| m.step(zk, a, zn, w))
    }
}

impl<M: WorldModel> Ensemble<M> {
    /// Runs `f(k, member, z_k, z_next_k, workspace_k)` for every member on its unscaled slice of
    /// `z` and scatters the member's output into `z_next`.
    fn map_members<F>(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        ws: &mut EnsembleWorkspace<M::Workspace>,
        mut f: F,
    ) -> Result<(), ModelError>
    where
        F: FnMut(usize, &M, &[f32], &mut [f32], &mut M::Workspace) -> Result<(), ModelError>,
    {
        let (d, na) = (self.dims.latent_dim, self.dims.action_dim);
        let batch = Self::rows_of("z", z, d)?;
        check_len("a", a.len(), batch * na)?;
        check_len("z_next", z_next.len(), batch * d)?;
        if self.members.len() == 1 {
            return f(0, &self.members[0], z, z_next, &mut ws.members[0]);
        }
        if ws.rows < batch {
            return Err(ModelError::InvalidSpec(format!(
                "ensemble step of {batch} rows, workspace sized for {}",
                ws.rows
            )));
        }
        let inv = 1.0 / self.scale;
        for (k, m) in self.members.iter().enumerate() {
            let (lo, hi) = (self.offsets[k], self.offsets[k + 1]);
            let zin = &mut ws.z_in[..batch * (hi - lo)];
            let zout = &mut ws.z_out[..batch * (hi - lo)];
            gather(z, d, lo, hi, inv, zin);
            f(k, m, zin, zout, &mut ws.members[k])?;
            scatter(zout, self.scale, z_next, d, lo, hi);
        }
        Ok(())
    }
}

impl<M: DifferentiableWorldModel> DifferentiableWorldModel for Ensemble<M> {
    fn tape_width(&self) -> usize {
        self.members.iter().map(|m| m.tape_width()).sum()
    }

    fn step_taped(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        tape: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError> {
        let batch = Self::rows_of("z", z, self.dims.latent_dim)?;
        check_len("tape", tape.len(), batch * self.tape_width())?;
        let mut at = 0;
        self.map_members(z, a, z_next, ws, |_, m, zk, zn, w| {
            let n = batch * m.tape_width();
            m.step_taped(zk, a, zn, &mut tape[at..at + n], w)?;
            at += n;
            Ok(())
        })
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
        let batch = Self::rows_of("g_next", g_next, d)?;
        check_len("g_z", g_z.len(), batch * d)?;
        check_len("g_a", g_a.len(), batch * na)?;
        check_len("tape", tape.len(), batch * self.tape_width())?;
        if self.members.len() == 1 {
            return self.members[0].step_vjp(tape, g_next, g_z, g_a, &mut ws.members[0]);
        }
        if ws.rows < batch {
            return Err(ModelError::InvalidSpec(format!(
                "ensemble backward step of {batch} rows, workspace sized for {}",
                ws.rows
            )));
        }
        // z_next_k = s * f_k(z_k / s): dL/dz slice = J_k^T g slice (the scales cancel), and
        // dL/da = s * sum_k J_a,k^T g slice.
        g_a.fill(0.0);
        let mut at = 0;
        for (k, m) in self.members.iter().enumerate() {
            let (lo, hi) = (self.offsets[k], self.offsets[k + 1]);
            let n = batch * m.tape_width();
            let gin = &mut ws.z_in[..batch * (hi - lo)];
            let gout = &mut ws.z_out[..batch * (hi - lo)];
            let ga = &mut ws.g_a[..batch * na];
            gather(g_next, d, lo, hi, 1.0, gin);
            m.step_vjp(&tape[at..at + n], gin, gout, ga, &mut ws.members[k])?;
            scatter(gout, 1.0, g_z, d, lo, hi);
            for (o, &x) in g_a.iter_mut().zip(ga.iter()) {
                *o += self.scale * x;
            }
            at += n;
        }
        Ok(())
    }
}
