//! [`GoalValue`]: a learned, goal-conditioned cost-to-go in latent space.
//!
//! `V(z, g)` is an MLP on the concatenated latents `[z, g]` whose output, times
//! [`GoalValue::steps_per_unit`], estimates the number of control steps from the state of latent
//! `z` to the state of latent `g`. It is trained after the world model, on the frozen encoder's
//! latents of recorded episodes, with no reward and no task code: goals are relabelled from later
//! observations of the same episode and from the episode's goal observation
//! (`world_model::train::value_fit`). The planner adds it to the energy as a learned terminal
//! (and optionally running) term, which tells it that a state on the way to the goal (an open
//! gripper at the cube, a lifted cube) is closer in steps even when it is farther in latent
//! distance.

use crate::error::{ModelError, check_len};
use crate::mlp::{BLOCK_ROWS, Mlp, MlpWorkspace};

/// A goal-conditioned cost-to-go; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalValue {
    mlp: Mlp,
    latent_dim: usize,
    steps_per_unit: f32,
}

impl GoalValue {
    /// A value over latents of width `latent_dim` from `mlp` (`2 * latent_dim` inputs, one
    /// output); `steps_per_unit` (> 0) converts its output to control steps.
    pub fn new(mlp: Mlp, latent_dim: usize, steps_per_unit: f32) -> Result<Self, ModelError> {
        let spec = mlp.spec();
        if latent_dim == 0 || spec.input_dim != 2 * latent_dim || spec.output_dim != 1 {
            return Err(ModelError::InvalidSpec(format!(
                "a goal value maps [z, g] ({} inputs for latent_dim {latent_dim}) to 1 output; \
                 this network maps {} to {}",
                2 * latent_dim,
                spec.input_dim,
                spec.output_dim
            )));
        }
        if !(steps_per_unit.is_finite() && steps_per_unit > 0.0) {
            return Err(ModelError::InvalidSpec(format!(
                "value steps_per_unit must be finite and > 0, got {steps_per_unit}"
            )));
        }
        Ok(Self {
            mlp,
            latent_dim,
            steps_per_unit,
        })
    }

    /// The network, `[z, g] -> V / steps_per_unit`.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Latent width it reads (twice, for `z` and `g`).
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// Control steps per unit of the network's output.
    pub fn steps_per_unit(&self) -> f32 {
        self.steps_per_unit
    }

    /// Floats per row of the tape [`GoalValue::eval_block`] records.
    pub fn tape_width(&self) -> usize {
        self.mlp.tape_width()
    }

    /// Scratch memory of one evaluating thread.
    pub fn workspace(&self) -> MlpWorkspace {
        self.mlp.workspace()
    }

    /// `out[r] = V(z_r, goal)` in control steps for `rows = out.len() <= BLOCK_ROWS` rows.
    ///
    /// - `z`: `(rows, latent_dim)`
    /// - `goal`: `(latent_dim,)`
    /// - `tape`: optional `(rows, tape_width)`, for [`GoalValue::grad_block`]
    /// - `out`: `(rows,)`
    pub fn eval_block(
        &self,
        z: &[f32],
        goal: &[f32],
        ws: &mut MlpWorkspace,
        tape: Option<&mut [f32]>,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let (d, rows) = (self.latent_dim, out.len());
        if rows > BLOCK_ROWS {
            return Err(ModelError::InvalidSpec(format!(
                "a value block holds at most {BLOCK_ROWS} rows, got {rows}"
            )));
        }
        check_len("value z", z.len(), rows * d)?;
        check_len("value goal", goal.len(), d)?;
        let stride = self.mlp.input_stride();
        let input = ws.input_mut();
        for (r, zr) in z.chunks_exact(d).enumerate() {
            let row = &mut input[r * stride..r * stride + 2 * d];
            row[..d].copy_from_slice(zr);
            row[d..].copy_from_slice(goal);
        }
        let y = self.mlp.forward_block(rows, ws, tape);
        let bs = self.mlp.block_stride();
        for (r, o) in out.iter_mut().enumerate() {
            *o = self.steps_per_unit * y[r * bs];
        }
        Ok(())
    }

    /// Adds `weight[r] * dV(z_r, goal)/dz_r` to `gz` for the rows recorded in `tape` by
    /// [`GoalValue::eval_block`].
    ///
    /// - `weight`: `(rows,)`
    /// - `tape`: `(rows, tape_width)`
    /// - `gz`: `(rows, latent_dim)`
    pub fn add_grad_block(
        &self,
        weight: &[f32],
        tape: &[f32],
        ws: &mut MlpWorkspace,
        gz: &mut [f32],
    ) -> Result<(), ModelError> {
        let (d, rows) = (self.latent_dim, weight.len());
        check_len("value tape", tape.len(), rows * self.tape_width())?;
        check_len("value gz", gz.len(), rows * d)?;
        // The network's output gradient is steps_per_unit * weight per row.
        let mut g_out = [0.0f32; BLOCK_ROWS];
        for (g, w) in g_out.iter_mut().zip(weight) {
            *g = self.steps_per_unit * w;
        }
        let g_in = self.mlp.backward_block(rows, &g_out[..rows], tape, ws);
        let bs = self.mlp.block_stride();
        for (r, row) in gz.chunks_exact_mut(d).enumerate() {
            for (o, g) in row.iter_mut().zip(&g_in[r * bs..r * bs + d]) {
                *o += g;
            }
        }
        Ok(())
    }

    /// `V(z, goal)` in control steps for any number of rows (blocks of [`BLOCK_ROWS`]);
    /// allocates a workspace, for tools and tests rather than the planning hot path.
    ///
    /// - `z`: `(rows, latent_dim)`; `out`: `(rows,)`
    pub fn eval(&self, z: &[f32], goal: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        let d = self.latent_dim;
        check_len("value z", z.len(), out.len() * d)?;
        let mut ws = self.workspace();
        for (zb, ob) in z.chunks(BLOCK_ROWS * d).zip(out.chunks_mut(BLOCK_ROWS)) {
            self.eval_block(zb, goal, &mut ws, None, ob)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::mlp::{LayerNormParams, Linear, MlpSpec};

    fn value(d: usize) -> GoalValue {
        let spec = MlpSpec {
            input_dim: 2 * d,
            hidden: vec![8],
            output_dim: 1,
            activation: Activation::Tanh,
            layer_norm: true,
        };
        let w0: Vec<f32> = (0..8 * 2 * d)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.1)
            .collect();
        let b0: Vec<f32> = (0..8).map(|i| i as f32 * 0.05).collect();
        let w1: Vec<f32> = (0..8).map(|i| (i as f32 - 3.5) * 0.2).collect();
        let mlp = Mlp::new(
            spec,
            vec![
                Linear::new(w0, b0, 2 * d, 8).unwrap(),
                Linear::new(w1, vec![0.3], 8, 1).unwrap(),
            ],
            vec![LayerNormParams {
                gamma: vec![1.1; 8],
                beta: vec![-0.05; 8],
            }],
        )
        .unwrap();
        GoalValue::new(mlp, d, 10.0).unwrap()
    }

    #[test]
    fn the_value_gradient_matches_finite_differences() {
        let d = 3;
        let v = value(d);
        let goal = [0.2f32, -0.4, 0.1];
        let z = [0.5f32, 0.3, -0.7, -0.1, 0.9, 0.4];
        let mut ws = v.workspace();
        let mut tape = vec![0.0; 2 * v.tape_width()];
        let mut out = [0.0f32; 2];
        v.eval_block(&z, &goal, &mut ws, Some(&mut tape), &mut out)
            .unwrap();
        let mut gz = vec![0.0f32; 6];
        v.add_grad_block(&[1.0, 2.0], &tape, &mut ws, &mut gz)
            .unwrap();
        for i in 0..6 {
            let (mut zp, mut zm) = (z, z);
            zp[i] += 1e-3;
            zm[i] -= 1e-3;
            let (mut op, mut om) = ([0.0f32; 2], [0.0f32; 2]);
            v.eval(&zp, &goal, &mut op).unwrap();
            v.eval(&zm, &goal, &mut om).unwrap();
            let w = if i < 3 { 1.0 } else { 2.0 };
            let fd = w * (op[i / 3] - om[i / 3]) / 2e-3;
            assert!(
                (fd - gz[i]).abs() < 2e-2 * (1.0 + fd.abs()),
                "[{i}] fd {fd} vs {}",
                gz[i]
            );
        }
    }

    #[test]
    fn a_network_of_the_wrong_shape_is_refused() {
        let v = value(3);
        let e = GoalValue::new(v.mlp().clone(), 4, 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("latent_dim 4") && e.contains("6 to 1"), "{e}");
        let e = GoalValue::new(v.mlp().clone(), 3, 0.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("steps_per_unit"), "{e}");
    }
}
