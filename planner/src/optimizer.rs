//! The optimizer seam and what every optimizer shares: the problem handed to it, the statistics
//! it reports, elite selection and deadline bookkeeping.
//!
//! An optimizer turns a start latent, an [`Energy`] and a warm-start plan into a plan. It owns
//! every buffer it needs (sized when it is built), so a call allocates nothing. It must always
//! write a finite plan inside the bounds; when no sample of any iteration had a finite energy it
//! says so with [`SolveStatus::NumericalFailure`] and the caller ([`crate::Mpc`]) falls back.

use crate::dims::Dims;
use crate::energy::Energy;
use crate::error::PlanError;
use crate::rollout::Rollout;
use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// One planning problem.
#[derive(Debug, Clone, Copy)]
pub struct Problem<'a> {
    /// `(latent_dim,)` start latent.
    pub z0: &'a [f32],
    /// Objective and bounds.
    pub energy: &'a Energy,
    /// `(horizon, action_dim)` initial guess (e.g. the previous plan shifted by one step).
    pub warm_start: &'a [f32],
    /// Time after which no new iteration is started.
    pub deadline: Option<Instant>,
}

/// How a solve ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SolveStatus {
    /// All configured iterations ran.
    #[default]
    Completed,
    /// Stopped early because the convergence criterion was met.
    Converged,
    /// Stopped at the deadline; the plan is the best found so far.
    Deadline,
    /// No evaluated sample had a finite energy.
    NumericalFailure,
    /// Every sample was invalid; the previous plan, shifted, was returned.
    FallbackShiftedPlan,
    /// Every sample was invalid and there was no previous plan; the hold action was returned.
    FallbackHold,
}

/// What one solve did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SolveStats {
    /// How the solve ended.
    pub status: SolveStatus,
    /// Iterations (sampling rounds or gradient steps) completed.
    pub iterations: usize,
    /// Lowest finite energy seen in each iteration (`+inf` when none was finite).
    pub energy_per_iteration: Vec<f32>,
    /// Lowest finite energy seen overall (`+inf` when none).
    pub best_energy: f32,
    /// Samples with a non-finite energy, over all iterations.
    pub invalid_samples: usize,
    /// Wall time of the solve.
    pub elapsed: Duration,
}

impl SolveStats {
    /// Stats whose per-iteration record holds `max_iterations` without reallocating.
    pub fn with_capacity(max_iterations: usize) -> Self {
        Self {
            energy_per_iteration: Vec::with_capacity(max_iterations),
            best_energy: f32::INFINITY,
            ..Self::default()
        }
    }

    /// Clears the record for a new solve (keeps its capacity).
    pub fn reset(&mut self) {
        self.status = SolveStatus::Completed;
        self.iterations = 0;
        self.energy_per_iteration.clear();
        self.best_energy = f32::INFINITY;
        self.invalid_samples = 0;
        self.elapsed = Duration::ZERO;
    }

    /// Records one iteration's energies `(K,)`.
    pub fn record(&mut self, energies: &[f32]) {
        let mut best = f32::INFINITY;
        for &e in energies {
            if e.is_finite() {
                best = best.min(e);
            } else {
                self.invalid_samples += 1;
            }
        }
        if self.energy_per_iteration.len() < self.energy_per_iteration.capacity() {
            self.energy_per_iteration.push(best);
        }
        self.best_energy = self.best_energy.min(best);
        self.iterations += 1;
    }
}

/// A planning algorithm over rollouts of type `R`.
pub trait Optimizer<R: Rollout> {
    /// Sizes this optimizer was built for.
    fn dims(&self) -> Dims;

    /// Most iterations one call runs (sizes [`SolveStats::energy_per_iteration`]).
    fn max_iterations(&self) -> usize;

    /// Plans. `plan` `(horizon, action_dim)` receives the result, finite and inside the bounds.
    fn plan(
        &mut self,
        rollout: &mut R,
        problem: &Problem<'_>,
        plan: &mut [f32],
        stats: &mut SolveStats,
    ) -> Result<(), PlanError>;

    /// Forgets state carried between calls (kept elites, call counter).
    fn reset(&mut self);
}

/// Sort key treating every non-finite energy as `+inf`.
#[inline]
pub(crate) fn energy_key(e: f32) -> f32 {
    if e.is_finite() { e } else { f32::INFINITY }
}

/// Orders `idx` so that its first `k` entries index the `k` lowest energies, sorted ascending;
/// returns how many of those are finite. `idx` is `(energies.len(),)` scratch.
pub(crate) fn select_elites(energies: &[f32], idx: &mut [u32], k: usize) -> usize {
    let n = energies.len();
    let k = k.min(n);
    for (i, v) in idx[..n].iter_mut().enumerate() {
        *v = i as u32;
    }
    if k == 0 {
        return 0;
    }
    let cmp = |a: &u32, b: &u32| -> Ordering {
        energy_key(energies[*a as usize])
            .total_cmp(&energy_key(energies[*b as usize]))
            .then(a.cmp(b))
    };
    if k < n {
        idx[..n].select_nth_unstable_by(k - 1, cmp);
    }
    idx[..k].sort_unstable_by(cmp);
    idx[..k]
        .iter()
        .filter(|&&i| energies[i as usize].is_finite())
        .count()
}

/// Deadline bookkeeping: an iteration is started only if the last one's duration still fits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    deadline: Option<Instant>,
    last_start: Instant,
    longest: Duration,
}

impl Clock {
    pub(crate) fn new(deadline: Option<Instant>) -> Self {
        let now = Instant::now();
        Self {
            start: now,
            deadline,
            last_start: now,
            longest: Duration::ZERO,
        }
    }

    /// Whether one more iteration is expected to end before the deadline; marks its start.
    pub(crate) fn begin_iteration(&mut self) -> bool {
        let now = Instant::now();
        if now > self.last_start {
            self.longest = self.longest.max(now - self.last_start);
        }
        self.last_start = now;
        match self.deadline {
            None => true,
            Some(d) => now + self.longest <= d,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }
}

/// Starts a solve: checks `plan` and the warm start against `dims` (both `(horizon,
/// action_dim)`), clears `stats`, and starts the deadline clock.
pub(crate) fn begin_plan(
    dims: &Dims,
    plan: &[f32],
    problem: &Problem<'_>,
    stats: &mut SolveStats,
) -> Result<Clock, PlanError> {
    let pl = dims.plan_len();
    crate::error::check_len("plan", plan.len(), pl)?;
    crate::error::check_len("warm_start", problem.warm_start.len(), pl)?;
    stats.reset();
    Ok(Clock::new(problem.deadline))
}

/// Copies `src` into `dst` projected onto the energy's bounds (NaN to the midpoint).
pub(crate) fn project(energy: &Energy, src: &[f32], dst: &mut [f32]) {
    dst.copy_from_slice(src);
    energy.clamp_plan(dst);
}

/// Finishes a solve: status from the outcome, elapsed time, plan projected onto the bounds.
pub(crate) fn finish(
    stats: &mut SolveStats,
    clock: &Clock,
    stopped_early: bool,
    energy: &Energy,
    plan: &mut [f32],
) {
    stats.status = if !stats.best_energy.is_finite() {
        SolveStatus::NumericalFailure
    } else if stopped_early {
        SolveStatus::Deadline
    } else {
        stats.status
    };
    energy.clamp_plan(plan);
    stats.elapsed = clock.elapsed();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elites_are_the_lowest_finite_energies_in_order() {
        let e = [
            3.0,
            f32::NAN,
            1.0,
            f32::INFINITY,
            2.0,
            -1.0,
            f32::NEG_INFINITY,
        ];
        let mut idx = [0u32; 7];
        assert_eq!(select_elites(&e, &mut idx, 3), 3);
        assert_eq!(&idx[..3], &[5, 2, 4]);
        assert_eq!(select_elites(&e, &mut idx, 6), 4);
    }
}
