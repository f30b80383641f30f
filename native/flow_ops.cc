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
#include "flow_spec.h"

namespace sbi_native {
namespace {

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
  const TransformSpec spec = GetTransformSpec(env, info[0], info[2]);
  const std::string direction = GetString(info[1], "direction");
  if (direction != "forward" && direction != "inverse")
    ThrowRangeError(env, "Expected \"forward\" or \"inverse\" for `direction` but received " + Describe(info[1]));
  if (IsSinglePrecision(env, info[3], "x")) Apply<float>(env, spec, direction == "inverse", info);
  else Apply<double>(env, spec, direction == "inverse", info);
  return env.Undefined();
}

Napi::Value FlowTransformBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TransformSpec spec = GetTransformSpec(env, info[0], info[1]);
  if (IsSinglePrecision(env, info[2], "x")) Backward<float>(spec, info);
  else Backward<double>(spec, info);
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("flowTransform", FlowTransform);
SBI_NATIVE_FUNCTION("flowTransformBackward", FlowTransformBackward);
}  // namespace sbi_native
