//! [`Energy`]: the planning objective, as data.
//!
//! For an action sequence `a_1..a_H` and predicted latents `z_1..z_H`:
//!
//! ```text
//! E = terminal_weight * d(z_H, goal)
//!   + running_weight  * sum_{t=1..H} d(z_t, goal)
//!   + magnitude_weight  * sum_t ||a_t||^2
//!   + smoothness_weight * sum_{t>=2} ||a_t - a_{t-1}||^2
//!   + sum_t sum_k target_weight_k * (a_{t,k} - action_target_k)^2
//! ```
//!
//! with `d` one of the [`Norm`]s, plus, when `head_weight > 0`, `head_weight * ||W (z - goal)||^2`
//! inside `d` (a linear read-out `W` of a physical quantity, such as the palm position, from the
//! latent: it weights the latent directions that move that quantity). The last term pulls chosen
//! action components toward a target, e.g. a gripper command toward the state of the current
//! sub-goal's gripper (all weights 0: off). Actions are confined to per-dimension bounds
//! `[lower, upper]` by the optimizers (they project, never penalize). Being plain data, the same
//! energy can be evaluated by the CPU rollout and by the CUDA kernels and compared in tests; the
//! kernels lack the action-target term, which the CUDA rollout adds on the host
//! ([`Energy::action_target_cost`], [`Energy::add_action_target_grad`]): it depends on the
//! actions only. They lack the head term too, which depends on the predicted latents: the CUDA
//! rollout refuses an energy with it.
//!
//! A learned term closes the horizon: with a goal value `V` ([`world_model::GoalValue`], a
//! goal-conditioned cost-to-go in control steps, trained from recorded episodes),
//!
//! ```text
//! E += value_weight * V(z_H, goal) + value_running_weight * sum_{t=1..H} V(z_t, goal)
//! ```
//!
//! CPU rollouts only, for now: the CUDA rollout refuses an energy with it.

use crate::dims::Dims;
use crate::error::{PlanError, check_len, ensure};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use world_model::GoalValue;

/// Distance between a predicted latent and the goal latent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// `sum |z - g|`.
    L1,
    /// `sum (z - g)^2`.
    #[default]
    SquaredL2,
    /// Huber: `0.5 d^2 / beta` where `|d| < beta`, else `|d| - 0.5 beta` (PyTorch `smooth_l1_loss`).
    SmoothL1 {
        /// Transition point, > 0.
        beta: f32,
    },
    /// `1 - cos(z, g)`.
    Cosine,
}

/// Guards the cosine distance against zero-length vectors.
const COSINE_EPS: f32 = 1e-8;

/// The planning energy; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Energy {
    /// `(latent_dim,)` goal latent.
    pub goal: Vec<f32>,
    /// Distance used for both goal terms.
    pub norm: Norm,
    /// Weight of the distance at the last predicted latent, >= 0.
    pub terminal_weight: f32,
    /// Weight of the distance at every predicted latent, >= 0.
    pub running_weight: f32,
    /// Weight of the squared action magnitude, >= 0.
    pub magnitude_weight: f32,
    /// Weight of the squared difference of consecutive actions, >= 0.
    pub smoothness_weight: f32,
    /// `(action_dim,)` target of every planned action, for `target_weight`.
    pub action_target: Vec<f32>,
    /// `(action_dim,)` weight of each action component's squared distance to its target, >= 0;
    /// all 0 turns the term off.
    pub target_weight: Vec<f32>,
    /// `(head_rows, latent_dim)` read-out `W` of the head term (empty: none).
    pub head: Vec<f32>,
    /// Weight of the head term `||W (z - goal)||^2`, added to `d` (>= 0; 0: off).
    pub head_weight: f32,
    /// The learned goal-conditioned cost-to-go (None: no value term).
    pub value: Option<Arc<GoalValue>>,
    /// Weight of `V(z_H, goal)` at the last predicted latent (>= 0; 0: off).
    pub value_weight: f32,
    /// Weight of `V(z_t, goal)` at every predicted latent (>= 0; 0: off).
    pub value_running_weight: f32,
    /// `(action_dim,)` lower action bounds.
    pub lower: Vec<f32>,
    /// `(action_dim,)` upper action bounds, each >= the lower bound.
    pub upper: Vec<f32>,
}

impl Energy {
    /// Squared-L2 terminal distance to `goal`, actions in `[-1, 1]`, no other terms.
    pub fn terminal_l2(goal: Vec<f32>, action_dim: usize) -> Self {
        Self {
            goal,
            norm: Norm::SquaredL2,
            terminal_weight: 1.0,
            running_weight: 0.0,
            magnitude_weight: 0.0,
            smoothness_weight: 0.0,
            action_target: vec![0.0; action_dim],
            target_weight: vec![0.0; action_dim],
            head: Vec::new(),
            head_weight: 0.0,
            value: None,
            value_weight: 0.0,
            value_running_weight: 0.0,
            lower: vec![-1.0; action_dim],
            upper: vec![1.0; action_dim],
        }
    }

    /// Checks sizes and ranges against `dims`; the error names the field.
    pub fn validate(&self, dims: &Dims) -> Result<(), PlanError> {
        check_len("goal", self.goal.len(), dims.latent_dim)?;
        check_len("lower", self.lower.len(), dims.action_dim)?;
        check_len("upper", self.upper.len(), dims.action_dim)?;
        check_len("action_target", self.action_target.len(), dims.action_dim)?;
        check_len("target_weight", self.target_weight.len(), dims.action_dim)?;
        ensure(
            self.action_target.iter().all(|v| v.is_finite()),
            "action_target",
            || "must be finite".into(),
        )?;
        for (j, &w) in self.target_weight.iter().enumerate() {
            ensure(w.is_finite() && w >= 0.0, "target_weight", || {
                format!("action dimension {j}: must be finite and >= 0, got {w}")
            })?;
        }
        ensure(self.goal.iter().all(|v| v.is_finite()), "goal", || {
            "must be finite".into()
        })?;
        for (key, w) in [
            ("terminal_weight", self.terminal_weight),
            ("running_weight", self.running_weight),
            ("magnitude_weight", self.magnitude_weight),
            ("smoothness_weight", self.smoothness_weight),
            ("head_weight", self.head_weight),
            ("value_weight", self.value_weight),
            ("value_running_weight", self.value_running_weight),
        ] {
            ensure(w.is_finite() && w >= 0.0, key, || {
                format!("must be finite and >= 0, got {w}")
            })?;
        }
        ensure(
            self.head.len().is_multiple_of(dims.latent_dim.max(1)),
            "head",
            || {
                format!(
                    "has {} values, not a whole number of rows of latent_dim {}",
                    self.head.len(),
                    dims.latent_dim
                )
            },
        )?;
        ensure(self.head.iter().all(|v| v.is_finite()), "head", || {
            "must be finite".into()
        })?;
        ensure(
            self.head_weight == 0.0 || !self.head.is_empty(),
            "head_weight",
            || format!("is {} but the head is empty", self.head_weight),
        )?;
        match &self.value {
            Some(v) => ensure(v.latent_dim() == dims.latent_dim, "value", || {
                format!(
                    "reads latents of width {}, the planner's are {}",
                    v.latent_dim(),
                    dims.latent_dim
                )
            })?,
            None => ensure(
                self.value_weight == 0.0 && self.value_running_weight == 0.0,
                "value_weight",
                || {
                    format!(
                        "is {} (running {}) but there is no value network",
                        self.value_weight, self.value_running_weight
                    )
                },
            )?,
        }
        if let Norm::SmoothL1 { beta } = self.norm {
            ensure(beta.is_finite() && beta > 0.0, "norm.beta", || {
                format!("must be > 0, got {beta}")
            })?;
        }
        for (j, (&lo, &hi)) in self.lower.iter().zip(&self.upper).enumerate() {
            ensure(
                lo.is_finite() && hi.is_finite() && lo <= hi,
                "lower",
                || {
                    format!(
                        "bounds of action dimension {j} must be finite with lower <= upper, got [{lo}, {hi}]"
                    )
                },
            )?;
        }
        Ok(())
    }

    /// Copies `other` into `self` reusing `self`'s buffers (no allocation when sizes match).
    pub fn copy_from(&mut self, other: &Energy) {
        self.goal.clone_from(&other.goal);
        self.lower.clone_from(&other.lower);
        self.upper.clone_from(&other.upper);
        self.action_target.clone_from(&other.action_target);
        self.target_weight.clone_from(&other.target_weight);
        self.head.clone_from(&other.head);
        self.head_weight = other.head_weight;
        if self.value.as_ref().map(Arc::as_ptr) != other.value.as_ref().map(Arc::as_ptr) {
            self.value.clone_from(&other.value);
        }
        self.value_weight = other.value_weight;
        self.value_running_weight = other.value_running_weight;
        self.norm = other.norm;
        self.terminal_weight = other.terminal_weight;
        self.running_weight = other.running_weight;
        self.magnitude_weight = other.magnitude_weight;
        self.smoothness_weight = other.smoothness_weight;
    }

    /// Weight of the goal distance at predicted step `t` (1-based) of `horizon`.
    pub fn state_weight(&self, t: usize, horizon: usize) -> f32 {
        self.running_weight
            + if t == horizon {
                self.terminal_weight
            } else {
                0.0
            }
    }

    /// Weight of the value term at predicted step `t` (1-based) of `horizon`; 0 without a value.
    pub fn value_weight_at(&self, t: usize, horizon: usize) -> f32 {
        if self.value.is_none() {
            return 0.0;
        }
        self.value_running_weight + if t == horizon { self.value_weight } else { 0.0 }
    }

    /// Whether the learned value term is on.
    pub fn has_value(&self) -> bool {
        self.value.is_some() && (self.value_weight != 0.0 || self.value_running_weight != 0.0)
    }

    /// Distance `d(z, goal)` (with the head term); `z` is `(latent_dim,)`.
    pub fn distance(&self, z: &[f32]) -> f32 {
        self.norm_distance(z) + self.head_distance(z)
    }

    /// Whether the head term is on.
    pub fn has_head(&self) -> bool {
        self.head_weight != 0.0 && !self.head.is_empty()
    }

    /// `head_weight * ||W (z - goal)||^2`, 0 when off.
    fn head_distance(&self, z: &[f32]) -> f32 {
        if !self.has_head() {
            return 0.0;
        }
        self.head_weight * self.head_residuals(z).map(|(_, r)| r * r).sum::<f32>()
    }

    /// Each row `w` of the head with its residual `w . (z - goal)`.
    fn head_residuals<'a>(&'a self, z: &'a [f32]) -> impl Iterator<Item = (&'a [f32], f32)> {
        self.head.chunks_exact(z.len().max(1)).map(move |w| {
            let r = w
                .iter()
                .zip(z.iter().zip(&self.goal))
                .map(|(w, (a, b))| w * (a - b))
                .sum();
            (w, r)
        })
    }

    /// `d(z, goal)` of the norm alone.
    fn norm_distance(&self, z: &[f32]) -> f32 {
        let g = &self.goal;
        match self.norm {
            Norm::L1 => z.iter().zip(g).map(|(a, b)| (a - b).abs()).sum(),
            Norm::SquaredL2 => z.iter().zip(g).map(|(a, b)| (a - b) * (a - b)).sum(),
            Norm::SmoothL1 { beta } => z
                .iter()
                .zip(g)
                .map(|(a, b)| {
                    let d = (a - b).abs();
                    if d < beta {
                        0.5 * d * d / beta
                    } else {
                        d - 0.5 * beta
                    }
                })
                .sum(),
            Norm::Cosine => {
                let (dot, nz, ng) = cosine_parts(z, g);
                1.0 - dot / (nz * ng + COSINE_EPS)
            }
        }
    }

    /// Adds `weight * d/dz d(z, goal)` to `grad`; both `(latent_dim,)`.
    pub fn add_distance_grad(&self, z: &[f32], weight: f32, grad: &mut [f32]) {
        if self.has_head() {
            // d/dz h ||W (z - g)||^2 = 2 h W^T W (z - g), one row of W at a time.
            for (w, r) in self.head_residuals(z) {
                let f = weight * self.head_weight * 2.0 * r;
                for (o, wj) in grad.iter_mut().zip(w) {
                    *o += f * wj;
                }
            }
        }
        let g = &self.goal;
        match self.norm {
            Norm::L1 => {
                for ((o, a), b) in grad.iter_mut().zip(z).zip(g) {
                    *o += weight * sign(a - b);
                }
            }
            Norm::SquaredL2 => {
                for ((o, a), b) in grad.iter_mut().zip(z).zip(g) {
                    *o += weight * 2.0 * (a - b);
                }
            }
            Norm::SmoothL1 { beta } => {
                for ((o, a), b) in grad.iter_mut().zip(z).zip(g) {
                    let d = a - b;
                    *o += weight * if d.abs() < beta { d / beta } else { sign(d) };
                }
            }
            Norm::Cosine => {
                let (dot, nz, ng) = cosine_parts(z, g);
                let denom = nz * ng + COSINE_EPS;
                // d/dz (dot / (|z||g|)) = g/denom - dot * ng * z / (|z| denom^2)
                let zc = dot * ng / (nz.max(COSINE_EPS) * denom * denom);
                for ((o, a), b) in grad.iter_mut().zip(z).zip(g) {
                    *o -= weight * (b / denom - zc * a);
                }
            }
        }
    }

    /// Magnitude, smoothness and action-target terms of one sequence, `seq`
    /// `(horizon, action_dim)`.
    pub fn action_cost(&self, seq: &[f32], action_dim: usize) -> f32 {
        let mut cost = 0.0;
        if self.magnitude_weight != 0.0 {
            cost += self.magnitude_weight * seq.iter().map(|v| v * v).sum::<f32>();
        }
        if self.smoothness_weight != 0.0 && seq.len() > action_dim {
            let s: f32 = seq[action_dim..]
                .iter()
                .zip(seq)
                .map(|(a, b)| (a - b) * (a - b))
                .sum();
            cost += self.smoothness_weight * s;
        }
        cost + self.action_target_cost(seq, action_dim)
    }

    /// The action-target term alone of one sequence, `seq` `(horizon, action_dim)`: the part of
    /// [`Energy::action_cost`] that a rollout without this term adds on the host.
    pub fn action_target_cost(&self, seq: &[f32], action_dim: usize) -> f32 {
        if !self.has_action_target() {
            return 0.0;
        }
        seq.chunks_exact(action_dim)
            .map(|row| {
                row.iter()
                    .zip(&self.action_target)
                    .zip(&self.target_weight)
                    .map(|((a, t), w)| w * (a - t) * (a - t))
                    .sum::<f32>()
            })
            .sum()
    }

    /// Some action component has a target weight above 0.
    pub fn has_action_target(&self) -> bool {
        self.target_weight.iter().any(|&w| w > 0.0)
    }

    /// Adds the gradient of [`Energy::action_cost`] to `grad`; both `(horizon, action_dim)`.
    pub fn add_action_grad(&self, seq: &[f32], action_dim: usize, grad: &mut [f32]) {
        if self.magnitude_weight != 0.0 {
            for (o, a) in grad.iter_mut().zip(seq) {
                *o += 2.0 * self.magnitude_weight * a;
            }
        }
        if self.smoothness_weight != 0.0 {
            for i in action_dim..seq.len() {
                let d = 2.0 * self.smoothness_weight * (seq[i] - seq[i - action_dim]);
                grad[i] += d;
                grad[i - action_dim] -= d;
            }
        }
        self.add_action_target_grad(seq, action_dim, grad);
    }

    /// Adds the gradient of [`Energy::action_target_cost`] to `grad`; both
    /// `(horizon, action_dim)`.
    pub fn add_action_target_grad(&self, seq: &[f32], action_dim: usize, grad: &mut [f32]) {
        if !self.has_action_target() {
            return;
        }
        for (grow, row) in grad
            .chunks_exact_mut(action_dim)
            .zip(seq.chunks_exact(action_dim))
        {
            for (((g, a), t), w) in grow
                .iter_mut()
                .zip(row)
                .zip(&self.action_target)
                .zip(&self.target_weight)
            {
                *g += 2.0 * w * (a - t);
            }
        }
    }

    /// Projects a sequence `(horizon, action_dim)` onto the bounds; NaN becomes the midpoint.
    pub fn clamp_plan(&self, seq: &mut [f32]) {
        for row in seq.chunks_exact_mut(self.lower.len().max(1)) {
            for ((v, &lo), &hi) in row.iter_mut().zip(&self.lower).zip(&self.upper) {
                *v = clamp_action(*v, lo, hi);
            }
        }
    }
}

/// Clamps one action value into `[lo, hi]`; NaN maps to the midpoint.
#[inline]
pub fn clamp_action(v: f32, lo: f32, hi: f32) -> f32 {
    if v.is_nan() {
        0.5 * (lo + hi)
    } else {
        v.clamp(lo, hi)
    }
}

#[inline]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn cosine_parts(z: &[f32], g: &[f32]) -> (f32, f32, f32) {
    let dot: f32 = z.iter().zip(g).map(|(a, b)| a * b).sum();
    let nz = z.iter().map(|a| a * a).sum::<f32>().sqrt();
    let ng = g.iter().map(|a| a * a).sum::<f32>().sqrt();
    (dot, nz, ng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn energy(norm: Norm) -> Energy {
        Energy {
            goal: vec![0.3, -0.2, 0.5],
            norm,
            terminal_weight: 1.0,
            running_weight: 0.5,
            magnitude_weight: 0.1,
            smoothness_weight: 0.2,
            action_target: vec![0.0, 1.0],
            target_weight: vec![0.0, 0.7],
            head: Vec::new(),
            head_weight: 0.0,
            value: None,
            value_weight: 0.0,
            value_running_weight: 0.0,
            lower: vec![-1.0; 2],
            upper: vec![1.0; 2],
        }
    }

    #[test]
    fn distance_gradients_match_finite_differences() {
        for norm in [
            Norm::L1,
            Norm::SquaredL2,
            Norm::SmoothL1 { beta: 0.5 },
            Norm::Cosine,
        ] {
            for head in [false, true] {
                let mut e = energy(norm);
                if head {
                    (e.head, e.head_weight) = (vec![1.0, -0.5, 0.25, 0.0, 2.0, -1.0], 0.8);
                }
                let z = [0.9f32, 0.15, -0.4];
                let mut g = [0.0f32; 3];
                e.add_distance_grad(&z, 1.0, &mut g);
                for i in 0..3 {
                    let (mut zp, mut zm) = (z, z);
                    zp[i] += 1e-3;
                    zm[i] -= 1e-3;
                    let fd = (e.distance(&zp) - e.distance(&zm)) / 2e-3;
                    assert!(
                        (fd - g[i]).abs() < 1e-2,
                        "{norm:?} head {head} [{i}]: fd {fd} vs {}",
                        g[i]
                    );
                }
            }
        }
    }

    #[test]
    fn the_head_term_weights_the_read_out_of_the_latent_difference() {
        let mut e = energy(Norm::SquaredL2);
        let z = [1.3f32, -0.2, 0.5];
        let plain = e.distance(&z);
        assert!((plain - 1.0).abs() < 1e-6, "{plain}");
        // One row reading z[0] - z[1]: (1.0 - 0.0)^2 = 1, times 3.
        (e.head, e.head_weight) = (vec![1.0, -1.0, 0.0], 3.0);
        assert!((e.distance(&z) - (plain + 3.0)).abs() < 1e-5);
        // A latent difference the head cannot see costs nothing extra.
        let z2 = [1.3f32, 0.8, 0.5];
        (e.head_weight, e.head) = (0.0, Vec::new());
        let plain2 = e.distance(&z2);
        (e.head, e.head_weight) = (vec![1.0, -1.0, 0.0], 3.0);
        assert!((e.distance(&z2) - plain2).abs() < 1e-5);
        let dims = Dims {
            horizon: 2,
            action_dim: 2,
            latent_dim: 3,
        };
        e.validate(&dims).unwrap();
        e.head.pop();
        let err = e.validate(&dims).unwrap_err().to_string();
        assert!(
            err.contains("head") && err.contains("latent_dim 3"),
            "{err}"
        );
        e.head.clear();
        let err = e.validate(&dims).unwrap_err().to_string();
        assert!(err.contains("head_weight"), "{err}");
    }

    #[test]
    fn action_gradient_matches_finite_differences() {
        let e = energy(Norm::SquaredL2);
        let seq = [0.1f32, -0.5, 0.7, 0.2, -0.3, 0.9];
        let mut g = [0.0f32; 6];
        e.add_action_grad(&seq, 2, &mut g);
        for i in 0..6 {
            let (mut p, mut m) = (seq, seq);
            p[i] += 1e-3;
            m[i] -= 1e-3;
            let fd = (e.action_cost(&p, 2) - e.action_cost(&m, 2)) / 2e-3;
            assert!((fd - g[i]).abs() < 1e-2, "[{i}]: fd {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn action_target_term_pulls_only_weighted_components() {
        let mut e = energy(Norm::SquaredL2);
        e.magnitude_weight = 0.0;
        e.smoothness_weight = 0.0;
        // Two steps of [a0, a1]; only a1 has a weight (0.7), toward 1.
        let cost = e.action_cost(&[0.5, 1.0, -0.5, 0.0], 2);
        assert!((cost - 0.7).abs() < 1e-6, "{cost}");
        e.target_weight = vec![0.0; 2];
        assert!(!e.has_action_target());
        assert_eq!(e.action_cost(&[0.5, 1.0, -0.5, 0.0], 2), 0.0);
        e.target_weight = vec![0.0, -1.0];
        let dims = Dims {
            horizon: 2,
            action_dim: 2,
            latent_dim: 3,
        };
        let err = e.validate(&dims).unwrap_err().to_string();
        assert!(
            err.contains("target_weight") && err.contains("dimension 1"),
            "{err}"
        );
    }

    #[test]
    fn invalid_energy_names_the_key() {
        let mut e = energy(Norm::L1);
        e.magnitude_weight = -1.0;
        let dims = Dims {
            horizon: 2,
            action_dim: 2,
            latent_dim: 3,
        };
        let err = e.validate(&dims).unwrap_err();
        assert!(err.to_string().contains("magnitude_weight"), "{err}");
    }
}
