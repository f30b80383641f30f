// N-API boundary of the conditional MAF's training loop (native/flow_trainer.h):
//   mafTrain(arch, transform, hyper, params Float32Array, theta Float32Array [n·dim],
//            x Float32Array [n·contextDim], options, onEpoch, cancelFlag) -> Promise of
//     { params: Float32Array (the best epoch's), epochs, bestEpoch, bestValidationLoss,
//       trainLoss, validationLoss: Float64Array per epoch,
//       thetaMean, thetaStd, xMean, xStd: Float64Array (the z-scoring of the training rows) }
//   arch, transform, hyper as in maf.cc; options { seed, maxEpochs?, batchSize?, learningRate?,
//   validationFraction?, stopAfterEpochs?, clipMaxNorm?, threads?, embeddingSizes?: Int32Array,
//   embeddingParams?: Float32Array } (defaults: sbi's, see
//   flow_trainer.h); onEpoch (function or undefined) is called with { epoch, trainLoss,
//   validationLoss } after every epoch; a set cancelFlag[0] stops before the next batch and the
//   promise rejects with SbiError ABORTED. With `embeddingSizes` [L + 1] (sizes[0] = x's width,
//   sizes[L] = contextDim) x is [n·sizes[0]] and passes through a jointly trained ReLU MLP
//   (kernels/flows/maf_embedding.h) with initial `embeddingParams`; the result then also holds
//   `embeddingParams` (the best epoch's). The loop runs on a libuv worker thread (which never
//   touches N-API) and uses the thread pool for the chunks of each batch.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "flow_spec.h"
#include "flow_trainer.h"
#include "napi_util.h"
#include "train_worker.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 31;

struct TrainJob {
  sbi::MafShape shape;
  TransformSpec transform;
  std::vector<uint8_t> mask;
  FlowTrainConfig config;
  int64_t n = 0;
  std::vector<float> theta, x, params;  // copies: JS may change its arrays while training runs
  uint64_t seed = 0;
  size_t embed_count = 0;  // embedding parameters at the end of `params`
  FlowTrainResult result;

  using Epoch = EpochLosses;
  void Run(const int32_t* cancel, const std::function<void(const Epoch&)>& on_epoch) {
    result = TrainFlow(shape, transform, mask.data(), config, n, theta.data(), x.data(), params.data(), seed, cancel,
                       on_epoch);
  }
  bool Cancelled() const { return result.cancelled; }
  void Fill(Napi::Env env, Napi::Object& o) const {
    const FlowTrainResult& r = result;
    const size_t flow_count = r.params.size() - embed_count;
    Napi::Float32Array flow = Napi::Float32Array::New(env, flow_count);
    std::copy(r.params.begin(), r.params.begin() + flow_count, flow.Data());
    o.Set("params", flow);
    if (embed_count > 0) {
      Napi::Float32Array ep = Napi::Float32Array::New(env, embed_count);
      std::copy(r.params.end() - embed_count, r.params.end(), ep.Data());
      o.Set("embeddingParams", ep);
    }
    SetTrainingSummary(env, o, r.train_loss, r.validation_loss, r.best_epoch, r.best_validation_loss);
    o.Set("thetaMean", ToFloat64Array(env, r.theta_mean));
    o.Set("thetaStd", ToFloat64Array(env, r.theta_std));
    o.Set("xMean", ToFloat64Array(env, r.x_mean));
    o.Set("xStd", ToFloat64Array(env, r.x_std));
  }
};

Napi::Value MafTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<TrainJob>();
  const MafSpec s = GetMafSpec(env, info);
  if (IsSinglePrecision(env, info[3], "params") == false)
    ThrowTypeError(env, "Expected a Float32Array for `params` (training runs in float) but received a Float64Array");
  job->shape = s.shape;
  job->transform = s.transform;
  const float* params = GetParams<float>(env, s, info[3], job->mask);
  job->params.assign(params, params + s.param_count);
  const int D = s.shape.made.dim, C = s.shape.made.context;
  const View<float> theta = GetFloat32Array(info[4], "theta", -1);
  if (theta.length == 0 || theta.length % D != 0 || static_cast<int64_t>(theta.length / D) > kMaxRows)
    ThrowRangeError(env, "Expected `theta` to hold a positive multiple of dim = " + std::to_string(D) +
                             " values but received " + std::to_string(theta.length));
  job->n = static_cast<int64_t>(theta.length / D);
  if (!info[6].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[6]));
  const Napi::Object o = info[6].As<Napi::Object>();
  int64_t x_width = C;
  const Napi::Value embed_sizes = o.Get("embeddingSizes");
  if (!IsAbsent(embed_sizes)) {
    const View<int32_t> sizes = GetInt32Array(embed_sizes, "embeddingSizes", -1);
    if (sizes.length < 2 || sizes.length > 65)
      ThrowRangeError(env, "Expected `embeddingSizes` to hold 2 to 65 layer widths (input, hidden..., output) but received " +
                               std::to_string(sizes.length));
    for (size_t l = 0; l < sizes.length; ++l)
      if (sizes.data[l] < 1 || sizes.data[l] > (1 << 16))
        ThrowRangeError(env, "Expected `embeddingSizes` to hold widths in [1, 65536] but index " + std::to_string(l) +
                                 " is " + std::to_string(sizes.data[l]));
    if (sizes.data[sizes.length - 1] != C)
      ThrowRangeError(env, "Expected the last of `embeddingSizes` to be the flow's contextDim = " + std::to_string(C) +
                               " but received " + std::to_string(sizes.data[sizes.length - 1]));
    job->config.embed_sizes.assign(sizes.data, sizes.data + sizes.length);
    x_width = sizes.data[0];
    const int64_t q = sbi::nn::mlp_param_count(static_cast<int>(sizes.length) - 1, job->config.embed_sizes.data());
    const View<float> ep = GetFloat32Array(o.Get("embeddingParams"), "embeddingParams", q);
    for (size_t i = 0; i < ep.length; ++i)
      if (!std::isfinite(ep.data[i]))
        ThrowRangeError(env, "Expected finite values in `embeddingParams` but index " + std::to_string(i) + " is not");
    job->params.insert(job->params.end(), ep.data, ep.data + ep.length);
    job->embed_count = ep.length;
  } else if (!IsAbsent(o.Get("embeddingParams"))) {
    ThrowTypeError(env, "Expected `embeddingParams` only together with `embeddingSizes`");
  }
  const View<float> x = GetFloat32Array(info[5], "x", job->n * x_width);
  job->theta.assign(theta.data, theta.data + theta.length);
  job->x.assign(x.data, x.data + x.length);
  job->seed = GetSeed(o.Get("seed"), "seed");
  FlowTrainConfig& c = job->config;
  ReadTrainingOptions(env, o, c);
  const int64_t n_val = ValidationRows(job->n, c.validation_fraction);
  if (n_val < 1 || job->n - n_val < 2)
    ThrowRangeError(env, "Expected enough rows for a validation split (at least 1 validation and 2 training rows) but " +
                             std::to_string(job->n) + " rows with validationFraction " +
                             std::to_string(c.validation_fraction) + " give " + std::to_string(n_val) + " validation rows");
  for (size_t i = 0; i < job->theta.size(); ++i)
    if (!std::isfinite(job->theta[i])) ThrowRangeError(env, "Expected finite values in `theta` but index " + std::to_string(i) + " is not");
  for (size_t i = 0; i < job->x.size(); ++i)
    if (!std::isfinite(job->x[i])) ThrowRangeError(env, "Expected finite values in `x` but index " + std::to_string(i) + " is not");

  return QueueTrainWorker(env, std::move(job), info[7], info[8]);
}

}  // namespace
SBI_NATIVE_FUNCTION("mafTrain", MafTrain);
}  // namespace sbi_native
