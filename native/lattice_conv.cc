// N-API boundary of the circular 2-D convolution (kernels/nn/conv2d_circular.h), batched over
// n samples; all arrays Float64Array or all Float32Array:
//   conv2dCircular(shape [n, cIn, cOut, L0, L1, K] Int32Array, weight [cOut·cIn·K·K], bias [cOut],
//                  x [n·cIn·L0·L1], y [n·cOut·L0·L1])
//   conv2dCircularBackward(shape, weight, x, gy [n·cOut·L0·L1], gx [n·cIn·L0·L1] | undefined,
//                          gweight [cOut·cIn·K·K], gbias [cOut])
//     gx overwritten; gweight and gbias overwritten by the sums over the batch (samples in order,
//     so the result does not depend on threads).
#include <algorithm>
#include <cmath>
#include <string>

#include "../kernels/nn/conv2d_circular.h"
#include "batch.h"
#include "flow_spec.h"
#include "finite_checks.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

struct ConvCall {
  int64_t n;
  sbi::Conv2dShape s;
  int64_t in_size, out_size;
};

ConvCall GetShape(const Napi::Value& v) {
  Napi::Env env = v.Env();
  const View<int32_t> a = GetInt32Array(v, "shape", 6);
  const char* names[6] = {"n", "cIn", "cOut", "L0", "L1", "K"};
  const int64_t hi[6] = {int64_t{1} << 24, 4096, 4096, 4096, 4096, 15};
  for (int i = 0; i < 6; ++i)
    if (a.data[i] < 1 || a.data[i] > hi[i])
      ThrowRangeError(env, std::string("Expected shape[") + std::to_string(i) + "] (" + names[i] + ") in [1, " +
                               std::to_string(hi[i]) + "] but received " + std::to_string(a.data[i]));
  if (a.data[5] % 2 == 0) ThrowRangeError(env, "Expected an odd kernel extent K but received " + std::to_string(a.data[5]));
  ConvCall c{};
  c.n = a.data[0];
  c.s = {a.data[1], a.data[2], a.data[3], a.data[4], a.data[5]};
  const int64_t plane = int64_t{c.s.L0} * c.s.L1;
  c.in_size = c.s.c_in * plane;
  c.out_size = c.s.c_out * plane;
  if (c.n * std::max(c.in_size, c.out_size) > (int64_t{1} << 31))
    ThrowRangeError(env, "Expected at most 2^31 values per array but shape asks for " +
                             std::to_string(c.n * std::max(c.in_size, c.out_size)));
  return c;
}

template <class T>
void ForwardT(Napi::Env env, const ConvCall& c, const Napi::CallbackInfo& info) {
  const View<T> w = GetFloatArray<T>(info[1], "weight", sbi::conv2d_weight_count(c.s));
  const View<T> b = GetFloatArray<T>(info[2], "bias", c.s.c_out);
  const View<T> x = GetFloatArray<T>(info[3], "x", c.n * c.in_size);
  T* y = GetFloatArray<T>(info[4], "y", c.n * c.out_size).data;
  CheckFiniteArray(env, w, "weight");
  CheckFiniteArray(env, b, "bias");
  CheckFiniteArray(env, x, "x");
  BatchJob job;
  job.n = c.n;
  job.grain = std::max<int64_t>(1, 16384 / (c.out_size * c.s.c_in * c.s.K * c.s.K));
  const T* wd = w.data;
  const T* bd = b.data;
  const T* xd = x.data;
  job.range = [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) sbi::conv2d_circular_forward(c.s, wd, bd, xd + i * c.in_size, y + i * c.out_size);
  };
  RunBatch(job, nullptr, nullptr);
}

template <class T>
void BackwardT(Napi::Env env, const ConvCall& c, const Napi::CallbackInfo& info) {
  const int wc = sbi::conv2d_weight_count(c.s);
  const View<T> w = GetFloatArray<T>(info[1], "weight", wc);
  const View<T> x = GetFloatArray<T>(info[2], "x", c.n * c.in_size);
  const View<T> gy = GetFloatArray<T>(info[3], "gy", c.n * c.out_size);
  T* gx = IsAbsent(info[4]) ? nullptr : GetFloatArray<T>(info[4], "gx", c.n * c.in_size).data;
  T* gw = GetFloatArray<T>(info[5], "gweight", wc).data;
  T* gb = GetFloatArray<T>(info[6], "gbias", c.s.c_out).data;
  CheckFiniteArray(env, w, "weight");
  CheckFiniteArray(env, x, "x");
  CheckFiniteArray(env, gy, "gy");
  std::fill(gw, gw + wc, T(0));
  std::fill(gb, gb + c.s.c_out, T(0));
  for (int64_t i = 0; i < c.n; ++i)
    sbi::conv2d_circular_backward(c.s, w.data, x.data + i * c.in_size, gy.data + i * c.out_size,
                                  gx != nullptr ? gx + i * c.in_size : nullptr, gw, gb);
}

Napi::Value Conv2dCircular(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ConvCall c = GetShape(info[0]);
  if (IsSinglePrecision(env, info[3], "x")) ForwardT<float>(env, c, info);
  else ForwardT<double>(env, c, info);
  return env.Undefined();
}

Napi::Value Conv2dCircularBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ConvCall c = GetShape(info[0]);
  if (IsSinglePrecision(env, info[2], "x")) BackwardT<float>(env, c, info);
  else BackwardT<double>(env, c, info);
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("conv2dCircular", Conv2dCircular);
SBI_NATIVE_FUNCTION("conv2dCircularBackward", Conv2dCircularBackward);
}  // namespace sbi_native
