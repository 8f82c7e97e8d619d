/* What the dense kernel files (dense.cu, linear.cu) share: the grid of a
 * grid-stride loop and the column sums in a fixed order (no atomics, so a
 * run repeats to the bit): dst[c] += the sum over rows of f(row, c),
 * through block partials of fixed chunks of rows summed in order.
 * Included inside each file's anonymous namespace (CUDA C++). */
#ifndef NYS_COLSUM_CUH
#define NYS_COLSUM_CUH

enum { THREADS = 256 };

/* Blocks for a grid-stride loop over n elements. */
unsigned grid_for(nys_backend *be, size_t n)
{
	size_t b = (n + THREADS - 1) / THREADS, cap = (size_t)nys_cuda_ctx(be)->sm_count * 32;
	if (cap < 1)
		cap = 1;
	return (unsigned)(b < cap ? b : cap);
}

cudaStream_t stream_of(nys_backend *be) { return nys_cuda_ctx(be)->stream; }

#define GRID_STRIDE(i, n)                                                                   \
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                  \
	     i += (size_t)gridDim.x * blockDim.x)

/* ---- column sums: dst[c] += sum over rows of f(row, c), rows in fixed chunks --- */

/* Rows per chunk of the column sums (at least COL_CHUNK, more when there
 * would be over COL_MAXCHUNKS chunks: the grid's y limit is 65535): the
 * partials of chunk j are summed in order by the second kernel. */
enum { COL_X = 32, COL_Y = 8, COL_CHUNK = 256, COL_MAXCHUNKS = 4096 };

/* What a column sum adds up: dout itself (a bias gradient); dense.cu has
 * layernorm's dout * xhat. */
struct col_plain {
	const float *d;
	__device__ float operator()(int i, int c, int C) const { return d[(size_t)i * C + c]; }
};

/* part[chunk][c] = the sum of f over the chunk's rows; block (COL_X, COL_Y),
 * grid (column blocks, chunks). */
template <class F> __global__ void col_partial(float *part, F f, int N, int C, int rows)
{
	__shared__ float sh[COL_Y][COL_X + 1];
	int c = blockIdx.x * COL_X + threadIdx.x;
	int r0 = blockIdx.y * rows, r1 = min(r0 + rows, N);
	float s = 0;
	if (c < C)
		for (int i = r0 + threadIdx.y; i < r1; i += COL_Y)
			s += f(i, c, C);
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y == 0 && c < C) {
		float t = 0;
		for (int y = 0; y < COL_Y; y++)
			t += sh[y][threadIdx.x];
		part[(size_t)blockIdx.y * C + c] = t;
	}
}

__global__ void col_finish(float *dst, const float *part, int chunks, int C)
{
	GRID_STRIDE(c, (size_t)C)
	{
		float s = 0;
		for (int j = 0; j < chunks; j++)
			s += part[(size_t)j * C + c];
		dst[c] += s;
	}
}

template <class F> int col_sum_add(nys_backend *be, float *dst, F f, int N, int C)
{
	if (N <= 0 || C <= 0)
		return 0;
	int rows = COL_CHUNK;
	if ((N + rows - 1) / rows > COL_MAXCHUNKS)
		rows = (N + COL_MAXCHUNKS - 1) / COL_MAXCHUNKS;
	int chunks = (N + rows - 1) / rows;
	float *part = (float *)nys_cuda_scratch(be, (size_t)chunks * C * sizeof(float));
	if (!part)
		return -1;
	cudaStream_t s = stream_of(be);
	dim3 grid((C + COL_X - 1) / COL_X, chunks), block(COL_X, COL_Y);
	col_partial<F><<<grid, block, 0, s>>>(part, f, N, C, rows);
	NYS_CUDA_LAUNCHED(be);
	col_finish<<<grid_for(be, (size_t)C), THREADS, 0, s>>>(dst, part, chunks, C);
	NYS_CUDA_LAUNCHED(be);
	return 0;
}

#endif
