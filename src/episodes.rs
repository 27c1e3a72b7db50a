//! [`Episodes`]: runs a batch of closed-loop episodes with one controller, shows progress, and
//! writes the report folder of `ebmpc run` and `ebmpc demo`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use sim::Env;

use crate::closed_loop::{ClosedLoop, EpisodeResult, run_episode};
use crate::progress;
use crate::replay::{REPLAY_FORMAT, REPLAY_VERSION, Replay, ReplayScene, ReplayStep};
use crate::reports::{self, Cell};
use crate::summary::RunSummary;

/// What to run: `episodes` episodes from seed `seed` (episode `i` uses `seed + i`).
#[derive(Debug, Clone)]
pub struct Episodes<'a> {
    /// Task name.
    pub task: &'a str,
    /// Model name (file, `oracle` or `expert`).
    pub model: &'a str,
    /// Planner name.
    pub planner: &'a str,
    /// First seed.
    pub seed: u64,
    /// Number of episodes.
    pub episodes: u64,
    /// The first this many episodes are recorded for the 3D replay.
    pub replays: u64,
    /// Rollout samples per control step, for the summary.
    pub samples_per_step: Option<usize>,
    /// The controller saw more than the goal observation (see
    /// [`RunSummary::privileged_goals`]).
    pub privileged_goals: bool,
}

/// What a batch produced.
#[derive(Debug)]
pub struct EpisodesOut {
    /// The summary.
    pub summary: RunSummary,
    /// Per-episode results, in seed order.
    pub results: Vec<EpisodeResult>,
    /// Recorded episodes.
    pub replays: Vec<Replay>,
}

/// A replay of one episode from its recorded steps.
pub fn make_replay(
    env: &Env,
    names: (&str, &str, &str),
    r: &EpisodeResult,
    steps: Vec<ReplayStep>,
) -> Replay {
    Replay {
        format: REPLAY_FORMAT.into(),
        version: REPLAY_VERSION,
        task: names.0.into(),
        model: names.1.into(),
        planner: names.2.into(),
        seed: r.seed,
        success: r.success,
        goal: env.setup().map_or([0.0; 3], |s| s.goal),
        scene: ReplayScene::of(&env.config().scene),
        steps,
    }
}

/// Writes `replay` as `dir/replays/<prefix>seed_<seed>.json`.
pub fn write_replay(dir: &Path, prefix: &str, replay: &Replay) -> Result<()> {
    let sub = dir.join("replays");
    std::fs::create_dir_all(&sub).with_context(|| format!("creating {}", sub.display()))?;
    let p = sub.join(format!("{prefix}seed_{}.json", replay.seed));
    sim::dataset::write_atomic(&p, serde_json::to_string(replay)?.as_bytes())
        .with_context(|| format!("writing {}", p.display()))
}

impl Episodes<'_> {
    /// Runs the episodes with a progress bar. With `report`, writes `episodes.jsonl` (one line per
    /// episode, as it finishes), `summary.json`, `replays/` and `index.html` there.
    pub fn run(
        &self,
        controller: &mut dyn ClosedLoop,
        env: &mut Env,
        report: Option<&Path>,
    ) -> Result<EpisodesOut> {
        let mut lines = match report {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let p = dir.join("episodes.jsonl");
                Some(
                    std::fs::File::create(&p)
                        .with_context(|| format!("creating {}", p.display()))?,
                )
            }
            None => None,
        };
        let pb = progress::bar(self.episodes, "episodes");
        let mut results = Vec::new();
        let mut replays = Vec::new();
        for i in 0..self.episodes {
            let seed = self.seed.wrapping_add(i);
            let (r, steps) =
                run_episode(controller, env, seed, report.is_some() && i < self.replays)?;
            if let Some(f) = lines.as_mut() {
                writeln!(f, "{}", serde_json::to_string(&r)?)?;
                f.flush()?;
            }
            if let Some(steps) = steps {
                replays.push(make_replay(
                    env,
                    (self.task, self.model, self.planner),
                    &r,
                    steps,
                ));
            }
            results.push(r);
            let ok = results.iter().filter(|r| r.success).count();
            pb.set_message(format!("{ok}/{} ok", results.len()));
            pb.inc(1);
        }
        pb.finish_and_clear();
        let mut summary = RunSummary::of(self.task, self.model, self.planner, self.seed, &results);
        summary.samples_per_step = self.samples_per_step;
        summary.privileged_goals = self.privileged_goals;
        if let Some(dir) = report {
            sim::dataset::write_atomic(
                &dir.join("summary.json"),
                serde_json::to_string_pretty(&summary)?.as_bytes(),
            )?;
            for rp in &replays {
                write_replay(dir, "", rp)?;
            }
            let cells = [Cell {
                summary: summary.clone(),
                episodes: results.clone(),
            }];
            reports::write_html(
                dir,
                &format!("ebmpc run: {} with {}", self.task, self.planner),
                &cells,
                &replays,
            )?;
        }
        Ok(EpisodesOut {
            summary,
            results,
            replays,
        })
    }
}
