// Parsing of an elementwise flow transform's name and hyperparameters at the N-API boundary,
// shared by flow_ops.cc (single transforms) and maf.cc (autoregressive flows), plus the typed
// array getters both need in either precision.
#pragma once
#include <napi.h>

#include <string>

#include "../kernels/flows/affine.h"
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

}  // namespace sbi_native
