// The neural-network kernels of kernels/nn/ on whole arrays, for tests: every entry point runs
// the double instantiation on Float64Arrays and the float instantiation on Float32Arrays (all
// floating-point arrays of one call share the type of the first). Single-threaded; the training
// loop will call the kernels directly, not through these.
#include <string>
#include <vector>

#include "../kernels/nn/adam.h"
#include "../kernels/nn/dense.h"
#include "../kernels/nn/loss.h"
#include "../kernels/nn/mlp.h"
#include "../kernels/nn/residual.h"
#include "../kernels/nn/standardize.h"
#include "arg_checks.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

using sbi::nn::Activation;

constexpr int64_t kMaxRows = int64_t{1} << 31;
constexpr int64_t kMaxDim = int64_t{1} << 24;

// Absent (undefined / null) -> nullptr, else an array of exactly `expected` elements.
template <class T>
T* GetOptionalArray(const Napi::Value& v, const char* name, int64_t expected) {
  return IsAbsent(v) ? nullptr : GetFloatArray<T>(v, name, expected).data;
}

// True for a Float32Array, false for a Float64Array; anything else is a TypeError.
bool IsSinglePrecision(const Napi::Value& v, const char* name) {
  if (v.IsTypedArray()) {
    const napi_typedarray_type t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) return true;
    if (t == napi_float64_array) return false;
  }
  ThrowTypeError(v.Env(), std::string("Expected a Float64Array or Float32Array for `") + name + "` but received " +
                              Describe(v));
}

// nnDenseForward(activation, n, inDim, outDim, x, w, b, y, pre?) — pre required for silu.
template <class T>
void DenseForwardT(const Napi::CallbackInfo& info, Activation act, int64_t n, int64_t in, int64_t out) {
  const T* x = GetFloatArray<T>(info[4], "x", n * in).data;
  const T* w = GetFloatArray<T>(info[5], "w", out * in).data;
  const T* b = GetFloatArray<T>(info[6], "b", out).data;
  T* y = GetFloatArray<T>(info[7], "y", n * out).data;
  T* pre = sbi::nn::activation_needs_preactivation(act) ? GetFloatArray<T>(info[8], "pre", n * out).data
                                                       : GetOptionalArray<T>(info[8], "pre", n * out);
  sbi::nn::dense_forward(act, n, in, out, x, w, b, y, pre);
}
Napi::Value DenseForward(const Napi::CallbackInfo& info) {
  const Activation act = GetActivation(info[0]);
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t in = GetInteger(info[2], "inDim", 1, kMaxDim);
  const int64_t out = GetInteger(info[3], "outDim", 1, kMaxDim);
  if (IsSinglePrecision(info[4], "x")) DenseForwardT<float>(info, act, n, in, out);
  else DenseForwardT<double>(info, act, n, in, out);
  return info.Env().Undefined();
}

// nnDenseBackward(activation, n, inDim, outDim, x, w, y, pre, dy, dx?, dw, db) — y unused for
// identity, pre used (and required) only for silu.
template <class T>
void DenseBackwardT(const Napi::CallbackInfo& info, Activation act, int64_t n, int64_t in, int64_t out) {
  const T* x = GetFloatArray<T>(info[4], "x", n * in).data;
  const T* w = GetFloatArray<T>(info[5], "w", out * in).data;
  const T* y = act == Activation::Identity ? nullptr : GetFloatArray<T>(info[6], "y", n * out).data;
  const T* pre = sbi::nn::activation_needs_preactivation(act) ? GetFloatArray<T>(info[7], "pre", n * out).data : nullptr;
  const T* dy = GetFloatArray<T>(info[8], "dy", n * out).data;
  T* dx = GetOptionalArray<T>(info[9], "dx", n * in);
  T* dw = GetFloatArray<T>(info[10], "dw", out * in).data;
  T* db = GetFloatArray<T>(info[11], "db", out).data;
  sbi::nn::dense_backward(act, n, in, out, x, w, y, pre, dy, dx, dw, db);
}
Napi::Value DenseBackward(const Napi::CallbackInfo& info) {
  const Activation act = GetActivation(info[0]);
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t in = GetInteger(info[2], "inDim", 1, kMaxDim);
  const int64_t out = GetInteger(info[3], "outDim", 1, kMaxDim);
  if (IsSinglePrecision(info[4], "x")) DenseBackwardT<float>(info, act, n, in, out);
  else DenseBackwardT<double>(info, act, n, in, out);
  return info.Env().Undefined();
}

// nnResidualForward(activation, n, dim, x, w1, b1, w2, b2, saved [3·n·dim], y)
template <class T>
void ResidualForwardT(const Napi::CallbackInfo& info, Activation act, int64_t n, int64_t d) {
  const T* x = GetFloatArray<T>(info[3], "x", n * d).data;
  const T* w1 = GetFloatArray<T>(info[4], "w1", d * d).data;
  const T* b1 = GetFloatArray<T>(info[5], "b1", d).data;
  const T* w2 = GetFloatArray<T>(info[6], "w2", d * d).data;
  const T* b2 = GetFloatArray<T>(info[7], "b2", d).data;
  T* saved = GetFloatArray<T>(info[8], "saved", sbi::nn::residual_saved_size(n, d)).data;
  T* y = GetFloatArray<T>(info[9], "y", n * d).data;
  sbi::nn::residual_forward(act, n, d, x, w1, b1, w2, b2, saved, y);
}
Napi::Value ResidualForward(const Napi::CallbackInfo& info) {
  const Activation act = GetActivation(info[0]);
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t d = GetInteger(info[2], "dim", 1, kMaxDim);
  if (IsSinglePrecision(info[3], "x")) ResidualForwardT<float>(info, act, n, d);
  else ResidualForwardT<double>(info, act, n, d);
  return info.Env().Undefined();
}

// nnResidualBackward(activation, n, dim, x, w1, w2, saved, dy, dx, dw1, db1, dw2, db2)
template <class T>
void ResidualBackwardT(const Napi::CallbackInfo& info, Activation act, int64_t n, int64_t d) {
  const T* x = GetFloatArray<T>(info[3], "x", n * d).data;
  const T* w1 = GetFloatArray<T>(info[4], "w1", d * d).data;
  const T* w2 = GetFloatArray<T>(info[5], "w2", d * d).data;
  const T* saved = GetFloatArray<T>(info[6], "saved", sbi::nn::residual_saved_size(n, d)).data;
  const T* dy = GetFloatArray<T>(info[7], "dy", n * d).data;
  T* dx = GetFloatArray<T>(info[8], "dx", n * d).data;
  T* dw1 = GetFloatArray<T>(info[9], "dw1", d * d).data;
  T* db1 = GetFloatArray<T>(info[10], "db1", d).data;
  T* dw2 = GetFloatArray<T>(info[11], "dw2", d * d).data;
  T* db2 = GetFloatArray<T>(info[12], "db2", d).data;
  std::vector<T> scratch(static_cast<size_t>(sbi::nn::residual_scratch_size(n, d)));
  sbi::nn::residual_backward(act, n, d, x, w1, w2, saved, dy, scratch.data(), dx, dw1, db1, dw2, db2);
}
Napi::Value ResidualBackward(const Napi::CallbackInfo& info) {
  const Activation act = GetActivation(info[0]);
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t d = GetInteger(info[2], "dim", 1, kMaxDim);
  if (IsSinglePrecision(info[3], "x")) ResidualBackwardT<float>(info, act, n, d);
  else ResidualBackwardT<double>(info, act, n, d);
  return info.Env().Undefined();
}

double GetPositiveNumber(const Napi::Value& v, const char* name) {
  const double d = GetNumber(v, name);
  if (!(d > 0)) ThrowRangeError(v.Env(), std::string("Expected a positive number for `") + name + "` but received " + Describe(v));
  return d;
}

// nnStandardizeFit(n, dim, x, minStd, mean, std)
template <class T>
void StandardizeFitT(const Napi::CallbackInfo& info, int64_t n, int64_t d) {
  const T* x = GetFloatArray<T>(info[2], "x", n * d).data;
  const T min_std = T(GetPositiveNumber(info[3], "minStd"));
  T* mean = GetFloatArray<T>(info[4], "mean", d).data;
  T* std_dev = GetFloatArray<T>(info[5], "std", d).data;
  sbi::nn::standardize_fit(n, d, x, min_std, mean, std_dev);
}
Napi::Value StandardizeFit(const Napi::CallbackInfo& info) {
  const int64_t n = GetInteger(info[0], "n", 1, kMaxRows);
  const int64_t d = GetInteger(info[1], "dim", 1, kMaxDim);
  if (IsSinglePrecision(info[2], "x")) StandardizeFitT<float>(info, n, d);
  else StandardizeFitT<double>(info, n, d);
  return info.Env().Undefined();
}

// nnStandardize(direction, n, dim, mean, std, input, output): 'forward' input x -> output z,
// 'backward' input dz -> output dx.
template <class T>
void StandardizeT(const Napi::CallbackInfo& info, bool forward, int64_t n, int64_t d) {
  const T* mean = GetFloatArray<T>(info[3], "mean", d).data;
  const T* std_dev = GetFloatArray<T>(info[4], "std", d).data;
  for (int64_t j = 0; j < d; ++j)
    if (!(std_dev[j] > T(0)))
      ThrowRangeError(info.Env(), "Expected every element of `std` to be positive but std[" + std::to_string(j) +
                                      "] = " + std::to_string(double(std_dev[j])));
  const T* input = GetFloatArray<T>(info[5], "input", n * d).data;
  T* output = GetFloatArray<T>(info[6], "output", n * d).data;
  if (forward) sbi::nn::standardize_forward(n, d, mean, std_dev, input, output);
  else sbi::nn::standardize_backward(n, d, std_dev, input, output);
}
Napi::Value Standardize(const Napi::CallbackInfo& info) {
  const std::string dir = GetString(info[0], "direction");
  if (dir != "forward" && dir != "backward")
    ThrowRangeError(info.Env(), "Expected \"forward\" or \"backward\" for `direction` but received " + Describe(info[0]));
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t d = GetInteger(info[2], "dim", 1, kMaxDim);
  if (IsSinglePrecision(info[3], "mean")) StandardizeT<float>(info, dir == "forward", n, d);
  else StandardizeT<double>(info, dir == "forward", n, d);
  return info.Env().Undefined();
}

// nnLoss(kind, n, dim, pred, target, grad?) -> batch-mean loss. kind 'bce' | 'mse': target like
// pred [n, dim]; 'cross_entropy': pred [n, dim] logits, target an Int32Array of labels [n].
enum class LossKind { Bce, CrossEntropy, Mse };
template <class T>
double LossT(const Napi::CallbackInfo& info, LossKind kind, int64_t n, int64_t d) {
  const T* pred = GetFloatArray<T>(info[3], "pred", n * d).data;
  T* grad = GetOptionalArray<T>(info[5], "grad", n * d);
  if (kind == LossKind::CrossEntropy) {
    const int32_t* labels = GetInt32Array(info[4], "target", n).data;
    for (int64_t r = 0; r < n; ++r)
      if (labels[r] < 0 || labels[r] >= d)
        ThrowRangeError(info.Env(), "Expected every label in `target` to be in [0, " + std::to_string(d) + ") but target[" +
                                        std::to_string(r) + "] = " + std::to_string(labels[r]));
    return double(sbi::nn::cross_entropy(n, d, pred, labels, grad));
  }
  const T* target = GetFloatArray<T>(info[4], "target", n * d).data;
  return double(kind == LossKind::Bce ? sbi::nn::bce_with_logits(n, d, pred, target, grad)
                                      : sbi::nn::mse(n, d, pred, target, grad));
}
Napi::Value Loss(const Napi::CallbackInfo& info) {
  const std::string name = GetString(info[0], "kind");
  LossKind kind;
  if (name == "bce") kind = LossKind::Bce;
  else if (name == "cross_entropy") kind = LossKind::CrossEntropy;
  else if (name == "mse") kind = LossKind::Mse;
  else ThrowRangeError(info.Env(), "Expected one of \"bce\", \"cross_entropy\", \"mse\" for `kind` but received " + Describe(info[0]));
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t d = GetInteger(info[2], "dim", 1, kMaxDim);
  const double value = IsSinglePrecision(info[3], "pred") ? LossT<float>(info, kind, n, d) : LossT<double>(info, kind, n, d);
  return Napi::Number::New(info.Env(), value);
}

// nnMlpForward(activation, sizes, n, x, params, saved, out) — out [n, sizes[L]] gets the output.
template <class T>
void MlpForwardT(const Napi::CallbackInfo& info, Activation act, const std::vector<int64_t>& sizes, int64_t n) {
  const int layers = static_cast<int>(sizes.size()) - 1;
  const T* x = GetFloatArray<T>(info[3], "x", n * sizes[0]).data;
  const T* params = GetFloatArray<T>(info[4], "params", sbi::nn::mlp_param_count(layers, sizes.data())).data;
  T* saved = GetFloatArray<T>(info[5], "saved", sbi::nn::mlp_saved_size(act, layers, sizes.data(), n)).data;
  T* out = GetFloatArray<T>(info[6], "out", n * sizes[layers]).data;
  const T* y = sbi::nn::mlp_forward(act, layers, sizes.data(), n, x, params, saved);
  for (int64_t i = 0; i < n * sizes[layers]; ++i) out[i] = y[i];
}
Napi::Value MlpForward(const Napi::CallbackInfo& info) {
  const Activation act = GetActivation(info[0]);
  const std::vector<int64_t> sizes = GetLayerSizes(info[1]);
  const int64_t n = GetInteger(info[2], "n", 1, int64_t{1} << 24);
  if (IsSinglePrecision(info[3], "x")) MlpForwardT<float>(info, act, sizes, n);
  else MlpForwardT<double>(info, act, sizes, n);
  return info.Env().Undefined();
}

// nnMlpBackward(activation, sizes, n, x, params, saved, dout, grads) — grads overwritten.
template <class T>
void MlpBackwardT(const Napi::CallbackInfo& info, Activation act, const std::vector<int64_t>& sizes, int64_t n) {
  const int layers = static_cast<int>(sizes.size()) - 1;
  const int64_t p = sbi::nn::mlp_param_count(layers, sizes.data());
  const T* x = GetFloatArray<T>(info[3], "x", n * sizes[0]).data;
  const T* params = GetFloatArray<T>(info[4], "params", p).data;
  const T* saved = GetFloatArray<T>(info[5], "saved", sbi::nn::mlp_saved_size(act, layers, sizes.data(), n)).data;
  const T* dout = GetFloatArray<T>(info[6], "dout", n * sizes[layers]).data;
  T* grads = GetFloatArray<T>(info[7], "grads", p).data;
  std::vector<T> scratch(sbi::nn::mlp_scratch_size(layers, sizes.data(), n));
  sbi::nn::mlp_backward(act, layers, sizes.data(), n, x, params, saved, dout, grads, scratch.data());
}
Napi::Value MlpBackward(const Napi::CallbackInfo& info) {
  const Activation act = GetActivation(info[0]);
  const std::vector<int64_t> sizes = GetLayerSizes(info[1]);
  const int64_t n = GetInteger(info[2], "n", 1, int64_t{1} << 24);
  if (IsSinglePrecision(info[3], "x")) MlpBackwardT<float>(info, act, sizes, n);
  else MlpBackwardT<double>(info, act, sizes, n);
  return info.Env().Undefined();
}

// nnAdamStep(params, grads, m, v, step, { lr, beta1?, beta2?, eps?, weightDecay?, decoupled? })
template <class T>
void AdamT(const Napi::CallbackInfo& info, const sbi::nn::AdamConfig& c, int64_t step) {
  View<T> theta = GetFloatArray<T>(info[0], "params");
  const int64_t p = static_cast<int64_t>(theta.length);
  const T* g = GetFloatArray<T>(info[1], "grads", p).data;
  T* m = GetFloatArray<T>(info[2], "m", p).data;
  T* v = GetFloatArray<T>(info[3], "v", p).data;
  sbi::nn::adam_step(c, step, p, theta.data, g, m, v);
}
Napi::Value AdamStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool single = IsSinglePrecision(info[0], "params");
  const int64_t step = GetInteger(info[4], "step", 1, int64_t{1} << 53);
  const sbi::nn::AdamConfig c = GetAdamConfig(info[5]);
  if (single) AdamT<float>(info, c, step);
  else AdamT<double>(info, c, step);
  return env.Undefined();
}

// nnClipGradNorm(grads, maxNorm) -> the norm before clipping.
Napi::Value ClipGradNorm(const Napi::CallbackInfo& info) {
  const bool single = IsSinglePrecision(info[0], "grads");
  const double max_norm = GetPositiveNumber(info[1], "maxNorm");
  double norm;
  if (single) {
    View<float> g = GetFloat32Array(info[0], "grads");
    norm = sbi::nn::clip_grad_norm(static_cast<int64_t>(g.length), g.data, max_norm);
  } else {
    View<double> g = GetFloat64Array(info[0], "grads");
    norm = sbi::nn::clip_grad_norm(static_cast<int64_t>(g.length), g.data, max_norm);
  }
  return Napi::Number::New(info.Env(), norm);
}

void InitNnOps(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "nnDenseForward", DenseForward);
  ExportFunction(env, exports, "nnDenseBackward", DenseBackward);
  ExportFunction(env, exports, "nnResidualForward", ResidualForward);
  ExportFunction(env, exports, "nnResidualBackward", ResidualBackward);
  ExportFunction(env, exports, "nnStandardizeFit", StandardizeFit);
  ExportFunction(env, exports, "nnStandardize", Standardize);
  ExportFunction(env, exports, "nnLoss", Loss);
  ExportFunction(env, exports, "nnMlpForward", MlpForward);
  ExportFunction(env, exports, "nnMlpBackward", MlpBackward);
  ExportFunction(env, exports, "nnAdamStep", AdamStep);
  ExportFunction(env, exports, "nnClipGradNorm", ClipGradNorm);
}

}  // namespace
SBI_NATIVE_MODULE(InitNnOps);
}  // namespace sbi_native
