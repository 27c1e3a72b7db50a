//! [`LinearHead`]: a linear map from a latent to a named physical quantity (e.g. the palm
//! position), fitted after training by ridge regression on encoded training observations
//! (`world_model::train::eval::fit_heads`).
//!
//! The world model is trained without labels; a head is a read-out of what its latents already
//! hold. The planner uses the palm and cube heads as extra energy terms on *differences* of
//! latents, `||W (z - g)||^2`, so a head's bias (and any error common to nearby latents) cancels.

use crate::error::{ModelError, check_len};

/// Name of the head that reads the palm position (metres, world frame) from a latent.
pub const PALM_HEAD: &str = "palm_pos";
/// Name of the head that reads the cube's centre (metres, world frame) from a latent.
pub const CUBE_HEAD: &str = "cube_pos";

/// `y = W z + b`, with `W` `(out_dim, latent_dim)` and `b` `(out_dim,)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    name: String,
    latent_dim: usize,
    /// `(out_dim, latent_dim)`, row-major.
    weight: Vec<f32>,
    /// `(out_dim,)`.
    bias: Vec<f32>,
}

impl LinearHead {
    /// A head named `name` with `weight` `(bias.len(), latent_dim)`; refuses mismatched lengths,
    /// an empty head and non-finite values.
    pub fn new(
        name: &str,
        weight: Vec<f32>,
        bias: Vec<f32>,
        latent_dim: usize,
    ) -> Result<Self, ModelError> {
        if bias.is_empty() || latent_dim == 0 {
            return Err(ModelError::InvalidSpec(format!(
                "head `{name}` maps {latent_dim} latent values to {} outputs; both must be > 0",
                bias.len()
            )));
        }
        check_len("head weight", weight.len(), bias.len() * latent_dim)?;
        if let Some(i) = weight.iter().chain(&bias).position(|v| !v.is_finite()) {
            return Err(ModelError::InvalidSpec(format!(
                "head `{name}` has a non-finite value at flat index {i} (weight, then bias)"
            )));
        }
        Ok(Self {
            name: name.to_string(),
            latent_dim,
            weight,
            bias,
        })
    }

    /// The head's name, e.g. [`PALM_HEAD`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Latent width it reads.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// Output width.
    pub fn out_dim(&self) -> usize {
        self.bias.len()
    }

    /// `(out_dim, latent_dim)` weight.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// `(out_dim,)` bias.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// `out = W z + b` for `z` `(rows, latent_dim)` and `out` `(rows, out_dim)`.
    pub fn apply(&self, z: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        let (d, m) = (self.latent_dim, self.out_dim());
        let rows = z.len() / d;
        check_len("head input", z.len(), rows * d)?;
        check_len("head output", out.len(), rows * m)?;
        for (zr, or) in z.chunks_exact(d).zip(out.chunks_exact_mut(m)) {
            for ((o, w), b) in or
                .iter_mut()
                .zip(self.weight.chunks_exact(d))
                .zip(&self.bias)
            {
                *o = b + w.iter().zip(zr).map(|(a, x)| a * x).sum::<f32>();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_applies_its_affine_map_row_by_row() {
        let h = LinearHead::new("p", vec![1.0, 2.0, 0.0, -1.0], vec![0.5, 0.0], 2).unwrap();
        let mut out = vec![0.0; 4];
        h.apply(&[1.0, 1.0, 2.0, 3.0], &mut out).unwrap();
        assert_eq!(out, vec![3.5, -1.0, 8.5, -3.0]);
        assert!(h.apply(&[1.0, 1.0, 2.0], &mut out).is_err());
    }

    #[test]
    fn bad_heads_are_refused_with_the_reason() {
        let e = LinearHead::new("p", vec![1.0; 3], vec![0.0; 2], 2).unwrap_err();
        assert!(e.to_string().contains("head weight"), "{e}");
        let e = LinearHead::new("p", vec![1.0, f32::NAN], vec![0.0], 2).unwrap_err();
        assert!(e.to_string().contains("index 1"), "{e}");
        assert!(LinearHead::new("p", vec![], vec![], 2).is_err());
    }
}
