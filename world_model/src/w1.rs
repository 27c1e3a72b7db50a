//! The W1 reference workload (`shared/workload/w1.safetensors`): a fixed latent predictor, a
//! start and a goal latent, and reference plans with their float64 energies.
//!
//! Predictor: `z' = z + W3 tanh(W2 tanh(W1 [z; a] + b1) + b2) + b3` with latent 64, action 4,
//! hidden 256. Energy: `||z_H - zg||^2 + lambda * sum_t ||a_t||^2`, `lambda = 1e-3`, `H = 16`,
//! actions clipped to `[-1, 1]`.

use crate::activation::Activation;
use crate::error::ModelError;
use crate::io::TensorFile;
use crate::mlp::{Linear, Mlp, MlpSpec};
use crate::model::MlpWorldModel;

/// Latent width of W1.
pub const W1_LATENT_DIM: usize = 64;
/// Action width of W1.
pub const W1_ACTION_DIM: usize = 4;
/// Hidden width of W1's predictor.
pub const W1_HIDDEN: usize = 256;
/// Planning horizon of W1.
pub const W1_HORIZON: usize = 16;
/// Number of reference plans in the file.
pub const W1_NUM_REFS: usize = 8;
/// Weight of the action-magnitude term.
pub const W1_ACTION_WEIGHT: f32 = 1e-3;

/// Everything in a W1 file.
#[derive(Debug, Clone)]
pub struct W1Workload {
    /// The predictor, behind the world-model seam.
    pub model: MlpWorldModel,
    /// `(latent_dim,)` start latent.
    pub z0: Vec<f32>,
    /// `(latent_dim,)` goal latent.
    pub zg: Vec<f32>,
    /// `(horizon, action_dim)`: a plan that reaches `zg` exactly.
    pub a_star: Vec<f32>,
    /// `(W1_NUM_REFS, horizon, action_dim)` reference plans.
    pub ref_actions: Vec<f32>,
    /// `(W1_NUM_REFS,)` float64 energies of the reference plans.
    pub ref_energy: Vec<f64>,
    /// `(W1_NUM_REFS, latent_dim)` float64 final latents of the reference plans.
    pub ref_z_h: Vec<f64>,
}

impl W1Workload {
    /// Loads a W1 file from disk.
    pub fn open(path: &std::path::Path) -> Result<Self, ModelError> {
        Self::from_file(TensorFile::open(path)?)
    }

    /// Loads a W1 file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        Self::from_file(TensorFile::from_bytes(bytes)?)
    }

    fn from_file(mut f: TensorFile) -> Result<Self, ModelError> {
        let (d, a, h, t, n) = (
            W1_LATENT_DIM,
            W1_ACTION_DIM,
            W1_HIDDEN,
            W1_HORIZON,
            W1_NUM_REFS,
        );
        let spec = MlpSpec {
            input_dim: d + a,
            hidden: vec![h, h],
            output_dim: d,
            activation: Activation::Tanh,
            layer_norm: false,
        };
        let mut linears = Vec::new();
        for (i, (din, dout)) in spec.layer_dims().into_iter().enumerate() {
            let w = f.take_f32(&format!("W{}", i + 1), &[dout, din])?;
            let b = f.take_f32(&format!("b{}", i + 1), &[dout])?;
            linears.push(Linear::new(w, b, din, dout)?);
        }
        let predictor = Mlp::new(spec, linears, Vec::new())?;
        let w = Self {
            model: MlpWorldModel::new(None, predictor, d, a)?,
            z0: f.take_f32("z0", &[d])?,
            zg: f.take_f32("zg", &[d])?,
            a_star: f.take_f32("a_star", &[t, a])?,
            ref_actions: f.take_f32("ref_actions", &[n, t, a])?,
            ref_energy: f.take_f64("ref_energy", &[n])?,
            ref_z_h: f.take_f64("ref_zH", &[n, d])?,
        };
        f.finish()?;
        Ok(w)
    }
}
