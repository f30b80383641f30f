// Diffeomorphisms of the circle, on angles in [0, 2π): circular rational-quadratic splines,
// convex mixtures of Möbius transformations and convex mixtures of non-compact projections, each
// followed by a rotation. Rezende, Papamakarios, Racanière, Albergo, Kanwar, Shanahan, Cranmer,
// "Normalizing flows on tori and spheres", ICML 2020, arXiv:2002.02428 (sections 3.1, 3.2);
// Kanwar et al., arXiv:2003.06413, and Albergo et al., arXiv:2101.08176 (non-compact projection).
//
// Every transform maps an angle x (any finite value, taken modulo 2π) to y = wrap(f(x) + φ) in
// [0, 2π), where f is a monotone map of [0, 2π] onto itself with f(0) = 0 and f(2π) = 2π, so y is
// continuous on the circle; φ (the last parameter, unconstrained, in radians) is the rotation.
// log|dy/dx| = log f'(x), and f'(0) = f'(2π), so the density is continuous at 0 ≡ 2π too.
//
// Half-angle map. T_α(v) = 2 atan(α tan(v/2)) maps (−π, π) onto itself monotonically for α > 0,
// fixing 0 and ±π; T_α'(v) = α / D_α(v), D_α(v) = cos²(v/2) + α² sin²(v/2). Its lift to ℝ,
// T̃_α(v + 2πn) = T_α(v) + 2πn, is computed as 2 atan2(α sin(v/2), cos(v/2)) + 2πn with
// v ∈ [−π, π) (cos(v/2) ≥ 0, far from atan2's branch cut), so it is monotone and continuous.
//
// Non-compact projection (NCP): g(θ) = T̃_α(θ), α = m_α + softplus(u) (m_α > 0).
// Möbius transformation: h_ω(z) = (1 − |ω|²)/|z − ω|² (z − ω) − ω = (z − ω)/(1 − ω̄z) on the
// unit circle, ω = 0.99 u / (1 + |u|) for u ∈ ℝ² (the open disc of radius 0.99). Writing
// ω = r e^{iψ}, arg h_ω(e^{iθ}) = ψ + T̃_α(θ − ψ) with α = (1 + r)/(1 − r), so the map anchored at
// angle 0 is g(θ) = T̃_α(θ − ψ) − T̃_α(−ψ), with g'(θ) = (1 − |ω|²)/|e^{iθ} − ω|². Its gradients
// are taken in Cartesian ω (smooth at ω = 0, where ψ is undefined):
//   ∂ arg h/∂ω_x = 2 (sin θ − ω_y)/|z − ω|²,   ∂ arg h/∂ω_y = −2 (cos θ − ω_x)/|z − ω|²,
//   ∂ log g'/∂ω = −2ω/(1 − |ω|²) + 2 (z − ω)/|z − ω|²,  ∂ log g'/∂θ = 2 (ω_y cos θ − ω_x sin θ)/|z − ω|².
// Mixtures: f = Σ_k ρ_k g_k with ρ = softmax(logits): each g_k maps [0, 2π] onto itself monotonically
// with g_k(0) = 0, so f does. Parameters per element, K components:
//   Möbius [logits (K) | (u_x, u_y) per component (2K) | φ]  = 3K + 1
//   NCP    [logits (K) | α logits (K)                  | φ]  = 2K + 1
// The inverse has no closed form for K > 1: Newton's method on f(θ) = y − φ, safeguarded by the
// bracket [0, 2π] (a step leaving the current bracket becomes a bisection), to machine precision,
// from the ρ-weighted mean of the components' closed-form inverses g_k⁻¹ = (shifted) T̃_{1/α_k}.
//
// Circular spline: the RQ spline of kernels/manifold/segment_spline.h on [0, 2π] with one shared
// boundary derivative d_0 = d_K (so f is C¹ on the circle); parameters
//   [widths (K) | heights (K) | derivatives d_0..d_{K−1} (K) | φ] = 3K + 1.
//
// Portable (SBI_HD), templated on float / double, no allocation; O(K) per element (the mixture
// inverse O(K) per Newton step).
#pragma once
#include "../common/portable.h"
#include "../common/vecmath.h"
#include "segment_spline.h"

namespace sbi {

constexpr double kMoebiusRadius = 0.99;

template <class T>
SBI_HD constexpr T machine_epsilon() {
  return sizeof(T) == sizeof(float) ? T(1.1920928955078125e-7) : T(2.220446049250313e-16);
}

// a modulo 2π in [0, 2π).
template <class T>
SBI_HD T wrap_angle(T a) {
  const T two_pi = T(kTwoPi);
  T w = a - two_pi * std::floor(a / two_pi);
  if (!(w < two_pi)) w = T(0);  // a just below a multiple of 2π rounds up to 2π: the same point
  return w < T(0) ? T(0) : w;
}

// The lift T̃_α(u) of the half-angle map (header comment).
template <class T>
SBI_HD T half_angle_lift(T alpha, T u) {
  const T two_pi = T(kTwoPi);
  const T n = std::floor((u + T(kPi)) / two_pi);
  const T v = u - two_pi * n;
  return T(2) * std::atan2(alpha * std::sin(T(0.5) * v), std::cos(T(0.5) * v)) + two_pi * n;
}

// A non-compact projection g(θ) = T̃_α(θ), one unconstrained parameter.
template <class T>
struct NcpComponent {
  static constexpr int kWidth = 1;
  T alpha, dalpha_du;
  SBI_HD NcpComponent(const T* u, T min_alpha) : alpha(min_alpha + softplus(u[0])), dalpha_du(logistic(u[0])) {}
  SBI_HD T value(T theta) const { return half_angle_lift(alpha, theta); }
  // g⁻¹(s) = T̃_{1/α}(s).
  SBI_HD T inverse(T s) const { return half_angle_lift(T(1) / alpha, s); }
  SBI_HD T slope(T theta) const {
    const T sh = std::sin(T(0.5) * theta), ch = std::cos(T(0.5) * theta);
    return alpha / (ch * ch + alpha * alpha * sh * sh);
  }
  // d slope/dθ, and d value/du, d slope/du.
  SBI_HD void partials(T theta, T* dslope_dtheta, T* dvalue_du, T* dslope_du) const {
    const T sh = std::sin(T(0.5) * theta), ch = std::cos(T(0.5) * theta);
    const T d = ch * ch + alpha * alpha * sh * sh, slope = alpha / d;
    *dslope_dtheta = -slope * (alpha * alpha - T(1)) * sh * ch / d;
    dvalue_du[0] = T(2) * sh * ch / d * dalpha_du;
    dslope_du[0] = (T(1) / d - T(2) * alpha * alpha * sh * sh / (d * d)) * dalpha_du;
  }
};

// A Möbius transformation anchored at 0, two unconstrained parameters u (ω = 0.99 u/(1 + |u|)).
template <class T>
struct MoebiusComponent {
  static constexpr int kWidth = 2;
  T wx, wy, one_m_r2, alpha, psi;
  T jac[2][2];  // ∂ω_i/∂u_j = 0.99/(1 + |u|) (δ_ij − e_i e_j |u|/(1 + |u|)), e = u/|u|
  SBI_HD MoebiusComponent(const T* u, T /*min_alpha*/) {
    const T n = std::hypot(u[0], u[1]);
    const T scale = T(kMoebiusRadius) / (T(1) + n);
    wx = scale * u[0];
    wy = scale * u[1];
    const T r = scale * n;
    one_m_r2 = (T(1) - r) * (T(1) + r);
    alpha = (T(1) + r) / (T(1) - r);
    psi = std::atan2(wy, wx);
    const T ex = n > T(0) ? u[0] / n : T(0), ey = n > T(0) ? u[1] / n : T(0), t = n / (T(1) + n);
    jac[0][0] = scale * (T(1) - ex * ex * t);
    jac[0][1] = jac[1][0] = -scale * ex * ey * t;
    jac[1][1] = scale * (T(1) - ey * ey * t);
  }
  SBI_HD T value(T theta) const { return half_angle_lift(alpha, theta - psi) - half_angle_lift(alpha, -psi); }
  // g⁻¹(s) = ψ + T̃_{1/α}(s + T̃_α(−ψ)).
  SBI_HD T inverse(T s) const { return psi + half_angle_lift(T(1) / alpha, s + half_angle_lift(alpha, -psi)); }
  SBI_HD T slope(T theta) const {
    const T ax = std::cos(theta) - wx, ay = std::sin(theta) - wy;
    return one_m_r2 / (ax * ax + ay * ay);
  }
  SBI_HD void partials(T theta, T* dslope_dtheta, T* dvalue_du, T* dslope_du) const {
    const T zx = std::cos(theta), zy = std::sin(theta);
    const T ax = zx - wx, ay = zy - wy, n2 = ax * ax + ay * ay;
    const T bx = T(1) - wx, n20 = bx * bx + wy * wy;  // |1 − ω|², at θ = 0
    const T slope = one_m_r2 / n2;
    *dslope_dtheta = slope * T(2) * (wy * zx - wx * zy) / n2;
    const T dv_dwx = T(2) * ay / n2 + T(2) * wy / n20;
    const T dv_dwy = -T(2) * ax / n2 + T(2) * bx / n20;
    const T ds_dwx = slope * (-T(2) * wx / one_m_r2 + T(2) * ax / n2);
    const T ds_dwy = slope * (-T(2) * wy / one_m_r2 + T(2) * ay / n2);
    for (int j = 0; j < 2; ++j) {
      dvalue_du[j] = dv_dwx * jac[0][j] + dv_dwy * jac[1][j];
      dslope_du[j] = ds_dwx * jac[0][j] + ds_dwy * jac[1][j];
    }
  }
};

template <class T>
struct CircleMixtureConfig {
  int components;  // K >= 1
  T min_alpha;     // m_α > 0 (NCP only)
};

template <class C>
SBI_HD constexpr int circle_mixture_param_count(int components) {
  return components * (1 + C::kWidth) + 1;
}

// Softmax of the K mixture logits: max and normaliser.
template <class T>
struct MixtureWeights {
  const T* logits;
  T max_u, sum_e;
  SBI_HD MixtureWeights(const T* u, int k) : logits(u) {
    max_u = u[0];
    for (int j = 1; j < k; ++j) max_u = u[j] > max_u ? u[j] : max_u;
    sum_e = T(0);
    for (int j = 0; j < k; ++j) sum_e += vexp(u[j] - max_u);
  }
  SBI_HD T prob(int j) const { return vexp(logits[j] - max_u) / sum_e; }
};

// f(θ) and f'(θ) of the mixture, θ in [0, 2π].
template <class C, class T>
SBI_HD void circle_mixture_eval(const CircleMixtureConfig<T>& c, const T* params, T theta, T* f, T* df) {
  const MixtureWeights<T> rho(params, c.components);
  T fs = T(0), dfs = T(0);
  for (int k = 0; k < c.components; ++k) {
    const C comp(params + c.components + k * C::kWidth, c.min_alpha);
    const T p = rho.prob(k);
    fs += p * comp.value(theta);
    dfs += p * comp.slope(theta);
  }
  *f = fs;
  *df = dfs;
}

// y = wrap(f(x) + φ) and log f'(x).
template <class C, class T>
SBI_HD void circle_mixture_forward(const CircleMixtureConfig<T>& c, T x, const T* params, T* y, T* ladj) {
  const T theta = wrap_angle(x);
  T f, df;
  circle_mixture_eval<C>(c, params, theta, &f, &df);
  *y = wrap_angle(f + params[circle_mixture_param_count<C>(c.components) - 1]);
  *ladj = vlog(df);
}

// x = f⁻¹(wrap(y − φ)) in [0, 2π) by safeguarded Newton, and log|dx/dy| = −log f'(x).
template <class C, class T>
SBI_HD void circle_mixture_inverse(const CircleMixtureConfig<T>& c, T y, const T* params, T* x, T* ladj) {
  const T two_pi = T(kTwoPi);
  const T target = wrap_angle(y - params[circle_mixture_param_count<C>(c.components) - 1]);
  const T tol = T(2) * machine_epsilon<T>() * two_pi;
  // Start from the ρ-weighted mean of the components' closed-form inverses (exact for K = 1).
  const MixtureWeights<T> rho(params, c.components);
  T theta = T(0);
  for (int k = 0; k < c.components; ++k)
    theta += rho.prob(k) * C(params + c.components + k * C::kWidth, c.min_alpha).inverse(target);
  if (!(theta > T(0) && theta < two_pi)) theta = target;
  T lo = T(0), hi = two_pi, f, df;
  for (int it = 0; it < 200; ++it) {
    circle_mixture_eval<C>(c, params, theta, &f, &df);
    const T r = f - target;
    if (r == T(0)) break;
    if (r > T(0)) hi = theta;
    else lo = theta;
    T next = theta - r / df;
    if (!(next > lo && next < hi)) next = T(0.5) * (lo + hi);
    const T step = next - theta;
    theta = next;
    if ((step < T(0) ? -step : step) <= tol || hi - lo <= tol) break;
  }
  theta = wrap_angle(theta);
  circle_mixture_eval<C>(c, params, theta, &f, &df);
  *x = theta;
  *ladj = -vlog(df);
}

// Backward of the forward pass: dL/dx and dL/dparams (overwritten) from g_y = dL/dy and
// g_l = dL/d log f'. With f = Σ ρ_k g_k: ∂L/∂ρ_k = g_y g_k + g_l g_k'/f', and Σ_k ρ_k ∂L/∂ρ_k =
// g_y f + g_l, the softmax's subtracted mean.
template <class C, class T>
SBI_HD void circle_mixture_backward(const CircleMixtureConfig<T>& c, T x, const T* params, T g_y, T g_l, T* g_x,
                                    T* g_params) {
  const int K = c.components;
  const T theta = wrap_angle(x);
  T f, df;
  circle_mixture_eval<C>(c, params, theta, &f, &df);
  const MixtureWeights<T> rho(params, K);
  const T mean = g_y * f + g_l;
  T d2f = T(0);
  for (int k = 0; k < K; ++k) {
    const C comp(params + K + k * C::kWidth, c.min_alpha);
    const T p = rho.prob(k);
    T dslope_dtheta, dvalue_du[C::kWidth], dslope_du[C::kWidth];
    comp.partials(theta, &dslope_dtheta, dvalue_du, dslope_du);
    d2f += p * dslope_dtheta;
    g_params[k] = p * (g_y * comp.value(theta) + g_l * comp.slope(theta) / df - mean);
    for (int j = 0; j < C::kWidth; ++j)
      g_params[K + k * C::kWidth + j] = p * (g_y * dvalue_du[j] + g_l * dslope_du[j] / df);
  }
  *g_x = g_y * df + g_l * d2f / df;
  g_params[circle_mixture_param_count<C>(K) - 1] = g_y;
}

// Circular rational-quadratic spline (header comment).
template <class T>
struct CircleSplineConfig {
  int bins;
  T min_bin_width, min_bin_height, min_derivative;
};

SBI_HD constexpr int circle_spline_param_count(int bins) { return 3 * bins + 1; }

template <class T>
SBI_HD SegmentSplineConfig<T> circle_segment(const CircleSplineConfig<T>& c) {
  return {c.bins, T(kPi), T(kPi), c.min_bin_width, c.min_bin_height, c.min_derivative, true};
}

template <class T>
SBI_HD void circle_spline_forward(const CircleSplineConfig<T>& c, T x, const T* params, T* y, T* ladj) {
  T f;
  segment_spline_forward(circle_segment(c), wrap_angle(x), params, &f, ladj);
  *y = wrap_angle(f + params[3 * c.bins]);
}

template <class T>
SBI_HD void circle_spline_inverse(const CircleSplineConfig<T>& c, T y, const T* params, T* x, T* ladj) {
  T theta;
  segment_spline_inverse(circle_segment(c), wrap_angle(y - params[3 * c.bins]), params, &theta, ladj);
  *x = wrap_angle(theta);
}

template <class T>
SBI_HD void circle_spline_backward(const CircleSplineConfig<T>& c, T x, const T* params, T g_y, T g_l, T* g_x,
                                   T* g_params) {
  segment_spline_backward(circle_segment(c), wrap_angle(x), params, g_y, g_l, g_x, g_params);
  g_params[3 * c.bins] = g_y;
}

}  // namespace sbi
