// 2-D convolution with circular (periodic) padding: the layer of the lattice flows' coupling
// networks (issue 5; Albergo et al., arXiv:2101.08176 use 3×3 kernels with circular padding so
// the network commutes with lattice translations). One sample:
//   x [C_in, L0, L1], w [C_out, C_in, K, K] (K odd, r = K/2), b [C_out], y [C_out, L0, L1]
//   y[o, i, j] = b[o] + Σ_c Σ_{a,d ∈ [−r, r]} w[o, c, a+r, d+r] · x[c, (i+a) mod L0, (j+d) mod L1]
// (cross-correlation, as deep-learning libraries define "convolution"). Backward from
// gy = ∂ℓ/∂y:
//   ∂ℓ/∂x[c, i, j]       = Σ_o Σ_{a,d} w[o, c, a+r, d+r] · gy[o, (i−a) mod L0, (j−d) mod L1]
//   ∂ℓ/∂w[o, c, a+r, d+r] = Σ_{i,j} gy[o, i, j] · x[c, (i+a) mod L0, (j+d) mod L1]
//   ∂ℓ/∂b[o]             = Σ_{i,j} gy[o, i, j]
#pragma once
#include "../common/portable.h"

namespace sbi {

struct Conv2dShape {
  int c_in, c_out;
  int L0, L1;
  int K;  // odd kernel extent
};

SBI_HD int conv2d_weight_count(const Conv2dShape& s) { return s.c_out * s.c_in * s.K * s.K; }

// (i + a) mod L for a in [−L, L]: no % on negative numbers.
SBI_HD int wrap_index(int i, int L) { return i < 0 ? i + L : (i >= L ? i - L : i); }

// The plane is processed in tiles of whole rows, at most kConv2dTile values each (all of it for
// lattices up to 64×64), so every multiply-add runs over one contiguous tile: for each input
// channel and kernel offset (a, d) the shifted input x[c, i + a, j + d] of the tile's rows is
// gathered once (two copies per row) and then serves every output channel. Rows of more than
// kConv2dTile sites are not supported (callers check L1 <= kConv2dTile). The tile only groups
// the work: every output's terms are added in the same order for any tile, so the device's
// smaller tile (per-thread local memory on CUDA, where one thread runs one configuration; it still
// holds a row of every lattice the flows accept, L <= 1024) gives the same results.
#if defined(__CUDA_ARCH__)
constexpr int kConv2dTile = 1024;
#else
constexpr int kConv2dTile = 4096;
#endif

SBI_HD int conv2d_tile_rows(const Conv2dShape& s) { return kConv2dTile / s.L1 < s.L0 ? kConv2dTile / s.L1 : s.L0; }

// dst[(i − i0)·L1 + j] = src[(i + a) mod L0, (j + d) mod L1] for rows i in [i0, i0 + rows).
template <class T>
SBI_HD void conv2d_gather_shifted(const Conv2dShape& s, const T* src, int i0, int rows, int a, int d, T* dst) {
  const int shift = wrap_index(d % s.L1, s.L1), split = s.L1 - shift;
  for (int i = 0; i < rows; ++i) {
    const T* row = src + wrap_index(i0 + i + a % s.L0, s.L0) * s.L1;
    T* out = dst + i * s.L1;
    for (int j = 0; j < split; ++j) out[j] = row[j + shift];
    for (int j = split; j < s.L1; ++j) out[j] = row[j - split];
  }
}

// The adjoint of the gather: dst[(i + a) mod L0, (j + d) mod L1] += src[(i − i0)·L1 + j].
template <class T>
SBI_HD void conv2d_scatter_add_shifted(const Conv2dShape& s, const T* src, int i0, int rows, int a, int d, T* dst) {
  const int shift = wrap_index(d % s.L1, s.L1), split = s.L1 - shift;
  for (int i = 0; i < rows; ++i) {
    T* row = dst + wrap_index(i0 + i + a % s.L0, s.L0) * s.L1;
    const T* in = src + i * s.L1;
    for (int j = 0; j < split; ++j) row[j + shift] += in[j];
    for (int j = split; j < s.L1; ++j) row[j - split] += in[j];
  }
}

// Σ_t u[t]·v[t] in four interleaved partial sums (a fixed order that the compiler can vectorise).
template <class T>
SBI_HD T conv2d_dot(const T* u, const T* v, int n) {
  T acc[4] = {T(0), T(0), T(0), T(0)};
  int t = 0;
  for (; t + 4 <= n; t += 4)
    for (int q = 0; q < 4; ++q) acc[q] += u[t + q] * v[t + q];
  for (; t < n; ++t) acc[t & 3] += u[t] * v[t];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// y = conv(x) + b; y must not alias x.
template <class T>
SBI_HD void conv2d_circular_forward(const Conv2dShape& s, const T* w, const T* b, const T* x, T* y) {
  const int r = s.K / 2, plane = s.L0 * s.L1, R = conv2d_tile_rows(s);
  T shifted[kConv2dTile];
  for (int o = 0; o < s.c_out; ++o)
    for (int p = 0; p < plane; ++p) y[o * plane + p] = b[o];
  for (int i0 = 0; i0 < s.L0; i0 += R) {
    const int rows = i0 + R <= s.L0 ? R : s.L0 - i0, n = rows * s.L1;
    for (int c = 0; c < s.c_in; ++c)
      for (int a = -r; a <= r; ++a)
        for (int d = -r; d <= r; ++d) {
          conv2d_gather_shifted(s, x + c * plane, i0, rows, a, d, shifted);
          const int k = (c * s.K + a + r) * s.K + d + r;
          for (int o = 0; o < s.c_out; ++o) {
            const T wv = w[o * s.c_in * s.K * s.K + k];
            T* yo = y + o * plane + i0 * s.L1;
            for (int t = 0; t < n; ++t) yo[t] += wv * shifted[t];
          }
        }
  }
}

// gx = ∂ℓ/∂x (overwritten; null to skip), gw += ∂ℓ/∂w, gb += ∂ℓ/∂b (accumulated over calls,
// so a batch sums into one gradient). gx must not alias gy.
template <class T>
SBI_HD void conv2d_circular_backward(const Conv2dShape& s, const T* w, const T* x, const T* gy, T* gx, T* gw, T* gb) {
  const int r = s.K / 2, plane = s.L0 * s.L1, R = conv2d_tile_rows(s);
  T shifted[kConv2dTile], g_shifted[kConv2dTile];
  if (gx != nullptr)
    for (int p = 0; p < s.c_in * plane; ++p) gx[p] = T(0);
  for (int o = 0; o < s.c_out; ++o) {
    T sum = T(0);
    for (int p = 0; p < plane; ++p) sum += gy[o * plane + p];
    gb[o] += sum;
  }
  for (int i0 = 0; i0 < s.L0; i0 += R) {
    const int rows = i0 + R <= s.L0 ? R : s.L0 - i0, n = rows * s.L1;
    for (int c = 0; c < s.c_in; ++c)
      for (int a = -r; a <= r; ++a)
        for (int d = -r; d <= r; ++d) {
          conv2d_gather_shifted(s, x + c * plane, i0, rows, a, d, shifted);
          for (int t = 0; t < n; ++t) g_shifted[t] = T(0);
          const int k = (c * s.K + a + r) * s.K + d + r;
          for (int o = 0; o < s.c_out; ++o) {
            const int kw = o * s.c_in * s.K * s.K + k;
            const T wv = w[kw];
            const T* go = gy + o * plane + i0 * s.L1;
            for (int t = 0; t < n; ++t) g_shifted[t] += wv * go[t];
            gw[kw] += conv2d_dot(go, shifted, n);
          }
          if (gx != nullptr) conv2d_scatter_add_shifted(s, g_shifted, i0, rows, a, d, gx + c * plane);
        }
  }
}

}  // namespace sbi
