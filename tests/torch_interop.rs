//! A model written by PyTorch (`python/make_fixture.py`, the architecture of
//! `python/ebmpc_model.py`) loads through ebmpc's model-file loader and gives PyTorch's outputs.

use std::path::Path;

use world_model::WorldModel;
use world_model::train::modelfile::load_model;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn matrix(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect()
}

#[test]
fn pytorch_fixture_loads_and_matches_pytorch_outputs() {
    let bytes = std::fs::read(fixture("torch_model.safetensors")).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("torch_model_expected.json")).unwrap(),
    )
    .unwrap();
    // The fixture declares the simulator's state layout; loading checks it against the real one.
    let layout = serde_json::to_value(sim::ObsLayout::new(
        sim::ObsMode::State,
        &sim::SceneConfig::default(),
    ))
    .unwrap();
    let loaded = load_model(&bytes, Some(&layout)).unwrap();
    let m = &loaded.model;
    let (obs, acts) = (matrix(&expected["obs"]), matrix(&expected["actions"]));
    let rows = obs.len() / 20;
    let d = m.dims().latent_dim;
    let mut ws = m.workspace(rows);
    let mut z = vec![0.0; rows * d];
    m.encode(&obs, &mut z, &mut ws).unwrap();
    let mut z_next = vec![0.0; rows * d];
    m.step(&z, &acts, &mut z_next, &mut ws).unwrap();
    for (name, got, want) in [
        ("z", &z, matrix(&expected["z"])),
        ("z_next", &z_next, matrix(&expected["z_next"])),
    ] {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() < 1e-4 * (1.0 + w.abs()),
                "{name}[{i}]: {g} vs torch {w}"
            );
        }
    }
    // The same file under another layout is refused.
    let depth = serde_json::to_value(sim::ObsLayout::new(
        sim::ObsMode::Depth,
        &sim::SceneConfig::default(),
    ))
    .unwrap();
    assert!(load_model(&bytes, Some(&depth)).is_err());
}
