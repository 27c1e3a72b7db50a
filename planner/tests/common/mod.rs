//! Shared fixtures: a linear latent model with a closed-form optimum, a random MLP, W1.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use world_model::{
    Activation, DifferentiableWorldModel, Linear, Mlp, MlpSpec, MlpWorldModel, ModelDims,
    ModelError, W1Workload, WorldModel,
};

/// `z' = z + B a` with `B (latent_dim, action_dim)`.
pub struct LinearModel {
    pub b: Vec<f32>,
    pub d: usize,
    pub a: usize,
}

impl WorldModel for LinearModel {
    type Workspace = ();
    fn dims(&self) -> ModelDims {
        ModelDims {
            obs_dim: self.d,
            latent_dim: self.d,
            action_dim: self.a,
        }
    }
    fn workspace(&self, _: usize) {}
    fn encode(&self, obs: &[f32], z: &mut [f32], _: &mut ()) -> Result<(), ModelError> {
        z.copy_from_slice(obs);
        Ok(())
    }
    fn step(&self, z: &[f32], a: &[f32], z_next: &mut [f32], _: &mut ()) -> Result<(), ModelError> {
        let (d, na) = (self.d, self.a);
        for r in 0..z.len() / d {
            for i in 0..d {
                let mut v = z[r * d + i];
                for j in 0..na {
                    v += self.b[i * na + j] * a[r * na + j];
                }
                z_next[r * d + i] = v;
            }
        }
        Ok(())
    }
}

impl DifferentiableWorldModel for LinearModel {
    fn tape_width(&self) -> usize {
        1
    }
    fn step_taped(
        &self,
        z: &[f32],
        a: &[f32],
        zn: &mut [f32],
        _tape: &mut [f32],
        ws: &mut (),
    ) -> Result<(), ModelError> {
        self.step(z, a, zn, ws)
    }
    fn step_vjp(
        &self,
        _tape: &[f32],
        g: &[f32],
        gz: &mut [f32],
        ga: &mut [f32],
        _: &mut (),
    ) -> Result<(), ModelError> {
        let (d, na) = (self.d, self.a);
        gz.copy_from_slice(g);
        for r in 0..g.len() / d {
            for j in 0..na {
                ga[r * na + j] = (0..d).map(|i| self.b[i * na + j] * g[r * d + i]).sum();
            }
        }
        Ok(())
    }
}

pub fn random_mlp(seed: u64, d: usize, a: usize, h: usize) -> Arc<MlpWorldModel> {
    let spec = MlpSpec {
        input_dim: d + a,
        hidden: vec![h, h],
        output_dim: d,
        activation: Activation::Tanh,
        layer_norm: false,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let linears = spec
        .layer_dims()
        .into_iter()
        .map(|(i, o)| {
            let s = 1.0 / (i as f32).sqrt();
            let w = (0..i * o).map(|_| rng.random_range(-s..s)).collect();
            let b = (0..o).map(|_| rng.random_range(-0.1..0.1)).collect();
            Linear::new(w, b, i, o).expect("layer")
        })
        .collect();
    let mlp = Mlp::new(spec, linears, Vec::new()).expect("mlp");
    Arc::new(MlpWorldModel::new(None, mlp, d, a).expect("model"))
}

pub fn w1() -> Option<W1Workload> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/workload/w1.safetensors");
    let path = std::env::var_os("EBMPC_W1")
        .map(std::path::PathBuf::from)
        .unwrap_or(path);
    if !path.exists() {
        eprintln!(
            "skipping: W1 file {} not found (set EBMPC_W1)",
            path.display()
        );
        return None;
    }
    Some(W1Workload::open(&path).expect("W1 loads"))
}
