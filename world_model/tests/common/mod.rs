//! Shared by the world-model tests: random MLP world models.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use world_model::{Activation, LayerNormParams, Linear, Mlp, MlpSpec, MlpWorldModel};

/// A model without encoder (latent 6, action 3, hidden 40 and 37) with random weights.
pub fn random_model(act: Activation, layer_norm: bool, seed: u64) -> MlpWorldModel {
    random_model_with(6, 3, act, layer_norm, seed)
}

/// A GELU model with LayerNorm of latent width `d` and action width `a`.
#[allow(dead_code)] // not every test file uses it
pub fn random_model_dims(d: usize, a: usize, seed: u64) -> MlpWorldModel {
    random_model_with(d, a, Activation::Gelu, true, seed)
}

fn random_model_with(
    d: usize,
    a: usize,
    act: Activation,
    layer_norm: bool,
    seed: u64,
) -> MlpWorldModel {
    let h = 40;
    let spec = MlpSpec {
        input_dim: d + a,
        hidden: vec![h, 37],
        output_dim: d,
        activation: act,
        layer_norm,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let linears = spec
        .layer_dims()
        .into_iter()
        .map(|(i, o)| {
            let s = 1.5 / (i as f32).sqrt();
            let w = (0..i * o).map(|_| rng.random_range(-s..s)).collect();
            let b = (0..o).map(|_| rng.random_range(-0.3..0.3)).collect();
            Linear::new(w, b, i, o).expect("layer")
        })
        .collect();
    let norms = if layer_norm {
        spec.hidden
            .iter()
            .map(|&w| LayerNormParams {
                gamma: (0..w).map(|_| rng.random_range(0.5..1.5)).collect(),
                beta: (0..w).map(|_| rng.random_range(-0.2..0.2)).collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let mlp = Mlp::new(spec, linears, norms).expect("mlp");
    MlpWorldModel::new(None, mlp, d, a).expect("model")
}
