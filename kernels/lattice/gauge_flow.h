// Gauge-equivariant coupling flow for 2-D U(1) lattice gauge theory: Kanwar et al., "Equivariant
// flow-based sampling for lattice gauge theory", PRL 125 (2020), arXiv:2003.06413, with the
// architecture of the tutorial of Albergo et al., arXiv:2101.08176 (section on U(1)).
//
// Links θ [2V] as in kernels/lattice/u1.h (θ_μ(x₀, x₁) at μ·V + x₀·L + x₁), plaquettes
//   P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x).
// Prior: uniform (Haar) links, log r = −2V log 2π. Then `layers` coupling layers; layer l has
// μ = l mod 2 and off = (l / 2) mod 4, and with c(x) = x_{1−μ} (x₁ for μ = 0, x₀ for μ = 1) and
// d = (c − off) mod 4 (L must be a multiple of 4 so the stripes tile the torus):
//   active links:  θ_μ(x) with d = 0;
//   plaquettes:    d = 0 "active", d = 3 "passive", d = 1, 2 "frozen".
// Geometry (from P's definition): θ₀(x) enters P(x) with +1 and P(x − ê₁) with −1; θ₁(x) enters
// P(x − ê₀) with +1 and P(x) with −1. So the active link θ_μ(x) enters exactly two plaquettes,
// the active P(x) (same site, sign σ_μ = +1 for μ = 0, −1 for μ = 1) and the passive P(x − ê_{1−μ});
// no other link of P(x) is active (its other μ-link sits at c + 1), and no frozen plaquette
// contains an active link, so the frozen ones are the same before and after the layer.
// The layer:
//   net input: cos P, sin P of the frozen plaquettes (2 channels, zero elsewhere);
//   net: circular CNN 2 → H … H → C (kernels/nn/conv_net_circular.h), C = 2K + 1 per site: the
//        parameters of an NCP mixture with a rotation (kernels/manifold/circle.h, K components);
//   active plaquettes: P' = f(P) ∈ [0, 2π) (the circle transform with the site's parameters);
//   active links:      θ_μ(x) ← wrap(θ_μ(x) + σ_μ (P' − P)), so the active P(x) becomes P' (mod 2π)
//                      and the passive one changes by −σ_μ σ_μ (P' − P) in consequence;
//   log|det J| = Σ_active log f'(P)  (the Jacobian is triangular: ∂θ'_a/∂θ_a = 1 + σ²(f' − 1)).
// log q(θ) = −2V log 2π − Σ_l Σ_active log f'(P^(l)).
// Gauge symmetry: every plaquette is invariant under θ_μ(x) → θ_μ(x) + α(x) − α(x + μ̂), so
// the net's input, P' and the shift P' − P are too: f(gauge(θ)) = gauge(f(θ)) (mod 2π) and log q
// is gauge invariant.
//
// Parameters, one flat vector, layer after layer: each layer's net (conv_net_circular.h layout).
// One configuration at a time; `forward` records a tape from which `backward` takes dL/dθ' and
// dL/d log q to the parameter gradient (accumulated) and optionally dL/dθ (the prior draw).
#pragma once
#include "../common/portable.h"
#include "../manifold/circle.h"
#include "../nn/conv_net_circular.h"
#include "u1.h"

namespace sbi {

struct GaugeFlowShape {
  int L;           // lattice extent, a multiple of 4; V = L·L plaquettes, 2V links
  int layers;      // coupling layers (16 in the tutorial)
  int hidden;      // channels of each hidden conv layer (8)
  int depth;       // hidden conv layers (2: hidden channels [8, 8])
  int K;           // odd kernel extent (3)
  int components;  // NCP mixture components (2)
};

constexpr double kGaugeFlowMinAlpha = 1e-2;  // NCP α = 0.01 + softplus(u): bounded away from 0

SBI_HD int gf_sites(const GaugeFlowShape& s) { return s.L * s.L; }
SBI_HD int gf_links(const GaugeFlowShape& s) { return 2 * s.L * s.L; }
// Circle-transform parameters per plaquette: 2K + 1.
SBI_HD int gf_circle_params(const GaugeFlowShape& s) { return circle_mixture_param_count<NcpComponent<double>>(s.components); }

SBI_HD ConvNetShape gf_net_shape(const GaugeFlowShape& s) {
  return ConvNetShape{s.L, 2, s.hidden, s.depth, gf_circle_params(s), s.K};
}
SBI_HD int64_t gf_layer_param_count(const GaugeFlowShape& s) { return conv_net_param_count(gf_net_shape(s)); }
SBI_HD int64_t gf_param_count(const GaugeFlowShape& s) { return s.layers * gf_layer_param_count(s); }

SBI_HD int gf_mu(int layer) { return layer & 1; }
SBI_HD int gf_offset(int layer) { return (layer >> 1) & 3; }

// Stripe of plaquette (or link site) (x0, x1) in a layer: 0 active, 3 passive, 1 and 2 frozen.
SBI_HD int gf_stripe(int layer, int x0, int x1) {
  const int c = gf_mu(layer) == 0 ? x1 : x0;
  return (c - gf_offset(layer) + 4) & 3;
}
SBI_HD bool gf_frozen(int layer, int x0, int x1) {
  const int d = gf_stripe(layer, x0, x1);
  return d == 1 || d == 2;
}

// Per layer on the tape: input links [2V], plaquettes [V], net input [2V], hidden outputs, net output [C·V].
SBI_HD int64_t gf_layer_tape(const GaugeFlowShape& s) {
  const int64_t V = gf_sites(s);
  return 5 * V + conv_net_hidden_size(gf_net_shape(s)) + int64_t{gf_circle_params(s)} * V;
}
// Tape of one configuration: every layer's, then the output links [2V].
SBI_HD int64_t gf_tape_size(const GaugeFlowShape& s) { return s.layers * gf_layer_tape(s) + gf_links(s); }
// Scratch of `inverse` and `backward`.
SBI_HD int64_t gf_scratch_size(const GaugeFlowShape& s) {
  const int64_t V = gf_sites(s);
  return 6 * V + int64_t{gf_circle_params(s)} * V + 2 * int64_t{s.hidden} * V;
}

template <class T>
SBI_HD CircleMixtureConfig<T> gf_circle_config(const GaugeFlowShape& s) {
  return CircleMixtureConfig<T>{s.components, T(kGaugeFlowMinAlpha)};
}

// Net of layer `layer` on links x: plaquettes into plaq [V], its input into in [2V], hidden
// outputs into hid (kept or two planes), circle parameters into out [C·V].
template <class T>
SBI_HD void gf_net_forward(const GaugeFlowShape& s, int layer, const T* params, const T* x, T* plaq, T* in, T* hid,
                           T* out, bool keep) {
  const int L = s.L, V = L * L;
  u1_plaquettes(L, x, plaq);
  for (int x0 = 0; x0 < L; ++x0)
    for (int x1 = 0; x1 < L; ++x1) {
      const int i = x0 * L + x1;
      const bool f = gf_frozen(layer, x0, x1);
      in[i] = f ? std::cos(plaq[i]) : T(0);
      in[V + i] = f ? std::sin(plaq[i]) : T(0);
    }
  conv_net_forward(gf_net_shape(s), params, in, hid, out, keep);
}

// The active link of the active plaquette at site i: index into θ and its sign σ_μ in P.
SBI_HD int gf_active_link(int layer, int i, int V) { return gf_mu(layer) * V + i; }
SBI_HD int gf_active_sign(int layer) { return gf_mu(layer) == 0 ? 1 : -1; }

// One site's circle parameters (channel-major net output) into c [C].
template <class T>
SBI_HD void gf_gather(int C, int V, const T* out, int i, T* c) {
  for (int j = 0; j < C; ++j) c[j] = out[int64_t{j} * V + i];
}

constexpr int kGaugeFlowMaxComponents = 16;

// θ' = f(θ) for one configuration θ [2V] (tape [gf_tape_size], which ends with θ'). Returns log q(θ').
template <class T>
SBI_HD T gauge_flow_forward(const GaugeFlowShape& s, const T* params, const T* theta, T* tape) {
  const int L = s.L, V = L * L, C = gf_circle_params(s);
  const int64_t lp = gf_layer_param_count(s), lt = gf_layer_tape(s);
  const CircleMixtureConfig<T> cfg = gf_circle_config<T>(s);
  T c[2 * kGaugeFlowMaxComponents + 1];
  T log_q = -T(2 * V) * std::log(T(kTwoPi));
  for (int i = 0; i < 2 * V; ++i) tape[i] = theta[i];
  for (int l = 0; l < s.layers; ++l) {
    T* x = tape + l * lt;
    T* plaq = x + 2 * V;
    T* in = plaq + V;
    T* hid = in + 2 * V;
    T* out = hid + conv_net_hidden_size(gf_net_shape(s));
    T* y = x + lt;  // the next layer's input (or θ')
    gf_net_forward(s, l, params + l * lp, x, plaq, in, hid, out, true);
    for (int i = 0; i < 2 * V; ++i) y[i] = x[i];
    const int sign = gf_active_sign(l);
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        if (gf_stripe(l, x0, x1) != 0) continue;
        const int i = x0 * L + x1, a = gf_active_link(l, i, V);
        gf_gather(C, V, out, i, c);
        T pn, ladj;
        circle_mixture_forward<NcpComponent<T>>(cfg, plaq[i], c, &pn, &ladj);
        y[a] = wrap_angle(x[a] + T(sign) * (pn - plaq[i]));
        log_q -= ladj;
      }
  }
  return log_q;
}

// θ = f⁻¹(θ') for one configuration; returns log q(θ'). scratch [gf_scratch_size].
template <class T>
SBI_HD T gauge_flow_inverse(const GaugeFlowShape& s, const T* params, const T* theta_out, T* theta, T* scratch) {
  const int L = s.L, V = L * L, C = gf_circle_params(s);
  const int64_t lp = gf_layer_param_count(s);
  const CircleMixtureConfig<T> cfg = gf_circle_config<T>(s);
  T* plaq = scratch;
  T* in = scratch + V;
  T* out = scratch + 3 * V;
  T* hid = out + int64_t{C} * V;  // two H·V planes in turn
  T c[2 * kGaugeFlowMaxComponents + 1];
  for (int i = 0; i < 2 * V; ++i) theta[i] = theta_out[i];
  T log_q = -T(2 * V) * std::log(T(kTwoPi));
  for (int l = s.layers - 1; l >= 0; --l) {
    // The frozen plaquettes are the same on both sides of the layer, so the net sees its output.
    gf_net_forward(s, l, params + l * lp, theta, plaq, in, hid, out, false);
    const int sign = gf_active_sign(l);
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        if (gf_stripe(l, x0, x1) != 0) continue;
        const int i = x0 * L + x1, a = gf_active_link(l, i, V);
        gf_gather(C, V, out, i, c);
        T p, ladj;  // ladj = −log f'(P)
        circle_mixture_inverse<NcpComponent<T>>(cfg, plaq[i], c, &p, &ladj);
        theta[a] = wrap_angle(theta[a] - T(sign) * (plaq[i] - p));
        log_q += ladj;
      }
  }
  return log_q;
}

// From the tape of `forward`, g_out = dL/dθ' [2V] and g_logq = dL/d log q: grad [gf_param_count]
// += dL/dparams and, unless null, g_theta [2V] = dL/dθ (the prior is flat, so only through θ').
// scratch [gf_scratch_size].
template <class T>
SBI_HD void gauge_flow_backward(const GaugeFlowShape& s, const T* params, const T* tape, const T* g_out, T g_logq,
                                T* grad, T* g_theta, T* scratch) {
  const int L = s.L, V = L * L, C = gf_circle_params(s);
  const int64_t lp = gf_layer_param_count(s), lt = gf_layer_tape(s);
  const ConvNetShape net = gf_net_shape(s);
  const CircleMixtureConfig<T> cfg = gf_circle_config<T>(s);
  T* gy = scratch;         // dL/d(layer output), then dL/d(layer input) [2V]
  T* gp = scratch + 2 * V; // dL/dP [V]
  T* gin = scratch + 3 * V;  // dL/d(net input) [2V]
  T* gnet = scratch + 5 * V;  // dL/d(net output) [C·V]
  T* planes = gnet + int64_t{C} * V;
  T c[2 * kGaugeFlowMaxComponents + 1], gc[2 * kGaugeFlowMaxComponents + 1];
  for (int i = 0; i < 2 * V; ++i) gy[i] = g_out[i];
  for (int l = s.layers - 1; l >= 0; --l) {
    const T* x = tape + l * lt;
    const T* plaq = x + 2 * V;
    const T* in = plaq + V;
    const T* hid = in + 2 * V;
    const T* out = hid + conv_net_hidden_size(net);
    const int sign = gf_active_sign(l);
    for (int i = 0; i < V; ++i) gp[i] = T(0);
    for (int64_t i = 0; i < int64_t{C} * V; ++i) gnet[i] = T(0);
    // Active links: θ'_a = θ_a + σ (f(P) − P), and log q −= log f'(P). gy of θ_a passes unchanged.
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        if (gf_stripe(l, x0, x1) != 0) continue;
        const int i = x0 * L + x1, a = gf_active_link(l, i, V);
        gf_gather(C, V, out, i, c);
        const T g_pn = T(sign) * gy[a];
        T g_plaq;
        circle_mixture_backward<NcpComponent<T>>(cfg, plaq[i], c, g_pn, -g_logq, &g_plaq, gc);
        gp[i] += g_plaq - g_pn;
        for (int j = 0; j < C; ++j) gnet[int64_t{j} * V + i] = gc[j];
      }
    // Through the net to its input, then to the frozen plaquettes (cos P, sin P).
    conv_net_backward(net, params + l * lp, in, hid, gnet, gin, grad + l * lp, planes);
    for (int x0 = 0; x0 < L; ++x0)
      for (int x1 = 0; x1 < L; ++x1) {
        if (!gf_frozen(l, x0, x1)) continue;
        const int i = x0 * L + x1;
        gp[i] += gin[V + i] * in[i] - gin[i] * in[V + i];
      }
    // P(x) = θ₀(x) + θ₁(x + ê₀) − θ₀(x + ê₁) − θ₁(x).
    for (int x0 = 0; x0 < L; ++x0) {
      const int x0n = x0 + 1 == L ? 0 : x0 + 1;
      for (int x1 = 0; x1 < L; ++x1) {
        const int x1n = x1 + 1 == L ? 0 : x1 + 1;
        const T g = gp[x0 * L + x1];
        gy[x0 * L + x1] += g;
        gy[V + x0n * L + x1] += g;
        gy[x0 * L + x1n] -= g;
        gy[V + x0 * L + x1] -= g;
      }
    }
  }
  if (g_theta != nullptr)
    for (int i = 0; i < 2 * V; ++i) g_theta[i] = gy[i];
}

// Batch helpers over B configurations [B, 2V]: θ' [B, 2V] and log q [B]; tapes [B, gf_tape_size].
template <class T>
SBI_HD void gauge_flow_forward_batch(const GaugeFlowShape& s, const T* params, int B, const T* theta, T* theta_out,
                                     T* log_q, T* tapes) {
  const int D = gf_links(s);
  const int64_t ts = gf_tape_size(s);
  for (int b = 0; b < B; ++b) {
    T* tape = tapes + b * ts;
    log_q[b] = gauge_flow_forward(s, params, theta + int64_t{b} * D, tape);
    const T* out = tape + ts - D;
    for (int i = 0; i < D; ++i) theta_out[int64_t{b} * D + i] = out[i];
  }
}

// grad += Σ_b dL_b/dparams for the tapes of a forward batch, g_out [B, 2V], g_logq [B].
template <class T>
SBI_HD void gauge_flow_backward_batch(const GaugeFlowShape& s, const T* params, int B, const T* tapes, const T* g_out,
                                      const T* g_logq, T* grad, T* scratch) {
  const int D = gf_links(s);
  const int64_t ts = gf_tape_size(s);
  for (int b = 0; b < B; ++b)
    gauge_flow_backward(s, params, tapes + b * ts, g_out + int64_t{b} * D, g_logq[b], grad, static_cast<T*>(nullptr),
                        scratch);
}

}  // namespace sbi
