//! Energy terms the kernels leave out and the host adds after the download.
//!
//! The action-target term ([`Energy::action_target_cost`]) depends on the actions only, which the
//! host has already, so it is added to the downloaded energies (and gradients) here instead of
//! being passed to the kernels: `K * horizon * action_dim` multiply-adds per call, no upload.

use planner::{Dims, Energy};

/// Adds the action-target term of every sample to its energy and, with `grads`, its gradient.
///
/// - `actions`: `(K, horizon, action_dim)`
/// - `energies`: `(K,)`; samples whose energy is not finite are left as they are
/// - `grads`: `(K, horizon, action_dim)`; rows of samples whose energy is not finite stay zero
pub fn add_action_targets(
    energy: &Energy,
    dims: Dims,
    actions: &[f32],
    energies: &mut [f32],
    mut grads: Option<&mut [f32]>,
) {
    if !energy.has_action_target() {
        return;
    }
    let (pl, na) = (dims.plan_len(), dims.action_dim);
    for (k, (e, row)) in energies
        .iter_mut()
        .zip(actions.chunks_exact(pl))
        .enumerate()
    {
        if !e.is_finite() {
            continue;
        }
        *e += energy.action_target_cost(row, na);
        if let Some(g) = grads.as_deref_mut() {
            energy.add_action_target_grad(row, na, &mut g[k * pl..(k + 1) * pl]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::add_action_targets;
    use planner::{Dims, Energy};

    #[test]
    fn the_term_is_added_to_finite_samples_only() {
        let dims = Dims {
            horizon: 2,
            action_dim: 2,
            latent_dim: 1,
        };
        let mut energy = Energy::terminal_l2(vec![0.0], 2);
        energy.action_target = vec![0.0, 1.0];
        energy.target_weight = vec![0.0, 0.5];
        // Sample 0: a1 = 1 then -1 -> 0.5 * (0 + 4) = 2; sample 1 is not finite.
        let actions = [0.3, 1.0, 0.7, -1.0, 0.0, 0.0, 0.0, 0.0];
        let mut energies = [1.0, f32::INFINITY];
        let mut grads = [0.0; 8];
        add_action_targets(&energy, dims, &actions, &mut energies, Some(&mut grads));
        assert_eq!(energies, [3.0, f32::INFINITY]);
        // d/da1 = 2 * 0.5 * (a1 - 1): 0 at the first step, -2 at the second; nothing else.
        assert_eq!(grads, [0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0]);

        // Without the term nothing changes.
        energy.target_weight = vec![0.0; 2];
        add_action_targets(&energy, dims, &actions, &mut energies, None);
        assert_eq!(energies, [3.0, f32::INFINITY]);
    }
}
