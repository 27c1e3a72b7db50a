//! World models for `ebmpc`: the seam the planner calls, and a batched MLP behind it.
//!
//! - [`seam`]: the [`WorldModel`] and [`DifferentiableWorldModel`] traits.
//! - [`conv`]: a convolutional stem for observations that start with a depth image.
//! - [`mlp`]: a multilayer perceptron (tanh, GELU, ReLU, SiLU, optional LayerNorm) with a
//!   hand-written vector-Jacobian product, evaluated in cache-sized row blocks.
//! - [`packed`]: the packed, register-blocked matrix product under every layer.
//! - [`activation`]: activations and a fast vectorized `tanh`.
//! - [`probe`]: FMA-peak and packed-product rate probes for benchmarks.
//! - [`model`]: [`MlpWorldModel`], an optional encoder (conv stem + MLP, or MLP) plus a residual
//!   predictor.
//! - [`head`]: [`LinearHead`], a linear read-out of a physical quantity from a latent.
//! - [`value`]: [`GoalValue`], a learned goal-conditioned cost-to-go in latent space.
//! - [`ensemble`]: [`Ensemble`], several models planned through as one (energies averaged).
//! - [`io`]: safetensors reading with shape, dtype and finiteness checks.
//! - [`w1`]: the W1 reference workload.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activation;
pub mod conv;
pub mod ensemble;
pub mod error;
pub mod head;
pub mod io;
pub mod mlp;
pub mod model;
pub mod packed;
pub mod probe;
pub mod seam;
pub mod train;
pub mod value;
pub mod w1;

pub use activation::Activation;
pub use conv::{ConvSpec, ConvStem};
pub use ensemble::Ensemble;
pub use error::ModelError;
pub use head::{CUBE_HEAD, LinearHead, PALM_HEAD};
pub use io::TensorFile;
pub use mlp::{LayerNormParams, Linear, Mlp, MlpSpec};
pub use model::MlpWorldModel;
pub use seam::{DifferentiableWorldModel, ModelDims, WorldModel};
pub use value::GoalValue;
pub use w1::W1Workload;
