//! The `ebmpc sim` command: JSON output, and one-line errors with a non-zero exit for bad input.

mod common;
use common::*;

use std::process::Output;

fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
}

#[test]
fn sim_json_reports_the_required_fields() {
    let out = ebmpc(&[
        "sim",
        "--task",
        "reach",
        "--policy",
        "expert",
        "--episodes",
        "4",
        "--seed",
        "1000",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["task"], "reach");
    assert_eq!(v["policy"], "expert");
    assert_eq!(v["episodes"], 4);
    assert_eq!(v["successes"], 4);
    assert_eq!(v["success_rate"], 1.0);
    assert!(v["steps_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["steps_mean"].as_f64().unwrap() >= 1.0);
}

#[test]
fn unknown_task_is_a_one_line_error() {
    let out = ebmpc(&["sim", "--task", "stack", "--episodes", "1"]);
    assert_one_line_error(&out, "unknown task `stack`");
}

#[test]
fn unknown_policy_is_a_one_line_error() {
    let out = ebmpc(&["sim", "--task", "push", "--policy", "greedy"]);
    assert_one_line_error(&out, "unknown policy `greedy`");
}

#[test]
fn bad_numbers_are_errors() {
    assert_one_line_error(
        &ebmpc(&["sim", "--task", "push", "--episodes", "-3"]),
        "--episodes",
    );
    assert_one_line_error(
        &ebmpc(&["sim", "--task", "push", "--episodes", "0"]),
        "--episodes",
    );
    assert_one_line_error(&ebmpc(&["sim", "--task", "push", "--seed", "x"]), "--seed");
    assert_one_line_error(
        &ebmpc(&["sim", "--task", "push", "--threads", "0"]),
        "--threads",
    );
}

#[test]
fn unreadable_and_invalid_config_files_are_errors() {
    let out = ebmpc(&["sim", "--task", "push", "--config", "/nonexistent/x.toml"]);
    assert_one_line_error(&out, "/nonexistent/x.toml");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[scene]\ncube_colour = 3\n").unwrap();
    let out = ebmpc(&["sim", "--task", "push", "--config", bad.to_str().unwrap()]);
    assert_one_line_error(&out, "cube_colour");

    std::fs::write(&bad, "[scene]\ncube_size = 0.5\n").unwrap();
    let out = ebmpc(&["sim", "--task", "push", "--config", bad.to_str().unwrap()]);
    assert_one_line_error(&out, "scene.cube_size");
}

#[test]
fn help_lists_the_subcommands() {
    let out = ebmpc(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["sim", "collect"] {
        assert!(text.contains(cmd), "--help lacks {cmd}: {text}");
    }
}
