//! Sub-goals: the phases of a task as a sequence of scene states, for planners whose single goal
//! is too far (V-JEPA 2-AC plans pick-and-place through sub-goal images the same way).
//!
//! The states are built from the episode's setup only (cube start pose and goal), as the goal
//! observation is; nothing of the current state enters. Velocities are zero, the cube keeps its
//! start yaw. Each phase is what the scripted expert passes through:
//! - `reach`: the goal only;
//! - `push`: the closed gripper above a point behind the cube (on the far side from the goal),
//!   down there, forward to touch the cube, then the cube pushed along the straight line to the
//!   goal in legs of at most [`PUSH_WAYPOINT_M`], the gripper behind it; the last is the cube at
//!   the goal;
//! - `pick_place`: open above the cube; open around it at grasp height; closed on it; closed and
//!   lifted with the cube; closed over the goal with the cube; lowered onto the goal, still
//!   closed (a release in the air drops and bounces the cube); opened; the gripper open above the
//!   cube on the goal.
//!
//! The finger gap of "closed" comes from simulating a grasp ([`closed_gap`]), not from the cube's
//! size: the fingers press into the cube, and a sub-goal the gripper cannot reach would stall.

use crate::config::SceneConfig;
use crate::scene::{FINGER_HALF, Scene, SceneState, palm_min_z};
use crate::task::{EpisodeSetup, TaskKind};

/// How far behind the contact point the pusher comes down (as the expert does), so that it does
/// not land on the cube.
pub const PUSH_BACKOFF: f32 = 0.02;

/// Longest straight push between two push sub-goals (m): the cube's path to the goal is cut
/// into equal legs no longer than this, so each sub-goal is a short, straight push.
pub const PUSH_WAYPOINT_M: f32 = 0.03;

/// A resting state with the palm at `palm`, finger gap `gap` and the cube centre at `cube`.
fn still(palm: [f32; 3], gap: f32, cube: [f32; 3], yaw: f32) -> SceneState {
    let (sy, cy) = (yaw / 2.0).sin_cos();
    SceneState {
        palm_pos: palm,
        palm_vel: [0.0; 3],
        finger_gap: gap,
        cube_pos: cube,
        cube_quat: [0.0, 0.0, sy, cy],
        cube_linvel: [0.0; 3],
        cube_angvel: [0.0; 3],
    }
}

/// The finger gap after closing for 6 control steps at grasp height around the cube
/// (`with_cube`) or on nothing, measured by simulating it: the contact model lets the fingers
/// press into the cube, so the gap on the cube is below its edge.
pub fn closed_gap(cfg: &SceneConfig, with_cube: bool) -> f32 {
    let far = cfg.workspace_max[0].min(cfg.workspace_max[1]);
    let cube_xy = if with_cube { [0.0, 0.0] } else { [far, far] };
    let mut scene = Scene::new(cfg, [0.0, 0.0, palm_min_z()], cube_xy, 0.0);
    for _ in 0..6 {
        scene.control_step([0.0; 3], Some(true));
    }
    scene.finger_gap()
}

impl TaskKind {
    /// The task's phases as scene states, in order; the last is the solved state.
    pub fn subgoal_states(self, cfg: &SceneConfig, setup: &EpisodeSetup) -> Vec<SceneState> {
        let size = cfg.cube_size;
        let half = size / 2.0;
        let (c, g, yaw) = (setup.cube_xy, setup.goal, setup.cube_yaw);
        let grasp_z = palm_min_z();
        let hover_z = grasp_z + size + 0.03;
        let carry_z = grasp_z + 0.08;
        let cube0 = [c[0], c[1], half];
        match self {
            TaskKind::Reach => vec![still(setup.goal, cfg.max_gap, cube0, yaw)],
            TaskKind::Push => {
                let shut = closed_gap(cfg, false);
                let to_goal = [g[0] - c[0], g[1] - c[1]];
                let n = (to_goal[0].powi(2) + to_goal[1].powi(2)).sqrt().max(1e-6);
                let d = [to_goal[0] / n, to_goal[1] / n];
                let offset = half * (d[0].abs() + d[1].abs())
                    + 2.0 * FINGER_HALF[0] * d[0].abs()
                    + FINGER_HALF[1] * d[1].abs();
                // The pusher centre touching a cube centred at `p`, `back` further from the goal.
                let behind = |p: [f32; 2], back: f32, z: f32| {
                    let o = offset + back;
                    [p[0] - d[0] * o, p[1] - d[1] * o, z]
                };
                let mut phases = vec![
                    still(behind(c, PUSH_BACKOFF, hover_z), shut, cube0, yaw),
                    still(behind(c, PUSH_BACKOFF, grasp_z), shut, cube0, yaw),
                    still(behind(c, 0.0, grasp_z), shut, cube0, yaw),
                ];
                let legs = (n / PUSH_WAYPOINT_M).ceil().max(1.0) as usize;
                for k in 1..=legs {
                    let t = n * k as f32 / legs as f32;
                    let at = [c[0] + d[0] * t, c[1] + d[1] * t];
                    let cube = [at[0], at[1], half];
                    phases.push(still(behind(at, 0.0, grasp_z), shut, cube, yaw));
                }
                phases
            }
            TaskKind::PickPlace => {
                let lift = carry_z - grasp_z;
                let open = cfg.max_gap;
                let held = closed_gap(cfg, true);
                let goal_rest = [g[0], g[1], half];
                let goal_air = [g[0], g[1], half + lift];
                vec![
                    still([c[0], c[1], hover_z], open, cube0, yaw),
                    still([c[0], c[1], grasp_z], open, cube0, yaw),
                    still([c[0], c[1], grasp_z], held, cube0, yaw),
                    still([c[0], c[1], carry_z], held, [c[0], c[1], half + lift], yaw),
                    still([g[0], g[1], carry_z], held, goal_air, yaw),
                    still([g[0], g[1], grasp_z], held, goal_rest, yaw),
                    still([g[0], g[1], grasp_z], open, goal_rest, yaw),
                    still([g[0], g[1], hover_z], open, goal_rest, yaw),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use rand::SeedableRng;

    fn dist3(a: [f32; 3], b: [f32; 3]) -> f32 {
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt()
    }

    #[test]
    fn pick_place_phases_end_with_the_cube_on_the_goal_and_the_gripper_open() {
        let cfg = SimConfig::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let setup = TaskKind::PickPlace.draw(&cfg, &mut rng);
        let s = TaskKind::PickPlace.subgoal_states(&cfg.scene, &setup);
        assert_eq!(s.len(), 8);
        let last = s.last().unwrap();
        assert_eq!(last.cube_pos, setup.goal);
        assert!(last.finger_gap > cfg.scene.cube_size);
        // Closed on the cube (narrower than open, wider than closed on nothing) before lifting,
        // and the cube rises with the palm.
        let held = s[2].finger_gap;
        assert!(
            held < s[1].finger_gap && held > closed_gap(&cfg.scene, false) + 0.005,
            "{held}"
        );
        assert!(s[3].cube_pos[2] - s[2].cube_pos[2] > cfg.task.lift_height);
        let push = TaskKind::Push.subgoal_states(&cfg.scene, &setup);
        // The pusher waits on the side of the cube away from the goal.
        let (c, g, p) = (setup.cube_xy, setup.goal, push[0].palm_pos);
        let along = (p[0] - c[0]) * (g[0] - c[0]) + (p[1] - c[1]) * (g[1] - c[1]);
        assert!(along < 0.0);
        // It comes down behind the cube, then pushes it to the goal in short straight legs.
        assert!(push[0].palm_pos[2] > push[1].palm_pos[2]);
        let end = push.last().unwrap();
        assert!(dist3(end.cube_pos, [g[0], g[1], end.cube_pos[2]]) < 1e-5);
        for w in push[2..].windows(2) {
            let leg = dist3(w[0].cube_pos, w[1].cube_pos);
            assert!(leg > 0.0 && leg <= PUSH_WAYPOINT_M + 1e-5, "{leg}");
        }
    }
}
