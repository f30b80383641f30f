// Circle and interval transforms (kernels/manifold/) over a batch of n elements, in the precision
// of the arrays passed (Float64Array: double kernels, Float32Array: float kernels).
//   manifoldTransform(transform, direction, hyper, x, params, y, ladj)
//     direction "forward" writes y = f(x) and log|dy/dx|; "inverse" takes y in `x` and writes
//     x = f⁻¹(y) and log|dx/dy|. Both outputs are required.
//   manifoldTransformBackward(transform, hyper, x, params, gy, gl, gx, gparams)
//     dL/dx and dL/dparams of the forward pass from dL/dy and dL/dlog|dy/dx| per element.
// transform and hyper:
//   "circularSpline" [bins, minBinWidth, minBinHeight, minDerivative]   3·bins + 1 params
//   "intervalSpline" [bins, minBinWidth, minBinHeight, minDerivative]   3·bins + 1 params
//   "moebius"        [components]                                       3·components + 1 params
//   "ncp"            [components, minAlpha]                             2·components + 1 params
// Angles may be any finite number (taken modulo 2π); interval inputs must lie in [−1, 1]; every
// parameter must be finite.
#include <algorithm>
#include <cmath>
#include <string>

#include "../kernels/manifold/circle.h"
#include "../kernels/manifold/interval.h"
#include "batch.h"
#include "flow_spec.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

enum class Kind { CircularSpline, IntervalSpline, Moebius, Ncp };

struct ManifoldSpec {
  Kind kind;
  int size;  // bins or components
  double min_bin_width, min_bin_height, min_derivative, min_alpha;
  int params_per_element;
};

ManifoldSpec GetManifoldSpec(Napi::Env env, const Napi::Value& name_v, const Napi::Value& hyper_v) {
  const std::string name = GetString(name_v, "transform");
  auto hyper = GetFloat64Array(hyper_v, "hyper");
  for (size_t i = 0; i < hyper.length; ++i)
    if (!std::isfinite(hyper.data[i]))
      ThrowRangeError(env, "Expected finite values in `hyper` but index " + std::to_string(i) + " is " +
                               std::to_string(hyper.data[i]));
  auto need = [&](size_t count, const char* layout) {
    if (hyper.length != count)
      ThrowRangeError(env, "Expected `hyper` = " + std::string(layout) + " for " + name + " but it has " +
                               std::to_string(hyper.length) + " values");
  };
  auto size = [&](const char* what) {
    const double k = hyper.data[0];
    if (!(k >= 1 && k <= 1024 && k == std::floor(k)))
      ThrowRangeError(env, std::string("Expected an integer in [1, 1024] for `") + what + "` but received " +
                               std::to_string(k));
    return static_cast<int>(k);
  };
  ManifoldSpec s{};
  if (name == "circularSpline" || name == "intervalSpline") {
    need(4, "[bins, minBinWidth, minBinHeight, minDerivative]");
    s.kind = name == "circularSpline" ? Kind::CircularSpline : Kind::IntervalSpline;
    s.size = size("bins");
    s.min_bin_width = hyper.data[1];
    s.min_bin_height = hyper.data[2];
    s.min_derivative = hyper.data[3];
    for (double m : {s.min_bin_width, s.min_bin_height})
      if (!(m >= 0 && m * s.size < 1))
        ThrowRangeError(env, "Expected `minBinWidth` and `minBinHeight` in [0, 1/bins) but received " + std::to_string(m));
    if (!(s.min_derivative > 0))
      ThrowRangeError(env, "Expected a positive `minDerivative` but received " + std::to_string(s.min_derivative));
    s.params_per_element = 3 * s.size + 1;
  } else if (name == "moebius") {
    need(1, "[components]");
    s.kind = Kind::Moebius;
    s.size = size("components");
    s.params_per_element = sbi::circle_mixture_param_count<sbi::MoebiusComponent<double>>(s.size);
  } else if (name == "ncp") {
    need(2, "[components, minAlpha]");
    s.kind = Kind::Ncp;
    s.size = size("components");
    s.min_alpha = hyper.data[1];
    if (!(s.min_alpha > 0)) ThrowRangeError(env, "Expected a positive `minAlpha` but received " + std::to_string(s.min_alpha));
    s.params_per_element = sbi::circle_mixture_param_count<sbi::NcpComponent<double>>(s.size);
  } else {
    ThrowRangeError(env, "Expected \"circularSpline\", \"intervalSpline\", \"moebius\" or \"ncp\" for `transform` but received " +
                             Describe(name_v));
  }
  return s;
}

// Inputs: finite angles, or values in [−1, 1] for the interval spline; parameters finite.
template <class T>
void CheckInputs(Napi::Env env, const ManifoldSpec& s, const char* name, const View<T>& x, const View<T>& params) {
  for (size_t i = 0; i < x.length; ++i) {
    const double v = static_cast<double>(x.data[i]);
    const bool ok = s.kind == Kind::IntervalSpline ? (v >= -1 && v <= 1) : std::isfinite(v);
    if (!ok)
      ThrowRangeError(env, std::string("Expected ") +
                               (s.kind == Kind::IntervalSpline ? "values in [-1, 1]" : "finite angles") + " in `" + name +
                               "` but `" + name + "[" + std::to_string(i) + "]` is " + std::to_string(v));
  }
  for (size_t j = 0; j < params.length; ++j)
    if (!std::isfinite(params.data[j]))
      ThrowRangeError(env, "Expected finite values in `params` but `params[" + std::to_string(j) + "]` is " +
                               std::to_string(static_cast<double>(params.data[j])));
}

void Run(int64_t n, int params_per_element, std::function<void(int64_t, int64_t)> range) {
  BatchJob job;
  job.n = n;
  job.grain = std::max<int64_t>(64, 16384 / params_per_element);
  job.range = std::move(range);
  RunBatch(job, nullptr, nullptr);
}

// Calls op(i) with the element kernels of spec's transform bound: a functor taking the kernel set.
template <class T>
struct Kernels {
  sbi::CircleSplineConfig<T> circle;
  sbi::IntervalSplineConfig<T> interval;
  sbi::CircleMixtureConfig<T> mixture;
  Kind kind;
  explicit Kernels(const ManifoldSpec& s)
      : circle{s.size, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)},
        interval{s.size, T(s.min_bin_width), T(s.min_bin_height), T(s.min_derivative)},
        mixture{s.size, T(s.min_alpha)},
        kind(s.kind) {}
  void forward(T x, const T* p, T* y, T* l) const {
    switch (kind) {
      case Kind::CircularSpline: sbi::circle_spline_forward(circle, x, p, y, l); break;
      case Kind::IntervalSpline: sbi::interval_spline_forward(interval, x, p, y, l); break;
      case Kind::Moebius: sbi::circle_mixture_forward<sbi::MoebiusComponent<T>>(mixture, x, p, y, l); break;
      case Kind::Ncp: sbi::circle_mixture_forward<sbi::NcpComponent<T>>(mixture, x, p, y, l); break;
    }
  }
  void inverse(T y, const T* p, T* x, T* l) const {
    switch (kind) {
      case Kind::CircularSpline: sbi::circle_spline_inverse(circle, y, p, x, l); break;
      case Kind::IntervalSpline: sbi::interval_spline_inverse(interval, y, p, x, l); break;
      case Kind::Moebius: sbi::circle_mixture_inverse<sbi::MoebiusComponent<T>>(mixture, y, p, x, l); break;
      case Kind::Ncp: sbi::circle_mixture_inverse<sbi::NcpComponent<T>>(mixture, y, p, x, l); break;
    }
  }
  void backward(T x, const T* p, T gy, T gl, T* gx, T* gp) const {
    switch (kind) {
      case Kind::CircularSpline: sbi::circle_spline_backward(circle, x, p, gy, gl, gx, gp); break;
      case Kind::IntervalSpline: sbi::interval_spline_backward(interval, x, p, gy, gl, gx, gp); break;
      case Kind::Moebius: sbi::circle_mixture_backward<sbi::MoebiusComponent<T>>(mixture, x, p, gy, gl, gx, gp); break;
      case Kind::Ncp: sbi::circle_mixture_backward<sbi::NcpComponent<T>>(mixture, x, p, gy, gl, gx, gp); break;
    }
  }
};

template <class T>
void Apply(Napi::Env env, const ManifoldSpec& spec, bool inverse, const Napi::CallbackInfo& info) {
  const char* in_name = inverse ? "y" : "x";
  auto x = GetFloatArray<T>(info[3], "x", -1);
  const int64_t n = static_cast<int64_t>(x.length);
  const int p = spec.params_per_element;
  auto params = GetFloatArray<T>(info[4], "params", n * p);
  T* out = GetFloatArray<T>(info[5], "y", n).data;
  T* ladj = GetFloatArray<T>(info[6], "ladj", n).data;
  CheckInputs(env, spec, in_name, x, params);
  const Kernels<T> k(spec);
  const T* xs = x.data;
  const T* ps = params.data;
  Run(n, p, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (inverse) k.inverse(xs[i], ps + i * p, &out[i], &ladj[i]);
      else k.forward(xs[i], ps + i * p, &out[i], &ladj[i]);
    }
  });
}

template <class T>
void Backward(Napi::Env env, const ManifoldSpec& spec, const Napi::CallbackInfo& info) {
  auto x = GetFloatArray<T>(info[2], "x", -1);
  const int64_t n = static_cast<int64_t>(x.length);
  const int p = spec.params_per_element;
  auto params = GetFloatArray<T>(info[3], "params", n * p);
  const T* gy = GetFloatArray<T>(info[4], "gy", n).data;
  const T* gl = GetFloatArray<T>(info[5], "gl", n).data;
  T* gx = GetFloatArray<T>(info[6], "gx", n).data;
  T* gparams = GetFloatArray<T>(info[7], "gparams", n * p).data;
  CheckInputs(env, spec, "x", x, params);
  const Kernels<T> k(spec);
  const T* xs = x.data;
  const T* ps = params.data;
  Run(n, p, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) k.backward(xs[i], ps + i * p, gy[i], gl[i], &gx[i], gparams + i * p);
  });
}

Napi::Value ManifoldTransform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ManifoldSpec spec = GetManifoldSpec(env, info[0], info[2]);
  const std::string direction = GetString(info[1], "direction");
  if (direction != "forward" && direction != "inverse")
    ThrowRangeError(env, "Expected \"forward\" or \"inverse\" for `direction` but received " + Describe(info[1]));
  if (IsSinglePrecision(env, info[3], "x")) Apply<float>(env, spec, direction == "inverse", info);
  else Apply<double>(env, spec, direction == "inverse", info);
  return env.Undefined();
}

Napi::Value ManifoldTransformBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ManifoldSpec spec = GetManifoldSpec(env, info[0], info[1]);
  if (IsSinglePrecision(env, info[2], "x")) Backward<float>(env, spec, info);
  else Backward<double>(env, spec, info);
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("manifoldTransform", ManifoldTransform);
SBI_NATIVE_FUNCTION("manifoldTransformBackward", ManifoldTransformBackward);
}  // namespace sbi_native
