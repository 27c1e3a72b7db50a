//! Model-predictive path integral control: an exponentially weighted average of samples.
//!
//! Each iteration draws `clamp(U + sigma * eps)`, evaluates, and sets `U` to the average of the
//! clamped samples weighted by `exp(-(E - E_min) / temperature)`. Subtracting the minimum keeps
//! the weights in `(0, 1]` whatever the energy scale; samples with a non-finite energy get weight
//! zero. Returns `U`. With the defaults this is exactly the W1 reference MPPI.

use crate::dims::Dims;
use crate::error::{PlanError, ensure};
use crate::optimizer::{Optimizer, Problem, SolveStats, begin_plan, finish, project};
use crate::rollout::Rollout;
use crate::sampling::{ColorFilter, NoiseKey, SampleRequest};
use serde::{Deserialize, Serialize};

/// Settings of [`Mppi`]. Defaults are the W1 reference settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MppiConfig {
    /// Sequences drawn per iteration, >= 1. Default 512.
    pub num_samples: usize,
    /// Sampling rounds per call, >= 1. Default 4.
    pub iterations: usize,
    /// Standard deviation of the sampling noise, in action units, > 0. Default 0.5.
    pub noise_std: f32,
    /// Temperature `lambda` of the weights, in energy units, > 0. Default 0.1.
    pub temperature: f32,
    /// Temporal color of the noise (0 white, 1 pink, 2 red), in `[0, 4]`. Default 0.
    pub noise_beta: f32,
    /// Seed of the sampling streams. Default 0.
    pub seed: u64,
}

impl Default for MppiConfig {
    fn default() -> Self {
        Self {
            num_samples: 512,
            iterations: 4,
            noise_std: 0.5,
            temperature: 0.1,
            noise_beta: 0.0,
            seed: 0,
        }
    }
}

impl MppiConfig {
    /// Range-checks every field; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        ensure(self.num_samples >= 1, "num_samples", || {
            "must be >= 1, got 0".into()
        })?;
        ensure(self.iterations >= 1, "iterations", || {
            "must be >= 1, got 0".into()
        })?;
        ensure(
            self.noise_std.is_finite() && self.noise_std > 0.0,
            "noise_std",
            || format!("must be > 0, got {}", self.noise_std),
        )?;
        ensure(
            self.temperature.is_finite() && self.temperature > 0.0,
            "temperature",
            || format!("must be > 0, got {}", self.temperature),
        )
    }
}

/// MPPI optimizer; see the module docs.
#[derive(Debug, Clone)]
pub struct Mppi {
    cfg: MppiConfig,
    dims: Dims,
    call: u64,
    filter: ColorFilter,
    /// `(horizon, action_dim)` current control sequence `U`.
    u: Vec<f32>,
    std: Vec<f32>,
    /// `(num_samples, horizon, action_dim)`.
    actions: Vec<f32>,
    /// `(num_samples,)`.
    energies: Vec<f32>,
    /// `(horizon, action_dim)` accumulator.
    acc: Vec<f64>,
}

impl Mppi {
    /// Builds the optimizer and all its buffers.
    pub fn new(cfg: MppiConfig, dims: Dims) -> Result<Self, PlanError> {
        cfg.validate()?;
        dims.validate()?;
        let (pl, n) = (dims.plan_len(), cfg.num_samples);
        Ok(Self {
            filter: ColorFilter::new(dims.horizon, cfg.noise_beta)?,
            u: vec![0.0; pl],
            std: vec![cfg.noise_std; pl],
            actions: vec![0.0; n * pl],
            energies: vec![0.0; n],
            acc: vec![0.0; pl],
            call: 0,
            cfg,
            dims,
        })
    }
}

impl<R: Rollout> Optimizer<R> for Mppi {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn max_iterations(&self) -> usize {
        self.cfg.iterations
    }

    fn plan(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<(), PlanError> {
        let pl = self.dims.plan_len();
        let mut clock = begin_plan(&self.dims, plan, problem, stats)?;
        let energy = problem.energy;
        project(energy, problem.warm_start, &mut self.u);
        let n = self.cfg.num_samples;
        let mut stopped_early = false;
        for it in 0..self.cfg.iterations {
            if !clock.begin_iteration() {
                stopped_early = true;
                break;
            }
            let req = SampleRequest {
                mean: &self.u,
                std: &self.std,
                key: NoiseKey {
                    seed: self.cfg.seed,
                    call: self.call,
                    iteration: it as u32,
                },
                filter: &self.filter,
                fixed: 0,
                num_samples: n,
            };
            rollout.sample_and_evaluate(
                problem.z0,
                energy,
                &req,
                &mut self.actions,
                &mut self.energies,
            )?;
            stats.record(&self.energies);
            let e_min = self
                .energies
                .iter()
                .copied()
                .filter(|e| e.is_finite())
                .fold(f32::INFINITY, f32::min);
            if !e_min.is_finite() {
                continue;
            }
            self.acc.fill(0.0);
            let mut total = 0.0f64;
            let inv_t = 1.0 / self.cfg.temperature as f64;
            for (row, &e) in self.actions.chunks_exact(pl).zip(&self.energies) {
                if !e.is_finite() {
                    continue;
                }
                let w = (-(e as f64 - e_min as f64) * inv_t).exp();
                total += w;
                for (a, &v) in self.acc.iter_mut().zip(row) {
                    *a += w * v as f64;
                }
            }
            // total >= 1: the minimum's own weight is exactly 1.
            for (u, &a) in self.u.iter_mut().zip(&self.acc) {
                *u = (a / total) as f32;
            }
        }
        self.call += 1;
        plan.copy_from_slice(&self.u);
        finish(stats, &clock, stopped_early, energy, plan);
        Ok(())
    }

    fn reset(&mut self) {
        self.call = 0;
    }
}
