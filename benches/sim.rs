//! Criterion benches of the test bed: one pick-and-place control step (24 physics steps at the
//! defaults), depth rendering at 32x32 and 64x64, and a sub-goal demonstration from an episode's
//! start (`sim::demo::keyframes`, frames every 4 steps, depth observations): what a closed-loop
//! restart costs when it runs whole in one control step.
//!
//! `cargo bench --bench sim`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sim::{Env, ObsMode, PolicyKind, PolicyView, SimConfig, TaskKind};

fn control_step(c: &mut Criterion) {
    let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
    let mut policy = PolicyKind::Expert.build(TaskKind::PickPlace);
    let mut seed = 0;
    env.reset(seed);
    policy.reset(seed);
    c.bench_function("pick_place_control_step_state", |b| {
        b.iter(|| {
            let view = PolicyView::of(&env).unwrap();
            let a = policy.act(&view);
            let out = env.step(&a).unwrap();
            if out.terminated || out.truncated {
                seed += 1;
                env.reset(seed);
                policy.reset(seed);
            }
            black_box(out.obs)
        })
    });
}

fn depth_render(c: &mut Criterion) {
    for size in [32usize, 64] {
        let mut cfg = SimConfig::default();
        cfg.scene.depth_width = size;
        cfg.scene.depth_height = size;
        let mut env = Env::new(cfg, TaskKind::PickPlace, ObsMode::Depth).unwrap();
        env.reset(1);
        c.bench_function(&format!("depth_render_{size}x{size}"), |b| {
            b.iter(|| black_box(env.observation()))
        });
    }
}

fn demo_keyframes(c: &mut Criterion) {
    for task in [TaskKind::PickPlace, TaskKind::Push] {
        let mut env = Env::new(SimConfig::default(), task, ObsMode::Depth).unwrap();
        env.reset(300000);
        c.bench_function(&format!("demo_keyframes_{}_depth", task.name()), |b| {
            b.iter(|| black_box(sim::demo::keyframes(&env, 4).unwrap()))
        });
    }
}

criterion_group!(benches, control_step, depth_render, demo_keyframes);
criterion_main!(benches);
