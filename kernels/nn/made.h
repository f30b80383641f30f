// MADE with conditioning inputs: a masked autoregressive network over a batch.
//   Germain, Gregor, Murray, Larochelle, "MADE: Masked Autoencoder for Distribution Estimation",
//   ICML 2015, arXiv:1502.03509; context inputs as in Papamakarios, Pavlakou, Murray, "Masked
//   Autoregressive Flow for Density Estimation", NeurIPS 2017, arXiv:1705.07057.
//
// Input row [θ (D) | x (C)], L hidden layers of width H, output row [D, P] (P parameters per
// dimension, dimension-major: output d·P + p):
//   h_1 = act((M_1 ⊙ W_1) [θ, x] + b_1),  h_l = act((M_l ⊙ W_l) h_{l−1} + b_l),  out = (M_o ⊙ W_o) h_L + b_o
// Degrees, with p passes (1 ≤ p ≤ D): θ_d has degree g(d) = ⌊d·p / D⌋ + 1, so the D inputs fall
// into p contiguous groups; context inputs have degree 0, hidden unit k degree lo + k mod (p − lo)
// (assigned sequentially), lo = 0 when there is context or p = 1, else 1; output d has degree
// g(d). A hidden unit sees inputs of degree ≤ its own; an output sees hidden units of degree
// < its own. So output d depends on x and on the θ of strictly lower groups only, and (unlike a
// MADE whose hidden degrees start at 1) group 1 still depends on x through the degree-0 units.
// p = D is the autoregressive MADE (g(d) = d + 1); p = 2 a coupling layer (the first ⌈D/2⌉
// outputs see x only, the rest see x and the first half), as in RealNVP (Dinh et al.,
// arXiv:1605.08803) and the coupling NSF (Durkan et al., arXiv:1906.04140). Inverting the flow
// takes p network passes (made_group_begin gives the variables each pass completes).
//
// Masked weights are kept exactly zero: the caller zeroes them once (made_build_mask gives the
// mask of the whole parameter vector) and the backward masks the gradient, so any optimizer
// that maps a zero gradient to a zero step keeps them zero. The forward uses W as stored.
//
// Parameters, one flat vector, layer by layer: W_1 [H, D + C], b_1 [H], (W_l [H, H], b_l [H])
// for l = 2..L, W_o [D·P, H], b_o [D·P]; weights row-major [out, in] (dense.h).
// Portable, templated on float / double, caller-owned memory. Math: docs/flows.md (MAF section).
#pragma once
#include <cstdint>

#include "../common/portable.h"
#include "dense.h"

namespace sbi {
namespace nn {

struct MadeShape {
  int dim;             // D, autoregressive inputs
  int context;         // C >= 0, conditioning inputs
  int hidden;          // H, width of every hidden layer
  int hidden_layers;   // L >= 1
  int params_per_dim;  // P
  Activation act;
  int passes;          // p in [1, D]: degree groups of the inputs (D: autoregressive, 2: coupling)
};

// Layer l = 0..L−1 is hidden layer l + 1, l = L the output layer.
SBI_HD int64_t made_layer_in(const MadeShape& s, int l) { return l == 0 ? s.dim + s.context : s.hidden; }
SBI_HD int64_t made_layer_out(const MadeShape& s, int l) {
  return l == s.hidden_layers ? int64_t{s.dim} * s.params_per_dim : s.hidden;
}
// Offset of W_l in the parameter vector (b_l follows W_l).
SBI_HD int64_t made_layer_offset(const MadeShape& s, int l) {
  int64_t off = 0;
  for (int j = 0; j < l; ++j) off += made_layer_out(s, j) * (made_layer_in(s, j) + 1);
  return off;
}
SBI_HD int64_t made_param_count(const MadeShape& s) { return made_layer_offset(s, s.hidden_layers + 1); }

// Degree g(d) in [1, p] of input / output variable d.
SBI_HD int made_variable_degree(const MadeShape& s, int64_t d) {
  return static_cast<int>(d * s.passes / s.dim) + 1;
}
// The first variable of degree g + 1 (g = 0..p; g = p gives D): variables
// made_group_begin(g) .. made_group_begin(g + 1) − 1 are final after inverse pass g.
SBI_HD int made_group_begin(const MadeShape& s, int g) {
  return static_cast<int>((int64_t{g} * s.dim + s.passes - 1) / s.passes);
}

SBI_HD int made_hidden_degree(const MadeShape& s, int64_t k) {
  const int lo = (s.context > 0 || s.passes == 1) ? 0 : 1;
  return lo + static_cast<int>(k % (s.passes - lo));
}

// Whether weight (o, i) of layer l is a connection (true) or masked to zero (false).
SBI_HD bool made_connected(const MadeShape& s, int l, int64_t o, int64_t i) {
  if (l == 0) return made_hidden_degree(s, o) >= (i < s.dim ? made_variable_degree(s, i) : 0);
  if (l < s.hidden_layers) return made_hidden_degree(s, o) >= made_hidden_degree(s, i);
  return made_variable_degree(s, o / s.params_per_dim) > made_hidden_degree(s, i);
}

// mask[j] = 1 where parameter j is trainable (every bias, every connected weight), else 0.
SBI_HD void made_build_mask(const MadeShape& s, uint8_t* mask) {
  for (int l = 0; l <= s.hidden_layers; ++l) {
    const int64_t in = made_layer_in(s, l), out = made_layer_out(s, l);
    uint8_t* m = mask + made_layer_offset(s, l);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) m[o * in + i] = made_connected(s, l, o, i) ? 1 : 0;
    for (int64_t o = 0; o < out; ++o) m[out * in + o] = 1;
  }
}

// Saved activations of a forward pass over n rows: hidden outputs and pre-activations, [L, n, H]
// each (pre may be null unless activation_needs_preactivation).
SBI_HD int64_t made_saved_size(const MadeShape& s, int64_t n) { return int64_t{s.hidden_layers} * n * s.hidden; }

// out [n, D·P] from in [n, D + C].
template <class T>
SBI_HD void made_forward(const MadeShape& s, int64_t n, const T* params, const T* in, T* hidden, T* pre, T* out) {
  const int64_t nh = n * s.hidden;
  const T* layer_in = in;
  for (int l = 0; l < s.hidden_layers; ++l) {
    const T* w = params + made_layer_offset(s, l);
    const int64_t li = made_layer_in(s, l);
    dense_forward(s.act, n, li, int64_t{s.hidden}, layer_in, w, w + s.hidden * li, hidden + l * nh,
                  pre ? pre + l * nh : nullptr);
    layer_in = hidden + l * nh;
  }
  const int L = s.hidden_layers;
  const T* w = params + made_layer_offset(s, L);
  const int64_t out_dim = made_layer_out(s, L);
  dense_forward(Activation::Identity, n, int64_t{s.hidden}, out_dim, layer_in, w, w + out_dim * s.hidden, out,
                static_cast<T*>(nullptr));
}

// From g_out = dL/dout [n, D·P]: g_params (overwritten, summed over the rows, zero at masked
// weights) and g_in = dL/din [n, D + C] (overwritten; may be null). `scratch` holds 2·n·H values.
template <class T>
SBI_HD void made_backward(const MadeShape& s, int64_t n, const T* params, const uint8_t* mask, const T* in,
                          const T* hidden, const T* pre, const T* g_out, T* g_params, T* g_in, T* scratch) {
  const int L = s.hidden_layers;
  const int64_t nh = n * s.hidden;
  T* g_h = scratch;        // dL/dh of the layer being processed
  T* g_below = scratch + nh;
  {
    const int64_t off = made_layer_offset(s, L), out_dim = made_layer_out(s, L);
    dense_backward(Activation::Identity, n, int64_t{s.hidden}, out_dim, hidden + (L - 1) * nh, params + off,
                   static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), g_out, g_h, g_params + off,
                   g_params + off + out_dim * s.hidden);
  }
  for (int l = L - 1; l >= 0; --l) {
    const int64_t off = made_layer_offset(s, l), li = made_layer_in(s, l);
    const T* layer_in = l == 0 ? in : hidden + (l - 1) * nh;
    T* g_layer_in = l == 0 ? g_in : g_below;
    dense_backward(s.act, n, li, int64_t{s.hidden}, layer_in, params + off, hidden + l * nh,
                   pre ? pre + l * nh : nullptr, g_h, g_layer_in, g_params + off, g_params + off + s.hidden * li);
    T* t = g_h;
    g_h = g_below;
    g_below = t;
  }
  const int64_t count = made_param_count(s);
  for (int64_t j = 0; j < count; ++j) g_params[j] = bit_select(mask[j] != 0, g_params[j], T(0));  // vectorises
}

}  // namespace nn
}  // namespace sbi
