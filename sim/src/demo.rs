//! Demonstration key frames: the scripted expert solves a copy of the current episode and the
//! observations where its phase changes become the planner's sub-goals.
//!
//! This is how V-JEPA 2-AC gives pick-and-place its sub-goal images: frames of a demonstration
//! of the same scene. Unlike [`crate::subgoal`], whose states are built from the episode setup
//! and may be unreachable in details (the cube's height in a real grasp, a finger pressed into
//! it), every key frame here is a state the simulator actually reached, and it works for both
//! observation modes because the copy renders its own observations. The episode being planned is
//! not touched: the demonstration runs on a separate [`Env`] restored from a snapshot.

use crate::env::Env;
use crate::error::Result;
use crate::expert::Expert;
use crate::policy::{Policy, PolicyView};

/// Observations at the expert's phase changes, then its final observation; each `(obs_dim,)`.
/// With `every > 0`, also the observation `every` control steps after the last frame taken, so
/// that no two neighbouring frames are more than `every` steps apart (for latents that are only
/// meaningful near a goal, such as those of depth images, where the gripper's image no longer
/// overlaps its goal image after a few centimetres).
///
/// The demonstration starts from `env`'s current state and runs until the task succeeds or the
/// task's step budget is spent (then the last frame is wherever the expert got). A frame equal to
/// the previous one is skipped, so every pair of neighbours differs. The whole demonstration runs
/// in this call (about 0.4-0.6 ms per control step, `cargo bench --bench sim`); [`Demo`]
/// spreads it over calls.
pub fn keyframes(env: &Env, every: usize) -> Result<Vec<Vec<f32>>> {
    let mut demo = Demo::new(env, every)?;
    demo.advance(usize::MAX)?;
    Ok(demo.into_frames())
}

/// The demonstration of [`keyframes`], simulated a few control steps per call, so that a
/// control loop can start over from a fresh demonstration without one long step: the same
/// frames, in the same order, whatever the step counts of the calls.
pub struct Demo {
    copy: Env,
    expert: Expert,
    every: usize,
    budget: usize,
    /// Control steps since the last frame taken.
    since: usize,
    /// `(obs_dim,)`: the copy's current observation, as its last step returned it.
    obs: Vec<f32>,
    /// `(n, obs_dim)` frames taken so far.
    frames: Vec<Vec<f32>>,
    done: bool,
}

impl Demo {
    /// Starts a demonstration from `env`'s current state (see [`keyframes`]); simulates nothing
    /// yet.
    pub fn new(env: &Env, every: usize) -> Result<Self> {
        let mut copy = Env::new(env.config().clone(), env.task(), env.layout().mode)?;
        copy.restore(&env.snapshot()?);
        let mut expert = Expert::new(env.task());
        expert.reset(0);
        Ok(Self {
            budget: env.task().budget(&env.config().task),
            obs: copy.observation(),
            copy,
            expert,
            every,
            since: 0,
            frames: Vec::new(),
            done: false,
        })
    }

    /// Simulates up to `max_steps` more control steps; returns whether the demonstration has
    /// ended (solved, out of the task's step budget, or nothing left to act on).
    pub fn advance(&mut self, max_steps: usize) -> Result<bool> {
        for _ in 0..max_steps {
            if self.done {
                break;
            }
            let view = if self.copy.steps() < self.budget {
                PolicyView::of(&self.copy)
            } else {
                None
            };
            let Some(view) = view else {
                self.done = true;
                break;
            };
            let before = self.expert.stage();
            let action = self.expert.act(&view);
            let changed = self.expert.stage() != before && self.copy.steps() > 0;
            if changed || (self.every > 0 && self.since >= self.every) {
                push(&mut self.frames, &self.obs);
                self.since = 0;
            }
            let step = self.copy.step(&action)?;
            self.obs = step.obs;
            self.since += 1;
            self.done = step.terminated || step.truncated;
        }
        Ok(self.done)
    }

    /// The frames taken so far, then the demonstration's current observation: the key frames
    /// once [`Demo::advance`] has returned `true`.
    pub fn into_frames(mut self) -> Vec<Vec<f32>> {
        push(&mut self.frames, &self.obs);
        self.frames
    }
}

fn push(frames: &mut Vec<Vec<f32>>, o: &[f32]) {
    if frames.last().is_none_or(|f| f.as_slice() != o) {
        frames.push(o.to_vec());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::obs::ObsMode;
    use crate::task::TaskKind;

    #[test]
    fn pick_place_demonstration_has_its_phases_and_leaves_the_episode_alone() {
        let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
        let first = env.reset(7);
        let frames = keyframes(&env, 0).unwrap();
        // Approach, descend, close, lift, transport, lower, release, then the solved frame.
        assert!(frames.len() >= 6, "{} frames", frames.len());
        assert_eq!(env.steps(), 0);
        assert_eq!(env.observation(), first);
        // The last frame has the cube on the goal (state layout: cube centre at 7..10).
        let cube = |o: &[f32]| [o[7], o[8], o[9]];
        let goal = env.setup().unwrap().goal;
        let last = cube(frames.last().unwrap());
        let d = ((last[0] - goal[0]).powi(2) + (last[1] - goal[1]).powi(2)).sqrt();
        assert!(
            d < env.config().task.place_tolerance,
            "cube {last:?} goal {goal:?}"
        );
        // A middle frame holds the cube in the air.
        assert!(frames.iter().any(|f| cube(f)[2] > 0.05), "never lifted");
    }

    #[test]
    fn a_demonstration_spread_over_calls_gives_the_same_frames() {
        let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
        env.reset(3);
        let whole = keyframes(&env, 4).unwrap();
        let mut demo = Demo::new(&env, 4).unwrap();
        let mut calls = 1;
        while !demo.advance(3).unwrap() {
            calls += 1;
            assert!(calls < 100, "never ended");
        }
        // The expert needs about 30 control steps: many calls of 3.
        assert!(calls >= 5, "{calls} calls");
        assert!(demo.advance(3).unwrap(), "ended stays ended");
        assert_eq!(demo.into_frames(), whole);
    }

    #[test]
    fn frames_every_few_steps_come_between_the_phase_changes() {
        let mut env = Env::new(SimConfig::default(), TaskKind::Reach, ObsMode::State).unwrap();
        env.reset(11);
        let phases = keyframes(&env, 0).unwrap();
        let dense = keyframes(&env, 2).unwrap();
        assert!(
            dense.len() > phases.len(),
            "{} vs {}",
            dense.len(),
            phases.len()
        );
        // The same demonstration: it ends in the same frame.
        assert_eq!(dense.last(), phases.last());
        // Neighbouring palm positions (state layout 0..3) are at most 2 steps apart: within the
        // distance 2 steps at full speed cover (`max_step_m` on each axis), plus 10%.
        let limit = 1.1 * 2.0 * 3f32.sqrt() * env.config().scene.max_step_m;
        let palm = |o: &[f32]| [o[0], o[1], o[2]];
        let mut prev = palm(&env.observation());
        for f in &dense {
            let p = palm(f);
            let d =
                ((p[0] - prev[0]).powi(2) + (p[1] - prev[1]).powi(2) + (p[2] - prev[2]).powi(2))
                    .sqrt();
            assert!(d < limit, "frames {d} m apart, limit {limit}");
            prev = p;
        }
    }
}
