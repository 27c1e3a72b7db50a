//! The three tasks: how an episode's start and goal are drawn from its seed, its step budget, its
//! success test, and the scene that a goal observation is rendered from.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::{SceneConfig, SimConfig, TaskParams};
use crate::error::SimError;
use crate::scene::{Scene, SceneState, clamp_to_workspace, palm_min_z};

/// Which task an environment runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Bring the palm within `reach_tolerance` of a target point.
    Reach,
    /// Push the cube's centre within `place_tolerance` of a target on the table.
    Push,
    /// Pick the cube up and place it at a target at least `pick_place_min_distance` away,
    /// resting, with the gripper open and clear of it.
    PickPlace,
}

impl TaskKind {
    /// All tasks, in a fixed order.
    pub const ALL: [TaskKind; 3] = [TaskKind::Reach, TaskKind::Push, TaskKind::PickPlace];

    /// The task's name as used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Reach => "reach",
            TaskKind::Push => "push",
            TaskKind::PickPlace => "pick_place",
        }
    }

    /// Control steps allowed per episode.
    pub fn budget(self, p: &TaskParams) -> usize {
        match self {
            TaskKind::Reach => p.reach_budget,
            TaskKind::Push => p.push_budget,
            TaskKind::PickPlace => p.pick_place_budget,
        }
    }
}

impl std::str::FromStr for TaskKind {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, SimError> {
        match s {
            "reach" => Ok(TaskKind::Reach),
            "push" => Ok(TaskKind::Push),
            "pick_place" | "pick-place" => Ok(TaskKind::PickPlace),
            other => Err(SimError::UnknownTask(other.to_string())),
        }
    }
}

/// An episode's initial scene and goal, drawn from its seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpisodeSetup {
    /// Palm start position in m.
    pub palm_start: [f32; 3],
    /// Cube start centre `(x, y)` in m (it rests on the table).
    pub cube_xy: [f32; 2],
    /// Cube start yaw in rad.
    pub cube_yaw: f32,
    /// Goal point in m: the palm target for `reach`, the cube centre target otherwise.
    pub goal: [f32; 3],
}

/// What the success test reads besides the current state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// The cube has been lifted at least `lift_height` at some step of this episode.
    pub lifted: bool,
    /// A finger touches the cube now.
    pub touching: bool,
}

fn dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn dist_xy(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

fn norm(v: [f32; 3]) -> f32 {
    dist(v, [0.0; 3])
}

impl TaskKind {
    /// Draws the start and goal of an episode.
    pub fn draw(self, cfg: &SimConfig, rng: &mut impl Rng) -> EpisodeSetup {
        let s = &cfg.scene;
        let r = s.object_region;
        let mut uni = |lo: f32, hi: f32| lo + (hi - lo) * rng.random::<f32>();
        let palm_start = clamp_to_workspace(s, [uni(-0.1, 0.1), uni(-0.1, 0.1), uni(0.18, 0.25)]);
        let cube_xy = [uni(-r, r), uni(-r, r)];
        let cube_yaw = uni(-s.cube_max_yaw, s.cube_max_yaw);
        let half = s.cube_size / 2.0;
        let goal = match self {
            TaskKind::Reach => {
                let lo = clamp_to_workspace(s, [-0.2, -0.2, palm_min_z() + 0.02]);
                let hi = clamp_to_workspace(s, [0.2, 0.2, 0.25]);
                [uni(lo[0], hi[0]), uni(lo[1], hi[1]), uni(lo[2], hi[2])]
            }
            TaskKind::Push | TaskKind::PickPlace => {
                let (lo, hi) = if self == TaskKind::Push {
                    (cfg.task.push_min_distance, cfg.task.push_max_distance)
                } else {
                    (cfg.task.pick_place_min_distance, f32::INFINITY)
                };
                // Rejection sampling; the region is large enough that it ends quickly, and a
                // fixed cap keeps it bounded for odd configs (then the last draw is used).
                let mut g = [uni(-r, r), uni(-r, r)];
                for _ in 0..1000 {
                    let d = dist_xy(g, cube_xy);
                    if d >= lo && d <= hi {
                        break;
                    }
                    g = [uni(-r, r), uni(-r, r)];
                }
                [g[0], g[1], half]
            }
        };
        EpisodeSetup {
            palm_start,
            cube_xy,
            cube_yaw,
            goal,
        }
    }

    /// Distance that the task drives to zero (palm to target, or cube centre to target), in m.
    pub fn distance(self, s: &SceneState, goal: [f32; 3]) -> f32 {
        match self {
            TaskKind::Reach => dist(s.palm_pos, goal),
            TaskKind::Push | TaskKind::PickPlace => dist(s.cube_pos, goal),
        }
    }

    /// The success test.
    pub fn success(
        self,
        cfg: &SimConfig,
        s: &SceneState,
        goal: [f32; 3],
        progress: &Progress,
    ) -> bool {
        let p = &cfg.task;
        let d = self.distance(s, goal);
        match self {
            TaskKind::Reach => d < p.reach_tolerance,
            TaskKind::Push => d < p.place_tolerance,
            TaskKind::PickPlace => {
                let half = cfg.scene.cube_size / 2.0;
                let resting =
                    norm(s.cube_linvel) < p.rest_speed && (s.cube_pos[2] - half).abs() < 0.005;
                let open = s.finger_gap > cfg.scene.cube_size + 0.005;
                progress.lifted && d < p.place_tolerance && resting && open && !progress.touching
            }
        }
    }

    /// Whether the cube is lifted in state `s` (centre at least `lift_height` above rest).
    pub fn is_lifted(cfg: &SimConfig, s: &SceneState) -> bool {
        s.cube_pos[2] > cfg.scene.cube_size / 2.0 + cfg.task.lift_height
    }

    /// The solved scene of an episode: for `reach` the palm at the target and the cube where it
    /// started; otherwise the cube resting at the goal and the palm parked, fingers open.
    pub fn goal_scene(self, cfg: &SceneConfig, setup: &EpisodeSetup) -> Scene {
        match self {
            TaskKind::Reach => Scene::new(cfg, setup.goal, setup.cube_xy, setup.cube_yaw),
            TaskKind::Push | TaskKind::PickPlace => {
                let mut scene = Scene::new(cfg, cfg.park, setup.cube_xy, setup.cube_yaw);
                let (sy, cy) = (setup.cube_yaw / 2.0).sin_cos();
                scene.place_cube(setup.goal, [0.0, 0.0, sy, cy]);
                scene
            }
        }
    }
}
