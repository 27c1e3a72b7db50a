// Fused rollout with the backward pass: energies and dE/da of EBMPC_TILE samples per block.
// Compiled in the same module as rollout.cu (it uses predictor_forward).
//
// Grid: ceil(K / EBMPC_TILE) blocks of EBMPC_THREADS threads.
// Dynamic shared memory (floats): EBMPC_TILE * (D + A + 2 * max_width + D) + EBMPC_TILE, where
// max_width >= every hidden width, >= D and >= D + A (checked on the host).
// Global scratch: tape (K, H, tape_w) and zs (K, H, D), sized for the capacity by the host.
//
// Gradients of samples whose energy is not finite are zero rows; non-finite entries of a finite
// sample's gradient are zeroed (the same contract as planner::rollout::grad_rows).

// Backward through the LayerNorm (optional) and activation of one hidden layer, for one sample
// row, in place on g, by one warp; y is the recorded pre-norm value and h the output.
__device__ __forceinline__ void warp_norm_act_backward(float* g, int n, const float* y, const float* h,
                                       const float* __restrict__ gamma,
                                       const float* __restrict__ beta, int act, int lane) {
    if (gamma == nullptr) {
        for (int j = lane; j < n; j += 32) g[j] *= act_derivative(act, y[j], h[j]);
        __syncwarp();
        return;
    }
    float s = 0.0f;
    for (int j = lane; j < n; j += 32) s += y[j];
    float mean = warp_sum(s) / (float)n;
    float v = 0.0f;
    for (int j = lane; j < n; j += 32) {
        float d = y[j] - mean;
        v += d * d;
    }
    float rstd = 1.0f / sqrtf(warp_sum(v) / (float)n + LAYER_NORM_EPS);
    float sum_g = 0.0f, sum_gx = 0.0f;
    for (int j = lane; j < n; j += 32) {
        float xhat = (y[j] - mean) * rstd;
        float gm = __ldg(gamma + j);
        float u = gm * xhat + __ldg(beta + j);
        float gx = g[j] * act_derivative(act, u, h[j]) * gm;
        g[j] = gx;
        sum_g += gx;
        sum_gx += gx * xhat;
    }
    sum_g = warp_sum(sum_g) / (float)n;
    sum_gx = warp_sum(sum_gx) / (float)n;
    for (int j = lane; j < n; j += 32) {
        float xhat = (y[j] - mean) * rstd;
        g[j] = rstd * (g[j] - sum_g - xhat * sum_gx);
    }
    __syncwarp();
}

// Adds weight * d/dz d(z, goal) to gz, by one warp (planner::Energy::add_distance_grad).
__device__ __forceinline__ void warp_distance_grad(int norm, float beta, const float* __restrict__ z,
                                   const float* __restrict__ goal, int d, float weight, float* gz,
                                   int lane) {
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
        float denom = nz * ng + COSINE_EPS;
        float zc = dot * ng / (fmaxf(nz, COSINE_EPS) * denom * denom);
        for (int j = lane; j < d; j += 32)
            gz[j] -= weight * (__ldg(goal + j) / denom - zc * z[j]);
    } else {
        for (int j = lane; j < d; j += 32) {
            float diff = z[j] - __ldg(goal + j);
            float g;
            if (norm == NORM_L1) g = sign_f(diff);
            else if (norm == NORM_SMOOTH_L1) g = fabsf(diff) < beta ? diff / beta : sign_f(diff);
            else g = 2.0f * diff;
            gz[j] += weight * g;
        }
    }
    __syncwarp();
}

extern "C" __global__ void __launch_bounds__(EBMPC_THREADS, 2)
rollout_energy_grad(const float* __restrict__ params, const int* __restrict__ layers,
                    int num_layers, int act, int latent_dim, int action_dim, int horizon,
                    int num_samples, int max_width, int tape_w,
                    const float* __restrict__ z0,       // (D,)
                    const float* __restrict__ goal,     // (D,)
                    const float* __restrict__ actions,  // (K, H, A)
                    int norm, float beta, float w_term, float w_run, float w_mag, float w_smooth,
                    float* __restrict__ tape,           // scratch (K, H, tape_w)
                    float* __restrict__ zs,             // scratch (K, H, D): z_1..z_H
                    float* __restrict__ energies,       // (K,)
                    float* __restrict__ grads) {        // (K, H, A)
    extern __shared__ float smem[];
    const int d = latent_dim, a = action_dim, xs = d + a;
    float* x = smem;                                  // (TILE, D + A)
    float* buf_a = x + EBMPC_TILE * xs;               // (TILE, max_width)
    float* buf_b = buf_a + EBMPC_TILE * max_width;    // (TILE, max_width)
    float* gz = buf_b + EBMPC_TILE * max_width;       // (TILE, D)
    float* cost = gz + EBMPC_TILE * d;                // (TILE,)
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nwarps = blockDim.x >> 5;
    const int k0 = blockIdx.x * EBMPC_TILE;
    const int valid = min(EBMPC_TILE, num_samples - k0);
    const int plan_len = horizon * a;
    const size_t tape_stride = (size_t)horizon * tape_w;
    float* tape_tile = tape + (size_t)k0 * tape_stride;

    // Forward, recording the tape and the latents.
    for (int i = threadIdx.x; i < EBMPC_TILE * d; i += blockDim.x) {
        int s = i / d, j = i - s * d;
        x[s * xs + j] = __ldg(z0 + j);
        gz[i] = 0.0f;
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
        const float* out =
            predictor_forward(params, layers, num_layers, act, x, xs, buf_a, buf_b, max_width,
                              tape_tile + (size_t)t * tape_w, tape_stride, valid);
        for (int i = threadIdx.x; i < EBMPC_TILE * d; i += blockDim.x) {
            int s = i / d, j = i - s * d;
            float z = x[s * xs + j] + out[s * max_width + j];
            x[s * xs + j] = z;
            if (s < valid) zs[((size_t)(k0 + s) * horizon + t) * d + j] = z;
        }
        __syncthreads();
        float w = state_weight(t + 1, horizon, w_term, w_run);
        if (w != 0.0f) {
            for (int s = warp; s < EBMPC_TILE; s += nwarps) {
                float dist = warp_distance(norm, beta, x + s * xs, goal, d, lane);
                if (lane == 0) cost[s] += w * dist;
            }
        }
        __syncthreads();
    }

    // Backward: gz = dE/dz_t, from t = H down to 1.
    for (int t = horizon; t >= 1; --t) {
        float w = state_weight(t, horizon, w_term, w_run);
        if (w != 0.0f) {
            for (int s = warp; s < valid; s += nwarps)
                warp_distance_grad(norm, beta, zs + ((size_t)(k0 + s) * horizon + (t - 1)) * d,
                                   goal, d, w, gz + s * d, lane);
        }
        __syncthreads();
        // z_t = z_{t-1} + f(x): dE/df = gz; walk the layers back to dE/dx.
        const float* g_src = gz;
        int g_src_stride = d;
        float* g_dst = buf_a;
        for (int l = num_layers - 1; l >= 0; --l) {
            const int* row = layers + l * EBMPC_LAYER_FIELDS;
            int in_dim = __ldg(row + L_IN), out_dim = __ldg(row + L_OUT);
            g_dst = (g_src == buf_a) ? buf_b : buf_a;
            linear_backward(params + __ldg(row + L_W), in_dim, out_dim, g_src, g_src_stride, g_dst,
                            max_width);
            __syncthreads();
            if (l > 0) {
                const int* prev = row - EBMPC_LAYER_FIELDS;
                int g_off = __ldg(prev + L_GAMMA), b_off = __ldg(prev + L_BETA);
                int y_off = __ldg(prev + L_TAPE_Y), h_off = __ldg(prev + L_TAPE_H);
                for (int s = warp; s < valid; s += nwarps) {
                    const float* trow = tape_tile + s * tape_stride + (size_t)(t - 1) * tape_w;
                    warp_norm_act_backward(g_dst + s * max_width, in_dim, trow + y_off,
                                           trow + h_off, g_off >= 0 ? params + g_off : nullptr,
                                           b_off >= 0 ? params + b_off : nullptr, act, lane);
                }
                __syncthreads();
            }
            g_src = g_dst;
            g_src_stride = max_width;
        }
        // g_dst = dE/dx = [dE/dz_{t-1} through f ; dE/da_t].
        for (int i = threadIdx.x; i < valid * xs; i += blockDim.x) {
            int s = i / xs, j = i - s * xs;
            float g = g_dst[s * max_width + j];
            if (j < d) gz[s * d + j] += g;
            else grads[(size_t)(k0 + s) * plan_len + (t - 1) * a + (j - d)] = g;
        }
        __syncthreads();
    }

    // Action terms, then the finiteness contract.
    for (int i = threadIdx.x; i < valid * plan_len; i += blockDim.x) {
        int s = i / plan_len, e = i - s * plan_len;
        size_t k = (size_t)(k0 + s) * plan_len;
        const float* seq = actions + k;
        float g = grads[k + e];
        float v = __ldg(seq + e);
        if (w_mag != 0.0f) g += 2.0f * w_mag * v;
        if (w_smooth != 0.0f) {
            if (e >= a) g += 2.0f * w_smooth * (v - __ldg(seq + e - a));
            if (e + a < plan_len) g -= 2.0f * w_smooth * (__ldg(seq + e + a) - v);
        }
        float c = cost[s];
        grads[k + e] = (isfinite(c) && isfinite(g)) ? g : 0.0f;
    }
    if (threadIdx.x < valid) {
        float c = cost[threadIdx.x];
        energies[k0 + threadIdx.x] = isfinite(c) ? c : EBMPC_INF;
    }
}
