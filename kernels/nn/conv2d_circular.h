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

// y = conv(x) + b; y must not alias x.
template <class T>
SBI_HD void conv2d_circular_forward(const Conv2dShape& s, const T* w, const T* b, const T* x, T* y) {
  const int r = s.K / 2, plane = s.L0 * s.L1;
  for (int o = 0; o < s.c_out; ++o) {
    T* yo = y + o * plane;
    for (int p = 0; p < plane; ++p) yo[p] = b[o];
    for (int c = 0; c < s.c_in; ++c) {
      const T* xc = x + c * plane;
      const T* wk = w + (o * s.c_in + c) * s.K * s.K;
      for (int a = -r; a <= r; ++a) {
        for (int d = -r; d <= r; ++d) {
          const T wv = wk[(a + r) * s.K + (d + r)];
          // Column j reads (j + shift) mod L1: two unwrapped runs, so the inner loops vectorise.
          const int shift = wrap_index(d % s.L1, s.L1), split = s.L1 - shift;
          for (int i = 0; i < s.L0; ++i) {
            const T* row = xc + wrap_index(i + a % s.L0, s.L0) * s.L1;
            T* yrow = yo + i * s.L1;
            for (int j = 0; j < split; ++j) yrow[j] += wv * row[j + shift];
            for (int j = split; j < s.L1; ++j) yrow[j] += wv * row[j - split];
          }
        }
      }
    }
  }
}

// gx = ∂ℓ/∂x (overwritten; null to skip), gw += ∂ℓ/∂w, gb += ∂ℓ/∂b (accumulated over calls,
// so a batch sums into one gradient). gx must not alias gy.
template <class T>
SBI_HD void conv2d_circular_backward(const Conv2dShape& s, const T* w, const T* x, const T* gy, T* gx, T* gw, T* gb) {
  const int r = s.K / 2, plane = s.L0 * s.L1;
  if (gx != nullptr)
    for (int p = 0; p < s.c_in * plane; ++p) gx[p] = T(0);
  for (int o = 0; o < s.c_out; ++o) {
    const T* go = gy + o * plane;
    T sum = T(0);
    for (int p = 0; p < plane; ++p) sum += go[p];
    gb[o] += sum;
    for (int c = 0; c < s.c_in; ++c) {
      const T* xc = x + c * plane;
      T* gxc = gx != nullptr ? gx + c * plane : nullptr;
      const int base = (o * s.c_in + c) * s.K * s.K;
      for (int a = -r; a <= r; ++a) {
        for (int d = -r; d <= r; ++d) {
          const int k = base + (a + r) * s.K + (d + r);
          const T wv = w[k];
          const int shift = wrap_index(d % s.L1, s.L1), split = s.L1 - shift;
          T gsum = T(0);
          for (int i = 0; i < s.L0; ++i) {
            const int src = wrap_index(i + a % s.L0, s.L0) * s.L1;
            const T* grow = go + i * s.L1;
            const T* xrow = xc + src;
            // j ascending in both runs: the same summation order as one loop over j.
            for (int j = 0; j < split; ++j) gsum += grow[j] * xrow[j + shift];
            for (int j = split; j < s.L1; ++j) gsum += grow[j] * xrow[j - split];
            if (gxc != nullptr) {
              T* gxrow = gxc + src;
              for (int j = 0; j < split; ++j) gxrow[j + shift] += wv * grow[j];
              for (int j = split; j < s.L1; ++j) gxrow[j - split] += wv * grow[j];
            }
          }
          gw[k] += gsum;
        }
      }
    }
  }
}

}  // namespace sbi
