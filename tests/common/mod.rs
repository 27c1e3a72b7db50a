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
