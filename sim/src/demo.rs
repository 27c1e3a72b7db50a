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
/// the previous one is skipped, so every pair of neighbours differs.
pub fn keyframes(env: &Env, every: usize) -> Result<Vec<Vec<f32>>> {
    let mut copy = Env::new(env.config().clone(), env.task(), env.layout().mode)?;
    copy.restore(&env.snapshot()?);
    let budget = env.task().budget(&env.config().task);
    let mut expert = Expert::new(env.task());
    expert.reset(0);
    let mut frames: Vec<Vec<f32>> = Vec::new();
    let mut obs = copy.observation();
    let mut since = 0;
    for _ in copy.steps()..budget {
        let Some(view) = PolicyView::of(&copy) else {
            break;
        };
        let before = expert.stage();
        let action = expert.act(&view);
        let changed = expert.stage() != before && copy.steps() > 0;
        if changed || (every > 0 && since >= every) {
            push(&mut frames, &obs);
            since = 0;
        }
        let step = copy.step(&action)?;
        obs = step.obs;
        since += 1;
        if step.terminated || step.truncated {
            break;
        }
    }
    push(&mut frames, &obs);
    Ok(frames)
}

/// Appends `o` unless it equals the last frame.
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
