// Flows on the torus Tᴰ and the spheres Sᴰ, their log-densities, and the gradients of the two
// training losses (reverse KL to an unnormalised target, maximum likelihood of samples) with
// respect to every parameter. Rezende et al., "Normalizing flows on tori and spheres", ICML 2020,
// arXiv:2002.02428, sections 3-4. Math and layouts: docs/manifold.md.
//
// A flow is a stack of layers acting on a state of `coords` coordinates per row; each coordinate
// is an angle in [0, 2π) or a height in [−1, 1]. Layer l transforms its active coordinates
// elementwise (for angles a circular RQ spline, a Möbius mixture or an NCP mixture, the flow's
// `circle_kind`; for heights an interval RQ spline: circle.h, interval.h) with parameters that
// are either trained constants or the output of a tanh MLP
// (kernels/nn/mlp.h) of features of its conditioning coordinates (cos θ, sin θ per angle; z per
// height), which the layer leaves unchanged: so each layer is a diffeomorphism with a triangular
// Jacobian, log|det| = Σ_active log f'.
//   Torus Tᴰ, coupling: D angles; layer l updates the angles i with (i + l) even, conditioned on
//   the others. Autoregressive: block b is D single-angle layers, the j-th updating angle o_j
//   conditioned on o_0..o_{j−1} (o = 0..D−1, reversed in odd blocks; o_0 has constants).
//   Sphere Sᴰ (recursive / cylindrical flow, section 4): state (z_D, z_{D−1}, .., z_2, φ) with
//   x ∈ ℝ^{D+1} written as x = (√(1−z_D²) x′, z_D), x′ ∈ S^{D−1} recursively, down to
//   x″ = (cos φ, sin φ) on S¹. One interval spline per height, z_k conditioned on the heights
//   above it (z_D: constants), then L circle layers of φ conditioned on all heights. The area
//   element is dA_D = (1−z_D²)^{(D−2)/2} dz_D dA_{D−1}, so with A(c) = Π_{k≥3} (1−z_k²)^{(k−2)/2}
//   log q(x) = log q(c) − log A(c). On S² A = 1 (Archimedes).
// Base: uniform on the manifold. Row r of a draw on Philox stream s of `seed` takes counter
// blocks from r·coords on, so every row is independent of the chunking and of the thread count:
// angles uniform, on S² z uniform on [−1, 1]; on Sᴰ, D ≥ 3, the coordinates of a normalised
// standard normal vector in ℝ^{D+1} (⌈(D+1)/2⌉ ≤ D blocks), whose coordinate density is
// A(c)/|Sᴰ|, so log q(x) = −log|Sᴰ| + log A(c₀) − log A(c) − Σ log|det J_l|.
//
// Chunk functions take caller-owned memory (FlowWork, sized by flow_work_size) and write the
// chunk's gradient (overwritten, summed over the chunk in a fixed order); callers sum chunks in
// order. Templated on the scalar (double in training; the finite-difference tests use it too).
#pragma once
#include <cmath>
#include <cstdint>

#include "../common/portable.h"
#include "../nn/mlp.h"
#include "../random/philox.h"
#include "../random/samplers.h"
#include "circle.h"
#include "interval.h"
#include "targets.h"

namespace sbi {
namespace manifold {

constexpr int kMaxCoords = 16;
constexpr int kMaxFlowLayers = 64;
constexpr int kMaxMlpLayers = 8;
constexpr nn::Activation kFlowActivation = nn::Activation::Tanh;

enum class Space : int { Torus = 0, Sphere = 1 };
// The elementwise transform of the angle layers (circle.h); heights always use the interval spline.
enum class CircleKind : int { Spline = 0, Moebius = 1, Ncp = 2 };

struct FlowLayer {
  bool interval;     // interval spline of heights; else the flow's circle transform of angles
  int per_element;   // parameters per active coordinate
  int n_active, active[kMaxCoords];
  int n_cond, cond[kMaxCoords];  // 0: the element parameters are trained constants
  int mlp_layers;                // dense layers of the conditioner (hidden + output)
  int64_t sizes[kMaxMlpLayers + 1];
  int64_t param_offset, param_count;
};

// Hyperparameters of the elementwise transforms.
struct ElementConfig {
  int bins;                                             // splines
  CircleKind circle_kind;
  int components;                                       // Möbius / NCP mixtures
  double min_bin_width, min_bin_height, min_derivative;  // splines
  double min_alpha;                                     // NCP
};

struct FlowShape {
  Space space;
  int dim;     // D of Tᴰ or Sᴰ
  int coords;  // state width: D angles, or (z_D, .., z_2, φ)
  bool is_angle[kMaxCoords];
  int n_layers;
  FlowLayer layers[kMaxFlowLayers];
  ElementConfig elem;
  int per_element;  // the largest layer's per_element (work buffers)
  int64_t param_count;
};

// The ambient width of a sample: D angles, or x ∈ ℝ^{D+1}.
SBI_HD int flow_output_width(const FlowShape& s) { return s.space == Space::Sphere ? s.dim + 1 : s.dim; }

// |Sᴰ| = 2π^{(D+1)/2} / Γ((D+1)/2), by |S⁰| = 2, |S¹| = 2π, |Sᴰ| = 2π |S^{D−2}| / (D − 1).
SBI_HD double sphere_area(int d) {
  double a = d % 2 == 0 ? 2.0 : kTwoPi;
  for (int k = d % 2 == 0 ? 2 : 3; k <= d; k += 2) a *= kTwoPi / (k - 1);
  return a;
}

SBI_HD double flow_base_log_density(const FlowShape& s) {
  return s.space == Space::Sphere ? -std::log(sphere_area(s.dim)) : -s.dim * std::log(kTwoPi);
}

// Parameters per element of the angle layers.
SBI_HD int circle_param_count(const ElementConfig& e) {
  switch (e.circle_kind) {
    case CircleKind::Moebius: return circle_mixture_param_count<MoebiusComponent<double>>(e.components);
    case CircleKind::Ncp: return circle_mixture_param_count<NcpComponent<double>>(e.components);
    default: return circle_spline_param_count(e.bins);
  }
}

SBI_HD FlowShape flow_shape_begin(Space space, int dim, const ElementConfig& elem) {
  FlowShape s{};
  s.space = space;
  s.dim = s.coords = dim;
  s.elem = elem;
  return s;
}

SBI_HD void finish_layer(FlowShape& s, FlowLayer& f, int hidden, int hidden_layers) {
  f.per_element = f.interval ? interval_spline_param_count(s.elem.bins) : circle_param_count(s.elem);
  s.per_element = f.per_element > s.per_element ? f.per_element : s.per_element;
  f.param_offset = s.param_count;
  if (f.n_cond > 0) {
    int features = 0;
    for (int k = 0; k < f.n_cond; ++k) features += s.is_angle[f.cond[k]] ? 2 : 1;
    f.mlp_layers = hidden_layers + 1;
    f.sizes[0] = features;
    for (int k = 1; k <= hidden_layers; ++k) f.sizes[k] = hidden;
    f.sizes[hidden_layers + 1] = int64_t{f.n_active} * f.per_element;
    f.param_count = nn::mlp_param_count(f.mlp_layers, f.sizes);
  } else {
    f.mlp_layers = 0;
    f.param_count = int64_t{f.n_active} * f.per_element;
  }
  s.param_count += f.param_count;
}

// Flow on Tᴰ (2 ≤ D ≤ kMaxCoords, 1 ≤ hidden_layers < kMaxMlpLayers): `layers` coupling layers
// (≤ kMaxFlowLayers), or `layers` autoregressive blocks of D layers each (layers · D ≤ kMaxFlowLayers).
SBI_HD FlowShape make_torus_shape(int dim, int layers, bool autoregressive, const ElementConfig& elem, int hidden,
                                  int hidden_layers) {
  FlowShape s = flow_shape_begin(Space::Torus, dim, elem);
  for (int i = 0; i < dim; ++i) s.is_angle[i] = true;
  s.n_layers = autoregressive ? layers * dim : layers;
  for (int l = 0; l < s.n_layers; ++l) {
    FlowLayer& f = s.layers[l];
    f.interval = false;
    if (autoregressive) {
      const int block = l / dim, j = l % dim;
      const auto order = [&](int k) { return block % 2 == 0 ? k : dim - 1 - k; };
      f.active[f.n_active++] = order(j);
      for (int k = 0; k < j; ++k) f.cond[f.n_cond++] = order(k);
    } else {
      for (int i = 0; i < dim; ++i) {
        if ((i + l) % 2 == 0) f.active[f.n_active++] = i;
        else f.cond[f.n_cond++] = i;
      }
    }
    finish_layer(s, f, hidden, hidden_layers);
  }
  return s;
}

// Recursive flow on Sᴰ (2 ≤ D ≤ kMaxCoords, D − 1 + layers ≤ kMaxFlowLayers): one interval layer
// per height (state index i = D − k holds z_k; z_D has constants, z_k is conditioned on the
// heights above it), then `layers` circle layers of φ (state index D − 1) given all heights.
SBI_HD FlowShape make_sphere_shape(int dim, int layers, const ElementConfig& elem, int hidden, int hidden_layers) {
  FlowShape s = flow_shape_begin(Space::Sphere, dim, elem);
  for (int i = 0; i < dim; ++i) s.is_angle[i] = i == dim - 1;
  s.n_layers = dim - 1 + layers;
  for (int l = 0; l < s.n_layers; ++l) {
    FlowLayer& f = s.layers[l];
    f.interval = l < dim - 1;
    f.n_active = 1;
    f.active[0] = f.interval ? l : dim - 1;
    const int n_cond = f.interval ? l : dim - 1;
    for (int k = 0; k < n_cond; ++k) f.cond[f.n_cond++] = k;
    finish_layer(s, f, hidden, hidden_layers);
  }
  return s;
}

// Initial parameters, close to the identity: dense layer k of layer l's MLP uniform on
// ±1/√fan_in from Philox stream l·16 + k of `seed`, the output layer scaled by 0.01; then the
// element parameters (constants, or the output bias) are shifted so each transform starts as the
// identity up to the small MLP perturbation, and the flow as a near-uniform density: spline knot
// derivatives u with m_d + softplus(u) = 1 (equal bins, unit slopes), NCP α logits with
// m_α + softplus(a) = 1; Möbius parameters u = 0 (ω = 0) already are. Constant mixture
// parameters start uniform on ±0.01 (Philox stream l·16), so their components are not identical
// (identical components would receive identical gradients forever).
template <class T>
SBI_HD void flow_init(const FlowShape& s, uint64_t seed, T* params) {
  const ElementConfig& e = s.elem;
  const int K = e.bins;
  const double unit_derivative = std::log(std::expm1(1.0 - e.min_derivative));
  const double unit_alpha = std::log(std::expm1(1.0 - e.min_alpha));
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    const bool spline = f.interval || e.circle_kind == CircleKind::Spline;
    T* p = params + f.param_offset;
    T* bias = p;  // the element parameters' offsets: constants, or the output layer's bias
    if (f.mlp_layers == 0) {
      PhiloxStream rng(seed, uint64_t(l) * 16);
      for (int64_t i = 0; i < f.param_count; ++i) p[i] = spline ? T(0) : T(0.02 * rng.uniform() - 0.01);
    } else {
      for (int k = 0; k < f.mlp_layers; ++k) {
        PhiloxStream rng(seed, uint64_t(l) * 16 + uint64_t(k));
        const double bound = (k + 1 == f.mlp_layers ? 0.01 : 1.0) / std::sqrt(double(f.sizes[k]));
        const int64_t m = f.sizes[k + 1] * (f.sizes[k] + 1);
        for (int64_t i = 0; i < m; ++i) p[i] = T((2.0 * rng.uniform() - 1.0) * bound);
        bias = p + f.sizes[k + 1] * f.sizes[k];
        p += m;
      }
    }
    for (int j = 0; j < f.n_active; ++j) {
      T* b = bias + j * f.per_element;
      if (spline) {
        const int derivatives = f.interval ? K + 1 : K;
        for (int i = 0; i < derivatives; ++i) b[2 * K + i] += T(unit_derivative);
      } else if (e.circle_kind == CircleKind::Ncp) {
        for (int i = 0; i < e.components; ++i) b[e.components + i] += T(unit_alpha);
      }
    }
  }
}

// Per-chunk buffers for R rows.
template <class T>
struct FlowWork {
  T* states;  // (n_layers + 1) · R · coords; states[l] is layer l's base-side input
  T* feat[kMaxFlowLayers];
  T* saved[kMaxFlowLayers];
  const T* elem_params[kMaxFlowLayers];  // MLP output, or the constants
  int64_t row_stride[kMaxFlowLayers];    // 0 for constants
  T* scratch;                            // mlp backward
  T* dparams;                            // R · kMaxCoords · per_element
  T* dfeat;                              // R · 2 kMaxCoords
  T* g;                                  // R · coords
  T* ladj;                               // R
  T* tmp;                                // per_element
};

SBI_HD int64_t flow_work_size(const FlowShape& s, int64_t R) {
  int64_t n = (s.n_layers + 1) * R * s.coords;
  int64_t scratch = 0;
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    if (f.mlp_layers == 0) continue;
    n += R * f.sizes[0] + nn::mlp_saved_size(kFlowActivation, f.mlp_layers, f.sizes, R);
    const int64_t sc = nn::mlp_scratch_size(f.mlp_layers, f.sizes, R);
    scratch = sc > scratch ? sc : scratch;
  }
  return n + scratch + R * kMaxCoords * s.per_element + R * 2 * kMaxCoords + R * s.coords + R + s.per_element;
}

template <class T>
SBI_HD FlowWork<T> flow_work_bind(const FlowShape& s, int64_t R, T* mem) {
  FlowWork<T> w{};
  w.states = mem;
  mem += (s.n_layers + 1) * R * s.coords;
  int64_t scratch = 0;
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    if (f.mlp_layers == 0) continue;
    w.feat[l] = mem;
    mem += R * f.sizes[0];
    w.saved[l] = mem;
    mem += nn::mlp_saved_size(kFlowActivation, f.mlp_layers, f.sizes, R);
    const int64_t sc = nn::mlp_scratch_size(f.mlp_layers, f.sizes, R);
    scratch = sc > scratch ? sc : scratch;
  }
  w.scratch = mem;
  mem += scratch;
  w.dparams = mem;
  mem += R * kMaxCoords * s.per_element;
  w.dfeat = mem;
  mem += R * 2 * kMaxCoords;
  w.g = mem;
  mem += R * s.coords;
  w.ladj = mem;
  mem += R;
  w.tmp = mem;
  return w;
}

template <class T>
SBI_HD IntervalSplineConfig<T> interval_config(const ElementConfig& e) {
  return {e.bins, T(e.min_bin_width), T(e.min_bin_height), T(e.min_derivative)};
}

template <class T>
SBI_HD CircleSplineConfig<T> circle_spline_config(const ElementConfig& e) {
  return {e.bins, T(e.min_bin_width), T(e.min_bin_height), T(e.min_derivative)};
}

template <class T>
SBI_HD CircleMixtureConfig<T> circle_mixture_config(const ElementConfig& e) {
  return {e.components, T(e.min_alpha)};
}

// One element of a layer: y and log|dy/dx| (forward), x and log|dx/dy| (inverse), and the
// backward of the forward map (dL/dx and dL/dparams from g_y = dL/dy, g_l = dL/d log|dy/dx|).
template <class T>
SBI_HD void elem_forward(const ElementConfig& e, bool interval, T x, const T* p, T* y, T* l) {
  if (interval) interval_spline_forward(interval_config<T>(e), x, p, y, l);
  else if (e.circle_kind == CircleKind::Moebius) circle_mixture_forward<MoebiusComponent<T>>(circle_mixture_config<T>(e), x, p, y, l);
  else if (e.circle_kind == CircleKind::Ncp) circle_mixture_forward<NcpComponent<T>>(circle_mixture_config<T>(e), x, p, y, l);
  else circle_spline_forward(circle_spline_config<T>(e), x, p, y, l);
}

template <class T>
SBI_HD void elem_inverse(const ElementConfig& e, bool interval, T y, const T* p, T* x, T* l) {
  if (interval) interval_spline_inverse(interval_config<T>(e), y, p, x, l);
  else if (e.circle_kind == CircleKind::Moebius) circle_mixture_inverse<MoebiusComponent<T>>(circle_mixture_config<T>(e), y, p, x, l);
  else if (e.circle_kind == CircleKind::Ncp) circle_mixture_inverse<NcpComponent<T>>(circle_mixture_config<T>(e), y, p, x, l);
  else circle_spline_inverse(circle_spline_config<T>(e), y, p, x, l);
}

template <class T>
SBI_HD void elem_backward(const ElementConfig& e, bool interval, T x, const T* p, T gy, T gl, T* gx, T* gp) {
  if (interval) interval_spline_backward(interval_config<T>(e), x, p, gy, gl, gx, gp);
  else if (e.circle_kind == CircleKind::Moebius)
    circle_mixture_backward<MoebiusComponent<T>>(circle_mixture_config<T>(e), x, p, gy, gl, gx, gp);
  else if (e.circle_kind == CircleKind::Ncp)
    circle_mixture_backward<NcpComponent<T>>(circle_mixture_config<T>(e), x, p, gy, gl, gx, gp);
  else circle_spline_backward(circle_spline_config<T>(e), x, p, gy, gl, gx, gp);
}

// Layer l's element parameters for the R rows of `state` (the conditioning coordinates are the
// same on both sides of the layer): MLP features and forward, or the constants.
template <class T>
SBI_HD void layer_conditioner(const FlowShape& s, int l, const T* params, int64_t R, const T* state, FlowWork<T>& w) {
  const FlowLayer& f = s.layers[l];
  if (f.mlp_layers == 0) {
    w.elem_params[l] = params + f.param_offset;
    w.row_stride[l] = 0;
    return;
  }
  T* feat = w.feat[l];
  for (int64_t r = 0; r < R; ++r) {
    int j = 0;
    for (int k = 0; k < f.n_cond; ++k) {
      const T v = state[r * s.coords + f.cond[k]];
      if (s.is_angle[f.cond[k]]) {
        feat[r * f.sizes[0] + j++] = std::cos(v);
        feat[r * f.sizes[0] + j++] = std::sin(v);
      } else {
        feat[r * f.sizes[0] + j++] = v;
      }
    }
  }
  w.elem_params[l] = nn::mlp_forward(kFlowActivation, f.mlp_layers, f.sizes, R, feat, params + f.param_offset, w.saved[l]);
  w.row_stride[l] = int64_t{f.n_active} * f.per_element;
}

// Gradient of the layer's parameters from w.dparams (dL/d element params), and the conditioning
// coordinates' share added to g (the state gradient on the base side).
template <class T>
SBI_HD void layer_conditioner_backward(const FlowShape& s, int l, const T* params, int64_t R, const T* state,
                                       FlowWork<T>& w, T* grad) {
  const FlowLayer& f = s.layers[l];
  if (f.mlp_layers == 0) {
    for (int64_t i = 0; i < f.param_count; ++i) grad[f.param_offset + i] = T(0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < f.param_count; ++i) grad[f.param_offset + i] += w.dparams[r * f.param_count + i];
    return;
  }
  nn::mlp_backward(kFlowActivation, f.mlp_layers, f.sizes, R, w.feat[l], params + f.param_offset, w.saved[l], w.dparams,
                   grad + f.param_offset, w.scratch, w.dfeat);
  for (int64_t r = 0; r < R; ++r) {
    int j = 0;
    for (int k = 0; k < f.n_cond; ++k) {
      const int c = f.cond[k];
      const T* df = w.dfeat + r * f.sizes[0];
      if (s.is_angle[c]) {
        const T v = state[r * s.coords + c];
        w.g[r * s.coords + c] += -std::sin(v) * df[j] + std::cos(v) * df[j + 1];
        j += 2;
      } else {
        w.g[r * s.coords + c] += df[j++];
      }
    }
  }
}

// Ambient point to state; x on Sᴰ is normalised on the way (a CSV round trip loses the last
// bits): z_k = x_k / |(x_0..x_k)| (0 where that norm is 0, a measure-zero set), φ = atan2(x_1, x_0).
template <class T>
SBI_HD void flow_point_to_state(const FlowShape& s, const T* x, T* state) {
  if (s.space == Space::Torus) {
    for (int d = 0; d < s.dim; ++d) state[d] = wrap_angle(x[d]);
    return;
  }
  T n2 = x[0] * x[0] + x[1] * x[1];
  for (int k = 2; k <= s.dim; ++k) {
    n2 += x[k] * x[k];
    T z = n2 > T(0) ? x[k] / std::sqrt(n2) : T(0);
    z = z > T(1) ? T(1) : (z < T(-1) ? T(-1) : z);
    state[s.dim - k] = z;
  }
  state[s.dim - 1] = wrap_angle(std::atan2(x[1], x[0]));
}

// Base draws for rows [row0, row0 + R) of stream `stream` (header comment): uniform angles;
// on S² heights uniform on [−1, 1]; on Sᴰ, D ≥ 3, the state of a normalised normal vector.
template <class T>
SBI_HD void flow_base_draw(const FlowShape& s, uint64_t seed, uint64_t stream, int64_t row0, int64_t R, T* state) {
  for (int64_t r = 0; r < R; ++r) {
    PhiloxStream rng(seed, stream, uint64_t(row0 + r) * uint64_t(s.coords));
    if (s.space == Space::Sphere && s.dim >= 3) {
      T g[kMaxCoords + 1];
      for (int i = 0; i <= s.dim; ++i) g[i] = T(sample_std_normal(rng));
      flow_point_to_state(s, g, state + r * s.coords);
      continue;
    }
    for (int c = 0; c < s.coords; ++c) {
      const double u = rng.uniform();
      state[r * s.coords + c] = s.is_angle[c] ? T(kTwoPi * u) : T(2.0 * u - 1.0);
    }
  }
}

// log A(c) = Σ_{k=3..D} ((k−2)/2) log(1 − z_k²) of a state on Sᴰ (0 on S² and on tori), and its
// gradient added to g (may be null) times `scale`. 1 − z² is floored at 1e-30: at a pole (measure
// zero) both A(c₀) and A(c) vanish and their ratio is taken as 1.
template <class T>
SBI_HD T sphere_log_area_factor(const FlowShape& s, const T* state, T scale, T* g) {
  if (s.space != Space::Sphere) return T(0);
  T total = T(0);
  for (int k = 3; k <= s.dim; ++k) {
    const T z = state[s.dim - k], m = T(0.5) * T(k - 2);
    T one_m_z2 = T(1) - z * z;
    one_m_z2 = one_m_z2 > T(1e-30) ? one_m_z2 : T(1e-30);
    total += m * std::log(one_m_z2);
    if (g) g[s.dim - k] += scale * T(-2) * m * z / one_m_z2;
  }
  return total;
}

// Forward pass of R rows from w.states[0] (filled by the caller) to w.states[n_layers];
// w.ladj = Σ log|det| of the forward map.
template <class T>
SBI_HD void flow_forward(const FlowShape& s, const T* params, int64_t R, FlowWork<T>& w) {
  const int C = s.coords;
  for (int64_t r = 0; r < R; ++r) w.ladj[r] = T(0);
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    const T* in = w.states + l * R * C;
    T* out = w.states + (l + 1) * R * C;
    for (int64_t i = 0; i < R * C; ++i) out[i] = in[i];
    layer_conditioner(s, l, params, R, in, w);
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < f.n_active; ++j) {
        const int a = f.active[j];
        T lj;
        elem_forward(s.elem, f.interval, in[r * C + a], w.elem_params[l] + r * w.row_stride[l] + j * f.per_element,
                     &out[r * C + a], &lj);
        w.ladj[r] += lj;
      }
  }
}

// Inverse pass from w.states[n_layers] (filled by the caller) down to w.states[0];
// w.ladj = Σ log|det| of the inverse map.
template <class T>
SBI_HD void flow_inverse(const FlowShape& s, const T* params, int64_t R, FlowWork<T>& w) {
  const int C = s.coords;
  for (int64_t r = 0; r < R; ++r) w.ladj[r] = T(0);
  for (int l = s.n_layers - 1; l >= 0; --l) {
    const FlowLayer& f = s.layers[l];
    const T* in = w.states + (l + 1) * R * C;
    T* out = w.states + l * R * C;
    for (int64_t i = 0; i < R * C; ++i) out[i] = in[i];
    layer_conditioner(s, l, params, R, in, w);
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < f.n_active; ++j) {
        const int a = f.active[j];
        T lj;
        elem_inverse(s.elem, f.interval, in[r * C + a], w.elem_params[l] + r * w.row_stride[l] + j * f.per_element,
                     &out[r * C + a], &lj);
        w.ladj[r] += lj;
      }
  }
}

// log q of a row from its base state, its final state and the inverse map's log|det| (ladj_inv).
template <class T>
SBI_HD T flow_log_density(const FlowShape& s, const T* base_state, const T* final_state, T ladj_inv) {
  return T(flow_base_log_density(s)) + sphere_log_area_factor(s, base_state, T(0), static_cast<T*>(nullptr)) -
         sphere_log_area_factor(s, final_state, T(0), static_cast<T*>(nullptr)) + ladj_inv;
}

// State to the ambient point: the angles, or x ∈ Sᴰ ⊂ ℝ^{D+1}: x_k = P_{k+1} z_k for k ≥ 2,
// (x_0, x_1) = P_2 (cos φ, sin φ), with P_k = Π_{j≥k} √(1 − z_j²).
template <class T>
SBI_HD void flow_state_to_point(const FlowShape& s, const T* state, T* x) {
  if (s.space == Space::Torus) {
    for (int d = 0; d < s.dim; ++d) x[d] = state[d];
    return;
  }
  T prod = T(1);
  for (int k = s.dim; k >= 2; --k) {
    const T z = state[s.dim - k];
    x[k] = prod * z;
    prod *= std::sqrt(T(1) - z * z > T(0) ? T(1) - z * z : T(0));
  }
  const T phi = state[s.dim - 1];
  x[0] = prod * std::cos(phi);
  x[1] = prod * std::sin(phi);
}

// Gradient with respect to the state of a function of the ambient point x(state), from its
// gradient gx: ∂/∂z_k = P_{k+1} gx_k − z_k/(1 − z_k²) Σ_{i<k} x_i gx_i (x_i with i < k carries the
// factor √(1 − z_k²); the second term is dropped where 1 − z_k² = 0, a pole, measure zero), and
// ∂/∂φ = x_0 gx_1 − x_1 gx_0.
template <class T>
SBI_HD void flow_point_grad_to_state(const FlowShape& s, const T* state, const T* gx, T* gs) {
  if (s.space == Space::Torus) {
    for (int d = 0; d < s.dim; ++d) gs[d] = gx[d];
    return;
  }
  T x[kMaxCoords + 1];
  flow_state_to_point(s, state, x);
  T below = x[0] * gx[0] + x[1] * gx[1];  // Σ_{i<k} x_i gx_i
  T prod_above[kMaxCoords + 2];            // P_{k+1} for k = D..2
  prod_above[s.dim] = T(1);
  for (int k = s.dim; k >= 3; --k) {
    const T z = state[s.dim - k];
    prod_above[k - 1] = prod_above[k] * std::sqrt(T(1) - z * z > T(0) ? T(1) - z * z : T(0));
  }
  for (int k = 2; k <= s.dim; ++k) {
    const T z = state[s.dim - k], rho2 = T(1) - z * z;
    gs[s.dim - k] = prod_above[k] * gx[k] + (rho2 > T(0) ? -z / rho2 * below : T(0));
    below += x[k] * gx[k];
  }
  gs[s.dim - 1] = x[0] * gx[1] - x[1] * gx[0];
}

// Reverse KL of R rows drawn on stream `stream` (rows row0..): L = scale Σ_r (log q − log p̃).
// Writes grad (overwritten) and per row log q and log p̃ (either may be null); returns L.
// log p̃ and its gradient come from `target`, or, when given_logp is not null, from given_logp [R]
// and given_grad [R, output width] (values of a target evaluated elsewhere at these rows' points,
// e.g. a TypeScript function: draw the points with the same seed and stream first).
template <class T>
SBI_HD T flow_reverse_kl_chunk(const FlowShape& s, TargetKind target, const T* params, uint64_t seed, uint64_t stream,
                               int64_t row0, int64_t R, T scale, T* grad, FlowWork<T>& w, T* logq, T* logp,
                               const T* given_logp = nullptr, const T* given_grad = nullptr) {
  const int C = s.coords;
  flow_base_draw(s, seed, stream, row0, R, w.states);
  flow_forward(s, params, R, w);
  const T* fin = w.states + s.n_layers * R * C;
  T loss = T(0);
  for (int64_t r = 0; r < R; ++r) {
    T x[kMaxCoords + 1] = {}, gx[kMaxCoords + 1] = {};
    flow_state_to_point(s, fin + r * C, x);
    T lp;
    if (given_logp != nullptr) {
      lp = given_logp[r];
      for (int d = 0; d < flow_output_width(s); ++d) gx[d] = given_grad[r * flow_output_width(s) + d];
    } else {
      lp = target_log_density(target, x, gx);
    }
    const T lq = flow_log_density(s, w.states + r * C, fin + r * C, -w.ladj[r]);
    if (logq) logq[r] = lq;
    if (logp) logp[r] = lp;
    loss += scale * (lq - lp);
    for (int d = 0; d < flow_output_width(s); ++d) gx[d] *= -scale;
    flow_point_grad_to_state(s, fin + r * C, gx, w.g + r * C);
    sphere_log_area_factor(s, fin + r * C, -scale, w.g + r * C);  // log q has −log A(c)
  }
  if (!grad) return loss;
  for (int l = s.n_layers - 1; l >= 0; --l) {
    const FlowLayer& f = s.layers[l];
    const int P = f.per_element;
    const T* in = w.states + l * R * C;
    // Each layer keeps its own MLP buffers, so elem_params[l] from the forward pass is still valid.
    const int64_t stride = f.mlp_layers == 0 ? f.param_count : w.row_stride[l];
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < f.n_active; ++j) {
        const int a = f.active[j];
        T gxa;
        elem_backward(s.elem, f.interval, in[r * C + a], w.elem_params[l] + r * w.row_stride[l] + j * P, w.g[r * C + a],
                      -scale, &gxa, w.dparams + r * stride + j * P);
        w.g[r * C + a] = gxa;
      }
    layer_conditioner_backward(s, l, params, R, in, w, grad);
  }
  return loss;
}

// Maximum likelihood of R ambient points x [R, output width]: L = −scale Σ_r log q(x_r).
// Writes grad (overwritten; may be null) and log q per row (may be null); returns L.
template <class T>
SBI_HD T flow_nll_chunk(const FlowShape& s, const T* params, const T* x, int64_t R, T scale, T* grad, FlowWork<T>& w,
                        T* logq) {
  const int C = s.coords, W = flow_output_width(s);
  T* fin = w.states + s.n_layers * R * C;
  for (int64_t r = 0; r < R; ++r) flow_point_to_state(s, x + r * W, fin + r * C);
  flow_inverse(s, params, R, w);
  T loss = T(0);
  for (int64_t r = 0; r < R; ++r) {
    const T lq = flow_log_density(s, w.states + r * C, fin + r * C, w.ladj[r]);
    if (logq) logq[r] = lq;
    loss -= scale * lq;
  }
  if (!grad) return loss;
  // The base density in coordinates is A(c₀)/|Sᴰ| (constant on tori and S²): its gradient at the
  // base point starts the walk. Walk up from layer 0; at layer l the inverse produced
  // x_l = f⁻¹(y) with log|dx/dy| = −ℓ(x_l), ℓ = log f'. For L(x_l, −ℓ): dL/dy = c =
  // (g_x + scale ∂ℓ/∂x)/f', and the parameters' gradient is the forward backward with g_y = −c,
  // g_ℓ = scale (docs/manifold.md).
  for (int64_t i = 0; i < R * C; ++i) w.g[i] = T(0);
  for (int64_t r = 0; r < R; ++r) sphere_log_area_factor(s, w.states + r * C, -scale, w.g + r * C);
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    const int P = f.per_element;
    const T* xs = w.states + l * R * C;
    const T* ys = w.states + (l + 1) * R * C;
    const int64_t stride = f.mlp_layers == 0 ? f.param_count : w.row_stride[l];
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < f.n_active; ++j) {
        const int a = f.active[j];
        const T* p = w.elem_params[l] + r * w.row_stride[l] + j * P;
        const T xa = xs[r * C + a];
        T y, ell, dell_dx, unused;
        elem_forward(s.elem, f.interval, xa, p, &y, &ell);
        elem_backward(s.elem, f.interval, xa, p, T(0), T(1), &dell_dx, w.tmp);
        const T c = (w.g[r * C + a] + scale * dell_dx) / std::exp(ell);
        elem_backward(s.elem, f.interval, xa, p, -c, scale, &unused, w.dparams + r * stride + j * P);
        w.g[r * C + a] = c;
      }
    layer_conditioner_backward(s, l, params, R, ys, w, grad);
  }
  return loss;
}

}  // namespace manifold
}  // namespace sbi
