//! A linear-quadratic problem with a closed-form optimum: every optimizer gets close to it.
//!
//! Dynamics `z' = z + B a`, energy `||z_H - g||^2 + lam sum_t ||a_t||^2`. By symmetry and
//! convexity all optimal actions are equal, `a* = (H B^T B + lam I)^-1 B^T (g - z0)`.

mod common;

use common::LinearModel;
use planner::{
    Cem, CemConfig, CpuRollout, Dims, Energy, Gradient, GradientConfig, Hybrid, HybridConfig, Icem,
    IcemConfig, Mppi, MppiConfig, Optimizer, Problem, Rollout, SolveStats,
};
use std::sync::Arc;

const D: usize = 3;
const A: usize = 2;
const H: usize = 8;
const LAM: f32 = 0.1;

struct Lq {
    rollout: CpuRollout<LinearModel>,
    energy: Energy,
    z0: Vec<f32>,
    optimum: Vec<f32>,
    e_star: f32,
}

fn lq() -> Lq {
    let b = vec![0.3, 0.1, -0.2, 0.25, 0.1, -0.15];
    let z0 = vec![0.5, -0.3, 0.2];
    let goal = vec![-0.2, 0.6, -0.4];
    // Closed form: solve the 2x2 system (H B^T B + lam I) a = B^T (g - z0).
    let r: Vec<f32> = goal.iter().zip(&z0).map(|(g, z)| g - z).collect();
    let btb = |i: usize, j: usize| (0..D).map(|k| b[k * A + i] * b[k * A + j]).sum::<f32>();
    let btr = |i: usize| (0..D).map(|k| b[k * A + i] * r[k]).sum::<f32>();
    let m = [
        [H as f32 * btb(0, 0) + LAM, H as f32 * btb(0, 1)],
        [H as f32 * btb(1, 0), H as f32 * btb(1, 1) + LAM],
    ];
    let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    let a0 = (m[1][1] * btr(0) - m[0][1] * btr(1)) / det;
    let a1 = (m[0][0] * btr(1) - m[1][0] * btr(0)) / det;
    assert!(
        a0.abs() < 1.0 && a1.abs() < 1.0,
        "optimum must be inside the bounds: {a0} {a1}"
    );
    let optimum: Vec<f32> = (0..H).flat_map(|_| [a0, a1]).collect();
    let mut energy = Energy::terminal_l2(goal, A);
    energy.magnitude_weight = LAM;
    let model = Arc::new(LinearModel { b, d: D, a: A });
    let mut rollout = CpuRollout::new_differentiable(model, H, 512, 2).expect("rollout");
    let mut e = [0.0f32];
    rollout
        .evaluate(&z0, &energy, &optimum, &mut e)
        .expect("eval");
    Lq {
        rollout,
        energy,
        z0,
        optimum,
        e_star: e[0],
    }
}

fn dims() -> Dims {
    Dims {
        horizon: H,
        action_dim: A,
        latent_dim: D,
    }
}

fn check<O: Optimizer<CpuRollout<LinearModel>>>(
    name: &str,
    mut opt: O,
    energy_tol: f32,
    action_tol: f32,
) {
    let mut p = lq();
    let warm = vec![0.0; H * A];
    let mut plan = vec![0.0; H * A];
    let mut stats = SolveStats::with_capacity(opt.max_iterations());
    let problem = Problem {
        z0: &p.z0,
        energy: &p.energy,
        warm_start: &warm,
        deadline: None,
    };
    opt.plan(&mut p.rollout, &problem, &mut plan, &mut stats)
        .expect("plan");
    let mut e = [0.0f32];
    p.rollout
        .evaluate(&p.z0, &p.energy, &plan, &mut e)
        .expect("eval");
    let gap = e[0] - p.e_star;
    // The energy is flat along directions that keep sum_t a_t fixed, so compare the mean action.
    let mean_err = (0..A)
        .map(|j| ((0..H).map(|t| plan[t * A + j]).sum::<f32>() / H as f32 - p.optimum[j]).abs())
        .fold(0.0, f32::max);
    eprintln!(
        "{name}: E = {} vs E* = {} (gap {gap:.2e}), mean action error {mean_err:.3}",
        e[0], p.e_star
    );
    assert!(gap >= -1e-4, "{name}: below the closed-form optimum?");
    assert!(gap <= energy_tol, "{name}: energy gap {gap} > {energy_tol}");
    assert!(
        mean_err <= action_tol,
        "{name}: mean action error {mean_err} > {action_tol}"
    );
}

#[test]
fn cem_reaches_lq_optimum() {
    let cfg = CemConfig {
        iterations: 12,
        min_std: 0.01,
        ..CemConfig::default()
    };
    check("cem", Cem::new(cfg, dims()).expect("cem"), 5e-3, 0.03);
}

#[test]
fn icem_reaches_lq_optimum() {
    let cfg = IcemConfig {
        iterations: 12,
        min_std: 0.01,
        ..IcemConfig::default()
    };
    check("icem", Icem::new(cfg, dims()).expect("icem"), 5e-3, 0.03);
}

#[test]
fn mppi_reaches_lq_optimum() {
    let cfg = MppiConfig {
        iterations: 30,
        temperature: 0.0005,
        noise_std: 0.1,
        ..MppiConfig::default()
    };
    // MPPI averages with a fixed noise level, so it settles a little above the optimum.
    check("mppi", Mppi::new(cfg, dims()).expect("mppi"), 1e-2, 0.03);
}

#[test]
fn gradient_reaches_lq_optimum() {
    let cfg = GradientConfig {
        steps: 200,
        learning_rate: 0.02,
        ..GradientConfig::default()
    };
    check(
        "grad",
        Gradient::new(cfg, dims()).expect("grad"),
        1e-4,
        0.01,
    );
}

#[test]
fn hybrid_reaches_lq_optimum() {
    let mut cfg = HybridConfig::default();
    cfg.refine.steps = 100;
    check(
        "hybrid",
        Hybrid::new(cfg, dims()).expect("hybrid"),
        1e-3,
        0.02,
    );
}

/// CEM with `keep_warm_start` evaluates the warm start in every round: started from the optimum
/// itself, a tiny population that returns its best sample gives the optimum back; without the
/// flag its random samples all miss it.
#[test]
fn cem_keeps_a_warm_start_that_is_still_the_best() {
    let run = |keep: bool| {
        let mut p = lq();
        let cfg = CemConfig {
            num_samples: 4,
            num_elites: 1,
            iterations: 2,
            return_best_sample: true,
            keep_warm_start: keep,
            ..CemConfig::default()
        };
        let mut opt = Cem::new(cfg, dims()).expect("cem");
        let mut plan = vec![0.0; H * A];
        let mut stats = SolveStats::with_capacity(2);
        let problem = Problem {
            z0: &p.z0,
            energy: &p.energy,
            warm_start: &p.optimum,
            deadline: None,
        };
        opt.plan(&mut p.rollout, &problem, &mut plan, &mut stats)
            .expect("plan");
        (plan == p.optimum, stats.best_energy - p.e_star)
    };
    let (kept_same, kept_gap) = run(true);
    assert!(
        kept_same,
        "the kept warm start is the optimum; gap {kept_gap}"
    );
    let (lost_same, lost_gap) = run(false);
    assert!(
        !lost_same && lost_gap > 1e-3,
        "without the flag the optimum should be lost to sampling (gap {lost_gap})"
    );
}
