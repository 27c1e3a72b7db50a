//! Helpers shared by the command-line integration tests.
#![allow(dead_code)] // each test file uses a subset

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `ebmpc` binary with `args` and returns its output.
pub fn ebmpc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebmpc"))
        .args(args)
        .output()
        .expect("run ebmpc")
}

/// Asserts that the command succeeded (showing its stderr if not) and returns its output.
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A path as `&str` for an argument list.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Collects `episodes` noisy-expert episodes of `task` (seeds 0..) in observation mode `obs`
/// into `out`, asserting success.
pub fn collect_noisy(task: &str, episodes: &str, obs: &str, out: &Path) {
    ok(ebmpc(&[
        "collect",
        "--task",
        task,
        "--policy",
        "noisy",
        "--episodes",
        episodes,
        "--obs",
        obs,
        "--out",
        s(out),
    ]));
}

/// Collects 6 noisy reach episodes into `dir/d.safetensors` and trains a tiny `state` model on
/// them (latent 8, one 16-wide hidden layer, 3 optimizer steps) into `dir/m.safetensors`;
/// returns `(data, model)`.
pub fn tiny_reach_model(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("d.safetensors");
    let train_cfg = dir.join("tiny.toml");
    std::fs::write(
        &train_cfg,
        "[model]\nlatent_dim = 8\nencoder_hidden = [16]\npredictor_hidden = [16]\n\
         [train]\nepochs = 1\nsteps_per_epoch = 3\nbatch_size = 8\nrollout_steps = 2\nwarmup_steps = 1\n",
    )
    .expect("write the training config");
    collect_noisy("reach", "6", "state", &data);
    let model = dir.join("m.safetensors");
    ok(ebmpc(&[
        "train",
        "--data",
        s(&data),
        "--config",
        s(&train_cfg),
        "--out",
        s(&model),
    ]));
    (data, model)
}
