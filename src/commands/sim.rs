//! `ebmpc sim`: run scripted-policy episodes and report success rate, episode length and speed.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::common::EpisodeArgs;
use crate::progress;

/// Run episodes of a scripted policy in the simulator.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub episodes: EpisodeArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The summary printed by `ebmpc sim`.
#[derive(Serialize, Debug)]
pub struct SimSummary {
    /// Task name.
    pub task: String,
    /// Policy name.
    pub policy: String,
    /// Observation mode.
    pub obs: String,
    /// Episodes run.
    pub episodes: usize,
    /// Successful episodes.
    pub successes: usize,
    /// successes / episodes.
    pub success_rate: f64,
    /// Mean control steps per episode.
    pub steps_mean: f64,
    /// Physics steps per second of wall time, over all threads.
    pub steps_per_s: f64,
    /// Control steps (transitions) per second of wall time.
    pub transitions_per_s: f64,
    /// Worker threads.
    pub threads: usize,
    /// Wall time in seconds.
    pub wall_s: f64,
    /// Seeds of the failed episodes (at most 20).
    pub failed_seeds: Vec<u64>,
}

/// Runs the command.
pub fn run(args: &Args) -> Result<()> {
    let spec = args.episodes.spec(false)?;
    let pb = progress::bar(spec.episodes as u64, "episodes");
    let t0 = Instant::now();
    let recs = sim::collect::run_episodes(&spec, &|_| pb.inc(1))?;
    let wall = t0.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let successes = recs.iter().filter(|r| r.success).count();
    let steps: usize = recs.iter().map(|r| r.steps).sum();
    let physics: usize = recs.iter().map(|r| r.physics_steps).sum();
    let n = recs.len().max(1) as f64;
    let s = SimSummary {
        task: spec.task.name().into(),
        policy: spec.policy.name().into(),
        obs: spec.obs.name().into(),
        episodes: recs.len(),
        successes,
        success_rate: successes as f64 / n,
        steps_mean: steps as f64 / n,
        steps_per_s: physics as f64 / wall,
        transitions_per_s: steps as f64 / wall,
        threads: spec.threads,
        wall_s: wall,
        failed_seeds: recs
            .iter()
            .filter(|r| !r.success)
            .map(|r| r.seed)
            .take(20)
            .collect(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "{} / {} ({} obs): {}/{} succeeded ({:.1}%), {:.1} steps per episode",
            s.task,
            s.policy,
            s.obs,
            s.successes,
            s.episodes,
            100.0 * s.success_rate,
            s.steps_mean
        );
        println!(
            "speed: {:.0} physics steps/s, {:.0} transitions/s on {} threads ({:.2} s)",
            s.steps_per_s, s.transitions_per_s, s.threads, s.wall_s
        );
        if !s.failed_seeds.is_empty() {
            println!("failed seeds: {:?}", s.failed_seeds);
        }
    }
    Ok(())
}
