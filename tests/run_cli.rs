//! `ebmpc run` closes the loop with a (tiny) learned model: it encodes, plans, acts, and writes
//! the report files it promises.

mod common;
use common::*;

#[test]
fn short_closed_loop_episodes_with_a_tiny_model_write_their_report() {
    let dir = tempfile::tempdir().unwrap();
    let (_, model) = tiny_reach_model(dir.path());

    let run_cfg = dir.path().join("run.toml");
    std::fs::write(
        &run_cfg,
        "[task]\nreach_budget = 3\n[planner]\nhorizon = 4\nthreads = 2\n",
    )
    .unwrap();
    let report = dir.path().join("report");
    let out = ok(ebmpc(&[
        "run",
        "--task",
        "reach",
        "--model",
        s(&model),
        "--planner",
        "cem",
        "--episodes",
        "2",
        "--config",
        s(&run_cfg),
        "--json",
        "--report",
        s(&report),
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "task",
        "model",
        "planner",
        "episodes",
        "successes",
        "success_rate",
        "plan_ms_p50",
        "plan_ms_p99",
        "steps_mean",
    ] {
        assert!(!v[key].is_null(), "summary lacks {key}: {v}");
    }
    assert_eq!(v["episodes"], 2);
    assert_eq!(
        v["steps_mean"], 3.0,
        "reach_budget = 3 ends each episode after 3 steps or earlier"
    );
    assert!(v["plan_ms_p99"].as_f64().unwrap() >= v["plan_ms_p50"].as_f64().unwrap());

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(report.join("episodes.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["seed"], 100_000);
    assert_eq!(lines[1]["seed"], 100_001);
    for l in &lines {
        let steps = l["steps"].as_u64().unwrap() as usize;
        assert_eq!(l["plan_ms"].as_array().unwrap().len(), steps);
        assert!(
            l["energy"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e.as_f64().unwrap().is_finite())
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["episodes"], 2);
    // Both episodes are recorded for the replay (the default records the first 3).
    for seed in [100_000, 100_001] {
        let p = report.join(format!("replays/seed_{seed}.json"));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(r["format"], "ebmpc_replay");
        let steps = r["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4, "3 control steps and the final state");
        assert_eq!(
            steps[0]["planned_palm"].as_array().unwrap().len(),
            4,
            "horizon 4"
        );
    }
    for plot in ["success", "latency", "energy", "budget"] {
        let svg = std::fs::read_to_string(report.join(format!("plots/{plot}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{plot}.svg");
    }
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("ebmpc_replay"));
    assert!(
        std::fs::read_to_string(report.join("summary.md"))
            .unwrap()
            .contains("| reach |")
    );

    // A model of another observation mode is refused with a one-line reason.
    let out = ebmpc(&[
        "run",
        "--task",
        "reach",
        "--model",
        s(&model),
        "--obs",
        "depth",
        "--episodes",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("observation layout"));
}

#[test]
fn oracle_planner_reaches_with_the_simulator_as_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("oracle.toml");
    std::fs::write(&cfg, "[planner]\nhorizon = 4\n").unwrap();
    let out = ok(ebmpc(&[
        "run",
        "--task",
        "reach",
        "--model",
        "oracle",
        "--planner",
        "cem",
        "--episodes",
        "1",
        "--config",
        s(&cfg),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "oracle");
    assert_eq!(v["successes"], 1, "{v}");
    // Gradients do not flow through the simulator: a clear error, not a panic.
    let out = ebmpc(&[
        "run",
        "--task",
        "reach",
        "--model",
        "oracle",
        "--planner",
        "grad",
        "--episodes",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("differentiable"));
}

#[test]
fn planner_keys_are_checked_and_errors_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("run.toml");
    let run = |body: &str| {
        std::fs::write(
            &cfg,
            format!("[task]\nreach_budget = 2\n[planner]\n{body}\n"),
        )
        .unwrap();
        ebmpc(&[
            "run",
            "--task",
            "reach",
            "--model",
            "expert",
            "--episodes",
            "1",
            "--config",
            s(&cfg),
            "--json",
        ])
    };
    // A bad value fails with an error holding every one of `needles`.
    let fails_with = |body: &str, needles: &[&str]| {
        let out = run(body);
        assert!(!out.status.success(), "{body} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{body}: {err}");
        }
    };
    ok(run(
        "subgoal_ratio_by_task = { push = 0.4, pick_place = 0.5 }",
    ));
    fails_with(
        "subgoal_ratio_by_task = { pusher = 0.4 }",
        &["subgoal_ratio_by_task", "pusher"],
    );
    fails_with(
        "subgoal_ratio_by_task = { push = 1.5 }",
        &["subgoal_ratio_by_task.push` = 1.5 is out of range"],
    );
    ok(run("grip_weight_by_task = { pick_place = 1.0 }"));
    fails_with(
        "grip_weight_by_task = { pick = 1.0 }",
        &["grip_weight_by_task", "`pick`"],
    );
    fails_with(
        "grip_weight_by_task = { push = -1.0 }",
        &["grip_weight_by_task.push` = -1 must be finite and >= 0"],
    );
    ok(run("subgoal_retry_lost = [\"pick_place\"]"));
    fails_with(
        "subgoal_retry_lost = [\"pick\"]",
        &["subgoal_retry_lost", "`pick`"],
    );
    ok(run("smoothness_weight = 0.02\ngrip_weight = 0.1"));
    fails_with("grip_weight = -0.5", &["planner.grip_weight` = -0.5"]);
    fails_with(
        "smoothness_weight = -1.0",
        &["planner.smoothness_weight` = -1 must be finite and >= 0"],
    );
}
