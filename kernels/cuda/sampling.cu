// Sampling-optimizer kernels: Gaussian action sampling with a counter-based RNG, elite selection,
// the CEM refit and the MPPI weighted mean. Every result is independent of the launch shape.

// ---- Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) ----

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

__device__ __forceinline__ uint4 philox4x32_10(uint4 c, uint2 k) {
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        unsigned int hi0 = __umulhi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
        unsigned int hi1 = __umulhi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
        c = make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k.x += PHILOX_W0;
        k.y += PHILOX_W1;
    }
    return c;
}

// Test hook: out[i] = philox4x32_10(counter[i], key[i]), for known-answer checks on a GPU.
extern "C" __global__ void philox_test(const uint4* __restrict__ counters,
                                       const uint2* __restrict__ keys, uint4* __restrict__ out,
                                       int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = philox4x32_10(counters[i], keys[i]);
}

// Standard normal variate of one (seed, sample, t, dim) under `stream` (the iteration or any
// purpose tag): Box-Muller on the first two 32-bit outputs, 24 bits each, u1 in (0, 1].
__device__ __forceinline__ float philox_normal(unsigned long long seed, unsigned int stream,
                                               unsigned int sample, unsigned int t,
                                               unsigned int dim) {
    uint2 key = make_uint2((unsigned int)seed, (unsigned int)(seed >> 32));
    uint4 ctr = make_uint4(sample, t, dim, stream);
    uint4 r = philox4x32_10(ctr, key);
    float u1 = ((float)(r.x >> 8) + 1.0f) * (1.0f / 16777216.0f);
    float u2 = (float)(r.y >> 8) * (1.0f / 16777216.0f);
    return sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
}

// actions[k, t, j] = clamp(mean[t, j] + std[t, j] * n(seed, stream, k, t, j), lower[j], upper[j])
// for k in fixed..K (rows before `fixed` are left as they are); NaN maps to the midpoint.
// One thread per element; any grid covering K * H * A works.
extern "C" __global__ void sample_actions(const float* __restrict__ mean,   // (H, A)
                                          const float* __restrict__ std,    // (H, A)
                                          const float* __restrict__ lower,  // (A,)
                                          const float* __restrict__ upper,  // (A,)
                                          unsigned long long seed, unsigned int stream,
                                          int num_samples, int fixed, int horizon,
                                          int action_dim,
                                          float* __restrict__ actions) {    // (K, H, A)
    const int plan_len = horizon * action_dim;
    const size_t total = (size_t)num_samples * plan_len;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        int k = (int)(i / plan_len);
        if (k < fixed) continue;
        int e = (int)(i - (size_t)k * plan_len);
        int t = e / action_dim, j = e - t * action_dim;
        float n = philox_normal(seed, stream, (unsigned int)k, (unsigned int)t, (unsigned int)j);
        float v = __ldg(mean + e) + __ldg(std + e) * n;
        float lo = __ldg(lower + j), hi = __ldg(upper + j);
        actions[i] = isnan(v) ? 0.5f * (lo + hi) : fminf(fmaxf(v, lo), hi);
    }
}

// Orders energies like planner::optimizer::select_elites: NaN counts as +inf, ties by index.
__device__ __forceinline__ unsigned long long sort_key(float e, unsigned int idx) {
    if (isnan(e)) e = EBMPC_INF;
    unsigned int b = __float_as_uint(e);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((unsigned long long)b << 32) | idx;
}

// Top-k by energy in one block: bitonic sort of (energy, index) keys in shared memory.
// Dynamic shared memory: next_pow2(K) * 8 bytes (K <= 4096 on the host, 32 KiB).
// Writes the k lowest indices, ascending by energy, and the number of finite ones to *num_valid.
extern "C" __global__ void __launch_bounds__(1024)
select_elites(const float* __restrict__ energies, int num_samples, int padded, int k,
              unsigned int* __restrict__ elite_idx,      // (k,)
              int* __restrict__ num_valid) {             // (1,)
    extern __shared__ unsigned long long keys[];
    for (int i = threadIdx.x; i < padded; i += blockDim.x)
        keys[i] = i < num_samples ? sort_key(energies[i], (unsigned int)i) : ~0ull;
    __syncthreads();
    for (int size = 2; size <= padded; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int i = threadIdx.x; i < padded; i += blockDim.x) {
                int p = i ^ stride;
                if (p > i) {
                    bool up = (i & size) == 0;
                    unsigned long long a = keys[i], b = keys[p];
                    if ((a > b) == up) {
                        keys[i] = b;
                        keys[p] = a;
                    }
                }
            }
            __syncthreads();
        }
    }
    __shared__ int count;
    if (threadIdx.x == 0) count = 0;
    __syncthreads();
    int local = 0;
    for (int i = threadIdx.x; i < k; i += blockDim.x) {
        unsigned int idx = (unsigned int)(keys[i] & 0xffffffffull);
        elite_idx[i] = idx;
        if (isfinite(energies[idx])) ++local;
    }
    atomicAdd(&count, local);
    __syncthreads();
    if (threadIdx.x == 0) *num_valid = count;
}

// CEM refit over the first *num_valid elites (planner::cem::refit): elite mean and population
// std per coordinate, smoothed with the previous values, std floored at min_std. No-op when no
// elite is finite. One thread per coordinate of the plan.
extern "C" __global__ void cem_update(const float* __restrict__ actions,        // (K, H, A)
                                      const unsigned int* __restrict__ elite_idx,
                                      const int* __restrict__ num_valid, int plan_len,
                                      float mean_smoothing, float std_smoothing, float min_std,
                                      float* __restrict__ mean,                 // (H, A)
                                      float* __restrict__ std) {                // (H, A)
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int n = *num_valid;
    if (j >= plan_len || n <= 0) return;
    float inv = 1.0f / (float)n;
    float s = 0.0f;
    for (int e = 0; e < n; ++e) s += actions[(size_t)elite_idx[e] * plan_len + j];
    float m = s * inv;
    float v = 0.0f;
    for (int e = 0; e < n; ++e) {
        float d = actions[(size_t)elite_idx[e] * plan_len + j] - m;
        v += d * d;
    }
    float sd = sqrtf(v * inv);
    mean[j] = mean_smoothing * mean[j] + (1.0f - mean_smoothing) * m;
    std[j] = fmaxf(std_smoothing * std[j] + (1.0f - std_smoothing) * sd, min_std);
}

// MPPI weights in one block: w_k = exp(-(E_k - E_min) / temperature) over finite energies
// (0 elsewhere), and their sum (>= 1 when any energy is finite, 0 otherwise), in float64 like
// planner::mppi.
extern "C" __global__ void __launch_bounds__(1024)
mppi_weights(const float* __restrict__ energies, int num_samples, float temperature,
             double* __restrict__ weights,       // (K,)
             double* __restrict__ total) {       // (1,)
    __shared__ float mins[32];
    __shared__ double sums[32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    float m = EBMPC_INF;
    for (int i = threadIdx.x; i < num_samples; i += blockDim.x) {
        float e = energies[i];
        if (isfinite(e)) m = fminf(m, e);
    }
    for (int o = 16; o > 0; o >>= 1) m = fminf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) mins[warp] = m;
    __syncthreads();
    float e_min = EBMPC_INF;
    for (int w = 0; w < nwarps; ++w) e_min = fminf(e_min, mins[w]);
    double inv_t = 1.0 / (double)temperature;
    double s = 0.0;
    for (int i = threadIdx.x; i < num_samples; i += blockDim.x) {
        float e = energies[i];
        double w = (isfinite(e) && isfinite(e_min)) ? exp(-((double)e - (double)e_min) * inv_t) : 0.0;
        weights[i] = w;
        s += w;
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) sums[warp] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int w = 0; w < nwarps; ++w) t += sums[w];
        *total = t;
    }
}

// MPPI mean: u[j] = sum_k w_k a[k, j] / total; left unchanged when total is 0 (no finite
// energy). One block per plan coordinate j, block-reduced in float64.
extern "C" __global__ void __launch_bounds__(256)
mppi_update(const float* __restrict__ actions,     // (K, H, A)
            const double* __restrict__ weights,    // (K,)
            const double* __restrict__ total,      // (1,)
            int num_samples, int plan_len,
            float* __restrict__ u) {               // (H, A)
    __shared__ double sums[8];
    const int j = blockIdx.x;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    double s = 0.0;
    for (int k = threadIdx.x; k < num_samples; k += blockDim.x) {
        double w = weights[k];
        if (w != 0.0) s += w * (double)actions[(size_t)k * plan_len + j];
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) sums[warp] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        double t = *total;
        if (t > 0.0) {
            double acc = 0.0;
            for (int w = 0; w < nwarps; ++w) acc += sums[w];
            u[j] = (float)(acc / t);
        }
    }
}
