//! Running many episodes on several threads with results in episode order, so that the output
//! is identical whatever the thread count.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::SimConfig;
use crate::env::Env;
use crate::error::Result;
use crate::obs::ObsMode;
use crate::policy::PolicyKind;
use crate::rollout::{EpisodeRecord, run_episode};
use crate::task::TaskKind;

/// What to run: episode `i` uses seed `seed + i`.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Simulator configuration.
    pub cfg: SimConfig,
    /// Task.
    pub task: TaskKind,
    /// Policy.
    pub policy: PolicyKind,
    /// Observation mode.
    pub obs: ObsMode,
    /// Number of episodes.
    pub episodes: usize,
    /// Seed of episode 0.
    pub seed: u64,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Keep observations and actions.
    pub record: bool,
    /// Steps the policy keeps acting (and being recorded) after the task succeeds, so that data
    /// covers the solved scene and the gripper leaving it, which goal observations show.
    pub settle_steps: usize,
}

/// Runs the episodes of `spec` on `spec.threads` threads; calls `on_done` after each episode
/// (from any thread). Results come back in episode order.
pub fn run_episodes(
    spec: &RunSpec,
    on_done: &(dyn Fn(&EpisodeRecord) + Sync),
) -> Result<Vec<EpisodeRecord>> {
    // Validate once up front so that every worker's Env::new succeeds.
    Env::new(spec.cfg.clone(), spec.task, spec.obs)?;
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Result<EpisodeRecord>>>> =
        Mutex::new((0..spec.episodes).map(|_| None).collect());
    let threads = spec.threads.clamp(1, spec.episodes.max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let Ok(mut env) = Env::new(spec.cfg.clone(), spec.task, spec.obs) else {
                    return;
                };
                let mut policy = spec.policy.build(spec.task);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= spec.episodes {
                        break;
                    }
                    let seed = spec.seed.wrapping_add(i as u64);
                    let res = run_episode(
                        &mut env,
                        policy.as_mut(),
                        seed,
                        spec.record,
                        spec.settle_steps,
                    );
                    if let Ok(rec) = &res {
                        on_done(rec);
                    }
                    if let Ok(mut s) = slots.lock() {
                        s[i] = Some(res);
                    }
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_else(|p| p.into_inner());
    slots
        .into_iter()
        .map(|s| s.unwrap_or(Err(crate::error::SimError::NotReset)))
        .collect()
}
