//! # kernels: the CUDA backend of the planner
//!
//! Hand-written CUDA kernels (`cuda/*.cu`, embedded in the binary, compiled at run time with NVRTC
//! for the device's architecture and cached per process) behind the planner's rollout seam.
//!
//! - [`detect`]: [`cuda_available`] and friends, which never panic (cudarc does, when a library
//!   is missing, so nothing else in this crate touches cudarc before them).
//! - [`backend`]: [`Backend`] (`cpu | cuda | auto`) and its resolution with CPU fallback.
//! - [`cuda_rollout`]: [`CudaRollout`], `planner::Rollout` + `planner::RolloutGrad` for an
//!   `MlpWorldModel`: all `H` steps and the energy fused in one launch.
//! - [`host_terms`]: the action-target energy term, added on the host after each download.
//! - [`layout`]: the predictor packed for the kernels, and the kernels' size limits.
//! - [`sources`]: the embedded sources, NVRTC options, the PTX cache.
//! - [`philox`]: the counter-based RNG of the sampling kernels, on the host, for tests.
//! - [`device`], [`error`]: one CUDA context and stream; [`KernelError`].
//!
//! `unsafe` is confined to this crate: library probes and kernel launches, each with a
//! `// SAFETY:` comment.
#![warn(missing_docs)]

pub mod backend;
pub mod cuda_rollout;
pub mod detect;
pub mod device;
pub mod error;
pub mod host_terms;
pub mod layout;
pub mod philox;
pub mod sources;

pub use backend::{Backend, ParseBackendError};
pub use cuda_rollout::{CudaRollout, CudaRolloutConfig};
pub use detect::{cuda_available, device_count, driver_available, nvrtc_available};
pub use device::Device;
pub use error::KernelError;
pub use layout::{MAX_LAYERS, MAX_WIDTH, PredictorLayout};
