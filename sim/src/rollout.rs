//! Running one episode of a policy in an environment, optionally recording it.

use crate::env::{ACTION_DIM, Env};
use crate::error::Result;
use crate::obs::{STATE_DIM, write_state};
use crate::policy::{Policy, PolicyView};

/// One finished episode.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeRecord {
    /// The episode's seed.
    pub seed: u64,
    /// Observations, shape `(steps + 1, obs_dim)`: the first after reset, then one per step.
    /// Empty when recording was off.
    pub observations: Vec<f32>,
    /// Privileged `state` observations (docs/observations.md), shape `(steps + 1, 20)`, whatever
    /// the observation mode: ground truth for probes and oracles. Empty when recording was off.
    pub states: Vec<f32>,
    /// Goal observation, shape `(obs_dim,)`. Empty when recording was off.
    pub goal_observation: Vec<f32>,
    /// Actions as applied (clipped to `[-1, 1]`), shape `(steps, 4)`. Empty when recording was off.
    pub actions: Vec<f32>,
    /// Rewards, shape `(steps,)`. Empty when recording was off.
    pub rewards: Vec<f32>,
    /// Control steps taken, settling steps after a success included.
    pub steps: usize,
    /// Physics steps taken.
    pub physics_steps: usize,
    /// The episode ended in success.
    pub success: bool,
    /// Task distance at the end, m.
    pub final_distance: f32,
}

/// Runs one episode of `policy` in `env` from `seed` until success or the step budget; after a
/// success, `settle` more steps (still within the budget). With `record`, keeps observations,
/// actions and rewards. `steps` counts the settling steps too; `success` and `final_distance`
/// are those of the step that ended the episode.
pub fn run_episode(
    env: &mut Env,
    policy: &mut dyn Policy,
    seed: u64,
    record: bool,
    settle: usize,
) -> Result<EpisodeRecord> {
    let first = env.reset(seed);
    policy.reset(seed);
    let mut rec = EpisodeRecord {
        seed,
        observations: Vec::new(),
        states: Vec::new(),
        goal_observation: Vec::new(),
        actions: Vec::new(),
        rewards: Vec::new(),
        steps: 0,
        physics_steps: 0,
        success: false,
        final_distance: f32::NAN,
    };
    if record {
        rec.observations.extend_from_slice(&first);
        push_state(env, &mut rec.states);
        rec.goal_observation = env.goal_observation()?;
    }
    let budget = env.task().budget(&env.config().task);
    // The env step count to stop at, once the episode has ended (success or budget).
    let mut stop_at: Option<usize> = None;
    while let Some(view) = PolicyView::of(env) {
        let action = policy.act(&view).map(|v| v.clamp(-1.0, 1.0));
        let out = env.step(&action)?;
        rec.steps += 1;
        rec.physics_steps += out.info.physics_steps;
        if record {
            rec.observations.extend_from_slice(&out.obs);
            push_state(env, &mut rec.states);
            rec.actions.extend_from_slice(&action[..ACTION_DIM]);
            rec.rewards.push(out.reward);
        }
        if stop_at.is_none() {
            rec.final_distance = out.info.distance;
            if out.terminated || out.truncated {
                rec.success = out.info.success;
                stop_at = Some((env.steps() + settle).min(budget));
            }
        }
        if stop_at.is_some_and(|end| env.steps() >= end) {
            break;
        }
    }
    Ok(rec)
}

fn push_state(env: &Env, out: &mut Vec<f32>) {
    if let Some(s) = env.state() {
        let mut row = [0.0f32; STATE_DIM];
        write_state(&s, &mut row);
        out.extend_from_slice(&row);
    }
}
