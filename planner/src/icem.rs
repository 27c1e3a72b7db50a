//! iCEM (Pinneri et al., 2020): CEM with colored noise, a shrinking population, elites kept
//! across iterations and across control steps, and execution of the best sample.
//!
//! Iteration `i` draws `max(num_samples / population_decay^i, 2 num_elites)` sequences of
//! `1/f^beta` noise. Besides fresh draws it re-evaluates a fraction of the previous iteration's
//! elites (in iteration 0: the previous call's elites, shifted one step forward in time, the last
//! action repeated), and in the last iteration the current mean. Mean and std are refit to the
//! elites with momentum. The lowest-energy sequence seen is returned.

use crate::dims::Dims;
use crate::error::{PlanError, ensure};
use crate::optimizer::{
    Optimizer, Problem, SolveStats, begin_plan, finish, project, select_elites,
};
use crate::rollout::Rollout;
use crate::sampling::{ColorFilter, NoiseKey, SampleRequest};
use serde::{Deserialize, Serialize};

/// Settings of [`Icem`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IcemConfig {
    /// Sequences drawn in the first iteration, >= 2. Default 512.
    pub num_samples: usize,
    /// Elites the Gaussian is refit to, in `1..=num_samples / 2`. Default 64.
    pub num_elites: usize,
    /// Sampling rounds per call, >= 1. Default 4.
    pub iterations: usize,
    /// Initial standard deviation, in action units, > 0. Default 0.5.
    pub init_std: f32,
    /// Floor of the standard deviation, >= 0. Default 0.05.
    pub min_std: f32,
    /// Temporal color of the noise (0 white, 1 pink, 2 red), in `[0, 4]`. Default 2.
    pub noise_beta: f32,
    /// Population divisor per iteration, >= 1. Default 1.25.
    pub population_decay: f32,
    /// Fraction of the elites carried into the next iteration and the next call, in `[0, 1]`.
    /// Default 0.3.
    pub keep_elites_fraction: f32,
    /// Weight of the previous mean/std in the refit, in `[0, 1)`. Default 0.1.
    pub momentum: f32,
    /// Seed of the sampling streams. Default 0.
    pub seed: u64,
}

impl Default for IcemConfig {
    fn default() -> Self {
        Self {
            num_samples: 512,
            num_elites: 64,
            iterations: 4,
            init_std: 0.5,
            min_std: 0.05,
            noise_beta: 2.0,
            population_decay: 1.25,
            keep_elites_fraction: 0.3,
            momentum: 0.1,
            seed: 0,
        }
    }
}

impl IcemConfig {
    /// Range-checks every field; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        ensure(self.num_samples >= 2, "num_samples", || {
            format!("must be >= 2, got {}", self.num_samples)
        })?;
        ensure(
            (1..=self.num_samples / 2).contains(&self.num_elites),
            "num_elites",
            || {
                format!(
                    "must be in 1..={}, got {}",
                    self.num_samples / 2,
                    self.num_elites
                )
            },
        )?;
        ensure(self.iterations >= 1, "iterations", || {
            "must be >= 1, got 0".into()
        })?;
        ensure(
            self.init_std.is_finite() && self.init_std > 0.0,
            "init_std",
            || format!("must be > 0, got {}", self.init_std),
        )?;
        ensure(
            self.min_std.is_finite() && self.min_std >= 0.0,
            "min_std",
            || format!("must be >= 0, got {}", self.min_std),
        )?;
        ensure(
            self.population_decay.is_finite() && self.population_decay >= 1.0,
            "population_decay",
            || format!("must be >= 1, got {}", self.population_decay),
        )?;
        ensure(
            (0.0..=1.0).contains(&self.keep_elites_fraction),
            "keep_elites_fraction",
            || format!("must be in [0, 1], got {}", self.keep_elites_fraction),
        )?;
        ensure((0.0..1.0).contains(&self.momentum), "momentum", || {
            format!("must be in [0, 1), got {}", self.momentum)
        })
    }

    /// Sequences drawn in iteration `iteration` (see the module docs).
    pub fn population(&self, iteration: usize) -> usize {
        let n = (self.num_samples as f32 / self.population_decay.powi(iteration as i32)).round()
            as usize;
        n.clamp(2 * self.num_elites, self.num_samples)
    }

    fn kept(&self) -> usize {
        ((self.num_elites as f32 * self.keep_elites_fraction) as usize).min(self.num_elites)
    }
}

/// iCEM optimizer; see the module docs.
#[derive(Debug, Clone)]
pub struct Icem {
    cfg: IcemConfig,
    dims: Dims,
    call: u64,
    filter: ColorFilter,
    mean: Vec<f32>,
    std: Vec<f32>,
    /// `(num_samples, horizon, action_dim)`.
    actions: Vec<f32>,
    energies: Vec<f32>,
    idx: Vec<u32>,
    /// `(kept, horizon, action_dim)` elites carried to the next iteration or call.
    kept: Vec<f32>,
    num_kept: usize,
    best: Vec<f32>,
}

impl Icem {
    /// Builds the optimizer and all its buffers.
    pub fn new(cfg: IcemConfig, dims: Dims) -> Result<Self, PlanError> {
        cfg.validate()?;
        dims.validate()?;
        let (pl, n) = (dims.plan_len(), cfg.num_samples);
        Ok(Self {
            filter: ColorFilter::new(dims.horizon, cfg.noise_beta)?,
            mean: vec![0.0; pl],
            std: vec![0.0; pl],
            actions: vec![0.0; n * pl],
            energies: vec![0.0; n],
            idx: vec![0; n],
            kept: vec![0.0; cfg.kept() * pl],
            num_kept: 0,
            best: vec![0.0; pl],
            call: 0,
            cfg,
            dims,
        })
    }

    /// Shifts the kept elites one step forward in time, repeating the last action.
    fn shift_kept(&mut self) {
        let (pl, na) = (self.dims.plan_len(), self.dims.action_dim);
        for row in self.kept.chunks_exact_mut(pl).take(self.num_kept) {
            // The last action stays in place, so it ends up repeated.
            row.copy_within(na.., 0);
        }
    }
}

impl<R: Rollout> Optimizer<R> for Icem {
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
        project(energy, problem.warm_start, &mut self.mean);
        self.std.fill(self.cfg.init_std);
        self.best.copy_from_slice(&self.mean);
        if self.call > 0 && self.dims.horizon > 1 {
            self.shift_kept();
        } else {
            self.num_kept = 0;
        }
        let mut stopped_early = false;
        let last = self.cfg.iterations - 1;
        for it in 0..self.cfg.iterations {
            if !clock.begin_iteration() {
                stopped_early = true;
                break;
            }
            let n = self.cfg.population(it);
            // Fixed samples first: the kept elites, then (last iteration) the mean.
            let mut fixed = self.num_kept.min(n);
            self.actions[..fixed * pl].copy_from_slice(&self.kept[..fixed * pl]);
            if it == last && fixed < n {
                self.actions[fixed * pl..(fixed + 1) * pl].copy_from_slice(&self.mean);
                fixed += 1;
            }
            for row in self.actions[..fixed * pl].chunks_exact_mut(pl) {
                energy.clamp_plan(row);
            }
            let req = SampleRequest {
                mean: &self.mean,
                std: &self.std,
                key: NoiseKey {
                    seed: self.cfg.seed,
                    call: self.call,
                    iteration: it as u32,
                },
                filter: &self.filter,
                fixed,
                num_samples: n,
            };
            rollout.sample_and_evaluate(
                problem.z0,
                energy,
                &req,
                &mut self.actions[..n * pl],
                &mut self.energies[..n],
            )?;
            let prev_best = stats.best_energy;
            stats.record(&self.energies[..n]);
            let valid = select_elites(&self.energies[..n], &mut self.idx, self.cfg.num_elites);
            if valid == 0 {
                continue;
            }
            let b = self.idx[0] as usize;
            if self.energies[b] < prev_best {
                self.best
                    .copy_from_slice(&self.actions[b * pl..(b + 1) * pl]);
            }
            let keep = self.cfg.kept().min(valid);
            for (dst, &i) in self.kept.chunks_exact_mut(pl).zip(&self.idx[..keep]) {
                dst.copy_from_slice(&self.actions[i as usize * pl..(i as usize + 1) * pl]);
            }
            self.num_kept = keep;
            let inv = 1.0 / valid as f32;
            let mo = self.cfg.momentum;
            for j in 0..pl {
                let m = self.idx[..valid]
                    .iter()
                    .map(|&i| self.actions[i as usize * pl + j])
                    .sum::<f32>()
                    * inv;
                let v = self.idx[..valid]
                    .iter()
                    .map(|&i| (self.actions[i as usize * pl + j] - m).powi(2))
                    .sum::<f32>()
                    * inv;
                self.mean[j] = mo * self.mean[j] + (1.0 - mo) * m;
                self.std[j] = (mo * self.std[j] + (1.0 - mo) * v.sqrt()).max(self.cfg.min_std);
            }
        }
        self.call += 1;
        plan.copy_from_slice(&self.best);
        finish(stats, &clock, stopped_early, energy, plan);
        Ok(())
    }

    fn reset(&mut self) {
        self.call = 0;
        self.num_kept = 0;
    }
}
