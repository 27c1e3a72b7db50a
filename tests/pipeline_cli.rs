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
    pipeline_with(dir, episodes, &[])
}

/// [`pipeline`] with more arguments.
fn pipeline_with(dir: &std::path::Path, episodes: &str, extra: &[&str]) -> std::process::Output {
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
        .args(extra)
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

#[test]
fn pipeline_refuses_a_model_or_data_made_with_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    ok(pipeline(dir.path(), "6"));
    let model = dir.path().join("models/m.safetensors");
    let before = std::fs::read(&model).unwrap();

    // Another training config: the data is reused, the old model is not.
    std::fs::write(
        dir.path().join("tiny.toml"),
        TINY.replace("steps_per_epoch = 3", "steps_per_epoch = 4"),
    )
    .unwrap();
    let changed = pipeline(dir.path(), "6");
    assert!(!changed.status.success());
    let err = String::from_utf8_lossy(&changed.stderr);
    assert!(
        err.contains("not trained with tiny.toml and seed") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&model).unwrap(), before, "the model changed");

    // Other settle steps: the data is refused.
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let settle = pipeline_with(dir.path(), "6", &["--settle-steps", "3"]);
    assert!(!settle.status.success());
    let err = String::from_utf8_lossy(&settle.stderr);
    assert!(
        err.contains("settle steps 10") && err.contains("asks for 3"),
        "{err}"
    );
}

#[test]
fn pipeline_trains_ensemble_members_that_run_plans_together() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let out = ok(pipeline_with(dir.path(), "6", &["--members", "2"]));
    let (m0, m1) = (
        dir.path().join("models/m.safetensors"),
        dir.path().join("models/m.m1.safetensors"),
    );
    assert!(dir.path().join("models/m.m1.eval.json").exists());
    // Different training seeds make different members.
    assert_ne!(std::fs::read(&m0).unwrap(), std::fs::read(&m1).unwrap());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--model models/m.safetensors,models/m.m1.safetensors"),
        "{err}"
    );
    let run = ok(Command::new(env!("CARGO_BIN_EXE_ebmpc"))
        .current_dir(dir.path())
        .args([
            "run",
            "--task",
            "reach",
            "--model",
            "models/m.safetensors,models/m.m1.safetensors",
            "--planner",
            "grad",
            "--episodes",
            "1",
            "--json",
        ])
        .output()
        .expect("run ebmpc"));
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(summary["episodes"], 1);
    assert!(summary["steps_mean"].as_f64().unwrap() >= 1.0, "{summary}");
    assert_eq!(
        summary["model"],
        "models/m.safetensors,models/m.m1.safetensors"
    );
}
