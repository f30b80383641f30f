// The CUDA addon's density-estimator ops (launchers: kernels/flows/maf.cu, kernels/flows/mdn.cu,
// kernels/nn/resnet.cu), argument for argument like the CPU addon's float entry points:
//   mafLogProb(arch, transform, hyper, params, theta, x, logProb)          as native/maf.cc
//   mafSample(arch, transform, hyper, params, x, n, seed, theta, logProb)  as native/maf.cc
//   mdnLogProb(arch, params, y, context, logProb)                         as native/mdn.cc
//   mdnSample(arch, params, context, n, seed, y)                           as native/mdn.cc
//   mdnTrainSteps(arch, params, rows, y, context, { learningRate, clipMaxNorm }, losses)
//     one step per batch, as src/backend/mdn_train_cpu.ts (params updated in place)
//   nreLogRatio(arch, params, thetaMean, thetaStd, xMean, xStd, theta, x, out)  as native/nre.cc
//     (no embedding network)
//   nreTrainSteps(arch, loss, params, rows, input, { learningRate, clipMaxNorm }, losses)
//     one step per batch, as src/backend/ratio_ops.ts's cpuNreTrainSteps (params updated in place)
// Float32Array networks and rows (the CPU's float paths; nreLogRatio takes θ, x and the z-scoring
// statistics in Float64Array, as the CPU). Arguments are checked first, with the CPU's messages
// (TypeError / RangeError naming the argument, expected and given), then the device
// (NO_CUDA_DEVICE), then the launcher runs synchronously.
#include <cmath>
#include <string>
#include <vector>

#include "../../kernels/common/cuda_launch_flows.h"
#include "../../kernels/nn/mlp.h"
#include "../flow_spec.h"
#include "cuda_status.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 31;

// The rows of a [rows, dim] array of `length` values (1 to 2^31 rows).
int64_t RowsOf(Napi::Env env, size_t length, int64_t dim, const char* name) {
  if (length == 0 || length % static_cast<size_t>(dim) != 0 || static_cast<int64_t>(length / dim) > kMaxRows)
    ThrowRangeError(env, std::string("Expected `") + name + "` to hold a positive multiple of " + std::to_string(dim) +
                             " values (1 to 2^31 rows) but received " + std::to_string(length));
  return static_cast<int64_t>(length / static_cast<size_t>(dim));
}

// ---- MAF / NSF ---------------------------------------------------------------------------------

// The float parameters of a MAF (masked weights exactly 0, as the CPU requires).
const float* GetMafParams(Napi::Env env, const MafSpec& s, const Napi::Value& v) {
  std::vector<uint8_t> mask;
  return GetParams<float>(env, s, v, mask);
}

// The context x: [C] (stride 0) or [n, C] (stride C); absent when C = 0. As native/maf.cc.
const float* GetMafContext(Napi::Env env, const MafSpec& s, const Napi::Value& v, int64_t n, int64_t* stride) {
  const int64_t C = s.shape.made.context;
  *stride = 0;
  if (C == 0 && IsAbsent(v)) return nullptr;
  const View<float> x = GetFloat32Array(v, "x", -1);
  if (static_cast<int64_t>(x.length) == C) return C == 0 ? nullptr : x.data;
  if (static_cast<int64_t>(x.length) == n * C) {
    *stride = C;
    return x.data;
  }
  ThrowRangeError(env, "Expected `x` to hold " + std::to_string(C) + " values (one context) or " + std::to_string(n * C) +
                           " ([n, contextDim]) but received " + std::to_string(x.length));
}

sbi::cuda::MafElementSpec ElementOf(const MafSpec& s) {
  sbi::cuda::MafElementSpec e;
  e.spline = s.transform.kind == Transform::RqSpline;
  if (e.spline) e.spline_config = SplineConfig<float>(s.transform);
  else e.scale_bound = static_cast<float>(s.transform.scale_bound);
  return e;
}

Napi::Value MafLogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  const float* params = GetMafParams(env, s, info[3]);
  const int D = s.shape.made.dim;
  const View<float> theta = GetFloat32Array(info[4], "theta", -1);
  const int64_t n = RowsOf(env, theta.length, D, "theta");
  int64_t stride = 0;
  const float* x = GetMafContext(env, s, info[5], n, &stride);
  float* log_prob = GetFloat32Array(info[6], "logProb", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::maf_log_prob(s.shape, ElementOf(s), n, params, theta.data, x, stride, log_prob));
  return env.Undefined();
}

Napi::Value MafSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  const float* params = GetMafParams(env, s, info[3]);
  const int D = s.shape.made.dim;
  const int64_t n = GetInteger(info[5], "n", 1, kMaxRows);
  int64_t stride = 0;
  const float* x = GetMafContext(env, s, info[4], n, &stride);
  const uint64_t seed = GetSeed(info[6], "seed");
  float* theta = GetFloat32Array(info[7], "theta", n * D).data;
  float* log_prob = GetFloat32Array(info[8], "logProb", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::maf_sample(s.shape, ElementOf(s), n, params, x, stride, seed, theta, log_prob));
  return env.Undefined();
}

// ---- MDN ---------------------------------------------------------------------------------------

constexpr int kMaxMdnDim = 64;
constexpr int kMaxComponents = 100;
constexpr int kMaxMdnHiddenLayers = sbi::cuda::kMdnMaxLayers - 1;

// arch = Int32Array [dim D, context C, hidden, hiddenLayers, components K] (native/mdn.cc's checks).
struct MdnArch {
  sbi::MdnShape head;
  int layers;
  std::vector<int64_t> sizes;  // [C, hidden × hiddenLayers, K · W]
  int64_t params;
};

MdnArch GetMdnArch(const Napi::Value& v) {
  const View<int32_t> a = GetInt32Array(v, "arch", 5);
  const int32_t* d = a.data;
  if (d[0] < 1 || d[0] > kMaxMdnDim || d[1] < 1 || d[1] > (1 << 16) || d[2] < 1 || d[2] > 4096 || d[3] < 1 ||
      d[3] > kMaxMdnHiddenLayers || d[4] < 1 || d[4] > kMaxComponents)
    ThrowRangeError(v.Env(), "Expected `arch` = [dim in [1, " + std::to_string(kMaxMdnDim) +
                                 "], context in [1, 65536], hidden in [1, 4096], hiddenLayers in [1, " +
                                 std::to_string(kMaxMdnHiddenLayers) + "], components in [1, " +
                                 std::to_string(kMaxComponents) + "]] but received [" + std::to_string(d[0]) + ", " +
                                 std::to_string(d[1]) + ", " + std::to_string(d[2]) + ", " + std::to_string(d[3]) +
                                 ", " + std::to_string(d[4]) + "]");
  MdnArch m;
  m.head = sbi::MdnShape{d[0], d[4]};
  m.layers = d[3] + 1;
  m.sizes.assign(1, d[1]);
  for (int l = 0; l < d[3]; ++l) m.sizes.push_back(d[2]);
  m.sizes.push_back(sbi::mdn_output_width(m.head));
  m.params = sbi::nn::mlp_param_count(m.layers, m.sizes.data());
  return m;
}

// A finite float context of one row (broadcast) or n rows; returns its rows (1 or n).
const float* GetMdnContext(const Napi::Value& v, const MdnArch& m, int64_t n, int64_t* rows) {
  const int64_t C = m.sizes[0];
  const View<float> c = GetFloat32Array(v, "context", -1);
  if (static_cast<int64_t>(c.length) == C) *rows = 1;
  else if (static_cast<int64_t>(c.length) == n * C) *rows = n;
  else
    ThrowRangeError(v.Env(), "Expected `context` to hold " + std::to_string(C) + " values (one row for all) or " +
                                 std::to_string(n * C) + " (one per row) but received " + std::to_string(c.length));
  for (size_t i = 0; i < c.length; ++i)
    if (!std::isfinite(c.data[i]))
      ThrowRangeError(v.Env(), "Expected finite values in `context` but index " + std::to_string(i) + " is " +
                                   std::to_string(c.data[i]));
  return c.data;
}

Napi::Value MdnLogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MdnArch m = GetMdnArch(info[0]);
  const float* params = GetFloat32Array(info[1], "params", m.params).data;
  const View<float> y = GetFloat32Array(info[2], "y", -1);
  const int64_t n = RowsOf(env, y.length, m.head.dim, "y");
  int64_t rows = 0;
  const float* c = GetMdnContext(info[3], m, n, &rows);
  float* log_prob = GetFloat32Array(info[4], "logProb", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::mdn_log_prob(m.head, m.layers, m.sizes.data(), params, n, y.data, c, rows, log_prob));
  return env.Undefined();
}

Napi::Value MdnSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MdnArch m = GetMdnArch(info[0]);
  const float* params = GetFloat32Array(info[1], "params", m.params).data;
  const int64_t n = GetInteger(info[3], "n", 1, kMaxRows);
  int64_t rows = 0;
  const float* c = GetMdnContext(info[2], m, n, &rows);
  const uint64_t seed = GetSeed(info[4], "seed");
  float* y = GetFloat32Array(info[5], "y", n * m.head.dim).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::mdn_sample(m.head, m.layers, m.sizes.data(), params, n, c, rows, seed, y));
  return env.Undefined();
}

// Finite values of a Float32Array of `length` (its own data, writable).
float* GetFiniteF32(const Napi::Value& v, const char* name, int64_t length) {
  const View<float> a = GetFloat32Array(v, name, length);
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(a.data[i]))
      ThrowRangeError(v.Env(), std::string("Expected finite values in `") + name + "` but index " + std::to_string(i) +
                                   " is " + std::to_string(a.data[i]));
  return a.data;
}

// The training steps' options { learningRate (default 5e-4), clipMaxNorm (default 5) }, both positive.
struct TrainStepOptions {
  double learning_rate;
  double clip_max_norm;
};

TrainStepOptions GetTrainStepOptions(const Napi::Value& v) {
  const Napi::Env env = v.Env();
  if (!v.IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(v));
  const Napi::Object o = v.As<Napi::Object>();
  const double lr = GetNumberOption(o, "learningRate", 5e-4, 0, 1e300, false);
  const double clip = GetNumberOption(o, "clipMaxNorm", 5, 0, 1e300, false);
  if (!(lr > 0) || !(clip > 0))
    ThrowRangeError(env, "Expected a positive `learningRate` and `clipMaxNorm` but received " + std::to_string(lr) + " and " +
                             std::to_string(clip));
  return TrainStepOptions{lr, clip};
}

// mdnTrainSteps(arch, params (updated in place), rows: Int32Array [batches], y [Σ rows · D],
// context [Σ rows · C] (the batches' rows concatenated; finite), { learningRate, clipMaxNorm },
// losses: Float64Array [batches]).
Napi::Value MdnTrainSteps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MdnArch m = GetMdnArch(info[0]);
  float* params = GetFloat32Array(info[1], "params", m.params).data;
  const View<int32_t> rows = GetInt32Array(info[2], "rows");
  if (rows.length < 1 || rows.length > (size_t{1} << 20))
    ThrowRangeError(env, "Expected 1 to 2^20 batches in `rows` but received " + std::to_string(rows.length));
  std::vector<int64_t> batch_rows(rows.length);
  int64_t total = 0;
  for (size_t b = 0; b < rows.length; ++b) {
    if (rows.data[b] < 1 || rows.data[b] > (1 << 24))
      ThrowRangeError(env, "Expected batch sizes in [1, 2^24] but rows[" + std::to_string(b) + "] is " + std::to_string(rows.data[b]));
    batch_rows[b] = rows.data[b];
    total += rows.data[b];
  }
  const float* y = GetFiniteF32(info[3], "y", total * m.head.dim);
  const float* context = GetFiniteF32(info[4], "context", total * m.sizes[0]);
  const TrainStepOptions o = GetTrainStepOptions(info[5]);
  double* losses = GetFloat64Array(info[6], "losses", static_cast<int64_t>(rows.length)).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::mdn_train(m.head, m.layers, m.sizes.data(), o.learning_rate, o.clip_max_norm,
                                      static_cast<int>(rows.length), batch_rows.data(), y, context, params, losses));
  return env.Undefined();
}

// ---- NRE ---------------------------------------------------------------------------------------

constexpr int kMaxRatioDim = 1 << 16;

// Finite values of a Float64Array of `length`; `positive`: each > 0 too.
const double* GetFiniteF64(const Napi::Value& v, const char* name, int64_t length, bool positive) {
  const View<double> a = GetFloat64Array(v, name, length);
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(a.data[i]) || (positive && !(a.data[i] > 0.0)))
      ThrowRangeError(v.Env(), std::string("Expected ") + (positive ? "positive" : "finite") + " values in `" + name +
                                   "` but index " + std::to_string(i) + " is " + std::to_string(a.data[i]));
  return a.data;
}

// nreLogRatio(arch [thetaDim, xDim, hidden, blocks], params, thetaMean, thetaStd, xMean, xStd,
// theta [n·thetaDim], x [n·xDim] or [xDim], out [n], embeddingSizes?, embeddingParams?), as
// native/nre.cc (embeddingSizes: Int32Array [xDim, hidden..., E] of a ReLU embedding of z(x)).
Napi::Value NreLogRatio(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const View<int32_t> a = GetInt32Array(info[0], "arch", 4);
  if (a.data[0] < 1 || a.data[0] > kMaxRatioDim || a.data[1] < 1 || a.data[1] > kMaxRatioDim || a.data[2] < 1 ||
      a.data[2] > 4096 || a.data[3] < 0 || a.data[3] > 64)
    ThrowRangeError(env, "Expected `arch` = [thetaDim in [1, 65536], xDim in [1, 65536], hidden in [1, 4096], blocks in "
                         "[0, 64]] but received [" + std::to_string(a.data[0]) + ", " + std::to_string(a.data[1]) +
                             ", " + std::to_string(a.data[2]) + ", " + std::to_string(a.data[3]) + "]");
  const int D = a.data[0], C = a.data[1];
  std::vector<int64_t> embed;  // the embedding's widths, as native/nre.cc's GetEmbeddingSizes checks them
  if (!IsAbsent(info[9])) {
    const View<int32_t> e = GetInt32Array(info[9], "embeddingSizes", -1);
    if (e.length < 2 || e.length > static_cast<size_t>(sbi::cuda::kNreMaxEmbedWidths))
      ThrowRangeError(env, "Expected `embeddingSizes` to hold 2 to 65 layer widths (input, hidden..., output) but received " +
                               std::to_string(e.length));
    for (size_t l = 0; l < e.length; ++l)
      if (e.data[l] < 1 || e.data[l] > (1 << 16))
        ThrowRangeError(env, "Expected `embeddingSizes` to hold widths in [1, 65536] but index " + std::to_string(l) +
                                 " is " + std::to_string(e.data[l]));
    if (e.data[0] != C)
      ThrowRangeError(env, "Expected the first of `embeddingSizes` to be xDim = " + std::to_string(C) + " but received " +
                               std::to_string(e.data[0]));
    embed.assign(e.data, e.data + e.length);
  } else if (!IsAbsent(info[10])) {
    ThrowTypeError(env, "Expected `embeddingParams` only together with `embeddingSizes`");
  }
  const int embed_layers = embed.empty() ? 0 : static_cast<int>(embed.size()) - 1;
  const int64_t features = embed.empty() ? C : embed.back();
  const sbi::nn::ResNetShape net{int64_t{D} + features, a.data[2], 1, a.data[3], sbi::nn::Activation::ReLU};
  const float* embed_params = nullptr;
  if (embed_layers > 0) {
    const View<float> ep = GetFloat32Array(info[10], "embeddingParams", sbi::nn::mlp_param_count(embed_layers, embed.data()));
    for (size_t j = 0; j < ep.length; ++j)
      if (!std::isfinite(ep.data[j]))
        ThrowRangeError(env, "Expected finite values in `embeddingParams` but index " + std::to_string(j) + " is " +
                                 std::to_string(ep.data[j]));
    embed_params = ep.data;
  }
  const float* params = GetFloat32Array(info[1], "params", sbi::nn::resnet_param_count(net)).data;
  std::vector<double> stats;
  const char* names[4] = {"thetaMean", "thetaStd", "xMean", "xStd"};
  for (int k = 0; k < 4; ++k) {
    const int64_t dim = k < 2 ? D : C;
    const double* s = GetFiniteF64(info[2 + k], names[k], dim, k % 2 == 1);
    stats.insert(stats.end(), s, s + dim);
  }
  const View<double> theta = GetFloat64Array(info[6], "theta", -1);
  const int64_t n = RowsOf(env, theta.length, D, "theta");
  GetFiniteF64(info[6], "theta", n * D, false);
  const View<double> x = GetFloat64Array(info[7], "x", -1);
  const bool broadcast = static_cast<int64_t>(x.length) == C;
  if (!broadcast && static_cast<int64_t>(x.length) != n * C)
    ThrowRangeError(env, "Expected `x` to hold xDim = " + std::to_string(C) + " values (one observation) or " +
                             std::to_string(n * C) + " (one per θ row) but received " + std::to_string(x.length));
  GetFiniteF64(info[7], "x", static_cast<int64_t>(x.length), false);
  double* out = GetFloat64Array(info[8], "out", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::nre_log_ratio(net, D, C, params, stats.data(), n, theta.data, x.data, broadcast, out,
                                          embed_layers, embed.empty() ? nullptr : embed.data(), embed_params));
  return env.Undefined();
}

// A loss object { variant, classes, gamma, lambda } (native/nre.cc's GetLoss / MakeLoss checks).
sbi::nn::RatioLossConfig GetRatioLoss(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject())
    ThrowTypeError(env, "Expected a loss object { variant, classes?, gamma?, lambda? } for `loss` but received " + Describe(v));
  const Napi::Object lo = v.As<Napi::Object>();
  using sbi::nn::RatioLoss;
  const std::string variant = GetString(lo.Get("variant"), "variant");
  sbi::nn::RatioLossConfig c;
  if (variant == "a") c.kind = RatioLoss::A;
  else if (variant == "b") c.kind = RatioLoss::B;
  else if (variant == "c") c.kind = RatioLoss::C;
  else if (variant == "bnre") c.kind = RatioLoss::Balanced;
  else ThrowRangeError(env, "Expected one of \"a\", \"b\", \"c\", \"bnre\" for `variant` but received " + Describe(lo.Get("variant")));
  const Napi::Value classes = lo.Get("classes");
  const int64_t lo_classes = c.kind == RatioLoss::B ? 2 : 1;
  c.classes = static_cast<int>(IsAbsent(classes) ? (c.kind == RatioLoss::B ? 10 : c.kind == RatioLoss::C ? 5 : 2)
                                                 : GetInteger(classes, "classes", lo_classes, sbi::nn::kRatioMaxClasses));
  c.gamma = GetNumberOption(lo, "gamma", 1.0, 0.0, 1e300, false);
  c.lambda = GetNumberOption(lo, "lambda", 100.0, 0.0, 1e300, false);
  if (!(c.gamma > 0.0)) ThrowRangeError(env, "Expected a positive `gamma` but received " + std::to_string(c.gamma));
  return c;
}

// nreTrainSteps(arch [in, hidden, blocks], loss, params (updated in place), rows: Int32Array
// [batches], input [Σ rows · A · in] (each batch's gathered pairs, concatenated), { learningRate,
// clipMaxNorm }, losses: Float64Array [batches]).
Napi::Value NreTrainSteps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const View<int32_t> a = GetInt32Array(info[0], "arch", 3);
  if (a.data[0] < 1 || a.data[0] > 2 * kMaxRatioDim || a.data[1] < 1 || a.data[1] > 4096 || a.data[2] < 0 || a.data[2] > 64)
    ThrowRangeError(env, "Expected `arch` = [in in [1, 131072], hidden in [1, 4096], blocks in [0, 64]] but received [" +
                             std::to_string(a.data[0]) + ", " + std::to_string(a.data[1]) + ", " + std::to_string(a.data[2]) + "]");
  const sbi::nn::ResNetShape net{a.data[0], a.data[1], 1, a.data[2], sbi::nn::Activation::ReLU};
  const sbi::nn::RatioLossConfig loss = GetRatioLoss(info[1]);
  const int64_t P = sbi::nn::resnet_param_count(net);
  float* params = GetFiniteF32(info[2], "params", P);  // updated in place
  const View<int32_t> rows = GetInt32Array(info[3], "rows");
  if (rows.length < 1 || rows.length > (size_t{1} << 20))
    ThrowRangeError(env, "Expected 1 to 2^20 batches in `rows` but received " + std::to_string(rows.length));
  const int64_t A = sbi::nn::ratio_logits_per_row(loss);
  const int64_t min_rows = sbi::nn::ratio_contrasts_per_set(loss) + 1;
  std::vector<int64_t> batch_rows(rows.length);
  int64_t pairs = 0;
  for (size_t b = 0; b < rows.length; ++b) {
    if (rows.data[b] < min_rows || rows.data[b] > (1 << 16))
      ThrowRangeError(env, "Expected batch sizes in [" + std::to_string(min_rows) + ", 65536] but rows[" + std::to_string(b) +
                               "] is " + std::to_string(rows.data[b]));
    batch_rows[b] = rows.data[b];
    pairs += rows.data[b] * A;
  }
  const float* input = GetFiniteF32(info[4], "input", pairs * net.in);
  const TrainStepOptions o = GetTrainStepOptions(info[5]);
  double* losses = GetFloat64Array(info[6], "losses", static_cast<int64_t>(rows.length)).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::nre_train(net, loss, o.learning_rate, o.clip_max_norm, static_cast<int>(rows.length),
                                      batch_rows.data(), input, params, losses));
  return env.Undefined();
}

void InitCudaFlowOps(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "mafLogProb", MafLogProb);
  ExportFunction(env, exports, "mafSample", MafSample);
  ExportFunction(env, exports, "mdnLogProb", MdnLogProb);
  ExportFunction(env, exports, "mdnSample", MdnSample);
  ExportFunction(env, exports, "mdnTrainSteps", MdnTrainSteps);
  ExportFunction(env, exports, "nreLogRatio", NreLogRatio);
  ExportFunction(env, exports, "nreTrainSteps", NreTrainSteps);
}

}  // namespace
SBI_NATIVE_MODULE(InitCudaFlowOps);
}  // namespace sbi_native
