// Elementwise affine transform y = x exp(s) + t, the transform of masked autoregressive flows
// (Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation",
// NeurIPS 2017, arXiv:1705.07057, eq. 3 written for x -> y).
//
// Parameters per element: [u, t], the unconstrained log-scale u and the shift t. The log-scale is
// soft-clamped to (-c, c):
//   s = c u / sqrt(c^2 + u^2),   ds/du = c^3 / (c^2 + u^2)^(3/2)
// smooth, odd, slope 1 at 0, so exp(s) stays in (e^-c, e^c) whatever a network outputs and the
// inverse never overflows; unlike tanh it needs only a square root (correctly rounded
// everywhere). log|dy/dx| = s.
// Shapes: one element at a time; callers batch over [N, D] with params [N, D, 2].
#pragma once
#include "../common/portable.h"
#include "../common/vecmath.h"

namespace sbi {

constexpr int kAffineParamCount = 2;

// s = c u / sqrt(c^2 + u^2) and ds/du, evaluated with u and c divided by max(|u|, c) so that
// nothing overflows (u = ±inf gives s = ±c, ds/du = 0).
template <class T>
SBI_HD T affine_log_scale(T u, T c, T* ds_du) {
  const T abs_u = u < T(0) ? -u : u;
  const bool large = abs_u > c;
  const T uu = large ? (u < T(0) ? T(-1) : T(1)) : u / c;
  const T cc = large ? c / abs_u : T(1);
  const T r2 = cc * cc + uu * uu;  // in [1, 2]
  const T r = std::sqrt(r2);
  if (ds_du) *ds_du = cc * cc * cc / (r2 * r);
  return c * uu / r;
}

template <class T>
SBI_HD void affine_forward(T c, T x, const T* params, T* y, T* ladj) {
  const T s = affine_log_scale(params[0], c, static_cast<T*>(nullptr));
  *y = x * vexp(s) + params[1];
  *ladj = s;
}

template <class T>
SBI_HD T affine_value(T c, T x, const T* params) {
  return x * vexp(affine_log_scale(params[0], c, static_cast<T*>(nullptr))) + params[1];
}

template <class T>
SBI_HD T affine_log_abs_det(T c, T /*x*/, const T* params) {
  return affine_log_scale(params[0], c, static_cast<T*>(nullptr));
}

// x = (y - t) exp(-s), log|dx/dy| = -s.
template <class T>
SBI_HD void affine_inverse(T c, T y, const T* params, T* x, T* ladj) {
  const T s = affine_log_scale(params[0], c, static_cast<T*>(nullptr));
  *x = (y - params[1]) * vexp(-s);
  *ladj = -s;
}

// Backward of the forward pass: given g_y = dL/dy and g_l = dL/dlog|dy/dx|,
// dL/dx = g_y e^s, dL/dt = g_y, dL/du = (g_y x e^s + g_l) ds/du.
template <class T>
SBI_HD void affine_backward(T c, T x, const T* params, T g_y, T g_l, T* g_x, T* g_params) {
  T ds_du;
  const T s = affine_log_scale(params[0], c, &ds_du);
  const T scale = vexp(s);
  *g_x = g_y * scale;
  g_params[0] = (g_y * x * scale + g_l) * ds_du;
  g_params[1] = g_y;
}

}  // namespace sbi
