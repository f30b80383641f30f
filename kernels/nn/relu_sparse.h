// ReLU MLP forward / backward that skip the exact zeros ReLU makes (about half of every hidden
// layer's outputs, and so of its gradients: dZ = dY ⊙ 1[Y > 0]). Same layout, same results as
// mlp.h's mlp_forward / mlp_backward with Activation::ReLU, bit for bit: every sum runs over the
// same terms in the same order, only the terms whose factor is ±0 are left out, and adding
// a·b = ±0 to a running sum that starts at +0 never changes it (finite weights assumed: 0 · inf
// would be NaN in the dense sum). Used by the C2ST classifier (native/mlp_classifier.cc), where
// the network's products are nearly all of the work.
//
// The building block, sparse_rows (host only; device code has mlp.h):
//   C[m, 0:N] = Σ_t A[m, k_t] · B[k_t, 0:N]   over row m's nonzero list k_0 < k_1 < ..., from +0
// A[m, k] at a[m·am + k·ak] (any strides: dZᵀ needs no copy); B, C row-major with row strides
// ldb, ldc. The lists (nonzero_rows, branch-free; transpose_lists for the columns) are made once
// per batch and layer and shared by the forward and backward products; register blocks of up to
// 14 vectors of C accumulate over a list. N is rounded up to whole vectors: B and C rows must
// hold round_up(N, 16) values, B's beyond N finite (the caller's padding, 0).
//
// Shapes for the MLP: `sizes` [L + 1] are the storage widths (row strides, the parameter layout
// of mlp.h), `widths` [L + 1] the logical ones (<= sizes; the padding of a stored row is 0 and
// stays 0); widths[L] = sizes[L]. The output layer sums over its input's lists too. Math:
// docs/nn.md.
#pragma once
#include <cstdint>
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDA_ARCH__)
#include <immintrin.h>
#endif

#include "dense.h"
#include "mlp.h"

namespace sbi {
namespace nn {

// Nonzero lists. For A [M, K] (A[m, k] at a[m·am + k·ak]) the list of row m is the k < K with
// A[m, k] ≠ 0 (NaN included), ascending, at idx[m·K ..], count[m] of them. Building one is
// branch-free (every k is written, the end advances past the nonzero ones), so its cost does not
// depend on the pattern; the test is on the bits (all but the sign bit zero: ±0), an integer
// compare.
template <class T>
SBI_HD bool is_nonzero_bits(T x) {
  if constexpr (sizeof(T) == 4) {
    uint32_t u;
    __builtin_memcpy(&u, &x, 4);
    return (u << 1) != 0u;
  } else {
    uint64_t u;
    __builtin_memcpy(&u, &x, 8);
    return (u << 1) != 0u;
  }
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDA_ARCH__)
// AVX2 for a contiguous float row, 8 entries per step: the nonzero mask (movemask) picks the
// positions of its set bits from a table, written as one vector; the end advances by the count.
struct NonzeroPositions {
  uint8_t pos[256][8];
  constexpr NonzeroPositions() : pos{} {
    for (int m = 0; m < 256; ++m)
      for (int j = 0, c = 0; j < 8; ++j)
        if ((m >> j) & 1) pos[m][c++] = static_cast<uint8_t>(j);
  }
};
inline constexpr NonzeroPositions kNonzeroPositions{};
__attribute__((noinline, target("avx2,popcnt"))) inline int32_t nonzero_row_avx2(int64_t K, const float* a,
                                                                                int32_t* im) {
  int32_t c = 0;
  int64_t k = 0;
  const __m256i zero = _mm256_setzero_si256();
  for (; k + 8 <= K; k += 8) {  // writes im[c .. c + 8), c <= k: within the row's K entries
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + k));
    const __m256i is_zero = _mm256_cmpeq_epi32(_mm256_slli_epi32(bits, 1), zero);  // ±0
    const unsigned mask = ~static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(is_zero))) & 0xffu;
    const __m128i pos8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(kNonzeroPositions.pos[mask]));
    const __m256i pos = _mm256_add_epi32(_mm256_cvtepu8_epi32(pos8), _mm256_set1_epi32(static_cast<int>(k)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(im + c), pos);
    c += __builtin_popcount(mask);
  }
  for (; k < K; ++k) {
    im[c] = static_cast<int32_t>(k);
    c += is_nonzero_bits(a[k]) ? 1 : 0;
  }
  return c;
}
#endif

template <class T>
SBI_HD void nonzero_rows(int64_t M, int64_t K, const T* a, int64_t am, int64_t ak, int32_t* idx, int32_t* count) {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) {
    if (ak == 1 && simd_vector_bytes() >= 32) {  // an AVX2 (or AVX-512) path: AVX2 is there
      for (int64_t m = 0; m < M; ++m) count[m] = nonzero_row_avx2(K, reinterpret_cast<const float*>(a + m * am), idx + m * K);
      return;
    }
  }
#endif
  for (int64_t m = 0; m < M; ++m) {
    const T* am0 = a + m * am;
    int32_t* im = idx + m * K;
    int32_t c = 0;
    for (int64_t k = 0; k < K; ++k) {
      im[c] = static_cast<int32_t>(k);
      c += is_nonzero_bits(am0[k * ak]) ? 1 : 0;
    }
    count[m] = c;
  }
}

// The lists of Aᵀ [K, M] from those of A [M, K]: column k lists the m whose row lists k,
// ascending (rows are visited in order). tidx [K·M], tcount [K].
SBI_HD void transpose_lists(int64_t M, int64_t K, const int32_t* idx, const int32_t* count, int32_t* tidx,
                            int32_t* tcount) {
  for (int64_t k = 0; k < K; ++k) tcount[k] = 0;
  for (int64_t m = 0; m < M; ++m) {
    const int32_t* im = idx + m * K;
    const int32_t cm = count[m];  // local: the stores below could alias it
    for (int32_t t = 0; t < cm; ++t) {
      const int32_t k = im[t];
      const int32_t c = tcount[k];
      tidx[k * M + c] = static_cast<int32_t>(m);
      tcount[k] = c + 1;
    }
  }
}

#if defined(__GNUC__) && !defined(__CUDA_ARCH__)
// One register block: C[0 : V vectors] (+)= Σ_t A[k_t] · B[k_t, 0 : V vectors] over a row's list.
template <class T, int V, int Bytes>
inline void sparse_rows_block(int32_t count, const int32_t* idx, const T* a, int64_t ak, const T* b, int64_t ldb,
                              T* c) {
  using Vec = typename TileVec<T, Bytes>::type;
  constexpr int kLanes = Bytes / static_cast<int>(sizeof(T));
  Vec acc[V];
  SBI_UNROLL
  for (int v = 0; v < V; ++v) acc[v] = Vec{};
  for (int32_t t = 0; t < count; ++t) {
    const int64_t k = idx[t];
    const T x = a[k * ak];
    const T* bt = b + k * ldb;
    SBI_UNROLL
    for (int v = 0; v < V; ++v) acc[v] += x * *reinterpret_cast<const Vec*>(bt + v * kLanes);
  }
  SBI_UNROLL
  for (int v = 0; v < V; ++v) *reinterpret_cast<Vec*>(c + v * kLanes) = acc[v];
}

// Up to 14 running vectors (AVX2 and SSE2 have 16 registers: 14 sums, a broadcast, a product).
constexpr int64_t kSparseMaxVecs = 14;
template <class T, int Bytes>
inline void sparse_rows_block_any(int64_t vecs, int32_t count, const int32_t* idx, const T* a, int64_t ak, const T* b,
                                  int64_t ldb, T* c) {
  switch (vecs) {
#define SBI_SPARSE_BLOCK(V) \
  case V: return sparse_rows_block<T, V, Bytes>(count, idx, a, ak, b, ldb, c);
    SBI_SPARSE_BLOCK(1) SBI_SPARSE_BLOCK(2) SBI_SPARSE_BLOCK(3) SBI_SPARSE_BLOCK(4) SBI_SPARSE_BLOCK(5)
    SBI_SPARSE_BLOCK(6) SBI_SPARSE_BLOCK(7) SBI_SPARSE_BLOCK(8) SBI_SPARSE_BLOCK(9) SBI_SPARSE_BLOCK(10)
    SBI_SPARSE_BLOCK(11) SBI_SPARSE_BLOCK(12) SBI_SPARSE_BLOCK(13) SBI_SPARSE_BLOCK(14)
#undef SBI_SPARSE_BLOCK
    default: return;
  }
}

template <class T, int Bytes>
inline void sparse_rows_path(int64_t M, int64_t N, int64_t K, const int32_t* idx, const int32_t* count, const T* a,
                             int64_t am, int64_t ak, const T* b, int64_t ldb, T* c, int64_t ldc) {
  constexpr int64_t kLanes = Bytes / static_cast<int64_t>(sizeof(T));
  const int64_t nv = (N + kLanes - 1) / kLanes;
  // Blocks of up to kSparseMaxVecs vectors, split evenly (13 vectors: one block, not 8 + 4 + 1,
  // whose narrow blocks wait on their few running sums' add latency).
  const int64_t blocks = (nv + kSparseMaxVecs - 1) / kSparseMaxVecs;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t v = 0, blk = 0; blk < blocks; ++blk) {
      const int64_t width = (nv - v) / (blocks - blk);
      sparse_rows_block_any<T, Bytes>(width, count[m], idx + m * K, a + m * am, ak, b + v * kLanes, ldb,
                                      c + m * ldc + v * kLanes);
      v += width;
    }
}

// One out-of-line copy per vector width, compiled for its instruction set (dense.h's reasons).
#define SBI_SPARSE_ROWS_WIDTH(BYTES)                                                                                \
  template <class T>                                                                                              \
  SBI_GEMM_ATTR_##BYTES void sparse_rows_width##BYTES(int64_t M, int64_t N, int64_t K, const int32_t* idx,          \
                                                      const int32_t* count, const T* a, int64_t am, int64_t ak,     \
                                                      const T* b, int64_t ldb, T* c, int64_t ldc) {                 \
    sparse_rows_path<T, BYTES>(M, N, K, idx, count, a, am, ak, b, ldb, c, ldc);                                   \
  }
SBI_SPARSE_ROWS_WIDTH(16)
SBI_SPARSE_ROWS_WIDTH(32)
SBI_SPARSE_ROWS_WIDTH(64)
#undef SBI_SPARSE_ROWS_WIDTH
#endif

// C[m, 0:N] = Σ_t A[m, k_t] · B[k_t, 0:N] over row m's nonzero list (idx, count as nonzero_rows
// builds them for an [M, K] matrix; a list may also hold k whose A[m, k] is 0); A[m, k] at
// a[m·am + k·ak]. N is rounded up to whole vectors (B and C rows hold round_up(N, 16) values).
template <class T>
inline void sparse_rows(int64_t M, int64_t N, int64_t K, const int32_t* idx, const int32_t* count, const T* a,
                        int64_t am, int64_t ak, const T* b, int64_t ldb, T* c, int64_t ldc) {
#if defined(__GNUC__) && !defined(__CUDA_ARCH__)
  const int vb = simd_vector_bytes();
  if (vb >= 64) sparse_rows_width64<T>(M, N, K, idx, count, a, am, ak, b, ldb, c, ldc);
  else if (vb >= 32) sparse_rows_width32<T>(M, N, K, idx, count, a, am, ak, b, ldb, c, ldc);
  else sparse_rows_width16<T>(M, N, K, idx, count, a, am, ak, b, ldb, c, ldc);
#else
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < N; ++j) {
      T acc = T(0);
      for (int32_t t = 0; t < count[m]; ++t) {
        const int64_t k = idx[m * K + t];
        acc += a[m * am + k * ak] * b[k * ldb + j];
      }
      c[m * ldc + j] = acc;
    }
#endif
}

// The nonzero lists relu_mlp_forward leaves for relu_mlp_backward: per layer, its output's row
// lists [n · width + n] and column lists [width · n + width] (the output layer's: of dOut, made
// by the backward); plus the input's row lists [n · sizes[0] + n].
inline int64_t relu_mlp_list_size(int layers, const int64_t* sizes, int64_t n) {
  int64_t s = n * sizes[0] + n;
  for (int l = 0; l < layers; ++l) s += 2 * (n * sizes[l + 1]) + n + sizes[l + 1];
  return s;
}

// Scratch relu_mlp_forward needs: one transposed weight matrix of the widest hidden layer.
inline int64_t relu_mlp_forward_scratch(int layers, const int64_t* sizes) {
  int64_t s = 0;
  for (int l = 0; l + 1 < layers; ++l) s = sizes[l] * sizes[l + 1] > s ? sizes[l] * sizes[l + 1] : s;
  return s;
}

// Where relu_mlp_list_size's lists of one hidden layer l (or, for l = -1, of the input) start.
struct ReluLists {
  int32_t *row_idx, *row_count, *col_idx, *col_count;
};
inline ReluLists relu_mlp_lists(int l, const int64_t* sizes, int64_t n, int32_t* lists) {
  int32_t* p = lists + n * sizes[0] + n;
  if (l < 0) return {lists, lists + n * sizes[0], nullptr, nullptr};
  for (int j = 0; j < l; ++j) p += 2 * (n * sizes[j + 1]) + n + sizes[j + 1];
  const int64_t w = sizes[l + 1];
  return {p, p + n * w, p + n * w + n, p + 2 * (n * w) + n};
}

// mlp_forward(ReLU, ...) with the hidden products on sparse_rows: Y_l = relu(Y_{l-1} W_lᵀ + b_l),
// over the nonzero entries of Y_{l-1} (and x's). `saved` as mlp_saved_size(ReLU, ...), its
// padding columns set to 0; scratch [relu_mlp_forward_scratch]; lists [relu_mlp_list_size]
// receives the nonzero lists relu_mlp_backward reads. Returns the output (a pointer into saved).
template <class T>
const T* relu_mlp_forward(int layers, const int64_t* sizes, const int64_t* widths, int64_t n, const T* x,
                          const T* params, T* saved, T* scratch, int32_t* lists) {
  const T* in = x;
  const T* w = params;
  T* y = saved;
  ReluLists in_lists = relu_mlp_lists(-1, widths, n, lists);
  if (layers > 1) nonzero_rows(n, widths[0], x, sizes[0], int64_t{1}, in_lists.row_idx, in_lists.row_count);
  for (int l = 0; l < layers; ++l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1];
    const T* bias = w + fan_out * fan_in;
    if (l + 1 < layers) {
      // Wᵀ [in, out], so that a nonzero input k adds a contiguous row.
      for (int64_t o = 0; o < widths[l + 1]; ++o)
        for (int64_t i = 0; i < widths[l]; ++i) scratch[i * fan_out + o] = w[o * fan_in + i];
      for (int64_t i = 0; i < widths[l]; ++i)
        for (int64_t o = widths[l + 1]; o < fan_out; ++o) scratch[i * fan_out + o] = T(0);
      sparse_rows(n, widths[l + 1], widths[l], in_lists.row_idx, in_lists.row_count, in, fan_in, int64_t{1},
                  static_cast<const T*>(scratch), fan_out, y, fan_out);
      for (int64_t r = 0; r < n; ++r) {
        T* yr = y + r * fan_out;
        for (int64_t o = 0; o < widths[l + 1]; ++o) yr[o] += bias[o];
        activate_row(Activation::ReLU, widths[l + 1], yr, yr);
        // The padding: sparse_rows wrote it up to whole vectors (0); the rest may hold another
        // batch size's rows, and the output layer's dense product reads the whole stored row.
        for (int64_t o = widths[l + 1]; o < fan_out; ++o) yr[o] = T(0);
      }
      const ReluLists out = relu_mlp_lists(l, widths, n, lists);
      nonzero_rows(n, widths[l + 1], static_cast<const T*>(y), fan_out, int64_t{1}, out.row_idx, out.row_count);
      transpose_lists(n, widths[l + 1], out.row_idx, out.row_count, out.col_idx, out.col_count);
      in_lists = out;
    } else if (l > 0) {
      // The output layer (a few outputs, one logit in the classifier): a sum per output over the
      // row's nonzero inputs, then + b, as dense_forward rounds it.
      for (int64_t r = 0; r < n; ++r) {
        const int32_t* ir = in_lists.row_idx + r * widths[l];
        const int32_t cr = in_lists.row_count[r];
        for (int64_t o = 0; o < fan_out; ++o) {
          const T* wo = w + o * fan_in;
          const T* xr = in + r * fan_in;
          T acc = T(0);
          for (int32_t t = 0; t < cr; ++t) acc += xr[ir[t]] * wo[ir[t]];
          y[r * fan_out + o] = acc + bias[o];
        }
      }
    } else {
      dense_forward(Activation::Identity, n, fan_in, fan_out, in, w, bias, y, static_cast<T*>(nullptr));
    }
    in = y;
    y += n * fan_out;
    w += fan_out * (fan_in + 1);
  }
  return in;
}

// Scratch relu_mlp_backward needs: two [n, widest layer] gradient buffers (mlp_scratch_size).
// mlp_backward(ReLU, ...) from dOut [n, sizes[L]], after relu_mlp_forward on the same batch (its
// `lists`): the output layer on dense_backward, then per hidden layer dZ = dY ⊙ 1[Y > 0],
// db = Σ_r dZ[r] (r ascending), dW[o] = Σ_{r: Y[r, o] > 0} dZ[r, o] X[r] and
// dX[r] = Σ_{o: Y[r, o] > 0} dZ[r, o] W[o] on sparse_rows. grads: the rows, columns and biases of
// the padding are not written (keep them 0).
template <class T>
void relu_mlp_backward(int layers, const int64_t* sizes, const int64_t* widths, int64_t n, const T* x,
                       const T* params, const T* saved, const T* dout, T* grads, T* scratch, int32_t* lists) {
  int64_t y_off = 0, p_off = 0;
  for (int l = 0; l < layers; ++l) {
    y_off += n * sizes[l + 1];
    p_off += sizes[l + 1] * (sizes[l] + 1);
  }
  T* buf[2] = {scratch, scratch + n * mlp_max_width(layers, sizes)};
  T* dy = nullptr;
  for (int l = layers - 1; l >= 0; --l) {
    const int64_t fan_in = sizes[l], fan_out = sizes[l + 1];
    y_off -= n * fan_out;
    p_off -= fan_out * (fan_in + 1);
    const T* in = l > 0 ? saved + y_off - n * fan_in : x;
    T* dx = l > 0 ? buf[l & 1] : nullptr;
    T* dw = grads + p_off;
    T* db = dw + fan_out * fan_in;
    if (l + 1 == layers) {
      // The output layer: dZ = dOut; its lists (by output and by row) made here.
      const ReluLists ls = relu_mlp_lists(l, widths, n, lists);
      nonzero_rows(widths[l + 1], n, dout, int64_t{1}, fan_out, ls.col_idx, ls.col_count);
      for (int64_t o = 0; o < widths[l + 1]; ++o) db[o] = T(0);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < widths[l + 1]; ++o) db[o] += dout[r * fan_out + o];
      sparse_rows(widths[l + 1], widths[l], n, ls.col_idx, ls.col_count, dout, int64_t{1}, fan_out, in, fan_in, dw, fan_in);
      if (dx) {
        nonzero_rows(n, widths[l + 1], dout, fan_out, int64_t{1}, ls.row_idx, ls.row_count);
        sparse_rows(n, widths[l], widths[l + 1], ls.row_idx, ls.row_count, dout, fan_out, int64_t{1}, params + p_off,
                    fan_in, dx, fan_in);
      }
    } else {
      T* dz = dy;  // dY of this layer's output, turned into dZ in place
      const T* y = saved + y_off;
      for (int64_t r = 0; r < n; ++r)
        activation_backward_row(Activation::ReLU, widths[l + 1], static_cast<const T*>(nullptr), y + r * fan_out,
                                dz + r * fan_out, dz + r * fan_out);
      for (int64_t o = 0; o < widths[l + 1]; ++o) db[o] = T(0);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t o = 0; o < widths[l + 1]; ++o) db[o] += dz[r * fan_out + o];
      const ReluLists ls = relu_mlp_lists(l, widths, n, lists);
      sparse_rows(widths[l + 1], widths[l], n, ls.col_idx, ls.col_count, static_cast<const T*>(dz), int64_t{1}, fan_out,
                  in, fan_in, dw, fan_in);
      if (dx)
        sparse_rows(n, widths[l], widths[l + 1], ls.row_idx, ls.row_count, static_cast<const T*>(dz), fan_out,
                    int64_t{1}, params + p_off, fan_in, dx, fan_in);
    }
    dy = dx;
  }
}

}  // namespace nn
}  // namespace sbi
