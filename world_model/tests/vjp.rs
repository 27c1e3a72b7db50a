//! The hand-written vector-Jacobian product agrees with central finite differences.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use world_model::{
    Activation, DifferentiableWorldModel, LayerNormParams, Linear, Mlp, MlpSpec, MlpWorldModel,
    WorldModel,
};

fn random_model(act: Activation, layer_norm: bool, seed: u64) -> MlpWorldModel {
    let (d, a, h) = (6, 3, 40);
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

fn check(act: Activation, layer_norm: bool) {
    let model = random_model(act, layer_norm, 7);
    let dims = model.dims();
    let (d, a) = (dims.latent_dim, dims.action_dim);
    let batch = 53; // more than one block of rows, with a tail
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let z: Vec<f32> = (0..batch * d)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let act_in: Vec<f32> = (0..batch * a)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let g_next: Vec<f32> = (0..batch * d)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut ws = model.workspace(batch);
    let mut z_next = vec![0.0; batch * d];
    let mut tape = vec![0.0; batch * model.tape_width()];
    model
        .step_taped(&z, &act_in, &mut z_next, &mut tape, &mut ws)
        .expect("taped");
    let mut plain = vec![0.0; batch * d];
    model.step(&z, &act_in, &mut plain, &mut ws).expect("step");
    assert_eq!(plain, z_next, "taped and plain steps agree");
    let (mut g_z, mut g_a) = (vec![0.0; batch * d], vec![0.0; batch * a]);
    model
        .step_vjp(&tape, &g_next, &mut g_z, &mut g_a, &mut ws)
        .expect("vjp");

    // Loss L = sum(g_next * z_next); finite differences per input coordinate, in f64.
    let loss = |z: &[f32], a_: &[f32], ws: &mut _| -> f64 {
        let mut out = vec![0.0; batch * d];
        model.step(z, a_, &mut out, ws).expect("step");
        out.iter()
            .zip(&g_next)
            .map(|(&o, &g)| o as f64 * g as f64)
            .sum()
    };
    let eps = 1e-2f32;
    for (row, col, is_action) in [
        (0, 0, false),
        (5, 3, false),
        (52, 5, false),
        (1, 0, true),
        (50, 2, true),
    ] {
        let (mut zp, mut zm, mut ap, mut am) =
            (z.clone(), z.clone(), act_in.clone(), act_in.clone());
        let analytic = if is_action {
            ap[row * a + col] += eps;
            am[row * a + col] -= eps;
            g_a[row * a + col]
        } else {
            zp[row * d + col] += eps;
            zm[row * d + col] -= eps;
            g_z[row * d + col]
        };
        let fd = (loss(&zp, &ap, &mut ws) - loss(&zm, &am, &mut ws)) / (2.0 * eps as f64);
        let tol = 2e-3 * (1.0 + fd.abs());
        assert!(
            (fd - analytic as f64).abs() <= tol,
            "{act:?} ln={layer_norm} ({row},{col},{is_action}): fd {fd} vs {analytic}"
        );
    }
}

#[test]
fn vjp_matches_finite_differences_tanh() {
    check(Activation::Tanh, false);
}

#[test]
fn vjp_matches_finite_differences_relu() {
    check(Activation::Relu, false);
}

#[test]
fn vjp_matches_finite_differences_gelu() {
    check(Activation::Gelu, false);
}

#[test]
fn vjp_matches_finite_differences_silu() {
    check(Activation::Silu, false);
}

#[test]
fn vjp_matches_finite_differences_layer_norm() {
    check(Activation::Tanh, true);
    check(Activation::Gelu, true);
}
