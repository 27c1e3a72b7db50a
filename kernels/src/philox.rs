//! Philox4x32-10 (Salmon et al., SC'11), the counter-based RNG of `cuda/sampling.cu`, on the host.
//!
//! The GPU sampler draws the normal variate of element `(sample, t, dim)` of stream `stream`
//! under `seed` from one Philox block with counter `(sample, t, dim, stream)` and key
//! `(seed_lo, seed_hi)`, so the draw depends on nothing but those numbers, whatever the launch
//! shape. [`philox_normal`] is the same mapping here, for parity tests on a GPU machine.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Ten Philox rounds of `counter` under `key`.
pub fn philox4x32_10(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    for _ in 0..10 {
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// Standard normal variate of `(seed, stream, sample, t, dim)`, as `philox_normal` in
/// `sampling.cu` computes it (Box-Muller, 24-bit uniforms, `u1` in `(0, 1]`). The GPU uses
/// `logf`/`cospif`, so the two agree to a few ulp, not bit for bit.
pub fn philox_normal(seed: u64, stream: u32, sample: u32, t: u32, dim: u32) -> f32 {
    let r = philox4x32_10([sample, t, dim, stream], [seed as u32, (seed >> 32) as u32]);
    let u1 = ((r[0] >> 8) as f32 + 1.0) * (1.0 / 16_777_216.0);
    let u2 = (r[1] >> 8) as f32 * (1.0 / 16_777_216.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123 `tests/kat_vectors`, the three `philox4x32 10` lines (counter, key, result).
    #[test]
    fn philox_matches_random123_known_answers() {
        let cases = [
            (
                [0u32; 4],
                [0u32; 2],
                [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
            ),
            (
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0],
                [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
            ),
        ];
        for (c, k, want) in cases {
            assert_eq!(philox4x32_10(c, k), want, "counter {c:x?} key {k:x?}");
        }
    }

    #[test]
    fn philox_normals_have_unit_moments() {
        let n = 100_000u32;
        let v: Vec<f64> = (0..n)
            .map(|i| f64::from(philox_normal(7, 1, i / 64, (i / 4) % 16, i % 4)))
            .collect();
        let mean = v.iter().sum::<f64>() / f64::from(n);
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / f64::from(n);
        assert!(
            mean.abs() < 0.015 && (var - 1.0).abs() < 0.02,
            "mean {mean} var {var}"
        );
    }
}
