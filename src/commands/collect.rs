//! `ebmpc collect`: record episodes of a scripted policy into a safetensors dataset.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use sim::dataset::{Dataset, DatasetMeta, FORMAT, FORMAT_VERSION};
use sim::{ACTION_DIM, ObsLayout};

use super::common::EpisodeArgs;
use crate::progress;

/// Collect episodes into a dataset file (format: docs/dataset.md).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub episodes: EpisodeArgs,
    /// Output file (.safetensors); written atomically.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let spec = args.episodes.spec(true)?;
    let layout = ObsLayout::new(spec.obs, &spec.cfg.scene);
    let pb = progress::bar(spec.episodes as u64, "episodes");
    let t0 = Instant::now();
    let recs = sim::collect::run_episodes(&spec, &|_| pb.inc(1))?;
    pb.finish_and_clear();
    let meta = DatasetMeta {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        task: spec.task.name().into(),
        policy: spec.policy.name().into(),
        obs_dim: layout.dim(),
        obs_layout: layout,
        action_dim: ACTION_DIM,
        control_period_s: spec.cfg.scene.control_period(),
        physics_hz: spec.cfg.scene.physics_hz,
        seed: spec.seed,
        episodes: 0,
        transitions: 0,
        scene: spec.cfg.scene.clone(),
        task_params: spec.cfg.task.clone(),
        settle_steps: Some(spec.settle_steps),
    };
    let data = Dataset::from_episodes(meta, &recs);
    data.save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let wall = t0.elapsed().as_secs_f64();
    let successes = data.success.iter().filter(|&&s| s).count();
    eprintln!(
        "wrote {}: {} episodes ({} succeeded), {} transitions, {:.0} transitions/s on {} threads",
        args.out.display(),
        data.meta.episodes,
        successes,
        data.meta.transitions,
        data.meta.transitions as f64 / wall,
        spec.threads
    );
    Ok(())
}
