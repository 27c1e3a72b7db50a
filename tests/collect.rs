//! `ebmpc collect` writes a dataset that reads back as documented in docs/dataset.md, identical
//! whatever the thread count, and never leaves a partial file behind.

use std::path::Path;
use std::process::Command;

use safetensors::SafeTensors;
use sim::dataset::{Dataset, DatasetMeta};

fn collect(out: &Path, threads: &str, obs: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_ebmpc"))
        .args([
            "collect",
            "--task",
            "pick_place",
            "--policy",
            "noisy",
            "--episodes",
            "5",
            "--seed",
            "0",
            "--obs",
            obs,
            "--threads",
            threads,
            "--out",
        ])
        .arg(out)
        .output()
        .expect("run ebmpc collect");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Rows `| name | dtype | shape |` of the tensor table in docs/dataset.md.
fn documented_tensors() -> Vec<(String, String, String)> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/dataset.md"))
            .unwrap();
    let section = text.split("## Tensors").nth(1).unwrap();
    section
        .lines()
        .skip_while(|l| !l.starts_with("| tensor"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let c: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (
                c[0].trim_matches('`').to_string(),
                c[1].to_string(),
                c[2].to_string(),
            )
        })
        .collect()
}

#[test]
fn collected_file_reads_back_and_matches_the_format_doc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/pp.safetensors");
    collect(&path, "2", "state");
    let d = Dataset::load(&path).unwrap();
    // The header alone gives the same metadata.
    assert_eq!(DatasetMeta::read(&path).unwrap(), d.meta);
    let (e, t) = (d.meta.episodes, d.meta.transitions);
    assert_eq!(e, 5);
    assert_eq!(d.meta.task, "pick_place");
    assert_eq!(d.meta.policy, "noisy");
    assert_eq!(d.meta.obs_dim, 20);
    assert_eq!(d.episode_seeds, vec![0, 1, 2, 3, 4]);
    assert_eq!(d.observations.len(), (e + t) * 20);
    assert!(d.actions.iter().all(|a| (-1.0..=1.0).contains(a)));
    // Consecutive observations inside an episode are linked by the palm motion: the palm moves
    // by at most max_step_m per axis per step.
    let r = d.obs_rows(2);
    for row in r.start..r.end - 1 {
        for k in 0..3 {
            let dp = (d.observations[(row + 1) * 20 + k] - d.observations[row * 20 + k]).abs();
            assert!(dp <= 0.02 + 1e-5, "palm jumped {dp} m");
        }
    }

    // Every tensor in the file is in the doc's table with the same dtype and shape, and vice versa.
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let doc = documented_tensors();
    assert_eq!(doc.len(), st.names().len());
    let dims = |s: &str| -> String {
        s.replace("E + T", &(e + t).to_string())
            .replace('E', &e.to_string())
            .replace('T', &t.to_string())
            .replace('D', "20")
            .replace('A', "4")
            .replace('S', "20")
    };
    for (name, dtype, shape) in doc {
        let v = st
            .tensor(&name)
            .unwrap_or_else(|_| panic!("doc names missing tensor {name}"));
        assert_eq!(format!("{:?}", v.dtype()), dtype, "{name}");
        assert_eq!(format!("{:?}", v.shape()), dims(&shape), "{name}");
    }

    // No temporary file is left next to it.
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
}

#[test]
fn collected_file_is_byte_identical_for_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
    );
    collect(&a, "1", "depth");
    collect(&b, "2", "depth");
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let d = Dataset::load(&a).unwrap();
    assert_eq!(d.meta.obs_dim, 32 * 32 + 7);
}

#[test]
fn malformed_dataset_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.safetensors");
    collect(&path, "2", "state");
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let err = Dataset::load(&cut).unwrap_err().to_string();
    assert!(err.contains("cut.safetensors"), "{err}");
    assert!(Dataset::load(&dir.path().join("missing.safetensors")).is_err());
    // A header cut short, and a file that is no dataset, are errors for the header reader too.
    let head = dir.path().join("head.safetensors");
    std::fs::write(&head, &bytes[..40]).unwrap();
    let err = DatasetMeta::read(&head).unwrap_err().to_string();
    assert!(
        err.contains("head.safetensors") && err.contains("header"),
        "{err}"
    );
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/torch_model.safetensors");
    let err = DatasetMeta::read(&model).unwrap_err().to_string();
    assert!(err.contains("not an ebmpc dataset"), "{err}");
}
