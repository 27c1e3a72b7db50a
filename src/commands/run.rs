//! `ebmpc run`: closed-loop planning episodes with a learned world model.

use std::path::PathBuf;

use anyhow::{Result, bail};
use planner::OptimizerKind;
use sim::{Env, ObsMode, TaskKind};

use crate::episodes::Episodes;
use crate::setup::{self, ModelSpec, RunConfig};

/// Run closed-loop planning episodes: encode, plan in latent space, act, re-plan.
#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Task: reach, push or pick_place.
    #[arg(long)]
    pub task: String,
    /// Model file from `ebmpc train` (its observation layout must match --obs and the scene), or
    /// several separated by commas: an ensemble, planned through with the members' squared goal
    /// distances averaged (CPU backend only);
    /// `oracle`: the simulator itself as the model and the task's own cost as the energy
    /// (sampling optimizers only, with fewer samples); or `expert`: the scripted expert.
    #[arg(long)]
    pub model: String,
    /// Optimizer: cem, icem, mppi, grad or hybrid, with its default settings unless the
    /// config has an [optimizer] table [default: cem].
    #[arg(long)]
    pub planner: Option<String>,
    /// Episodes; episode i uses seed SEED + i.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub episodes: u64,
    /// Seed of the first episode. The default keeps clear of training seeds (collect uses 0..).
    #[arg(long, default_value_t = 100_000)]
    pub seed: u64,
    /// Observation mode: state or depth (must be the model's).
    #[arg(long, default_value = "state")]
    pub obs: String,
    /// TOML with optional [scene], [task] (as configs/sim/), [planner] (horizon, threads,
    /// weights, deadline_ms) and [optimizer] (kind and its settings) tables; unknown keys are
    /// errors.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Rollout backend for learned models: cpu, cuda, or auto (CUDA when a driver and device
    /// are present, else the CPU with one line saying why).
    #[arg(long, default_value = "cpu")]
    pub backend: kernels::Backend,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Folder for the report: summary.json, episodes.jsonl, replays/ and index.html.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Episodes recorded for the report's 3D replay (the first N).
    #[arg(long, default_value_t = 3)]
    pub replays: u64,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let task: TaskKind = args.task.parse()?;
    let mode: ObsMode = args.obs.parse()?;
    let cfg = match &args.config {
        None => RunConfig::default(),
        Some(p) => RunConfig::load(p)?,
    };
    let kind = match (&cfg.optimizer, args.planner.as_deref()) {
        (Some(o), Some(name)) if setup::kind_of(o) != OptimizerKind::from_name(name)? => bail!(
            "--planner {name} disagrees with the config's [optimizer] kind = \"{}\"",
            setup::kind_of(o).name()
        ),
        (Some(o), _) => setup::kind_of(o),
        (None, name) => OptimizerKind::from_name(name.unwrap_or("cem"))?,
    };
    let model = ModelSpec::parse(&args.model);
    let mut env = Env::new(cfg.sim(), task, mode)?;
    let mut controller = setup::build_loop(
        &model,
        task,
        mode,
        kind,
        cfg.optimizer.as_ref(),
        &cfg,
        args.backend,
    )?;
    let planner_name = if model == ModelSpec::Expert {
        "expert"
    } else {
        kind.name()
    };
    let out = Episodes {
        task: task.name(),
        model: model.name(),
        planner: planner_name,
        seed: args.seed,
        episodes: args.episodes,
        replays: args.replays,
        samples_per_step: setup::effective_optimizer(&model, kind, cfg.optimizer.as_ref())
            .as_ref()
            .map(crate::suite::samples_per_step),
        privileged_goals: setup::privileged_goals(&model, &cfg),
    }
    .run(controller.as_mut(), &mut env, args.report.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string(&out.summary)?);
    } else {
        println!("{}", out.summary.line());
        if let Some(dir) = &args.report {
            println!("report: {}", dir.join("index.html").display());
        }
    }
    Ok(())
}
