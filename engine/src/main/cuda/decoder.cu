// The dense half of a decoder step on the GPU (FORMAT.md section 4.4): embedding gather, RMSNorm (+ residual add),
// q/k-norm + RoPE + paged-KV append, GQA attention over the paged cache (decode and prefill alike: every row is a
// query at its own absolute position), and sampling. The GEMMs are cuBLAS's, the MoE is the role's backend.
//
// Row metadata (per step, uploaded before the launches, so a captured graph replays with new contents):
//   row_pos[r]    absolute position of row r in its sequence: the cache slot its k and v go to
//   row_table[r]  offset of its sequence's block table in block_tables (blocks of KV_BLOCK tokens)
//   row_back[r]   optional (null: 0 for every row): how far the row's slot lies past its logical position
//                 ctx = row_pos - row_back, i.e. the tokens before it. RoPE takes ctx, and the row attends to keys
//                 0..ctx-1 and to its own slot. A chain row has 0; a sibling draft (the drafter's second choice for a
//                 chain draft's position, verified in the same pass) sits in a spare slot past the chain, k further
//                 on, and attends to its ancestors only.
// The KV cache is fp32, [layer][block][KV_BLOCK][nKV*d] for K and V separately.
#include "common.cuh"

__device__ double block_sum_d(double v) {
    __shared__ double partd[32];
    __shared__ double totald;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) partd[warp] = v;
    __syncthreads();
    if (warp == 0) {
        double s = lane < (int)(blockDim.x >> 5) ? partd[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
        if (lane == 0) totald = s;
    }
    __syncthreads();
    double r = totald;
    __syncthreads();
    return r;
}

// x[r, :] = embed[tokens[r], :]   grid (m), block 256
extern "C" __global__ void es_embed(const int* __restrict__ tokens, const float* __restrict__ embed,
                                    float* __restrict__ x, int h) {
    pdl_enter();
    int r = blockIdx.x;
    const float* src = embed + (long long)tokens[r] * h;
    for (int j = threadIdx.x; j < h; j += blockDim.x) x[(long long)r * h + j] = src[j];
}

// For output row r (input row rows ? rows[r] : r): if add, x[in] += add[in] (bf16, the MoE output) first;
// then out = x / sqrt(mean(x^2) + eps) * w, as bf16 (out_bf16) and/or fp32 (out_f32).   grid (m), block 256
extern "C" __global__ void es_rmsnorm(float* __restrict__ x, const __nv_bfloat16* __restrict__ add,
                                      const int* __restrict__ rows, const float* __restrict__ w, float eps, int h,
                                      __nv_bfloat16* __restrict__ out_bf16, float* __restrict__ out_f32) {
    pdl_enter();
    int r = blockIdx.x;
    long long in = (long long)(rows ? rows[r] : r) * h, o = (long long)r * h;
    float ss = 0.f;
    for (int j = threadIdx.x; j < h; j += blockDim.x) {
        float v = x[in + j];
        if (add) {
            v += __bfloat162float(add[in + j]);
            x[in + j] = v;
        }
        ss += v * v;
    }
    float inv = rsqrtf(block_sum(ss) / h + eps);
    for (int j = threadIdx.x; j < h; j += blockDim.x) {
        float v = x[in + j] * inv * w[j];
        if (out_bf16) out_bf16[o + j] = __float2bfloat16(v);
        if (out_f32) out_f32[o + j] = v;
    }
}

// qkv[r] = [q (nH*d) | k (nKV*d) | v (nKV*d)] fp32 from the fused projection. Per (row, head): q/k heads get the
// per-head RMSNorm (when q_norm/k_norm are given) and RoPE (rotate_half, angle p * inv_freq[i] in fp32); q goes to
// q_out, k and v to the cache slot of (sequence, position).   grid (m, nH + 2*nKV), block 32*ceil(d/32)
extern "C" __global__ void es_qkv_rope_append(const float* __restrict__ qkv, const float* __restrict__ q_norm,
                                              const float* __restrict__ k_norm, const float* __restrict__ inv_freq,
                                              const int* __restrict__ row_pos, const int* __restrict__ row_back,
                                              const int* __restrict__ row_table,
                                              const int* __restrict__ block_tables, float eps, int nH, int nKV, int d,
                                              float* __restrict__ q_out, float* __restrict__ k_cache,
                                              float* __restrict__ v_cache) {
    pdl_enter();
    __shared__ float head[256];
    int r = blockIdx.x, hd = blockIdx.y, t = threadIdx.x;
    int width = (nH + 2 * nKV) * d, kvw = nKV * d;
    int p = row_pos[r], ctx = row_back ? p - row_back[r] : p;
    long long slot = (long long)block_tables[row_table[r] + p / KV_BLOCK] * KV_BLOCK + p % KV_BLOCK;
    const float* src = qkv + (long long)r * width + hd * d;
    if (hd >= nH + nKV) {  // v: copied as is
        int g = hd - nH - nKV;
        for (int c = t; c < d; c += blockDim.x) v_cache[slot * kvw + g * d + c] = src[c];
        return;
    }
    const float* nw = hd < nH ? q_norm : k_norm;
    float v = t < d ? src[t] : 0.f;
    if (nw) {
        float inv = rsqrtf(block_sum(v * v) / d + eps);
        v = t < d ? v * inv * nw[t] : 0.f;
    }
    if (t < d) head[t] = v;
    __syncthreads();
    if (t < d) {
        int half = d / 2, i = t < half ? t : t - half;
        float a = (float)ctx * inv_freq[i];
        double s, c;
        sincos((double)a, &s, &c);  // matches the CPU path's Math.sin/cos of the fp32 angle
        float cs = (float)c, sn = (float)s;
        float x0 = head[i], x1 = head[i + half];
        float o = t < half ? x0 * cs - x1 * sn : x1 * cs + x0 * sn;
        if (hd < nH) q_out[(long long)r * nH * d + hd * d + t] = o;
        else k_cache[slot * kvw + (hd - nH) * d + t] = o;
    }
}

// Keys up to which es_attention holds a row's scores in shared memory (the two-pass form below).
#define ATT_SMEM_KEYS 2048
#define ATT_WARPS 8

// Scores s_p[0..n) (key u written by thread u % blockDim, which holds their max in mx) to exp(score - max) in place;
// returns their sum to every thread, every s_p published. s_red: a float per warp.
__device__ __forceinline__ float att_softmax(float* s_p, int n, float mx, float* s_red) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    mx = warp_max(mx);
    if (lane == 0) s_red[warp] = mx;
    __syncthreads();
    mx = s_red[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) mx = fmaxf(mx, s_red[w]);
    float sum = 0.f;
    for (int u = threadIdx.x; u < n; u += blockDim.x) {  // the keys this thread scored: no barrier needed before
        float e = __expf(s_p[u] - mx);
        s_p[u] = e;
        sum += e;
    }
    return block_sum(sum);  // its barriers also publish every s_p
}

// The two-pass form for a head width D known at compile time (the common 32, 64, 128): every load of a pass is issued
// before the arithmetic that needs it, so a pass costs one dependent round trip to L2 instead of one per float4 (a
// runtime-width loop loads, multiplies, then loads the next). The row's block table is staged in shared memory first,
// so no key address waits on a table load. Pass 1 gives each thread whole keys; pass 2 gives each thread four output
// elements and keys grp, grp + groups, ... (groups = threads / (D / 4)); the groups' partial sums are added in order.
// s_red: a float per warp.
// Keys: u < n - 1 at position u, the last (the row's own) at position self (n - 1 for a chain row).
template <int D>
__device__ __forceinline__ void att_two_pass(const float* __restrict__ qr, const float* __restrict__ k_cache,
                                             const float* __restrict__ v_cache, const int* __restrict__ table, int n,
                                             int self, int kvw, int g, float scale, __nv_bfloat16* __restrict__ out,
                                             float* s_p, float* s_q, float* partial, int* s_tab, float* s_red) {
    int t = threadIdx.x;
    for (int i = t; i <= self / KV_BLOCK; i += blockDim.x) s_tab[i] = table[i];
    if (t < D) s_q[t] = qr[t] * scale;
    __syncthreads();
    float mx = -INFINITY;
    for (int u = t; u < n; u += blockDim.x) {
        int pu = u < n - 1 ? u : self;
        const float4* kr = reinterpret_cast<const float4*>(
                k_cache + ((long long)s_tab[pu / KV_BLOCK] * KV_BLOCK + pu % KV_BLOCK) * kvw + g * D);
        float4 kk[D / 4];
#pragma unroll
        for (int c = 0; c < D / 4; c++) kk[c] = kr[c];
        float dot = 0.f;
#pragma unroll
        for (int c = 0; c < D / 4; c++) {
            dot += s_q[4 * c] * kk[c].x + s_q[4 * c + 1] * kk[c].y + s_q[4 * c + 2] * kk[c].z + s_q[4 * c + 3] * kk[c].w;
        }
        s_p[u] = dot;
        mx = fmaxf(mx, dot);
    }
    float sum = att_softmax(s_p, n, mx, s_red);
    constexpr int CHUNKS = D / 4;
    int groups = (int)blockDim.x / CHUNKS, c = 4 * (t % CHUNKS), grp = t / CHUNKS;
    if (grp < groups) {
        float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
        const float* vg = v_cache + g * D + c;
#pragma unroll 8
        for (int u = grp; u < n; u += groups) {
            float w = s_p[u];
            int pu = u < n - 1 ? u : self;
            float4 vv = *reinterpret_cast<const float4*>(vg + ((long long)s_tab[pu / KV_BLOCK] * KV_BLOCK + pu % KV_BLOCK) * kvw);
            acc.x += w * vv.x;
            acc.y += w * vv.y;
            acc.z += w * vv.z;
            acc.w += w * vv.w;
        }
        *reinterpret_cast<float4*>(partial + grp * D + c) = acc;
    }
    __syncthreads();
    for (int e = t; e < D; e += blockDim.x) {
        float o = 0.f;
        for (int q = 0; q < groups; q++) o += partial[q * D + e];
        out[e] = __float2bfloat16(o / sum);
    }
}


// o[r, head] = softmax_u<=p(q . k_u / sqrt(d)) . v_u over the row's sequence, written as bf16 for the O projection
// (with row_back: over keys 0..ctx-1 and the row's own slot p).
// One block (ATT_WARPS warps) per (row, query head).   grid (m, nH), block 32 * ATT_WARPS
//
// Up to ATT_SMEM_KEYS keys (every decode step of a short context): two passes with the scores in shared memory
// (att_two_pass for d = 32, 64, 128; other widths below). Pass 1 gives each thread whole keys (q . k_u from float4
// loads, independent across threads), then the block's max and sum; pass 2 gives each thread four output elements
// and a stride of keys (float4 V loads). A decode row of a few hundred keys thus takes a few dependent steps instead
// of one per key and warp.
// Longer rows: warps take keys round-robin with an online softmax, each lane holding d/32 output elements
// (d <= 256), and the partial states of the warps are merged at the end.
extern "C" __global__ void es_attention(const float* __restrict__ q, const float* __restrict__ k_cache,
                                        const float* __restrict__ v_cache, const int* __restrict__ row_pos,
                                        const int* __restrict__ row_back, const int* __restrict__ row_table,
                                        const int* __restrict__ block_tables,
                                        int nH, int nKV, int d, float scale, __nv_bfloat16* __restrict__ out) {
    pdl_enter();
    const int WARPS = ATT_WARPS;
    __shared__ float s_m[WARPS], s_l[WARPS];
    __shared__ __align__(16) float s_acc[WARPS][256];
    __shared__ float s_p[ATT_SMEM_KEYS];
    __shared__ __align__(16) float s_q[256];
    __shared__ int s_tab[ATT_SMEM_KEYS / KV_BLOCK];
    int r = blockIdx.x, hq = blockIdx.y, g = hq / (nH / nKV);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int kvw = nKV * d, p = row_pos[r], ctx = row_back ? p - row_back[r] : p;  // keys 0..ctx-1, then slot p
    const int* table = block_tables + row_table[r];
    const float* qr = q + (long long)r * nH * d + hq * d;
    if (p < ATT_SMEM_KEYS) {
        int n = ctx + 1;
        __nv_bfloat16* o = out + (long long)r * nH * d + hq * d;
        switch (d) {  // s_acc holds the groups' partial sums: blockDim * 4 floats
            case 32: att_two_pass<32>(qr, k_cache, v_cache, table, n, p, kvw, g, scale, o, s_p, s_q, &s_acc[0][0], s_tab, s_m); return;
            case 64: att_two_pass<64>(qr, k_cache, v_cache, table, n, p, kvw, g, scale, o, s_p, s_q, &s_acc[0][0], s_tab, s_m); return;
            case 128: att_two_pass<128>(qr, k_cache, v_cache, table, n, p, kvw, g, scale, o, s_p, s_q, &s_acc[0][0], s_tab, s_m); return;
            default: break;
        }
        for (int c = threadIdx.x; c < d; c += blockDim.x) s_q[c] = qr[c] * scale;
        __syncthreads();
        float mx = -INFINITY;
        for (int u = threadIdx.x; u < n; u += blockDim.x) {
            int pu = u < n - 1 ? u : p;
            const float* kr = k_cache + ((long long)table[pu / KV_BLOCK] * KV_BLOCK + pu % KV_BLOCK) * kvw + g * d;
            float dot = 0.f;
            if ((d & 3) == 0) {
                for (int c = 0; c < d; c += 4) {
                    float4 kk = *reinterpret_cast<const float4*>(kr + c);
                    dot += s_q[c] * kk.x + s_q[c + 1] * kk.y + s_q[c + 2] * kk.z + s_q[c + 3] * kk.w;
                }
            } else {
                for (int c = 0; c < d; c++) dot += s_q[c] * kr[c];
            }
            s_p[u] = dot;
            mx = fmaxf(mx, dot);
        }
        float sum = att_softmax(s_p, n, mx, s_m);
        float* partial = &s_acc[0][0];  // [groups][d] <= 4 * blockDim floats
        int groups;
        if ((d & 3) == 0 && d / 4 <= (int)blockDim.x) {
            // pass 2: thread t sums the 4 elements of column chunk t % (d/4) over keys t / (d/4) + i * groups
            int chunks = d / 4;
            groups = (int)blockDim.x / chunks;  // groups * d = 4 * blockDim
            if ((int)threadIdx.x < groups * chunks) {
                int c = 4 * ((int)threadIdx.x % chunks), grp = (int)threadIdx.x / chunks;
                float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
                for (int u = grp; u < n; u += groups) {
                    float w = s_p[u];
                    int pu = u < n - 1 ? u : p;
                    float4 vv = *reinterpret_cast<const float4*>(
                            v_cache + ((long long)table[pu / KV_BLOCK] * KV_BLOCK + pu % KV_BLOCK) * kvw + g * d + c);
                    acc.x += w * vv.x;
                    acc.y += w * vv.y;
                    acc.z += w * vv.z;
                    acc.w += w * vv.w;
                }
                partial[grp * d + c] = acc.x;
                partial[grp * d + c + 1] = acc.y;
                partial[grp * d + c + 2] = acc.z;
                partial[grp * d + c + 3] = acc.w;
            }
        } else {
            // pass 2 (d not a multiple of 4): thread t sums element t % d over keys t / d + i * groups
            groups = d < (int)blockDim.x ? (int)blockDim.x / d : 1;
            for (int idx = threadIdx.x; idx < groups * d; idx += blockDim.x) {
                int c = idx % d, grp = idx / d;
                float acc = 0.f;
#pragma unroll 8
                for (int u = grp; u < n; u += groups) {
                    int pu = u < n - 1 ? u : p;
                    acc += s_p[u] * v_cache[((long long)table[pu / KV_BLOCK] * KV_BLOCK + pu % KV_BLOCK) * kvw + g * d + c];
                }
                partial[grp * d + c] = acc;
            }
        }
        __syncthreads();
        for (int c = threadIdx.x; c < d; c += blockDim.x) {
            float o = 0.f;
            for (int grp = 0; grp < groups; grp++) o += partial[grp * d + c];
            out[(long long)r * nH * d + hq * d + c] = __float2bfloat16(o / sum);
        }
        return;
    }
    float qv[8], acc[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int c = lane + 32 * j;
        qv[j] = c < d ? qr[c] * scale : 0.f;
        acc[j] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int u = warp; u <= ctx; u += WARPS) {
        int pu = u < ctx ? u : p;
        long long base = ((long long)table[pu / KV_BLOCK] * KV_BLOCK + pu % KV_BLOCK) * kvw + g * d;
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int c = lane + 32 * j;
            if (c < d) dot += qv[j] * k_cache[base + c];
        }
        float s = warp_sum(dot);
        float mn = fmaxf(m, s);
        float corr = __expf(m - mn), e = __expf(s - mn);
        l = l * corr + e;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            int c = lane + 32 * j;
            acc[j] = acc[j] * corr + (c < d ? e * v_cache[base + c] : 0.f);
        }
        m = mn;
    }
    if (lane == 0) {
        s_m[warp] = m;
        s_l[warp] = l;
    }
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int c = lane + 32 * j;
        if (c < d) s_acc[warp][c] = acc[j];
    }
    __syncthreads();
    float mt = -INFINITY;
    for (int w = 0; w < WARPS; w++) mt = fmaxf(mt, s_m[w]);
    float lt = 0.f;
    for (int w = 0; w < WARPS; w++) lt += s_m[w] == -INFINITY ? 0.f : s_l[w] * __expf(s_m[w] - mt);
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float o = 0.f;
        for (int w = 0; w < WARPS; w++) if (s_m[w] != -INFINITY) o += s_acc[w][c] * __expf(s_m[w] - mt);
        out[(long long)r * nH * d + hq * d + c] = __float2bfloat16(o / lt);
    }
}

// y = x + (bf16) add, both [n] (the MoE output into the residual stream, for the last layer).   grid-stride
extern "C" __global__ void es_add_bf16(float* __restrict__ x, const __nv_bfloat16* __restrict__ add, long long n) {
    pdl_enter();
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] += __bfloat162float(add[i]);
}

// Count and probability mass of tokens with p >= t (p = exp(l/T - max) / sum), in double.
__device__ void mass_at(const float* row, int v, double inv_t, double mx, double sum, double t,
                        double* count, double* mass) {
    double c = 0, s = 0;
    for (int i = threadIdx.x; i < v; i += blockDim.x) {
        double p = exp((double)row[i] * inv_t - mx) / sum;
        if (p >= t) { c += 1; s += p; }
    }
    *count = block_sum_d(c);
    *mass = block_sum_d(s);
}

// Sampling as vLLM / the CPU Sampler: softmax(logits / T), restricted to the top-k, then to the smallest set whose
// renormalised mass reaches top_p (the crossing token kept), renormalised; the token is the first (in id order)
// whose cumulative kept probability exceeds u[r] (a uniform draw the host makes from the sequence's seeded
// generator, so seeded runs are reproducible and match the CPU). temperature <= 0 means greedy. The top-k / top-p
// sets are found by bisection on a probability threshold, so no sort is needed for any vocabulary size.
// params[r] = {temperature, top_p, u} (float), top_k[r] (0 = all).   grid (rows), block 256
extern "C" __global__ void es_sample(const float* __restrict__ logits, int v, const float* __restrict__ params,
                                     const int* __restrict__ top_k, int* __restrict__ out) {
    pdl_enter();
    __shared__ double s_red[256];
    __shared__ int s_idx;
    const float* row = logits + (long long)blockIdx.x * v;
    float temp = params[blockIdx.x * 3], top_p = params[blockIdx.x * 3 + 1];
    double u = params[blockIdx.x * 3 + 2];
    if (!(temp > 0.f)) {  // greedy: argmax (lowest index on ties)
        float best = -INFINITY;
        int idx = 0x7fffffff;
        for (int i = threadIdx.x; i < v; i += blockDim.x) if (row[i] > best) { best = row[i]; idx = i; }
        for (int o = 16; o > 0; o >>= 1) {
            float ob = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ob > best || (ob == best && oi < idx)) { best = ob; idx = oi; }
        }
        __shared__ float wb[8];
        __shared__ int wi[8];
        if ((threadIdx.x & 31) == 0) { wb[threadIdx.x >> 5] = best; wi[threadIdx.x >> 5] = idx; }
        __syncthreads();
        if (threadIdx.x == 0) {
            for (int w = 1; w < (int)(blockDim.x >> 5); w++)
                if (wb[w] > wb[0] || (wb[w] == wb[0] && wi[w] < wi[0])) { wb[0] = wb[w]; wi[0] = wi[w]; }
            out[blockIdx.x] = wi[0] == 0x7fffffff ? 0 : wi[0];
        }
        return;
    }
    double inv_t = 1.0 / temp;
    // max and sum of exp
    double mx = -INFINITY;
    for (int i = threadIdx.x; i < v; i += blockDim.x) mx = fmax(mx, (double)row[i] * inv_t);
    s_red[threadIdx.x] = mx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) s_red[threadIdx.x] = fmax(s_red[threadIdx.x], s_red[threadIdx.x + s]);
        __syncthreads();
    }
    mx = s_red[0];
    __syncthreads();
    double sum = 0;
    for (int i = threadIdx.x; i < v; i += blockDim.x) sum += exp((double)row[i] * inv_t - mx);
    sum = block_sum_d(sum);
    // threshold for top-k: the largest t with count(p >= t) >= k (the k-th largest probability)
    int k = top_k[blockIdx.x];
    double lo = 0, hi = 1.0 + 1e-12, cnt, mass;
    double tk = 0;
    if (k > 0 && k < v) {
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (lo + hi);
            mass_at(row, v, inv_t, mx, sum, mid, &cnt, &mass);
            if (cnt >= k) lo = mid; else hi = mid;
        }
        tk = lo;
    }
    mass_at(row, v, inv_t, mx, sum, tk, &cnt, &mass);
    double kmass = mass, t = tk;
    if (top_p < 1.f) {
        // the largest t >= tk whose kept mass still reaches top_p of the top-k mass
        lo = tk;
        hi = 1.0 + 1e-12;
        for (int it = 0; it < 60; it++) {
            double mid = 0.5 * (lo + hi);
            mass_at(row, v, inv_t, mx, sum, mid, &cnt, &mass);
            if (mass / kmass >= (double)top_p) lo = mid; else hi = mid;
        }
        t = lo;
    }
    mass_at(row, v, inv_t, mx, sum, t, &cnt, &mass);
    double target = u * mass;
    // inverse CDF in id order: each thread owns a contiguous range; exclusive scan of the range masses
    int per = (v + blockDim.x - 1) / blockDim.x, begin = threadIdx.x * per, end = min(v, begin + per);
    double local = 0;
    for (int i = begin; i < end; i++) {
        double p = exp((double)row[i] * inv_t - mx) / sum;
        if (p >= t) local += p;
    }
    s_red[threadIdx.x] = local;
    if (threadIdx.x == 0) s_idx = -1;
    __syncthreads();
    for (int off = 1; off < (int)blockDim.x; off <<= 1) {  // inclusive Hillis-Steele scan
        double add = threadIdx.x >= off ? s_red[threadIdx.x - off] : 0;
        __syncthreads();
        s_red[threadIdx.x] += add;
        __syncthreads();
    }
    double acc = s_red[threadIdx.x] - local;
    int last = -1;
    for (int i = begin; i < end; i++) {
        double p = exp((double)row[i] * inv_t - mx) / sum;
        if (p < t) continue;
        acc += p;
        last = i;
        if (target < acc) { atomicMin((unsigned int*)&s_idx, (unsigned int)i); break; }
    }
    __syncthreads();
    // rounding can leave target at the very top: take the last kept token
    if (s_idx == -1) {
        __shared__ int s_last;
        if (threadIdx.x == 0) s_last = -1;
        __syncthreads();
        if (last >= 0) atomicMax(&s_last, last);
        __syncthreads();
        if (threadIdx.x == 0) out[blockIdx.x] = s_last < 0 ? 0 : s_last;
    } else if (threadIdx.x == 0) {
        out[blockIdx.x] = s_idx;
    }
}

// ---- the EAGLE head on cuBLAS (prefills longer than the fused kernels of head_linear.cu take) ----

// out[r, j] = silu(gu[r, j]) * gu[r, inter + j] as bf16: the dense SwiGLU between the fused gate/up GEMM
// ([m, 2*inter] fp32, gate rows first as the checkpoint stacks them) and the down GEMM.   grid (m), block 256
extern "C" __global__ void es_silu_mul(const float* __restrict__ gu, int inter, __nv_bfloat16* __restrict__ out) {
    pdl_enter();
    long long r = blockIdx.x;
    const float* g = gu + r * 2 * inter;
    for (int j = threadIdx.x; j < inter; j += blockDim.x) {
        float a = g[j];
        out[r * inter + j] = __float2bfloat16(a / (1.f + expf(-a)) * g[inter + j]);
    }
}
