// N-API boundary of the mixture density network (kernels/flows/mdn.h, native/mdn_trainer.h).
// arch = Int32Array [dim D, context C, hidden, hiddenLayers, components K]; the conditioner is a
// ReLU MLP [C, hidden × hiddenLayers, K · W] (W = 1 + 2D + D(D − 1)/2). Arrays of y and context
// are z-scored by the caller (the TypeScript MDN class), except in mdnTrain.
//   mdnHead(shape [D, K], out [n·K·W], y [n·D], logProb [n], dOut?) — the head alone:
//     log q(y_i | o_i) and, when dOut is given, ∂ Σ_i log q / ∂out. Float64Array or Float32Array
//     (all alike), for finite-difference tests.
//   mdnNetLogProb(arch, params, context [n·C], y [n·D], logProb [n], grads?) — the whole network
//     in the precision of params (Float64Array: the portable double kernels, for finite
//     differences; Float32Array: the per-ISA float ones); grads = ∂ Σ_i log q / ∂params.
//   mdnTrain(arch, y Float64Array [n·D], context Float64Array [n·C], options, onEpoch, cancelFlag)
//     -> Promise of { params: Float32Array (best epoch), epochs, bestEpoch, bestValidationLoss,
//        trainLoss, validationLoss, thetaMean, thetaStd (y's), xMean, xStd (the context's) };
//     options { seed, maxEpochs?, batchSize?, learningRate?, validationFraction?,
//     stopAfterEpochs?, clipMaxNorm?, threads? }, onEpoch and cancelFlag as nreTrain.
//   mdnLogProb(arch, params Float32Array, y [n·D], context [C] or [n·C], logProb [n], threads?)
//   mdnSample(arch, params Float32Array, context [C] or [n·C], n, seed, y [n·D], threads?) — row i
//     draws from Philox stream i of `seed`: the same samples for any thread count.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "../kernels/nn/mlp.h"
#include "batch.h"
#include "mdn_trainer.h"
#include "napi_util.h"
#include "nn_dispatch.h"
#include "train_worker.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 31;
constexpr int kMaxMdnDim = 64;
constexpr int kMaxComponents = 100;
constexpr int64_t kRowsPerTask = 128;

std::string Join(const int32_t* a, int n) {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(a[i]);
  return s + "]";
}

MdnNetShape GetArch(const Napi::Value& v) {
  const View<int32_t> a = GetInt32Array(v, "arch", 5);
  const int32_t* d = a.data;
  if (d[0] < 1 || d[0] > kMaxMdnDim || d[1] < 1 || d[1] > (1 << 16) || d[2] < 1 || d[2] > 4096 || d[3] < 1 || d[3] > 16 ||
      d[4] < 1 || d[4] > kMaxComponents)
    ThrowRangeError(v.Env(), "Expected `arch` = [dim in [1, " + std::to_string(kMaxMdnDim) +
                                 "], context in [1, 65536], hidden in [1, 4096], hiddenLayers in [1, 16], components in [1, " +
                                 std::to_string(kMaxComponents) + "]] but received " + Join(d, 5));
  MdnNetShape s;
  s.dim = d[0];
  s.context = d[1];
  s.hidden = d[2];
  s.hidden_layers = d[3];
  s.components = d[4];
  return s;
}

bool IsFloat32(const Napi::Value& v, const char* name) {
  if (v.IsTypedArray()) {
    const napi_typedarray_type t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) return true;
    if (t == napi_float64_array) return false;
  }
  ThrowTypeError(v.Env(), std::string("Expected a Float64Array or Float32Array for `") + name + "` but received " + Describe(v));
}

// Rows of a [rows, dim] array (a positive multiple of dim values).
int64_t RowsOf(Napi::Env env, size_t length, int64_t dim, const char* name) {
  if (length == 0 || length % dim != 0 || static_cast<int64_t>(length / dim) > kMaxRows)
    ThrowRangeError(env, std::string("Expected `") + name + "` to hold a positive multiple of " + std::to_string(dim) +
                             " values but received " + std::to_string(length));
  return static_cast<int64_t>(length / dim);
}

template <class T>
void HeadT(const Napi::CallbackInfo& info, const sbi::MdnShape& s) {
  const int64_t width = sbi::mdn_output_width(s);
  const View<T> y = GetFloatArray<T>(info[2], "y", -1);
  const int64_t n = RowsOf(info.Env(), y.length, s.dim, "y");
  const T* out = GetFloatArray<T>(info[1], "out", n * width).data;
  T* log_prob = GetFloatArray<T>(info[3], "logProb", n).data;
  T* dout = IsAbsent(info[4]) ? nullptr : GetFloatArray<T>(info[4], "dOut", n * width).data;
  std::vector<T> work(sbi::mdn_work_size(s));
  for (int64_t i = 0; i < n; ++i)
    log_prob[i] = dout ? sbi::mdn_row_backward(s, out + i * width, y.data + i * s.dim, T(1), dout + i * width, work.data())
                       : sbi::mdn_row_log_prob(s, out + i * width, y.data + i * s.dim, work.data());
}

Napi::Value MdnHead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const View<int32_t> a = GetInt32Array(info[0], "shape", 2);
  if (a.data[0] < 1 || a.data[0] > kMaxMdnDim || a.data[1] < 1 || a.data[1] > kMaxComponents)
    ThrowRangeError(env, "Expected `shape` = [dim in [1, " + std::to_string(kMaxMdnDim) + "], components in [1, " +
                             std::to_string(kMaxComponents) + "]] but received " + Join(a.data, 2));
  const sbi::MdnShape s{a.data[0], a.data[1]};
  if (IsFloat32(info[1], "out")) HeadT<float>(info, s);
  else HeadT<double>(info, s);
  return env.Undefined();
}

template <class T>
void NetT(const Napi::CallbackInfo& info, const MdnNetShape& s) {
  const std::vector<int64_t> sizes = s.sizes();
  const int layers = static_cast<int>(sizes.size()) - 1;
  const int64_t P = s.param_count(), width = sizes.back();
  const T* params = GetFloatArray<T>(info[1], "params", P).data;
  const View<T> c = GetFloatArray<T>(info[2], "context", -1);
  const int64_t n = RowsOf(info.Env(), c.length, s.context, "context");
  const T* y = GetFloatArray<T>(info[3], "y", n * s.dim).data;
  T* log_prob = GetFloatArray<T>(info[4], "logProb", n).data;
  T* grads = IsAbsent(info[5]) ? nullptr : GetFloatArray<T>(info[5], "grads", P).data;
  constexpr auto act = sbi::nn::Activation::ReLU;
  std::vector<T> saved(sbi::nn::mlp_saved_size(act, layers, sizes.data(), n)), work(sbi::mdn_work_size(s.head()));
  const T* out;
  if constexpr (std::is_same<T, float>::value) out = MdnConditioner(s, n, params, c.data, saved.data());
  else out = sbi::nn::mlp_forward(act, layers, sizes.data(), n, c.data, params, saved.data());
  if (!grads) {
    for (int64_t i = 0; i < n; ++i) log_prob[i] = sbi::mdn_row_log_prob(s.head(), out + i * width, y + i * s.dim, work.data());
    return;
  }
  std::vector<T> dout(n * width), scratch(sbi::nn::mlp_scratch_size(layers, sizes.data(), n));
  for (int64_t i = 0; i < n; ++i)
    log_prob[i] = sbi::mdn_row_backward(s.head(), out + i * width, y + i * s.dim, T(1), &dout[i * width], work.data());
  if constexpr (std::is_same<T, float>::value)
    MlpBackward(act, layers, sizes.data(), n, c.data, params, saved.data(), dout.data(), grads, scratch.data());
  else
    sbi::nn::mlp_backward(act, layers, sizes.data(), n, c.data, params, saved.data(), dout.data(), grads, scratch.data());
}

Napi::Value MdnNetLogProb(const Napi::CallbackInfo& info) {
  const MdnNetShape s = GetArch(info[0]);
  if (IsFloat32(info[1], "params")) NetT<float>(info, s);
  else NetT<double>(info, s);
  return info.Env().Undefined();
}

// Rows of a finite [rows, dim] Float64Array.
int64_t GetFiniteRows(const Napi::Value& v, const char* name, int64_t dim) {
  const View<double> a = GetFloat64Array(v, name, -1);
  const int64_t n = RowsOf(v.Env(), a.length, dim, name);
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(a.data[i]))
      ThrowRangeError(v.Env(), std::string("Expected finite values in `") + name + "` but index " + std::to_string(i) +
                                   " is " + std::to_string(a.data[i]));
  return n;
}

struct TrainJob {
  MdnNetShape shape;
  training::Config config;
  int64_t n = 0;
  std::vector<double> y, context;  // copies: JS may change its arrays while training runs
  uint64_t seed = 0;
  MdnTrainResult result;

  using Epoch = training::Epoch;
  void Run(const int32_t* cancel, const std::function<void(const Epoch&)>& on_epoch) {
    result = TrainMdn(shape, config, n, y.data(), context.data(), seed, cancel, on_epoch);
  }
  bool Cancelled() const { return result.fit.cancelled; }
  void Fill(Napi::Env env, Napi::Object& o) const {
    const training::Result& r = result.fit;
    Napi::Float32Array params = Napi::Float32Array::New(env, r.params.size());
    std::copy(r.params.begin(), r.params.end(), params.Data());
    o.Set("params", params);
    SetTrainingSummary(env, o, r.train_loss, r.validation_loss, r.best_epoch, r.best_validation_loss);
    o.Set("thetaMean", ToFloat64Array(env, result.stats.y_mean));
    o.Set("thetaStd", ToFloat64Array(env, result.stats.y_std));
    o.Set("xMean", ToFloat64Array(env, result.stats.c_mean));
    o.Set("xStd", ToFloat64Array(env, result.stats.c_std));
  }
};

Napi::Value MdnTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<TrainJob>();
  job->shape = GetArch(info[0]);
  const MdnNetShape& s = job->shape;
  job->n = GetFiniteRows(info[1], "y", s.dim);
  const View<double> y = GetFloat64Array(info[1], "y", job->n * s.dim);
  const View<double> c = GetFloat64Array(info[2], "context", job->n * s.context);
  GetFiniteRows(info[2], "context", s.context);
  job->y.assign(y.data, y.data + y.length);
  job->context.assign(c.data, c.data + c.length);

  if (!info[3].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[3]));
  const Napi::Object o = info[3].As<Napi::Object>();
  job->seed = GetSeed(o.Get("seed"), "seed");
  training::Config& cfg = job->config;
  ReadTrainingOptions(env, o, cfg);
  const int64_t n_val = training::ValidationRows(job->n, cfg.validation_fraction);
  if (n_val < 1 || job->n - n_val < 1)
    ThrowRangeError(env, "Expected at least one validation and one training row but " + std::to_string(job->n) +
                             " rows with validationFraction " + std::to_string(cfg.validation_fraction) + " give " +
                             std::to_string(n_val) + " validation rows");

  return QueueTrainWorker(env, std::move(job), info[4], info[5]);
}

// A float context of one row (broadcast, stride 0) or n rows; non-finite values rejected.
const float* GetContext(const Napi::Value& v, const MdnNetShape& s, int64_t n, int64_t* stride) {
  const View<float> c = GetFloat32Array(v, "context", -1);
  if (static_cast<int64_t>(c.length) == s.context) *stride = 0;
  else if (static_cast<int64_t>(c.length) == n * s.context) *stride = s.context;
  else
    ThrowRangeError(v.Env(), "Expected `context` to hold " + std::to_string(s.context) + " values (one row for all) or " +
                                 std::to_string(n * s.context) + " (one per row) but received " + std::to_string(c.length));
  for (size_t i = 0; i < c.length; ++i)
    if (!std::isfinite(c.data[i]))
      ThrowRangeError(v.Env(), "Expected finite values in `context` but index " + std::to_string(i) + " is " +
                                   std::to_string(c.data[i]));
  return c.data;
}

// Runs body(r0, rows, out) over chunks of rows with the conditioner's output rows `out`
// (stride 0 for a broadcast context: computed once).
template <class F>
void ForOutputs(const MdnNetShape& s, const float* params, const float* c, int64_t c_stride, int64_t n, int threads,
                F&& body) {
  const std::vector<int64_t> sizes = s.sizes();
  const int layers = static_cast<int>(sizes.size()) - 1;
  const int64_t width = sizes.back();
  std::vector<float> shared;
  const float* broadcast = nullptr;
  if (c_stride == 0) {
    shared.resize(sbi::nn::mlp_saved_size(sbi::nn::Activation::ReLU, layers, sizes.data(), 1));
    broadcast = MdnConditioner(s, 1, params, c, shared.data());
  }
  BatchJob job;
  job.n = n;
  job.threads = threads;
  job.grain = kRowsPerTask;
  job.range = [&](int64_t b, int64_t e) {
    std::vector<float> saved(broadcast ? 0 : sbi::nn::mlp_saved_size(sbi::nn::Activation::ReLU, layers, sizes.data(), kRowsPerTask));
    for (int64_t r0 = b; r0 < e; r0 += kRowsPerTask) {
      const int64_t rows = std::min(kRowsPerTask, e - r0);
      if (broadcast) body(r0, rows, broadcast, int64_t{0});
      else body(r0, rows, MdnConditioner(s, rows, params, c + r0 * c_stride, saved.data()), width);
    }
  };
  RunBatch(job, nullptr, nullptr);
}

Napi::Value MdnLogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MdnNetShape s = GetArch(info[0]);
  const float* params = GetFloat32Array(info[1], "params", s.param_count()).data;
  const View<float> y = GetFloat32Array(info[2], "y", -1);
  const int64_t n = RowsOf(env, y.length, s.dim, "y");
  int64_t stride = 0;
  const float* c = GetContext(info[3], s, n, &stride);
  float* log_prob = GetFloat32Array(info[4], "logProb", n).data;
  const int threads = GetThreads(info[5]);
  ForOutputs(s, params, c, stride, n, threads, [&](int64_t r0, int64_t rows, const float* out, int64_t out_stride) {
    std::vector<float> work(sbi::mdn_work_size(s.head()));
    sbi::mdn_log_prob(s.head(), rows, out, out_stride, y.data + r0 * s.dim, log_prob + r0, work.data());
  });
  return env.Undefined();
}

Napi::Value MdnSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MdnNetShape s = GetArch(info[0]);
  const float* params = GetFloat32Array(info[1], "params", s.param_count()).data;
  const int64_t n = GetInteger(info[3], "n", 1, kMaxRows);
  int64_t stride = 0;
  const float* c = GetContext(info[2], s, n, &stride);
  const uint64_t seed = GetSeed(info[4], "seed");
  float* y = GetFloat32Array(info[5], "y", n * s.dim).data;
  const int threads = GetThreads(info[6]);
  ForOutputs(s, params, c, stride, n, threads, [&](int64_t r0, int64_t rows, const float* out, int64_t out_stride) {
    std::vector<float> work(sbi::mdn_work_size(s.head()));
    for (int64_t i = 0; i < rows; ++i) {
      sbi::PhiloxStream rng(seed, static_cast<uint64_t>(r0 + i));
      sbi::mdn_row_sample(s.head(), out + i * out_stride, rng, y + (r0 + i) * s.dim, work.data());
    }
  });
  return env.Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "mdnHead", MdnHead);
  ExportFunction(env, exports, "mdnNetLogProb", MdnNetLogProb);
  ExportFunction(env, exports, "mdnTrain", MdnTrain);
  ExportFunction(env, exports, "mdnLogProb", MdnLogProb);
  ExportFunction(env, exports, "mdnSample", MdnSample);
}

}  // namespace
SBI_NATIVE_MODULE(Init);
}  // namespace sbi_native
