//! The oracle: the planner's rollout seam implemented by the simulator itself. Each action
//! sequence is scored by restoring a snapshot of the real world, stepping it, and measuring the
//! task's own cost. It is the upper bound a learned model is measured against, and far too slow
//! for a control loop (each sequence costs `horizon x 24` physics steps).

use planner::{Dims, Energy, PlanError, Rollout};
use sim::{Env, EnvSnapshot, ObsMode, SimConfig, TaskKind};

/// Task cost of one simulated step: the task distance (m), shaped for the cube tasks by the
/// palm-to-cube distance (the cube's distance alone gives no reason to go to it): fully for
/// pick-and-place until the cube is lifted, at half weight for push. A sequence's cost is the
/// sum over its steps plus the energy's action terms.
fn step_cost(task: TaskKind, env: &Env, distance: f32) -> f32 {
    let palm_to_cube = || {
        env.state().map_or(0.0, |s| {
            (0..3)
                .map(|i| (s.palm_pos[i] - s.cube_pos[i]).powi(2))
                .sum::<f32>()
                .sqrt()
        })
    };
    match task {
        TaskKind::PickPlace if !env.lifted() => distance + palm_to_cube(),
        TaskKind::Push => distance + 0.5 * palm_to_cube(),
        _ => distance,
    }
}

/// [`Rollout`] over simulator copies, one per worker thread.
pub struct OracleRollout {
    envs: Vec<Env>,
    snapshot: Option<EnvSnapshot>,
    task: TaskKind,
    dims: Dims,
    capacity: usize,
}

impl OracleRollout {
    /// `threads` simulator copies of `cfg` for `task`, sequences of `horizon` actions, batches
    /// of up to `capacity`. The latent is a dummy of width 1.
    pub fn new(
        cfg: &SimConfig,
        task: TaskKind,
        horizon: usize,
        capacity: usize,
        threads: usize,
    ) -> sim::Result<Self> {
        let envs = (0..threads.max(1))
            .map(|_| Env::new(cfg.clone(), task, ObsMode::State))
            .collect::<sim::Result<Vec<_>>>()?;
        Ok(Self {
            envs,
            snapshot: None,
            task,
            dims: Dims {
                horizon,
                action_dim: sim::ACTION_DIM,
                latent_dim: 1,
            },
            capacity,
        })
    }

    /// Sets the world state that the next evaluations start from.
    pub fn set_state(&mut self, snap: EnvSnapshot) {
        self.snapshot = Some(snap);
    }
}

impl Rollout for OracleRollout {
    fn dims(&self) -> Dims {
        self.dims
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    /// - `actions`: `(K, horizon, 4)`; `energies`: output `(K,)`, `+inf` if a step failed.
    fn evaluate(
        &mut self,
        _z0: &[f32],
        energy: &Energy,
        actions: &[f32],
        energies: &mut [f32],
    ) -> Result<(), PlanError> {
        let plan_len = self.dims.plan_len();
        let (task, na) = (self.task, self.dims.action_dim);
        let Some(snap) = self.snapshot.as_ref() else {
            energies.fill(f32::INFINITY);
            return Ok(());
        };
        let per = energies.len().div_ceil(self.envs.len()).max(1);
        std::thread::scope(|s| {
            for ((env, e_chunk), a_chunk) in self
                .envs
                .iter_mut()
                .zip(energies.chunks_mut(per))
                .zip(actions.chunks(per * plan_len))
            {
                s.spawn(move || {
                    for (e, seq) in e_chunk.iter_mut().zip(a_chunk.chunks_exact(plan_len)) {
                        env.restore(snap);
                        let mut cost = energy.action_cost(seq, na);
                        for a in seq.chunks_exact(na) {
                            match env.step(a) {
                                Ok(out) => cost += step_cost(task, env, out.info.distance),
                                Err(_) => cost = f32::INFINITY,
                            }
                        }
                        *e = if cost.is_finite() {
                            cost
                        } else {
                            f32::INFINITY
                        };
                    }
                });
            }
        });
        Ok(())
    }
}
