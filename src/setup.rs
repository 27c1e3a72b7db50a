//! Building a closed-loop controller from what a user names: a model (a file, `oracle` or
//! `expert`), an optimizer configuration and the loop settings. Shared by `run`, `bench` and
//! `demo`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use kernels::Backend;
use planner::{OptimizerConfig, OptimizerKind};
use serde::{Deserialize, Serialize};
use sim::{ObsLayout, ObsMode, SceneConfig, SimConfig, TaskKind, TaskParams};
use world_model::Ensemble;
use world_model::train::modelfile::load_model;

use crate::closed_loop::{
    ClosedLoop, ExpertLoop, LatentPlanner, Learned, LoopConfig, OraclePlanner,
};

/// The `--config` file of `ebmpc run` and `demo` (all tables optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Scene parameters.
    pub scene: SceneConfig,
    /// Task parameters.
    pub task: TaskParams,
    /// Closed-loop planner parameters.
    pub planner: LoopConfig,
    /// Optimizer settings (`kind` plus that optimizer's fields); when given, they replace the
    /// defaults of the optimizer named on the command line.
    pub optimizer: Option<OptimizerConfig>,
}

/// Reads a TOML file into `T`; errors name the file (`what` says which kind) and, for a parse
/// error, the key and line, on one line.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().replace('\n', " ")))
}

impl RunConfig {
    /// Reads and checks a TOML file; errors name the file and the key.
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: Self = read_toml(path, "config")?;
        check_loop(&cfg.planner)?;
        let state = ObsLayout::new(ObsMode::State, &cfg.scene);
        for name in &cfg.planner.subgoal_keep {
            if state.range(name).is_none() {
                let names: Vec<&str> = state.fields.iter().map(|f| f.name.as_str()).collect();
                bail!(
                    "config key `planner.subgoal_keep` names `{name}`, which is not a field of \
                     state observations ({})",
                    names.join(", ")
                );
            }
        }
        if let Some(o) = &cfg.optimizer {
            o.validate()?;
        }
        Ok(cfg)
    }

    /// The simulator configuration.
    pub fn sim(&self) -> SimConfig {
        SimConfig {
            scene: self.scene.clone(),
            task: self.task.clone(),
        }
    }
}

/// What drives the episodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSpec {
    /// A learned model file from `ebmpc train`.
    File(String),
    /// The simulator itself as the model, the task's cost as the energy.
    Oracle,
    /// The scripted expert (no planning).
    Expert,
}

impl ModelSpec {
    /// `oracle`, `expert`, or a file path.
    pub fn parse(s: &str) -> Self {
        match s {
            "oracle" => Self::Oracle,
            "expert" => Self::Expert,
            f => Self::File(f.to_string()),
        }
    }

    /// The name as given.
    pub fn name(&self) -> &str {
        match self {
            Self::File(f) => f,
            Self::Oracle => "oracle",
            Self::Expert => "expert",
        }
    }
}

/// Every name in `names` is a task; the error names the `[planner]` key and the bad name.
fn task_names<'a>(key: &str, names: impl Iterator<Item = &'a String>) -> Result<()> {
    for task in names {
        task.parse::<TaskKind>()
            .with_context(|| format!("config key `planner.{key}` names task `{task}`"))?;
    }
    Ok(())
}

/// Range-checks the loop settings; errors name the key.
pub fn check_loop(c: &LoopConfig) -> Result<()> {
    if !(1..=256).contains(&c.horizon) {
        bail!(
            "config key `planner.horizon` = {} is out of range: 1 ..= 256",
            c.horizon
        );
    }
    if !(1..=256).contains(&c.threads) {
        bail!(
            "config key `planner.threads` = {} is out of range: 1 ..= 256",
            c.threads
        );
    }
    for (k, v) in [
        ("planner.terminal_weight", c.terminal_weight),
        ("planner.running_weight", c.running_weight),
        ("planner.magnitude_weight", c.magnitude_weight),
        ("planner.smoothness_weight", c.smoothness_weight),
        ("planner.grip_weight", c.grip_weight),
        ("planner.palm_weight", c.palm_weight),
        ("planner.cube_weight", c.cube_weight),
        ("planner.value_weight", c.value_weight),
        ("planner.value_running_weight", c.value_running_weight),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            bail!("config key `{k}` = {v} must be finite and >= 0");
        }
    }
    if !(c.subgoal_ratio > 0.0 && c.subgoal_ratio < 1.0) {
        bail!(
            "config key `planner.subgoal_ratio` = {} is out of range: (0, 1)",
            c.subgoal_ratio
        );
    }
    task_names("subgoal_ratio_by_task", c.subgoal_ratio_by_task.keys())?;
    for (task, &r) in &c.subgoal_ratio_by_task {
        if !(r > 0.0 && r < 1.0) {
            bail!(
                "config key `planner.subgoal_ratio_by_task.{task}` = {r} is out of range: (0, 1)"
            );
        }
    }
    task_names("grip_weight_by_task", c.grip_weight_by_task.keys())?;
    for (task, &w) in &c.grip_weight_by_task {
        if !(w.is_finite() && w >= 0.0) {
            bail!("config key `planner.grip_weight_by_task.{task}` = {w} must be finite and >= 0");
        }
    }
    task_names("subgoal_retry_lost", c.subgoal_retry_lost.iter())?;
    if !(c.deadline_ms.is_finite() && c.deadline_ms >= 0.0) {
        bail!(
            "config key `planner.deadline_ms` = {} must be finite and >= 0",
            c.deadline_ms
        );
    }
    Ok(())
}

/// Optimizer settings for the oracle: every sample costs `horizon x 24` physics steps, so it
/// draws 64 samples (8 elites) for 3 iterations instead of the learned-model defaults.
pub fn oracle_config(kind: OptimizerKind) -> OptimizerConfig {
    let mut cfg = kind.default_config();
    match &mut cfg {
        OptimizerConfig::Cem(c) => {
            (c.num_samples, c.num_elites, c.iterations) = (64, 8, 3);
        }
        OptimizerConfig::Icem(c) => {
            (c.num_samples, c.num_elites, c.iterations) = (64, 8, 3);
        }
        OptimizerConfig::Mppi(c) => {
            (c.num_samples, c.iterations) = (64, 3);
        }
        _ => {}
    }
    cfg
}

/// The optimizer settings `model` runs with: `explicit` when given, else the oracle's reduced
/// defaults for the oracle or the defaults of `kind`; `None` for the expert (no optimizer).
pub fn effective_optimizer(
    model: &ModelSpec,
    kind: OptimizerKind,
    explicit: Option<&OptimizerConfig>,
) -> Option<OptimizerConfig> {
    match (model, explicit) {
        (ModelSpec::Expert, _) => None,
        (_, Some(o)) => Some(o.clone()),
        (ModelSpec::Oracle, None) => Some(oracle_config(kind)),
        (ModelSpec::File(_), None) => Some(kind.default_config()),
    }
}

/// Loads a learned model and checks it against the observation layout of `mode` and `scene`.
/// `paths` is one model file, or several separated by commas: an ensemble whose energies are
/// averaged (see [`world_model::Ensemble`]).
pub fn load_learned(paths: &str, mode: ObsMode, scene: &SceneConfig) -> Result<Learned> {
    let layout = serde_json::to_value(ObsLayout::new(mode, scene))?;
    let members = paths
        .split(',')
        .map(|path| {
            let path = path.trim();
            let bytes = std::fs::read(path).with_context(|| format!("reading model {path}"))?;
            let loaded = load_model(&bytes, Some(&layout))
                .with_context(|| format!("loading model {path}"))?;
            Ok(loaded.model)
        })
        .collect::<Result<Vec<_>>>()?;
    Ensemble::new(members).with_context(|| format!("building the ensemble {paths}"))
}

/// Whether a controller for `model` under `cfg` sees more than the goal observation: the
/// simulator itself (oracle, expert) or sub-goals built from its state (phases,
/// demonstrations). Summaries carry it as `privileged_goals`.
pub fn privileged_goals(model: &ModelSpec, cfg: &RunConfig) -> bool {
    !matches!(model, ModelSpec::File(_)) || cfg.planner.subgoals
}

/// The controller for `model`. `optimizer`: explicit settings, else the defaults of `kind`
/// (the oracle's reduced defaults for [`ModelSpec::Oracle`]). Gradient-based optimizers need a
/// differentiable model: with the oracle they are refused here, not at run time. `backend`
/// applies to learned models (the oracle and the expert run on the CPU).
pub fn build_loop(
    model: &ModelSpec,
    task: TaskKind,
    mode: ObsMode,
    kind: OptimizerKind,
    optimizer: Option<&OptimizerConfig>,
    cfg: &RunConfig,
    backend: Backend,
) -> Result<Box<dyn ClosedLoop>> {
    Ok(match model {
        ModelSpec::Expert => Box::new(ExpertLoop::new(task)),
        ModelSpec::Oracle => {
            if matches!(kind, OptimizerKind::Gradient | OptimizerKind::Hybrid) {
                bail!(
                    "planner `{}` needs a differentiable model, and the oracle (the simulator) \
                     has no gradients; use cem, icem or mppi",
                    kind.name()
                );
            }
            let opt = optimizer.cloned().unwrap_or_else(|| oracle_config(kind));
            Box::new(OraclePlanner::new(&cfg.sim(), task, opt, &cfg.planner)?)
        }
        ModelSpec::File(path) => {
            let m = load_learned(path, mode, &cfg.scene)?;
            let opt = optimizer.cloned().unwrap_or_else(|| kind.default_config());
            match backend.resolve()? {
                Backend::Cuda => Box::new(LatentPlanner::new_cuda(m, opt, &cfg.planner)?),
                _ => Box::new(LatentPlanner::new(m, opt, &cfg.planner)?),
            }
        }
    })
}

/// The optimizer kind of a configuration.
pub fn kind_of(cfg: &OptimizerConfig) -> OptimizerKind {
    match cfg {
        OptimizerConfig::Cem(_) => OptimizerKind::Cem,
        OptimizerConfig::Icem(_) => OptimizerKind::Icem,
        OptimizerConfig::Mppi(_) => OptimizerKind::Mppi,
        OptimizerConfig::Gradient(_) => OptimizerKind::Gradient,
        OptimizerConfig::Hybrid(_) => OptimizerKind::Hybrid,
    }
}
