//! AdamW (decoupled weight decay, PyTorch's formula) and a warmup + cosine learning-rate
//! schedule.

/// AdamW state over a flat parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW {
    /// First moments, same layout as the parameters.
    pub m: Vec<f32>,
    /// Second moments, same layout as the parameters.
    pub v: Vec<f32>,
    /// Steps taken.
    pub t: u64,
    /// Exponential decay of the first moment (PyTorch default 0.9).
    pub beta1: f32,
    /// Exponential decay of the second moment (PyTorch default 0.999).
    pub beta2: f32,
    /// Denominator epsilon (PyTorch default 1e-8).
    pub eps: f32,
}

impl AdamW {
    /// Zeroed state for `n` parameters with PyTorch's default betas and epsilon.
    pub fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }

    /// One update of `params` from `grads` with learning rate `lr` and decoupled weight decay
    /// `weight_decay`, applied only where `decay_mask` is true (weights, not biases or norms).
    pub fn step(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        lr: f32,
        weight_decay: f32,
        decay_mask: &[bool],
    ) {
        self.t += 1;
        let bc1 = 1.0 - self.beta1.powi(self.t as i32);
        let bc2 = 1.0 - self.beta2.powi(self.t as i32);
        for i in 0..params.len() {
            if decay_mask[i] {
                params[i] *= 1.0 - lr * weight_decay;
            }
            let g = grads[i];
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g;
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g;
            let m_hat = self.m[i] / bc1;
            let v_hat = self.v[i] / bc2;
            params[i] -= lr * m_hat / (v_hat.sqrt() + self.eps);
        }
    }
}

/// Learning rate at `step` (0-based) of `total`: linear warmup over `warmup` steps to `peak`,
/// then cosine decay to `peak * min_ratio`.
pub fn lr_at(step: u64, total: u64, warmup: u64, peak: f32, min_ratio: f32) -> f32 {
    if step < warmup {
        return peak * (step + 1) as f32 / warmup as f32;
    }
    let span = total.saturating_sub(warmup).max(1);
    let progress = ((step - warmup) as f32 / span as f32).min(1.0);
    let cosine = 0.5 * (1.0 + (std::f32::consts::PI * progress).cos());
    peak * (min_ratio + (1.0 - min_ratio) * cosine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adamw_first_step_moves_each_weight_by_lr() {
        // With bias correction, Adam's first step is lr * sign(g) (up to eps).
        let mut p = vec![1.0f32, -2.0, 0.5];
        let mut opt = AdamW::new(3);
        opt.step(&mut p, &[0.3, -4.0, 0.0], 0.1, 0.0, &[true; 3]);
        assert!(
            (p[0] - 0.9).abs() < 1e-6 && (p[1] + 1.9).abs() < 1e-6 && p[2] == 0.5,
            "{p:?}"
        );
        // Decoupled decay shrinks masked weights only.
        let mut q = vec![1.0f32, 1.0];
        AdamW::new(2).step(&mut q, &[0.0, 0.0], 0.1, 0.5, &[true, false]);
        assert!((q[0] - 0.95).abs() < 1e-6 && q[1] == 1.0, "{q:?}");
    }

    #[test]
    fn adamw_minimizes_a_quadratic() {
        let mut p = vec![3.0f32, -1.5];
        let mut opt = AdamW::new(2);
        for _ in 0..2000 {
            let g = [2.0 * (p[0] - 1.0), 2.0 * (p[1] + 0.5)];
            opt.step(&mut p, &g, 0.01, 0.0, &[true, true]);
        }
        assert!(
            (p[0] - 1.0).abs() < 1e-2 && (p[1] + 0.5).abs() < 1e-2,
            "{p:?}"
        );
    }

    #[test]
    fn schedule_warms_up_then_decays_to_the_floor() {
        assert!((lr_at(0, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-6);
        assert!((lr_at(9, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-6);
        assert!((lr_at(10, 100, 10, 1.0, 0.1) - 1.0).abs() < 1e-6);
        assert!((lr_at(100, 100, 10, 1.0, 0.1) - 0.1).abs() < 1e-6);
        assert!(lr_at(50, 100, 10, 1.0, 0.1) < 1.0 && lr_at(50, 100, 10, 1.0, 0.1) > 0.1);
    }
}
