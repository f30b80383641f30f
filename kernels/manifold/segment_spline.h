// Monotone rational-quadratic spline of a segment [c − B, c + B] onto itself, with parameterised
// boundary derivatives: the shared core of the circular spline (kernels/manifold/circle.h, where
// the two boundary derivatives are one parameter so the map is C¹ on the circle) and the interval
// spline (kernels/manifold/interval.h, two free boundary derivatives). Durkan et al., "Neural
// Spline Flows", arXiv:1906.04140 (eqs. 4, 5 and appendix A); Rezende et al., "Normalizing
// flows on tori and spheres", arXiv:2002.02428 (section 3.2).
//
// The bin partitions and the bin-local value / log-slope are those of kernels/flows/rq_spline.h
// (RqPartition, RqBin, rq_value, rq_log_slope), applied to v = x − c; only the knot derivatives
// differ. Per element 2K + n_d unnormalised parameters, laid out
//   [widths (K) | heights (K) | derivatives (n_d)]
//   w_j = 2B (m_w + (1 − K m_w) softmax(u_w)_j),  h_j likewise with m_h,
//   d_i = m_d + softplus(u_d[index(i)]) at the knots i = 0..K, where
//     periodic: n_d = K, index(i) = i mod K (d_0 = d_K),
//     free:     n_d = K + 1, index(i) = i.
// Portable (SBI_HD), templated on float / double, no allocation, O(K) per call.
#pragma once
#include "../common/portable.h"
#include "../common/vecmath.h"
#include "../flows/rq_spline.h"

namespace sbi {

template <class T>
struct SegmentSplineConfig {
  int bins;           // K >= 1
  T center;           // c
  T half_length;      // B > 0
  T min_bin_width;    // m_w in [0, 1/K)
  T min_bin_height;   // m_h in [0, 1/K)
  T min_derivative;   // m_d > 0
  bool periodic;      // d_0 = d_K (one parameter) or two free boundary derivatives
};

template <class T>
SBI_HD int segment_spline_derivative_count(const SegmentSplineConfig<T>& c) {
  return c.periodic ? c.bins : c.bins + 1;
}

template <class T>
SBI_HD int segment_spline_param_count(const SegmentSplineConfig<T>& c) {
  return 2 * c.bins + segment_spline_derivative_count(c);
}

// Index into params of the derivative at knot i (0..K).
template <class T>
SBI_HD int segment_spline_derivative_index(const SegmentSplineConfig<T>& c, int i) {
  return 2 * c.bins + (c.periodic && i == c.bins ? 0 : i);
}

// The bin holding v = x − c (by_y false) or v = y − c (by_y true), v in [−B, B].
template <class T>
SBI_HD RqBin<T> segment_spline_bin(const SegmentSplineConfig<T>& c, const T* params, T v, bool by_y) {
  const RqPartition<T> pw(params, c.bins, c.half_length, c.min_bin_width);
  const RqPartition<T> ph(params + c.bins, c.bins, c.half_length, c.min_bin_height);
  RqBin<T> b;
  T lo, size;
  if (by_y) {
    b.k = ph.locate(v, &b.y0, &b.h);
    pw.bin(b.k, &b.x0, &b.w, &b.mass_w);
    ph.bin(b.k, &lo, &size, &b.mass_h);
  } else {
    b.k = pw.locate(v, &b.x0, &b.w);
    ph.bin(b.k, &b.y0, &b.h, &b.mass_h);
    pw.bin(b.k, &lo, &size, &b.mass_w);
  }
  b.d0 = c.min_derivative + softplus(params[segment_spline_derivative_index(c, b.k)]);
  b.d1 = c.min_derivative + softplus(params[segment_spline_derivative_index(c, b.k + 1)]);
  return b;
}

template <class T>
SBI_HD T segment_clamp(const SegmentSplineConfig<T>& c, T v) {
  return v < -c.half_length ? -c.half_length : (v > c.half_length ? c.half_length : v);
}

// y = f(x) and log dy/dx; x is clamped into the segment (callers check the range).
template <class T>
SBI_HD void segment_spline_forward(const SegmentSplineConfig<T>& c, T x, const T* params, T* y, T* ladj) {
  const T v = segment_clamp(c, x - c.center);
  const RqBin<T> b = segment_spline_bin(c, params, v, false);
  const T xi = rq_clamp01((v - b.x0) / b.w);
  *y = c.center + rq_value(b, xi);
  *ladj = rq_log_slope(b, xi);
}

// x = f⁻¹(y) and log dx/dy = −log dy/dx at x: the root of the bin's quadratic a ξ² + b ξ + c = 0
// written as 2c / (−b − √(b² − 4ac)), the form without cancellation.
template <class T>
SBI_HD void segment_spline_inverse(const SegmentSplineConfig<T>& c, T y, const T* params, T* x, T* ladj) {
  const T v = segment_clamp(c, y - c.center);
  const RqBin<T> b = segment_spline_bin(c, params, v, true);
  const T s = b.h / b.w, dy = v - b.y0, e = b.d1 + b.d0 - T(2) * s;
  const T qa = b.h * (s - b.d0) + dy * e;
  const T qb = b.h * b.d0 - dy * e;
  const T qc = -s * dy;
  T disc = qb * qb - T(4) * qa * qc;
  disc = disc > T(0) ? disc : T(0);
  const T den = -qb - std::sqrt(disc);
  const T xi = rq_clamp01(den < T(0) ? T(2) * qc / den : T(0));
  *x = c.center + b.x0 + xi * b.w;
  *ladj = -rq_log_slope(b, xi);
}

// Partial derivatives of y (eq. 4) and l = log dy/dx (eq. 5) in one bin with respect to the
// relative position ξ, the slope s = h/w, the height h and the end derivatives d0, d1, all
// taken as independent.
template <class T>
struct RqBinPartials {
  T y_xi, y_s, y_h, y_d0, y_d1;
  T l_xi, l_s, l_d0, l_d1;
};

template <class T>
SBI_HD RqBinPartials<T> rq_bin_partials(const RqBin<T>& b, T xi) {
  const T s = b.h / b.w, t = xi * (T(1) - xi), e = b.d1 + b.d0 - T(2) * s;
  const T one_m = T(1) - xi, one_m2xi = T(1) - T(2) * xi;
  const T den = s + e * t;                                                  // D
  const T num = s * xi * xi + b.d0 * t;                                     // A: y = y0 + h A / D
  const T slope = b.d1 * xi * xi + T(2) * s * t + b.d0 * one_m * one_m;   // M: l = 2 log s + log M − 2 log D
  const T den2 = den * den;
  const T dden_dxi = e * one_m2xi, dden_ds = T(1) - T(2) * t;
  RqBinPartials<T> p;
  p.y_xi = b.h * ((T(2) * s * xi + b.d0 * one_m2xi) * den - num * dden_dxi) / den2;
  p.y_s = b.h * (xi * xi * den - num * dden_ds) / den2;
  p.y_h = num / den;
  p.y_d0 = b.h * t * (den - num) / den2;
  p.y_d1 = -b.h * num * t / den2;
  const T dslope_dxi = T(2) * b.d1 * xi + T(2) * s * one_m2xi - T(2) * b.d0 * one_m;
  p.l_xi = dslope_dxi / slope - T(2) * dden_dxi / den;
  p.l_s = T(2) / s + T(2) * t / slope - T(2) * dden_ds / den;
  p.l_d0 = one_m * one_m / slope - T(2) * t / den;
  p.l_d1 = xi * xi / slope - T(2) * t / den;
  return p;
}

// Backward of the forward pass: from g_y = dL/dy and g_l = dL/d log|dy/dx| writes dL/dx and
// dL/dparams (segment_spline_param_count values, overwritten). The bin index is piecewise
// constant; the chain runs through ξ = (v − x_k)/w_k, s = h_k/w_k, the two softmax partitions
// and the softplus derivatives (a periodic spline's shared boundary derivative collects both ends).
template <class T>
SBI_HD void segment_spline_backward(const SegmentSplineConfig<T>& c, T x, const T* params, T g_y, T g_l, T* g_x,
                                    T* g_params) {
  const int K = c.bins;
  for (int j = 0; j < segment_spline_param_count(c); ++j) g_params[j] = T(0);
  const T v = segment_clamp(c, x - c.center);
  const RqBin<T> b = segment_spline_bin(c, params, v, false);
  const T xi = rq_clamp01((v - b.x0) / b.w);
  const T s = b.h / b.w;
  const RqBinPartials<T> p = rq_bin_partials(b, xi);
  const T g_xi = g_y * p.y_xi + g_l * p.l_xi;
  const T g_s = g_y * p.y_s + g_l * p.l_s;
  *g_x = g_xi / b.w;
  const T g_x0 = -g_xi / b.w;
  const T g_w = -(g_xi * xi + g_s * s) / b.w;
  const T g_y0 = g_y;
  const T g_h = g_y * p.y_h + g_s / b.w;
  // Knots: x_k = −B + 2B k m + scale · (mass before k), w_k = 2B m + scale · p_k (same for y);
  // softmax: dL/du_j = p_j (dL/dp_j − Σ_i p_i dL/dp_i).
  const RqPartition<T> pw(params, K, c.half_length, c.min_bin_width);
  const RqPartition<T> ph(params + K, K, c.half_length, c.min_bin_height);
  const T dot_w = pw.scale() * (g_w * pw.prob(b.k) + g_x0 * b.mass_w);
  const T dot_h = ph.scale() * (g_h * ph.prob(b.k) + g_y0 * b.mass_h);
  for (int j = 0; j < K; ++j) {
    const T dpw = pw.scale() * (j == b.k ? g_w : (j < b.k ? g_x0 : T(0)));
    const T dph = ph.scale() * (j == b.k ? g_h : (j < b.k ? g_y0 : T(0)));
    g_params[j] = pw.prob(j) * (dpw - dot_w);
    g_params[K + j] = ph.prob(j) * (dph - dot_h);
  }
  const int i0 = segment_spline_derivative_index(c, b.k), i1 = segment_spline_derivative_index(c, b.k + 1);
  g_params[i0] += (g_y * p.y_d0 + g_l * p.l_d0) * logistic(params[i0]);
  g_params[i1] += (g_y * p.y_d1 + g_l * p.l_d1) * logistic(params[i1]);
}

}  // namespace sbi
