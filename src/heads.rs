//! The energy's head term for a learned model: the members' linear read-outs of physical
//! quantities (`world_model::head`), laid out for the ensemble's latent and weighted.

use anyhow::{Result, bail};
use world_model::WorldModel;

use crate::closed_loop::Learned;

/// The `(rows, latent_dim)` read-out `W` of head `name` over `model`'s latent, for
/// `planner::Energy::head`: block-diagonal over the members (member `k`'s rows read its slice).
/// An ensemble latent holds each member's latent scaled by `1 / sqrt(K)`, so
/// `||W (z - g)||^2` is the mean over members of each member's own `||W_k (z_k - g_k)||^2`, as
/// the latent distance is. Fails, naming the member, when one lacks the head.
pub fn ensemble_head(model: &Learned, name: &str) -> Result<Vec<f32>> {
    let d = model.dims().latent_dim;
    let mut rows = Vec::new();
    let mut offset = 0;
    for (k, m) in model.members().iter().enumerate() {
        let Some(h) = m.head(name) else {
            bail!(
                "model {} of {} has no `{name}` head; add one with `ebmpc fit-head --model FILE \
                 --data DATASET...` (`ebmpc pipeline` and `ebmpc train` fit it)",
                k + 1,
                model.members().len()
            );
        };
        let dk = h.latent_dim();
        for w in h.weight().chunks_exact(dk) {
            let mut row = vec![0.0f32; d];
            row[offset..offset + dk].copy_from_slice(w);
            rows.extend_from_slice(&row);
        }
        offset += dk;
    }
    Ok(rows)
}

/// The rows of `planner::Energy::head` (used with `head_weight = 1`) for the heads and weights of
/// `terms` (`(head name, weight, config key)`): each head's rows ([`ensemble_head`]) scaled by
/// the square root of its weight, so the term is `sum_h w_h ||W_h (z - g)||^2`. Terms of weight 0
/// are left out; empty when all are. The error names the key of a head the model lacks.
pub fn weighted_heads(model: &Learned, terms: &[(&str, f32, &str)]) -> Result<Vec<f32>> {
    let mut rows = Vec::new();
    for &(name, weight, key) in terms {
        if weight > 0.0 {
            let w = ensemble_head(model, name).map_err(|e| {
                e.context(format!("{key} = {weight} needs the model's {name} head"))
            })?;
            rows.extend(w.iter().map(|v| v * weight.sqrt()));
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::closed_loop::tests::identity_model;
    use world_model::{Ensemble, LinearHead, MlpWorldModel};

    /// A model without encoder and a zero predictor, with a `palm_pos` head of weight `head`.
    fn member(latent: usize, head: Option<Vec<f32>>) -> MlpWorldModel {
        let m = identity_model(latent);
        match head {
            Some(w) => {
                let rows = w.len() / latent;
                let h = LinearHead::new("palm_pos", w, vec![0.0; rows], latent).unwrap();
                m.with_heads(vec![h]).unwrap()
            }
            None => m,
        }
    }

    #[test]
    fn member_heads_are_laid_out_block_diagonally() {
        let model = Ensemble::new(vec![
            member(2, Some(vec![1.0, 2.0])),
            member(2, Some(vec![3.0, 4.0])),
        ])
        .unwrap();
        let w = ensemble_head(&model, "palm_pos").unwrap();
        assert_eq!(w, vec![1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn weighted_heads_scale_rows_by_the_root_of_their_weight() {
        let model = Ensemble::new(vec![member(2, Some(vec![1.0, 2.0]))]).unwrap();
        let w = weighted_heads(&model, &[("palm_pos", 4.0, "k"), ("cube_pos", 0.0, "c")]).unwrap();
        assert_eq!(w, vec![2.0, 4.0]);
        let e = weighted_heads(&model, &[("cube_pos", 1.0, "planner.cube_weight")]).unwrap_err();
        assert!(
            format!("{e:#}").contains("planner.cube_weight = 1"),
            "{e:#}"
        );
        assert!(weighted_heads(&model, &[]).unwrap().is_empty());
    }

    #[test]
    fn a_member_without_the_head_is_named() {
        let model = Ensemble::new(vec![member(2, Some(vec![1.0, 2.0])), member(2, None)]).unwrap();
        let e = ensemble_head(&model, "palm_pos").unwrap_err().to_string();
        assert!(e.contains("model 2 of 2") && e.contains("fit-head"), "{e}");
    }
}
