//! W1: every optimizer, with the W1 reference settings, beats the zero plan by a wide margin.

mod common;

use planner::{
    AnyOptimizer, CpuRollout, Dims, Energy, Optimizer, OptimizerKind, Problem, Rollout, SolveStats,
};
use std::sync::Arc;
use world_model::w1::{W1_ACTION_DIM, W1_ACTION_WEIGHT, W1_HORIZON, W1_LATENT_DIM};

#[test]
fn every_optimizer_beats_the_zero_plan_on_w1() {
    let Some(w) = common::w1() else { return };
    let model = Arc::new(w.model.clone());
    let dims = Dims {
        horizon: W1_HORIZON,
        action_dim: W1_ACTION_DIM,
        latent_dim: W1_LATENT_DIM,
    };
    let mut energy = Energy::terminal_l2(w.zg.clone(), W1_ACTION_DIM);
    energy.magnitude_weight = W1_ACTION_WEIGHT;
    let mut rollout = CpuRollout::new_differentiable(model, W1_HORIZON, 512, 2).expect("rollout");
    let zero = vec![0.0f32; dims.plan_len()];
    let mut e_zero = [0.0f32];
    rollout
        .evaluate(&w.z0, &energy, &zero, &mut e_zero)
        .expect("eval");
    assert!((e_zero[0] as f64 - w.ref_energy[0]).abs() < 1e-3 * w.ref_energy[0]);
    for kind in OptimizerKind::ALL {
        let mut opt = AnyOptimizer::new(kind.default_config(), dims).expect("optimizer");
        let mut plan = vec![0.0f32; dims.plan_len()];
        let mut stats = SolveStats::with_capacity(64);
        let problem = Problem {
            z0: &w.z0,
            energy: &energy,
            warm_start: &zero,
            deadline: None,
        };
        opt.plan(&mut rollout, &problem, &mut plan, &mut stats)
            .expect("plan");
        let mut e = [0.0f32];
        rollout
            .evaluate(&w.z0, &energy, &plan, &mut e)
            .expect("eval");
        eprintln!(
            "W1 {:>6}: E = {:.4} (zero plan {:.2}), {} iterations",
            kind.name(),
            e[0],
            e_zero[0],
            stats.iterations
        );
        assert!(
            e[0] < 0.1 * e_zero[0],
            "{}: E = {} is not < 10% of the zero plan's {}",
            kind.name(),
            e[0],
            e_zero[0]
        );
        assert!(plan.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    }
}
