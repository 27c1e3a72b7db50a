//! `ebmpc fit-value` trains a model's goal value and `ebmpc run` plans with it
//! (`planner.value_weight`), labelling the result goal-only; without a value, or with a bad
//! config key, the error names the fix or the key.

mod common;
use common::*;

#[test]
fn a_fitted_goal_value_plans_goal_only_and_its_absence_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (data, model) = tiny_reach_model(dir.path());
    let run_cfg = dir.path().join("run.toml");
    std::fs::write(
        &run_cfg,
        "[task]\nreach_budget = 3\n[planner]\nhorizon = 4\nthreads = 2\nvalue_weight = 1.0\n",
    )
    .unwrap();
    let run = |m: &std::path::Path| {
        ebmpc(&[
            "run",
            "--task",
            "reach",
            "--model",
            s(m),
            "--episodes",
            "1",
            "--config",
            s(&run_cfg),
            "--json",
        ])
    };
    let out = run(&model);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fit-value"), "{err}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[value]\nsteps = 10\nexpectiel = 0.3\n").unwrap();
    let out = ebmpc(&[
        "fit-value",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--config",
        s(&bad),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expectiel"));
    std::fs::write(&bad, "[value]\nsteps = 10\nexpectile = 1.5\n").unwrap();
    let out = ebmpc(&[
        "fit-value",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--config",
        s(&bad),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("value.expectile"));

    let cfg = dir.path().join("value.toml");
    std::fs::write(
        &cfg,
        "[value]\nhidden = [16]\nsteps = 30\nbatch_size = 32\n",
    )
    .unwrap();
    let with_value = dir.path().join("mv.safetensors");
    let out = ok(ebmpc(&[
        "fit-value",
        "--model",
        s(&model),
        "--data",
        s(&data),
        "--config",
        s(&cfg),
        "--out",
        s(&with_value),
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["goal_mae_steps"].as_f64().unwrap().is_finite(),
        "{report}"
    );
    let out = ok(run(&with_value));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["privileged_goals"], false, "{v}");
    assert_eq!(v["episodes"], 1);

    // Planning through phase sub-goals is labelled privileged.
    std::fs::write(
        &run_cfg,
        "[task]\nreach_budget = 3\n[planner]\nhorizon = 4\nthreads = 2\nsubgoals = true\n",
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&ok(run(&model)).stdout).unwrap();
    assert_eq!(v["privileged_goals"], true, "{v}");
}
