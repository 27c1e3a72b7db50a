//! Closed-loop planning: the glue between the simulator and the planner. With a learned model,
//! each control step encodes the current observation, plans from it toward the latent of the
//! episode's goal observation, and executes the plan's first action. With the oracle, the same
//! optimizers plan over copies of the simulator itself ([`crate::oracle`]).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use planner::{
    AnyOptimizer, CpuRollout, Energy, Mpc, MpcConfig, OptimizerConfig, Rollout, SamplingOptimizer,
    SolveStats, SolveStatus,
};
use serde::{Deserialize, Serialize};
use sim::{Env, SimConfig, TaskKind};
use world_model::{MlpWorldModel, WorldModel};

use crate::oracle::OracleRollout;

/// How the planner is set up for closed-loop control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Planning horizon in control steps (1..=256). Default 16.
    pub horizon: usize,
    /// Rollout threads (1..=256). Default 2.
    pub threads: usize,
    /// Weight of the goal distance at the last predicted latent (>= 0). Default 1.
    pub terminal_weight: f32,
    /// Weight of the goal distance at every predicted latent (>= 0). Default 0.1: it rewards
    /// getting close early, not only at the horizon's end.
    pub running_weight: f32,
    /// Weight of the squared action magnitude (>= 0). Default 1e-3.
    pub magnitude_weight: f32,
    /// Per-call planning deadline in ms; 0 = none. Default 0.
    pub deadline_ms: f64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            horizon: 16,
            threads: 2,
            terminal_weight: 1.0,
            running_weight: 0.1,
            magnitude_weight: 1e-3,
            deadline_ms: 0.0,
        }
    }
}

/// One closed-loop episode's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeResult {
    /// Episode seed.
    pub seed: u64,
    /// The task's success test held.
    pub success: bool,
    /// Control steps taken.
    pub steps: usize,
    /// Task distance at the end (m).
    pub final_distance: f32,
    /// Planning time of every control step (ms).
    pub plan_ms: Vec<f64>,
    /// Planner energy of the executed plan at every step.
    pub energy: Vec<f32>,
    /// Steps whose solve ended at the deadline or in a fallback.
    pub degraded_steps: usize,
}

/// A learned-model planner bound to one model and optimizer configuration.
pub struct LatentPlanner {
    model: Arc<MlpWorldModel>,
    mpc: Mpc<CpuRollout<MlpWorldModel>, AnyOptimizer>,
    energy: Energy,
    ws: <MlpWorldModel as WorldModel>::Workspace,
    z: Vec<f32>,
}

impl LatentPlanner {
    /// Builds the rollout pool, optimizer and MPC loop.
    pub fn new(model: MlpWorldModel, opt: OptimizerConfig, cfg: &LoopConfig) -> Result<Self> {
        if model.dims().action_dim != sim::ACTION_DIM {
            anyhow::bail!(
                "the model takes {} action values, the simulator {}",
                model.dims().action_dim,
                sim::ACTION_DIM
            );
        }
        let model = Arc::new(model);
        let dims = planner::Dims {
            horizon: cfg.horizon,
            action_dim: model.dims().action_dim,
            latent_dim: model.dims().latent_dim,
        };
        let rollout = CpuRollout::new_differentiable(
            Arc::clone(&model),
            cfg.horizon,
            opt.max_batch(),
            cfg.threads,
        )?;
        let optimizer = AnyOptimizer::new(opt, dims)?;
        let mpc = Mpc::new(
            rollout,
            optimizer,
            MpcConfig {
                deadline_ms: cfg.deadline_ms,
                hold_action: Vec::new(),
            },
        )?;
        let mut energy = Energy::terminal_l2(vec![0.0; dims.latent_dim], dims.action_dim);
        energy.terminal_weight = cfg.terminal_weight;
        energy.running_weight = cfg.running_weight;
        energy.magnitude_weight = cfg.magnitude_weight;
        Ok(Self {
            ws: model.workspace(1),
            z: vec![0.0; dims.latent_dim],
            model,
            mpc,
            energy,
        })
    }
}

impl ClosedLoop for LatentPlanner {
    fn start(&mut self, env: &Env) -> Result<()> {
        let goal = env.goal_observation()?;
        self.model
            .encode(&goal, &mut self.energy.goal, &mut self.ws)
            .context("encoding the goal observation")?;
        self.mpc.reset();
        Ok(())
    }

    fn plan(&mut self, _env: &Env, obs: &[f32]) -> Result<Step> {
        self.model.encode(obs, &mut self.z, &mut self.ws)?;
        self.mpc.solve(&self.z, &self.energy)?;
        Ok(step_of(self.mpc.action(), self.mpc.stats()))
    }
}

/// The oracle planner: the same optimizers over [`OracleRollout`], the simulator as the model.
pub struct OraclePlanner {
    mpc: Mpc<OracleRollout, SamplingOptimizer>,
    energy: Energy,
}

impl OraclePlanner {
    /// Builds the simulator rollout (one copy per thread), optimizer and MPC loop. Sampling
    /// optimizers only: gradients do not flow through the simulator.
    pub fn new(
        sim: &SimConfig,
        task: TaskKind,
        opt: OptimizerConfig,
        cfg: &LoopConfig,
    ) -> Result<Self> {
        let rollout = OracleRollout::new(sim, task, cfg.horizon, opt.max_batch(), cfg.threads)?;
        let optimizer = SamplingOptimizer::new(opt, rollout.dims())?;
        let mpc = Mpc::new(
            rollout,
            optimizer,
            MpcConfig {
                deadline_ms: cfg.deadline_ms,
                hold_action: Vec::new(),
            },
        )?;
        let mut energy = Energy::terminal_l2(vec![0.0], sim::ACTION_DIM);
        energy.magnitude_weight = cfg.magnitude_weight;
        Ok(Self { mpc, energy })
    }
}

impl ClosedLoop for OraclePlanner {
    fn start(&mut self, _env: &Env) -> Result<()> {
        self.mpc.reset();
        Ok(())
    }

    fn plan(&mut self, env: &Env, _obs: &[f32]) -> Result<Step> {
        self.mpc.rollout_mut().set_state(env.snapshot()?);
        self.mpc.solve(&[0.0], &self.energy)?;
        Ok(step_of(self.mpc.action(), self.mpc.stats()))
    }
}

/// What one planning call hands the loop.
pub struct Step {
    /// The action to execute.
    pub action: [f32; sim::ACTION_DIM],
    /// The planner's best energy.
    pub energy: f32,
    /// The solve hit its deadline or fell back.
    pub degraded: bool,
}

/// `action`: the first action of the plan, `(action_dim,)`.
fn step_of(action_in: &[f32], stats: &SolveStats) -> Step {
    let mut action = [0.0; sim::ACTION_DIM];
    action.copy_from_slice(&action_in[..sim::ACTION_DIM]);
    Step {
        action,
        energy: stats.best_energy,
        degraded: !matches!(
            stats.status,
            SolveStatus::Completed | SolveStatus::Converged
        ),
    }
}

/// A planner that can drive the environment step by step.
pub trait ClosedLoop {
    /// Prepares for the episode `env` was just reset to (e.g. encodes its goal).
    fn start(&mut self, env: &Env) -> Result<()>;
    /// Plans from the current state (`obs` is its observation) and returns the first action.
    fn plan(&mut self, env: &Env, obs: &[f32]) -> Result<Step>;
}

/// Runs one closed-loop episode from `seed`: plan, act, observe, until success or the budget.
pub fn run_episode(p: &mut dyn ClosedLoop, env: &mut Env, seed: u64) -> Result<EpisodeResult> {
    let mut obs = env.reset(seed);
    p.start(env)?;
    let mut r = EpisodeResult {
        seed,
        success: false,
        steps: 0,
        final_distance: f32::NAN,
        plan_ms: Vec::new(),
        energy: Vec::new(),
        degraded_steps: 0,
    };
    loop {
        let t0 = Instant::now();
        let step = p.plan(env, &obs)?;
        r.plan_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        r.energy.push(step.energy);
        r.degraded_steps += step.degraded as usize;
        let out = env.step(&step.action)?;
        r.steps += 1;
        r.final_distance = out.info.distance;
        obs = out.obs;
        if out.terminated || out.truncated {
            r.success = out.info.success;
            return Ok(r);
        }
    }
}
