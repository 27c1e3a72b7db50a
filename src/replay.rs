//! Episode replays: what the report's 3D viewer draws, one JSON file per recorded episode.
//!
//! A replay holds the static scene (table workspace, cube size, gripper dimensions, goal) and, for
//! every control step, the state before the action, the executed action, and the palm path the
//! plan intends: the palm position plus the running sum of the planned displacements
//! (`clip(a, -1, 1) * max_step_m` per step), clamped to the workspace. With a learned model that
//! path is the plan's intent in world coordinates, not a prediction of the model (the model's
//! latents have no coordinates). Files are `replays/seed_<seed>.json` in a report folder.

use serde::{Deserialize, Serialize};
use sim::{SceneConfig, SceneState};

/// Value of [`Replay::format`].
pub const REPLAY_FORMAT: &str = "ebmpc_replay";
/// Value of [`Replay::version`].
pub const REPLAY_VERSION: u32 = 1;

/// The static part of the scene, in m (z up, the table top at z = 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayScene {
    /// Edge of the cube.
    pub cube_size: f32,
    /// Half extents of the palm box.
    pub palm_half: [f32; 3],
    /// Half extents of each finger box.
    pub finger_half: [f32; 3],
    /// Lower corner of the palm workspace.
    pub workspace_min: [f32; 3],
    /// Upper corner of the palm workspace.
    pub workspace_max: [f32; 3],
}

/// One control step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayStep {
    /// Palm centre before the action.
    pub palm: [f32; 3],
    /// Gap between the fingers' inner faces.
    pub finger_gap: f32,
    /// Cube centre.
    pub cube_pos: [f32; 3],
    /// Cube orientation `[x, y, z, w]`.
    pub cube_quat: [f32; 4],
    /// Executed action `[dx, dy, dz, grip]` (before clipping).
    pub action: [f32; 4],
    /// Planned palm path, `(horizon, 3)`: where the plan's displacements would take the palm.
    pub planned_palm: Vec<[f32; 3]>,
    /// Planning time of this step (ms).
    pub plan_ms: f64,
    /// Index of the sub-goal planned toward (0 without sub-goals).
    #[serde(default)]
    pub phase: usize,
    /// The planner's best energy (NaN, `null` in JSON, for the expert and the final state).
    #[serde(with = "crate::json_nan::one")]
    pub energy: f32,
}

/// A recorded episode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replay {
    /// Always [`REPLAY_FORMAT`].
    pub format: String,
    /// Always [`REPLAY_VERSION`].
    pub version: u32,
    /// Task name.
    pub task: String,
    /// Model (file or `oracle`).
    pub model: String,
    /// Optimizer name.
    pub planner: String,
    /// Episode seed.
    pub seed: u64,
    /// Whether the task's success test held at the end.
    pub success: bool,
    /// Goal point: the palm target for reach, the cube-centre target otherwise.
    pub goal: [f32; 3],
    /// Static scene.
    pub scene: ReplayScene,
    /// Steps in order; the last entry is the final state (its action and plan are zeros/empty).
    pub steps: Vec<ReplayStep>,
}

impl ReplayScene {
    /// The static scene of `cfg`.
    pub fn of(cfg: &SceneConfig) -> Self {
        Self {
            cube_size: cfg.cube_size,
            palm_half: sim::scene::PALM_HALF,
            finger_half: sim::scene::FINGER_HALF,
            workspace_min: cfg.workspace_min,
            workspace_max: cfg.workspace_max,
        }
    }
}

/// The palm path of `plan` `(horizon, 4)` from `palm`, see the module docs.
pub fn planned_palm_path(cfg: &SceneConfig, palm: [f32; 3], plan: &[f32]) -> Vec<[f32; 3]> {
    let mut p = palm;
    plan.chunks_exact(sim::ACTION_DIM)
        .map(|a| {
            for (j, pj) in p.iter_mut().enumerate() {
                let d = a[j].clamp(-1.0, 1.0) * cfg.max_step_m;
                *pj = (*pj + d).clamp(cfg.workspace_min[j], cfg.workspace_max[j]);
            }
            p
        })
        .collect()
}

/// A step record of state `s` before executing `action` with the given plan.
pub fn step_of(
    cfg: &SceneConfig,
    s: &SceneState,
    action: [f32; 4],
    plan: &[f32],
    plan_ms: f64,
    energy: f32,
    phase: usize,
) -> ReplayStep {
    ReplayStep {
        phase,
        palm: s.palm_pos,
        finger_gap: s.finger_gap,
        cube_pos: s.cube_pos,
        cube_quat: s.cube_quat,
        action,
        planned_palm: planned_palm_path(cfg, s.palm_pos, plan),
        plan_ms,
        energy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_path_accumulates_clips_and_clamps() {
        let cfg = SceneConfig::default();
        let m = cfg.max_step_m;
        let palm = [0.0, 0.0, 0.2];
        // Two steps: +x full, then +x at 3 (clipped to 1); z pushed far below the workspace.
        let plan = [1.0, 0.0, 0.0, 0.0, 3.0, 0.0, -100.0, 1.0];
        let path = planned_palm_path(&cfg, palm, &plan);
        assert_eq!(path.len(), 2);
        assert!((path[0][0] - m).abs() < 1e-6);
        assert!((path[1][0] - 2.0 * m).abs() < 1e-6);
        assert!((path[1][2] - (0.2 - m).max(cfg.workspace_min[2])).abs() < 1e-6);
    }
}
