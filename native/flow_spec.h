// Parsing of an elementwise flow transform's name and hyperparameters at the N-API boundary,
// shared by flow_ops.cc (single transforms), maf.cc (autoregressive flows) and train_flow.cc
// (their training), plus the MAF architecture and parameter checks of the last two.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../kernels/flows/affine.h"
#include "../kernels/flows/maf.h"
#include "../kernels/flows/rq_spline.h"
#include "napi_util.h"

namespace sbi_native {

enum class Transform { RqSpline, Affine };

struct TransformSpec {
  Transform kind;
  int params_per_element;
  sbi::RqSplineConfig<double> spline;  // rqSpline
  double scale_bound;                  // affine
};

// `name` "rqSpline" (hyper = [bins, bound, minBinWidth, minBinHeight, minDerivative]) or "affine"
// (hyper = [scaleBound]); every value checked.
TransformSpec GetTransformSpec(Napi::Env env, const Napi::Value& name, const Napi::Value& hyper);

template <class T>
sbi::RqSplineConfig<T> SplineConfig(const TransformSpec& s) {
  return {s.spline.bins, static_cast<T>(s.spline.bound), static_cast<T>(s.spline.min_bin_width),
          static_cast<T>(s.spline.min_bin_height), static_cast<T>(s.spline.min_derivative)};
}

// True for a Float32Array, false for a Float64Array; anything else is a TypeError.
bool IsSinglePrecision(Napi::Env env, const Napi::Value& v, const char* name);

// A conditional MAF's architecture as maf.cc's entry points take it: arguments 0..2 are
// arch = Int32Array [dim, contextDim, hidden, hiddenLayers, layers, activation, passes?], the transform's
// name and its hyperparameters (every value checked; at most 2^28 parameters).
struct MafSpec {
  sbi::MafShape shape;
  TransformSpec transform;
  int64_t param_count;
};
MafSpec GetMafSpec(Napi::Env env, const Napi::CallbackInfo& info);

// The flow's parameter vector `v` in precision T (param_count values) with its masked weights
// exactly 0 (RangeError otherwise); `mask` receives one MADE's mask (1 = trainable).
template <class T>
inline const T* GetParams(Napi::Env env, const MafSpec& s, const Napi::Value& v, std::vector<uint8_t>& mask) {
  const T* p = GetFloatArray<T>(v, "params", s.param_count).data;
  const int64_t made_count = sbi::nn::made_param_count(s.shape.made);
  mask.resize(static_cast<size_t>(made_count));
  sbi::nn::made_build_mask(s.shape.made, mask.data());
  for (int64_t j = 0; j < s.param_count; ++j)
    if (!mask[j % made_count] && p[j] != T(0))
      ThrowRangeError(env, "Expected masked weights to be exactly 0 but `params[" + std::to_string(j) + "]` is " +
                               std::to_string(static_cast<double>(p[j])));
  return p;
}

}  // namespace sbi_native
