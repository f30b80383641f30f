// N-API boundary of the binary MLP classifier (native/mlp_classifier.h):
//   classifierCrossValidate(x [n·dim] Float64Array, labels [n] Uint8Array of 0/1, n, dim,
//       { seed, folds, hiddenWidth?, maxEpochs?, threads? })
//     -> { accuracy, epochs, firstLoss, lastLoss }: Float64Arrays of one entry per fold
//   classifierCrossValidateAsync(..same.., onProgress, cancelFlag) -> Promise of the same;
//     progress counts folds; a set cancel flag stops training within one epoch (SbiError ABORTED).
// Folds train in parallel on the thread pool, each on its own Philox stream.
//   nnReluMlpSparse(sizes, widths, n, x, params, dout, out, grads), for tests: the classifier's
//     network kernels (kernels/nn/relu_sparse.h) on whole arrays, to compare with nnMlpForward /
//     nnMlpBackward('relu', ...) bit for bit and with central differences. Float64Arrays run the
//     double instantiation, Float32Arrays the float one. sizes [L + 1]: storage widths (mlp.h's
//     layout); widths [L + 1]: the logical ones, the rest of each stored row padding (0 in x and
//     params); out [n, sizes[L]] gets the output, grads (mlp.h's layout; its padding entries are
//     left as given) the gradients for dout.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../kernels/nn/relu_sparse.h"
#include "arg_checks.h"
#include "batch.h"
#include "mlp_classifier.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 31;
constexpr int64_t kMaxDim = int64_t{1} << 16;

struct CrossValidation {
  ClassifierConfig config;
  int64_t n = 0, dim = 0;
  const double* x = nullptr;
  const uint8_t* labels = nullptr;
  uint64_t seed = 0;
  const int32_t* cancel = nullptr;
  std::vector<int32_t> fold_of;
  std::vector<FoldResult> results;
};

Napi::Float64Array FoldColumn(Napi::Env env, const std::vector<FoldResult>& rs, double (*field)(const FoldResult&)) {
  Napi::Float64Array a = Napi::Float64Array::New(env, rs.size());
  for (size_t i = 0; i < rs.size(); ++i) a[i] = field(rs[i]);
  return a;
}

PreparedBatch PrepareCrossValidate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto cv = std::make_shared<CrossValidation>();
  cv->n = GetInteger(info[2], "n", 2, kMaxRows);
  cv->dim = GetInteger(info[3], "dim", 1, kMaxDim);
  cv->x = GetFloat64Array(info[0], "x", cv->n * cv->dim).data;
  const View<uint8_t> labels = GetUint8Array(info[1], "labels", cv->n);
  for (size_t i = 0; i < labels.length; ++i)
    if (labels.data[i] > 1) ThrowRangeError(env, "Expected labels 0 or 1 but labels[" + std::to_string(i) + "] is " +
                                                     std::to_string(labels.data[i]));
  cv->labels = labels.data;
  if (!info[4].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[4]));
  const Napi::Object o = info[4].As<Napi::Object>();
  cv->seed = GetSeed(o.Get("seed"), "seed");
  const int folds = static_cast<int>(GetInteger(o.Get("folds"), "folds", 2, std::min<int64_t>(cv->n, 1000)));
  const auto integer_option = [&o](const char* key, int64_t fallback, int64_t hi) {
    const Napi::Value v = o.Get(key);
    return IsAbsent(v) ? fallback : GetInteger(v, key, 1, hi);
  };
  cv->config.hidden_width = integer_option("hiddenWidth", 10 * cv->dim, 4096);
  cv->config.max_epochs = integer_option("maxEpochs", cv->config.max_epochs, 1000000000);
  const int threads = GetThreads(o.Get("threads"));
  // The async variant's cancel flag (argument 6) is also polled inside each fold's epoch loop.
  if (!IsAbsent(info[6])) cv->cancel = GetInt32Array(info[6], "cancelFlag", 1).data;
  cv->fold_of.resize(cv->n);
  AssignFolds(cv->n, folds, cv->seed, cv->fold_of.data());
  cv->results.resize(folds);

  PreparedBatch p;
  p.job.n = folds;
  p.job.grain = 1;
  p.job.threads = threads;
  p.job.range = [cv](int64_t b, int64_t e) {
    for (int64_t f = b; f < e; ++f)
      cv->results[f] = RunFold(cv->config, cv->n, cv->dim, cv->x, cv->labels, cv->fold_of.data(), static_cast<int>(f),
                               cv->seed, cv->cancel);
  };
  p.pinned = {info[0], info[1]};
  p.result = [cv](Napi::Env env) -> Napi::Value {
    Napi::Object r = Napi::Object::New(env);
    r.Set("accuracy", FoldColumn(env, cv->results, [](const FoldResult& f) { return f.accuracy; }));
    r.Set("epochs", FoldColumn(env, cv->results, [](const FoldResult& f) { return static_cast<double>(f.epochs); }));
    r.Set("firstLoss", FoldColumn(env, cv->results, [](const FoldResult& f) { return f.first_loss; }));
    r.Set("lastLoss", FoldColumn(env, cv->results, [](const FoldResult& f) { return f.last_loss; }));
    return r;
  };
  return p;
}

template <class T>
void ReluMlpSparseT(const Napi::CallbackInfo& info, const std::vector<int64_t>& sizes, const std::vector<int64_t>& widths,
                    int64_t n) {
  const int layers = static_cast<int>(sizes.size()) - 1;
  const int64_t p = sbi::nn::mlp_param_count(layers, sizes.data());
  const T* x = GetFloatArray<T>(info[3], "x", n * sizes[0]).data;
  const T* params = GetFloatArray<T>(info[4], "params", p).data;
  const T* dout = GetFloatArray<T>(info[5], "dout", n * sizes[layers]).data;
  T* out = GetFloatArray<T>(info[6], "out", n * sizes[layers]).data;
  T* grads = GetFloatArray<T>(info[7], "grads", p).data;
  std::vector<T> saved(sbi::nn::mlp_saved_size(sbi::nn::Activation::ReLU, layers, sizes.data(), n));
  std::vector<T> scratch(std::max(sbi::nn::mlp_scratch_size(layers, sizes.data(), n),
                                  sbi::nn::relu_mlp_forward_scratch(layers, sizes.data())));
  std::vector<int32_t> lists(sbi::nn::relu_mlp_list_size(layers, sizes.data(), n));
  const T* y = sbi::nn::relu_mlp_forward(layers, sizes.data(), widths.data(), n, x, params, saved.data(), scratch.data(),
                                         lists.data());
  for (int64_t i = 0; i < n * sizes[layers]; ++i) out[i] = y[i];
  sbi::nn::relu_mlp_backward(layers, sizes.data(), widths.data(), n, x, params, saved.data(), dout, grads,
                             scratch.data(), lists.data());
}

Napi::Value ReluMlpSparse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<int64_t> sizes = GetLayerSizes(info[0]);
  const View<int32_t> w = GetInt32Array(info[1], "widths", static_cast<int64_t>(sizes.size()));
  std::vector<int64_t> widths(sizes.size());
  const size_t last = sizes.size() - 1;
  for (size_t l = 0; l < sizes.size(); ++l) {
    widths[l] = w.data[l];
    // sparse_rows computes whole vectors (up to 16 floats) of a row: the stored row must hold them.
    const int64_t room = l == last ? sizes[l] : sizes[l] / 16 * 16;
    if (widths[l] < 1 || (l == last ? widths[l] != sizes[l] : (widths[l] + 15) / 16 * 16 > room))
      ThrowRangeError(env, "Expected widths[" + std::to_string(l) + "] in [1, " +
                               (l == last ? std::to_string(sizes[l]) + "] and equal to sizes[" + std::to_string(l) + "]"
                                          : std::to_string(room) + "], rounded up to 16 within sizes[" + std::to_string(l) + "]") +
                               " but received " + std::to_string(widths[l]));
  }
  const int64_t n = GetInteger(info[2], "n", 1, int64_t{1} << 24);
  if (info[3].IsTypedArray() && info[3].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array)
    ReluMlpSparseT<float>(info, sizes, widths, n);
  else ReluMlpSparseT<double>(info, sizes, widths, n);
  return env.Undefined();
}

void InitClassifier(Napi::Env env, Napi::Object exports) {
  ExportBatchPair<PrepareCrossValidate, 5>(env, exports, "classifierCrossValidate");
  ExportFunction(env, exports, "nnReluMlpSparse", ReluMlpSparse);
}

}  // namespace
SBI_NATIVE_MODULE(InitClassifier);
}  // namespace sbi_native
