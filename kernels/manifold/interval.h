// Rational-quadratic spline of the interval [−1, 1] onto itself (K bins, free boundary
// derivatives): the transform of the height coordinate z of recursive flows on spheres
// (Rezende et al., "Normalizing flows on tori and spheres", arXiv:2002.02428, section 4).
//
// Parameters per element (3K + 1): [widths (K) | heights (K) | derivatives (K + 1)], the knot
// derivatives d_i = m_d + softplus(u_i) at all K + 1 knots, the two ends included. The ends are
// free, not fixed to slope 1: an interval has no identity tails to join, and a density on the
// sphere that is peaked at (or vanishes towards) a pole needs a slope at z = ±1 other than 1.
// See kernels/manifold/segment_spline.h for the shared math.
#pragma once
#include "segment_spline.h"

namespace sbi {

template <class T>
struct IntervalSplineConfig {
  int bins;
  T min_bin_width, min_bin_height, min_derivative;
};

SBI_HD constexpr int interval_spline_param_count(int bins) { return 3 * bins + 1; }

template <class T>
SBI_HD SegmentSplineConfig<T> interval_segment(const IntervalSplineConfig<T>& c) {
  return {c.bins, T(0), T(1), c.min_bin_width, c.min_bin_height, c.min_derivative, false};
}

// y = f(x) and log dy/dx for x in [−1, 1] (clamped into it).
template <class T>
SBI_HD void interval_spline_forward(const IntervalSplineConfig<T>& c, T x, const T* params, T* y, T* ladj) {
  segment_spline_forward(interval_segment(c), x, params, y, ladj);
}

// x = f⁻¹(y) and log dx/dy.
template <class T>
SBI_HD void interval_spline_inverse(const IntervalSplineConfig<T>& c, T y, const T* params, T* x, T* ladj) {
  segment_spline_inverse(interval_segment(c), y, params, x, ladj);
}

// dL/dx and dL/dparams (3K + 1, overwritten) from dL/dy and dL/d log|dy/dx|.
template <class T>
SBI_HD void interval_spline_backward(const IntervalSplineConfig<T>& c, T x, const T* params, T g_y, T g_l, T* g_x,
                                     T* g_params) {
  segment_spline_backward(interval_segment(c), x, params, g_y, g_l, g_x, g_params);
}

}  // namespace sbi
