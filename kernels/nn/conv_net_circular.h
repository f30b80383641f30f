// A small CNN of circular 2-D convolutions (kernels/nn/conv2d_circular.h) on an L×L periodic
// lattice, the coupling network of the lattice flows (Albergo et al., arXiv:2101.08176):
//   c_in → H → … → H (depth hidden layers, LeakyReLU(0.01)) → c_out (no activation)
// The caller applies any output activation (the φ⁴ flow's tanh) itself. One sample at a time,
// channel-major planes [C, L, L].
//
// Parameters, conv after conv, each as weight [c_out, c_in, K, K] then bias [c_out].
// `forward` keeps the hidden outputs (post-activation: LeakyReLU's derivative needs only the
// sign, which its output keeps) for `backward`, or, without `keep`, uses two H·V planes in turn.
#pragma once
#include "../common/portable.h"
#include "conv2d_circular.h"

namespace sbi {

struct ConvNetShape {
  int L;       // lattice extent, V = L·L
  int c_in;    // input channels
  int hidden;  // channels of each hidden layer
  int depth;   // hidden layers (0: one conv c_in → c_out)
  int c_out;   // output channels
  int K;       // odd kernel extent
};

constexpr double kConvNetLeakySlope = 0.01;  // torch.nn.LeakyReLU's default
constexpr int kConvNetMaxDepth = 16;

// Shape of conv k (0 .. depth).
SBI_HD Conv2dShape conv_net_layer(const ConvNetShape& s, int k) {
  return Conv2dShape{k == 0 ? s.c_in : s.hidden, k == s.depth ? s.c_out : s.hidden, s.L, s.L, s.K};
}

SBI_HD int64_t conv_net_param_count(const ConvNetShape& s) {
  int64_t n = 0;
  for (int k = 0; k <= s.depth; ++k) {
    const Conv2dShape c = conv_net_layer(s, k);
    n += conv2d_weight_count(c) + c.c_out;
  }
  return n;
}

// Values `forward` keeps with `keep`: the hidden outputs [depth·H·V].
SBI_HD int64_t conv_net_hidden_size(const ConvNetShape& s) { return int64_t{s.depth} * s.hidden * s.L * s.L; }

// out [c_out·V] = net(in [c_in·V]); hidden outputs into `hid` ([depth·H·V] with keep, else [2·H·V]).
template <class T>
SBI_HD void conv_net_forward(const ConvNetShape& s, const T* params, const T* in, T* hid, T* out, bool keep = true) {
  const int V = s.L * s.L;
  const T slope = T(kConvNetLeakySlope);
  const T* p = params;
  const T* src = in;
  for (int k = 0; k <= s.depth; ++k) {
    const Conv2dShape c = conv_net_layer(s, k);
    const T* w = p;
    const T* b = p + conv2d_weight_count(c);
    p = b + c.c_out;
    T* dst = k == s.depth ? out : hid + int64_t{keep ? k : (k & 1)} * s.hidden * V;
    conv2d_circular_forward(c, w, b, src, dst);
    if (k < s.depth)
      for (int i = 0; i < c.c_out * V; ++i) dst[i] = dst[i] > T(0) ? dst[i] : slope * dst[i];
    src = dst;
  }
}

// From g_out = dL/d(out) [c_out·V] and the kept hidden outputs: g_params [conv_net_param_count]
// += dL/dparams and g_in [c_in·V] = dL/d(in) (overwritten; null to skip). planes: scratch [2·H·V].
template <class T>
SBI_HD void conv_net_backward(const ConvNetShape& s, const T* params, const T* in, const T* hid, const T* g_out,
                              T* g_in, T* g_params, T* planes) {
  const int64_t HV = int64_t{s.hidden} * s.L * s.L;
  const T slope = T(kConvNetLeakySlope);
  int64_t off[kConvNetMaxDepth + 1];  // offset of conv k's parameters
  int64_t o = 0;
  for (int k = 0; k <= s.depth; ++k) {
    off[k] = o;
    const Conv2dShape c = conv_net_layer(s, k);
    o += conv2d_weight_count(c) + c.c_out;
  }
  const T* g = g_out;
  for (int k = s.depth; k >= 0; --k) {
    const Conv2dShape c = conv_net_layer(s, k);
    T* gw = g_params + off[k];
    T* gb = gw + conv2d_weight_count(c);
    const T* xin = k > 0 ? hid + int64_t{k - 1} * HV : in;
    T* gx = k > 0 ? planes + (k & 1) * HV : g_in;
    conv2d_circular_backward(c, params + off[k], xin, g, gx, gw, gb);
    if (k > 0)  // LeakyReLU: its output has its input's sign
      for (int64_t i = 0; i < HV; ++i)
        if (!(xin[i] > T(0))) gx[i] *= slope;
    g = gx;
  }
}

}  // namespace sbi
