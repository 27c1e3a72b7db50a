//! The rollout seam: "score these K action sequences from this start latent".
//!
//! [`Rollout`] is the one hot path of every sampling optimizer; [`RolloutGrad`] adds the gradient
//! of each sequence's energy with respect to its actions. Energies that are not finite (the model
//! produced NaN or infinity) are reported as `+inf`, and their gradients as zero, so optimizers
//! only ever have to skip `+inf`. This module also holds the single-threaded block kernels that
//! the CPU rollout runs on each worker.

use crate::dims::Dims;
use crate::energy::Energy;
use crate::error::PlanError;
use crate::sampling::{SampleRequest, draw_sample};
use world_model::mlp::MlpWorkspace;
use world_model::{DifferentiableWorldModel, GoalValue, WorldModel};

/// Batched evaluation of action sequences.
pub trait Rollout {
    /// Sizes of the problems this rollout evaluates.
    fn dims(&self) -> Dims;

    /// Largest batch `K` accepted.
    fn capacity(&self) -> usize;

    /// Energies of `K` sequences.
    ///
    /// - `z0`: `(latent_dim,)` start latent
    /// - `actions`: `(K, horizon, action_dim)`
    /// - `energies`: output, `(K,)`; `+inf` where not finite
    fn evaluate(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError>;

    /// Draws the non-fixed samples of `req` into `actions`, then evaluates all of them.
    ///
    /// - `actions`: `(req.num_samples, horizon, action_dim)`; rows `0..req.fixed` are inputs
    /// - `energies`: output, `(req.num_samples,)`
    ///
    /// The default draws on the calling thread; pools override it to draw in parallel.
    fn sample_and_evaluate(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        req: &SampleRequest<'_>,
        actions: &mut [f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError> {
        let plan_len = self.dims().plan_len();
        for (k, row) in actions
            .chunks_exact_mut(plan_len)
            .enumerate()
            .skip(req.fixed)
        {
            draw_sample(req, k, &energy.lower, &energy.upper, row);
        }
        self.evaluate(z0, energy, actions, energies)
    }
}

/// A rollout that also returns `dE/da` for each sequence.
pub trait RolloutGrad: Rollout {
    /// Energies and their gradients with respect to the actions.
    ///
    /// - `z0`: `(latent_dim,)`
    /// - `actions`: `(K, horizon, action_dim)`
    /// - `energies`: output, `(K,)`; `+inf` where not finite
    /// - `grads`: output, `(K, horizon, action_dim)`; zero rows where the energy is not finite
    fn evaluate_grad(
        &mut self,
        z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
        grads: &mut [f32],
    ) -> Result<(), PlanError>;
}

/// Samples evaluated together on one thread: small enough that their latents and activations
/// stay in cache through all steps of the horizon.
pub const ROLLOUT_BLOCK: usize = 48;

/// Scratch for the block kernels of one thread.
#[derive(Debug)]
pub struct BlockScratch<W> {
    /// Model workspace.
    pub(crate) ws: W,
    /// `(horizon + 1, ROLLOUT_BLOCK, latent_dim)` latents `z_0..z_H` of a block.
    zs: Vec<f32>,
    /// `(ROLLOUT_BLOCK, action_dim)` actions of one step.
    a: Vec<f32>,
    /// `(horizon, ROLLOUT_BLOCK, tape_width)`; empty without gradients.
    tape: Vec<f32>,
    /// `(ROLLOUT_BLOCK, latent_dim)` gradient buffers.
    gz: Vec<f32>,
    gz_prev: Vec<f32>,
    /// `(ROLLOUT_BLOCK, action_dim)`.
    ga: Vec<f32>,
    /// `(ROLLOUT_BLOCK,)` energies of a block.
    cost: Vec<f32>,
    /// Scratch of the energy's value term, sized the first time an energy has one (warm-up).
    value: Option<ValueScratch>,
}

/// Scratch of the learned value term of one thread.
#[derive(Debug)]
struct ValueScratch {
    /// The sizes it was made for: tape width, horizon, and the network's block and input
    /// strides.
    key: (usize, usize, usize, usize),
    ws: MlpWorkspace,
    /// `(ROLLOUT_BLOCK,)` values, then per-row weights in the backward pass.
    out: Vec<f32>,
    /// `(horizon, ROLLOUT_BLOCK, tape_width)`.
    tape: Vec<f32>,
    tape_width: usize,
}

/// The value scratch for `v` and `horizon`, (re)allocated when it was sized for other sizes.
fn value_scratch<'s>(
    slot: &'s mut Option<ValueScratch>,
    v: &std::sync::Arc<GoalValue>,
    horizon: usize,
) -> &'s mut ValueScratch {
    let m = v.mlp();
    let key = (v.tape_width(), horizon, m.block_stride(), m.input_stride());
    if slot.as_ref().is_none_or(|s| s.key != key) {
        let tape_width = v.tape_width();
        *slot = Some(ValueScratch {
            key,
            ws: v.workspace(),
            out: vec![0.0; ROLLOUT_BLOCK],
            tape: vec![0.0; horizon * ROLLOUT_BLOCK * tape_width],
            tape_width,
        });
    }
    match slot {
        Some(s) => s,
        None => unreachable!("filled above"),
    }
}

impl<W> BlockScratch<W> {
    /// Allocates scratch; `tape_width` is `None` when no gradients are needed (a model may need
    /// gradients and no tape, e.g. a single linear layer: `Some(0)`).
    pub fn new(ws: W, dims: Dims, tape_width: Option<usize>) -> Self {
        let (b, d, a, h) = (
            ROLLOUT_BLOCK,
            dims.latent_dim,
            dims.action_dim,
            dims.horizon,
        );
        let grad = tape_width.is_some();
        Self {
            ws,
            zs: vec![0.0; (h + 1) * b * d],
            a: vec![0.0; b * a],
            tape: vec![0.0; h * b * tape_width.unwrap_or(0)],
            gz: vec![0.0; if grad { b * d } else { 0 }],
            gz_prev: vec![0.0; if grad { b * d } else { 0 }],
            ga: vec![0.0; if grad { b * a } else { 0 }],
            cost: vec![0.0; b],
            value: None,
        }
    }
}

/// Energies of `n` sequences on this thread.
///
/// - `actions`: `(n, horizon, action_dim)`
/// - `energies`: output, `(n,)`
pub fn evaluate_rows<M: WorldModel>(
    model: &M,
    dims: Dims,
    energy: &Energy,
    z0: &[f32],
    actions: &[f32],
    energies: &mut [f32],
    s: &mut BlockScratch<M::Workspace>,
) -> Result<(), PlanError> {
    let (d, na, h, pl) = (
        dims.latent_dim,
        dims.action_dim,
        dims.horizon,
        dims.plan_len(),
    );
    for (seqs, out) in actions
        .chunks(ROLLOUT_BLOCK * pl)
        .zip(energies.chunks_mut(ROLLOUT_BLOCK))
    {
        let n = out.len();
        // Only two latent slots are needed without gradients: ping-pong between them.
        let (z_a, rest) = s.zs.split_at_mut(ROLLOUT_BLOCK * d);
        let z_b = &mut rest[..ROLLOUT_BLOCK * d];
        for r in 0..n {
            z_a[r * d..(r + 1) * d].copy_from_slice(z0);
            s.cost[r] = energy.action_cost(&seqs[r * pl..(r + 1) * pl], na);
        }
        let (mut cur, mut next) = (z_a, z_b);
        for t in 0..h {
            for r in 0..n {
                s.a[r * na..(r + 1) * na]
                    .copy_from_slice(&seqs[r * pl + t * na..r * pl + (t + 1) * na]);
            }
            model.step(&cur[..n * d], &s.a[..n * na], &mut next[..n * d], &mut s.ws)?;
            std::mem::swap(&mut cur, &mut next);
            let w = energy.state_weight(t + 1, h);
            if w != 0.0 {
                for r in 0..n {
                    s.cost[r] += w * energy.distance(&cur[r * d..(r + 1) * d]);
                }
            }
            let vw = energy.value_weight_at(t + 1, h);
            if let (true, Some(v)) = (vw != 0.0, &energy.value) {
                let vs = value_scratch(&mut s.value, v, h);
                v.eval_block(
                    &cur[..n * d],
                    &energy.goal,
                    &mut vs.ws,
                    None,
                    &mut vs.out[..n],
                )?;
                for (c, val) in s.cost[..n].iter_mut().zip(&vs.out) {
                    *c += vw * val;
                }
            }
        }
        for (o, &c) in out.iter_mut().zip(&s.cost) {
            *o = if c.is_finite() { c } else { f32::INFINITY };
        }
    }
    Ok(())
}

/// Energies and `dE/da` of `n` sequences on this thread.
///
/// - `actions`: `(n, horizon, action_dim)`
/// - `energies`: output, `(n,)`
/// - `grads`: output, `(n, horizon, action_dim)`
#[allow(clippy::too_many_arguments)]
pub fn grad_rows<M: DifferentiableWorldModel>(
    model: &M,
    dims: Dims,
    energy: &Energy,
    z0: &[f32],
    actions: &[f32],
    energies: &mut [f32],
    grads: &mut [f32],
    s: &mut BlockScratch<M::Workspace>,
) -> Result<(), PlanError> {
    let (d, na, h, pl) = (
        dims.latent_dim,
        dims.action_dim,
        dims.horizon,
        dims.plan_len(),
    );
    let tw = model.tape_width();
    let (bd, bt) = (ROLLOUT_BLOCK * d, ROLLOUT_BLOCK * tw);
    let blocks = actions
        .chunks(ROLLOUT_BLOCK * pl)
        .zip(energies.chunks_mut(ROLLOUT_BLOCK))
        .zip(grads.chunks_mut(ROLLOUT_BLOCK * pl));
    for ((seqs, out), g_out) in blocks {
        let n = out.len();
        for r in 0..n {
            s.zs[r * d..(r + 1) * d].copy_from_slice(z0);
            s.cost[r] = energy.action_cost(&seqs[r * pl..(r + 1) * pl], na);
        }
        for t in 0..h {
            for r in 0..n {
                s.a[r * na..(r + 1) * na]
                    .copy_from_slice(&seqs[r * pl + t * na..r * pl + (t + 1) * na]);
            }
            let (before, after) = s.zs.split_at_mut((t + 1) * bd);
            let tape = &mut s.tape[t * bt..t * bt + n * tw];
            model.step_taped(
                &before[t * bd..t * bd + n * d],
                &s.a[..n * na],
                &mut after[..n * d],
                tape,
                &mut s.ws,
            )?;
            let w = energy.state_weight(t + 1, h);
            if w != 0.0 {
                for r in 0..n {
                    s.cost[r] += w * energy.distance(&after[r * d..(r + 1) * d]);
                }
            }
            let vw = energy.value_weight_at(t + 1, h);
            if let (true, Some(v)) = (vw != 0.0, &energy.value) {
                let vs = value_scratch(&mut s.value, v, h);
                let vt = ROLLOUT_BLOCK * vs.tape_width;
                let tape = &mut vs.tape[t * vt..t * vt + n * vs.tape_width];
                v.eval_block(
                    &after[..n * d],
                    &energy.goal,
                    &mut vs.ws,
                    Some(tape),
                    &mut vs.out[..n],
                )?;
                for (c, val) in s.cost[..n].iter_mut().zip(&vs.out) {
                    *c += vw * val;
                }
            }
        }
        s.gz[..n * d].fill(0.0);
        for t in (1..=h).rev() {
            let w = energy.state_weight(t, h);
            if w != 0.0 {
                for r in 0..n {
                    let z = &s.zs[t * bd + r * d..t * bd + (r + 1) * d];
                    energy.add_distance_grad(z, w, &mut s.gz[r * d..(r + 1) * d]);
                }
            }
            let vw = energy.value_weight_at(t, h);
            if let (true, Some(v)) = (vw != 0.0, &energy.value) {
                let vs = value_scratch(&mut s.value, v, h);
                let vt = ROLLOUT_BLOCK * vs.tape_width;
                let tape = &vs.tape[(t - 1) * vt..(t - 1) * vt + n * vs.tape_width];
                vs.out[..n].fill(vw);
                v.add_grad_block(&vs.out[..n], tape, &mut vs.ws, &mut s.gz[..n * d])?;
            }
            let tape = &s.tape[(t - 1) * bt..(t - 1) * bt + n * tw];
            model.step_vjp(
                tape,
                &s.gz[..n * d],
                &mut s.gz_prev[..n * d],
                &mut s.ga[..n * na],
                &mut s.ws,
            )?;
            std::mem::swap(&mut s.gz, &mut s.gz_prev);
            for r in 0..n {
                g_out[r * pl + (t - 1) * na..r * pl + t * na]
                    .copy_from_slice(&s.ga[r * na..(r + 1) * na]);
            }
        }
        for r in 0..n {
            let seq = &seqs[r * pl..(r + 1) * pl];
            let g = &mut g_out[r * pl..(r + 1) * pl];
            energy.add_action_grad(seq, na, g);
            let c = s.cost[r];
            if c.is_finite() {
                out[r] = c;
                g.iter_mut()
                    .filter(|v| !v.is_finite())
                    .for_each(|v| *v = 0.0);
            } else {
                out[r] = f32::INFINITY;
                g.fill(0.0);
            }
        }
    }
    Ok(())
}
