//! # sim: the ebmpc test bed
//!
//! A headless, deterministic rapier3d tabletop with a parallel gripper and a cube, three tasks
//! (`reach`, `push`, `pick_place`), two observation modes (`state` and a ray-cast `depth` image),
//! scripted experts and exploration policies, and multi-threaded data collection into safetensors.
//!
//! The crate knows nothing of the planner or the world model: it only produces observations,
//! consumes actions `[dx, dy, dz, grip]` in `[-1, 1]^4`, and judges success.
#![forbid(unsafe_code)]

pub mod camera;
pub mod collect;
pub mod config;
pub mod dataset;
pub mod demo;
pub mod env;
pub mod error;
pub mod expert;
pub mod obs;
pub mod policy;
pub mod rollout;
pub mod scene;
pub mod subgoal;
pub mod task;

pub use config::{SceneConfig, SimConfig, TaskParams};
pub use env::{ACTION_DIM, Env, EnvSnapshot, StepInfo, StepResult};
pub use error::{Result, SimError};
pub use obs::{ObsLayout, ObsMode};
pub use policy::{Policy, PolicyKind, PolicyView};
pub use scene::{Scene, SceneSnapshot, SceneState};
pub use task::TaskKind;
