//! Closed-loop planning: the glue between the simulator and the planner. With a learned model,
//! each control step encodes the current observation, plans from it toward the latent of the
//! episode's goal observation, and executes the plan's first action. With the oracle, the same
//! optimizers plan over copies of the simulator itself ([`crate::oracle`]).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use planner::{
    AnyOptimizer, CpuRollout, Energy, Mpc, MpcConfig, OptimizerConfig, Rollout, RolloutGrad,
    SamplingOptimizer, SolveStats, SolveStatus,
};
use serde::{Deserialize, Serialize};
use sim::{Env, SimConfig, TaskKind};
use std::collections::BTreeMap;
use world_model::{Ensemble, MlpWorldModel, WorldModel};

use crate::oracle::OracleRollout;
use crate::replay::{self, ReplayStep};
use crate::subgoals::Subgoals;

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
    /// Weight (>= 0) of the squared distance of every planned grip command to the gripper state
    /// of the goal planned toward (the current sub-goal, or the goal): +1 (close) where that
    /// observation's finger gap is under half the open gap, else -1 (open). An energy term on
    /// the gripper state, for models whose latents barely tell an open grasp from a closed one.
    /// Default 0 (off). The CUDA rollout adds this term on the host.
    pub grip_weight: f32,
    /// `grip_weight` for particular tasks, keyed by task name (`reach`, `push`, `pick_place`),
    /// e.g. `grip_weight_by_task = { pick_place = 1.0 }`. Default none.
    pub grip_weight_by_task: BTreeMap<String, f32>,
    /// Weight (>= 0) of an energy term on the palm position: `||W (z - g)||^2` with `W` the
    /// model's `palm_pos` head (a linear read-out of the palm position, in metres, from the
    /// latent; `ebmpc fit-head`), added to the goal distance wherever it is weighed. It singles
    /// out the latent directions that move the palm, for models whose latent distance barely
    /// changes over the last centimetres of a reach. 1e4 makes 1 cm cost 1. Default 0 (off);
    /// CPU backend only.
    pub palm_weight: f32,
    /// The same with the model's `cube_pos` head (the cube's centre): weight (>= 0) of
    /// `||W_cube (z - g)||^2`. Default 0 (off); CPU backend only.
    pub cube_weight: f32,
    /// Weight (>= 0) of the model's learned goal value at the last predicted latent:
    /// `w x V(z_H, goal)`, `V` the estimated control steps from the predicted state to the
    /// goal (`world_model::GoalValue`, `ebmpc fit-value`). It closes the horizon: states on the
    /// way to the goal (an open gripper at the cube, a lifted cube) cost less even where they
    /// are farther in latent distance. Default 0 (off); CPU backend only.
    pub value_weight: f32,
    /// Weight (>= 0) of the learned goal value at every predicted latent. Default 0 (off).
    pub value_running_weight: f32,
    /// Weight of the squared difference of consecutive planned actions (>= 0): it discourages
    /// plans that swing between the action bounds. Default 0.
    pub smoothness_weight: f32,
    /// Deadline of a control step in ms, counted from the step's start (encoding and sub-goal
    /// switches included): the best plan so far is used after it; 0 = none. Default 0.
    pub deadline_ms: f64,
    /// Plan toward the task's sub-goals in turn instead of the final goal alone (learned models
    /// only; see `subgoal_source`). Default false.
    pub subgoals: bool,
    /// With `subgoals`: where the sub-goal observations come from. Default `phases`.
    pub subgoal_source: SubgoalSource,
    /// Sub-goals from a demonstration (`subgoal_source = "demo"`, and every restart of
    /// `subgoal_retries`): also take a frame every this many control steps between its phase
    /// changes (0 = phase changes only), for latents that are only meaningful near their goal
    /// (see `sim::demo::keyframes`). Default 0.
    pub subgoal_demo_every: usize,
    /// With `subgoals`: move on to the next sub-goal once the latent distance to the current one
    /// falls below this fraction of the distance at which the phase began (in (0, 1)).
    /// Default 0.25.
    pub subgoal_ratio: f32,
    /// With `subgoals`: `subgoal_ratio` for particular tasks, keyed by task name (`reach`,
    /// `push`, `pick_place`), e.g. `subgoal_ratio_by_task = { push = 0.4 }`. Default none.
    pub subgoal_ratio_by_task: BTreeMap<String, f32>,
    /// With `subgoals`: observation fields (`state` observations, names as in
    /// docs/observations.md) that every sub-goal takes from the current observation at each
    /// step instead of fixing them at the episode's start, e.g. `["cube_quat"]`: no task's
    /// success depends on the cube's yaw, and a sub-goal that keeps the start yaw makes a turned
    /// cube look far from it. Default none.
    pub subgoal_keep: Vec<String>,
    /// With `subgoals`: also move on when the distance to the current sub-goal has not improved
    /// by 2% for this many control steps (a grasp that is good enough but not exact, a cube
    /// placed slightly off); 0 = never. Default 10.
    pub subgoal_patience: usize,
    /// With `subgoals` and a patience: when the last sub-goal stalls and the episode goes on (a
    /// cube released off target, a grasp lost), start over from sub-goals of a demonstration
    /// from the current scene (`sim::demo`), at most this many times per episode. Default 0.
    pub subgoal_retries: usize,
    /// With `subgoal_retries`: the tasks (`reach`, `push`, `pick_place`) whose episodes also
    /// start over when a phase before the last runs out of patience without ever getting closer
    /// to its sub-goal than the previous sub-goal is (a grasp that slipped: the carry phases
    /// cannot be reached from an empty gripper), instead of moving on through the remaining
    /// phases, e.g. `["pick_place"]`. Default none.
    pub subgoal_retry_lost: Vec<String>,
    /// With `subgoal_retries`: control steps of a restart's demonstration simulated per control
    /// step (`sim::demo::Demo`), the planner aiming at its current sub-goal until the
    /// demonstration ends; 0 = all of it in the step that starts over, which then takes 10-60 ms
    /// more (about 0.4-0.6 ms per demonstration step) and can overrun the deadline.
    /// Default 0.
    pub subgoal_restart_steps: usize,
}

/// Where a learned planner's sub-goal observations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubgoalSource {
    /// Scene states built from the episode setup, one per task phase (`sim::subgoal`); `state`
    /// observations only.
    Phases,
    /// Key frames of the scripted expert solving a copy of the episode at its start, cut where
    /// its phase changes (`sim::demo`): every frame is a state the simulator reached; both
    /// observation modes.
    Demo,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            horizon: 16,
            threads: 2,
            terminal_weight: 1.0,
            running_weight: 0.1,
            magnitude_weight: 1e-3,
            smoothness_weight: 0.0,
            grip_weight: 0.0,
            grip_weight_by_task: BTreeMap::new(),
            palm_weight: 0.0,
            cube_weight: 0.0,
            value_weight: 0.0,
            value_running_weight: 0.0,
            deadline_ms: 0.0,
            subgoals: false,
            subgoal_source: SubgoalSource::Phases,
            subgoal_demo_every: 0,
            subgoal_ratio: 0.25,
            subgoal_ratio_by_task: BTreeMap::new(),
            subgoal_keep: Vec::new(),
            subgoal_patience: 10,
            subgoal_retries: 0,
            subgoal_retry_lost: Vec::new(),
            subgoal_restart_steps: 0,
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
    #[serde(with = "crate::json_nan::one")]
    pub final_distance: f32,
    /// Planning time of every control step (ms).
    pub plan_ms: Vec<f64>,
    /// Planner energy of the executed plan at every step (NaN, `null` in JSON, for the expert).
    #[serde(with = "crate::json_nan::many")]
    pub energy: Vec<f32>,
    /// Steps whose solve ended at the deadline or in a fallback.
    pub degraded_steps: usize,
    /// Mean over the control steps of each optimizer iteration's best energy divided by the
    /// first iteration's (steps with a non-finite or non-positive first energy are left out);
    /// empty for planners without iterations.
    #[serde(default, with = "crate::json_nan::many")]
    pub iteration_energy: Vec<f32>,
}

/// A learned model as the planner sees it: one model file, or several averaged (see
/// [`world_model::Ensemble`]).
pub type Learned = Ensemble<MlpWorldModel>;

/// A learned-model planner bound to one model (or ensemble), optimizer configuration and rollout backend
/// (the CPU pool by default, or `kernels::CudaRollout`).
pub struct LatentPlanner<R: RolloutGrad = CpuRollout<Learned>> {
    model: Arc<Learned>,
    mpc: Mpc<R, AnyOptimizer>,
    energy: Energy,
    ws: <Learned as WorldModel>::Workspace,
    z: Vec<f32>,
    subgoals: Subgoals,
    /// The loop settings: sub-goal source, retries, ratios and kept fields are read from here.
    cfg: LoopConfig,
    /// Sub-goal restarts left in this episode.
    retries_left: usize,
    /// This episode's task is in `subgoal_retry_lost`.
    retry_lost: bool,
    /// A restart's demonstration still being simulated (see
    /// [`LoopConfig::subgoal_restart_steps`]).
    pending_demo: Option<sim::demo::Demo>,
    /// The index ranges of the `subgoal_keep` fields in this episode's observations (empty when
    /// the observations lack them).
    keep_ranges: Vec<std::ops::Range<usize>>,
    /// `(num_subgoals, obs_dim)`: the sub-goal observations, rewritten at every step when
    /// `keep_ranges` is not empty.
    subgoal_obs: Vec<f32>,
    /// `(num_subgoals, latent_dim)`: their latents, encoded in one batch.
    subgoal_z: Vec<f32>,
    /// `(num_subgoals,)`: the grip command of each sub-goal's gripper state (see
    /// [`LoopConfig::grip_weight`]).
    grip_targets: Vec<f32>,
    /// Index of `finger_gap` in this episode's observations and the gap under which a gripper
    /// counts as closed.
    gap_index: usize,
    closed_below: f32,
}

/// The learned goal value of a single model, for `planner.value_weight`; the error says how to
/// add one, or that an ensemble cannot use it (its latent concatenates the members').
fn goal_value(model: &Learned) -> Result<Arc<world_model::GoalValue>> {
    let Some(single) = model.single() else {
        anyhow::bail!(
            "planner.value_weight needs a single model; this is an ensemble of {}",
            model.members().len()
        );
    };
    single.value().cloned().context(
        "planner.value_weight > 0 needs a model with a learned goal value; add one with \
         `ebmpc fit-value --model FILE --data DATASET...`",
    )
}

/// The value `by_task` holds for `task`, else `default`.
fn for_task(by_task: &BTreeMap<String, f32>, task: TaskKind, default: f32) -> f32 {
    by_task.get(task.name()).copied().unwrap_or(default)
}

/// Index of the grip command in an action (`sim::Env::step`: `[dx, dy, dz, grip]`).
const GRIP_ACTION: usize = 3;

impl LatentPlanner {
    /// Builds the CPU rollout pool, optimizer and MPC loop.
    pub fn new(model: Learned, opt: OptimizerConfig, cfg: &LoopConfig) -> Result<Self> {
        let model = Arc::new(model);
        let rollout = CpuRollout::new_differentiable(
            Arc::clone(&model),
            cfg.horizon,
            opt.max_batch(),
            cfg.threads,
        )?;
        LatentPlanner::with_rollout(model, rollout, opt, cfg)
    }
}

impl LatentPlanner<kernels::CudaRollout> {
    /// Builds the CUDA rollout (device 0), optimizer and MPC loop; fails with the reason when no
    /// CUDA driver, NVRTC or device is usable, or when `model` is an ensemble of several (the
    /// kernels evaluate one MLP).
    pub fn new_cuda(model: Learned, opt: OptimizerConfig, cfg: &LoopConfig) -> Result<Self> {
        for (key, w, term) in [
            ("planner.palm_weight", cfg.palm_weight, "head"),
            ("planner.cube_weight", cfg.cube_weight, "head"),
            ("planner.value_weight", cfg.value_weight, "learned value"),
            (
                "planner.value_running_weight",
                cfg.value_running_weight,
                "learned value",
            ),
        ] {
            if w > 0.0 {
                anyhow::bail!(
                    "{key} = {w} needs the CPU backend: the CUDA kernels lack the {term} term"
                );
            }
        }
        let Some(single) = model.single() else {
            anyhow::bail!(
                "the CUDA rollout runs one model, this is an ensemble of {}; use the CPU backend",
                model.members().len()
            );
        };
        let rollout = kernels::CudaRollout::new(
            single,
            cfg.horizon,
            kernels::CudaRolloutConfig {
                capacity: opt.max_batch(),
                grad_capacity: opt.max_batch(),
                device: 0,
            },
        )?;
        LatentPlanner::with_rollout(Arc::new(model), rollout, opt, cfg)
    }
}

impl<R: RolloutGrad> LatentPlanner<R> {
    /// The optimizer and MPC loop over an existing rollout for `model`.
    pub fn with_rollout(
        model: Arc<Learned>,
        rollout: R,
        opt: OptimizerConfig,
        cfg: &LoopConfig,
    ) -> Result<Self> {
        if model.dims().action_dim != sim::ACTION_DIM {
            anyhow::bail!(
                "the model takes {} action values, the simulator {}",
                model.dims().action_dim,
                sim::ACTION_DIM
            );
        }
        let dims = planner::Dims {
            horizon: cfg.horizon,
            action_dim: model.dims().action_dim,
            latent_dim: model.dims().latent_dim,
        };
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
        energy.smoothness_weight = cfg.smoothness_weight;
        energy.target_weight[GRIP_ACTION] = cfg.grip_weight;
        energy.head = crate::heads::weighted_heads(
            &model,
            &[
                (
                    world_model::PALM_HEAD,
                    cfg.palm_weight,
                    "planner.palm_weight",
                ),
                (
                    world_model::CUBE_HEAD,
                    cfg.cube_weight,
                    "planner.cube_weight",
                ),
            ],
        )?;
        energy.head_weight = if energy.head.is_empty() { 0.0 } else { 1.0 };
        if cfg.value_weight > 0.0 || cfg.value_running_weight > 0.0 {
            energy.value = Some(goal_value(&model)?);
            energy.value_weight = cfg.value_weight;
            energy.value_running_weight = cfg.value_running_weight;
        }
        Ok(Self {
            ws: model.workspace(1),
            z: vec![0.0; dims.latent_dim],
            subgoals: Subgoals::new(cfg.subgoals, cfg.subgoal_ratio, cfg.subgoal_patience),
            cfg: cfg.clone(),
            retries_left: cfg.subgoal_retries,
            retry_lost: false,
            pending_demo: None,
            keep_ranges: Vec::new(),
            subgoal_obs: Vec::new(),
            subgoal_z: Vec::new(),
            grip_targets: Vec::new(),
            gap_index: 0,
            closed_below: 0.0,
            model,
            mpc,
            energy,
        })
    }

    /// The sub-goal ratio for episodes of `task`.
    fn ratio_for(&self, task: TaskKind) -> f32 {
        for_task(
            &self.cfg.subgoal_ratio_by_task,
            task,
            self.cfg.subgoal_ratio,
        )
    }

    /// The gripper term's weight for episodes of `task`.
    fn grip_weight_for(&self, task: TaskKind) -> f32 {
        for_task(&self.cfg.grip_weight_by_task, task, self.cfg.grip_weight)
    }

    /// The grip command of the gripper state in `obs`: +1 closed, -1 open.
    fn grip_of(&self, obs: &[f32]) -> f32 {
        if obs[self.gap_index] < self.closed_below {
            1.0
        } else {
            -1.0
        }
    }

    /// Plans toward `observations` from the first sub-goal on.
    /// Simulates the pending restart's demonstration for this step's share of control steps
    /// and, once it has ended, plans through its key frames.
    fn advance_restart(&mut self) -> Result<()> {
        let Some(demo) = self.pending_demo.as_mut() else {
            return Ok(());
        };
        let steps = match self.cfg.subgoal_restart_steps {
            0 => usize::MAX,
            n => n,
        };
        if demo.advance(steps)?
            && let Some(done) = self.pending_demo.take()
        {
            self.set_subgoals(done.into_frames())?;
        }
        Ok(())
    }

    fn set_subgoals(&mut self, observations: Vec<Vec<f32>>) -> Result<()> {
        self.grip_targets = observations.iter().map(|o| self.grip_of(o)).collect();
        self.subgoal_obs = observations.concat();
        self.subgoal_z = vec![0.0; observations.len() * self.z.len()];
        self.encode_subgoals()?;
        let latents = self
            .subgoal_z
            .chunks_exact(self.z.len())
            .map(<[f32]>::to_vec)
            .collect();
        self.subgoals.restart(latents);
        Ok(())
    }

    /// Encodes `subgoal_obs` into `subgoal_z` in one batch.
    fn encode_subgoals(&mut self) -> Result<()> {
        self.model
            .encode(&self.subgoal_obs, &mut self.subgoal_z, &mut self.ws)
            .context("encoding the sub-goal observations")?;
        Ok(())
    }

    /// Copies the `subgoal_keep` fields of `obs` into every sub-goal observation and encodes
    /// them again; nothing without such fields.
    fn refresh_subgoals(&mut self, obs: &[f32]) -> Result<()> {
        if self.keep_ranges.is_empty() || self.subgoal_obs.is_empty() {
            return Ok(());
        }
        let od = obs.len();
        for row in self.subgoal_obs.chunks_exact_mut(od) {
            for r in &self.keep_ranges {
                row[r.clone()].copy_from_slice(&obs[r.clone()]);
            }
        }
        self.encode_subgoals()?;
        for (z, new) in self
            .subgoals
            .latents
            .iter_mut()
            .zip(self.subgoal_z.chunks_exact(self.z.len()))
        {
            z.copy_from_slice(new);
        }
        Ok(())
    }
}

impl<R: RolloutGrad> ClosedLoop for LatentPlanner<R> {
    fn start(&mut self, env: &Env) -> Result<()> {
        let goal = env.goal_observation()?;
        self.model
            .encode(&goal, &mut self.energy.goal, &mut self.ws)
            .context("encoding the goal observation")?;
        self.gap_index = env
            .layout()
            .range("finger_gap")
            .context("the observations have no finger_gap")?
            .start;
        self.closed_below = 0.5 * env.config().scene.max_gap;
        self.energy.action_target[GRIP_ACTION] = self.grip_of(&goal);
        self.energy.target_weight[GRIP_ACTION] = self.grip_weight_for(env.task());
        if self.subgoals.enabled {
            self.subgoals.ratio = self.ratio_for(env.task());
            self.retry_lost = self
                .cfg
                .subgoal_retry_lost
                .iter()
                .any(|t| t == env.task().name());
            let observations = match self.cfg.subgoal_source {
                SubgoalSource::Phases => env.subgoal_observations()?,
                SubgoalSource::Demo => sim::demo::keyframes(env, self.cfg.subgoal_demo_every)?,
            };
            self.keep_ranges = match env.layout().mode {
                sim::ObsMode::State => self
                    .cfg
                    .subgoal_keep
                    .iter()
                    .filter_map(|f| env.layout().range(f))
                    .collect(),
                sim::ObsMode::Depth => Vec::new(),
            };
            self.set_subgoals(observations)?;
            self.retries_left = self.cfg.subgoal_retries;
        }
        self.pending_demo = None;
        self.mpc.reset();
        Ok(())
    }

    fn plan(&mut self, env: &Env, obs: &[f32]) -> Result<Step> {
        // The deadline covers the whole step: encoding, sub-goal switches and restarts included.
        let started = Instant::now();
        self.model.encode(obs, &mut self.z, &mut self.ws)?;
        if self.subgoals.enabled && !self.subgoals.latents.is_empty() {
            // A lost phase stays held while a restart is left or under way.
            let restarting = self.pending_demo.is_some();
            let hold_lost = self.retry_lost && (self.retries_left > 0 || restarting);
            if !restarting && self.retries_left > 0 && self.subgoals.needs_restart(hold_lost) {
                self.retries_left -= 1;
                self.pending_demo = Some(sim::demo::Demo::new(env, self.cfg.subgoal_demo_every)?);
            }
            self.advance_restart()?;
            self.refresh_subgoals(obs)?;
            let g = self.subgoals.update(&self.z, hold_lost);
            self.energy.goal.copy_from_slice(g);
            self.energy.action_target[GRIP_ACTION] = self.grip_targets[self.subgoals.index];
        }
        self.mpc.solve_since(started, &self.z, &self.energy)?;
        let mut step = step_of(self.mpc.plan(), self.mpc.stats());
        step.phase = self.subgoals.index;
        Ok(step)
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
        energy.smoothness_weight = cfg.smoothness_weight;
        Ok(Self { mpc, energy })
    }
}

impl ClosedLoop for OraclePlanner {
    fn start(&mut self, _env: &Env) -> Result<()> {
        self.mpc.reset();
        Ok(())
    }

    fn plan(&mut self, env: &Env, _obs: &[f32]) -> Result<Step> {
        let started = Instant::now();
        self.mpc.rollout_mut().set_state(env.snapshot()?);
        self.mpc.solve_since(started, &[0.0], &self.energy)?;
        Ok(step_of(self.mpc.plan(), self.mpc.stats()))
    }
}

/// The scripted expert (privileged state) behind the same interface, for side-by-side tables.
pub struct ExpertLoop {
    policy: Box<dyn sim::Policy>,
}

impl ExpertLoop {
    /// The expert of `task`.
    pub fn new(task: TaskKind) -> Self {
        Self {
            policy: sim::PolicyKind::Expert.build(task),
        }
    }
}

impl ClosedLoop for ExpertLoop {
    fn start(&mut self, _env: &Env) -> Result<()> {
        // The expert is deterministic; its seed is unused.
        self.policy.reset(0);
        Ok(())
    }

    fn plan(&mut self, env: &Env, _obs: &[f32]) -> Result<Step> {
        let view = sim::PolicyView::of(env).context("the environment was not reset")?;
        let action = self.policy.act(&view);
        Ok(Step {
            action,
            plan: action.to_vec(),
            energy: f32::NAN,
            degraded: false,
            iteration_energy: Vec::new(),
            phase: 0,
        })
    }
}

/// What one planning call hands the loop.
pub struct Step {
    /// The action to execute.
    pub action: [f32; sim::ACTION_DIM],
    /// The whole plan, `(horizon, action_dim)`; its first row is `action`.
    pub plan: Vec<f32>,
    /// The planner's best energy.
    pub energy: f32,
    /// The solve hit its deadline or fell back.
    pub degraded: bool,
    /// Best energy per optimizer iteration.
    pub iteration_energy: Vec<f32>,
    /// Index of the sub-goal planned toward (0 without sub-goals).
    pub phase: usize,
}

/// `plan`: `(horizon, action_dim)`, the first row is executed.
fn step_of(plan: &[f32], stats: &SolveStats) -> Step {
    let mut action = [0.0; sim::ACTION_DIM];
    action.copy_from_slice(&plan[..sim::ACTION_DIM]);
    Step {
        action,
        plan: plan.to_vec(),
        energy: stats.best_energy,
        degraded: !matches!(
            stats.status,
            SolveStatus::Completed | SolveStatus::Converged
        ),
        iteration_energy: stats.energy_per_iteration.clone(),
        phase: 0,
    }
}

/// Accumulates [`EpisodeResult::iteration_energy`].
#[derive(Default)]
struct IterationMean {
    sums: Vec<f64>,
    counts: Vec<usize>,
}

impl IterationMean {
    fn add(&mut self, energies: &[f32]) {
        let Some(&first) = energies.first() else {
            return;
        };
        if !(first.is_finite() && first > 0.0) {
            return;
        }
        if self.sums.len() < energies.len() {
            self.sums.resize(energies.len(), 0.0);
            self.counts.resize(energies.len(), 0);
        }
        for (i, e) in energies.iter().enumerate() {
            if e.is_finite() {
                self.sums[i] += f64::from(e / first);
                self.counts[i] += 1;
            }
        }
    }

    fn means(&self) -> Vec<f32> {
        self.sums
            .iter()
            .zip(&self.counts)
            .map(|(s, &c)| {
                if c > 0 {
                    (s / c as f64) as f32
                } else {
                    f32::NAN
                }
            })
            .collect()
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
/// With `record`, also returns every step for a replay ([`crate::replay`]); the last entry is
/// the final state with a zero action and an empty plan.
pub fn run_episode(
    p: &mut dyn ClosedLoop,
    env: &mut Env,
    seed: u64,
    record: bool,
) -> Result<(EpisodeResult, Option<Vec<ReplayStep>>)> {
    let mut obs = env.reset(seed);
    p.start(env)?;
    let scene_cfg = env.config().scene.clone();
    let mut steps: Option<Vec<ReplayStep>> = record.then(Vec::new);
    let mut iters = IterationMean::default();
    let mut r = EpisodeResult {
        seed,
        success: false,
        steps: 0,
        final_distance: f32::NAN,
        plan_ms: Vec::new(),
        energy: Vec::new(),
        degraded_steps: 0,
        iteration_energy: Vec::new(),
    };
    loop {
        let t0 = Instant::now();
        let step = p.plan(env, &obs)?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        r.plan_ms.push(ms);
        r.energy.push(step.energy);
        r.degraded_steps += step.degraded as usize;
        iters.add(&step.iteration_energy);
        if let (Some(rec), Some(s)) = (steps.as_mut(), env.state()) {
            rec.push(replay::step_of(
                &scene_cfg,
                &s,
                step.action,
                &step.plan,
                ms,
                step.energy,
                step.phase,
            ));
        }
        let out = env.step(&step.action)?;
        r.steps += 1;
        r.final_distance = out.info.distance;
        obs = out.obs;
        if out.terminated || out.truncated {
            r.success = out.info.success;
            r.iteration_energy = iters.means();
            if let (Some(rec), Some(s)) = (steps.as_mut(), env.state()) {
                rec.push(replay::step_of(
                    &scene_cfg,
                    &s,
                    [0.0; 4],
                    &[],
                    0.0,
                    f32::NAN,
                    step.phase,
                ));
            }
            return Ok((r, steps));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{ClosedLoop, Ensemble, LatentPlanner, LoopConfig};
    use planner::OptimizerKind;
    use sim::{Env, ObsMode, SimConfig, TaskKind};
    use world_model::{Activation, Linear, Mlp, MlpSpec, MlpWorldModel};

    /// A model without encoder (its latent is the observation) and a zero predictor.
    pub(crate) fn identity_model(obs_dim: usize) -> MlpWorldModel {
        let spec = MlpSpec {
            input_dim: obs_dim + sim::ACTION_DIM,
            hidden: Vec::new(),
            output_dim: obs_dim,
            activation: Activation::Identity,
            layer_norm: false,
        };
        let (i, o) = (spec.input_dim, spec.output_dim);
        let lin = Linear::new(vec![0.0; i * o], vec![0.0; o], i, o).expect("layer");
        let mlp = Mlp::new(spec, vec![lin], Vec::new()).expect("mlp");
        MlpWorldModel::new(None, mlp, obs_dim, sim::ACTION_DIM).expect("model")
    }

    /// The sub-goal planned toward at the first step of a push episode whose cube has turned.
    fn first_goal(keep: &[&str]) -> (Vec<f32>, Vec<f32>, std::ops::Range<usize>) {
        let mut env = Env::new(SimConfig::default(), TaskKind::Push, ObsMode::State).unwrap();
        let mut obs = env.reset(7);
        let quat = env.layout().range("cube_quat").unwrap();
        obs[quat.clone()].copy_from_slice(&[0.0, 0.0, 0.6, 0.8]);
        let cfg = LoopConfig {
            horizon: 2,
            threads: 1,
            subgoals: true,
            subgoal_keep: keep.iter().map(|k| k.to_string()).collect(),
            ..LoopConfig::default()
        };
        let model = Ensemble::new(vec![identity_model(obs.len())]).unwrap();
        let opt = OptimizerKind::Gradient.default_config();
        let mut p = LatentPlanner::new(model, opt, &cfg).unwrap();
        p.start(&env).unwrap();
        p.plan(&env, &obs).unwrap();
        (p.energy.goal.clone(), obs, quat)
    }

    #[test]
    fn kept_fields_come_from_the_current_observation() {
        let (goal, obs, quat) = first_goal(&["cube_quat"]);
        assert_eq!(goal[quat.clone()], obs[quat.clone()]);
        let (fixed, _, _) = first_goal(&[]);
        assert_ne!(fixed[quat.clone()], obs[quat.clone()]);
        // Only the kept field differs.
        for (i, (a, b)) in goal.iter().zip(&fixed).enumerate() {
            assert!(quat.contains(&i) || a == b, "index {i}: {a} vs {b}");
        }
    }

    #[test]
    fn loop_weights_reach_the_planning_energy() {
        let cfg = LoopConfig {
            horizon: 2,
            threads: 1,
            magnitude_weight: 0.25,
            smoothness_weight: 0.5,
            ..LoopConfig::default()
        };
        let model = Ensemble::new(vec![identity_model(3)]).unwrap();
        let p = LatentPlanner::new(model, OptimizerKind::Cem.default_config(), &cfg).unwrap();
        assert_eq!(p.energy.magnitude_weight, 0.25);
        assert_eq!(p.energy.smoothness_weight, 0.5);
        assert!(!p.energy.has_head());
    }

    #[test]
    fn the_palm_term_takes_the_models_head_and_needs_the_cpu() {
        let cfg = LoopConfig {
            horizon: 2,
            threads: 1,
            palm_weight: 1e4,
            ..LoopConfig::default()
        };
        let opt = || OptimizerKind::Cem.default_config();
        let bare = Ensemble::new(vec![identity_model(3)]).unwrap();
        let err = LatentPlanner::new(bare, opt(), &cfg).err().unwrap();
        assert!(format!("{err:#}").contains("no `palm_pos` head"), "{err:#}");
        let w: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let head = world_model::LinearHead::new("palm_pos", w.clone(), vec![0.0; 3], 3).unwrap();
        let with_head = || {
            Ensemble::new(vec![
                identity_model(3).with_heads(vec![head.clone()]).unwrap(),
            ])
            .unwrap()
        };
        let p = LatentPlanner::new(with_head(), opt(), &cfg).unwrap();
        let scaled: Vec<f32> = w.iter().map(|v| v * 100.0).collect();
        assert_eq!((p.energy.head.clone(), p.energy.head_weight), (scaled, 1.0));
        // Refused before any device is looked for, so the message is the same without a GPU.
        let err = LatentPlanner::new_cuda(with_head(), opt(), &cfg)
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("CPU backend"), "{err:#}");
    }

    /// Horizon 2 on one thread, with sub-goals: small and quick for the tests below.
    fn small_subgoal_config() -> LoopConfig {
        LoopConfig {
            horizon: 2,
            threads: 1,
            subgoals: true,
            ..LoopConfig::default()
        }
    }

    /// A CEM planner over [`identity_model`], started on `env`'s episode.
    fn started_cem_planner(env: &Env, cfg: &LoopConfig) -> LatentPlanner {
        let model = Ensemble::new(vec![identity_model(env.obs_dim())]).unwrap();
        let mut p = LatentPlanner::new(model, OptimizerKind::Cem.default_config(), cfg).unwrap();
        p.start(env).unwrap();
        p
    }

    #[test]
    fn demo_frames_every_few_steps_add_subgoals() {
        let count = |every: usize| {
            let mut env = Env::new(SimConfig::default(), TaskKind::Reach, ObsMode::State).unwrap();
            env.reset(11);
            let cfg = LoopConfig {
                subgoal_source: super::SubgoalSource::Demo,
                subgoal_demo_every: every,
                ..small_subgoal_config()
            };
            let p = started_cem_planner(&env, &cfg);
            p.subgoals.latents.len()
        };
        let (sparse, dense) = (count(0), count(2));
        assert!(
            dense > sparse,
            "{dense} sub-goals every 2 steps, {sparse} without"
        );
    }

    #[test]
    fn a_restart_demonstration_can_be_spread_over_control_steps() {
        // Planning from one unchanging observation with patience 1: every phase stalls at once,
        // the last one too, which starts over from a demonstration of the scene.
        let run = |restart_steps: usize| {
            let mut env =
                Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
            let obs = env.reset(5);
            let cfg = LoopConfig {
                subgoal_patience: 1,
                subgoal_retries: 1,
                subgoal_restart_steps: restart_steps,
                ..small_subgoal_config()
            };
            let mut p = started_cem_planner(&env, &cfg);
            let mut calls = 0;
            while p.retries_left > 0 {
                p.plan(&env, &obs).unwrap();
                calls += 1;
                assert!(calls < 50, "no restart");
            }
            let mut pending_calls = 0;
            while p.pending_demo.is_some() {
                p.plan(&env, &obs).unwrap();
                pending_calls += 1;
                assert!(pending_calls < 50, "the demonstration never ended");
            }
            (pending_calls, p.subgoals.latents.clone())
        };
        let demo = sim::demo::keyframes(
            &{
                let mut e =
                    Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
                e.reset(5);
                e
            },
            0,
        )
        .unwrap();
        // All at once: the new sub-goals are in place in the step that started over.
        let (pending, whole) = run(0);
        assert_eq!(pending, 0);
        assert_eq!(whole, demo);
        // 4 demonstration steps per control step: the expert's ~30 steps take several steps,
        // and the sub-goals are the same.
        let (pending, spread) = run(4);
        assert!(pending >= 5, "{pending} steps");
        assert_eq!(spread, demo);
    }

    #[test]
    fn grip_targets_follow_the_pick_place_phases() {
        let mut env = Env::new(SimConfig::default(), TaskKind::PickPlace, ObsMode::State).unwrap();
        let obs = env.reset(5);
        let cfg = LoopConfig {
            grip_weight: 0.1,
            ..small_subgoal_config()
        };
        let model = Ensemble::new(vec![identity_model(obs.len())]).unwrap();
        let opt = OptimizerKind::Cem.default_config();
        let mut p = LatentPlanner::new(model, opt, &cfg).unwrap();
        assert_eq!(p.energy.target_weight, [0.0, 0.0, 0.0, 0.1]);
        p.start(&env).unwrap();
        // Open above the cube, open around it, closed on it, lifted, over the goal, lowered,
        // opened, clear of it (sim/src/subgoal.rs).
        let (o, c) = (-1.0, 1.0);
        assert_eq!(p.grip_targets, [o, o, c, c, c, c, o, o]);
        p.plan(&env, &obs).unwrap();
        assert_eq!(p.energy.action_target[3], p.grip_targets[p.subgoals.index]);
    }

    #[test]
    fn a_task_s_own_grip_weight_replaces_the_common_one_at_the_episode_start() {
        let cfg = LoopConfig {
            grip_weight: 0.1,
            grip_weight_by_task: std::collections::BTreeMap::from([(
                "pick_place".to_string(),
                1.0,
            )]),
            ..small_subgoal_config()
        };
        let mut weights = Vec::new();
        for task in [TaskKind::PickPlace, TaskKind::Push] {
            let mut env = Env::new(SimConfig::default(), task, ObsMode::State).unwrap();
            let obs = env.reset(5);
            let model = Ensemble::new(vec![identity_model(obs.len())]).unwrap();
            let opt = OptimizerKind::Cem.default_config();
            let mut p = LatentPlanner::new(model, opt, &cfg).unwrap();
            p.start(&env).unwrap();
            weights.push(p.energy.target_weight[super::GRIP_ACTION]);
        }
        assert_eq!(weights, [1.0, 0.1]);
    }
}
