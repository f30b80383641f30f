// Monotonic rational-quadratic spline with linear tails, elementwise (Durkan, Bekasov, Murray,
// Papamakarios, "Neural Spline Flows", NeurIPS 2019, arXiv:1906.04140, section 3.1).
//
// K bins cover [-B, B] in x and in y; outside, the map is the identity (log-det 0). Per element
// the parameters are 3K - 1 unnormalised values, laid out [widths (K) | heights (K) | derivs (K-1)]:
//   bin widths   w_j = 2B (m_w + (1 - K m_w) softmax(u_w)_j),   knots x_0 = -B, x_K = B
//   bin heights  h_j = 2B (m_h + (1 - K m_h) softmax(u_h)_j),   knots y_0 = -B, y_K = B
//   derivatives  d_i = m_d + softplus(u_d[i-1]) at the inner knots i = 1..K-1, d_0 = d_K = 1
//                (slope 1 at ±B, so value and slope join the identity tails continuously).
// In bin k, with xi = (x - x_k) / w_k, s = h_k / w_k, t = xi (1 - xi):
//   y = y_k + h_k (s xi^2 + d_k t) / (s + (d_k + d_{k+1} - 2s) t)                      (eq. 4)
//   dy/dx = s^2 (d_{k+1} xi^2 + 2 s t + d_k (1 - xi)^2) / (s + (d_k + d_{k+1} - 2s) t)^2   (eq. 5)
// The inverse solves a xi^2 + b xi + c = 0 (paper, appendix A) with the root written as
// 2c / (-b - sqrt(b^2 - 4ac)), the form without cancellation; b^2 - 4ac > 0 for a monotone bin
// and is clamped at 0 against rounding.
//
// Shapes: one element at a time; callers batch over [N, D] with params [N, D, 3K - 1].
// Portable (SBI_HD), templated on float / double, no allocation: the knots are recomputed by
// walking the K bins, so each call is O(K).
#pragma once
#include "../common/portable.h"
#include "../common/vecmath.h"

namespace sbi {

template <class T>
struct RqSplineConfig {
  int bins;            // K >= 1
  T bound;             // B > 0
  T min_bin_width;     // m_w in [0, 1/K)
  T min_bin_height;    // m_h in [0, 1/K)
  T min_derivative;    // m_d >= 0 (> 0 keeps the map strictly monotone)
};

SBI_HD constexpr int rq_spline_param_count(int bins) { return 3 * bins - 1; }

// One softmax partition of [-B, B] (bin widths or heights): max and normaliser of the logits.
template <class T>
struct RqPartition {
  const T* u;
  int bins;
  T bound, min_frac, max_u, sum_e;

  SBI_HD RqPartition(const T* logits, int k, T b, T m) : u(logits), bins(k), bound(b), min_frac(m) {
    max_u = u[0];
    for (int j = 1; j < bins; ++j) max_u = u[j] > max_u ? u[j] : max_u;
    sum_e = T(0);
    for (int j = 0; j < bins; ++j) sum_e += vexp(u[j] - max_u);
  }
  SBI_HD T prob(int j) const { return vexp(u[j] - max_u) / sum_e; }
  // Scale from a softmax probability to a bin size: 2B (1 - K m).
  SBI_HD T scale() const { return T(2) * bound * (T(1) - T(bins) * min_frac); }
  // Knot j from the probability mass of the bins before it; the last knot is B exactly.
  SBI_HD T knot(int j, T mass_before) const {
    if (j == bins) return bound;
    return -bound + T(2) * bound * (T(j) * min_frac) + scale() * mass_before;
  }
  // The bin [lo, lo + size) holding v in [-B, B] (B itself in the last bin); returns its index.
  SBI_HD int locate(T v, T* lo, T* size) const {
    T mass = T(0), left = -bound;
    for (int j = 0; j < bins; ++j) {
      mass += prob(j);
      const T right = knot(j + 1, mass);
      if (v < right || j == bins - 1) {
        *lo = left;
        *size = right - left;
        return j;
      }
      left = right;
    }
    return bins - 1;  // not reached
  }
  // Bin k's left knot and size, and the probability mass of the bins before it.
  SBI_HD void bin(int k, T* lo, T* size, T* mass_before) const {
    T mass = T(0);
    for (int j = 0; j < k; ++j) mass += prob(j);
    *mass_before = mass;
    *lo = knot(k, mass);
    *size = knot(k + 1, mass + prob(k)) - *lo;
  }
};

// The bin holding an element: knots, sizes, end derivatives.
template <class T>
struct RqBin {
  int k;
  T x0, w, y0, h, d0, d1;
  T mass_w, mass_h;  // softmax mass of the bins before k (widths, heights)
};

template <class T>
SBI_HD T rq_knot_derivative(const RqSplineConfig<T>& c, const T* params, int i) {
  if (i == 0 || i == c.bins) return T(1);
  return c.min_derivative + softplus(params[2 * c.bins + i - 1]);
}

// Finds the bin from x (by_y false) or from y (by_y true).
template <class T>
SBI_HD RqBin<T> rq_find_bin(const RqSplineConfig<T>& c, const T* params, T v, bool by_y) {
  const RqPartition<T> pw(params, c.bins, c.bound, c.min_bin_width);
  const RqPartition<T> ph(params + c.bins, c.bins, c.bound, c.min_bin_height);
  RqBin<T> b;
  if (by_y) {
    b.k = ph.locate(v, &b.y0, &b.h);
    pw.bin(b.k, &b.x0, &b.w, &b.mass_w);
    T lo, size;
    ph.bin(b.k, &lo, &size, &b.mass_h);
  } else {
    b.k = pw.locate(v, &b.x0, &b.w);
    ph.bin(b.k, &b.y0, &b.h, &b.mass_h);
    T lo, size;
    pw.bin(b.k, &lo, &size, &b.mass_w);
  }
  b.d0 = rq_knot_derivative(c, params, b.k);
  b.d1 = rq_knot_derivative(c, params, b.k + 1);
  return b;
}

template <class T>
SBI_HD bool rq_inside(const RqSplineConfig<T>& c, T v) {
  return v >= -c.bound && v <= c.bound;  // false for NaN: NaN passes through the identity
}

template <class T>
SBI_HD T rq_clamp01(T xi) { return xi < T(0) ? T(0) : (xi > T(1) ? T(1) : xi); }

// log dy/dx in bin b at relative position xi (eq. 5).
template <class T>
SBI_HD T rq_log_slope(const RqBin<T>& b, T xi) {
  const T s = b.h / b.w, t = xi * (T(1) - xi);
  const T den = s + (b.d1 + b.d0 - T(2) * s) * t;
  const T num = b.d1 * xi * xi + T(2) * s * t + b.d0 * (T(1) - xi) * (T(1) - xi);
  return vlog(num) + T(2) * (vlog(s) - vlog(den));
}

// y in bin b at relative position xi (eq. 4).
template <class T>
SBI_HD T rq_value(const RqBin<T>& b, T xi) {
  const T s = b.h / b.w, t = xi * (T(1) - xi);
  const T den = s + (b.d1 + b.d0 - T(2) * s) * t;
  return b.y0 + b.h * (s * xi * xi + b.d0 * t) / den;
}

// Fused forward: y and log|dy/dx| in one pass.
template <class T>
SBI_HD void rq_spline_forward(const RqSplineConfig<T>& c, T x, const T* params, T* y, T* ladj) {
  if (!rq_inside(c, x)) {
    *y = x;
    *ladj = T(0);
    return;
  }
  const RqBin<T> b = rq_find_bin(c, params, x, false);
  const T xi = rq_clamp01((x - b.x0) / b.w);
  *y = rq_value(b, xi);
  *ladj = rq_log_slope(b, xi);
}

// Forward value alone.
template <class T>
SBI_HD T rq_spline_value(const RqSplineConfig<T>& c, T x, const T* params) {
  if (!rq_inside(c, x)) return x;
  const RqBin<T> b = rq_find_bin(c, params, x, false);
  return rq_value(b, rq_clamp01((x - b.x0) / b.w));
}

// Forward log|dy/dx| alone.
template <class T>
SBI_HD T rq_spline_log_abs_det(const RqSplineConfig<T>& c, T x, const T* params) {
  if (!rq_inside(c, x)) return T(0);
  const RqBin<T> b = rq_find_bin(c, params, x, false);
  return rq_log_slope(b, rq_clamp01((x - b.x0) / b.w));
}

// Fused inverse: x = f^-1(y) and log|dx/dy| = -log|dy/dx| at x.
template <class T>
SBI_HD void rq_spline_inverse(const RqSplineConfig<T>& c, T y, const T* params, T* x, T* ladj) {
  if (!rq_inside(c, y)) {
    *x = y;
    *ladj = T(0);
    return;
  }
  const RqBin<T> b = rq_find_bin(c, params, y, true);
  const T s = b.h / b.w, dy = y - b.y0, e = b.d1 + b.d0 - T(2) * s;
  const T qa = b.h * (s - b.d0) + dy * e;
  const T qb = b.h * b.d0 - dy * e;
  const T qc = -s * dy;
  T disc = qb * qb - T(4) * qa * qc;
  disc = disc > T(0) ? disc : T(0);
  const T xi = rq_clamp01(T(2) * qc / (-qb - std::sqrt(disc)));
  *x = b.x0 + xi * b.w;
  *ladj = -rq_log_slope(b, xi);
}

// Backward of the forward pass: given g_y = dL/dy and g_l = dL/dlog|dy/dx|, writes dL/dx and
// dL/dparams (3K - 1 values, overwritten). Chain rule through xi = (x - x_k)/w_k, s = h_k/w_k,
// the softmax partitions (x_k, w_k depend on the widths' logits; y_k, h_k on the heights') and
// the softplus derivatives; the bin index is piecewise constant.
template <class T>
SBI_HD void rq_spline_backward(const RqSplineConfig<T>& c, T x, const T* params, T g_y, T g_l, T* g_x,
                               T* g_params) {
  const int K = c.bins;
  for (int j = 0; j < rq_spline_param_count(K); ++j) g_params[j] = T(0);
  if (!rq_inside(c, x)) {
    *g_x = g_y;
    return;
  }
  const RqBin<T> b = rq_find_bin(c, params, x, false);
  const T xi = rq_clamp01((x - b.x0) / b.w);
  const T s = b.h / b.w, t = xi * (T(1) - xi), e = b.d1 + b.d0 - T(2) * s;
  const T one_m = T(1) - xi, one_m2t = T(1) - T(2) * xi;
  const T den = s + e * t;               // D
  const T num = s * xi * xi + b.d0 * t;  // A: y = y0 + h A / D
  const T slope = b.d1 * xi * xi + T(2) * s * t + b.d0 * one_m * one_m;  // M
  const T den2 = den * den;
  // Partials of y and of l = 2 log s + log M - 2 log D, with xi, s, h, d0, d1 independent.
  const T dden_dxi = e * one_m2t, dden_ds = T(1) - T(2) * t;
  const T y_xi = b.h * ((T(2) * s * xi + b.d0 * one_m2t) * den - num * dden_dxi) / den2;
  const T y_s = b.h * (xi * xi * den - num * dden_ds) / den2;
  const T y_h = num / den;
  const T y_d0 = b.h * t * (den - num) / den2;
  const T y_d1 = -b.h * num * t / den2;
  const T dslope_dxi = T(2) * b.d1 * xi + T(2) * s * one_m2t - T(2) * b.d0 * one_m;
  const T l_xi = dslope_dxi / slope - T(2) * dden_dxi / den;
  const T l_s = T(2) / s + T(2) * t / slope - T(2) * dden_ds / den;
  const T l_d0 = one_m * one_m / slope - T(2) * t / den;
  const T l_d1 = xi * xi / slope - T(2) * t / den;
  const T g_xi = g_y * y_xi + g_l * l_xi;
  const T g_s = g_y * y_s + g_l * l_s;
  *g_x = g_xi / b.w;
  // Through xi = (x - x0)/w and s = h/w to the knots and sizes.
  const T g_x0 = -g_xi / b.w;
  const T g_w = -(g_xi * xi + g_s * s) / b.w;
  const T g_y0 = g_y;
  const T g_h = g_y * y_h + g_s / b.w;
  // Softmax partitions: x0 = -B + 2B k m + scale * (mass before k), w = 2B m + scale * p_k.
  const RqPartition<T> pw(params, K, c.bound, c.min_bin_width);
  const RqPartition<T> ph(params + K, K, c.bound, c.min_bin_height);
  const T pwk = pw.prob(b.k), phk = ph.prob(b.k);
  // dL/dp_j = scale (g_size [j == k] + g_lo [j < k]); softmax: dL/du_j = p_j (dL/dp_j - sum_i p_i dL/dp_i).
  const T dot_w = pw.scale() * (g_w * pwk + g_x0 * b.mass_w);
  const T dot_h = ph.scale() * (g_h * phk + g_y0 * b.mass_h);
  for (int j = 0; j < K; ++j) {
    const T dpw = pw.scale() * (j == b.k ? g_w : (j < b.k ? g_x0 : T(0)));
    const T dph = ph.scale() * (j == b.k ? g_h : (j < b.k ? g_y0 : T(0)));
    g_params[j] = pw.prob(j) * (dpw - dot_w);
    g_params[K + j] = ph.prob(j) * (dph - dot_h);
  }
  // Inner-knot derivatives d_i = m_d + softplus(u), d d_i / du = logistic(u).
  const T g_d0 = g_y * y_d0 + g_l * l_d0, g_d1 = g_y * y_d1 + g_l * l_d1;
  if (b.k >= 1) g_params[2 * K + b.k - 1] = g_d0 * logistic(params[2 * K + b.k - 1]);
  if (b.k + 1 <= K - 1) g_params[2 * K + b.k] = g_d1 * logistic(params[2 * K + b.k]);
}

}  // namespace sbi
