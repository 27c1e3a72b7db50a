//! Same seed, same plan, whatever the thread count.

mod common;

use planner::{
    AnyOptimizer, CpuRollout, Dims, Energy, Optimizer, OptimizerKind, Problem, SolveStats,
};

#[test]
fn same_seed_same_plan_any_thread_count() {
    let (d, a, h) = (16, 3, 10);
    let model = common::random_mlp(5, d, a, 64);
    let dims = Dims {
        horizon: h,
        action_dim: a,
        latent_dim: d,
    };
    let z0: Vec<f32> = (0..d).map(|i| (i as f32 * 0.37).sin()).collect();
    let goal: Vec<f32> = (0..d).map(|i| (i as f32 * 0.11).cos()).collect();
    let mut energy = Energy::terminal_l2(goal, a);
    energy.running_weight = 0.1;
    energy.smoothness_weight = 0.01;
    let warm = vec![0.1f32; dims.plan_len()];
    for kind in OptimizerKind::ALL {
        let mut plans = Vec::new();
        for threads in [1, 2, 3] {
            let mut rollout =
                CpuRollout::new_differentiable(model.clone(), h, 512, threads).expect("rollout");
            let mut opt = AnyOptimizer::new(kind.default_config(), dims).expect("optimizer");
            let mut plan = vec![0.0f32; dims.plan_len()];
            let mut stats = SolveStats::with_capacity(64);
            let problem = Problem {
                z0: &z0,
                energy: &energy,
                warm_start: &warm,
                deadline: None,
            };
            // Two calls: the second exercises the state carried between calls.
            for _ in 0..2 {
                opt.plan(&mut rollout, &problem, &mut plan, &mut stats)
                    .expect("plan");
            }
            plans.push((plan, stats.energy_per_iteration.clone()));
        }
        assert_eq!(plans[0], plans[1], "{}: 1 vs 2 threads", kind.name());
        assert_eq!(plans[0], plans[2], "{}: 1 vs 3 threads", kind.name());
    }
}

#[test]
fn different_seeds_give_different_plans() {
    let (d, a, h) = (8, 2, 6);
    let model = common::random_mlp(9, d, a, 32);
    let dims = Dims {
        horizon: h,
        action_dim: a,
        latent_dim: d,
    };
    let z0 = vec![0.2f32; d];
    let energy = Energy::terminal_l2(vec![-0.3; d], a);
    let warm = vec![0.0f32; dims.plan_len()];
    let mut rollout = CpuRollout::new(model, h, 512, 2).expect("rollout");
    let mut plans = Vec::new();
    for seed in [1, 2] {
        let cfg = planner::CemConfig {
            seed,
            ..Default::default()
        };
        let mut opt = planner::Cem::new(cfg, dims).expect("cem");
        let mut plan = vec![0.0f32; dims.plan_len()];
        let mut stats = SolveStats::with_capacity(8);
        let problem = Problem {
            z0: &z0,
            energy: &energy,
            warm_start: &warm,
            deadline: None,
        };
        opt.plan(&mut rollout, &problem, &mut plan, &mut stats)
            .expect("plan");
        plans.push(plan);
    }
    assert_ne!(plans[0], plans[1]);
}
