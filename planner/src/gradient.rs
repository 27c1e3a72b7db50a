//! Gradient descent on the action sequence: Adam from several starts in parallel.
//!
//! Starts are the warm start (if `warm_start_starts` is 1) and `clamp(warm_start + init_std * eps)`,
//! `eps` white or, with `init_noise_beta > 0`, colored over time as in iCEM (smoother starts).
//! Every step evaluates all starts with their gradients through [`RolloutGrad`], applies PyTorch's
//! Adam update, and projects onto the bounds. A final evaluation scores the last iterates; the
//! lowest-energy sequence seen at any evaluation is returned. With the defaults this is exactly
//! the W1 reference gradient planner.

use crate::dims::Dims;
use crate::energy::Energy;
use crate::error::{PlanError, ensure};
use crate::optimizer::{Clock, Optimizer, Problem, SolveStats, begin_plan, finish, project};
use crate::rollout::RolloutGrad;
use crate::sampling::{ColorFilter, NoiseKey, Stream};
use serde::{Deserialize, Serialize};

/// Settings of [`Gradient`]. Defaults are the W1 reference settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GradientConfig {
    /// Sequences optimized in parallel, >= 1. Default 32.
    pub num_starts: usize,
    /// Adam steps per call, >= 1. Default 20.
    pub steps: usize,
    /// Adam learning rate, in action units per step, > 0. Default 0.05.
    pub learning_rate: f32,
    /// Adam first-moment decay, in `[0, 1)`. Default 0.9.
    pub beta1: f32,
    /// Adam second-moment decay, in `[0, 1)`. Default 0.999.
    pub beta2: f32,
    /// Adam denominator epsilon, > 0. Default 1e-8.
    pub epsilon: f32,
    /// Std of the random starts around the warm start, in action units, >= 0. Default 0.5.
    pub init_std: f32,
    /// Exponent of the starts' `1/f^beta` noise over time, in `[0, 4]`: 0 white, 2 as iCEM.
    /// Default 0.
    pub init_noise_beta: f32,
    /// Whether start 0 is the warm start itself (0 or 1). Default 0.
    pub warm_start_starts: usize,
    /// Seed of the start streams. Default 0.
    pub seed: u64,
}

impl Default for GradientConfig {
    fn default() -> Self {
        Self {
            num_starts: 32,
            steps: 20,
            learning_rate: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            init_std: 0.5,
            init_noise_beta: 0.0,
            warm_start_starts: 0,
            seed: 0,
        }
    }
}

impl GradientConfig {
    /// Range-checks every field; the error names the key.
    pub fn validate(&self) -> Result<(), PlanError> {
        ensure(self.num_starts >= 1, "num_starts", || {
            "must be >= 1, got 0".into()
        })?;
        ensure(self.steps >= 1, "steps", || "must be >= 1, got 0".into())?;
        ensure(
            self.learning_rate.is_finite() && self.learning_rate > 0.0,
            "learning_rate",
            || format!("must be > 0, got {}", self.learning_rate),
        )?;
        ensure((0.0..1.0).contains(&self.beta1), "beta1", || {
            format!("must be in [0, 1), got {}", self.beta1)
        })?;
        ensure((0.0..1.0).contains(&self.beta2), "beta2", || {
            format!("must be in [0, 1), got {}", self.beta2)
        })?;
        ensure(
            self.epsilon.is_finite() && self.epsilon > 0.0,
            "epsilon",
            || format!("must be > 0, got {}", self.epsilon),
        )?;
        ensure(
            self.init_std.is_finite() && self.init_std >= 0.0,
            "init_std",
            || format!("must be >= 0, got {}", self.init_std),
        )?;
        ensure(
            self.init_noise_beta.is_finite() && (0.0..=4.0).contains(&self.init_noise_beta),
            "init_noise_beta",
            || format!("must be in [0, 4], got {}", self.init_noise_beta),
        )?;
        ensure(self.warm_start_starts <= 1, "warm_start_starts", || {
            format!("must be 0 or 1, got {}", self.warm_start_starts)
        })
    }
}

/// Multi-start Adam optimizer; see the module docs.
#[derive(Debug, Clone)]
pub struct Gradient {
    cfg: GradientConfig,
    dims: Dims,
    /// Colors the starts' noise over time.
    filter: ColorFilter,
    call: u64,
    /// `(num_starts, horizon, action_dim)` iterates, gradients and Adam moments.
    actions: Vec<f32>,
    grads: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    /// `(num_starts,)`.
    energies: Vec<f32>,
    /// `(horizon, action_dim)` best sequence seen.
    best: Vec<f32>,
}

impl Gradient {
    /// Builds the optimizer and all its buffers.
    pub fn new(cfg: GradientConfig, dims: Dims) -> Result<Self, PlanError> {
        cfg.validate()?;
        dims.validate()?;
        let (pl, n) = (dims.plan_len(), cfg.num_starts);
        let filter = ColorFilter::new(dims.horizon, cfg.init_noise_beta)?;
        Ok(Self {
            filter,
            actions: vec![0.0; n * pl],
            grads: vec![0.0; n * pl],
            m: vec![0.0; n * pl],
            v: vec![0.0; n * pl],
            energies: vec![0.0; n],
            best: vec![0.0; pl],
            call: 0,
            cfg,
            dims,
        })
    }

    /// Mutable access to the starts `(num_starts, horizon, action_dim)`, for callers that seed
    /// them before [`Gradient::refine`].
    pub fn starts_mut(&mut self) -> &mut [f32] {
        &mut self.actions
    }

    /// Number of parallel starts.
    pub fn num_starts(&self) -> usize {
        self.cfg.num_starts
    }

    /// Runs Adam from the current starts; `stats` is appended to, not reset.
    pub(crate) fn refine<R: RolloutGrad>(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        clock: &mut Clock,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<bool, PlanError> {
        let pl = self.dims.plan_len();
        let energy = problem.energy;
        for row in self.actions.chunks_exact_mut(pl) {
            energy.clamp_plan(row);
        }
        self.m.fill(0.0);
        self.v.fill(0.0);
        self.best.copy_from_slice(&self.actions[..pl]);
        let mut best_e = f32::INFINITY;
        let mut stopped_early = false;
        for step in 1..=self.cfg.steps {
            if !clock.begin_iteration() {
                stopped_early = true;
                break;
            }
            rollout.evaluate_grad(
                problem.z0,
                energy,
                &self.actions,
                &mut self.energies,
                &mut self.grads,
            )?;
            stats.record(&self.energies);
            self.keep_best(&mut best_e);
            self.adam_step(step, energy);
        }
        if !stopped_early {
            rollout.evaluate(problem.z0, energy, &self.actions, &mut self.energies)?;
            self.keep_best(&mut best_e);
            stats.best_energy = stats.best_energy.min(best_e);
        }
        plan.copy_from_slice(&self.best);
        Ok(stopped_early)
    }

    /// Fills the starts for this call: the projected warm start, plus colored noise for every
    /// start after the first `warm_start_starts`; advances the call counter.
    fn draw_starts(&mut self, energy: &Energy, warm_start: &[f32]) {
        let pl = self.dims.plan_len();
        let (std, warm) = (self.cfg.init_std, self.cfg.warm_start_starts);
        let key = NoiseKey {
            seed: self.cfg.seed,
            call: self.call,
            iteration: 0,
        };
        let rows = self
            .actions
            .chunks_exact_mut(pl)
            .zip(self.grads.chunks_exact_mut(pl));
        for (k, (row, noise)) in rows.enumerate() {
            project(energy, warm_start, row);
            if k >= warm {
                Stream::new(key, k as u64).fill_normal(noise);
                self.filter.apply(noise, self.dims.action_dim);
                for (v, &e) in row.iter_mut().zip(noise.iter()) {
                    *v += std * e;
                }
            }
        }
        self.call += 1;
    }

    fn keep_best(&mut self, best_e: &mut f32) {
        let pl = self.dims.plan_len();
        for (i, &e) in self.energies.iter().enumerate() {
            if e.is_finite() && e < *best_e {
                *best_e = e;
                self.best
                    .copy_from_slice(&self.actions[i * pl..(i + 1) * pl]);
            }
        }
    }

    /// One Adam update (PyTorch's formula) of every start, then projection onto the bounds.
    fn adam_step(&mut self, step: usize, energy: &Energy) {
        let c = &self.cfg;
        let bc1 = 1.0 - c.beta1.powi(step as i32);
        let bc2 = 1.0 - c.beta2.powi(step as i32);
        let step_size = c.learning_rate / bc1;
        let bc2_sqrt = bc2.sqrt();
        let na = self.dims.action_dim;
        for (i, (((a, &g), m), v)) in self
            .actions
            .iter_mut()
            .zip(&self.grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
            .enumerate()
        {
            *m = c.beta1 * *m + (1.0 - c.beta1) * g;
            *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
            let denom = v.sqrt() / bc2_sqrt + c.epsilon;
            let j = i % na;
            *a = crate::energy::clamp_action(
                *a - step_size * *m / denom,
                energy.lower[j],
                energy.upper[j],
            );
        }
    }
}

impl<R: RolloutGrad> Optimizer<R> for Gradient {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn max_iterations(&self) -> usize {
        self.cfg.steps
    }

    fn plan(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<(), PlanError> {
        let mut clock = begin_plan(&self.dims, plan, problem, stats)?;
        self.draw_starts(problem.energy, problem.warm_start);
        let stopped = self.refine(rollout, problem, &mut clock, plan, stats)?;
        finish(stats, &clock, stopped, problem.energy, plan);
        Ok(())
    }

    fn reset(&mut self) {
        self.call = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Dims {
        Dims {
            horizon: 8,
            action_dim: 2,
            latent_dim: 3,
        }
    }

    /// Mean squared step-to-step change of the starts' noise, over all starts but the first.
    fn roughness(beta: f32) -> f32 {
        let cfg = GradientConfig {
            num_starts: 64,
            init_noise_beta: beta,
            init_std: 0.1,
            warm_start_starts: 1,
            ..GradientConfig::default()
        };
        let d = dims();
        let mut g = Gradient::new(cfg, d).expect("gradient");
        let energy = Energy::terminal_l2(vec![0.0; 3], 2);
        let warm = vec![0.0; d.plan_len()];
        g.draw_starts(&energy, &warm);
        let (pl, na) = (d.plan_len(), d.action_dim);
        assert!(
            g.actions[..pl].iter().all(|&a| a == 0.0),
            "start 0 is the warm start"
        );
        let (mut sum, mut n) = (0.0, 0);
        for row in g.actions.chunks_exact(pl).skip(1) {
            for t in 1..d.horizon {
                for j in 0..na {
                    sum += (row[t * na + j] - row[(t - 1) * na + j]).powi(2);
                    n += 1;
                }
            }
        }
        sum / n as f32
    }

    #[test]
    fn colored_starts_are_smoother_than_white() {
        let (white, pink, red) = (roughness(0.0), roughness(1.0), roughness(2.0));
        // White noise of std 0.1 changes by 2 * 0.01 in the mean square per step.
        assert!((white - 0.02).abs() < 0.005, "white roughness {white}");
        assert!(pink < 0.8 * white, "pink {pink} vs white {white}");
        assert!(red < 0.8 * pink, "red {red} vs pink {pink}");
    }

    #[test]
    fn init_noise_beta_out_of_range_is_rejected() {
        let cfg = GradientConfig {
            init_noise_beta: 4.5,
            ..GradientConfig::default()
        };
        let err = Gradient::new(cfg, dims())
            .expect_err("beta 4.5")
            .to_string();
        assert!(
            err.contains("init_noise_beta") && err.contains("4.5"),
            "{err}"
        );
    }
}
