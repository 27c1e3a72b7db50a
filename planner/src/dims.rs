//! [`Dims`]: the sizes that travel with every planning buffer.

use crate::error::{PlanError, ensure};

/// Sizes of one planning problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Number of actions in a plan (steps predicted ahead), at least 1.
    pub horizon: usize,
    /// Length of one action vector, at least 1.
    pub action_dim: usize,
    /// Length of one latent vector, at least 1.
    pub latent_dim: usize,
}

impl Dims {
    /// Floats in one action sequence, `horizon * action_dim`.
    pub fn plan_len(&self) -> usize {
        self.horizon * self.action_dim
    }

    /// Checks that every size is positive; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        ensure(self.horizon > 0, "horizon", || {
            "must be at least 1, got 0".into()
        })?;
        ensure(self.action_dim > 0, "action_dim", || {
            "must be at least 1, got 0".into()
        })?;
        ensure(self.latent_dim > 0, "latent_dim", || {
            "must be at least 1, got 0".into()
        })
    }
}
