//! W1: evaluating the reference plans reproduces the float64 reference energies.

use world_model::w1::{W1_ACTION_DIM, W1_ACTION_WEIGHT, W1_HORIZON, W1_LATENT_DIM, W1_NUM_REFS};
use world_model::{W1Workload, WorldModel};

fn w1_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/workload/w1.safetensors")
}

#[test]
fn w1_ref_actions_reproduce_ref_energy() {
    let path = w1_path();
    if !path.exists() {
        eprintln!("skipping: {} not found", path.display());
        return;
    }
    let w = W1Workload::open(&path).expect("W1 loads");
    let (d, a, h, n) = (W1_LATENT_DIM, W1_ACTION_DIM, W1_HORIZON, W1_NUM_REFS);
    let mut ws = w.model.workspace(n);
    // All 8 plans as one batch, one horizon step at a time.
    let mut z: Vec<f32> = (0..n).flat_map(|_| w.z0.iter().copied()).collect();
    let mut z_next = vec![0.0f32; n * d];
    let mut act = vec![0.0f32; n * a];
    for t in 0..h {
        for k in 0..n {
            let src = &w.ref_actions[(k * h + t) * a..(k * h + t + 1) * a];
            for (dst, &v) in act[k * a..(k + 1) * a].iter_mut().zip(src) {
                *dst = v.clamp(-1.0, 1.0);
            }
        }
        w.model.step(&z, &act, &mut z_next, &mut ws).expect("step");
        std::mem::swap(&mut z, &mut z_next);
    }
    for k in 0..n {
        let dist: f64 = (0..d)
            .map(|i| (z[k * d + i] as f64 - w.zg[i] as f64).powi(2))
            .sum();
        let mag: f64 = w.ref_actions[k * h * a..(k + 1) * h * a]
            .iter()
            .map(|&v| (v.clamp(-1.0, 1.0) as f64).powi(2))
            .sum();
        let e = dist + W1_ACTION_WEIGHT as f64 * mag;
        let rel = (e - w.ref_energy[k]).abs() / w.ref_energy[k].abs();
        assert!(
            rel <= 1e-5,
            "plan {k}: energy {e} vs reference {} (relative {rel:e})",
            w.ref_energy[k]
        );
        for i in 0..d {
            let zr = w.ref_z_h[k * d + i];
            assert!(
                (z[k * d + i] as f64 - zr).abs() <= 1e-4 * (1.0 + zr.abs()),
                "plan {k} z_H[{i}]"
            );
        }
    }
}
