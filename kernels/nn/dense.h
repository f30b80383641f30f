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

// Matrix product, the dense layers' one building block:
//   C[m, n] (+)= Σ_k A[m, k] · B[k, n]   for m < M, n < N,  k = 0 .. K − 1 in order,
// with A[m, k] at a[m·am + k·ak], B[k, n] at b[k·bk + n·bn], C[m, n] at c[m·cm + n·cn] (any
// strides, so a transposed operand needs no copy by the caller). Every element of C is one
// running sum over k, in order, started from 0 (accumulate = false) or from C: the blocking
// below, the vector width, the thread count and which operand is vectorised never change a
// result (IEEE products commute; the order of the additions is fixed).
//
// Scheme (BLIS-like): B is packed kGemmPanelDepth rows × kGemmPanelCols columns at a time into
// a contiguous stack panel, its width zero-padded to whole vectors; register tiles of R rows of
// A × V vectors of the panel accumulate over the panel's depth, one broadcast of A per row and
// step. When N is narrow and M wide (a weight gradient of a 4-input layer, the input gradient
// of a 4-wide layer) the product is run transposed (Cᵀ = Bᵀ Aᵀ), so that the vectors run along
// the longer side instead of padding 4 columns to 8 or 16.
constexpr int64_t kGemmPanelDepth = 64;
constexpr int64_t kGemmPanelCols = 64;
// Kept for callers that round layer widths (native/mlp_classifier.cc): a multiple of every
// path's vector lanes.
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

// Register tile: C[0:R, 0:cols] (+)= Σ_t A[i, t] · P[t, 0:cols], P a packed panel (row stride
// ldp, V vectors wide, zero past `cols`). C goes through a stack copy when it is not a run of
// whole contiguous vectors (a partial tile, or a transposed product whose C columns are strided).
template <class T, int R, int V, int Bytes>
SBI_HD void gemm_tile(int64_t depth, const T* a, int64_t am, int64_t ak, const T* p, int64_t ldp, T* c, int64_t cm,
                      int64_t cn, int64_t cols, bool load_c) {
  using Vec = typename TileVec<T, Bytes>::type;
  constexpr int kLanes = Bytes / static_cast<int>(sizeof(T));
  constexpr int kCols = V * kLanes;
  const bool direct = cn == 1 && cols == kCols;
  Vec acc[R][V];
  if (!load_c) {
    SBI_UNROLL
    for (int i = 0; i < R; ++i)
      SBI_UNROLL
      for (int v = 0; v < V; ++v) acc[i][v] = Vec{};
  } else if (direct) {
    SBI_UNROLL
    for (int i = 0; i < R; ++i)
      SBI_UNROLL
      for (int v = 0; v < V; ++v) acc[i][v] = *reinterpret_cast<const Vec*>(c + i * cm + v * kLanes);
  } else {
    T tmp[R][kCols];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < kCols; ++j) tmp[i][j] = j < cols ? c[i * cm + j * cn] : T(0);
    SBI_UNROLL
    for (int i = 0; i < R; ++i)
      SBI_UNROLL
      for (int v = 0; v < V; ++v) acc[i][v] = *reinterpret_cast<const Vec*>(&tmp[i][v * kLanes]);
  }
  for (int64_t t = 0; t < depth; ++t) {
    Vec pt[V];
    SBI_UNROLL
    for (int v = 0; v < V; ++v) pt[v] = *reinterpret_cast<const Vec*>(p + t * ldp + v * kLanes);
    SBI_UNROLL
    for (int i = 0; i < R; ++i) {
      const T ai = a[i * am + t * ak];
      SBI_UNROLL
      for (int v = 0; v < V; ++v) acc[i][v] += ai * pt[v];
    }
  }
  if (direct) {
    SBI_UNROLL
    for (int i = 0; i < R; ++i)
      SBI_UNROLL
      for (int v = 0; v < V; ++v) *reinterpret_cast<Vec*>(c + i * cm + v * kLanes) = acc[i][v];
  } else {
    T tmp[R][kCols];
    SBI_UNROLL
    for (int i = 0; i < R; ++i)
      SBI_UNROLL
      for (int v = 0; v < V; ++v) *reinterpret_cast<Vec*>(&tmp[i][v * kLanes]) = acc[i][v];
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < cols; ++j) c[i * cm + j * cn] = tmp[i][j];
  }
}

// Tile shape per vector width: R rows × V vectors, R·V accumulators (AVX2: 16 registers; the
// baseline path has 16 XMM registers too).
template <class T, int Bytes>
struct GemmShape {
  static constexpr int kRows = 4;  // 4 × 2 measured best on AVX2 among 4×2, 6×2, 4×3, 3×4, 8×1, 2×4
  static constexpr int kVecs = 2;
};

// R rows of C against one packed panel (padded width np, `cols` of it valid): tiles of V
// vectors, then single-vector tiles for the rest.
template <class T, int R, int Bytes>
SBI_HD void gemm_panel_rows(int64_t depth, const T* a, int64_t am, int64_t ak, const T* p, int64_t np, int64_t cols,
                            T* c, int64_t cm, int64_t cn, bool load_c) {
  constexpr int kLanes = Bytes / static_cast<int>(sizeof(T));
  constexpr int V = GemmShape<T, Bytes>::kVecs;
  int64_t j = 0;
  for (; j + V * kLanes <= np; j += V * kLanes)
    gemm_tile<T, R, V, Bytes>(depth, a, am, ak, p + j, np, c + j * cn, cm, cn,
                              cols - j < V * kLanes ? cols - j : V * kLanes, load_c);
  for (; j < np; j += kLanes)
    gemm_tile<T, R, 1, Bytes>(depth, a, am, ak, p + j, np, c + j * cn, cm, cn, cols - j < kLanes ? cols - j : kLanes,
                              load_c);
}

template <class T, int Bytes>
SBI_HD void gemm_path(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* b, int64_t bk,
                      int64_t bn, T* c, int64_t cm, int64_t cn, bool accumulate) {
  constexpr int64_t kLanes = Bytes / static_cast<int64_t>(sizeof(T));
  constexpr int R = GemmShape<T, Bytes>::kRows;
  static_assert(kGemmPanelCols % kLanes == 0, "a panel must be whole vectors");
  T panel[kGemmPanelDepth * kGemmPanelCols];
  for (int64_t n0 = 0; n0 < N; n0 += kGemmPanelCols) {
    const int64_t nc = N - n0 < kGemmPanelCols ? N - n0 : kGemmPanelCols;
    const int64_t np = (nc + kLanes - 1) / kLanes * kLanes;
    for (int64_t k0 = 0; k0 < K; k0 += kGemmPanelDepth) {
      const int64_t kc = K - k0 < kGemmPanelDepth ? K - k0 : kGemmPanelDepth;
      for (int64_t t = 0; t < kc; ++t) {
        const T* bt = b + (k0 + t) * bk + n0 * bn;
        T* pt = panel + t * np;
        if (bn == 1)  // a contiguous row: a vector copy (the strided loop below stays scalar)
          for (int64_t j = 0; j < nc; ++j) pt[j] = bt[j];
        else
          for (int64_t j = 0; j < nc; ++j) pt[j] = bt[j * bn];
        for (int64_t j = nc; j < np; ++j) pt[j] = T(0);
      }
      const bool load_c = accumulate || k0 > 0;
      const T* ak0 = a + k0 * ak;
      T* cn0 = c + n0 * cn;
      int64_t m = 0;
      for (; m + R <= M; m += R)
        gemm_panel_rows<T, R, Bytes>(kc, ak0 + m * am, am, ak, panel, np, nc, cn0 + m * cm, cm, cn, load_c);
      // Leftover rows in pairs where possible: a 1-row tile has too few independent sums to hide
      // the adds' latency (M = 50 hidden units: 12 tiles of 4 rows and one of 2).
      for (; m + 2 <= M; m += 2)
        gemm_panel_rows<T, 2, Bytes>(kc, ak0 + m * am, am, ak, panel, np, nc, cn0 + m * cm, cm, cn, load_c);
      for (; m < M; ++m)
        gemm_panel_rows<T, 1, Bytes>(kc, ak0 + m * am, am, ak, panel, np, nc, cn0 + m * cm, cm, cn, load_c);
    }
  }
}

// One out-of-line copy of the product per vector width, compiled for the instruction set that
// width needs (the callers' SBI_MULTIVERSION wrappers inline everything else; inlining every
// tile variant of every width into every call site made the addon take many minutes to build).
#if defined(__x86_64__) || defined(__i386__)
#define SBI_GEMM_ATTR_16 __attribute__((noinline, flatten))
#define SBI_GEMM_ATTR_32 __attribute__((noinline, flatten, target("avx2")))
#define SBI_GEMM_ATTR_64 __attribute__((noinline, flatten, target("avx512f,avx512dq,avx512bw,avx512vl")))
#else
#define SBI_GEMM_ATTR_16 __attribute__((noinline, flatten))
#define SBI_GEMM_ATTR_32 __attribute__((noinline, flatten))
#define SBI_GEMM_ATTR_64 __attribute__((noinline, flatten))
#endif
template <class T>
SBI_GEMM_ATTR_16 void gemm_width16(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* b,
                                   int64_t bk, int64_t bn, T* c, int64_t cm, int64_t cn, bool accumulate) {
  gemm_path<T, 16>(M, N, K, a, am, ak, b, bk, bn, c, cm, cn, accumulate);
}
template <class T>
SBI_GEMM_ATTR_32 void gemm_width32(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* b,
                                   int64_t bk, int64_t bn, T* c, int64_t cm, int64_t cn, bool accumulate) {
  gemm_path<T, 32>(M, N, K, a, am, ak, b, bk, bn, c, cm, cn, accumulate);
}
template <class T>
SBI_GEMM_ATTR_64 void gemm_width64(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* b,
                                   int64_t bk, int64_t bn, T* c, int64_t cm, int64_t cn, bool accumulate) {
  gemm_path<T, 64>(M, N, K, a, am, ak, b, bk, bn, c, cm, cn, accumulate);
}
#endif

template <class T>
SBI_HD void gemm(int64_t M, int64_t N, int64_t K, const T* a, int64_t am, int64_t ak, const T* b, int64_t bk,
                 int64_t bn, T* c, int64_t cm, int64_t cn, bool accumulate) {
  if (K == 0) {
    if (!accumulate)
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) c[m * cm + n * cn] = T(0);
    return;
  }
#if defined(__GNUC__) && !defined(__CUDA_ARCH__)
  const int vb = simd_vector_bytes();
  const int64_t lanes = vb / static_cast<int64_t>(sizeof(T));
  // Vectorise along the side that costs less: the padded vector products, packing the panel
  // (a strided gather costs about 4× a contiguous copy) and, when the vectorised side of C is
  // strided, every tile's trip through the stack copy (a scalar scatter of each C element).
  // Ties: N, whose C rows are contiguous.
  const auto cost = [lanes, K](int64_t m, int64_t n, int64_t bn_stride, int64_t cn_stride) {
    return m * ((n + lanes - 1) / lanes) * K * 4 + K * n * (bn_stride == 1 ? 1 : 4) + m * n * (cn_stride == 1 ? 0 : 4);
  };
  const int64_t cost_n = cost(M, N, bn, cn), cost_m = cost(N, M, am, cm);
  if (cost_m < cost_n) {
    const int64_t t0 = M;
    M = N;
    N = t0;
    const T* t1 = a;
    a = b;
    b = t1;
    int64_t t2 = am;
    am = bn;
    bn = t2;
    t2 = ak;
    ak = bk;
    bk = t2;
    t2 = cm;
    cm = cn;
    cn = t2;
  }
  if (vb >= 64) gemm_width64<T>(M, N, K, a, am, ak, b, bk, bn, c, cm, cn, accumulate);
  else if (vb >= 32) gemm_width32<T>(M, N, K, a, am, ak, b, bk, bn, c, cm, cn, accumulate);
  else gemm_width16<T>(M, N, K, a, am, ak, b, bk, bn, c, cm, cn, accumulate);
#else
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      T acc = accumulate ? c[m * cm + n * cn] : T(0);
      for (int64_t k = 0; k < K; ++k) acc += a[m * am + k * ak] * b[k * bk + n * bn];
      c[m * cm + n * cn] = acc;
    }
#endif
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
// not alias X. The activation runs over the whole [N, out] block at once (one vector loop,
// no per-row tails).
template <class T>
SBI_HD void dense_forward(Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w,
                          const T* b, T* y, T* pre) {
  gemm(n, out_dim, in_dim, x, in_dim, int64_t{1}, w, int64_t{1}, in_dim, y, out_dim, int64_t{1}, false);
  for (int64_t r = 0; r < n; ++r) {
    T* yr = y + r * out_dim;
    for (int64_t o = 0; o < out_dim; ++o) yr[o] += b[o];
  }
  if (pre)
    for (int64_t i = 0; i < n * out_dim; ++i) pre[i] = y[i];
  activate_row(act, n * out_dim, y, y);
}

// Gradients from dY [N, out], given the forward's X, W, Y and (SiLU only) Z. dx may be null (an
// input layer needs no input gradient); y may be null for the identity and pre for all but SiLU.
// Each sum runs in a fixed order: dX[r, i] over o, dW[o, i] and db[o] over r. The work goes in
// blocks of dZ (kBackRows rows × kBackCols outputs, on the stack): dZ is formed once per block
// and feeds the three products (gemm, with dZ read transposed for dW). An identity layer's dZ
// is dY itself: whole-row blocks of it are read in place instead of copied.
constexpr int64_t kBackRows = 64;
constexpr int64_t kBackCols = 64;
template <class T>
SBI_HD void dense_backward(Activation act, int64_t n, int64_t in_dim, int64_t out_dim, const T* x, const T* w,
                           const T* y, const T* pre, const T* dy, T* dx, T* dw, T* db) {
  T dz[kBackRows * kBackCols];
  for (int64_t o = 0; o < out_dim; ++o) db[o] = T(0);
  if (n == 0 || out_dim == 0) {  // the products below write dW and dX on their first block
    for (int64_t i = 0; i < out_dim * in_dim; ++i) dw[i] = T(0);
    if (dx)
      for (int64_t i = 0; i < n * in_dim; ++i) dx[i] = T(0);
    return;
  }
  for (int64_t r0 = 0; r0 < n; r0 += kBackRows) {
    const int64_t rc = n - r0 < kBackRows ? n - r0 : kBackRows;
    for (int64_t o0 = 0; o0 < out_dim; o0 += kBackCols) {
      const int64_t oc = out_dim - o0 < kBackCols ? out_dim - o0 : kBackCols;
      const T* dzb = dz;  // the block of dZ, [rc, oc] row-major
      if (oc == out_dim) {  // whole rows: one contiguous block
        const int64_t k = r0 * out_dim;
        if (act == Activation::Identity) dzb = dy + k;
        else activation_backward_row(act, rc * oc, pre ? pre + k : nullptr, y ? y + k : nullptr, dy + k, dz);
      } else {
        for (int64_t i = 0; i < rc; ++i) {
          const int64_t k = (r0 + i) * out_dim + o0;
          activation_backward_row(act, oc, pre ? pre + k : nullptr, y ? y + k : nullptr, dy + k, dz + i * oc);
        }
      }
      for (int64_t i = 0; i < rc; ++i)
        for (int64_t j = 0; j < oc; ++j) db[o0 + j] += dzb[i * oc + j];
      // dW[o0 + j, :] (+)= Σ_i dZ[i, j] X[r0 + i, :]   (A = dZᵀ)
      gemm(oc, in_dim, rc, dzb, int64_t{1}, oc, x + r0 * in_dim, in_dim, int64_t{1}, dw + o0 * in_dim, in_dim,
           int64_t{1}, r0 > 0);
      // dX[r0 + i, :] (+)= Σ_j dZ[i, j] W[o0 + j, :]
      if (dx)
        gemm(rc, in_dim, oc, dzb, oc, int64_t{1}, w + o0 * in_dim, in_dim, int64_t{1}, dx + r0 * in_dim, in_dim,
             int64_t{1}, o0 > 0);
    }
  }
}

}  // namespace nn
}  // namespace sbi
