//! The learned goal value: trained on a toy world whose true cost-to-go is known, it learns to
//! count steps; it survives the model file, and storing another replaces it.

use approx::assert_relative_eq;
use world_model::train::data::Sequences;
use world_model::train::modelfile::{load_model, with_value};
use world_model::train::value_fit::{ValueData, ValueFitConfig, fit_value};
use world_model::{Activation, Linear, Mlp, MlpSpec, MlpWorldModel};

/// A world of one coordinate: the latent is the observation `[x, g]` (no encoder) and the
/// predictor leaves it unchanged. Episode `e` walks `x` from its start to its goal one unit of
/// 0.1 per step, then stays `settle` steps.
fn toy(episodes: usize, settle: usize) -> (MlpWorldModel, Sequences, Vec<f32>, Vec<bool>) {
    let (d, a) = (2, 1);
    let spec = MlpSpec {
        input_dim: d + a,
        hidden: vec![],
        output_dim: d,
        activation: Activation::Identity,
        layer_norm: false,
    };
    let zero = Linear::new(vec![0.0; d * (d + a)], vec![0.0; d], d + a, d).expect("layer");
    let model = MlpWorldModel::new(None, Mlp::new(spec, vec![zero], vec![]).expect("mlp"), d, a)
        .expect("model");
    let (mut obs, mut actions, mut lengths, mut goals) = (vec![], vec![], vec![], vec![]);
    for e in 0..episodes {
        let start = (e * 7 % 11) as i32 - 5;
        let goal = (e * 5 % 13) as i32 - 6;
        let dir = (goal - start).signum();
        let mut x = start;
        let mut len = 0;
        obs.extend([x as f32 * 0.1, goal as f32 * 0.1]);
        while x != goal || len < (goal - start).unsigned_abs() as usize + settle {
            x += if x == goal { 0 } else { dir };
            obs.extend([x as f32 * 0.1, goal as f32 * 0.1]);
            actions.push(dir as f32);
            len += 1;
        }
        lengths.push(len);
        goals.extend([goal as f32 * 0.1, goal as f32 * 0.1]);
    }
    let seqs = Sequences::new(d, a, obs, actions, vec![], 0, &lengths).expect("sequences");
    (model, seqs, goals, vec![true; episodes])
}

#[test]
fn a_value_trained_on_a_walk_counts_the_steps_left() {
    let (model, seqs, goals, success) = toy(60, 2);
    let settle = vec![2; 60];
    let data = ValueData {
        seqs: &seqs,
        goals: &goals,
        success: &success,
        settle: &settle,
    };
    let cfg = ValueFitConfig {
        hidden: vec![32, 32],
        steps: 1500,
        batch_size: 128,
        lr: 3e-3,
        expectile: 0.5,
        negative_fraction: 0.0,
        predicted_fraction: 0.0,
        ..ValueFitConfig::default()
    };
    let fit: Vec<usize> = (0..50).collect();
    let held: Vec<usize> = (50..60).collect();
    let (value, report) = fit_value(&model, &data, &fit, &held, &cfg, |_| {}).expect("fit");
    assert!(
        report.goal_mae_steps < 1.0 && report.monotone_fraction > 0.9,
        "{report:?}"
    );
    // From x = -0.3 to g = 0.4: 7 steps.
    let mut v = [0.0f32];
    value.eval(&[-0.3, 0.4], &[0.4, 0.4], &mut v).expect("eval");
    assert!((v[0] - 7.0).abs() < 1.5, "V = {}", v[0]);
}

#[test]
fn a_goal_value_survives_the_model_file_and_is_replaced_when_stored_again() {
    let (model, seqs, goals, success) = toy(12, 0);
    let settle = vec![0; 12];
    let data = ValueData {
        seqs: &seqs,
        goals: &goals,
        success: &success,
        settle: &settle,
    };
    let cfg = ValueFitConfig {
        hidden: vec![8],
        steps: 20,
        batch_size: 16,
        predicted_fraction: 0.0,
        ..ValueFitConfig::default()
    };
    let all: Vec<usize> = (0..12).collect();
    let (value, _) = fit_value(&model, &data, &all, &all, &cfg, |_| {}).expect("fit");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tabletop_state.safetensors");
    let bytes = std::fs::read(&path).expect("the shipped model");
    let base = load_model(&bytes, None).expect("loads");
    let d = base.meta.latent_dim;
    // A value for the wrong latent width is refused; one of the right width is stored.
    let err = with_value(&bytes, &value, "toy").unwrap_err().to_string();
    assert!(err.contains(&format!("latent has {d}")), "{err}");
    let spec = MlpSpec {
        input_dim: 2 * d,
        hidden: vec![4],
        output_dim: 1,
        activation: Activation::Tanh,
        layer_norm: true,
    };
    let linears = spec
        .layer_dims()
        .into_iter()
        .map(|(i, o)| {
            Linear::new(
                (0..i * o).map(|k| (k % 7) as f32 * 0.01).collect(),
                vec![0.1; o],
                i,
                o,
            )
            .expect("layer")
        })
        .collect();
    let norms = vec![world_model::LayerNormParams {
        gamma: vec![1.0; 4],
        beta: vec![0.0; 4],
    }];
    let v = world_model::GoalValue::new(Mlp::new(spec, linears, norms).expect("mlp"), d, 3.0)
        .expect("value");
    let stored = with_value(&bytes, &v, "made by a test").expect("stored");
    let loaded = load_model(&stored, None).expect("loads with its value");
    let back = loaded.model.value().expect("has a value");
    let meta = loaded.meta.value.as_ref().expect("metadata");
    assert_eq!(meta.fitted, "made by a test");
    let z: Vec<f32> = (0..d).map(|i| i as f32 * 0.01).collect();
    let (mut a, mut b) = ([0.0f32], [0.0f32]);
    v.eval(&z, &z, &mut a).expect("eval");
    back.eval(&z, &z, &mut b).expect("eval");
    assert_relative_eq!(a[0], b[0]);
    // Storing again replaces the value rather than adding a second one.
    let twice = with_value(&stored, &v, "again").expect("stored twice");
    let names = |b: &[u8]| {
        safetensors::SafeTensors::deserialize(b)
            .expect("file")
            .len()
    };
    assert_eq!(names(&twice), names(&stored));
    let again = load_model(&twice, None).expect("loads");
    assert_eq!(again.meta.value.expect("metadata").fitted, "again");
}
