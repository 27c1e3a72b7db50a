//! The world-model seam: the traits every model implements and the planner calls.
//!
//! A model maps a batch of observations to latents (`encode`) and a batch of `(z, a)` pairs to
//! next latents (`step`). Both take a caller-owned [`WorldModel::Workspace`] so that a planner can
//! size all scratch memory once and then evaluate without allocating. A
//! [`DifferentiableWorldModel`] also records what one step needs for its backward pass (a "tape")
//! and returns the vector-Jacobian product with respect to `z` and `a`.

use crate::error::ModelError;

/// Sizes that describe a world model's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDims {
    /// Length of one observation vector fed to `encode`.
    pub obs_dim: usize,
    /// Length of one latent vector `z`.
    pub latent_dim: usize,
    /// Length of one action vector `a`.
    pub action_dim: usize,
}

/// A batched latent dynamics model.
pub trait WorldModel: Send + Sync {
    /// Scratch memory for one thread, sized for a maximum batch by [`WorldModel::workspace`].
    type Workspace: Send;

    /// Interface sizes of the model.
    fn dims(&self) -> ModelDims;

    /// Allocates scratch memory able to evaluate batches of up to `max_batch` rows.
    fn workspace(&self, max_batch: usize) -> Self::Workspace;

    /// Encodes observations into latents.
    ///
    /// - `obs`: `(batch, obs_dim)`
    /// - `z`: output, `(batch, latent_dim)`
    fn encode(
        &self,
        obs: &[f32],
        z: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError>;

    /// Predicts the next latents.
    ///
    /// - `z`: `(batch, latent_dim)`
    /// - `a`: `(batch, action_dim)`
    /// - `z_next`: output, `(batch, latent_dim)`
    fn step(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError>;
}

/// A world model whose step can be differentiated with respect to its inputs.
pub trait DifferentiableWorldModel: WorldModel {
    /// Number of `f32` the tape holds per batch row for one step.
    fn tape_width(&self) -> usize;

    /// Same as [`WorldModel::step`], and records the intermediate values the backward pass needs.
    ///
    /// - `z`: `(batch, latent_dim)`
    /// - `a`: `(batch, action_dim)`
    /// - `z_next`: output, `(batch, latent_dim)`
    /// - `tape`: output, `(batch, tape_width)`
    fn step_taped(
        &self,
        z: &[f32],
        a: &[f32],
        z_next: &mut [f32],
        tape: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError>;

    /// Vector-Jacobian product of one step: given `g_next = dL/dz_next`, writes `dL/dz` and
    /// `dL/da` (overwriting both).
    ///
    /// - `tape`: `(batch, tape_width)`, as written by [`DifferentiableWorldModel::step_taped`]
    /// - `g_next`: `(batch, latent_dim)`
    /// - `g_z`: output, `(batch, latent_dim)`
    /// - `g_a`: output, `(batch, action_dim)`
    fn step_vjp(
        &self,
        tape: &[f32],
        g_next: &[f32],
        g_z: &mut [f32],
        g_a: &mut [f32],
        ws: &mut Self::Workspace,
    ) -> Result<(), ModelError>;
}
