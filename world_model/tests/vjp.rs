//! The hand-written vector-Jacobian product agrees with central finite differences.

mod common;

use common::random_model;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use world_model::{Activation, DifferentiableWorldModel, Ensemble};

fn check(act: Activation, layer_norm: bool) {
    check_model(
        &random_model(act, layer_norm, 7),
        &format!("{act:?} ln={layer_norm}"),
    );
}

fn check_model<M: DifferentiableWorldModel>(model: &M, what: &str) {
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
            "{what} ({row},{col},{is_action}): fd {fd} vs {analytic}"
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

#[test]
fn ensemble_vjp_matches_finite_differences() {
    let members = vec![
        random_model(Activation::Gelu, true, 7),
        random_model(Activation::Gelu, true, 8),
        random_model(Activation::Tanh, false, 9),
    ];
    check_model(&Ensemble::new(members).expect("ensemble"), "ensemble of 3");
}
