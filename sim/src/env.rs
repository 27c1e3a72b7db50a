//! The Gymnasium-style environment: `reset(seed)`, `step(action)`, goal observations, and
//! snapshot/restore of the whole world.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::camera::DepthCamera;
use crate::config::SimConfig;
use crate::error::{Result, SimError};
use crate::obs::{ObsLayout, ObsMode, observe};
use crate::scene::{Scene, SceneSnapshot, SceneState};
use crate::task::{EpisodeSetup, Progress, TaskKind};

/// Number of action components: `[dx, dy, dz, grip]`.
pub const ACTION_DIM: usize = 4;

/// Per-step diagnostics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// The task's success test holds now.
    pub success: bool,
    /// Task distance (palm or cube centre to goal) in m.
    pub distance: f32,
    /// Control steps taken in this episode.
    pub steps: usize,
    /// Physics steps taken by this call.
    pub physics_steps: usize,
}

/// What `step` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResult {
    /// Observation after the step, shape `(obs_dim,)`.
    pub obs: Vec<f32>,
    /// Reward: minus the task distance in m.
    pub reward: f32,
    /// The task succeeded (the episode is over).
    pub terminated: bool,
    /// The step budget is used up without success.
    pub truncated: bool,
    /// Diagnostics.
    pub info: StepInfo,
}

#[derive(Clone)]
struct Episode {
    setup: EpisodeSetup,
    steps: usize,
    progress: Progress,
}

/// A full copy of an [`Env`] in the middle of an episode.
#[derive(Clone)]
pub struct EnvSnapshot {
    scene: SceneSnapshot,
    episode: Episode,
}

/// The tabletop environment for one task and observation mode.
pub struct Env {
    cfg: SimConfig,
    task: TaskKind,
    layout: ObsLayout,
    camera: DepthCamera,
    scene: Option<Scene>,
    episode: Option<Episode>,
}

impl Env {
    /// An environment for `task` with observations in `mode`. Validates `cfg`.
    pub fn new(cfg: SimConfig, task: TaskKind, mode: ObsMode) -> Result<Self> {
        cfg.validate()?;
        Ok(Self {
            layout: ObsLayout::new(mode, &cfg.scene),
            camera: DepthCamera::new(&cfg.scene),
            cfg,
            task,
            scene: None,
            episode: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The task.
    pub fn task(&self) -> TaskKind {
        self.task
    }

    /// The observation layout.
    pub fn layout(&self) -> &ObsLayout {
        &self.layout
    }

    /// Observation length.
    pub fn obs_dim(&self) -> usize {
        self.layout.dim()
    }

    /// Starts an episode drawn from `seed`; returns the first observation, shape `(obs_dim,)`.
    pub fn reset(&mut self, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let setup = self.task.draw(&self.cfg, &mut rng);
        let scene = Scene::new(
            &self.cfg.scene,
            setup.palm_start,
            setup.cube_xy,
            setup.cube_yaw,
        );
        self.scene = Some(scene);
        self.episode = Some(Episode {
            setup,
            steps: 0,
            progress: Progress::default(),
        });
        self.observation()
    }

    /// Applies `action = [dx, dy, dz, grip]`. Components are clipped to `[-1, 1]`; `dx..dz`
    /// scale to `max_step_m`; `grip > 0` closes, `< 0` opens, `0` keeps the current command.
    /// A wrong length or a non-finite component is an error and leaves the world untouched.
    pub fn step(&mut self, action: &[f32]) -> Result<StepResult> {
        if action.len() != ACTION_DIM {
            return Err(SimError::ActionLength {
                got: action.len(),
                expected: ACTION_DIM,
            });
        }
        if let Some((index, &value)) = action.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SimError::NonFiniteAction { index, value });
        }
        let (Some(scene), Some(ep)) = (self.scene.as_mut(), self.episode.as_mut()) else {
            return Err(SimError::NotReset);
        };
        let m = self.cfg.scene.max_step_m;
        let a: Vec<f32> = action.iter().map(|v| v.clamp(-1.0, 1.0)).collect();
        let close = if a[3] > 0.0 {
            Some(true)
        } else if a[3] < 0.0 {
            Some(false)
        } else {
            None
        };
        let physics_steps = scene.control_step([a[0] * m, a[1] * m, a[2] * m], close);
        ep.steps += 1;
        let state = scene.state();
        ep.progress.lifted |= TaskKind::is_lifted(&self.cfg, &state);
        ep.progress.touching = scene.fingers_touch_cube();
        let success = self
            .task
            .success(&self.cfg, &state, ep.setup.goal, &ep.progress);
        let distance = self.task.distance(&state, ep.setup.goal);
        let steps = ep.steps;
        let budget = self.task.budget(&self.cfg.task);
        Ok(StepResult {
            obs: self.observation(),
            reward: -distance,
            terminated: success,
            truncated: !success && steps >= budget,
            info: StepInfo {
                success,
                distance,
                steps,
                physics_steps,
            },
        })
    }

    /// The current observation, shape `(obs_dim,)`; zeros before the first reset.
    pub fn observation(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.layout.dim()];
        if let Some(scene) = &self.scene {
            observe(scene, &self.layout, &self.camera, &mut out);
        }
        out
    }

    /// The observation of this episode's solved scene (see [`TaskKind::goal_scene`]), shape
    /// `(obs_dim,)`. This is how a learned planner receives its goal.
    pub fn goal_observation(&self) -> Result<Vec<f32>> {
        let ep = self.episode.as_ref().ok_or(SimError::NotReset)?;
        let scene = self.task.goal_scene(&self.cfg.scene, &ep.setup);
        let mut out = vec![0.0; self.layout.dim()];
        observe(&scene, &self.layout, &self.camera, &mut out);
        Ok(out)
    }

    /// Observations of this episode's sub-goals (see [`TaskKind::subgoal_states`]), in order;
    /// each `(obs_dim,)`. `state` observations only.
    pub fn subgoal_observations(&self) -> Result<Vec<Vec<f32>>> {
        let ep = self.episode.as_ref().ok_or(SimError::NotReset)?;
        if self.layout.mode != ObsMode::State {
            return Err(SimError::SubgoalsNeedState(self.layout.mode.name()));
        }
        Ok(self
            .task
            .subgoal_states(&self.cfg.scene, &ep.setup)
            .iter()
            .map(|s| {
                let mut out = vec![0.0; self.layout.dim()];
                crate::obs::write_state(s, &mut out);
                out
            })
            .collect())
    }

    /// Privileged scene state (for scripted policies, oracle planners and tests).
    pub fn state(&self) -> Option<SceneState> {
        self.scene.as_ref().map(Scene::state)
    }

    /// The current episode's start and goal.
    pub fn setup(&self) -> Option<EpisodeSetup> {
        self.episode.as_ref().map(|e| e.setup)
    }

    /// Control steps taken in the current episode.
    pub fn steps(&self) -> usize {
        self.episode.as_ref().map_or(0, |e| e.steps)
    }

    /// Whether the cube has been lifted in this episode.
    pub fn lifted(&self) -> bool {
        self.episode.as_ref().is_some_and(|e| e.progress.lifted)
    }

    /// Copies the full world and episode state.
    pub fn snapshot(&self) -> Result<EnvSnapshot> {
        match (&self.scene, &self.episode) {
            (Some(s), Some(e)) => Ok(EnvSnapshot {
                scene: s.snapshot(),
                episode: e.clone(),
            }),
            _ => Err(SimError::NotReset),
        }
    }

    /// Restores a snapshot taken from an environment with the same configuration.
    pub fn restore(&mut self, snap: &EnvSnapshot) {
        match self.scene.as_mut() {
            Some(scene) => scene.restore(&snap.scene),
            None => {
                let su = snap.episode.setup;
                let mut scene = Scene::new(&self.cfg.scene, su.palm_start, su.cube_xy, su.cube_yaw);
                scene.restore(&snap.scene);
                self.scene = Some(scene);
            }
        }
        self.episode = Some(snap.episode.clone());
    }
}
