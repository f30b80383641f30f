// N-API boundary of neural ratio estimation (native/ratio_trainer.h, kernels/nn/ratio_loss.h,
// kernels/nn/resnet.h):
//   nreLoss(variant, n, classes, gamma, lambda, logits, grad?) -> batch-mean loss; logits [n, A]
//     (A: 2 for "a" / "bnre", classes for "b", 2·classes for "c"); grad like logits or undefined.
//     Float64Array runs the double instantiation, Float32Array the float one (for tests).
//   nreNetForward(arch [in, hidden, blocks], n, params, x [n·in], y [n], dy?, grads?) — the ReLU
//     residual classifier's forward into y and, when dy is given, its parameter gradient (tests).
//   nreEmbeddedLossBackward(loss { variant, classes?, gamma?, lambda? }, arch [thetaDim, hidden,
//     blocks], embeddingSizes Int32Array [L + 1], params, embeddingParams, theta [·thetaDim],
//     x [n·sizes[0]], pairTheta Int32Array [n·A] (θ row of each pair), grads, embeddingGrads)
//     -> the batch-mean loss of the classifier on [θ, e(x)] (kernels/nn/ratio_embedding.h, pair p
//     scoring x row ⌊p / A⌋), gradients overwritten; Float64Array or Float32Array params (tests).
//   nreTrain(arch [thetaDim, xDim, hidden, blocks], loss { variant, classes?, gamma?, lambda? },
//            theta Float64Array [n·thetaDim], x Float64Array [n·xDim], options, onEpoch, cancelFlag)
//     -> Promise of { params: Float32Array (best epoch), epochs, bestEpoch, bestValidationLoss,
//        trainLoss, validationLoss, thetaMean, thetaStd, xMean, xStd }; options, onEpoch and the
//        cancel flag as mafTrain (native/train_flow.cc), embeddingSizes [xDim, hidden..., E] and
//        initial embeddingParams included (the result then also holds the best embeddingParams).
//   nreLogRatio(arch, params Float32Array, thetaMean, thetaStd, xMean, xStd, theta [n·thetaDim],
//               x [n·xDim] or [xDim] (one observation for every row), out [n], threads?,
//               embeddingSizes?, embeddingParams?) — the classifier's logit f(θ_i, x_i) =
//     log r(θ_i, x_i) per row, on the thread pool.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "batch.h"
#include "napi_util.h"
#include "train_worker.h"
#include "ratio_trainer.h"
#include "../kernels/nn/ratio_embedding.h"

namespace sbi_native {
namespace {

using sbi::nn::RatioLoss;
using sbi::nn::RatioLossConfig;

constexpr int64_t kMaxRows = int64_t{1} << 31;
constexpr int64_t kMaxDim = int64_t{1} << 16;

bool IsFloat32(const Napi::Value& v, const char* name) {
  if (v.IsTypedArray()) {
    const napi_typedarray_type t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_float32_array) return true;
    if (t == napi_float64_array) return false;
  }
  ThrowTypeError(v.Env(), std::string("Expected a Float64Array or Float32Array for `") + name + "` but received " + Describe(v));
}

RatioLoss GetVariant(const Napi::Value& v) {
  const std::string s = GetString(v, "variant");
  if (s == "a") return RatioLoss::A;
  if (s == "b") return RatioLoss::B;
  if (s == "c") return RatioLoss::C;
  if (s == "bnre") return RatioLoss::Balanced;
  ThrowRangeError(v.Env(), "Expected one of \"a\", \"b\", \"c\", \"bnre\" for `variant` but received " + Describe(v));
}

// classes: NRE-B's atoms (>= 2), NRE-C's classes (>= 1); gamma > 0; lambda >= 0.
RatioLossConfig MakeLoss(Napi::Env env, RatioLoss kind, int64_t classes, double gamma, double lambda) {
  RatioLossConfig c;
  c.kind = kind;
  const int64_t lo = kind == RatioLoss::B ? 2 : 1;
  if (classes < lo || classes > sbi::nn::kRatioMaxClasses)
    ThrowRangeError(env, "Expected `classes` in [" + std::to_string(lo) + ", " + std::to_string(sbi::nn::kRatioMaxClasses) +
                             "] but received " + std::to_string(classes));
  if (!(gamma > 0.0)) ThrowRangeError(env, "Expected a positive `gamma` but received " + std::to_string(gamma));
  if (!(lambda >= 0.0)) ThrowRangeError(env, "Expected a non-negative `lambda` but received " + std::to_string(lambda));
  c.classes = static_cast<int>(classes);
  c.gamma = gamma;
  c.lambda = lambda;
  return c;
}

template <class T>
double LossT(const Napi::CallbackInfo& info, const RatioLossConfig& c, int64_t n) {
  const int64_t count = n * sbi::nn::ratio_logits_per_row(c);
  const T* z = GetFloatArray<T>(info[5], "logits", count).data;
  T* grad = IsAbsent(info[6]) ? nullptr : GetFloatArray<T>(info[6], "grad", count).data;
  return static_cast<double>(sbi::nn::ratio_loss<T>(c, n, z, grad));
}

Napi::Value NreLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RatioLoss kind = GetVariant(info[0]);
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t classes = GetInteger(info[2], "classes", 1, 1 << 20);
  const RatioLossConfig c = MakeLoss(env, kind, classes, GetNumber(info[3], "gamma"), GetNumber(info[4], "lambda"));
  const double loss = IsFloat32(info[5], "logits") ? LossT<float>(info, c, n) : LossT<double>(info, c, n);
  return Napi::Number::New(env, loss);
}

// A loss object { variant, classes?, gamma?, lambda? } (classes: 10 for "b", 5 for "c").
RatioLossConfig GetLoss(const Napi::Value& v) {
  if (!v.IsObject()) ThrowTypeError(v.Env(), "Expected a loss object { variant, classes?, gamma?, lambda? } for `loss` but received " + Describe(v));
  const Napi::Object lo = v.As<Napi::Object>();
  const RatioLoss kind = GetVariant(lo.Get("variant"));
  const Napi::Value classes = lo.Get("classes");
  const int64_t default_classes = kind == RatioLoss::B ? 10 : kind == RatioLoss::C ? 5 : 2;
  return MakeLoss(v.Env(), kind, IsAbsent(classes) ? default_classes : GetInteger(classes, "classes", 1, 1 << 20),
                  GetNumberOption(lo, "gamma", 1.0, 0.0, 1e300, false), GetNumberOption(lo, "lambda", 100.0, 0.0, 1e300, false));
}

template <class T>
void NetT(const Napi::CallbackInfo& info, const sbi::nn::ResNetShape& s, int64_t n) {
  const T* params = GetFloatArray<T>(info[2], "params", sbi::nn::resnet_param_count(s)).data;
  const T* x = GetFloatArray<T>(info[3], "x", n * s.in).data;
  T* y = GetFloatArray<T>(info[4], "y", n).data;
  std::vector<T> saved(sbi::nn::resnet_saved_size(s, n));
  sbi::nn::resnet_forward(s, n, params, x, saved.data(), y);
  if (IsAbsent(info[5])) return;
  const T* dy = GetFloatArray<T>(info[5], "dy", n).data;
  T* grads = GetFloatArray<T>(info[6], "grads", sbi::nn::resnet_param_count(s)).data;
  std::vector<T> scratch(sbi::nn::resnet_scratch_size(s, n));
  sbi::nn::resnet_backward(s, n, params, x, saved.data(), dy, grads, scratch.data());
}

Napi::Value NreNetForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const View<int32_t> arch = GetInt32Array(info[0], "arch", 3);
  if (arch.data[0] < 1 || arch.data[0] > kMaxDim || arch.data[1] < 1 || arch.data[1] > 4096 || arch.data[2] < 0 ||
      arch.data[2] > 64)
    ThrowRangeError(env, "Expected `arch` = [in in [1, 65536], hidden in [1, 4096], blocks in [0, 64]] but received [" +
                             std::to_string(arch.data[0]) + ", " + std::to_string(arch.data[1]) + ", " +
                             std::to_string(arch.data[2]) + "]");
  const sbi::nn::ResNetShape s{arch.data[0], arch.data[1], 1, arch.data[2], sbi::nn::Activation::ReLU};
  const int64_t n = GetInteger(info[1], "n", 1, 1 << 20);
  if (IsFloat32(info[2], "params")) NetT<float>(info, s, n);
  else NetT<double>(info, s, n);
  return env.Undefined();
}

// Widths [input, hidden..., output] of an embedding network whose input is `input_width` wide.
std::vector<int64_t> GetEmbeddingSizes(const Napi::Value& v, int64_t input_width) {
  const View<int32_t> sizes = GetInt32Array(v, "embeddingSizes", -1);
  if (sizes.length < 2 || sizes.length > 65)
    ThrowRangeError(v.Env(), "Expected `embeddingSizes` to hold 2 to 65 layer widths (input, hidden..., output) but received " +
                                 std::to_string(sizes.length));
  for (size_t l = 0; l < sizes.length; ++l)
    if (sizes.data[l] < 1 || sizes.data[l] > (1 << 16))
      ThrowRangeError(v.Env(), "Expected `embeddingSizes` to hold widths in [1, 65536] but index " + std::to_string(l) +
                                   " is " + std::to_string(sizes.data[l]));
  if (input_width > 0 && sizes.data[0] != input_width)
    ThrowRangeError(v.Env(), "Expected the first of `embeddingSizes` to be xDim = " + std::to_string(input_width) +
                                 " but received " + std::to_string(sizes.data[0]));
  return std::vector<int64_t>(sizes.data, sizes.data + sizes.length);
}

// The embedding's parameters: `count` finite floats.
const float* GetEmbeddingParams(const Napi::Value& v, int64_t count) {
  const View<float> ep = GetFloat32Array(v, "embeddingParams", count);
  for (size_t i = 0; i < ep.length; ++i)
    if (!std::isfinite(ep.data[i]))
      ThrowRangeError(v.Env(), "Expected finite values in `embeddingParams` but index " + std::to_string(i) + " is not");
  return ep.data;
}

template <class T>
double EmbeddedLossT(const Napi::CallbackInfo& info, const RatioLossConfig& loss, const sbi::nn::RatioEmbeddedNet& s) {
  Napi::Env env = info.Env();
  const int64_t E = s.sizes[s.layers], D = s.net.in - E, A = sbi::nn::ratio_logits_per_row(loss);
  const T* params = GetFloatArray<T>(info[3], "params", sbi::nn::resnet_param_count(s.net)).data;
  const int64_t q = sbi::nn::mlp_param_count(s.layers, s.sizes);
  const T* eparams = GetFloatArray<T>(info[4], "embeddingParams", q).data;
  const auto theta = GetFloatArray<T>(info[5], "theta", -1);
  if (theta.length == 0 || theta.length % D != 0)
    ThrowRangeError(env, "Expected `theta` to hold a positive multiple of thetaDim = " + std::to_string(D) +
                             " values but received " + std::to_string(theta.length));
  const int64_t theta_rows = static_cast<int64_t>(theta.length / D);
  const auto x = GetFloatArray<T>(info[6], "x", -1);
  if (x.length == 0 || x.length % s.sizes[0] != 0 || static_cast<int64_t>(x.length / s.sizes[0]) > (1 << 16))
    ThrowRangeError(env, "Expected `x` to hold a positive multiple of xDim = " + std::to_string(s.sizes[0]) +
                             " values (at most 65536 rows) but received " + std::to_string(x.length));
  const int64_t n = static_cast<int64_t>(x.length / s.sizes[0]), m = n * A;
  if (n < RatioMinBatchRows(loss))
    ThrowRangeError(env, "Expected at least " + std::to_string(RatioMinBatchRows(loss)) + " rows in `x` for this loss but received " +
                             std::to_string(n));
  const View<int32_t> pt = GetInt32Array(info[7], "pairTheta", m);
  std::vector<int64_t> pair_theta(m), pair_x(m);
  for (int64_t p = 0; p < m; ++p) {
    if (pt.data[p] < 0 || pt.data[p] >= theta_rows)
      ThrowRangeError(env, "Expected `pairTheta` to hold θ rows in [0, " + std::to_string(theta_rows) + ") but index " +
                               std::to_string(p) + " is " + std::to_string(pt.data[p]));
    pair_theta[p] = pt.data[p];
    pair_x[p] = p / A;
  }
  T* grads = GetFloatArray<T>(info[8], "grads", sbi::nn::resnet_param_count(s.net)).data;
  T* egrads = GetFloatArray<T>(info[9], "embeddingGrads", q).data;
  std::vector<T> work(sbi::nn::ratio_embedded_work_size(s, n, m));
  return static_cast<double>(sbi::nn::ratio_embedded_loss_backward<T>(loss, s, n, theta.data, x.data, pair_theta.data(),
                                                                      pair_x.data(), params, eparams, grads, egrads,
                                                                      work.data()));
}

Napi::Value NreEmbeddedLossBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RatioLossConfig loss = GetLoss(info[0]);
  const View<int32_t> arch = GetInt32Array(info[1], "arch", 3);
  if (arch.data[0] < 1 || arch.data[0] > 4096 || arch.data[1] < 1 || arch.data[1] > 4096 || arch.data[2] < 0 ||
      arch.data[2] > 64)
    ThrowRangeError(env, "Expected `arch` = [thetaDim in [1, 4096], hidden in [1, 4096], blocks in [0, 64]] but received [" +
                             std::to_string(arch.data[0]) + ", " + std::to_string(arch.data[1]) + ", " +
                             std::to_string(arch.data[2]) + "]");
  const std::vector<int64_t> sizes = GetEmbeddingSizes(info[2], -1);
  if (sizes.back() > 4096)
    ThrowRangeError(env, "Expected an embedding output width of at most 4096 but received " + std::to_string(sizes.back()));
  const int layers = static_cast<int>(sizes.size()) - 1;
  const sbi::nn::RatioEmbeddedNet s{
      sbi::nn::ResNetShape{arch.data[0] + sizes.back(), arch.data[1], 1, arch.data[2], sbi::nn::Activation::ReLU},
      sbi::nn::Activation::ReLU, layers, sizes.data()};
  const double value = IsFloat32(info[3], "params") ? EmbeddedLossT<float>(info, loss, s) : EmbeddedLossT<double>(info, loss, s);
  return Napi::Number::New(env, value);
}

RatioNetShape GetShape(const Napi::Value& v) {
  const View<int32_t> a = GetInt32Array(v, "arch", 4);
  if (a.data[0] < 1 || a.data[0] > kMaxDim || a.data[1] < 1 || a.data[1] > kMaxDim || a.data[2] < 1 || a.data[2] > 4096 ||
      a.data[3] < 0 || a.data[3] > 64)
    ThrowRangeError(v.Env(), "Expected `arch` = [thetaDim in [1, 65536], xDim in [1, 65536], hidden in [1, 4096], blocks in "
                             "[0, 64]] but received [" + std::to_string(a.data[0]) + ", " + std::to_string(a.data[1]) +
                                 ", " + std::to_string(a.data[2]) + ", " + std::to_string(a.data[3]) + "]");
  RatioNetShape s;
  s.theta_dim = a.data[0];
  s.x_dim = a.data[1];
  s.hidden = a.data[2];
  s.blocks = a.data[3];
  return s;
}

// Rows of a [rows, dim] Float64Array with only finite values.
int64_t GetFiniteRows(const Napi::Value& v, const char* name, int64_t dim) {
  const View<double> a = GetFloat64Array(v, name, -1);
  if (a.length == 0 || a.length % dim != 0 || static_cast<int64_t>(a.length / dim) > kMaxRows)
    ThrowRangeError(v.Env(), std::string("Expected `") + name + "` to hold a positive multiple of " + std::to_string(dim) +
                                 " values but received " + std::to_string(a.length));
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(a.data[i]))
      ThrowRangeError(v.Env(), std::string("Expected finite values in `") + name + "` but index " + std::to_string(i) + " is " +
                                   std::to_string(a.data[i]));
  return static_cast<int64_t>(a.length / dim);
}

struct TrainJob {
  RatioNetShape shape;
  RatioLossConfig loss;
  training::Config config;
  int64_t n = 0;
  std::vector<double> theta, x;  // copies: JS may change its arrays while training runs
  std::vector<float> initial_embedding;
  uint64_t seed = 0;
  RatioTrainResult result;

  using Epoch = training::Epoch;
  void Run(const int32_t* cancel, const std::function<void(const Epoch&)>& on_epoch) {
    result = TrainRatio(shape, loss, config, n, theta.data(), x.data(), initial_embedding.data(), seed, cancel, on_epoch);
  }
  bool Cancelled() const { return result.fit.cancelled; }
  void Fill(Napi::Env env, Napi::Object& o) const {
    const training::Result& r = result.fit;
    const size_t embed_count = initial_embedding.size(), net_count = r.params.size() - embed_count;
    Napi::Float32Array params = Napi::Float32Array::New(env, net_count);
    std::copy(r.params.begin(), r.params.begin() + net_count, params.Data());
    o.Set("params", params);
    if (embed_count > 0) {
      Napi::Float32Array ep = Napi::Float32Array::New(env, embed_count);
      std::copy(r.params.begin() + net_count, r.params.end(), ep.Data());
      o.Set("embeddingParams", ep);
    }
    SetTrainingSummary(env, o, r.train_loss, r.validation_loss, r.best_epoch, r.best_validation_loss);
    o.Set("thetaMean", ToFloat64Array(env, result.stats.theta_mean));
    o.Set("thetaStd", ToFloat64Array(env, result.stats.theta_std));
    o.Set("xMean", ToFloat64Array(env, result.stats.x_mean));
    o.Set("xStd", ToFloat64Array(env, result.stats.x_std));
  }
};

Napi::Value NreTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_unique<TrainJob>();
  job->shape = GetShape(info[0]);
  job->loss = GetLoss(info[1]);
  const int D = job->shape.theta_dim, C = job->shape.x_dim;
  job->n = GetFiniteRows(info[2], "theta", D);
  const View<double> theta = GetFloat64Array(info[2], "theta", job->n * D);
  const View<double> x = GetFloat64Array(info[3], "x", job->n * C);
  GetFiniteRows(info[3], "x", C);
  job->theta.assign(theta.data, theta.data + theta.length);
  job->x.assign(x.data, x.data + x.length);

  if (!info[4].IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(info[4]));
  const Napi::Object o = info[4].As<Napi::Object>();
  job->seed = GetSeed(o.Get("seed"), "seed");
  const Napi::Value embed_sizes = o.Get("embeddingSizes");
  if (!IsAbsent(embed_sizes)) {
    job->shape.embed_sizes = GetEmbeddingSizes(embed_sizes, C);
    const int64_t q = EmbeddingParamCount(job->shape);
    const float* ep = GetEmbeddingParams(o.Get("embeddingParams"), q);
    job->initial_embedding.assign(ep, ep + q);
  } else if (!IsAbsent(o.Get("embeddingParams"))) {
    ThrowTypeError(env, "Expected `embeddingParams` only together with `embeddingSizes`");
  }
  training::Config& c = job->config;
  ReadTrainingOptions(env, o, c);
  const int64_t min_rows = RatioMinBatchRows(job->loss);
  if (c.batch_size < min_rows)
    ThrowRangeError(env, "Expected `batchSize` of at least " + std::to_string(min_rows) +
                             " (the contrasting pairs of this loss come from other rows of the batch) but received " +
                             std::to_string(c.batch_size));
  const int64_t n_val = training::ValidationRows(job->n, c.validation_fraction);
  if (n_val < min_rows || job->n - n_val < min_rows)
    ThrowRangeError(env, "Expected enough rows for the validation split (at least " + std::to_string(min_rows) +
                             " validation and training rows for this loss) but " + std::to_string(job->n) +
                             " rows with validationFraction " + std::to_string(c.validation_fraction) + " give " +
                             std::to_string(n_val) + " validation rows");

  return QueueTrainWorker(env, std::move(job), info[5], info[6]);
}

std::vector<double> GetStats(const Napi::Value& v, const char* name, int64_t dim, bool positive) {
  const View<double> a = GetFloat64Array(v, name, dim);
  for (int64_t i = 0; i < dim; ++i)
    if (!std::isfinite(a.data[i]) || (positive && !(a.data[i] > 0.0)))
      ThrowRangeError(v.Env(), std::string("Expected ") + (positive ? "positive" : "finite") + " values in `" + name +
                                   "` but index " + std::to_string(i) + " is " + std::to_string(a.data[i]));
  return std::vector<double>(a.data, a.data + dim);
}

Napi::Value NreLogRatio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RatioNetShape s = GetShape(info[0]);
  if (!IsAbsent(info[10])) s.embed_sizes = GetEmbeddingSizes(info[10], s.x_dim);
  else if (!IsAbsent(info[11])) ThrowTypeError(env, "Expected `embeddingParams` only together with `embeddingSizes`");
  const View<float> params = GetFloat32Array(info[1], "params", sbi::nn::resnet_param_count(ResNetOf(s)));
  std::vector<float> p(params.data, params.data + params.length);  // the classifier's, then the embedding's
  if (!s.embed_sizes.empty()) {
    const int64_t q = EmbeddingParamCount(s);
    const float* ep = GetEmbeddingParams(info[11], q);
    p.insert(p.end(), ep, ep + q);
  }
  RatioStats st;
  st.theta_mean = GetStats(info[2], "thetaMean", s.theta_dim, false);
  st.theta_std = GetStats(info[3], "thetaStd", s.theta_dim, true);
  st.x_mean = GetStats(info[4], "xMean", s.x_dim, false);
  st.x_std = GetStats(info[5], "xStd", s.x_dim, true);
  const int64_t n = GetFiniteRows(info[6], "theta", s.theta_dim);
  const double* theta = GetFloat64Array(info[6], "theta").data;
  const View<double> x = GetFloat64Array(info[7], "x");
  const bool broadcast = static_cast<int64_t>(x.length) == s.x_dim;
  if (!broadcast && static_cast<int64_t>(x.length) != n * s.x_dim)
    ThrowRangeError(env, "Expected `x` to hold xDim = " + std::to_string(s.x_dim) + " values (one observation) or " +
                             std::to_string(n * s.x_dim) + " (one per θ row) but received " + std::to_string(x.length));
  GetFiniteRows(info[7], "x", s.x_dim);
  double* out = GetFloat64Array(info[8], "out", n).data;
  BatchJob job;
  job.n = n;
  job.threads = GetThreads(info[9]);
  job.grain = 128;
  job.range = [&](int64_t b, int64_t e) { RatioLogits(s, p.data(), st, b, e, theta, x.data, broadcast, out); };
  RunBatch(job, nullptr, nullptr);
  return env.Undefined();
}

void Init(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "nreLoss", NreLoss);
  ExportFunction(env, exports, "nreNetForward", NreNetForward);
  ExportFunction(env, exports, "nreEmbeddedLossBackward", NreEmbeddedLossBackward);
  ExportFunction(env, exports, "nreTrain", NreTrain);
  ExportFunction(env, exports, "nreLogRatio", NreLogRatio);
}

}  // namespace
SBI_NATIVE_MODULE(Init);
}  // namespace sbi_native
