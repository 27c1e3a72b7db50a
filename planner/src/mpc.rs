//! [`Mpc`]: the receding-horizon loop around an optimizer.
//!
//! Each [`Mpc::solve`] warm-starts from the previous plan shifted one step (the last action
//! repeated), gives the optimizer a deadline, and checks what comes back. The returned plan is
//! always finite and inside the bounds: when every sample was invalid, or the plan is not finite,
//! it falls back to the shifted previous plan, or to the hold action when there is none, and says
//! so in [`SolveStats::status`].

use crate::dims::Dims;
use crate::energy::{Energy, clamp_action};
use crate::error::{PlanError, check_len, ensure};
use crate::optimizer::{Optimizer, Problem, SolveStats, SolveStatus};
use crate::rollout::Rollout;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Settings of [`Mpc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MpcConfig {
    /// Time budget of one solve in milliseconds, >= 0; 0 means no deadline. Default 0.
    pub deadline_ms: f64,
    /// `(action_dim,)` action used when nothing better exists; empty means the midpoint of the
    /// bounds. Default empty.
    pub hold_action: Vec<f32>,
}

impl Default for MpcConfig {
    fn default() -> Self {
        Self {
            deadline_ms: 0.0,
            hold_action: Vec::new(),
        }
    }
}

impl MpcConfig {
    /// Range-checks every field; the error names the key.
    pub fn validate(&self, dims: &Dims) -> Result<(), PlanError> {
        ensure(
            self.deadline_ms.is_finite() && self.deadline_ms >= 0.0,
            "deadline_ms",
            || format!("must be finite and >= 0, got {}", self.deadline_ms),
        )?;
        ensure(
            self.hold_action.is_empty() || self.hold_action.len() == dims.action_dim,
            "hold_action",
            || {
                format!(
                    "must be empty or have {} values, got {}",
                    dims.action_dim,
                    self.hold_action.len()
                )
            },
        )?;
        ensure(
            self.hold_action.iter().all(|v| v.is_finite()),
            "hold_action",
            || "must be finite".into(),
        )
    }
}

/// Receding-horizon controller; see the module docs.
pub struct Mpc<R: Rollout, O: Optimizer<R>> {
    rollout: R,
    optimizer: O,
    cfg: MpcConfig,
    dims: Dims,
    /// `(horizon, action_dim)` buffers: previous plan, warm start, current plan.
    prev: Vec<f32>,
    has_prev: bool,
    warm: Vec<f32>,
    plan: Vec<f32>,
    stats: SolveStats,
}

impl<R: Rollout, O: Optimizer<R>> Mpc<R, O> {
    /// Pairs a rollout with an optimizer of the same dimensions.
    pub fn new(rollout: R, optimizer: O, cfg: MpcConfig) -> Result<Self, PlanError> {
        let dims = rollout.dims();
        let od = optimizer.dims();
        for (name, a, b) in [
            ("horizon", dims.horizon, od.horizon),
            ("action_dim", dims.action_dim, od.action_dim),
        ] {
            if a != b {
                return Err(PlanError::DimensionMismatch {
                    name,
                    expected: b,
                    found: a,
                });
            }
        }
        cfg.validate(&dims)?;
        let pl = dims.plan_len();
        Ok(Self {
            stats: SolveStats::with_capacity(optimizer.max_iterations()),
            rollout,
            optimizer,
            cfg,
            dims,
            prev: vec![0.0; pl],
            has_prev: false,
            warm: vec![0.0; pl],
            plan: vec![0.0; pl],
        })
    }

    /// Plans from latent `z0` `(latent_dim,)`. Returns the plan `(horizon, action_dim)`; its
    /// first row is the action to execute now.
    pub fn solve(&mut self, z0: &[f32], energy: &Energy) -> Result<&[f32], PlanError> {
        self.solve_since(Instant::now(), z0, energy)
    }

    /// [`Mpc::solve`] with the deadline counted from `started` instead of from this call. A
    /// caller that does its own work in the control step before planning (encoding the
    /// observation, switching sub-goals) passes the instant the step began, so that the step as
    /// a whole keeps the deadline. When that work has used up the budget, the optimizer runs no
    /// iteration and the step falls back to the shifted previous plan (or the hold action).
    pub fn solve_since(
        &mut self,
        started: Instant,
        z0: &[f32],
        energy: &Energy,
    ) -> Result<&[f32], PlanError> {
        let start = Instant::now();
        check_len("z0", z0.len(), self.dims.latent_dim)?;
        energy.validate(&self.dims)?;
        let na = self.dims.action_dim;
        if self.has_prev {
            // Shift by one step; the last action is repeated.
            self.warm.copy_from_slice(&self.prev);
            self.warm.copy_within(na.., 0);
        } else {
            self.fill_hold(energy);
        }
        energy.clamp_plan(&mut self.warm);
        let deadline = (self.cfg.deadline_ms > 0.0)
            .then(|| started + Duration::from_secs_f64(self.cfg.deadline_ms / 1000.0));
        let ok = if z0.iter().all(|v| v.is_finite()) {
            let problem = Problem {
                z0,
                energy,
                warm_start: &self.warm,
                deadline,
            };
            self.optimizer
                .plan(&mut self.rollout, &problem, &mut self.plan, &mut self.stats)?;
            self.stats.status != SolveStatus::NumericalFailure
                && self.plan.iter().all(|v| v.is_finite())
        } else {
            self.stats.reset();
            false
        };
        if !ok {
            if self.has_prev {
                self.plan.copy_from_slice(&self.warm);
                self.stats.status = SolveStatus::FallbackShiftedPlan;
            } else {
                self.fill_hold(energy);
                self.plan.copy_from_slice(&self.warm);
                self.stats.status = SolveStatus::FallbackHold;
            }
        }
        energy.clamp_plan(&mut self.plan);
        self.prev.copy_from_slice(&self.plan);
        self.has_prev = true;
        self.stats.elapsed = start.elapsed();
        Ok(&self.plan)
    }

    fn fill_hold(&mut self, energy: &Energy) {
        let na = self.dims.action_dim;
        for row in self.warm.chunks_exact_mut(na) {
            for (j, v) in row.iter_mut().enumerate() {
                let (lo, hi) = (energy.lower[j], energy.upper[j]);
                let hold = self
                    .cfg
                    .hold_action
                    .get(j)
                    .copied()
                    .unwrap_or(0.5 * (lo + hi));
                *v = clamp_action(hold, lo, hi);
            }
        }
    }

    /// The first action of the last plan, `(action_dim,)`.
    pub fn action(&self) -> &[f32] {
        &self.plan[..self.dims.action_dim]
    }

    /// The last plan, `(horizon, action_dim)`: bounded and finite.
    pub fn plan(&self) -> &[f32] {
        &self.plan
    }

    /// Statistics of the last solve.
    pub fn stats(&self) -> &SolveStats {
        &self.stats
    }

    /// Forgets the previous plan and the optimizer's carried state.
    pub fn reset(&mut self) {
        self.has_prev = false;
        self.optimizer.reset();
    }

    /// The rollout.
    pub fn rollout_mut(&mut self) -> &mut R {
        &mut self.rollout
    }
}
