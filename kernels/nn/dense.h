// Dense (fully connected) layer over a batch, with the activation fused into the bias add.
//   forward : Z = X · Wᵀ + b,  Y = act(Z)       X [N, in], W [out, in] row-major, b [out], Y, Z [N, out]
//   backward: dZ = dY ⊙ act'(Z)                  (act' from Y where Y determines it, else from Z)
//             dX = dZ · W      [N, in]           (overwritten)
//             dW = dZᵀ · X     [out, in]         (overwritten; sum over the batch)
//             db = Σ_n dZ[n]   [out]             (overwritten; sum over the batch)
// Templated on the scalar: float for training, double for finite-difference gradient checks.
// Caller-owned memory throughout; no allocation. Every inner loop runs over a contiguous row.
// Math and shapes: docs/nn.md.
#pragma once
#include "../common/portable.h"
#include "../common/simd_width.h"
#include "../common/vecmath.h"

namespace sbi {
namespace nn {

enum class Activation : int { Identity = 0, ReLU = 1, Tanh = 2, ELU = 3, SiLU = 4 };

// SiLU is the only activation whose derivative is not a function of its output (it is not
// monotone), so only SiLU needs the pre-activation Z saved for the backward pass.
SBI_HD bool activation_needs_preactivation(Activation act) { return act == Activation::SiLU; }

// The activations and their derivatives are branch-free (bit_select, vecmath.h's vtanh /
// vexpm1 / logistic rather than libm), so the row loops below vectorise and every instruction-set
// path rounds the same.
template <class T>
SBI_HD T activate(Activation act, T z) {
  switch (act) {
    case Activation::ReLU: return bit_select(z > T(0), z, T(0));
    case Activation::Tanh: return vtanh(z);
    case Activation::ELU: return bit_select(z > T(0), z, vexpm1(z));  // alpha = 1 (torch's default)
    case Activation::SiLU: return z * logistic(z);
    case Activation::Identity: break;
  }
  return z;
}

// d act / dz at pre-activation z with output y = act(z). z is read only for SiLU, y only for
// ReLU / tanh / ELU, so callers may pass 0 for the one their activation does not use.
template <class T>
SBI_HD T activation_derivative(Activation act, T z, T y) {
  switch (act) {
    case Activation::ReLU: return bit_select(y > T(0), T(1), T(0));
    case Activation::Tanh: return T(1) - y * y;
    case Activation::ELU: return bit_select(y > T(0), T(1), y + T(1));  // z <= 0: d expm1(z) = exp(z) = y + 1
    case Activation::SiLU: {
      const T s = logistic(z);
      return s * (T(1) + z * (T(1) - s));
    }
    case Activation::Identity: break;
  }
  return T(1);
}

// y[i] = act(z[i]) over a row (z == y allowed): the switch is outside the loop, so each case is
// one vectorisable loop.
template <class T>
SBI_HD void activate_row(Activation act, int64_t n, const T* z, T* y) {
  switch (act) {
    case Activation::ReLU:
      for (int64_t i = 0; i < n; ++i) y[i] = activate(Activation::ReLU, z[i]);
      return;
    case Activation::Tanh:
      for (int64_t i = 0; i < n; ++i) y[i] = activate(Activation::Tanh, z[i]);
      return;
    case Activation::ELU:
      for (int64_t i = 0; i < n; ++i) y[i] = activate(Activation::ELU, z[i]);
      return;
    case Activation::SiLU:
      for (int64_t i = 0; i < n; ++i) y[i] = activate(Activation::SiLU, z[i]);
      return;
    case Activation::Identity:
      for (int64_t i = 0; i < n; ++i) y[i] = z[i];
      return;
  }
}

// dz[i] = dy[i] · act'(z[i], y[i]) over a row (z / y may be null where activation_derivative does
// not read them).
template <class T>
SBI_HD void activation_backward_row(Activation act, int64_t n, const T* z, const T* y, const T* dy, T* dz) {
  switch (act) {
    case Activation::ReLU:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * activation_derivative(Activation::ReLU, T(0), y[i]);
      return;
    case Activation::Tanh:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * activation_derivative(Activation::Tanh, T(0), y[i]);
      return;
    case Activation::ELU:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * activation_derivative(Activation::ELU, T(0), y[i]);
      return;
    case Activation::SiLU:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i] * activation_derivative(Activation::SiLU, z[i], T(0));
      return;
    case Activation::Identity:
      for (int64_t i = 0; i < n; ++i) dz[i] = dy[i];
      return;
  }
}

// Σ_i a[i] b[i] with kDotLanes independent partial sums: the lane loop is a fixed-width
// element-wise update, which the compiler turns into SIMD without reassociating anything (a
// single running sum would stay scalar under strict IEEE semantics). The summation order is
// fixed, so results do not depend on the instruction set.
constexpr int kDotLanes = 8;
template <class T>
SBI_HD T dot(const T* a, const T* b, int64_t n) {
  T acc[kDotLanes] = {};
  int64_t i = 0;
  for (; i + kDotLanes <= n; i += kDotLanes) {
    SBI_UNROLL
    for (int k = 0; k < kDotLanes; ++k) acc[k] += a[i + k] * b[i + k];
  }
  for (int k = 0; i < n; ++i, ++k) acc[k] += a[i] * b[i];
  T s = T(0);
  SBI_UNROLL
  for (int k = 0; k < kDotLanes; ++k) s += acc[k];
  return s;
}

// y[i] += alpha * x[i]: contiguous, no reduction, vectorises as written.
template <class T>
SBI_HD void axpy(T alpha, const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// Register-tiled matrix product, the dense layers' one building block:
//   C[i, 0:cols] (+)= Σ_t A[i, t] · B[t, 0:cols]   for i < R,  t = 0 .. depth − 1 in order,
// A[i, t] at a[i·a_row + t·a_depth], B rows contiguous (row stride ldb), C row stride ldc.
// Every element of C is one running sum over t, in order, started from 0 (zero_init) or from C:
// a GEMM split along t or over tiles adds in the same order, so tile sizes, thread counts and
// instruction sets never change a result. The R × kTileCols accumulators are independent, so
// the column loop is plain SIMD (R rows per broadcast, no reassociation).
constexpr int kTileRows = 4;
constexpr int kTileCols = 16;
#if defined(__GNUC__) && !defined(__CUDA_ARCH__)
// A tile row as GCC vectors of `Bytes` bytes: 16 (SSE2) on the baseline path, 32 / 64 where the
// running instruction-set path has AVX2 / AVX-512 (simd_width.h: the path's wrapper says so).
// GCC keeps generic vectors wider than the target's registers in memory (32-byte vectors ran
// 30× slower on the baseline path), so the width must follow the path. Element-wise IEEE
// arithmetic: the width never changes a result.
template <class T, int Bytes>
struct TileVec {
  typedef T type __attribute__((vector_size(Bytes), aligned(sizeof(T)), may_alias));
};

template <class T, int R, int Bytes>
SBI_HD void gemm_tile_full(int64_t depth, const T* a, int64_t a_row, int64_t a_depth, const T* b, int64_t ldb, T* c,
                           int64_t ldc, bool zero_init) {
  using V = typename TileVec<T, Bytes>::type;
  constexpr int kLanes = Bytes / static_cast<int>(sizeof(T));
  constexpr int kVecs = kTileCols / kLanes > 0 ? kTileCols / kLanes : 1;
  static_assert(kVecs * kLanes == kTileCols, "a tile row must be whole vectors");
  V acc[R][kVecs];
  SBI_UNROLL
  for (int i = 0; i < R; ++i)
    SBI_UNROLL
    for (int v = 0; v < kVecs; ++v) acc[i][v] = zero_init ? V{} : *reinterpret_cast<const V*>(c + i * ldc + v * kLanes);
  for (int64_t t = 0; t < depth; ++t) {
    V bt[kVecs];
    SBI_UNROLL
    for (int v = 0; v < kVecs; ++v) bt[v] = *reinterpret_cast<const V*>(b + t * ldb + v * kLanes);
    SBI_UNROLL
    for (int i = 0; i < R; ++i) {
      const T ai = a[i * a_row + t * a_depth];
      SBI_UNROLL
      for (int v = 0; v < kVecs; ++v) acc[i][v] += ai * bt[v];
    }
  }
  SBI_UNROLL
  for (int i = 0; i < R; ++i)
    SBI_UNROLL
    for (int v = 0; v < kVecs; ++v) *reinterpret_cast<V*>(c + i * ldc + v * kLanes) = acc[i][v];
}
#endif

// `vec_bytes`: simd_vector_bytes() of the running path, read once by the caller.
template <class T, int R>
SBI_HD void gemm_tile(int64_t depth, const T* a, int64_t a_row, int64_t a_depth, const T* b, int64_t ldb, T* c,
                      int64_t ldc, int64_t cols, bool zero_init, int vec_bytes) {
  if (cols == kTileCols) {
#if defined(__GNUC__) && !defined(__CUDA_ARCH__)
    // A double tile row is 128 bytes; a float row 64: never wider than one row.
    if (vec_bytes >= 64 && sizeof(T) * kTileCols >= 64)
      gemm_tile_full<T, R, 64>(depth, a, a_row, a_depth, b, ldb, c, ldc, zero_init);
    else if (vec_bytes >= 32)
      gemm_tile_full<T, R, 32>(depth, a, a_row, a_depth, b, ldb, c, ldc, zero_init);
    else
      gemm_tile_full<T, R, 16>(depth, a, a_row, a_depth, b, ldb, c, ldc, zero_init);
#else
    (void)vec_bytes;
    T acc[R][kTileCols];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < kTileCols; ++j) acc[i][j] = zero_init ? T(0) : c[i * ldc + j];
    for (int64_t t = 0; t < depth; ++t)
      for (int i = 0; i < R; ++i)
        for (int j = 0; j < kTileCols; ++j) acc[i][j] += a[i * a_row + t * a_depth] * b[t * ldb + j];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < kTileCols; ++j) c[i * ldc + j] = acc[i][j];
#endif
    return;
  }
  // A narrower tile at the right edge: same order, runtime width.
  for (int i = 0; i < R; ++i) {
    T* ci = c + i * ldc;
    if (zero_init)
      for (int64_t j = 0; j < cols; ++j) ci[j] = T(0);
    for (int64_t t = 0; t < depth; ++t) {
      const T ai = a[i * a_row + t * a_depth];
      const T* bt = b + t * ldb;
      for (int64_t j = 0; j < cols; ++j) ci[j] += ai * bt[j];
    }
  }
}

// C [rows, cols] (+)= A · B with A[i, t] at a[i·a_row + t·a_depth] and B [depth, cols] (row
// stride ldb), by gemm_tile over kTileRows × kTileCols tiles.
template <class T>
SBI_HD void gemm_rows(int64_t rows, int64_t cols, int64_t depth, const T* a, int64_t a_row, int64_t a_depth,
                      const T* b, int64_t ldb, T* c, int64_t ldc, bool zero_init) {
  const int vb = simd_vector_bytes();
  for (int64_t j0 = 0; j0 < cols; j0 += kTileCols) {
    const int64_t w = cols - j0 < kTileCols ? cols - j0 : kTileCols;
    int64_t i = 0;
    for (; i + kTileRows <= rows; i += kTileRows)
      gemm_tile<T, kTileRows>(depth, a + i * a_row, a_row, a_depth, b + j0, ldb, c + i * ldc + j0, ldc, w, zero_init, vb);
    for (; i < rows; ++i)
      gemm_tile<T, 1>(depth, a + i * a_row, a_row, a_depth, b + j0, ldb, c + i * ldc + j0, ldc, w, zero_init, vb);
  }
}

// Z[r, o] of dense_forward for one output, in its order: Σ_i x[i] w[i] summed over i from 0, then
// + b. The CUDA launcher (dense.cu) computes each output this way, so its results equal these.
template <class T>
SBI_HD T dense_preactivation(int64_t in_dim, const T* x, const T* w, T b) {
  T acc = T(0);
  for (int64_t i = 0; i < in_dim; ++i) acc += x[i] * w[i];
  return acc + b;
}

// Y = act(X · Wᵀ + b), Z[r, o] = (Σ_i X[r, i] W[o, i], summed over i in order) + b[o].
// `pre` [N, out] receives Z; it may be null unless activation_needs_preactivation(act). Y may
// not alias X. Wᵀ is packed kTileCols outputs × kPackDepth inputs at a time into a stack panel
// (zero-padded past the last output) so that the tiles read it contiguously.
constexpr int64_t kPackDepth = 64;
template <class T>
SBI_HD void dense_forward(Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w,
                          const T* b, T* y, T* pre) {
  T panel[kPackDepth * kTileCols];
  T edge[kTileRows * kTileCols];  // a full-width tile for the last, narrower output block
  const int vb = simd_vector_bytes();
  for (int64_t o0 = 0; o0 < out_dim; o0 += kTileCols) {
    const int64_t oc = out_dim - o0 < kTileCols ? out_dim - o0 : kTileCols;
    for (int64_t k0 = 0; k0 == 0 || k0 < in_dim; k0 += kPackDepth) {
      const int64_t kc = in_dim - k0 < kPackDepth ? in_dim - k0 : kPackDepth;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = 0; j < kTileCols; ++j) panel[k * kTileCols + j] = j < oc ? w[(o0 + j) * in_dim + k0 + k] : T(0);
      const bool first = k0 == 0;
      for (int64_t r = 0; r < n; r += kTileRows) {
        const int64_t rc = n - r < kTileRows ? n - r : kTileRows;
        T* yt = y + r * out_dim + o0;
        if (oc == kTileCols && rc == kTileRows) {
          gemm_tile<T, kTileRows>(kc, x + r * in_dim + k0, in_dim, 1, panel, kTileCols, yt, out_dim, kTileCols, first, vb);
          continue;
        }
        // Edge tile: run it full width on a copy, keep the valid part.
        for (int64_t i = 0; i < rc; ++i)
          for (int64_t j = 0; j < kTileCols; ++j) edge[i * kTileCols + j] = first || j >= oc ? T(0) : yt[i * out_dim + j];
        if (rc == kTileRows)
          gemm_tile<T, kTileRows>(kc, x + r * in_dim + k0, in_dim, 1, panel, kTileCols, edge, kTileCols, kTileCols,
                                  false, vb);
        else
          for (int64_t i = 0; i < rc; ++i)
            gemm_tile<T, 1>(kc, x + (r + i) * in_dim + k0, in_dim, 1, panel, kTileCols, edge + i * kTileCols,
                            kTileCols, kTileCols, false, vb);
        for (int64_t i = 0; i < rc; ++i)
          for (int64_t j = 0; j < oc; ++j) yt[i * out_dim + j] = edge[i * kTileCols + j];
      }
    }
  }
  for (int64_t r = 0; r < n; ++r) {
    T* yr = y + r * out_dim;
    for (int64_t o = 0; o < out_dim; ++o) yr[o] += b[o];
    if (pre)
      for (int64_t o = 0; o < out_dim; ++o) pre[r * out_dim + o] = yr[o];
    activate_row(act, out_dim, yr, yr);
  }
}

// Gradients from dY [N, out], given the forward's X, W, Y and (SiLU only) Z. dx may be null (an
// input layer needs no input gradient); y may be null for the identity and pre for all but SiLU.
// Each sum runs in a fixed order: dX[r, i] over o, dW[o, i] and db[o] over r. The work goes in
// blocks of dZ (kBackRows rows × kBackCols outputs, on the stack): dZ is formed once per block
// and feeds the three products as tiles of gemm_tile.
constexpr int64_t kBackRows = 16;
constexpr int64_t kBackCols = 128;
template <class T>
SBI_HD void dense_backward(Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w,
                           const T* y, const T* pre, const T* dy, T* dx, T* dw, T* db) {
  T dz[kBackRows * kBackCols];
  for (int64_t i = 0; i < out_dim * in_dim; ++i) dw[i] = T(0);
  for (int64_t o = 0; o < out_dim; ++o) db[o] = T(0);
  if (dx)
    for (int64_t i = 0; i < n * in_dim; ++i) dx[i] = T(0);
  for (int64_t r0 = 0; r0 < n; r0 += kBackRows) {
    const int64_t rc = n - r0 < kBackRows ? n - r0 : kBackRows;
    for (int64_t o0 = 0; o0 < out_dim; o0 += kBackCols) {
      const int64_t oc = out_dim - o0 < kBackCols ? out_dim - o0 : kBackCols;
      for (int64_t i = 0; i < rc; ++i) {
        const int64_t k = (r0 + i) * out_dim + o0;
        activation_backward_row(act, oc, pre ? pre + k : nullptr, y ? y + k : nullptr, dy + k, dz + i * oc);
        for (int64_t j = 0; j < oc; ++j) db[o0 + j] += dz[i * oc + j];
      }
      // dW[o0 + j, :] += Σ_i dZ[i, j] X[r0 + i, :]   (A = dZᵀ: row step 1, depth step oc)
      gemm_rows(oc, in_dim, rc, static_cast<const T*>(dz), 1, oc, x + r0 * in_dim, in_dim, dw + o0 * in_dim, in_dim,
                false);
      // dX[r0 + i, :] += Σ_j dZ[i, j] W[o0 + j, :]
      if (dx)
        gemm_rows(rc, in_dim, oc, static_cast<const T*>(dz), oc, 1, w + o0 * in_dim, in_dim, dx + r0 * in_dim, in_dim,
                  false);
    }
  }
}

}  // namespace nn
}  // namespace sbi
