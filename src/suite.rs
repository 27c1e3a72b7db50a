//! The benchmark suite file of `ebmpc bench` (`configs/bench/*.toml`): tasks x models x planners
//! x seeds, and how each combination (a *cell*) is named in the results.

use std::path::Path;

use anyhow::{Result, bail};
use planner::{OptimizerConfig, OptimizerKind};
use serde::{Deserialize, Serialize};
use sim::{ObsMode, TaskKind};

use crate::setup::{self, ModelSpec, RunConfig};

/// A model entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteModel {
    /// Name in tables (default: the path).
    #[serde(default)]
    pub name: Option<String>,
    /// A model file, `oracle` or `expert`.
    pub path: String,
    /// Observation mode of a model file: state or depth. Default state.
    #[serde(default = "default_obs")]
    pub obs: String,
    /// Episodes per cell of this model, when fewer than the suite's (the oracle is slow).
    #[serde(default)]
    pub episodes: Option<u64>,
    /// Loop and scene settings for this model, replacing the suite's `run_config`.
    #[serde(default)]
    pub run_config: Option<String>,
}

fn default_obs() -> String {
    "state".into()
}

/// A planner entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuitePlanner {
    /// Name in tables, unique in the suite.
    pub name: String,
    /// Optimizer settings (`kind` plus fields); default: the defaults of the optimizer `name`.
    #[serde(default)]
    pub optimizer: Option<OptimizerConfig>,
    /// Also run this planner with the oracle (with explicit `optimizer` settings, which are
    /// sized for learned models, the oracle can be very slow). Default true.
    #[serde(default = "default_true")]
    pub oracle: bool,
}

fn default_true() -> bool {
    true
}

/// A suite file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Title of the report.
    #[serde(default = "default_title")]
    pub title: String,
    /// Tasks (reach, push, pick_place).
    pub tasks: Vec<String>,
    /// Episodes per cell.
    pub episodes: u64,
    /// First seed; episode i of every cell uses seed + i. Keep clear of training seeds (collect
    /// uses 0..episodes).
    pub seed: u64,
    /// Episodes recorded per cell for the 3D replay (the first N). Default 1.
    #[serde(default = "default_replays")]
    pub replays: u64,
    /// Loop and scene settings as in `ebmpc run --config` (file path relative to the working
    /// directory; its `[optimizer]` table is not used: planners come from `[[planner]]`);
    /// default: the built-in defaults.
    #[serde(default)]
    pub run_config: Option<String>,
    /// Models.
    #[serde(rename = "model")]
    pub models: Vec<SuiteModel>,
    /// Planners (ignored for the `expert` model).
    #[serde(rename = "planner")]
    pub planners: Vec<SuitePlanner>,
}

fn default_title() -> String {
    "ebmpc benchmark".into()
}

fn default_replays() -> u64 {
    1
}

/// One combination to run.
#[derive(Debug, Clone)]
pub struct CellSpec {
    /// `task|model|planner`: the key in `results.jsonl`.
    pub key: String,
    /// The task.
    pub task: TaskKind,
    /// Model name in tables.
    pub model_name: String,
    /// The model.
    pub model: ModelSpec,
    /// Observation mode.
    pub obs: ObsMode,
    /// Planner name in tables (`expert` for the expert).
    pub planner_name: String,
    /// Optimizer kind.
    pub kind: OptimizerKind,
    /// Explicit optimizer settings.
    pub optimizer: Option<OptimizerConfig>,
    /// Episodes of this cell.
    pub episodes: u64,
    /// Loop and scene settings file of this cell (`None`: the built-in defaults).
    pub run_config: Option<String>,
}

/// Rollout samples one control step evaluates with `cfg` (the planning budget).
pub fn samples_per_step(cfg: &OptimizerConfig) -> usize {
    match cfg {
        OptimizerConfig::Cem(c) => c.num_samples * c.iterations,
        OptimizerConfig::Icem(c) => (0..c.iterations).map(|i| c.population(i)).sum(),
        OptimizerConfig::Mppi(c) => c.num_samples * c.iterations,
        OptimizerConfig::Gradient(c) => c.num_starts * c.steps,
        OptimizerConfig::Hybrid(c) => {
            samples_per_step(&OptimizerConfig::Cem(c.sampler.clone()))
                + c.refine.num_starts * c.refine.steps
        }
    }
}

impl Suite {
    /// Reads and checks a suite file; errors name the file and the key.
    pub fn load(path: &Path) -> Result<Self> {
        let s: Self = setup::read_toml(path, "suite")?;
        if s.episodes == 0 {
            bail!("{}: `episodes` must be at least 1", path.display());
        }
        if s.tasks.is_empty() || s.models.is_empty() {
            bail!(
                "{}: needs at least one task and one [[model]]",
                path.display()
            );
        }
        Ok(s)
    }

    /// Every cell, task-major. The expert gets one cell per task; the oracle skips gradient
    /// planners (it has no gradients).
    pub fn cells(&self) -> Result<Vec<CellSpec>> {
        let mut out = Vec::new();
        let mut names = std::collections::HashSet::new();
        for p in &self.planners {
            if !names.insert(p.name.as_str()) {
                bail!("planner name `{}` appears twice", p.name);
            }
            if let Some(o) = &p.optimizer {
                o.validate()?;
            }
        }
        for t in &self.tasks {
            let task: TaskKind = t.parse()?;
            for m in &self.models {
                let model = ModelSpec::parse(&m.path);
                let model_name = m.name.clone().unwrap_or_else(|| m.path.clone());
                let obs: ObsMode = m.obs.parse()?;
                let episodes = m.episodes.unwrap_or(self.episodes).min(self.episodes);
                let mut push = |planner_name: String, kind, optimizer| {
                    out.push(CellSpec {
                        key: format!("{}|{}|{}", task.name(), model_name, planner_name),
                        task,
                        model_name: model_name.clone(),
                        model: model.clone(),
                        obs,
                        planner_name,
                        kind,
                        optimizer,
                        episodes,
                        run_config: m.run_config.clone().or_else(|| self.run_config.clone()),
                    });
                };
                if model == ModelSpec::Expert {
                    push("expert".into(), OptimizerKind::Cem, None);
                    continue;
                }
                for p in &self.planners {
                    let kind = match &p.optimizer {
                        Some(o) => setup::kind_of(o),
                        None => OptimizerKind::from_name(&p.name)?,
                    };
                    if model == ModelSpec::Oracle
                        && (!p.oracle
                            || matches!(kind, OptimizerKind::Gradient | OptimizerKind::Hybrid))
                    {
                        continue;
                    }
                    push(p.name.clone(), kind, p.optimizer.clone());
                }
            }
        }
        Ok(out)
    }
}

impl CellSpec {
    /// The loop settings of this cell.
    pub fn run_config(&self) -> Result<RunConfig> {
        match &self.run_config {
            None => Ok(RunConfig::default()),
            Some(p) => RunConfig::load(Path::new(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Suite;
    use crate::setup::RunConfig;

    /// Every shipped suite and run config loads, and every cell's run config with it.
    #[test]
    fn shipped_configs_load() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(root.join("configs/run")).unwrap() {
            let p = entry.unwrap().path();
            RunConfig::load(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
        }
        let mut suites = 0;
        for entry in std::fs::read_dir(root.join("configs/bench")).unwrap() {
            let p = entry.unwrap().path();
            let s = Suite::load(&p).unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
            let cells = s
                .cells()
                .unwrap_or_else(|e| panic!("{}: {e:#}", p.display()));
            assert!(!cells.is_empty(), "{}", p.display());
            for c in &cells {
                c.run_config()
                    .unwrap_or_else(|e| panic!("{} {}: {e:#}", p.display(), c.key));
            }
            suites += 1;
        }
        assert!(suites >= 2);
    }
}
