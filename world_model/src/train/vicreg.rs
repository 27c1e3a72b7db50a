//! VICReg's variance and covariance terms and their gradients (Bardes et al., 2022), used to
//! keep latents from collapsing without negative pairs.

/// For latents `z`, `(rows, d)`: returns `(var, cov, d var / dz, d cov / dz)` where
///
/// - `var = mean_j max(0, 1 - sqrt(Var_j + 1e-4))` (unbiased variance per dimension), and
/// - `cov = sum_{j != l} C_jl^2 / d` with `C` the unbiased covariance matrix.
///
/// Gradients have shape `(rows, d)`. Computed in f64 for stability.
pub fn vicreg(z: &[f32], rows: usize, d: usize) -> (f32, f32, Vec<f32>, Vec<f32>) {
    let n = rows as f64;
    let denom = (rows.max(2) - 1) as f64;
    let mut mean = vec![0.0f64; d];
    for r in 0..rows {
        for j in 0..d {
            mean[j] += z[r * d + j] as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let zc: Vec<f64> = (0..rows * d).map(|i| z[i] as f64 - mean[i % d]).collect();
    let mut c = vec![0.0f64; d * d];
    for r in 0..rows {
        let row = &zc[r * d..(r + 1) * d];
        for j in 0..d {
            let a = row[j];
            for l in j..d {
                c[j * d + l] += a * row[l];
            }
        }
    }
    for j in 0..d {
        for l in j..d {
            c[j * d + l] /= denom;
            c[l * d + j] = c[j * d + l];
        }
    }
    let std: Vec<f64> = (0..d).map(|j| (c[j * d + j] + 1e-4).sqrt()).collect();
    let var = std.iter().map(|s| (1.0 - s).max(0.0)).sum::<f64>() / d as f64;
    let mut cov = 0.0;
    for j in 0..d {
        for l in 0..d {
            if j != l {
                cov += c[j * d + l] * c[j * d + l];
            }
        }
    }
    cov /= d as f64;
    let mut g_var = vec![0.0f32; rows * d];
    let mut g_cov = vec![0.0f32; rows * d];
    for r in 0..rows {
        for j in 0..d {
            let x = zc[r * d + j];
            if std[j] < 1.0 {
                g_var[r * d + j] = (-x / (denom * std[j] * d as f64)) as f32;
            }
            // d cov / d z_rj = (4 / (d * denom)) * sum_{l != j} C_jl * zc_rl
            let mut s = 0.0;
            for l in 0..d {
                if l != j {
                    s += c[j * d + l] * zc[r * d + l];
                }
            }
            g_cov[r * d + j] = (4.0 * s / (d as f64 * denom)) as f32;
        }
    }
    (var as f32, cov as f32, g_var, g_cov)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vicreg_gradients_match_finite_differences() {
        let (rows, d) = (6, 3);
        let z: Vec<f32> = (0..rows * d)
            .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.2 + (i as f32 * 0.1).sin() * 0.1)
            .collect();
        let (_, _, gv, gc) = vicreg(&z, rows, d);
        let h = 1e-3;
        for i in 0..z.len() {
            let mut zp = z.clone();
            zp[i] += h;
            let (vp, cp, _, _) = vicreg(&zp, rows, d);
            zp[i] -= 2.0 * h;
            let (vm, cm, _, _) = vicreg(&zp, rows, d);
            let nv = (vp - vm) / (2.0 * h);
            let nc = (cp - cm) / (2.0 * h);
            assert!((nv - gv[i]).abs() < 2e-3, "var {i}: {nv} vs {}", gv[i]);
            assert!((nc - gc[i]).abs() < 2e-3, "cov {i}: {nc} vs {}", gc[i]);
        }
    }

    #[test]
    fn collapsed_latents_pay_the_full_variance_penalty() {
        let z = vec![0.5f32; 10 * 4];
        let (var, cov, _, _) = vicreg(&z, 10, 4);
        assert!((var - 0.99).abs() < 1e-3, "{var}");
        assert!(cov.abs() < 1e-9);
    }
}
