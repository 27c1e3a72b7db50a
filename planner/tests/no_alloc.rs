//! A counting global allocator shows zero allocations per plan call after warm-up.
//!
//! This file holds a single test so that no other test allocates concurrently.

mod common;

use planner::{AnyOptimizer, CpuRollout, Energy, Mpc, MpcConfig, OptimizerKind};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn plan_calls_allocate_nothing_after_warm_up() {
    let (d, a, h) = (16, 3, 8);
    let model = common::random_mlp(3, d, a, 64);
    let z0 = vec![0.1f32; d];
    let mut energy = Energy::terminal_l2(vec![0.5; d], a);
    energy.running_weight = 0.05;
    for kind in OptimizerKind::ALL {
        let cfg = kind.default_config();
        let dims = planner::Dims {
            horizon: h,
            action_dim: a,
            latent_dim: d,
        };
        let rollout =
            CpuRollout::new_differentiable(model.clone(), h, cfg.max_batch(), 2).expect("rollout");
        let opt = AnyOptimizer::new(cfg, dims).expect("optimizer");
        let mut mpc = Mpc::new(
            rollout,
            opt,
            MpcConfig {
                deadline_ms: 10_000.0,
                ..MpcConfig::default()
            },
        )
        .expect("mpc");
        for _ in 0..3 {
            mpc.solve(&z0, &energy).expect("warm-up");
        }
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for _ in 0..5 {
            mpc.solve(&z0, &energy).expect("solve");
        }
        let count = ALLOCATIONS.load(Ordering::SeqCst) - before;
        assert_eq!(
            count,
            0,
            "{}: {count} allocations in 5 plan calls",
            kind.name()
        );
    }
}
