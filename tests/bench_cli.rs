//! `ebmpc bench` runs a suite, writes results, table, plots and page, and resumes without
//! repeating finished episodes.

mod common;
use common::*;

fn lines(p: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_suite_runs_writes_its_report_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run_cfg = dir.path().join("run.toml");
    std::fs::write(
        &run_cfg,
        "[task]\nreach_budget = 4\npush_budget = 3\n[planner]\nhorizon = 3\n",
    )
    .unwrap();
    let suite = dir.path().join("suite.toml");
    let write_suite = |episodes: u32| {
        std::fs::write(
            &suite,
            format!(
                "tasks = [\"reach\", \"push\"]\nepisodes = {episodes}\nseed = 7\nreplays = 1\n\
                 run_config = \"{}\"\n\
                 [[model]]\npath = \"expert\"\n\
                 [[model]]\npath = \"oracle\"\n\
                 [[planner]]\nname = \"cem-small\"\n\
                 optimizer = {{ kind = \"cem\", num_samples = 8, num_elites = 2, iterations = 1 }}\n\
                 [[planner]]\nname = \"grad\"\n",
                s(&run_cfg)
            ),
        )
        .unwrap();
    };
    write_suite(1);
    let out_dir = dir.path().join("out");
    let bench = || {
        ok(ebmpc(&[
            "bench",
            "--suite",
            s(&suite),
            "--out",
            s(&out_dir),
            "--json",
        ]))
    };
    let out = bench();
    let summaries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    // 2 tasks x (expert + oracle/cem-small); the oracle has no gradients, so no grad cells.
    assert_eq!(summaries.len(), 4, "{summaries:?}");
    let results = out_dir.join("results.jsonl");
    assert_eq!(lines(&results).len(), 4);
    for f in [
        "summary.md",
        "index.html",
        "plots/success.svg",
        "plots/latency.svg",
    ] {
        assert!(out_dir.join(f).exists(), "{f} missing");
    }
    assert!(
        std::fs::read_to_string(out_dir.join("summary.md"))
            .unwrap()
            .contains("cem-small")
    );

    // An interrupted write leaves half a line: it is dropped, and one more episode per cell
    // runs; the finished ones are not repeated.
    let mut text = std::fs::read_to_string(&results).unwrap();
    text.push_str("{\"cell\": \"reach|ex");
    std::fs::write(&results, text).unwrap();
    write_suite(2);
    let out = bench();
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 of 8 episodes already done"));
    let all = lines(&results);
    assert_eq!(all.len(), 8);
    let mut keys: Vec<(String, u64)> = all
        .iter()
        .map(|l| {
            (
                l["cell"].as_str().unwrap().to_string(),
                l["result"]["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 8, "no (cell, seed) twice");
    let summaries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summaries.iter().all(|v| v["episodes"] == 2));
    assert!(summaries.iter().any(|v| v["planner"] == "expert"));

    // A bad suite is a one-line error naming the key.
    std::fs::write(
        &suite,
        "tasks = [\"reach\"]\nepisodes = 1\nseed = 0\nbogus = 1\n",
    )
    .unwrap();
    let out = ebmpc(&["bench", "--suite", s(&suite), "--out", s(&out_dir)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
}
