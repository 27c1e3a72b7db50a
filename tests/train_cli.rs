//! `ebmpc train` and `ebmpc eval-model` end to end on a tiny dataset: a killed-and-resumed run
//! writes the same model as an uninterrupted one, and eval-model reports what it promises.

mod common;
use common::*;

const TINY: &str = "[model]\nlatent_dim = 8\nencoder_hidden = [32]\npredictor_hidden = [32]\n\
[train]\nepochs = 2\nsteps_per_epoch = 5\nbatch_size = 16\nrollout_steps = 4\nwarmup_steps = 2\n";

#[test]
fn resumed_training_writes_the_same_model_and_eval_reports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d.safetensors");
    let cfg = dir.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    ok(ebmpc(&[
        "collect",
        "--task",
        "pick_place",
        "--policy",
        "noisy",
        "--episodes",
        "12",
        "--seed",
        "0",
        "--out",
        s(&data),
    ]));

    let straight = dir.path().join("a.safetensors");
    ok(ebmpc(&[
        "train",
        "--data",
        s(&data),
        "--config",
        s(&cfg),
        "--out",
        s(&straight),
    ]));

    let resumed = dir.path().join("b.safetensors");
    let first = ok(ebmpc(&[
        "train",
        "--data",
        s(&data),
        "--config",
        s(&cfg),
        "--out",
        s(&resumed),
        "--stop-after",
        "1",
    ]));
    assert!(!resumed.exists(), "model written before training finished");
    assert!(String::from_utf8_lossy(&first.stderr).contains("--resume"));
    ok(ebmpc(&[
        "train",
        "--data",
        s(&data),
        "--config",
        s(&cfg),
        "--out",
        s(&resumed),
        "--resume",
    ]));
    let (a, b) = (
        std::fs::read(&straight).unwrap(),
        std::fs::read(&resumed).unwrap(),
    );
    // The metadata names the output-independent data path, so the files must match byte for byte.
    assert_eq!(a, b, "resumed model differs from the uninterrupted one");

    // One JSON line per epoch, across the interruption.
    let log = std::fs::read_to_string(dir.path().join("b.safetensors.log.jsonl")).unwrap();
    let epochs: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(epochs, vec![1, 2]);

    let out = ok(ebmpc(&[
        "eval-model",
        "--model",
        s(&straight),
        "--data",
        s(&data),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ks: Vec<u64> = v["k_step_ratio"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_u64().unwrap())
        .collect();
    assert_eq!(ks, vec![1, 4, 8, 16]);
    let probes: Vec<&str> = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(probes, vec!["palm_pos", "cube_pos"]);
    assert_eq!(v["latent_std"].as_array().unwrap().len(), 8);
    let rank = v["effective_rank"].as_f64().unwrap();
    assert!(
        (1.0..=8.0).contains(&rank),
        "effective rank {rank} outside 1..=latent_dim"
    );

    // A depth dataset does not fit a state model: refused, and the message says why.
    let depth = dir.path().join("depth.safetensors");
    ok(ebmpc(&[
        "collect",
        "--task",
        "pick_place",
        "--episodes",
        "2",
        "--obs",
        "depth",
        "--out",
        s(&depth),
    ]));
    let out = ebmpc(&["eval-model", "--model", s(&straight), "--data", s(&depth)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("observation layout"), "{err}");
    // Training on several files needs one observation layout.
    let out = ebmpc(&[
        "train",
        "--data",
        s(&data),
        s(&depth),
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("different observation layouts"), "{err}");
    // Two files of one layout train together; the model records both sources.
    let more = dir.path().join("more.safetensors");
    ok(ebmpc(&[
        "collect",
        "--task",
        "reach",
        "--policy",
        "noisy",
        "--episodes",
        "8",
        "--seed",
        "50",
        "--out",
        s(&more),
    ]));
    let two = dir.path().join("two.safetensors");
    ok(ebmpc(&[
        "train",
        "--data",
        s(&data),
        s(&more),
        "--config",
        s(&cfg),
        "--out",
        s(&two),
    ]));
    let bytes = std::fs::read(&two).unwrap();
    let meta = world_model::train::modelfile::load_model(&bytes, None)
        .unwrap()
        .meta;
    assert_eq!(meta.source["datasets"].as_array().unwrap().len(), 2);
}

#[test]
fn a_conv_stem_model_trains_on_depth_data_and_plans() {
    let dir = tempfile::tempdir().unwrap();
    let depth = dir.path().join("depth.safetensors");
    collect_noisy("reach", "6", "depth", &depth);
    // conv_image is left out: training takes the dataset's 32x32.
    let cfg = dir.path().join("conv.toml");
    std::fs::write(
        &cfg,
        TINY.replace("[model]\n", "[model]\nconv_channels = [4, 4]\n"),
    )
    .unwrap();
    let model = dir.path().join("conv.safetensors");
    ok(ebmpc(&[
        "train",
        "--data",
        s(&depth),
        "--config",
        s(&cfg),
        "--out",
        s(&model),
    ]));
    let meta = world_model::train::modelfile::load_model(&std::fs::read(&model).unwrap(), None)
        .unwrap()
        .meta;
    let conv = meta.conv.expect("the model has a conv stem");
    assert_eq!((conv.image, conv.channels), ([32, 32], vec![4, 4]));
    // 32x32 -> 16x16 -> 8x8 x 4 channels, plus the 7 proprioceptive floats.
    assert_eq!(meta.encoder.input_dim, 8 * 8 * 4 + 7);
    // Training ends by fitting the heads; fitting them again replaces them.
    let heads: Vec<(&str, usize)> = meta
        .heads
        .iter()
        .map(|h| (h.name.as_str(), h.dim))
        .collect();
    assert_eq!(heads, vec![("palm_pos", 3), ("cube_pos", 3)]);
    let refit = dir.path().join("refit.safetensors");
    let out = ok(ebmpc(&[
        "fit-head",
        "--model",
        s(&model),
        "--data",
        s(&depth),
        "--out",
        s(&refit),
    ]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("R^2"));
    let refit =
        world_model::train::modelfile::load_model(&std::fs::read(&refit).unwrap(), None).unwrap();
    assert_eq!(refit.meta.heads.len(), 2);
    assert!(refit.model.head("palm_pos").is_some() && refit.model.head("cube_pos").is_some());
    // The run below plans with the palm term.
    let run_cfg = dir.path().join("run.toml");
    std::fs::write(
        &run_cfg,
        "[task]\nreach_budget = 3\n[planner]\npalm_weight = 1e4\n",
    )
    .unwrap();
    let out = ok(ebmpc(&[
        "run",
        "--task",
        "reach",
        "--model",
        s(&model),
        "--obs",
        "depth",
        "--planner",
        "grad",
        "--episodes",
        "1",
        "--config",
        s(&run_cfg),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["episodes"], 1);
    assert!(v["plan_ms_p50"].as_f64().unwrap() > 0.0);
    // A model without the head cannot plan with the palm term: the error says how to add one.
    let out = ebmpc(&[
        "run",
        "--task",
        "reach",
        "--model",
        "models/tabletop_state.safetensors",
        "--planner",
        "grad",
        "--episodes",
        "1",
        "--config",
        s(&run_cfg),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("palm_pos") && err.contains("fit-head") && !err.contains("panicked"),
        "{err}"
    );

    // A stem needs an image: on state data the error says so.
    let state = dir.path().join("state.safetensors");
    collect_noisy("reach", "2", "state", &state);
    let out = ebmpc(&[
        "train",
        "--data",
        s(&state),
        "--config",
        s(&cfg),
        "--out",
        s(&dir.path().join("x")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--obs depth") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn bad_training_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = ebmpc(&[
        "train",
        "--data",
        "/nonexistent.safetensors",
        "--out",
        "/tmp/x",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent.safetensors") && !err.contains("panicked"),
        "{err}"
    );
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[train]\nlr = -1.0\n").unwrap();
    let out = ebmpc(&[
        "train",
        "--data",
        "x",
        "--config",
        s(&cfg),
        "--out",
        "/tmp/x",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("train.lr") && err.trim().lines().count() == 1,
        "{err}"
    );
}
