//! Arguments and helpers shared by the simulator commands.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sim::{ObsMode, PolicyKind, SimConfig, TaskKind};

/// Options that pick a task, a policy and the episodes to run.
#[derive(clap::Args, Debug, Clone)]
#[command(allow_negative_numbers = true)]
pub struct EpisodeArgs {
    /// Task: reach, push or pick_place.
    #[arg(long, value_parser = parse_task)]
    pub task: TaskKind,
    /// Scripted policy: expert, noisy (expert with random actions mixed in) or random (smooth
    /// random motion).
    #[arg(long, default_value = "expert", value_parser = parse_policy)]
    pub policy: PolicyKind,
    /// Number of episodes; episode i uses seed SEED + i.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub episodes: u64,
    /// Seed of the first episode.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Observation mode: state or depth.
    #[arg(long, default_value = "state", value_parser = parse_obs)]
    pub obs: ObsMode,
    /// TOML file with `[scene]` and `[task]` parameters (see configs/sim/); unknown keys are errors.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Worker threads; default: all cores.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Steps the policy keeps acting, recorded, after the task succeeds (within the step
    /// budget): data of the solved scene and the gripper leaving it, as goal observations show.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub settle_steps: u64,
}

fn parse_task(s: &str) -> Result<TaskKind, String> {
    s.parse().map_err(|e: sim::SimError| e.to_string())
}

fn parse_policy(s: &str) -> Result<PolicyKind, String> {
    s.parse().map_err(|e: sim::SimError| e.to_string())
}

fn parse_obs(s: &str) -> Result<ObsMode, String> {
    s.parse().map_err(|e: sim::SimError| e.to_string())
}

impl EpisodeArgs {
    /// The simulator configuration: the `--config` file, or the defaults.
    pub fn sim_config(&self) -> Result<SimConfig> {
        match &self.config {
            Some(p) => SimConfig::from_file(p).with_context(|| "reading --config".to_string()),
            None => Ok(SimConfig::default()),
        }
    }

    /// Worker threads to use.
    pub fn thread_count(&self) -> usize {
        self.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            |t| t as usize,
        )
    }

    /// The run specification.
    pub fn spec(&self, record: bool) -> Result<sim::collect::RunSpec> {
        Ok(sim::collect::RunSpec {
            cfg: self.sim_config()?,
            task: self.task,
            policy: self.policy,
            obs: self.obs,
            episodes: self.episodes as usize,
            seed: self.seed,
            threads: self.thread_count(),
            record,
            settle_steps: self.settle_steps as usize,
        })
    }
}
