// Shared device code of every ebmpc kernel: tile size, activations (the same formulas as
// world_model::activation, including its rational tanh), the layer table, warp reductions.
//
// This file is prepended to each kernel source by kernels/src/sources.rs (NVRTC gets one string,
// no include paths). FP32 throughout; no fast-math intrinsics, so results follow the CPU reference
// up to summation order and FMA contraction.

#define EBMPC_TILE 8            // samples per block in the rollout kernels
#define EBMPC_THREADS 256       // threads per block in the rollout kernels (EBMPC_TILE warps)
#define EBMPC_LAYER_FIELDS 9    // ints per row of the layer table
#define EBMPC_INF __int_as_float(0x7f800000)

// Layer table row (ints), one per linear layer, first to last:
//   0 in_dim, 1 out_dim,
//   2 offset of W^T  (in_dim, out_dim) in params (forward, coalesced over outputs),
//   3 offset of W    (out_dim, in_dim) in params (backward, coalesced over inputs),
//   4 offset of bias (out_dim,),
//   5 offset of LayerNorm gamma (out_dim,) or -1, 6 offset of LayerNorm beta or -1,
//   7 offset of the pre-activation y in a tape row (hidden layers) or -1,
//   8 offset of the activation output h in a tape row (hidden layers) or -1.
#define L_IN 0
#define L_OUT 1
#define L_WT 2
#define L_W 3
#define L_B 4
#define L_GAMMA 5
#define L_BETA 6
#define L_TAPE_Y 7
#define L_TAPE_H 8

// Activation codes (world_model::Activation).
#define ACT_IDENTITY 0
#define ACT_TANH 1
#define ACT_RELU 2
#define ACT_GELU 3
#define ACT_SILU 4

// Norm codes (planner::Norm).
#define NORM_L1 0
#define NORM_SQ_L2 1
#define NORM_SMOOTH_L1 2
#define NORM_COSINE 3

#define LAYER_NORM_EPS 1e-5f
#define COSINE_EPS 1e-8f
#define GELU_C 0.7978846f
#define GELU_K 0.044715f

// world_model::activation::tanh_fast: x P(x^2) / Q(x^2), clamped to [-9, 9].
__device__ __forceinline__ float tanh_fast(float x) {
    x = fminf(fmaxf(x, -9.0f), 9.0f);
    float t = x * x;
    float p = fmaf(fmaf(fmaf(fmaf(fmaf(2.2486243e-11f, t, -1.4472566e-8f), t, 9.839691e-6f), t,
                             0.00298377f), t, 0.1297786f), t, 0.99999999f);
    float q = fmaf(fmaf(fmaf(2.367966e-4f, t, 0.024021218f), t, 0.46311183f), t, 1.0f);
    return fminf(fmaxf(x * p / q, -1.0f), 1.0f);
}

__device__ __forceinline__ float act_apply(int act, float x) {
    switch (act) {
    case ACT_TANH: return tanh_fast(x);
    case ACT_RELU: return fmaxf(x, 0.0f);
    case ACT_GELU: return 0.5f * x * (1.0f + tanh_fast(GELU_C * (x + GELU_K * x * x * x)));
    case ACT_SILU: return x / (1.0f + expf(-x));
    default: return x;
    }
}

// dy/dx at pre-activation x with output y (world_model::Activation::derivative).
__device__ __forceinline__ float act_derivative(int act, float x, float y) {
    switch (act) {
    case ACT_TANH: return 1.0f - y * y;
    case ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case ACT_GELU: {
        float inner = GELU_C * (x + GELU_K * x * x * x);
        float t = tanh_fast(inner);
        float dinner = GELU_C * (1.0f + 3.0f * GELU_K * x * x);
        return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner;
    }
    case ACT_SILU: {
        float s = 1.0f / (1.0f + expf(-x));
        return s * (1.0f + x * (1.0f - s));
    }
    default: return 1.0f;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float sign_f(float x) {
    return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
}

// Weight of the goal distance at predicted step t (1-based) of horizon h.
__device__ __forceinline__ float state_weight(int t, int h, float w_term, float w_run) {
    return w_run + (t == h ? w_term : 0.0f);
}

// One distance term per element, summed by the caller (L1, squared L2, smooth L1).
__device__ __forceinline__ float distance_term(int norm, float beta, float z, float g) {
    float d = z - g;
    switch (norm) {
    case NORM_L1: return fabsf(d);
    case NORM_SMOOTH_L1: {
        float a = fabsf(d);
        return a < beta ? 0.5f * a * a / beta : a - 0.5f * beta;
    }
    default: return d * d;
    }
}

// d(z, goal) of one latent, computed by one whole warp; every lane returns the result.
__device__ __forceinline__ float warp_distance(int norm, float beta, const float* z, const float* __restrict__ goal,
                               int d, int lane) {
    if (norm == NORM_COSINE) {
        float dot = 0.0f, nz = 0.0f, ng = 0.0f;
        for (int j = lane; j < d; j += 32) {
            float a = z[j], b = __ldg(goal + j);
            dot += a * b;
            nz += a * a;
            ng += b * b;
        }
        dot = warp_sum(dot);
        nz = sqrtf(warp_sum(nz));
        ng = sqrtf(warp_sum(ng));
        return 1.0f - dot / (nz * ng + COSINE_EPS);
    }
    float s = 0.0f;
    for (int j = lane; j < d; j += 32) s += distance_term(norm, beta, z[j], __ldg(goal + j));
    return warp_sum(s);
}

// Magnitude and smoothness terms of one sequence (H, A) in global memory, by one warp.
__device__ __forceinline__ float warp_action_cost(const float* __restrict__ seq, int h, int a, float w_mag,
                                  float w_smooth, int lane) {
    int n = h * a;
    float cost = 0.0f;
    if (w_mag != 0.0f) {
        float s = 0.0f;
        for (int i = lane; i < n; i += 32) {
            float v = __ldg(seq + i);
            s += v * v;
        }
        cost += w_mag * warp_sum(s);
    }
    if (w_smooth != 0.0f && n > a) {
        float s = 0.0f;
        for (int i = a + lane; i < n; i += 32) {
            float d = __ldg(seq + i) - __ldg(seq + i - a);
            s += d * d;
        }
        cost += w_smooth * warp_sum(s);
    }
    return cost;
}

// out[s][j] = b[j] + sum_i in[s][i] W[j][i] for EBMPC_TILE samples, W^T (in, out) read through
// the read-only cache, one output column per thread per pass (coalesced over j), the inputs
// broadcast from shared memory.
__device__ __forceinline__ void linear_forward(const float* __restrict__ wt, const float* __restrict__ bias,
                               int in_dim, int out_dim, const float* src, int src_stride,
                               float* dst, int dst_stride) {
    for (int j = threadIdx.x; j < out_dim; j += blockDim.x) {
        float acc[EBMPC_TILE];
        float b = __ldg(bias + j);
#pragma unroll
        for (int s = 0; s < EBMPC_TILE; ++s) acc[s] = b;
#pragma unroll 4
        for (int i = 0; i < in_dim; ++i) {
            float w = __ldg(wt + (size_t)i * out_dim + j);
#pragma unroll
            for (int s = 0; s < EBMPC_TILE; ++s) acc[s] = fmaf(src[s * src_stride + i], w, acc[s]);
        }
#pragma unroll
        for (int s = 0; s < EBMPC_TILE; ++s) dst[s * dst_stride + j] = acc[s];
    }
}

// g_in[s][i] = sum_j g_out[s][j] W[j][i], W (out, in) read coalesced over i.
__device__ __forceinline__ void linear_backward(const float* __restrict__ w, int in_dim, int out_dim,
                                const float* g_out, int g_out_stride, float* g_in,
                                int g_in_stride) {
    for (int i = threadIdx.x; i < in_dim; i += blockDim.x) {
        float acc[EBMPC_TILE];
#pragma unroll
        for (int s = 0; s < EBMPC_TILE; ++s) acc[s] = 0.0f;
#pragma unroll 4
        for (int j = 0; j < out_dim; ++j) {
            float wv = __ldg(w + (size_t)j * in_dim + i);
#pragma unroll
            for (int s = 0; s < EBMPC_TILE; ++s)
                acc[s] = fmaf(g_out[s * g_out_stride + j], wv, acc[s]);
        }
#pragma unroll
        for (int s = 0; s < EBMPC_TILE; ++s) g_in[s * g_in_stride + i] = acc[s];
    }
}

// LayerNorm (optional) and activation of one hidden layer for one sample row, in place, by one
// warp. When tape_y / tape_h are given, records the pre-norm value and the output.
__device__ __forceinline__ void warp_norm_act(float* row, int n, const float* __restrict__ gamma,
                              const float* __restrict__ beta, int act, float* tape_y,
                              float* tape_h, int lane) {
    if (tape_y != nullptr)
        for (int j = lane; j < n; j += 32) tape_y[j] = row[j];
    if (gamma != nullptr) {
        float s = 0.0f;
        for (int j = lane; j < n; j += 32) s += row[j];
        float mean = warp_sum(s) / (float)n;
        float v = 0.0f;
        for (int j = lane; j < n; j += 32) {
            float d = row[j] - mean;
            v += d * d;
        }
        float rstd = 1.0f / sqrtf(warp_sum(v) / (float)n + LAYER_NORM_EPS);
        for (int j = lane; j < n; j += 32)
            row[j] = (row[j] - mean) * rstd * __ldg(gamma + j) + __ldg(beta + j);
    }
    for (int j = lane; j < n; j += 32) {
        float h = act_apply(act, row[j]);
        row[j] = h;
        if (tape_h != nullptr) tape_h[j] = h;
    }
    __syncwarp();
}
