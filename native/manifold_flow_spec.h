// Argument parsing of the flows on Tᴰ and Sᴰ (kernels/manifold/flow.h) at the N-API boundary,
// shared by the CPU addon (manifold_flow.cc) and the CUDA addon (native/cuda/manifold_ops.cc):
// the `spec` object, the parameter vector and the ambient points, checked the same way by both.
#pragma once
#include <napi.h>

#include <cmath>
#include <string>

#include "../kernels/manifold/flow.h"
#include "napi_util.h"

namespace sbi_native {
namespace manifold_spec {

namespace mf = sbi::manifold;

inline int64_t IntField(const Napi::Object& o, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
  const Napi::Value v = o.Get(key);
  return IsAbsent(v) ? fallback : GetInteger(v, key, lo, hi);
}

constexpr double kMinAlpha = 1e-3;  // NCP: α = m_α + softplus(a)

// The FlowShape of `spec` ({ space, dim, layers, bins, hidden, hiddenLayers, circleTransform?,
// components?, conditioner? }), every field checked.
inline mf::FlowShape GetShape(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) ThrowTypeError(env, "Expected an object for `spec` but received " + Describe(v));
  const Napi::Object o = v.As<Napi::Object>();
  const std::string space = GetString(o.Get("space"), "spec.space");
  const int layers = static_cast<int>(IntField(o, "layers", 4, 1, mf::kMaxFlowLayers - 1));
  const int hidden = static_cast<int>(IntField(o, "hidden", 32, 1, 4096));
  const int hidden_layers = static_cast<int>(IntField(o, "hiddenLayers", 2, 1, mf::kMaxMlpLayers - 1));
  mf::ElementConfig elem{};
  elem.bins = static_cast<int>(IntField(o, "bins", 8, 1, 256));
  elem.components = static_cast<int>(IntField(o, "components", 4, 1, 64));
  elem.min_bin_width = elem.min_bin_height = elem.min_derivative = 1e-3;
  elem.min_alpha = kMinAlpha;
  const Napi::Value kind = o.Get("circleTransform");
  const std::string k = IsAbsent(kind) ? "spline" : GetString(kind, "spec.circleTransform");
  if (k == "spline") elem.circle_kind = mf::CircleKind::Spline;
  else if (k == "moebius") elem.circle_kind = mf::CircleKind::Moebius;
  else if (k == "ncp") elem.circle_kind = mf::CircleKind::Ncp;
  else
    ThrowRangeError(env, "Expected \"spline\", \"moebius\" or \"ncp\" for `spec.circleTransform` but received " +
                             Describe(kind));
  const Napi::Value cond = o.Get("conditioner");
  const std::string conditioner = IsAbsent(cond) ? "coupling" : GetString(cond, "spec.conditioner");
  if (conditioner != "coupling" && conditioner != "autoregressive")
    ThrowRangeError(env, "Expected \"coupling\" or \"autoregressive\" for `spec.conditioner` but received " +
                             Describe(cond));
  const bool autoregressive = conditioner == "autoregressive";
  if (space == "torus") {
    const int dim = static_cast<int>(GetInteger(o.Get("dim"), "spec.dim", 2, mf::kMaxCoords));
    if (autoregressive && layers * dim > mf::kMaxFlowLayers)
      ThrowRangeError(env, "Expected `spec.layers` · `spec.dim` <= " + std::to_string(mf::kMaxFlowLayers) +
                               " for an autoregressive torus flow (one layer per angle per block) but received " +
                               std::to_string(layers) + " · " + std::to_string(dim));
    return mf::make_torus_shape(dim, layers, autoregressive, elem, hidden, hidden_layers);
  }
  if (space == "sphere") {
    const int dim = static_cast<int>(IntField(o, "dim", 2, 2, mf::kMaxCoords));
    if (autoregressive)
      ThrowRangeError(env, "Expected `spec.conditioner` \"coupling\" (the default) on a sphere, whose flow is recursive, "
                           "but received \"autoregressive\"");
    if (dim - 1 + layers > mf::kMaxFlowLayers)
      ThrowRangeError(env, "Expected `spec.dim` − 1 + `spec.layers` <= " + std::to_string(mf::kMaxFlowLayers) +
                               " (one interval layer per height, then the circle layers) but received " +
                               std::to_string(dim - 1) + " + " + std::to_string(layers));
    return mf::make_sphere_shape(dim, layers, elem, hidden, hidden_layers);
  }
  ThrowRangeError(env, "Expected \"torus\" or \"sphere\" for `spec.space` but received " + Describe(o.Get("space")));
}

// The flow's parameters: spec's count of finite doubles.
inline View<double> GetParams(Napi::Env env, const Napi::Value& v, const mf::FlowShape& s) {
  View<double> p = GetFloat64Array(v, "params", s.param_count);
  for (size_t i = 0; i < p.length; ++i)
    if (!std::isfinite(p.data[i]))
      ThrowRangeError(env, "Expected finite values in `params` but `params[" + std::to_string(i) + "]` is " +
                               std::to_string(p.data[i]));
  return p;
}

// Ambient points: finite; on Sᴰ of norm in [0.5, 2] (normalised by the kernel).
inline void CheckPoints(Napi::Env env, const mf::FlowShape& s, const View<double>& x, const char* name) {
  const int W = mf::flow_output_width(s);
  if (x.length % W != 0)
    ThrowRangeError(env, std::string("Expected `") + name + "` to hold rows of " + std::to_string(W) + " values but it has " +
                             std::to_string(x.length));
  for (size_t i = 0; i < x.length; ++i)
    if (!std::isfinite(x.data[i]))
      ThrowRangeError(env, std::string("Expected finite values in `") + name + "` but `" + name + "[" + std::to_string(i) +
                               "]` is " + std::to_string(x.data[i]));
  if (s.space == mf::Space::Sphere)
    for (size_t r = 0; r < x.length / W; ++r) {
      double n2 = 0;
      for (int d = 0; d < W; ++d) n2 += x.data[W * r + d] * x.data[W * r + d];
      const double n = std::sqrt(n2);
      if (!(n >= 0.5 && n <= 2))
        ThrowRangeError(env, std::string("Expected unit vectors in `") + name + "` but row " + std::to_string(r) +
                                 " has norm " + std::to_string(n));
    }
}

}  // namespace manifold_spec
}  // namespace sbi_native
