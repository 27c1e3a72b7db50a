//! Latent-space diagnostics: effective rank, and the evaluation report of `ebmpc eval-model`
//! (k-step prediction error against a copy-the-last-latent baseline, linear probes, collapse).

use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::head::LinearHead;
use crate::seam::WorldModel;
use crate::train::data::Sequences;
use crate::train::trainer::column_std;

/// Eigenvalues of a symmetric matrix `(n, n)` by cyclic Jacobi rotations.
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        let diag: f64 = (0..n).map(|i| m[i * n + i] * m[i * n + i]).sum();
        if off <= 1e-22 * diag.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * akp - s * akq;
                    m[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * apk - s * aqk;
                    m[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| m[i * n + i]).collect()
}

/// Effective rank (RankMe) of `z`, `(rows, d)`: `exp(H(p))` with `p` the normalized singular
/// values of the centered matrix. Between 1 (collapsed to a line) and `d`.
pub fn effective_rank(z: &[f32], rows: usize, d: usize) -> f32 {
    let mut mean = vec![0.0f64; d];
    for r in 0..rows {
        for j in 0..d {
            mean[j] += z[r * d + j] as f64 / rows as f64;
        }
    }
    let mut c = vec![0.0f64; d * d];
    for r in 0..rows {
        for j in 0..d {
            let a = z[r * d + j] as f64 - mean[j];
            for l in 0..d {
                c[j * d + l] += a * (z[r * d + l] as f64 - mean[l]);
            }
        }
    }
    let sv: Vec<f64> = symmetric_eigenvalues(&c, d)
        .into_iter()
        .map(|e| e.max(0.0).sqrt())
        .collect();
    let total: f64 = sv.iter().sum();
    if total <= 0.0 {
        return 1.0;
    }
    let h: f64 = sv
        .iter()
        .map(|s| s / total)
        .filter(|&p| p > 1e-12)
        .map(|p| -p * p.ln())
        .sum();
    h.exp() as f32
}

/// One linear-probe target: a name and the indices of its values in the state rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeTarget {
    /// Name, e.g. `cube_pos`.
    pub name: String,
    /// Indices into a state row.
    pub indices: Vec<usize>,
}

/// Result of a linear probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Target name.
    pub name: String,
    /// R^2 on held-out episodes (1 - SSE / SST over all the target's components).
    pub r2: f32,
}

/// The report printed by `ebmpc eval-model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Held-out episodes evaluated.
    pub episodes: usize,
    /// `(k, error / copy-baseline error)` for each horizon; NaN (JSON `null`) where no held-out
    /// episode has `k` actions.
    pub k_step_ratio: Vec<(usize, f32)>,
    /// `(k, number of k-step windows scored)` for each horizon.
    pub k_step_windows: Vec<(usize, usize)>,
    /// Linear probes from the latent to state components.
    pub probes: Vec<ProbeResult>,
    /// Per-dimension standard deviation of held-out latents.
    pub latent_std: Vec<f32>,
    /// Effective rank of held-out latents.
    pub effective_rank: f32,
    /// Latent width.
    pub latent_dim: usize,
}

fn encode_all(
    model: &impl WorldModel,
    seqs: &Sequences,
    episodes: &[usize],
) -> Result<Vec<Vec<f32>>, ModelError> {
    let mut ws = model.workspace(1024);
    let d = model.dims().latent_dim;
    episodes
        .iter()
        .map(|&e| {
            let rows = seqs.spans[e].len + 1;
            let obs = &seqs.obs[seqs.spans[e].obs_start * seqs.obs_dim
                ..(seqs.spans[e].obs_start + rows) * seqs.obs_dim];
            let mut z = vec![0.0f32; rows * d];
            model.encode(obs, &mut z, &mut ws)?;
            Ok(z)
        })
        .collect()
}

/// Ridge regression `y ~ [x, 1] W` (normal equations with penalty `lambda`, solved by Gaussian
/// elimination in f64). Returns `W`, `(dx + 1, dy)`.
fn ridge(x: &[f32], y: &[f32], rows: usize, dx: usize, dy: usize, lambda: f64) -> Vec<f64> {
    let p = dx + 1;
    let mut a = vec![0.0f64; p * p];
    let mut b = vec![0.0f64; p * dy];
    let feat = |r: usize, j: usize| if j < dx { x[r * dx + j] as f64 } else { 1.0 };
    for r in 0..rows {
        for i in 0..p {
            let fi = feat(r, i);
            for j in 0..p {
                a[i * p + j] += fi * feat(r, j);
            }
            for t in 0..dy {
                b[i * dy + t] += fi * y[r * dy + t] as f64;
            }
        }
    }
    for i in 0..dx {
        a[i * p + i] += lambda * rows as f64;
    }
    // Gaussian elimination with partial pivoting on [A | B].
    for col in 0..p {
        let piv = (col..p)
            .max_by(|&i, &j| a[i * p + col].abs().total_cmp(&a[j * p + col].abs()))
            .unwrap_or(col);
        if piv != col {
            for j in 0..p {
                a.swap(col * p + j, piv * p + j);
            }
            for t in 0..dy {
                b.swap(col * dy + t, piv * dy + t);
            }
        }
        let d = a[col * p + col];
        if d.abs() < 1e-300 {
            continue;
        }
        for i in 0..p {
            if i == col {
                continue;
            }
            let f = a[i * p + col] / d;
            if f == 0.0 {
                continue;
            }
            for j in col..p {
                a[i * p + j] -= f * a[col * p + j];
            }
            for t in 0..dy {
                b[i * dy + t] -= f * b[col * dy + t];
            }
        }
    }
    for i in 0..p {
        let d = a[i * p + i];
        for t in 0..dy {
            b[i * dy + t] = if d.abs() < 1e-300 {
                0.0
            } else {
                b[i * dy + t] / d
            };
        }
    }
    b
}

/// Rows `(latent, target values)` of every step of `eps`, whose latents are `zs` (one
/// `(len + 1, d)` buffer per episode): `x` `(rows, d)`, `y` `(rows, target.indices.len())`.
fn gather(
    seqs: &Sequences,
    d: usize,
    zs: &[Vec<f32>],
    eps: &[usize],
    target: &ProbeTarget,
) -> (Vec<f32>, Vec<f32>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (z, &e) in zs.iter().zip(eps) {
        for s in 0..=seqs.spans[e].len {
            x.extend_from_slice(&z[s * d..(s + 1) * d]);
            let st = seqs.state_at(e, s);
            y.extend(target.indices.iter().map(|&i| st[i]));
        }
    }
    (x, y)
}

/// Fits a linear read-out of `target` by ridge regression on `fit = (latents, episodes)` and
/// scores it on `score`: the head and its R^2 (1 - SSE / SST over all components; NaN with no
/// rows to score).
fn fit_and_score(
    seqs: &Sequences,
    d: usize,
    fit: (&[Vec<f32>], &[usize]),
    score: (&[Vec<f32>], &[usize]),
    target: &ProbeTarget,
) -> Result<(LinearHead, f32), ModelError> {
    let dy = target.indices.len();
    if dy == 0 || seqs.states.is_empty() {
        return Err(ModelError::InvalidSpec(format!(
            "cannot fit `{}`: the dataset has no state rows or the target no indices",
            target.name
        )));
    }
    let (xf, yf) = gather(seqs, d, fit.0, fit.1, target);
    let (xe, ye) = gather(seqs, d, score.0, score.1, target);
    let (rows_f, rows_e) = (yf.len() / dy, ye.len() / dy);
    if rows_f == 0 {
        return Err(ModelError::InvalidSpec(format!(
            "cannot fit `{}`: no episodes to fit on",
            target.name
        )));
    }
    let w = ridge(&xf, &yf, rows_f, d, dy, 1e-6);
    let mut weight = vec![0.0f32; dy * d];
    for c in 0..dy {
        for j in 0..d {
            weight[c * d + j] = w[j * dy + c] as f32;
        }
    }
    let bias: Vec<f32> = (0..dy).map(|c| w[d * dy + c] as f32).collect();
    let head = LinearHead::new(&target.name, weight, bias, d)?;
    let mut mean = vec![0.0f64; dy];
    for r in 0..rows_e {
        for c in 0..dy {
            mean[c] += ye[r * dy + c] as f64 / rows_e as f64;
        }
    }
    let mut pred = vec![0.0f32; dy];
    let (mut sse, mut sst) = (0.0f64, 0.0f64);
    for r in 0..rows_e {
        head.apply(&xe[r * d..(r + 1) * d], &mut pred)?;
        for c in 0..dy {
            let truth = ye[r * dy + c] as f64;
            sse += (pred[c] as f64 - truth).powi(2);
            sst += (truth - mean[c]).powi(2);
        }
    }
    let r2 = if rows_e == 0 {
        f32::NAN
    } else {
        (1.0 - sse / sst.max(1e-30)) as f32
    };
    Ok((head, r2))
}

/// Fits one [`LinearHead`] per target, named after it, that reads its state values from
/// `model`'s latents, by ridge regression on the steps of `fit_eps`, and scores each on
/// `held_eps`: the heads and their held-out R^2 (NaN when `held_eps` is empty). The episodes are
/// encoded once for all targets.
pub fn fit_heads(
    model: &impl WorldModel,
    seqs: &Sequences,
    fit_eps: &[usize],
    held_eps: &[usize],
    targets: &[ProbeTarget],
) -> Result<Vec<(LinearHead, f32)>, ModelError> {
    let d = model.dims().latent_dim;
    let fit_z = encode_all(model, seqs, fit_eps)?;
    let held_z = encode_all(model, seqs, held_eps)?;
    targets
        .iter()
        .map(|t| fit_and_score(seqs, d, (&fit_z, fit_eps), (&held_z, held_eps), t))
        .collect()
}

/// Evaluates `model` on `seqs` (raw observations): prediction error ratios on `eval_eps` for
/// each horizon in `horizons`, linear probes fitted on `probe_fit_eps` and scored on
/// `eval_eps`, and collapse indicators on `eval_eps`.
pub fn evaluate(
    model: &impl WorldModel,
    seqs: &Sequences,
    probe_fit_eps: &[usize],
    eval_eps: &[usize],
    horizons: &[usize],
    targets: &[ProbeTarget],
) -> Result<EvalReport, ModelError> {
    let dims = model.dims();
    let (d, na) = (dims.latent_dim, dims.action_dim);
    let zs = encode_all(model, seqs, eval_eps)?;
    let mut ws = model.workspace(1024);
    if eval_eps.is_empty() {
        return Err(ModelError::InvalidSpec(
            "no held-out episodes to evaluate on (raise --holdout or use more episodes)".into(),
        ));
    }
    let mut k_step_ratio = Vec::new();
    let mut k_step_windows = Vec::new();
    for &k in horizons {
        let (mut err, mut base, mut windows) = (0.0f64, 0.0f64, 0usize);
        for (z, &e) in zs.iter().zip(eval_eps) {
            let len = seqs.spans[e].len;
            if len < k {
                continue;
            }
            let starts = len + 1 - k;
            windows += starts;
            let mut cur = z[..starts * d].to_vec();
            let mut next = vec![0.0f32; starts * d];
            let mut a = vec![0.0f32; starts * na];
            for i in 0..k {
                for s in 0..starts {
                    a[s * na..(s + 1) * na].copy_from_slice(seqs.action_at(e, s + i));
                }
                model.step(&cur, &a, &mut next, &mut ws)?;
                std::mem::swap(&mut cur, &mut next);
            }
            for s in 0..starts {
                for j in 0..d {
                    let truth = z[(s + k) * d + j] as f64;
                    err += (cur[s * d + j] as f64 - truth).powi(2);
                    base += (z[s * d + j] as f64 - truth).powi(2);
                }
            }
        }
        let ratio = if windows == 0 || base <= 0.0 {
            f32::NAN
        } else {
            (err / base) as f32
        };
        k_step_ratio.push((k, ratio));
        k_step_windows.push((k, windows));
    }

    let mut probes = Vec::new();
    if !seqs.states.is_empty() && !targets.is_empty() && !probe_fit_eps.is_empty() {
        let fit_z = encode_all(model, seqs, probe_fit_eps)?;
        for t in targets {
            let (_, r2) = fit_and_score(seqs, d, (&fit_z, probe_fit_eps), (&zs, eval_eps), t)?;
            probes.push(ProbeResult {
                name: t.name.clone(),
                r2,
            });
        }
    }
    let all: Vec<f32> = zs.iter().flatten().copied().collect();
    let rows = all.len() / d.max(1);
    Ok(EvalReport {
        episodes: eval_eps.len(),
        k_step_ratio,
        k_step_windows,
        probes,
        latent_std: column_std(&all, rows, d),
        effective_rank: effective_rank(&all, rows, d),
        latent_dim: d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_rank_counts_equal_directions() {
        // Rows spread equally over 3 orthogonal directions in 5 dimensions.
        let mut z = Vec::new();
        for r in 0..300 {
            let mut row = [0.0f32; 5];
            row[r % 3] = if (r / 3) % 2 == 0 { 1.0 } else { -1.0 };
            z.extend_from_slice(&row);
        }
        let er = effective_rank(&z, 300, 5);
        assert!((er - 3.0).abs() < 0.05, "{er}");
        let line: Vec<f32> = (0..100).flat_map(|r| [r as f32, 2.0 * r as f32]).collect();
        assert!((effective_rank(&line, 100, 2) - 1.0).abs() < 1e-3);
    }

    #[test]
    fn ridge_recovers_a_linear_map() {
        let rows = 50;
        let x: Vec<f32> = (0..rows * 2)
            .map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.5)
            .collect();
        let y: Vec<f32> = (0..rows)
            .map(|r| 2.0 * x[r * 2] - x[r * 2 + 1] + 0.5)
            .collect();
        let w = ridge(&x, &y, rows, 2, 1, 0.0);
        assert!(
            (w[0] - 2.0).abs() < 1e-6 && (w[1] + 1.0).abs() < 1e-6 && (w[2] - 0.5).abs() < 1e-6,
            "{w:?}"
        );
    }
}
