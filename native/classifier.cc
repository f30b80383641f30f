// N-API boundary of the binary MLP classifier (native/mlp_classifier.h):
//   classifierCrossValidate(x [n·dim] Float64Array, labels [n] Uint8Array of 0/1, n, dim,
//       { seed, folds, hiddenWidth?, maxEpochs?, threads? })
//     -> { accuracy, epochs, firstLoss, lastLoss }: Float64Arrays of one entry per fold
//   classifierCrossValidateAsync(..same.., onProgress, cancelFlag) -> Promise of the same;
//     progress counts folds; a set cancel flag stops training within one epoch (SbiError ABORTED).
// Folds train in parallel on the thread pool, each on its own Philox stream.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

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

void InitClassifier(Napi::Env env, Napi::Object exports) {
  ExportBatchPair<PrepareCrossValidate, 5>(env, exports, "classifierCrossValidate");
}

}  // namespace
SBI_NATIVE_MODULE(InitClassifier);
}  // namespace sbi_native
