// Small kernels for moespec-cuda's own GPU tests: they check argument passing, launches, dynamic shared
// memory and stream ordering through the Java bindings, not performance.

// y = a * x + y over n elements (grid-stride, so any grid covers any n).
extern "C" __global__ void moespec_selftest_axpy(float a, const float* __restrict__ x, float* __restrict__ y, int n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x) {
        y[i] = a * x[i] + y[i];
    }
}

// p[0..n) = v.
extern "C" __global__ void moespec_selftest_fill_i32(int* __restrict__ p, int v, int n) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)blockDim.x * gridDim.x) {
        p[i] = v;
    }
}

// Reverses each chunk of `chunk` ints (the last one may be shorter) through dynamic shared memory:
// block b stages in[b*chunk ..] in shared memory, then writes it back reversed. Needs chunk*4 bytes of
// dynamic shared memory, so chunks above 12288 ints need the opt-in attribute (more than 48 KiB).
extern "C" __global__ void moespec_selftest_reverse_chunks(const int* __restrict__ in, int* __restrict__ out, int chunk, int n) {
    extern __shared__ int staged[];
    const long long base = (long long)blockIdx.x * chunk;
    const int len = (int)min((long long)chunk, (long long)n - base);
    for (int i = threadIdx.x; i < len; i += blockDim.x) staged[i] = in[base + i];
    __syncthreads();
    for (int i = threadIdx.x; i < len; i += blockDim.x) out[base + i] = staged[len - 1 - i];
}

// Writes its scalar arguments back so a test can check the packing of mixed 4- and 8-byte parameters:
// out[0] = a, out[1] = b, out[2] = the bits of c, out[3] = d.
extern "C" __global__ void moespec_selftest_echo_args(int a, long long b, float c, int d, long long* out) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        out[0] = a;
        out[1] = b;
        out[2] = __float_as_int(c);
        out[3] = d;
    }
}
