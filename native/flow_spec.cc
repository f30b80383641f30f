#include "flow_spec.h"

#include <cmath>

namespace sbi_native {

bool IsSinglePrecision(Napi::Env env, const Napi::Value& v, const char* name) {
  if (v.IsTypedArray()) {
    const napi_typedarray_type t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) return true;
    if (t == napi_float64_array) return false;
  }
  ThrowTypeError(env, std::string("Expected a Float64Array or Float32Array for `") + name + "` but received " +
                          Describe(v));
}

TransformSpec GetTransformSpec(Napi::Env env, const Napi::Value& name_v, const Napi::Value& hyper_v) {
  const std::string name = GetString(name_v, "transform");
  auto hyper = GetFloat64Array(hyper_v, "hyper");
  for (size_t i = 0; i < hyper.length; ++i)
    if (!std::isfinite(hyper.data[i]))
      ThrowRangeError(env, "Expected finite values in `hyper` but index " + std::to_string(i) + " is " +
                               std::to_string(hyper.data[i]));
  TransformSpec s{};
  auto need = [&](size_t count, const char* layout) {
    if (hyper.length != count)
      ThrowRangeError(env, "Expected `hyper` = " + std::string(layout) + " for " + name + " but it has " +
                               std::to_string(hyper.length) + " values");
  };
  if (name == "rqSpline") {
    need(5, "[bins, bound, minBinWidth, minBinHeight, minDerivative]");
    const double bins = hyper.data[0];
    if (!(bins >= 1 && bins <= 1024 && bins == std::floor(bins)))
      ThrowRangeError(env, "Expected an integer in [1, 1024] for `bins` but received " + std::to_string(bins));
    s.kind = Transform::RqSpline;
    s.spline = {static_cast<int>(bins), hyper.data[1], hyper.data[2], hyper.data[3], hyper.data[4]};
    if (!(s.spline.bound > 0)) ThrowRangeError(env, "Expected a positive `bound` but received " + std::to_string(s.spline.bound));
    for (double m : {s.spline.min_bin_width, s.spline.min_bin_height})
      if (!(m >= 0 && m * bins < 1))
        ThrowRangeError(env, "Expected `minBinWidth` and `minBinHeight` in [0, 1/bins) but received " + std::to_string(m));
    if (!(s.spline.min_derivative >= 0))
      ThrowRangeError(env, "Expected a non-negative `minDerivative` but received " + std::to_string(s.spline.min_derivative));
    s.params_per_element = sbi::rq_spline_param_count(s.spline.bins);
  } else if (name == "affine") {
    need(1, "[scaleBound]");
    s.kind = Transform::Affine;
    s.scale_bound = hyper.data[0];
    if (!(s.scale_bound > 0 && s.scale_bound <= 80))
      ThrowRangeError(env, "Expected `scaleBound` in (0, 80] but received " + std::to_string(s.scale_bound));
    s.params_per_element = sbi::kAffineParamCount;
  } else {
    ThrowRangeError(env, "Expected \"rqSpline\" or \"affine\" for `transform` but received " + Describe(name_v));
  }
  return s;
}

}  // namespace sbi_native
