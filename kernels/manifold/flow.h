// Flows on the torus Tᴰ and the sphere S², their log-densities, and the gradients of the two
// training losses (reverse KL to an unnormalised target, maximum likelihood of samples) with
// respect to every parameter. Rezende et al., "Normalizing flows on tori and spheres", ICML 2020,
// arXiv:2002.02428, sections 3-4. Math and layouts: docs/manifold.md.
//
// A flow is a stack of layers acting on a state of `coords` coordinates per row; each coordinate
// is an angle in [0, 2π) or a height in [−1, 1]. Layer l transforms its active coordinates
// elementwise (circular RQ spline for angles, interval RQ spline for heights: circle.h,
// interval.h) with parameters that are either trained constants or the output of a tanh MLP
// (kernels/nn/mlp.h) of features of its conditioning coordinates (cos θ, sin θ per angle; z per
// height), which the layer leaves unchanged: so each layer is a diffeomorphism with a triangular
// Jacobian, log|det| = Σ_active log f'.
//   Torus Tᴰ: D angles; layer l updates the angles i with (i + l) even, conditioned on the others.
//   Sphere S² (recursive / cylindrical flow): state (z, φ), x = (√(1−z²) cos φ, √(1−z²) sin φ, z);
//   layer 0 an interval spline of z with constant parameters, layers 1..L circle splines of φ
//   conditioned on z. The map (z, φ) ↦ x preserves area (dA = dz dφ, Archimedes), so
//   log q(x) = log q(z, φ) and the uniform base density is 1/(4π).
// Base: uniform; row r of a draw on Philox stream s of `seed` takes counter blocks from r·coords
// on, so every row is independent of the chunking and of the thread count.
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

struct FlowLayer {
  bool interval;  // interval spline of heights; else circular spline of angles
  int n_active, active[kMaxCoords];
  int n_cond, cond[kMaxCoords];  // 0: the spline parameters are trained constants
  int mlp_layers;                // dense layers of the conditioner (hidden + output)
  int64_t sizes[kMaxMlpLayers + 1];
  int64_t param_offset, param_count;
};

struct FlowShape {
  Space space;
  int dim;     // D of Tᴰ, or 2 for S²
  int coords;  // state width: D angles, or (z, φ)
  bool is_angle[kMaxCoords];
  int n_layers;
  FlowLayer layers[kMaxFlowLayers];
  int bins;
  double min_bin_width, min_bin_height, min_derivative;
  int per_element;  // 3 bins + 1
  int64_t param_count;
};

// The ambient width of a sample: D angles, or x ∈ ℝ³.
SBI_HD int flow_output_width(const FlowShape& s) { return s.space == Space::Sphere ? 3 : s.dim; }

SBI_HD double flow_base_log_density(const FlowShape& s) {
  return s.space == Space::Sphere ? -std::log(2.0 * kTwoPi) : -s.dim * std::log(kTwoPi);
}

SBI_HD void finish_layer(FlowShape& s, FlowLayer& f, int hidden, int hidden_layers) {
  f.param_offset = s.param_count;
  if (f.n_cond > 0) {
    int features = 0;
    for (int k = 0; k < f.n_cond; ++k) features += s.is_angle[f.cond[k]] ? 2 : 1;
    f.mlp_layers = hidden_layers + 1;
    f.sizes[0] = features;
    for (int k = 1; k <= hidden_layers; ++k) f.sizes[k] = hidden;
    f.sizes[hidden_layers + 1] = int64_t{f.n_active} * s.per_element;
    f.param_count = nn::mlp_param_count(f.mlp_layers, f.sizes);
  } else {
    f.mlp_layers = 0;
    f.param_count = int64_t{f.n_active} * s.per_element;
  }
  s.param_count += f.param_count;
}

// Coupling flow on Tᴰ (2 ≤ D ≤ kMaxCoords, 1 ≤ layers ≤ kMaxFlowLayers, 1 ≤ hidden_layers < kMaxMlpLayers).
SBI_HD FlowShape make_torus_shape(int dim, int layers, int bins, int hidden, int hidden_layers) {
  FlowShape s{};
  s.space = Space::Torus;
  s.dim = s.coords = dim;
  for (int i = 0; i < dim; ++i) s.is_angle[i] = true;
  s.bins = bins;
  s.per_element = circle_spline_param_count(bins);
  s.n_layers = layers;
  for (int l = 0; l < layers; ++l) {
    FlowLayer& f = s.layers[l];
    f.interval = false;
    for (int i = 0; i < dim; ++i) {
      if ((i + l) % 2 == 0) f.active[f.n_active++] = i;
      else f.cond[f.n_cond++] = i;
    }
    finish_layer(s, f, hidden, hidden_layers);
  }
  return s;
}

// Recursive flow on S²: one interval layer of z, then `layers` circle layers of φ given z.
SBI_HD FlowShape make_sphere_shape(int layers, int bins, int hidden, int hidden_layers) {
  FlowShape s{};
  s.space = Space::Sphere;
  s.dim = 2;
  s.coords = 2;
  s.is_angle[0] = false;
  s.is_angle[1] = true;
  s.bins = bins;
  s.per_element = circle_spline_param_count(bins);  // = interval_spline_param_count(bins)
  s.n_layers = layers + 1;
  FlowLayer& z = s.layers[0];
  z.interval = true;
  z.n_active = 1;
  z.active[0] = 0;
  finish_layer(s, z, hidden, hidden_layers);
  for (int l = 1; l <= layers; ++l) {
    FlowLayer& f = s.layers[l];
    f.interval = false;
    f.n_active = 1;
    f.active[0] = 1;
    f.n_cond = 1;
    f.cond[0] = 0;
    finish_layer(s, f, hidden, hidden_layers);
  }
  return s;
}

// Initial parameters, close to the identity: dense layer k of layer l's MLP uniform on
// ±1/√fan_in from Philox stream l·16 + k of `seed`, the output layer scaled by 0.01; then the
// knot-derivative entries of the element parameters (constants, or the output bias) are set to
// u with m_d + softplus(u) = 1, so each spline starts as the identity (equal bins, unit slopes)
// up to the small MLP perturbation, and the flow as a near-uniform density.
template <class T>
SBI_HD void flow_init(const FlowShape& s, uint64_t seed, T* params) {
  const int K = s.bins;
  const double unit = std::log(std::expm1(1.0 - s.min_derivative));
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    T* p = params + f.param_offset;
    T* bias = p;  // the element parameters' offsets: constants, or the output layer's bias
    if (f.mlp_layers == 0) {
      for (int64_t i = 0; i < f.param_count; ++i) p[i] = T(0);
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
    const int derivatives = f.interval ? K + 1 : K;
    for (int j = 0; j < f.n_active; ++j)
      for (int i = 0; i < derivatives; ++i) bias[j * s.per_element + 2 * K + i] += T(unit);
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
SBI_HD void elem_forward(const FlowShape& s, bool interval, T x, const T* p, T* y, T* l) {
  if (interval)
    interval_spline_forward(IntervalSplineConfig<T>{s.bins, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)},
                            x, p, y, l);
  else
    circle_spline_forward(CircleSplineConfig<T>{s.bins, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)}, x,
                          p, y, l);
}

template <class T>
SBI_HD void elem_inverse(const FlowShape& s, bool interval, T y, const T* p, T* x, T* l) {
  if (interval)
    interval_spline_inverse(IntervalSplineConfig<T>{s.bins, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)},
                            y, p, x, l);
  else
    circle_spline_inverse(CircleSplineConfig<T>{s.bins, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)}, y,
                          p, x, l);
}

template <class T>
SBI_HD void elem_backward(const FlowShape& s, bool interval, T x, const T* p, T gy, T gl, T* gx, T* gp) {
  if (interval)
    interval_spline_backward(IntervalSplineConfig<T>{s.bins, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)},
                             x, p, gy, gl, gx, gp);
  else
    circle_spline_backward(CircleSplineConfig<T>{s.bins, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)}, x,
                           p, gy, gl, gx, gp);
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
  w.row_stride[l] = int64_t{f.n_active} * s.per_element;
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

// Base draws for rows [row0, row0 + R) of stream `stream`: uniform angles, heights uniform on [−1, 1].
template <class T>
SBI_HD void flow_base_draw(const FlowShape& s, uint64_t seed, uint64_t stream, int64_t row0, int64_t R, T* state) {
  for (int64_t r = 0; r < R; ++r) {
    PhiloxStream rng(seed, stream, uint64_t(row0 + r) * uint64_t(s.coords));
    for (int c = 0; c < s.coords; ++c) {
      const double u = rng.uniform();
      state[r * s.coords + c] = s.is_angle[c] ? T(kTwoPi * u) : T(2.0 * u - 1.0);
    }
  }
}

// Forward pass of R rows from w.states[0] (filled by the caller) to w.states[n_layers];
// w.ladj = Σ log|det| of the forward map.
template <class T>
SBI_HD void flow_forward(const FlowShape& s, const T* params, int64_t R, FlowWork<T>& w) {
  const int C = s.coords, P = s.per_element;
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
        elem_forward(s, f.interval, in[r * C + a], w.elem_params[l] + r * w.row_stride[l] + j * P, &out[r * C + a], &lj);
        w.ladj[r] += lj;
      }
  }
}

// Inverse pass from w.states[n_layers] (filled by the caller) down to w.states[0];
// w.ladj = Σ log|det| of the inverse map.
template <class T>
SBI_HD void flow_inverse(const FlowShape& s, const T* params, int64_t R, FlowWork<T>& w) {
  const int C = s.coords, P = s.per_element;
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
        elem_inverse(s, f.interval, in[r * C + a], w.elem_params[l] + r * w.row_stride[l] + j * P, &out[r * C + a], &lj);
        w.ladj[r] += lj;
      }
  }
}

// State (angles, or (z, φ)) to the ambient point: the angles, or x ∈ S² ⊂ ℝ³.
template <class T>
SBI_HD void flow_state_to_point(const FlowShape& s, const T* state, T* x) {
  if (s.space == Space::Torus) {
    for (int d = 0; d < s.dim; ++d) x[d] = state[d];
    return;
  }
  const T z = state[0], phi = state[1];
  const T rho = std::sqrt(T(1) - z * z > T(0) ? T(1) - z * z : T(0));
  x[0] = rho * std::cos(phi);
  x[1] = rho * std::sin(phi);
  x[2] = z;
}

// Ambient point to state; x on S² is normalised first (a CSV round trip loses the last bits).
template <class T>
SBI_HD void flow_point_to_state(const FlowShape& s, const T* x, T* state) {
  if (s.space == Space::Torus) {
    for (int d = 0; d < s.dim; ++d) state[d] = wrap_angle(x[d]);
    return;
  }
  const T n = std::sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
  T z = x[2] / n;
  z = z > T(1) ? T(1) : (z < T(-1) ? T(-1) : z);
  state[0] = z;
  state[1] = wrap_angle(std::atan2(x[1], x[0]));
}

// Gradient with respect to the state of a function of the ambient point, from its gradient gx.
template <class T>
SBI_HD void flow_point_grad_to_state(const FlowShape& s, const T* state, const T* gx, T* gs) {
  if (s.space == Space::Torus) {
    for (int d = 0; d < s.dim; ++d) gs[d] = gx[d];
    return;
  }
  const T z = state[0], phi = state[1];
  const T rho2 = T(1) - z * z;
  const T rho = std::sqrt(rho2 > T(0) ? rho2 : T(0));
  const T c = std::cos(phi), sn = std::sin(phi);
  // ∂x/∂z = (−z/ρ cos φ, −z/ρ sin φ, 1); at the poles (ρ = 0, measure zero) the radial term is dropped.
  const T radial = rho > T(0) ? -z / rho * (gx[0] * c + gx[1] * sn) : T(0);
  gs[0] = radial + gx[2];
  gs[1] = rho * (-gx[0] * sn + gx[1] * c);
}

// Reverse KL of R rows drawn on stream `stream` (rows row0..): L = scale Σ_r (log q − log p̃).
// Writes grad (overwritten) and per row log q and log p̃ (either may be null); returns L.
template <class T>
SBI_HD T flow_reverse_kl_chunk(const FlowShape& s, TargetKind target, const T* params, uint64_t seed, uint64_t stream,
                               int64_t row0, int64_t R, T scale, T* grad, FlowWork<T>& w, T* logq, T* logp) {
  const int C = s.coords, P = s.per_element;
  flow_base_draw(s, seed, stream, row0, R, w.states);
  flow_forward(s, params, R, w);
  const T base = T(flow_base_log_density(s));
  const T* fin = w.states + s.n_layers * R * C;
  T loss = T(0);
  for (int64_t r = 0; r < R; ++r) {
    T x[kMaxCoords + 1] = {}, gx[kMaxCoords + 1] = {};
    flow_state_to_point(s, fin + r * C, x);
    const T lp = target_log_density(target, x, gx);
    const T lq = base - w.ladj[r];
    if (logq) logq[r] = lq;
    if (logp) logp[r] = lp;
    loss += scale * (lq - lp);
    for (int d = 0; d < flow_output_width(s); ++d) gx[d] *= -scale;
    flow_point_grad_to_state(s, fin + r * C, gx, w.g + r * C);
  }
  if (!grad) return loss;
  for (int l = s.n_layers - 1; l >= 0; --l) {
    const FlowLayer& f = s.layers[l];
    const T* in = w.states + l * R * C;
    // Each layer keeps its own MLP buffers, so elem_params[l] from the forward pass is still valid.
    const int64_t stride = f.mlp_layers == 0 ? f.param_count : w.row_stride[l];
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < f.n_active; ++j) {
        const int a = f.active[j];
        T gxa;
        elem_backward(s, f.interval, in[r * C + a], w.elem_params[l] + r * w.row_stride[l] + j * P, w.g[r * C + a], -scale,
                      &gxa, w.dparams + r * stride + j * P);
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
  const int C = s.coords, P = s.per_element, W = flow_output_width(s);
  T* fin = w.states + s.n_layers * R * C;
  for (int64_t r = 0; r < R; ++r) flow_point_to_state(s, x + r * W, fin + r * C);
  flow_inverse(s, params, R, w);
  const T base = T(flow_base_log_density(s));
  T loss = T(0);
  for (int64_t r = 0; r < R; ++r) {
    const T lq = base + w.ladj[r];
    if (logq) logq[r] = lq;
    loss -= scale * lq;
  }
  if (!grad) return loss;
  // The base density is uniform: no gradient reaches the base point. Walk up from layer 0; at
  // layer l the inverse produced x_l = f⁻¹(y) with log|dx/dy| = −ℓ(x_l), ℓ = log f'. For
  // L(x_l, −ℓ): dL/dy = c = (g_x + scale ∂ℓ/∂x)/f', and the parameters' gradient is the forward
  // backward with g_y = −c, g_ℓ = scale (docs/manifold.md).
  for (int64_t i = 0; i < R * C; ++i) w.g[i] = T(0);
  for (int l = 0; l < s.n_layers; ++l) {
    const FlowLayer& f = s.layers[l];
    const T* xs = w.states + l * R * C;
    const T* ys = w.states + (l + 1) * R * C;
    const int64_t stride = f.mlp_layers == 0 ? f.param_count : w.row_stride[l];
    for (int64_t r = 0; r < R; ++r)
      for (int j = 0; j < f.n_active; ++j) {
        const int a = f.active[j];
        const T* p = w.elem_params[l] + r * w.row_stride[l] + j * P;
        const T xa = xs[r * C + a];
        T y, ell, dell_dx, unused;
        elem_forward(s, f.interval, xa, p, &y, &ell);
        elem_backward(s, f.interval, xa, p, T(0), T(1), &dell_dx, w.tmp);
        const T c = (w.g[r * C + a] + scale * dell_dx) / std::exp(ell);
        elem_backward(s, f.interval, xa, p, -c, scale, &unused, w.dparams + r * stride + j * P);
        w.g[r * C + a] = c;
      }
    layer_conditioner_backward(s, l, params, R, ys, w, grad);
  }
  return loss;
}

}  // namespace manifold
}  // namespace sbi
