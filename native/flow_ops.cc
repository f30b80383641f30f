// Elementwise flow transforms (kernels/flows/) over a batch of n elements, in the precision of
// the arrays passed (Float64Array: double kernels, Float32Array: float kernels).
//   flowTransform(transform, direction, hyper, x, params, y, ladj)
//     transform "rqSpline" (hyper = [bins, bound, minBinWidth, minBinHeight, minDerivative],
//     3·bins − 1 params per element) or "affine" (hyper = [scaleBound], 2 params per element);
//     direction "forward" (y or ladj may be null: that output is skipped and the value-only or
//     log-det-only kernel runs) or "inverse" (x is the input y, both outputs required).
//   flowTransformBackward(transform, hyper, x, params, gy, gl, gx, gparams)
//     dL/dx and dL/dparams of the forward pass, given dL/dy and dL/dlog|dy/dx| per element.
#include <algorithm>
#include <cmath>
#include <string>

#include "../kernels/flows/affine.h"
#include "../kernels/flows/rq_spline.h"
#include "batch.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

enum class Transform { RqSpline, Affine };

struct TransformSpec {
  Transform kind;
  int params_per_element;
  sbi::RqSplineConfig<double> spline;  // rqSpline
  double scale_bound;                  // affine
};


// True for a Float32Array, false for a Float64Array; anything else is a TypeError.
bool IsSinglePrecision(Napi::Env env, const Napi::Value& v, const char* name) {
  if (v.IsTypedArray()) {
    const napi_typedarray_type t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) return true;
    if (t == napi_float64_array) return false;
  }
  ThrowTypeError(env, std::string("Expected a Float64Array or Float32Array for `") + name + "` but received " +
                          Describe(v));
}

TransformSpec GetSpec(Napi::Env env, const Napi::Value& name_v, const Napi::Value& hyper_v) {
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

template <class T>
sbi::RqSplineConfig<T> SplineConfig(const TransformSpec& s) {
  return {s.spline.bins, static_cast<T>(s.spline.bound), static_cast<T>(s.spline.min_bin_width),
          static_cast<T>(s.spline.min_bin_height), static_cast<T>(s.spline.min_derivative)};
}

void Run(int64_t n, int params_per_element, std::function<void(int64_t, int64_t)> range) {
  BatchJob job;
  job.n = n;
  job.grain = std::max<int64_t>(64, 16384 / params_per_element);
  job.range = std::move(range);
  RunBatch(job, nullptr, nullptr);
}

template <class T>
void Apply(Napi::Env env, const TransformSpec& spec, bool inverse, const Napi::CallbackInfo& info) {
  auto x = GetFloatArray<T>(info[3], "x", -1);
  const int64_t n = static_cast<int64_t>(x.length);
  const int p = spec.params_per_element;
  const T* xs = x.data;
  const T* params = GetFloatArray<T>(info[4], "params", n * p).data;
  T* y = IsAbsent(info[5]) ? nullptr : GetFloatArray<T>(info[5], "y", n).data;
  T* ladj = IsAbsent(info[6]) ? nullptr : GetFloatArray<T>(info[6], "ladj", n).data;
  if (inverse ? (!y || !ladj) : (!y && !ladj))
    ThrowTypeError(env, inverse ? "Expected both `y` and `ladj` for the inverse" : "Expected `y` or `ladj` (or both)");
  if (spec.kind == Transform::RqSpline) {
    const sbi::RqSplineConfig<T> c = SplineConfig<T>(spec);
    Run(n, p, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T* pi = params + i * p;
        if (inverse) sbi::rq_spline_inverse(c, xs[i], pi, &y[i], &ladj[i]);
        else if (y && ladj) sbi::rq_spline_forward(c, xs[i], pi, &y[i], &ladj[i]);
        else if (y) y[i] = sbi::rq_spline_value(c, xs[i], pi);
        else ladj[i] = sbi::rq_spline_log_abs_det(c, xs[i], pi);
      }
    });
  } else {
    const T c = static_cast<T>(spec.scale_bound);
    Run(n, p, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const T* pi = params + i * p;
        if (inverse) sbi::affine_inverse(c, xs[i], pi, &y[i], &ladj[i]);
        else if (y && ladj) sbi::affine_forward(c, xs[i], pi, &y[i], &ladj[i]);
        else if (y) y[i] = sbi::affine_value(c, xs[i], pi);
        else ladj[i] = sbi::affine_log_abs_det(c, xs[i], pi);
      }
    });
  }
}

template <class T>
void Backward(const TransformSpec& spec, const Napi::CallbackInfo& info) {
  auto x = GetFloatArray<T>(info[2], "x", -1);
  const int64_t n = static_cast<int64_t>(x.length);
  const int p = spec.params_per_element;
  const T* xs = x.data;
  const T* params = GetFloatArray<T>(info[3], "params", n * p).data;
  const T* gy = GetFloatArray<T>(info[4], "gy", n).data;
  const T* gl = GetFloatArray<T>(info[5], "gl", n).data;
  T* gx = GetFloatArray<T>(info[6], "gx", n).data;
  T* gparams = GetFloatArray<T>(info[7], "gparams", n * p).data;
  if (spec.kind == Transform::RqSpline) {
    const sbi::RqSplineConfig<T> c = SplineConfig<T>(spec);
    Run(n, p, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        sbi::rq_spline_backward(c, xs[i], params + i * p, gy[i], gl[i], &gx[i], gparams + i * p);
    });
  } else {
    const T c = static_cast<T>(spec.scale_bound);
    Run(n, p, [=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        sbi::affine_backward(c, xs[i], params + i * p, gy[i], gl[i], &gx[i], gparams + i * p);
    });
  }
}

Napi::Value FlowTransform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TransformSpec spec = GetSpec(env, info[0], info[2]);
  const std::string direction = GetString(info[1], "direction");
  if (direction != "forward" && direction != "inverse")
    ThrowRangeError(env, "Expected \"forward\" or \"inverse\" for `direction` but received " + Describe(info[1]));
  if (IsSinglePrecision(env, info[3], "x")) Apply<float>(env, spec, direction == "inverse", info);
  else Apply<double>(env, spec, direction == "inverse", info);
  return env.Undefined();
}

Napi::Value FlowTransformBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TransformSpec spec = GetSpec(env, info[0], info[1]);
  if (IsSinglePrecision(env, info[2], "x")) Backward<float>(spec, info);
  else Backward<double>(spec, info);
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("flowTransform", FlowTransform);
SBI_NATIVE_FUNCTION("flowTransformBackward", FlowTransformBackward);
}  // namespace sbi_native
