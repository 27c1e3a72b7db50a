//! Scene and task parameters: plain serde structs with documented defaults and range checks.
//!
//! A TOML file holds a [`SimConfig`] (`[scene]` and `[task]` tables); unknown keys are rejected and
//! every value is range-checked after parsing, with the error naming the key.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};

/// Physical and geometric parameters of the tabletop scene. Lengths in metres, masses in kg,
/// frame: z up, table top at z = 0, origin at the table centre.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SceneConfig {
    /// Physics rate in Hz (60..=2000). Default 240: friction grasps hold reliably at this rate.
    pub physics_hz: u32,
    /// Control rate in Hz (1..=physics_hz); physics substeps per action = physics_hz / control_hz,
    /// which must divide exactly. Default 10.
    pub control_hz: u32,
    /// Constraint solver iterations per substep (1..=50). Default 4.
    pub solver_iterations: usize,
    /// Palm displacement per control step for an action component of 1, in m (0.001..=0.1).
    /// Default 0.02.
    pub max_step_m: f32,
    /// Cube edge length in m (0.01..=0.08). Default 0.04.
    pub cube_size: f32,
    /// Cube mass in kg (0.005..=2). Default 0.064.
    pub cube_mass: f32,
    /// Cube friction coefficient (0..=3). Default 1.0.
    pub cube_friction: f32,
    /// Largest absolute yaw of the cube at the start of an episode, in rad (0..=pi). Default 0:
    /// the parallel gripper does not rotate, so the expert assumes an axis-aligned cube.
    pub cube_max_yaw: f32,
    /// Mass of each finger in kg (0.01..=2). Keep it at least 0.3x the cube mass. Default 0.1.
    pub finger_mass: f32,
    /// Finger friction coefficient (0..=3). Default 1.0.
    pub finger_friction: f32,
    /// Largest gap between the fingers in m (cube_size + 0.01 ..= 0.2). Default 0.09.
    pub max_gap: f32,
    /// Finger motor force limit in N (1..=200). Default 20.
    pub finger_max_force: f32,
    /// Finger motor stiffness in N/m (10..=1e5). Default 2000.
    pub finger_stiffness: f32,
    /// Finger motor damping in N s/m (0..=1e4). Default 30.
    pub finger_damping: f32,
    /// Fastest finger travel in m/s (0..=10; 0 = no limit). With a limit, the motors' position
    /// target moves toward the commanded open or closed position at this speed instead of
    /// jumping there, as a real gripper's speed is limited; without one the fingers close the
    /// whole 9 cm gap within one control step and can fling a cube that stands beside them.
    /// Default 0.
    pub finger_speed: f32,
    /// Palm workspace: smallest corner `[x, y, z]` in m. The z bound is raised, if needed, so the
    /// fingertips stay 5 mm above the table. Default `[-0.25, -0.25, 0.0]`.
    pub workspace_min: [f32; 3],
    /// Palm workspace: largest corner `[x, y, z]` in m. Default `[0.25, 0.25, 0.35]`.
    pub workspace_max: [f32; 3],
    /// Where the palm parks in goal observations, in m. Default `[0, 0, 0.25]`.
    pub park: [f32; 3],
    /// Half-width of the square in which cubes start and goals are drawn, in m (0.02..=0.25).
    /// Default 0.15.
    pub object_region: f32,
    /// Depth image width in pixels (4..=256). Default 32.
    pub depth_width: usize,
    /// Depth image height in pixels (4..=256). Default 32.
    pub depth_height: usize,
    /// Depth camera position in m. Default `[0, -0.3, 0.6]`.
    pub camera_pos: [f32; 3],
    /// Point the depth camera looks at, in m. Default `[0, 0, 0.03]`.
    pub camera_target: [f32; 3],
    /// Vertical field of view of the depth camera in degrees (10..=120). Default 50.
    pub camera_fov_deg: f32,
    /// Depth reported where a ray hits nothing, in m (0.1..=10). Default 1.5.
    pub max_depth: f32,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self {
            physics_hz: 240,
            control_hz: 10,
            solver_iterations: 4,
            max_step_m: 0.02,
            cube_size: 0.04,
            cube_mass: 0.064,
            cube_friction: 1.0,
            cube_max_yaw: 0.0,
            finger_mass: 0.1,
            finger_friction: 1.0,
            max_gap: 0.09,
            finger_max_force: 20.0,
            finger_stiffness: 2000.0,
            finger_damping: 30.0,
            finger_speed: 0.0,
            workspace_min: [-0.25, -0.25, 0.0],
            workspace_max: [0.25, 0.25, 0.35],
            park: [0.0, 0.0, 0.25],
            object_region: 0.15,
            depth_width: 32,
            depth_height: 32,
            camera_pos: [0.0, -0.3, 0.6],
            camera_target: [0.0, 0.0, 0.03],
            camera_fov_deg: 50.0,
            max_depth: 1.5,
        }
    }
}

/// Per-task parameters: step budgets and success tolerances.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskParams {
    /// Control steps allowed for `reach` (1..=10000). Default 50.
    pub reach_budget: usize,
    /// Control steps allowed for `push` (1..=10000). Default 150.
    pub push_budget: usize,
    /// Control steps allowed for `pick_place` (1..=10000). Default 150.
    pub pick_place_budget: usize,
    /// `reach` succeeds when the palm is within this distance of the target, in m. Default 0.01.
    pub reach_tolerance: f32,
    /// `push` and `pick_place` succeed when the cube centre is within this distance of the
    /// target, in m. Default 0.02.
    pub place_tolerance: f32,
    /// Smallest distance between a `push` goal and the cube's start, in m. Default 0.05.
    pub push_min_distance: f32,
    /// Largest distance between a `push` goal and the cube's start, in m. Default 0.15.
    pub push_max_distance: f32,
    /// Smallest distance between a `pick_place` goal and the cube's start, in m. Default 0.10.
    pub pick_place_min_distance: f32,
    /// The cube counts as lifted once its centre rises this far above its resting height, in m.
    /// Default 0.03.
    pub lift_height: f32,
    /// The cube counts as resting below this speed, in m/s. Default 0.05.
    pub rest_speed: f32,
}

impl Default for TaskParams {
    fn default() -> Self {
        Self {
            reach_budget: 50,
            push_budget: 150,
            pick_place_budget: 150,
            reach_tolerance: 0.01,
            place_tolerance: 0.02,
            push_min_distance: 0.05,
            push_max_distance: 0.15,
            pick_place_min_distance: 0.10,
            lift_height: 0.03,
            rest_speed: 0.05,
        }
    }
}

/// Everything a simulator run is configured by; the root of a `--config` TOML file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// The scene: physics, gripper, cube, camera.
    pub scene: SceneConfig,
    /// Step budgets and success tolerances.
    pub task: TaskParams,
}

fn check(key: &str, ok: bool, value: impl ToString, expected: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(SimError::ConfigRange {
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        })
    }
}

fn in_range(key: &str, v: f32, lo: f32, hi: f32) -> Result<()> {
    check(
        key,
        v.is_finite() && v >= lo && v <= hi,
        v,
        &format!("{lo} ..= {hi}"),
    )
}

fn count_in_range(key: &str, v: usize, lo: usize, hi: usize) -> Result<()> {
    check(key, v >= lo && v <= hi, v, &format!("{lo} ..= {hi}"))
}

impl SceneConfig {
    /// Physics substeps per control step.
    pub fn substeps(&self) -> usize {
        (self.physics_hz / self.control_hz.max(1)) as usize
    }

    /// Control period in seconds.
    pub fn control_period(&self) -> f32 {
        1.0 / self.control_hz as f32
    }

    /// Checks every value against its documented range.
    pub fn validate(&self) -> Result<()> {
        count_in_range("scene.physics_hz", self.physics_hz as usize, 60, 2000)?;
        count_in_range(
            "scene.control_hz",
            self.control_hz as usize,
            1,
            self.physics_hz as usize,
        )?;
        check(
            "scene.control_hz",
            self.physics_hz.is_multiple_of(self.control_hz),
            self.control_hz,
            &format!("a divisor of physics_hz = {}", self.physics_hz),
        )?;
        count_in_range("scene.solver_iterations", self.solver_iterations, 1, 50)?;
        in_range("scene.max_step_m", self.max_step_m, 0.001, 0.1)?;
        in_range("scene.cube_size", self.cube_size, 0.01, 0.08)?;
        in_range("scene.cube_mass", self.cube_mass, 0.005, 2.0)?;
        in_range("scene.cube_friction", self.cube_friction, 0.0, 3.0)?;
        in_range(
            "scene.cube_max_yaw",
            self.cube_max_yaw,
            0.0,
            std::f32::consts::PI,
        )?;
        in_range("scene.finger_mass", self.finger_mass, 0.01, 2.0)?;
        in_range("scene.finger_friction", self.finger_friction, 0.0, 3.0)?;
        in_range("scene.max_gap", self.max_gap, self.cube_size + 0.01, 0.2)?;
        in_range("scene.finger_max_force", self.finger_max_force, 1.0, 200.0)?;
        in_range("scene.finger_stiffness", self.finger_stiffness, 10.0, 1e5)?;
        in_range("scene.finger_damping", self.finger_damping, 0.0, 1e4)?;
        in_range("scene.finger_speed", self.finger_speed, 0.0, 10.0)?;
        for i in 0..3 {
            in_range("scene.workspace_min", self.workspace_min[i], -1.0, 1.0)?;
            in_range("scene.workspace_max", self.workspace_max[i], -1.0, 1.0)?;
            check(
                "scene.workspace_max",
                self.workspace_max[i] > self.workspace_min[i] + 0.05,
                format!("{:?}", self.workspace_max),
                "each component at least 0.05 above workspace_min",
            )?;
            in_range("scene.park", self.park[i], -1.0, 1.0)?;
            in_range("scene.camera_pos", self.camera_pos[i], -5.0, 5.0)?;
            in_range("scene.camera_target", self.camera_target[i], -5.0, 5.0)?;
        }
        in_range("scene.object_region", self.object_region, 0.02, 0.25)?;
        count_in_range("scene.depth_width", self.depth_width, 4, 256)?;
        count_in_range("scene.depth_height", self.depth_height, 4, 256)?;
        in_range("scene.camera_fov_deg", self.camera_fov_deg, 10.0, 120.0)?;
        in_range("scene.max_depth", self.max_depth, 0.1, 10.0)?;
        let look: Vec<f32> = (0..3)
            .map(|i| self.camera_target[i] - self.camera_pos[i])
            .collect();
        check(
            "scene.camera_target",
            look.iter().map(|v| v * v).sum::<f32>() > 1e-6,
            format!("{:?}", self.camera_target),
            "a point distinct from camera_pos",
        )
    }
}

impl TaskParams {
    /// Checks every value against its documented range.
    pub fn validate(&self) -> Result<()> {
        count_in_range("task.reach_budget", self.reach_budget, 1, 10_000)?;
        count_in_range("task.push_budget", self.push_budget, 1, 10_000)?;
        count_in_range("task.pick_place_budget", self.pick_place_budget, 1, 10_000)?;
        in_range("task.reach_tolerance", self.reach_tolerance, 0.001, 0.2)?;
        in_range("task.place_tolerance", self.place_tolerance, 0.001, 0.2)?;
        in_range("task.push_min_distance", self.push_min_distance, 0.0, 0.4)?;
        in_range(
            "task.push_max_distance",
            self.push_max_distance,
            self.push_min_distance + 0.01,
            0.5,
        )?;
        in_range(
            "task.pick_place_min_distance",
            self.pick_place_min_distance,
            0.0,
            0.4,
        )?;
        in_range("task.lift_height", self.lift_height, 0.005, 0.2)?;
        in_range("task.rest_speed", self.rest_speed, 0.001, 1.0)
    }
}

impl SimConfig {
    /// Parses a TOML document (unknown keys rejected) and validates it. `origin` names the source
    /// in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let cfg: SimConfig = toml::from_str(text).map_err(|e| SimError::ConfigParse {
            path: origin.to_string(),
            message: e.to_string().replace('\n', " "),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Validates scene and task parameters.
    pub fn validate(&self) -> Result<()> {
        self.scene.validate()?;
        self.task.validate()
    }
}
