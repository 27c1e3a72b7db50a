//! Whatever the energies (random, NaN, infinite, huge), the returned actions are finite and
//! inside the bounds; deadlines and fallbacks are reported in the status.

use planner::{
    AnyOptimizer, Dims, Energy, Mpc, MpcConfig, OptimizerKind, PlanError, Rollout, RolloutGrad,
    SolveStatus,
};
use proptest::prelude::*;

/// A rollout whose energies and gradients are scripted values, cycled.
struct Scripted {
    dims: Dims,
    values: Vec<f32>,
    next: usize,
    delay: std::time::Duration,
}

impl Scripted {
    fn take(&mut self) -> f32 {
        let v = self.values[self.next % self.values.len()];
        self.next += 1;
        v
    }
}

impl Rollout for Scripted {
    fn dims(&self) -> Dims {
        self.dims
    }
    fn capacity(&self) -> usize {
        4096
    }
    fn evaluate(
        &mut self,
        _z0: &[f32],
        _e: &Energy,
        _a: &[f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError> {
        std::thread::sleep(self.delay);
        for e in energies.iter_mut() {
            *e = self.take();
        }
        Ok(())
    }
}

impl RolloutGrad for Scripted {
    fn evaluate_grad(
        &mut self,
        z0: &[f32],
        e: &Energy,
        a: &[f32],
        energies: &mut [f32],
        grads: &mut [f32],
    ) -> Result<(), PlanError> {
        self.evaluate(z0, e, a, energies)?;
        for g in grads.iter_mut() {
            *g = self.take();
        }
        Ok(())
    }
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -1e3f32..1e3,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::MAX),
        1 => Just(-f32::MAX),
    ]
}

fn small_config(kind: OptimizerKind) -> planner::OptimizerConfig {
    use planner::OptimizerConfig as C;
    match kind.default_config() {
        C::Cem(c) => C::Cem(planner::CemConfig {
            num_samples: 16,
            num_elites: 4,
            ..c
        }),
        C::Icem(c) => C::Icem(planner::IcemConfig {
            num_samples: 16,
            num_elites: 4,
            ..c
        }),
        C::Mppi(c) => C::Mppi(planner::MppiConfig {
            num_samples: 16,
            ..c
        }),
        C::Gradient(c) => C::Gradient(planner::GradientConfig {
            num_starts: 4,
            steps: 3,
            ..c
        }),
        C::Hybrid(mut c) => {
            c.sampler.num_samples = 16;
            c.sampler.num_elites = 4;
            c.refine.num_starts = 3;
            c.refine.steps = 3;
            C::Hybrid(c)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_and_non_finite_energies_never_give_bad_actions(
        values in proptest::collection::vec(value(), 1..40),
        lo in -2.0f32..0.0,
        width in 0.0f32..3.0,
        kind_index in 0usize..5,
    ) {
        let dims = Dims { horizon: 5, action_dim: 2, latent_dim: 3 };
        let kind = OptimizerKind::ALL[kind_index];
        let rollout = Scripted { dims, values, next: 0, delay: std::time::Duration::ZERO };
        let opt = AnyOptimizer::new(small_config(kind), dims).expect("optimizer");
        let mut mpc = Mpc::new(rollout, opt, MpcConfig::default()).expect("mpc");
        let mut energy = Energy::terminal_l2(vec![0.0; 3], 2);
        energy.lower = vec![lo, lo + 0.5 * width];
        energy.upper = vec![lo + width, lo + width];
        for _ in 0..3 {
            let plan = mpc.solve(&[0.1, 0.2, 0.3], &energy).expect("solve").to_vec();
            for (i, v) in plan.iter().enumerate() {
                let j = i % 2;
                prop_assert!(v.is_finite(), "{}: non-finite action {v}", kind.name());
                prop_assert!(*v >= energy.lower[j] && *v <= energy.upper[j], "{}: {v} outside bounds", kind.name());
            }
        }
    }
}

#[test]
fn all_invalid_samples_fall_back_to_hold_then_shifted_plan() {
    let dims = Dims {
        horizon: 4,
        action_dim: 2,
        latent_dim: 3,
    };
    let rollout = Scripted {
        dims,
        values: vec![f32::NAN],
        next: 0,
        delay: std::time::Duration::ZERO,
    };
    let opt = AnyOptimizer::new(small_config(OptimizerKind::Cem), dims).expect("optimizer");
    let cfg = MpcConfig {
        hold_action: vec![0.25, -0.5],
        ..MpcConfig::default()
    };
    let mut mpc = Mpc::new(rollout, opt, cfg).expect("mpc");
    let energy = Energy::terminal_l2(vec![0.0; 3], 2);
    let plan = mpc.solve(&[0.0; 3], &energy).expect("solve").to_vec();
    assert_eq!(mpc.stats().status, SolveStatus::FallbackHold);
    assert_eq!(plan, [0.25, -0.5].repeat(4));
    mpc.solve(&[0.0; 3], &energy).expect("solve");
    assert_eq!(mpc.stats().status, SolveStatus::FallbackShiftedPlan);
}

#[test]
fn non_finite_start_latent_falls_back() {
    let dims = Dims {
        horizon: 4,
        action_dim: 2,
        latent_dim: 3,
    };
    let rollout = Scripted {
        dims,
        values: vec![1.0],
        next: 0,
        delay: std::time::Duration::ZERO,
    };
    let opt = AnyOptimizer::new(small_config(OptimizerKind::Mppi), dims).expect("optimizer");
    let mut mpc = Mpc::new(rollout, opt, MpcConfig::default()).expect("mpc");
    let energy = Energy::terminal_l2(vec![0.0; 3], 2);
    let plan = mpc
        .solve(&[f32::NAN, 0.0, 0.0], &energy)
        .expect("solve")
        .to_vec();
    assert_eq!(mpc.stats().status, SolveStatus::FallbackHold);
    assert!(plan.iter().all(|v| *v == 0.0));
}

/// CEM (16 samples, `iterations` rounds) over a [`Scripted`] rollout cycling 3, 1, 2, each
/// evaluation sleeping `delay`, under an `Mpc` with `deadline_ms`; dims `(4, 2, 3)`.
fn deadline_mpc(
    delay: std::time::Duration,
    iterations: usize,
    deadline_ms: f64,
) -> Mpc<Scripted, AnyOptimizer> {
    let dims = Dims {
        horizon: 4,
        action_dim: 2,
        latent_dim: 3,
    };
    let rollout = Scripted {
        dims,
        values: vec![3.0, 1.0, 2.0],
        next: 0,
        delay,
    };
    let mut cfg = small_config(OptimizerKind::Cem);
    if let planner::OptimizerConfig::Cem(c) = &mut cfg {
        c.iterations = iterations;
    }
    let opt = AnyOptimizer::new(cfg, dims).expect("optimizer");
    Mpc::new(
        rollout,
        opt,
        MpcConfig {
            deadline_ms,
            ..MpcConfig::default()
        },
    )
    .expect("mpc")
}

#[test]
fn deadline_returns_best_so_far_in_time() {
    // Each evaluation takes 10 ms; 100 iterations would take 1 s.
    let mut mpc = deadline_mpc(std::time::Duration::from_millis(10), 100, 50.0);
    let energy = Energy::terminal_l2(vec![0.0; 3], 2);
    let plan = mpc.solve(&[0.0; 3], &energy).expect("solve").to_vec();
    let stats = mpc.stats();
    assert_eq!(stats.status, SolveStatus::Deadline);
    assert!(
        stats.iterations >= 1 && stats.iterations < 100,
        "{} iterations",
        stats.iterations
    );
    assert!(
        stats.elapsed < std::time::Duration::from_millis(80),
        "{:?}",
        stats.elapsed
    );
    assert_eq!(stats.best_energy, 1.0);
    assert!(plan.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
}

#[test]
fn a_step_whose_budget_is_spent_before_planning_falls_back_without_evaluating() {
    let iterations = planner::CemConfig::default().iterations;
    let mut mpc = deadline_mpc(std::time::Duration::ZERO, iterations, 20.0);
    let energy = Energy::terminal_l2(vec![0.0; 3], 2);
    let now = std::time::Instant::now();
    // In time: the step began 5 ms ago, so the optimizer plans as usual.
    let first = mpc
        .solve_since(
            now - std::time::Duration::from_millis(5),
            &[0.0; 3],
            &energy,
        )
        .expect("solve")
        .to_vec();
    assert_eq!(mpc.stats().status, SolveStatus::Completed);
    let evaluated = mpc.rollout_mut().next;
    assert!(evaluated > 0);
    // The step began 30 ms ago (a 20 ms deadline): no evaluation, the shifted plan comes back.
    let late = std::time::Instant::now() - std::time::Duration::from_millis(30);
    let second = mpc
        .solve_since(late, &[0.0; 3], &energy)
        .expect("solve")
        .to_vec();
    assert_eq!(mpc.stats().status, SolveStatus::FallbackShiftedPlan);
    assert_eq!(
        mpc.rollout_mut().next,
        evaluated,
        "no evaluation after the deadline"
    );
    assert_eq!(&second[..6], &first[2..]);
    assert_eq!(&second[6..], &first[6..]);
}
