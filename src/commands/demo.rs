//! `ebmpc demo`: pick-and-place by planning in the latent space of the shipped model.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use sim::{Env, ObsMode, TaskKind};

use crate::episodes::Episodes;
use crate::setup::{self, ModelSpec, RunConfig};

/// The shipped model.
pub const SHIPPED_MODEL: &str = "models/tabletop_state.safetensors";
/// The shipped closed-loop configuration.
pub const SHIPPED_CONFIG: &str = "configs/run/pick_place.toml";

/// Run pick-and-place episodes with the shipped model and configuration; print the success rate
/// and planning latency, and write a report (open its index.html in a browser).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file, or several separated by commas (an ensemble; see `ebmpc run --help`).
    #[arg(long, default_value = SHIPPED_MODEL)]
    pub model: String,
    /// Closed-loop configuration (see `ebmpc run --help`).
    #[arg(long, default_value = SHIPPED_CONFIG)]
    pub config: PathBuf,
    /// Episodes.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub episodes: u64,
    /// First seed (disjoint from the training data's 0..1000).
    #[arg(long, default_value_t = 500_000)]
    pub seed: u64,
    /// Report folder.
    #[arg(long, default_value = "reports/demo")]
    pub out: PathBuf,
    /// Rollout backend for learned models: cpu, cuda, or auto (CUDA when a driver and device
    /// are present, else the CPU with one line saying why).
    #[arg(long, default_value = "cpu")]
    pub backend: kernels::Backend,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    for file in args.model.split(',') {
        if !Path::new(file.trim()).exists() {
            bail!(
                "model {} not found: run from the repository root, or make it with `ebmpc pipeline`",
                file.trim()
            );
        }
    }
    let cfg = if Path::new(&args.config).exists() {
        RunConfig::load(&args.config)?
    } else {
        bail!("config {} not found", args.config.display());
    };
    let task = TaskKind::PickPlace;
    let kind = cfg
        .optimizer
        .as_ref()
        .map_or(planner::OptimizerKind::Cem, setup::kind_of);
    let model = ModelSpec::File(args.model.clone());
    let mut env = Env::new(cfg.sim(), task, ObsMode::State)?;
    let mut controller = setup::build_loop(
        &model,
        task,
        ObsMode::State,
        kind,
        cfg.optimizer.as_ref(),
        &cfg,
        args.backend,
    )?;
    let out = Episodes {
        task: task.name(),
        model: model.name(),
        planner: kind.name(),
        seed: args.seed,
        episodes: args.episodes,
        replays: args.episodes.min(5),
        samples_per_step: Some(crate::suite::samples_per_step(
            cfg.optimizer.as_ref().unwrap_or(&kind.default_config()),
        )),
        privileged_goals: setup::privileged_goals(&model, &cfg),
    }
    .run(controller.as_mut(), &mut env, Some(&args.out))?;
    if args.json {
        println!("{}", serde_json::to_string(&out.summary)?);
    } else {
        println!("{}", out.summary.line());
        println!("report: {}", args.out.join("index.html").display());
    }
    Ok(())
}
