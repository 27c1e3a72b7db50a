//! `ebmpc pipeline`: collect, train and evaluate in one command; how the shipped model is made.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use sim::{ObsMode, PolicyKind, TaskKind};

use super::common::EpisodeArgs;
use super::{collect, eval_model, train};

/// Collect noisy-expert data, train a world model on it and evaluate it (the shipped model's
/// recipe). Steps whose output already exists are reused unless --force.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Task whose noisy-expert episodes make the data: reach, push or pick_place.
    #[arg(long, default_value = "pick_place")]
    pub task: String,
    /// Episodes to collect (seeds SEED ..).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub episodes: u64,
    /// First seed of the data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Observation mode: state or depth.
    #[arg(long, default_value = "state")]
    pub obs: String,
    /// Training config.
    #[arg(long, default_value = "configs/train/state.toml")]
    pub config: PathBuf,
    /// Model file to write; the data goes to `data/<file stem>.data.safetensors` and the
    /// evaluation to `<out without extension>.eval.json`.
    #[arg(long, default_value = "models/pick_place_state.safetensors")]
    pub out: PathBuf,
    /// Redo every step even where its output exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let task: TaskKind = args.task.parse()?;
    let obs: ObsMode = args.obs.parse()?;
    let stem = args
        .out
        .file_stem()
        .context("--out needs a file name")?
        .to_string_lossy()
        .into_owned();
    let data = PathBuf::from("data").join(format!("{stem}.data.safetensors"));
    let t0 = Instant::now();
    if args.force || !data.exists() {
        std::fs::create_dir_all("data").context("creating data/")?;
        eprintln!(
            "[1/3] collecting {} noisy-expert {} episodes -> {}",
            args.episodes,
            task.name(),
            data.display()
        );
        collect::run(&collect::Args {
            episodes: EpisodeArgs {
                task,
                policy: PolicyKind::Noisy,
                episodes: args.episodes,
                seed: args.seed,
                obs,
                config: None,
                threads: None,
            },
            out: data.clone(),
        })?;
    } else {
        eprintln!("[1/3] reusing {}", data.display());
    }
    let t1 = Instant::now();
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if args.force || !args.out.exists() {
        eprintln!(
            "[2/3] training {} -> {}",
            args.config.display(),
            args.out.display()
        );
        train::run(&train::Args {
            data: vec![data.clone()],
            config: Some(args.config.clone()),
            out: args.out.clone(),
            resume: !args.force,
            epochs: None,
            stop_after: None,
        })?;
    } else {
        eprintln!("[2/3] reusing {}", args.out.display());
    }
    let t2 = Instant::now();
    eprintln!("[3/3] evaluating on the held-out episodes");
    let eval_path = args.out.with_extension("eval.json");
    let report = eval_model::evaluate_file(&args.out, &data, None)?;
    sim::dataset::write_atomic(
        &eval_path,
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    println!("{}", serde_json::to_string(&report)?);
    eprintln!(
        "pipeline done in {:.0} s (collect {:.0} s, train {:.0} s, evaluate {:.0} s): model {}, \
         evaluation {}",
        t0.elapsed().as_secs_f64(),
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        t2.elapsed().as_secs_f64(),
        args.out.display(),
        eval_path.display()
    );
    Ok(())
}
