//! `ebmpc pipeline` on a tiny setting: it collects, trains and evaluates; a second run reuses
//! what exists, and a run asking for different data refuses the stale file instead of training
//! on it.

mod common;
use common::*;
use std::process::Command;

const TINY: &str = "[model]\nlatent_dim = 8\nencoder_hidden = [32]\npredictor_hidden = [32]\n\
[train]\nepochs = 1\nsteps_per_epoch = 3\nbatch_size = 8\nrollout_steps = 2\nwarmup_steps = 1\n";

/// Runs the pipeline in `dir` (it writes `data/` and `models/` relative to the working folder).
fn pipeline(dir: &std::path::Path, episodes: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ebmpc"))
        .current_dir(dir)
        .args([
            "pipeline",
            "--tasks",
            "reach",
            "--episodes",
            episodes,
            "--config",
            "tiny.toml",
            "--out",
            "models/m.safetensors",
        ])
        .output()
        .expect("run ebmpc")
}

#[test]
fn pipeline_reuses_matching_data_and_refuses_stale_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let data = dir.path().join("data/m.reach.safetensors");

    ok(pipeline(dir.path(), "6"));
    assert!(data.exists() && dir.path().join("models/m.safetensors").exists());
    let eval = std::fs::read_to_string(dir.path().join("models/m.eval.json")).unwrap();
    assert!(eval.contains("\"reach\""), "{eval}");

    let again = ok(pipeline(dir.path(), "6"));
    assert!(String::from_utf8_lossy(&again.stderr).contains("reusing"));

    let before = std::fs::read(&data).unwrap();
    let stale = pipeline(dir.path(), "7");
    assert!(!stale.status.success());
    let err = String::from_utf8_lossy(&stale.stderr);
    assert!(
        err.contains("6 noisy reach episodes") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&data).unwrap(),
        before,
        "the data file changed"
    );
}
