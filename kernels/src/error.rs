//! [`KernelError`]: the one error type of the `kernels` crate.

use planner::PlanError;
use thiserror::Error;
use world_model::ModelError;

/// Everything that can go wrong when detecting, compiling for, or running on a GPU.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum KernelError {
    /// A CUDA shared library could not be loaded (no driver, or NVRTC not on `LD_LIBRARY_PATH`).
    #[error("CUDA library `{library}` not found: {hint}")]
    LibraryMissing {
        /// File stem cudarc looked for, e.g. `libcuda.so`.
        library: &'static str,
        /// What to install or export.
        hint: &'static str,
    },
    /// The driver loaded but reports no device.
    #[error("the CUDA driver reports {count} device(s); device {ordinal} was requested")]
    NoDevice {
        /// Devices reported by the driver.
        count: usize,
        /// Device asked for.
        ordinal: usize,
    },
    /// A CUDA driver call failed.
    #[error("CUDA driver call `{op}` failed: {message}")]
    Driver {
        /// What was being done, e.g. `launch rollout_energy`.
        op: &'static str,
        /// The driver's error.
        message: String,
    },
    /// NVRTC rejected a kernel source.
    #[error("NVRTC failed to compile module `{module}` for {arch}: {log}")]
    Compile {
        /// Module name, e.g. `rollout`.
        module: &'static str,
        /// Target architecture, e.g. `sm_90`.
        arch: String,
        /// Compiler log.
        log: String,
    },
    /// A size is beyond what the kernels support or the device provides.
    #[error("{what} is {value}, but the CUDA backend supports at most {max}")]
    Limit {
        /// Which size, e.g. `hidden width`.
        what: &'static str,
        /// The requested size.
        value: usize,
        /// The largest supported size.
        max: usize,
    },
    /// The model cannot be mapped onto the kernels as given.
    #[error("model not supported by the CUDA backend: {0}")]
    Unsupported(String),
    /// A planner-side check failed (dimensions, buffer lengths).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A model-side check failed.
    #[error(transparent)]
    Model(#[from] ModelError),
}

impl KernelError {
    /// Wraps a cudarc driver error with the operation that failed.
    pub(crate) fn driver(op: &'static str, err: impl std::fmt::Display) -> Self {
        Self::Driver {
            op,
            message: err.to_string(),
        }
    }
}

/// CUDA failures surface as [`PlanError::Backend`] with the full message.
impl From<KernelError> for PlanError {
    fn from(e: KernelError) -> Self {
        match e {
            KernelError::Plan(p) => p,
            KernelError::Model(m) => PlanError::Model(m),
            other => PlanError::Backend {
                backend: "cuda",
                op: "rollout".into(),
                message: other.to_string(),
            },
        }
    }
}
