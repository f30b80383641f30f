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

MafSpec GetMafSpec(Napi::Env env, const Napi::CallbackInfo& info) {
  constexpr double kMaxParams = double(int64_t{1} << 28);
  auto arch = GetInt32Array(info[0], "arch");
  if (arch.length != 6 && arch.length != 7)
    ThrowRangeError(env, "Expected `arch` = [dim, contextDim, hidden, hiddenLayers, layers, activation, passes?] (6 or 7 "
                         "values) but it has " + std::to_string(arch.length));
  const int32_t* a = arch.data;
  auto check = [&](int i, const char* name, int32_t lo, int32_t hi) {
    if (a[i] < lo || a[i] > hi)
      ThrowRangeError(env, std::string("Expected `arch[") + std::to_string(i) + "]` (" + name + ") in [" +
                               std::to_string(lo) + ", " + std::to_string(hi) + "] but received " +
                               std::to_string(a[i]));
  };
  check(0, "dim", 1, 4096);
  check(1, "contextDim", 0, 1 << 16);
  check(2, "hidden", 1, 1 << 16);
  check(3, "hiddenLayers", 1, 64);
  check(4, "layers", 1, 256);
  check(5, "activation", 0, 4);
  if (arch.length == 7) check(6, "passes", 1, a[0]);
  const int passes = arch.length == 7 ? a[6] : a[0];
  MafSpec s{};
  s.transform = GetTransformSpec(env, info[1], info[2]);
  s.shape.made = {a[0], a[1], a[2], a[3], s.transform.params_per_element, static_cast<sbi::nn::Activation>(a[5]), passes};
  s.shape.layers = a[4];
  // The count in double first, so the bound is checked before any int64 product can overflow.
  const double D = a[0], C = a[1], H = a[2], L = a[3], P = s.transform.params_per_element;
  const double count = a[4] * (H * (D + C + 1) + (L - 1) * H * (H + 1) + D * P * (H + 1));
  if (count > kMaxParams)
    ThrowRangeError(env, "Expected an architecture with at most 2^28 parameters but `arch` gives " +
                             std::to_string(count));
  s.param_count = sbi::maf_param_count(s.shape);
  return s;
}

}  // namespace sbi_native
