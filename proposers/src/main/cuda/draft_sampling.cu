// Draft-token sampling on the GPU: the device form of the engine's CPU Sampler (Sampler.probabilities + an
// inverse-CDF pick with a caller-supplied uniform), for drafter networks whose logits already live on the device.
//
// Per row (one CTA of 256 threads):
//   temperature <= 0: the argmax (ties to the lowest id); the probability row is one-hot on it.
//   else: p = softmax(logits / T) in double; keep the top-k (k <= 0: all) in the order (p desc, id asc), then the
//   smallest prefix of that order whose mass reaches top_p of the top-k mass (the token that crosses p stays);
//   renormalise; the token is the first id (in id order) where the running kept mass exceeds u.
// Selecting "the r-th element in the order (p desc, id asc)" is exact: a bisection over the bit pattern of the
// double p (monotone for p >= 0) finds its value, a second bisection over ids resolves ties toward the lowest ids.
// The row's probabilities stay in a double scratch row, so every pass compares the same numbers.
// One known difference from the CPU: the top-p test uses (sum of the prefix) / mass, while the CPU adds p / mass one
// token at a time in sorted order. When the exact prefix mass equals top_p (e.g. 40 tied tokens of 50 at top_p 0.8),
// the CPU's rounding can keep one more token than this kernel; away from such exact ties both keep the same set.

namespace ds_detail {
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr long long kAboveOne = 0x3ff0000000000001LL;  // bit pattern just above 1.0: no p reaches it

// Sum over the block; every thread gets the same value (the warps' partials are added in one fixed order).
template <typename T>
__device__ T block_sum(T v, T* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    T total = 0;
    for (int w = 0; w < kWarps; w++) total += red[w];
    return total;
}

__device__ double block_max(double v, double* red) {
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    double m = red[0];
    for (int w = 1; w < kWarps; w++) m = fmax(m, red[w]);
    return m;
}

__device__ __forceinline__ long long bits(double p) { return __double_as_longlong(p); }

// Element i (bit pattern b) is at or before the boundary (bb, bid) in the order (p desc, id asc).
__device__ __forceinline__ bool within(long long b, int i, long long bb, int bid) {
    return b > bb || (b == bb && i <= bid);
}

// The need-th smallest id among the elements within (sb, sid) whose bit pattern is tb.
__device__ int nth_tied_id(const double* p, int v, long long tb, long long need, long long sb, int sid,
                           long long* ired) {
    int lo = -1, hi = v - 1;  // count(id <= lo) < need <= count(id <= hi)
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        long long c = 0;
        for (int i = threadIdx.x; i <= mid; i += kThreads) {
            long long b = bits(p[i]);
            if (b == tb && within(b, i, sb, sid)) c++;
        }
        c = block_sum(c, ired);
        if (c >= need) hi = mid; else lo = mid;
    }
    return hi;
}

// The boundary of the first r elements (r <= v) in the order (p desc, id asc).
__device__ void boundary_by_rank(const double* p, int v, long long r, long long* ob, int* oid, long long* ired) {
    long long lo = 0, hi = kAboveOne;  // count(b >= lo) >= r > count(b >= hi)
    while (hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;
        long long c = 0;
        for (int i = threadIdx.x; i < v; i += kThreads) c += bits(p[i]) >= mid;
        c = block_sum(c, ired);
        if (c >= r) lo = mid; else hi = mid;
    }
    long long gt = 0;
    for (int i = threadIdx.x; i < v; i += kThreads) gt += bits(p[i]) > lo;
    gt = block_sum(gt, ired);
    *ob = lo;
    *oid = nth_tied_id(p, v, lo, r - gt, 0, v - 1, ired);
}

// Within the set S (bounded by (sb, sid), holding mass smass): the boundary of the smallest prefix whose mass
// reaches top_p of smass.
__device__ void boundary_by_mass(const double* p, int v, double top_p, long long sb, int sid, double smass,
                                 long long* ob, int* oid, double* dred, long long* ired) {
    long long lo = 0, hi = kAboveOne;  // mass(b >= lo) / smass >= top_p > mass(b >= hi) / smass
    while (hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;
        double g = 0;
        for (int i = threadIdx.x; i < v; i += kThreads) {
            long long b = bits(p[i]);
            if (b >= mid && within(b, i, sb, sid)) g += p[i];
        }
        g = block_sum(g, dred);
        if (g / smass >= top_p) lo = mid; else hi = mid;
    }
    double gt = 0;
    long long ties = 0;
    for (int i = threadIdx.x; i < v; i += kThreads) {
        long long b = bits(p[i]);
        if (!within(b, i, sb, sid)) continue;
        if (b > lo) gt += p[i];
        else if (b == lo) ties++;
    }
    gt = block_sum(gt, dred);
    ties = block_sum(ties, ired);
    const double t = __longlong_as_double(lo);
    long long c = ties;  // how many of the tied elements (lowest ids first) the prefix needs
    if (t > 0) {
        double want = ceil((top_p * smass - gt) / t);
        c = want < 1 ? 1 : (want > (double)ties ? ties : (long long)want);
        while (c > 1 && (gt + (c - 1) * t) / smass >= top_p) c--;
        while (c < ties && (gt + c * t) / smass < top_p) c++;
    }
    if (c < 1) c = 1;
    *ob = lo;
    *oid = nth_tied_id(p, v, lo, c, sb, sid, ired);
}
}  // namespace ds_detail

// logits:  [rows][v] fp32
// params:  [rows][3] fp64: temperature (<= 0: greedy), top_p in (0, 1], u in [0, 1)
// top_k:   [rows] int32 (<= 0: all)
// scratch: [rows][v] fp64 work space
// tokens:  [rows] int32 out
// probs:   fp32 out, row r at probs + r * probs_stride: the distribution the token was drawn from (null: not
//          written). A stride of K * v lets the drafter of position j write straight into a [B][K][v] layout.
extern "C" __global__ void __launch_bounds__(256)
ds_sample(const float* __restrict__ logits, int v, const double* __restrict__ params, const int* __restrict__ top_k,
          double* __restrict__ scratch, int* __restrict__ tokens, float* __restrict__ probs, long long probs_stride) {
    using namespace ds_detail;
    __shared__ double dred[kWarps];
    __shared__ long long ired[kWarps];
    __shared__ float fbest[kWarps];
    __shared__ int ibest[kWarps];
    __shared__ double scan[kThreads];
    const int row = blockIdx.x;
    const float* l = logits + (long long)row * v;
    double* p = scratch + (long long)row * v;
    float* out = probs == nullptr ? nullptr : probs + (long long)row * probs_stride;
    const double temp = params[3 * row], top_p = params[3 * row + 1], u = params[3 * row + 2];

    if (!(temp > 0.0)) {  // greedy
        float best = -INFINITY;
        int idx = 0x7fffffff;
        for (int i = threadIdx.x; i < v; i += kThreads) if (l[i] > best) { best = l[i]; idx = i; }
        for (int o = 16; o > 0; o >>= 1) {
            float ob = __shfl_xor_sync(0xffffffffu, best, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ob > best || (ob == best && oi < idx)) { best = ob; idx = oi; }
        }
        if ((threadIdx.x & 31) == 0) { fbest[threadIdx.x >> 5] = best; ibest[threadIdx.x >> 5] = idx; }
        __syncthreads();
        best = fbest[0];
        idx = ibest[0];
        for (int w = 1; w < kWarps; w++) {
            if (fbest[w] > best || (fbest[w] == best && ibest[w] < idx)) { best = fbest[w]; idx = ibest[w]; }
        }
        if (idx == 0x7fffffff) idx = 0;  // no logit above -inf: the CPU's argmax answers 0
        if (out != nullptr) for (int i = threadIdx.x; i < v; i += kThreads) out[i] = i == idx ? 1.f : 0.f;
        if (threadIdx.x == 0) tokens[row] = idx;
        return;
    }

    // softmax(logits / T) in double, as the CPU sampler computes it
    double mx = -INFINITY;
    for (int i = threadIdx.x; i < v; i += kThreads) mx = fmax(mx, (double)l[i] / temp);
    mx = block_max(mx, dred);
    double sum = 0;
    for (int i = threadIdx.x; i < v; i += kThreads) {
        double e = exp((double)l[i] / temp - mx);
        p[i] = e;
        sum += e;
    }
    sum = block_sum(sum, dred);
    for (int i = threadIdx.x; i < v; i += kThreads) p[i] /= sum;
    __syncthreads();  // the selection passes read other threads' p

    // top-k, then top-p inside it; (fb, fid) bounds the kept prefix of the order (p desc, id asc)
    long long fb = 0;
    int fid = v - 1;  // everything
    const int k = top_k[row];
    if (k > 0 && k < v) boundary_by_rank(p, v, k, &fb, &fid, ired);
    if (top_p < 1.0) {
        double kmass = 0;
        for (int i = threadIdx.x; i < v; i += kThreads) if (within(bits(p[i]), i, fb, fid)) kmass += p[i];
        kmass = block_sum(kmass, dred);
        boundary_by_mass(p, v, top_p, fb, fid, kmass, &fb, &fid, dred, ired);
    }
    double kept = 0;
    for (int i = threadIdx.x; i < v; i += kThreads) if (within(bits(p[i]), i, fb, fid)) kept += p[i];
    kept = block_sum(kept, dred);

    // inverse CDF in id order: each thread owns a contiguous id range; exclusive scan of the range masses
    const int per = (v + kThreads - 1) / kThreads, begin = threadIdx.x * per, end = min(v, begin + per);
    double local = 0;
    for (int i = begin; i < end; i++) if (within(bits(p[i]), i, fb, fid)) local += p[i] / kept;
    scan[threadIdx.x] = local;
    __syncthreads();
    for (int off = 1; off < kThreads; off <<= 1) {  // inclusive Hillis-Steele scan
        double add = threadIdx.x >= off ? scan[threadIdx.x - off] : 0;
        __syncthreads();
        scan[threadIdx.x] += add;
        __syncthreads();
    }
    double acc = scan[threadIdx.x] - local;
    int hit = 0x7fffffff, last = -1;
    for (int i = begin; i < end; i++) {
        if (!within(bits(p[i]), i, fb, fid)) continue;
        double w = p[i] / kept;
        if (w == 0) continue;
        acc += w;
        last = i;
        if (u < acc) { hit = i; break; }
    }
    // lowest hit; else (rounding left u above the total) the last kept token with mass
    for (int o = 16; o > 0; o >>= 1) {
        hit = min(hit, __shfl_xor_sync(0xffffffffu, hit, o));
        last = max(last, __shfl_xor_sync(0xffffffffu, last, o));
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) { ibest[threadIdx.x >> 5] = hit; ired[threadIdx.x >> 5] = last; }
    __syncthreads();
    if (threadIdx.x == 0) {
        int h = ibest[0], la = (int)ired[0];
        for (int w = 1; w < kWarps; w++) { h = min(h, ibest[w]); la = max(la, (int)ired[w]); }
        tokens[row] = h != 0x7fffffff ? h : (la >= 0 ? la : 0);
    }
    if (out != nullptr) {
        for (int i = threadIdx.x; i < v; i += kThreads) {
            out[i] = within(bits(p[i]), i, fb, fid) ? (float)(p[i] / kept) : 0.f;
        }
    }
}
