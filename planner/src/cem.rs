//! Cross-entropy method: sample around a Gaussian, refit it to the lowest-energy samples.
//!
//! Each iteration draws `num_samples` sequences `clamp(mean + std * eps)`, evaluates them, takes
//! the `num_elites` lowest, and sets `mean` and `std` to the elites' mean and population standard
//! deviation, optionally smoothed with the previous values and floored at `min_std`. Returns the
//! final mean (or the best sample seen, if so configured). With the defaults this is exactly the
//! W1 reference CEM.

use crate::dims::Dims;
use crate::error::{PlanError, ensure};
use crate::optimizer::{
    Optimizer, Problem, SolveStats, SolveStatus, begin_plan, finish, project, select_elites,
};
use crate::rollout::Rollout;
use crate::sampling::{ColorFilter, NoiseKey, SampleRequest};
use serde::{Deserialize, Serialize};

/// Settings of [`Cem`]. Defaults are the W1 reference settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CemConfig {
    /// Sequences drawn per iteration, >= 2. Default 512.
    pub num_samples: usize,
    /// Lowest-energy samples the Gaussian is refit to, in `1..=num_samples`. Default 64.
    pub num_elites: usize,
    /// Sampling rounds per call, >= 1. Default 4.
    pub iterations: usize,
    /// Initial standard deviation of every action coordinate, in action units, > 0. Default 0.5.
    pub init_std: f32,
    /// Floor of the standard deviation after each refit, >= 0. Default 0 (none).
    pub min_std: f32,
    /// Weight of the previous mean in the update, in `[0, 1)`. Default 0 (no momentum).
    pub mean_smoothing: f32,
    /// Weight of the previous std in the update, in `[0, 1)`. Default 0.
    pub std_smoothing: f32,
    /// Stop early once every std is below this, >= 0. Default 0 (never).
    pub convergence_std: f32,
    /// Return the lowest-energy sample seen instead of the final mean. Default false.
    pub return_best_sample: bool,
    /// Make the warm start (the MPC loop's shifted previous plan, projected onto the bounds)
    /// sample 0 of every iteration, so that a plan that is still the best stays a candidate
    /// and an elite instead of being lost to sampling noise. Default false.
    pub keep_warm_start: bool,
    /// Seed of the sampling streams. Default 0.
    pub seed: u64,
}

impl Default for CemConfig {
    fn default() -> Self {
        Self {
            num_samples: 512,
            num_elites: 64,
            iterations: 4,
            init_std: 0.5,
            min_std: 0.0,
            mean_smoothing: 0.0,
            std_smoothing: 0.0,
            convergence_std: 0.0,
            return_best_sample: false,
            keep_warm_start: false,
            seed: 0,
        }
    }
}

impl CemConfig {
    /// Range-checks every field; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        ensure(self.num_samples >= 2, "num_samples", || {
            format!("must be >= 2, got {}", self.num_samples)
        })?;
        ensure(
            (1..=self.num_samples).contains(&self.num_elites),
            "num_elites",
            || {
                format!(
                    "must be in 1..={}, got {}",
                    self.num_samples, self.num_elites
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
            (0.0..1.0).contains(&self.mean_smoothing),
            "mean_smoothing",
            || format!("must be in [0, 1), got {}", self.mean_smoothing),
        )?;
        ensure(
            (0.0..1.0).contains(&self.std_smoothing),
            "std_smoothing",
            || format!("must be in [0, 1), got {}", self.std_smoothing),
        )?;
        ensure(
            self.convergence_std.is_finite() && self.convergence_std >= 0.0,
            "convergence_std",
            || format!("must be >= 0, got {}", self.convergence_std),
        )
    }
}

/// Cross-entropy method optimizer; see the module docs.
#[derive(Debug, Clone)]
pub struct Cem {
    cfg: CemConfig,
    dims: Dims,
    call: u64,
    filter: ColorFilter,
    /// `(horizon, action_dim)`.
    mean: Vec<f32>,
    std: Vec<f32>,
    /// `(num_samples, horizon, action_dim)`.
    actions: Vec<f32>,
    /// `(num_samples,)`.
    energies: Vec<f32>,
    idx: Vec<u32>,
    /// `(horizon, action_dim)` best sample seen in the current call.
    best: Vec<f32>,
    num_valid_elites: usize,
}

impl Cem {
    /// Builds the optimizer and all its buffers.
    pub fn new(cfg: CemConfig, dims: Dims) -> Result<Self, PlanError> {
        cfg.validate()?;
        dims.validate()?;
        let (pl, n) = (dims.plan_len(), cfg.num_samples);
        Ok(Self {
            filter: ColorFilter::white(dims.horizon),
            mean: vec![0.0; pl],
            std: vec![0.0; pl],
            actions: vec![0.0; n * pl],
            energies: vec![0.0; n],
            idx: vec![0; n],
            best: vec![0.0; pl],
            num_valid_elites: 0,
            call: 0,
            cfg,
            dims,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CemConfig {
        &self.cfg
    }

    /// Copies up to `out.len() / plan_len` of the last iteration's elites, best first, into
    /// `out` `(m, horizon, action_dim)`; returns how many were written.
    pub fn top_candidates(&self, out: &mut [f32]) -> usize {
        let pl = self.dims.plan_len();
        let m = (out.len() / pl).min(self.num_valid_elites);
        for (dst, &i) in out.chunks_exact_mut(pl).zip(&self.idx[..m]) {
            dst.copy_from_slice(&self.actions[i as usize * pl..(i as usize + 1) * pl]);
        }
        m
    }

    /// The current sampling mean, `(horizon, action_dim)`.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }
}

impl<R: Rollout> Optimizer<R> for Cem {
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
        self.num_valid_elites = 0;
        let (n, k) = (self.cfg.num_samples, self.cfg.num_elites);
        let fixed = usize::from(self.cfg.keep_warm_start);
        if fixed == 1 {
            // Row 0 is an input of every sampling round; the rollout leaves it as it is.
            self.actions[..pl].copy_from_slice(&self.mean);
        }
        let mut stopped_early = false;
        for it in 0..self.cfg.iterations {
            if !clock.begin_iteration() {
                stopped_early = true;
                break;
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
                &mut self.actions,
                &mut self.energies,
            )?;
            let prev_best = stats.best_energy;
            stats.record(&self.energies);
            let valid = select_elites(&self.energies, &mut self.idx, k);
            self.num_valid_elites = valid;
            if valid == 0 {
                continue;
            }
            let b = self.idx[0] as usize;
            if self.energies[b] < prev_best {
                self.best
                    .copy_from_slice(&self.actions[b * pl..(b + 1) * pl]);
            }
            refit(
                &self.actions,
                &self.idx[..valid],
                pl,
                &mut self.mean,
                &mut self.std,
                &self.cfg,
            );
            if self.cfg.convergence_std > 0.0
                && self.std.iter().all(|&s| s < self.cfg.convergence_std)
            {
                stats.status = SolveStatus::Converged;
                break;
            }
        }
        self.call += 1;
        let src = if self.cfg.return_best_sample {
            &self.best
        } else {
            &self.mean
        };
        plan.copy_from_slice(src);
        finish(stats, &clock, stopped_early, energy, plan);
        Ok(())
    }

    fn reset(&mut self) {
        self.call = 0;
    }
}

/// Refits `mean` and `std` `(horizon, action_dim)` to the elite rows `elites` of `actions`.
fn refit(
    actions: &[f32],
    elites: &[u32],
    pl: usize,
    mean: &mut [f32],
    std: &mut [f32],
    cfg: &CemConfig,
) {
    let inv = 1.0 / elites.len() as f32;
    for j in 0..pl {
        let mut s = 0.0f32;
        for &i in elites {
            s += actions[i as usize * pl + j];
        }
        let m = s * inv;
        let mut v = 0.0f32;
        for &i in elites {
            let d = actions[i as usize * pl + j] - m;
            v += d * d;
        }
        let sd = (v * inv).sqrt();
        mean[j] = cfg.mean_smoothing * mean[j] + (1.0 - cfg.mean_smoothing) * m;
        std[j] = (cfg.std_smoothing * std[j] + (1.0 - cfg.std_smoothing) * sd).max(cfg.min_std);
    }
}
