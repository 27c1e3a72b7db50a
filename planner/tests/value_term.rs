//! The learned value term of the energy: the CPU rollout adds `value_weight * V(z_H, g)` (and the
//! running share) exactly, its action gradients match finite differences, and an energy whose
//! value weight has no network is refused with the key.

mod common;

use approx::assert_relative_eq;
use planner::{CpuRollout, Dims, Energy, Rollout, RolloutGrad};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use world_model::{
    Activation, DifferentiableWorldModel, GoalValue, LayerNormParams, Linear, Mlp, MlpSpec,
    WorldModel,
};

fn random_value(seed: u64, d: usize) -> Arc<GoalValue> {
    let spec = MlpSpec {
        input_dim: 2 * d,
        hidden: vec![16],
        output_dim: 1,
        activation: Activation::Gelu,
        layer_norm: true,
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
    let norms = vec![LayerNormParams {
        gamma: (0..16).map(|_| rng.random_range(0.8..1.2)).collect(),
        beta: (0..16).map(|_| rng.random_range(-0.1..0.1)).collect(),
    }];
    let mlp = Mlp::new(spec, linears, norms).expect("mlp");
    Arc::new(GoalValue::new(mlp, d, 7.0).expect("value"))
}

/// Rolls one sequence through `model` and returns its latents `z_1..z_H`, `(H, d)`.
fn latents(model: &impl WorldModel, z0: &[f32], seq: &[f32], h: usize) -> Vec<f32> {
    let (d, na) = (model.dims().latent_dim, model.dims().action_dim);
    let mut ws = model.workspace(1);
    let mut cur = z0.to_vec();
    let mut out = Vec::new();
    for t in 0..h {
        let mut next = vec![0.0; d];
        model
            .step(&cur, &seq[t * na..(t + 1) * na], &mut next, &mut ws)
            .expect("step");
        out.extend_from_slice(&next);
        cur = next;
    }
    out
}

fn setup() -> (
    Arc<world_model::MlpWorldModel>,
    Energy,
    Vec<f32>,
    Vec<f32>,
    Dims,
) {
    let (d, a, h, k) = (6, 2, 5, 7);
    let model = common::random_mlp(3, d, a, 24);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let goal: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let z0: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let actions: Vec<f32> = (0..k * h * a)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut e = Energy::terminal_l2(goal, a);
    e.running_weight = 0.2;
    e.value = Some(random_value(4, d));
    e.value_weight = 0.5;
    e.value_running_weight = 0.05;
    let dims = Dims {
        horizon: h,
        action_dim: a,
        latent_dim: d,
    };
    (model, e, z0, actions, dims)
}

#[test]
fn the_rollout_adds_the_weighted_value_at_every_predicted_latent() {
    let (model, e, z0, actions, dims) = setup();
    let (d, h, pl) = (dims.latent_dim, dims.horizon, dims.plan_len());
    let k = actions.len() / pl;
    let v = e.value.clone().expect("value");
    for threads in [1, 2] {
        let mut r = CpuRollout::new(Arc::clone(&model), h, k, threads).expect("rollout");
        let mut got = vec![0.0; k];
        r.evaluate(&z0, &e, &actions, &mut got).expect("evaluate");
        for (i, g) in got.iter().enumerate() {
            let seq = &actions[i * pl..(i + 1) * pl];
            let zs = latents(model.as_ref(), &z0, seq, h);
            let mut vals = vec![0.0; h];
            v.eval(&zs, &e.goal, &mut vals).expect("value");
            let mut want = e.action_cost(seq, dims.action_dim);
            for t in 1..=h {
                let z = &zs[(t - 1) * d..t * d];
                want +=
                    e.state_weight(t, h) * e.distance(z) + e.value_weight_at(t, h) * vals[t - 1];
            }
            assert_relative_eq!(*g, want, max_relative = 1e-4);
        }
    }
}

#[test]
fn value_term_gradients_match_finite_differences() {
    let (model, e, z0, actions, dims) = setup();
    let (h, pl) = (dims.horizon, dims.plan_len());
    let k = actions.len() / pl;
    assert!(model.tape_width() > 0);
    let mut r = CpuRollout::new_differentiable(Arc::clone(&model), h, k, 2).expect("rollout");
    let mut energies = vec![0.0; k];
    let mut grads = vec![0.0; k * pl];
    r.evaluate_grad(&z0, &e, &actions, &mut energies, &mut grads)
        .expect("grad");
    let eps = 1e-2f32;
    for i in [0usize, 3, pl + 4, 2 * pl + 7] {
        let (mut p, mut m) = (actions.clone(), actions.clone());
        p[i] += eps;
        m[i] -= eps;
        let (mut ep, mut em) = (vec![0.0; k], vec![0.0; k]);
        r.evaluate(&z0, &e, &p, &mut ep).expect("plus");
        r.evaluate(&z0, &e, &m, &mut em).expect("minus");
        let row = i / pl;
        let fd = (ep[row] - em[row]) / (2.0 * eps);
        assert!(
            (fd - grads[i]).abs() < 2e-2 * (1.0 + fd.abs()),
            "action {i}: finite difference {fd}, gradient {}",
            grads[i]
        );
    }
}

#[test]
fn a_value_weight_without_a_network_is_refused_by_name() {
    let (_, mut e, _, _, dims) = setup();
    e.value = None;
    let err = e.validate(&dims).unwrap_err().to_string();
    assert!(err.contains("value_weight"), "{err}");
    e.value_weight = 0.0;
    e.value_running_weight = 0.0;
    e.validate(&dims).expect("no value term, no network: fine");
    e.value = Some(random_value(1, dims.latent_dim + 1));
    let err = e.validate(&dims).unwrap_err().to_string();
    assert!(err.contains("value") && err.contains("7"), "{err}");
}
