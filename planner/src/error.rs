//! The one error type of the `planner` crate.

use thiserror::Error;
use world_model::ModelError;

/// Everything that can go wrong when configuring or running a planner.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PlanError {
    /// A configuration value is out of range; `key` is the config field.
    #[error("invalid config `{key}`: {message}")]
    InvalidConfig {
        /// Name of the offending field, e.g. `num_elites`.
        key: &'static str,
        /// What is wrong, with the numbers.
        message: String,
    },
    /// A buffer has the wrong length.
    #[error("buffer `{name}` has length {found}, expected {expected}")]
    BufferLength {
        /// Parameter name.
        name: &'static str,
        /// Length required by the dimensions.
        expected: usize,
        /// Length received.
        found: usize,
    },
    /// A batch is larger than the rollout was sized for.
    #[error("{requested} samples requested, but the rollout was built for at most {capacity}")]
    TooManySamples {
        /// Samples requested.
        requested: usize,
        /// Capacity fixed at construction.
        capacity: usize,
    },
    /// The world model and the planner disagree on a dimension.
    #[error("dimension `{name}` is {found} in the model but {expected} in the planner")]
    DimensionMismatch {
        /// Which dimension.
        name: &'static str,
        /// Planner's value.
        expected: usize,
        /// Model's value.
        found: usize,
    },
    /// The world model failed.
    #[error("world model: {0}")]
    Model(#[from] ModelError),
    /// A worker thread of the CPU pool stopped.
    #[error("rollout worker {0} is gone")]
    WorkerGone(usize),
    /// A compute backend (CUDA) failed: a launch, a copy, an allocation.
    #[error("{backend} backend failed during {op}: {message}")]
    Backend {
        /// The backend, e.g. `cuda`.
        backend: &'static str,
        /// What was being done.
        op: String,
        /// The backend's message.
        message: String,
    },
}

/// Checks that a buffer has exactly `expected` elements.
pub fn check_len(name: &'static str, found: usize, expected: usize) -> Result<(), PlanError> {
    if found == expected {
        Ok(())
    } else {
        Err(PlanError::BufferLength {
            name,
            expected,
            found,
        })
    }
}

/// Returns an [`PlanError::InvalidConfig`] unless `ok`.
pub(crate) fn ensure(
    ok: bool,
    key: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), PlanError> {
    if ok {
        Ok(())
    } else {
        Err(PlanError::InvalidConfig {
            key,
            message: message(),
        })
    }
}
