//! Energy-based model-predictive planning for `ebmpc`.
//!
//! - [`energy`]: the objective as data ([`Energy`], [`Norm`]).
//! - [`rollout`]: the [`Rollout`] / [`RolloutGrad`] seam and the per-thread block kernels.
//! - [`cpu_rollout`]: [`CpuRollout`], the reference rollout on a persistent thread pool.
//! - [`sampling`]: counter-based random streams, white and colored Gaussian sampling.
//! - [`optimizer`]: the [`Optimizer`] seam, [`Problem`], [`SolveStats`].
//! - [`cem`], [`icem`], [`mppi`], [`gradient`], [`hybrid`]: one optimizer each;
//!   [`kind`] lists them all.
//! - [`mpc`]: [`Mpc`], the receding-horizon loop with deadline and fallbacks.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cem;
pub mod cpu_rollout;
pub mod dims;
pub mod energy;
pub mod error;
pub mod gradient;
pub mod hybrid;
pub mod icem;
pub mod kind;
mod mailbox;
pub mod mpc;
pub mod mppi;
pub mod optimizer;
pub mod rollout;
pub mod sampling;

pub use cem::{Cem, CemConfig};
pub use cpu_rollout::CpuRollout;
pub use dims::Dims;
pub use energy::{Energy, Norm};
pub use error::PlanError;
pub use gradient::{Gradient, GradientConfig};
pub use hybrid::{Hybrid, HybridConfig};
pub use icem::{Icem, IcemConfig};
pub use kind::{AnyOptimizer, OptimizerConfig, OptimizerKind, SamplingOptimizer};
pub use mpc::{Mpc, MpcConfig};
pub use mppi::{Mppi, MppiConfig};
pub use optimizer::{Optimizer, Problem, SolveStats, SolveStatus};
pub use rollout::{Rollout, RolloutGrad};
pub use sampling::{ColorFilter, NoiseKey, SampleRequest};
