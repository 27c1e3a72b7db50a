//! `ebmpc run`: closed-loop planning episodes with a learned world model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use planner::{OptimizerConfig, OptimizerKind};
use serde::{Deserialize, Serialize};
use sim::{Env, ObsLayout, ObsMode, SceneConfig, SimConfig, TaskKind, TaskParams};
use world_model::train::modelfile::load_model;

use crate::closed_loop::{
    ClosedLoop, EpisodeResult, LatentPlanner, LoopConfig, OraclePlanner, run_episode,
};
use crate::progress;

/// Run closed-loop planning episodes: encode, plan in latent space, act, re-plan.
#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct Args {
    /// Task: reach, push or pick_place.
    #[arg(long)]
    pub task: String,
    /// Model file from `ebmpc train` (its observation layout must match --obs and the scene), or
    /// `oracle`: the simulator itself as the model and the task's own cost as the energy
    /// (sampling optimizers only, with fewer samples: see `oracle_config`).
    #[arg(long)]
    pub model: String,
    /// Optimizer: cem, icem, mppi, grad or hybrid (their default settings).
    #[arg(long, default_value = "cem")]
    pub planner: String,
    /// Episodes; episode i uses seed SEED + i.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub episodes: u64,
    /// Seed of the first episode. The default keeps clear of training seeds (collect uses 0..).
    #[arg(long, default_value_t = 100_000)]
    pub seed: u64,
    /// Observation mode: state or depth (must be the model's).
    #[arg(long, default_value = "state")]
    pub obs: String,
    /// TOML with optional [scene], [task] (as configs/sim/) and [planner] (horizon, threads,
    /// weights, deadline_ms) tables; unknown keys are errors.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Folder for per-episode results (episodes.jsonl) and the summary (summary.json).
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The `--config` file of `ebmpc run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Scene parameters.
    pub scene: SceneConfig,
    /// Task parameters.
    pub task: TaskParams,
    /// Closed-loop planner parameters.
    pub planner: LoopConfig,
}

/// The summary printed by `ebmpc run`.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    /// Task name.
    pub task: String,
    /// Model file.
    pub model: String,
    /// Optimizer name.
    pub planner: String,
    /// Episodes run.
    pub episodes: usize,
    /// Successful episodes.
    pub successes: usize,
    /// successes / episodes.
    pub success_rate: f64,
    /// Median planning time per control step (ms).
    pub plan_ms_p50: f64,
    /// 99th percentile of the planning time per control step (ms).
    pub plan_ms_p99: f64,
    /// Mean control steps per episode.
    pub steps_mean: f64,
    /// Mean final task distance (m).
    pub final_distance_mean: f64,
    /// Control steps whose solve hit the deadline or fell back.
    pub degraded_steps: usize,
    /// Seed of the first episode.
    pub seed: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Optimizer settings for the oracle: every sample costs `horizon x 24` physics steps, so it
/// draws 64 samples (8 elites) for 3 iterations instead of 512 for 4.
fn oracle_config(kind: OptimizerKind) -> OptimizerConfig {
    let mut cfg = kind.default_config();
    match &mut cfg {
        OptimizerConfig::Cem(c) => {
            (c.num_samples, c.num_elites, c.iterations) = (64, 8, 3);
        }
        OptimizerConfig::Icem(c) => {
            (c.num_samples, c.num_elites, c.iterations) = (64, 8, 3);
        }
        OptimizerConfig::Mppi(c) => {
            (c.num_samples, c.iterations) = (64, 3);
        }
        _ => {}
    }
    cfg
}

fn check_loop(c: &LoopConfig) -> Result<()> {
    if !(1..=256).contains(&c.horizon) {
        bail!(
            "config key `planner.horizon` = {} is out of range: 1 ..= 256",
            c.horizon
        );
    }
    if !(1..=256).contains(&c.threads) {
        bail!(
            "config key `planner.threads` = {} is out of range: 1 ..= 256",
            c.threads
        );
    }
    for (k, v) in [
        ("planner.terminal_weight", c.terminal_weight),
        ("planner.running_weight", c.running_weight),
        ("planner.magnitude_weight", c.magnitude_weight),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("config key `{k}` = {v} must be finite and >= 0");
        }
    }
    Ok(())
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let task: TaskKind = args.task.parse()?;
    let mode: ObsMode = args.obs.parse()?;
    let kind = OptimizerKind::from_name(&args.planner)?;
    let cfg: RunConfig = match &args.config {
        None => RunConfig::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading --config {}", p.display()))?;
            toml::from_str(&text).map_err(|e| {
                anyhow::anyhow!("{}: {}", p.display(), e.to_string().replace('\n', " "))
            })?
        }
    };
    check_loop(&cfg.planner)?;
    let sim_cfg = SimConfig {
        scene: cfg.scene.clone(),
        task: cfg.task.clone(),
    };
    let mut env = Env::new(sim_cfg, task, mode)?;
    let mut planner: Box<dyn ClosedLoop> = if args.model == "oracle" {
        Box::new(OraclePlanner::new(
            env.config(),
            task,
            oracle_config(kind),
            &cfg.planner,
        )?)
    } else {
        let layout = serde_json::to_value(ObsLayout::new(mode, &cfg.scene))?;
        let bytes =
            std::fs::read(&args.model).with_context(|| format!("reading model {}", args.model))?;
        let loaded = load_model(&bytes, Some(&layout))
            .with_context(|| format!("loading model {}", args.model))?;
        Box::new(LatentPlanner::new(
            loaded.model,
            kind.default_config(),
            &cfg.planner,
        )?)
    };

    let mut report = match &args.report {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let p = dir.join("episodes.jsonl");
            Some(std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => None,
    };
    let pb = progress::bar(args.episodes, "episodes");
    let mut results: Vec<EpisodeResult> = Vec::new();
    for i in 0..args.episodes {
        let r = run_episode(planner.as_mut(), &mut env, args.seed.wrapping_add(i))?;
        if let Some(f) = report.as_mut() {
            writeln!(f, "{}", serde_json::to_string(&r)?)?;
        }
        results.push(r);
        let ok = results.iter().filter(|r| r.success).count();
        pb.set_message(format!("{ok}/{} ok", results.len()));
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut times: Vec<f64> = results
        .iter()
        .flat_map(|r| r.plan_ms.iter().copied())
        .collect();
    times.sort_by(f64::total_cmp);
    let n = results.len().max(1) as f64;
    let successes = results.iter().filter(|r| r.success).count();
    let summary = RunSummary {
        task: task.name().into(),
        model: args.model.clone(),
        planner: kind.name().into(),
        episodes: results.len(),
        successes,
        success_rate: successes as f64 / n,
        plan_ms_p50: percentile(&times, 0.5),
        plan_ms_p99: percentile(&times, 0.99),
        steps_mean: results.iter().map(|r| r.steps as f64).sum::<f64>() / n,
        final_distance_mean: results.iter().map(|r| r.final_distance as f64).sum::<f64>() / n,
        degraded_steps: results.iter().map(|r| r.degraded_steps).sum(),
        seed: args.seed,
    };
    if let Some(dir) = &args.report {
        sim::dataset::write_atomic(
            &dir.join("summary.json"),
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} with {} / {}: {}/{} succeeded ({:.1}%), {:.1} steps, final distance {:.3} m",
            summary.task,
            summary.model,
            summary.planner,
            summary.successes,
            summary.episodes,
            100.0 * summary.success_rate,
            summary.steps_mean,
            summary.final_distance_mean
        );
        println!(
            "planning per control step: p50 {:.2} ms, p99 {:.2} ms",
            summary.plan_ms_p50, summary.plan_ms_p99
        );
    }
    Ok(())
}
