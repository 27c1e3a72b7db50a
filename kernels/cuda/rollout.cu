// Fused rollout: all H predictor steps and the whole energy of EBMPC_TILE samples per block, in
// one launch. Nothing but the energies goes back to global memory.
//
// Grid: ceil(K / EBMPC_TILE) blocks of EBMPC_THREADS threads.
// Dynamic shared memory (floats): EBMPC_TILE * (D + A + 2 * max_width) + EBMPC_TILE, where
// max_width >= every hidden width and >= D (checked on the host).
//
// Model: z' = z + f([z; a]) with f the predictor MLP described by `layers` / `params`
// (see common.cuh). Energy: planner::Energy (terminal + running goal distance, action magnitude,
// smoothness); non-finite energies are written as +inf.

// One predictor step for the tile: reads x = [z; a] (stride D + A), leaves f(x) in the returned
// buffer (stride max_width). When `tape` is given (one row of tape_w floats per sample and step,
// row of sample s at tape + s * tape_stride), records every hidden layer's y and h.
__device__ __forceinline__ float* predictor_forward(const float* __restrict__ params, const int* __restrict__ layers,
                                    int num_layers, int act, const float* x, int x_stride,
                                    float* buf_a, float* buf_b, int max_width, float* tape,
                                    size_t tape_stride, int valid) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    const float* src = x;
    int src_stride = x_stride;
    float* dst = buf_a;
    for (int l = 0; l < num_layers; ++l) {
        const int* row = layers + l * EBMPC_LAYER_FIELDS;
        int in_dim = __ldg(row + L_IN), out_dim = __ldg(row + L_OUT);
        dst = (l & 1) ? buf_b : buf_a;
        linear_forward(params + __ldg(row + L_WT), params + __ldg(row + L_B), in_dim, out_dim, src,
                       src_stride, dst, max_width);
        __syncthreads();
        if (l + 1 < num_layers) {
            int g_off = __ldg(row + L_GAMMA), b_off = __ldg(row + L_BETA);
            int y_off = __ldg(row + L_TAPE_Y), h_off = __ldg(row + L_TAPE_H);
            for (int s = warp; s < EBMPC_TILE; s += nwarps) {
                float* ty = nullptr;
                float* th = nullptr;
                if (tape != nullptr && s < valid) {
                    ty = tape + s * tape_stride + y_off;
                    th = tape + s * tape_stride + h_off;
                }
                warp_norm_act(dst + s * max_width, out_dim, g_off >= 0 ? params + g_off : nullptr,
                              b_off >= 0 ? params + b_off : nullptr, act, ty, th, lane);
            }
            __syncthreads();
        }
        src = dst;
        src_stride = max_width;
    }
    return dst;
}

extern "C" __global__ void __launch_bounds__(EBMPC_THREADS, 2)
rollout_energy(const float* __restrict__ params,   // packed weights, see layers
               const int* __restrict__ layers,     // (num_layers, EBMPC_LAYER_FIELDS)
               int num_layers, int act, int latent_dim, int action_dim, int horizon,
               int num_samples, int max_width,
               const float* __restrict__ z0,        // (D,)
               const float* __restrict__ goal,      // (D,)
               const float* __restrict__ actions,   // (K, H, A)
               int norm, float beta, float w_term, float w_run, float w_mag, float w_smooth,
               float* __restrict__ energies) {      // (K,)
    extern __shared__ float smem[];
    const int d = latent_dim, a = action_dim, xs = d + a;
    float* x = smem;                                  // (TILE, D + A)
    float* buf_a = x + EBMPC_TILE * xs;               // (TILE, max_width)
    float* buf_b = buf_a + EBMPC_TILE * max_width;    // (TILE, max_width)
    float* cost = buf_b + EBMPC_TILE * max_width;     // (TILE,)
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    const int k0 = blockIdx.x * EBMPC_TILE;
    const int valid = min(EBMPC_TILE, num_samples - k0);
    const int plan_len = horizon * a;

    for (int i = threadIdx.x; i < EBMPC_TILE * d; i += blockDim.x) {
        int s = i / d, j = i - s * d;
        x[s * xs + j] = __ldg(z0 + j);
    }
    for (int s = warp; s < EBMPC_TILE; s += nwarps) {
        float c = 0.0f;
        if (s < valid)
            c = warp_action_cost(actions + (size_t)(k0 + s) * plan_len, horizon, a, w_mag,
                                 w_smooth, lane);
        if (lane == 0) cost[s] = c;
    }
    for (int t = 0; t < horizon; ++t) {
        for (int i = threadIdx.x; i < EBMPC_TILE * a; i += blockDim.x) {
            int s = i / a, j = i - s * a;
            x[s * xs + d + j] =
                s < valid ? __ldg(actions + (size_t)(k0 + s) * plan_len + t * a + j) : 0.0f;
        }
        __syncthreads();
        const float* out = predictor_forward(params, layers, num_layers, act, x, xs, buf_a, buf_b,
                                             max_width, nullptr, 0, valid);
        for (int i = threadIdx.x; i < EBMPC_TILE * d; i += blockDim.x) {
            int s = i / d, j = i - s * d;
            x[s * xs + j] += out[s * max_width + j];
        }
        __syncthreads();
        float w = state_weight(t + 1, horizon, w_term, w_run);
        if (w != 0.0f) {
            for (int s = warp; s < EBMPC_TILE; s += nwarps) {
                float dist = warp_distance(norm, beta, x + s * xs, goal, d, lane);
                if (lane == 0) cost[s] += w * dist;
            }
        }
        // The next step overwrites the action columns of x and reads the latents.
        __syncthreads();
    }
    if (threadIdx.x < valid) {
        float c = cost[threadIdx.x];
        energies[k0 + threadIdx.x] = isfinite(c) ? c : EBMPC_INF;
    }
}
