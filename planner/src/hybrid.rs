//! Hybrid: a sampling round (CEM) finds good basins, then gradient steps polish the best of them.
//!
//! CEM runs first; its final mean and its best elites become the starts of the gradient
//! optimizer (as many as it has starts; any left over are filled with the mean). The lowest
//! energy found by either stage is returned.

use crate::cem::{Cem, CemConfig};
use crate::dims::Dims;
use crate::error::{PlanError, check_len};
use crate::gradient::{Gradient, GradientConfig};
use crate::optimizer::{Clock, Optimizer, Problem, SolveStats, finish};
use crate::rollout::RolloutGrad;
use serde::{Deserialize, Serialize};

/// Settings of [`Hybrid`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HybridConfig {
    /// The sampling stage. Default: CEM with 512 samples, 64 elites, 3 iterations.
    pub sampler: CemConfig,
    /// The refinement stage; `num_starts` candidates are refined. Default: 8 starts, 10 steps.
    pub refine: GradientConfig,
}

impl Default for HybridConfig {
    fn default() -> Self {
        Self {
            sampler: CemConfig {
                iterations: 3,
                ..CemConfig::default()
            },
            refine: GradientConfig {
                num_starts: 8,
                steps: 10,
                learning_rate: 0.02,
                ..GradientConfig::default()
            },
        }
    }
}

impl HybridConfig {
    /// Range-checks both stages; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        self.sampler.validate()?;
        self.refine.validate()
    }
}

/// CEM followed by multi-start Adam; see the module docs.
#[derive(Debug, Clone)]
pub struct Hybrid {
    cem: Cem,
    grad: Gradient,
    dims: Dims,
    /// `(horizon, action_dim)` result of the sampling stage.
    sampled: Vec<f32>,
    sampler_stats: SolveStats,
}

impl Hybrid {
    /// Builds both stages and their buffers.
    pub fn new(cfg: HybridConfig, dims: Dims) -> Result<Self, PlanError> {
        cfg.validate()?;
        Ok(Self {
            sampler_stats: SolveStats::with_capacity(cfg.sampler.iterations),
            cem: Cem::new(cfg.sampler, dims)?,
            grad: Gradient::new(cfg.refine, dims)?,
            sampled: vec![0.0; dims.plan_len()],
            dims,
        })
    }
}

impl<R: RolloutGrad> Optimizer<R> for Hybrid {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn max_iterations(&self) -> usize {
        <Cem as Optimizer<R>>::max_iterations(&self.cem)
            + <Gradient as Optimizer<R>>::max_iterations(&self.grad)
    }

    fn plan(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<(), PlanError> {
        let pl = self.dims.plan_len();
        check_len("plan", plan.len(), pl)?;
        let mut clock = Clock::new(problem.deadline);
        self.cem
            .plan(rollout, problem, &mut self.sampled, &mut self.sampler_stats)?;
        stats.reset();
        for &e in &self.sampler_stats.energy_per_iteration {
            stats.record(&[e]);
        }
        stats.invalid_samples = self.sampler_stats.invalid_samples;
        let starts = self.grad.starts_mut();
        starts[..pl].copy_from_slice(&self.sampled);
        let found = self.cem.top_candidates(&mut starts[pl..]);
        for row in starts[pl * (1 + found)..].chunks_exact_mut(pl) {
            row.copy_from_slice(&self.sampled);
        }
        let mut stopped = self.sampler_stats.status == crate::SolveStatus::Deadline;
        if !stopped {
            stopped = self
                .grad
                .refine(rollout, problem, &mut clock, plan, stats)?;
        } else {
            plan.copy_from_slice(&self.sampled);
        }
        finish(stats, &clock, stopped, problem.energy, plan);
        Ok(())
    }

    fn reset(&mut self) {
        <Cem as Optimizer<R>>::reset(&mut self.cem);
        <Gradient as Optimizer<R>>::reset(&mut self.grad);
    }
}
