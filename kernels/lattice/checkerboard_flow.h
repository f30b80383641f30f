// Affine coupling flow on checkerboard masks for scalar fields on an L×L periodic lattice, the
// architecture of Albergo et al., "Introduction to normalizing flows for lattice field theory"
// (arXiv:2101.08176): prior z ~ N(0, 1) per site, then `layers` affine coupling layers; layer l
// freezes the sites with (x₀ + x₁ + l) odd (so consecutive layers alternate), feeds the frozen
// field m·x (active sites zeroed) as one channel to a small CNN of circular 3×3 convolutions
// (kernels/nn/conv_net_circular.h)
//   1 → H → … → H (depth hidden layers, LeakyReLU(0.01)) → 2 (tanh)
// whose two output channels are s and t at every site, and updates the active sites:
//   y = m·x + (1 − m)·(x·e^s + t),   log|det ∂y/∂x| = Σ_x (1 − m_x) s_x.
// Then log q(φ) = Σ_x log N(z_x; 0, 1) − Σ_l Σ_x (1 − m_x) s_x^(l).
//
// Parameters, one flat vector, layer after layer; within a layer the net's (conv after conv, each
// as weight [c_out, c_in, K, K] then bias [c_out]).
//
// One configuration at a time: `forward` records a tape (every layer's input and the nets'
// post-activation outputs; LeakyReLU's derivative needs only the sign, which its output keeps,
// and tanh's is 1 − out²) from which `backward` takes dL/dφ and dL/d log q to the parameter
// gradient (accumulated, so a batch sums into one vector) and, optionally, dL/dz.
// Batch helpers loop over [B, L·L] configurations in order.
#pragma once
#include "../common/portable.h"
#include "../nn/conv_net_circular.h"

namespace sbi {

struct CheckerboardFlowShape {
  int L;       // lattice extent, V = L·L sites
  int layers;  // coupling layers
  int hidden;  // channels of each hidden conv layer (8 in the tutorial)
  int depth;   // hidden conv layers per net (2 in the tutorial: hidden channels [8, 8])
  int K;       // odd kernel extent (3)
};

SBI_HD int cbf_sites(const CheckerboardFlowShape& s) { return s.L * s.L; }

// Each layer's net: 1 → H … H → 2 (s and t before tanh).
SBI_HD ConvNetShape cbf_net_shape(const CheckerboardFlowShape& s) { return ConvNetShape{s.L, 1, s.hidden, s.depth, 2, s.K}; }

SBI_HD int64_t cbf_layer_param_count(const CheckerboardFlowShape& s) { return conv_net_param_count(cbf_net_shape(s)); }

SBI_HD int64_t cbf_param_count(const CheckerboardFlowShape& s) { return s.layers * cbf_layer_param_count(s); }

// Whether site (x0, x1) is frozen (passed to the net unchanged) in layer l.
SBI_HD bool cbf_frozen(int layer, int x0, int x1) { return ((x0 + x1 + layer) & 1) == 1; }

// Values one layer keeps on the tape: its input [V], the hidden outputs [depth·H·V], s and t [2V].
SBI_HD int64_t cbf_layer_tape(const CheckerboardFlowShape& s) {
  const int64_t V = cbf_sites(s);
  return V + int64_t{s.depth} * s.hidden * V + 2 * V;
}
// Tape of one configuration: every layer's, then φ [V].
SBI_HD int64_t cbf_tape_size(const CheckerboardFlowShape& s) { return s.layers * cbf_layer_tape(s) + cbf_sites(s); }
// Scratch of one `backward` call (and of `inverse`, which needs less).
SBI_HD int64_t cbf_scratch_size(const CheckerboardFlowShape& s) {
  const int64_t V = cbf_sites(s);
  return 2 * int64_t{s.hidden} * V + 5 * V;
}

// The net of layer `layer` on input x (masked internally): s and t into `st` [2V] (after tanh);
// `in` [V] receives m·x. Hidden outputs go to `hid`: all kept ([depth·H·V], for the tape) or,
// without `keep`, two H·V planes used alternately.
template <class T>
SBI_HD void cbf_net_forward(const CheckerboardFlowShape& s, int layer, const T* params, const T* x, T* in, T* hid,
                            T* st, bool keep = true) {
  const int L = s.L, V = L * L;
  for (int x0 = 0; x0 < L; ++x0)
    for (int x1 = 0; x1 < L; ++x1) in[x0 * L + x1] = cbf_frozen(layer, x0, x1) ? x[x0 * L + x1] : T(0);
  conv_net_forward(cbf_net_shape(s), params, in, hid, st, keep);
  for (int i = 0; i < 2 * V; ++i) st[i] = std::tanh(st[i]);
}

// φ = f(z) for one configuration z [V]; the tape [cbf_tape_size] ends with φ. Returns log q(φ).
template <class T>
SBI_HD T checkerboard_flow_forward(const CheckerboardFlowShape& s, const T* params, const T* z, T* tape, T* in_scratch) {
  const int L = s.L, V = L * L;
  const int64_t lp = cbf_layer_param_count(s), lt = cbf_layer_tape(s);
  T log_q = T(0);
  for (int i = 0; i < V; ++i) log_q -= T(0.5) * z[i] * z[i] + T(kLogSqrtTwoPi);
  for (int i = 0; i < V; ++i) tape[i] = z[i];
  for (int l = 0; l < s.layers; ++l) {
    T* x = tape + l * lt;
    T* hid = x + V;
    T* st = hid + int64_t{s.depth} * s.hidden * V;
    T* y = x + lt;  // the next layer's input (or φ)
    cbf_net_forward(s, l, params + l * lp, x, in_scratch, hid, st);
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        const int i = x0 * L + x1;
        if (cbf_frozen(l, x0, x1)) {
          y[i] = x[i];
        } else {
          y[i] = x[i] * std::exp(st[i]) + st[V + i];
          log_q -= st[i];
        }
      }
  }
  return log_q;
}

// z = f⁻¹(φ) for one configuration; returns log q(φ). scratch [cbf_scratch_size].
template <class T>
SBI_HD T checkerboard_flow_inverse(const CheckerboardFlowShape& s, const T* params, const T* phi, T* z, T* scratch) {
  const int L = s.L, V = L * L;
  const int64_t lp = cbf_layer_param_count(s);
  T* in = scratch;
  T* st = scratch + V;
  T* hid = scratch + 3 * V;  // two H·V planes used alternately (the tape is not kept)
  for (int i = 0; i < V; ++i) z[i] = phi[i];
  T log_det = T(0);
  for (int l = s.layers - 1; l >= 0; --l) {
    // The net sees only frozen sites, which the layer leaves unchanged, so it is evaluated on its output.
    cbf_net_forward(s, l, params + l * lp, z, in, hid, st, false);
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        const int i = x0 * L + x1;
        if (!cbf_frozen(l, x0, x1)) {
          z[i] = (z[i] - st[V + i]) * std::exp(-st[i]);
          log_det += st[i];
        }
      }
  }
  T log_r = T(0);
  for (int i = 0; i < V; ++i) log_r -= T(0.5) * z[i] * z[i] + T(kLogSqrtTwoPi);
  return log_r - log_det;
}

// From the tape of `forward`, g_phi = dL/dφ [V] and g_logq = dL/d log q: grad [cbf_param_count]
// += dL/dparams and, unless g_z is null, g_z [V] = dL/dz (the total derivative through φ(z) and
// log q(z)). g_phi is not modified. scratch [cbf_scratch_size]. depth < kConvNetMaxDepth.
template <class T>
SBI_HD void checkerboard_flow_backward(const CheckerboardFlowShape& s, const T* params, const T* tape, const T* g_phi,
                                       T g_logq, T* grad, T* g_z, T* scratch) {
  const int L = s.L, V = L * L;
  const int64_t lp = cbf_layer_param_count(s), lt = cbf_layer_tape(s);
  const int64_t HV = int64_t{s.hidden} * V;
  T* gy = scratch;           // dL/d(layer output), then dL/d(layer input) [V]
  T* gst = scratch + V;      // dL/d(s, t) before tanh [2V]
  T* gin = scratch + 3 * V;  // dL/d(net input) [V]
  T* in = scratch + 4 * V;   // the net input m·x, rebuilt from the tape [V]
  T* planes = scratch + 5 * V;  // the net backward's two H·V planes
  for (int i = 0; i < V; ++i) gy[i] = g_phi[i];
  // log q = log r(z) − Σ_l Σ (1 − m) s, so d log q / d s_active = −1.
  const T g_s_direct = -g_logq;
  for (int l = s.layers - 1; l >= 0; --l) {
    const T* x = tape + l * lt;
    const T* hid = x + V;
    const T* st = hid + int64_t{s.depth} * HV;
    const T* p = params + l * lp;
    T* g = grad + l * lp;
    // Through y = m·x + (1 − m)(x e^s + t) and the tanh of the net's output (tanh' = 1 − out²).
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        const int i = x0 * L + x1;
        const bool frozen = cbf_frozen(l, x0, x1);
        in[i] = frozen ? x[i] : T(0);
        if (frozen) {
          gst[i] = T(0);
          gst[V + i] = T(0);
        } else {
          const T es = std::exp(st[i]);
          const T gs = gy[i] * x[i] * es + g_s_direct;
          gst[i] = gs * (T(1) - st[i] * st[i]);
          gst[V + i] = gy[i] * (T(1) - st[V + i] * st[V + i]);
          gy[i] *= es;  // frozen sites pass gy unchanged
        }
      }
    conv_net_backward(cbf_net_shape(s), p, in, hid, gst, gin, g, planes);
    // The net saw m·x: frozen sites receive its input gradient.
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1)
        if (cbf_frozen(l, x0, x1)) gy[x0 * L + x1] += gin[x0 * L + x1];
  }
  if (g_z != nullptr)  // log r(z) = Σ (−z²/2 − log √(2π)); tape[0..V) is z
    for (int i = 0; i < V; ++i) g_z[i] = gy[i] - g_logq * tape[i];
}

// Batch helpers over B configurations [B, V]: φ [B, V] and log q [B]; tapes [B, cbf_tape_size].
template <class T>
SBI_HD void checkerboard_flow_forward_batch(const CheckerboardFlowShape& s, const T* params, int B, const T* z, T* phi,
                                            T* log_q, T* tapes, T* in_scratch) {
  const int V = cbf_sites(s);
  const int64_t ts = cbf_tape_size(s);
  for (int b = 0; b < B; ++b) {
    T* tape = tapes + b * ts;
    log_q[b] = checkerboard_flow_forward(s, params, z + int64_t{b} * V, tape, in_scratch);
    const T* out = tape + s.layers * cbf_layer_tape(s);
    for (int i = 0; i < V; ++i) phi[int64_t{b} * V + i] = out[i];
  }
}

// grad += Σ_b dL_b/dparams for the tapes of a forward batch, g_phi [B, V], g_logq [B].
template <class T>
SBI_HD void checkerboard_flow_backward_batch(const CheckerboardFlowShape& s, const T* params, int B, const T* tapes,
                                             const T* g_phi, const T* g_logq, T* grad, T* scratch) {
  const int V = cbf_sites(s);
  const int64_t ts = cbf_tape_size(s);
  for (int b = 0; b < B; ++b)
    checkerboard_flow_backward(s, params, tapes + b * ts, g_phi + int64_t{b} * V, g_logq[b], grad,
                               static_cast<T*>(nullptr), scratch);
}

}  // namespace sbi
