//! The CUDA rollout against the CPU rollout: for every activation x LayerNorm x norm, with and
//! without the action terms (magnitude, smoothness, action target), `evaluate` and
//! `evaluate_grad` of [`CudaRollout`] match `planner::CpuRollout` (1e-4 relative energy, 1e-3
//! relative gradient), for batches that are not a multiple of the kernels' tile; a NaN weight
//! gives `+inf` and zero gradient rows on both.
//!
//! Needs a CUDA device: where none is usable it prints `skipped: ...` and passes.

use std::sync::Arc;

use kernels::{CudaRollout, CudaRolloutConfig};
use planner::{CpuRollout, Energy, Norm, Rollout, RolloutGrad};
use world_model::{Activation, LayerNormParams, Linear, Mlp, MlpSpec, MlpWorldModel};

const LATENT: usize = 6;
const ACTION: usize = 3;
const HORIZON: usize = 5;
const HIDDEN: usize = 16;

/// A deterministic stream of values in `[-scale, scale]`.
fn stream(seed: u64, scale: f32) -> impl FnMut() -> f32 {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
}

fn model(act: Activation, layer_norm: bool, seed: u64) -> MlpWorldModel {
    let spec = MlpSpec {
        input_dim: LATENT + ACTION,
        hidden: vec![HIDDEN, HIDDEN],
        output_dim: LATENT,
        activation: act,
        layer_norm,
    };
    let mut r = stream(seed, 0.4);
    let linears = spec
        .layer_dims()
        .into_iter()
        .map(|(i, o)| {
            let w = (0..i * o).map(|_| r()).collect();
            let b = (0..o).map(|_| r() * 0.25).collect();
            Linear::new(w, b, i, o).expect("linear")
        })
        .collect();
    let norms = if layer_norm {
        (0..spec.hidden.len())
            .map(|_| LayerNormParams {
                gamma: (0..HIDDEN).map(|_| 1.0 + r() * 0.5).collect(),
                beta: (0..HIDDEN).map(|_| r() * 0.25).collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let mlp = Mlp::new(spec, linears, norms).expect("mlp");
    MlpWorldModel::new(None, mlp, LATENT, ACTION).expect("model")
}

fn energy(norm: Norm, action_terms: bool) -> Energy {
    let mut r = stream(7, 1.0);
    let mut e = Energy::terminal_l2((0..LATENT).map(|_| r()).collect(), ACTION);
    e.norm = norm;
    e.running_weight = 0.1;
    if action_terms {
        e.magnitude_weight = 1e-2;
        e.smoothness_weight = 0.05;
        e.action_target = vec![0.0, 0.0, 1.0];
        e.target_weight = vec![0.0, 0.0, 0.7];
    }
    e
}

fn close(a: f32, b: f32, rel: f32, scale: f32) -> bool {
    (a - b).abs() <= rel * scale.max(a.abs()).max(b.abs()).max(1e-3)
}

struct Pair {
    cpu: CpuRollout<MlpWorldModel>,
    cuda: CudaRollout,
}

fn pair(m: MlpWorldModel, k: usize) -> Pair {
    let cuda = CudaRollout::new(
        &m,
        HORIZON,
        CudaRolloutConfig {
            capacity: k,
            grad_capacity: k,
            device: 0,
        },
    )
    .expect("CUDA rollout");
    let cpu = CpuRollout::new_differentiable(Arc::new(m), HORIZON, k, 2).expect("CPU rollout");
    Pair { cpu, cuda }
}

/// Compares energies and gradients of `k` random sequences; returns the largest relative gaps.
fn compare(p: &mut Pair, e: &Energy, k: usize, what: &str) -> (f32, f32) {
    let pl = HORIZON * ACTION;
    let mut r = stream(11, 1.0);
    let z0: Vec<f32> = (0..LATENT).map(|_| r()).collect();
    let actions: Vec<f32> = (0..k * pl).map(|_| r()).collect();
    let (mut ec, mut eg) = (vec![0.0; k], vec![0.0; k]);
    p.cpu.evaluate(&z0, e, &actions, &mut ec).expect("cpu");
    p.cuda.evaluate(&z0, e, &actions, &mut eg).expect("cuda");
    for (i, (a, b)) in ec.iter().zip(&eg).enumerate() {
        assert!(
            close(*a, *b, 1e-4, 0.0),
            "{what}: energy[{i}] cpu {a} cuda {b}"
        );
    }
    let (mut gc, mut gg) = (vec![0.0; k * pl], vec![0.0; k * pl]);
    let (mut ec2, mut eg2) = (vec![0.0; k], vec![0.0; k]);
    p.cpu
        .evaluate_grad(&z0, e, &actions, &mut ec2, &mut gc)
        .expect("cpu grad");
    p.cuda
        .evaluate_grad(&z0, e, &actions, &mut eg2, &mut gg)
        .expect("cuda grad");
    let mut worst = (0.0f32, 0.0f32);
    for (i, (a, b)) in ec2.iter().zip(&eg2).enumerate() {
        assert!(
            close(*a, *b, 1e-4, 0.0),
            "{what}: grad-pass energy[{i}] cpu {a} cuda {b}"
        );
        worst.0 = worst.0.max((a - b).abs() / a.abs().max(1e-3));
    }
    for s in 0..k {
        let (rc, rg) = (&gc[s * pl..(s + 1) * pl], &gg[s * pl..(s + 1) * pl]);
        let scale = rc.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (j, (a, b)) in rc.iter().zip(rg).enumerate() {
            assert!(
                close(*a, *b, 1e-3, scale),
                "{what}: grad[{s}][{j}] cpu {a} cuda {b}"
            );
            worst.1 = worst.1.max((a - b).abs() / scale.max(1e-3));
        }
    }
    worst
}

#[test]
fn cuda_energies_and_gradients_match_the_cpu() {
    if let Err(e) = kernels::cuda_available() {
        println!("skipped: no usable CUDA device ({e})");
        return;
    }
    let norms = [
        Norm::L1,
        Norm::SquaredL2,
        Norm::SmoothL1 { beta: 0.5 },
        Norm::Cosine,
    ];
    let acts = [
        Activation::Identity,
        Activation::Tanh,
        Activation::Relu,
        Activation::Gelu,
        Activation::Silu,
    ];
    let k = 13; // not a multiple of the kernels' tile
    let mut worst = (0.0f32, 0.0f32);
    for (a, &act) in acts.iter().enumerate() {
        for layer_norm in [false, true] {
            let mut p = pair(model(act, layer_norm, a as u64 + 1), k);
            for norm in norms {
                for action_terms in [false, true] {
                    let what = format!("{act:?} ln={layer_norm} {norm:?} action={action_terms}");
                    let w = compare(&mut p, &energy(norm, action_terms), k, &what);
                    worst = (worst.0.max(w.0), worst.1.max(w.1));
                }
            }
        }
    }
    println!(
        "largest relative gaps: energy {:.2e}, gradient {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn a_nan_weight_gives_inf_and_zero_gradients_on_both() {
    if let Err(e) = kernels::cuda_available() {
        println!("skipped: no usable CUDA device ({e})");
        return;
    }
    let spec = MlpSpec {
        input_dim: LATENT + ACTION,
        hidden: vec![HIDDEN],
        output_dim: LATENT,
        activation: Activation::Tanh,
        layer_norm: false,
    };
    let mut r = stream(3, 0.4);
    let linears = spec
        .layer_dims()
        .into_iter()
        .map(|(i, o)| {
            let mut w: Vec<f32> = (0..i * o).map(|_| r()).collect();
            w[0] = f32::NAN;
            Linear::new(w, vec![0.0; o], i, o).expect("linear")
        })
        .collect();
    let m = MlpWorldModel::new(
        None,
        Mlp::new(spec, linears, Vec::new()).expect("mlp"),
        LATENT,
        ACTION,
    )
    .expect("model");
    let k = 5;
    let mut p = pair(m, k);
    let e = energy(Norm::SquaredL2, true);
    let pl = HORIZON * ACTION;
    let z0 = vec![0.5; LATENT];
    let actions = vec![0.1; k * pl];
    for (name, rollout) in [
        ("cpu", &mut p.cpu as &mut dyn RolloutGrad),
        ("cuda", &mut p.cuda as &mut dyn RolloutGrad),
    ] {
        let mut en = vec![0.0; k];
        let mut g = vec![1.0; k * pl];
        rollout
            .evaluate_grad(&z0, &e, &actions, &mut en, &mut g)
            .expect(name);
        assert!(en.iter().all(|v| *v == f32::INFINITY), "{name}: {en:?}");
        assert!(g.iter().all(|v| *v == 0.0), "{name}: gradients not zeroed");
    }
}
