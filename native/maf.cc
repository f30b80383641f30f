// Conditional MAF / autoregressive spline flow (kernels/flows/maf.h) on whole arrays, in the
// precision of `params` (Float64Array: double kernels, Float32Array: float; every other
// floating-point array of the call must match).
//   arch = Int32Array [dim, contextDim, hidden, hiddenLayers, layers, activation, passes?]
//          (activation: 0 identity, 1 relu, 2 tanh, 3 elu, 4 silu, as kernels/nn/dense.h;
//          passes in [1, dim], the degree groups of kernels/nn/made.h: dim (the default when
//          arch has 6 values) is autoregressive, 2 a coupling flow)
//   transform, hyper: the elementwise transform, as flowTransform ("affine" [scaleBound] or
//          "rqSpline" [bins, bound, minBinWidth, minBinHeight, minDerivative])
//   params: the K MADEs' parameter vectors one after another (layout: kernels/nn/made.h); masked
//          weights must be exactly 0 (RangeError otherwise)
//   x: context, [contextDim] (broadcast to every row) or [n, contextDim]; may be absent when
//          contextDim = 0
// Entry points:
//   mafParamCount(arch, transform, hyper) -> number
//   mafParamMask(arch, transform, hyper, mask: Uint8Array)          1 = trainable, 0 = masked
//   mafLogProb(arch, transform, hyper, params, theta, x, logProb, base?)
//   mafLogProbBackward(arch, transform, hyper, params, theta, x, gParams, gTheta?, gX?) -> mean NLL
//   mafSample(arch, transform, hyper, params, x, n, seed, theta, logProb?)   row i: Philox stream i
//   mafConditioner(arch, transform, hyper, params, layer, input, x, out)    MADE_layer outputs
// Rows run in fixed chunks on the thread pool; the backward sums per-chunk gradients in chunk
// order, so every result is the same for any thread count.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../kernels/flows/maf.h"
#include "batch.h"
#include "nn_dispatch.h"
#include "flow_spec.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxRows = int64_t{1} << 31;
constexpr int64_t kChunkRows = 64;       // log-prob and sampling
constexpr int64_t kGradChunkRows = 256;  // backward: at least this many rows per chunk ...
constexpr int64_t kMaxGradChunks = 64;   // ... and at most this many chunks (one gradient each)

struct Context {
  const void* data;
  int64_t stride;  // 0: one row for all
};

template <class T>
Context GetContext(Napi::Env env, const MafSpec& s, const Napi::Value& v, int64_t n) {
  const int64_t C = s.shape.made.context;
  if (C == 0 && IsAbsent(v)) return {nullptr, 0};
  auto x = GetFloatArray<T>(v, "x", -1);
  if (static_cast<int64_t>(x.length) == C) return {x.data, 0};
  if (static_cast<int64_t>(x.length) == n * C) return {x.data, C};
  ThrowRangeError(env, "Expected `x` to hold " + std::to_string(C) + " values (one context) or " +
                           std::to_string(n * C) + " ([n, contextDim]) but received " + std::to_string(x.length));
}

// Calls f(element) with the transform's kernel policy in precision T.
template <class T, class F>
void WithElement(const MafSpec& s, F&& f) {
  if (s.transform.kind == Transform::Affine) f(sbi::AffineElement<T>{static_cast<T>(s.transform.scale_bound)});
  else f(sbi::RqSplineElement<T>{SplineConfig<T>(s.transform)});
}

// Runs body(chunk, first_row, rows) over the fixed chunks (chunk_rows each) of n rows on the thread pool.
template <class F>
void ForChunks(int64_t n, int64_t chunk_rows, F body) {
  BatchJob job;
  job.n = (n + chunk_rows - 1) / chunk_rows;
  job.grain = 1;
  job.range = [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) body(c, c * chunk_rows, std::min(chunk_rows, n - c * chunk_rows));
  };
  RunBatch(job, nullptr, nullptr);
}

int64_t RowsOf(Napi::Env env, size_t length, int dim, const char* name) {
  if (length % static_cast<size_t>(dim) != 0)
    ThrowRangeError(env, std::string("Expected `") + name + "` to hold a multiple of dim = " + std::to_string(dim) +
                             " values but received " + std::to_string(length));
  const int64_t n = static_cast<int64_t>(length / static_cast<size_t>(dim));
  if (n < 1 || n > kMaxRows) ThrowRangeError(env, std::string("Expected 1 to 2^31 rows in `") + name + "`");
  return n;
}

template <class T>
void LogProb(Napi::Env env, const MafSpec& s, const Napi::CallbackInfo& info) {
  std::vector<uint8_t> mask;
  const T* params = GetParams<T>(env, s, info[3], mask);
  const int D = s.shape.made.dim;
  auto theta = GetFloatArray<T>(info[4], "theta", -1);
  const int64_t n = RowsOf(env, theta.length, D, "theta");
  const Context ctx = GetContext<T>(env, s, info[5], n);
  T* log_prob = GetFloatArray<T>(info[6], "logProb", n).data;
  T* base = IsAbsent(info[7]) ? nullptr : GetFloatArray<T>(info[7], "base", n * D).data;
  const T* th = theta.data;
  const T* x = static_cast<const T*>(ctx.data);
  WithElement<T>(s, [&](const auto& e) {
    ForChunks(n, kChunkRows, [&](int64_t, int64_t r0, int64_t rows) {
      std::vector<T> work(static_cast<size_t>(sbi::maf_workspace_size(s.shape, rows)));
      MafLogProb(s.shape, e, rows, params, th + r0 * D, x ? x + r0 * ctx.stride : nullptr, ctx.stride,
                        log_prob + r0, base ? base + r0 * D : nullptr, work.data());
    });
  });
}

template <class T>
double LogProbBackward(Napi::Env env, const MafSpec& s, const Napi::CallbackInfo& info) {
  std::vector<uint8_t> mask;
  const T* params = GetParams<T>(env, s, info[3], mask);
  const int D = s.shape.made.dim, C = s.shape.made.context;
  auto theta = GetFloatArray<T>(info[4], "theta", -1);
  const int64_t n = RowsOf(env, theta.length, D, "theta");
  const Context ctx = GetContext<T>(env, s, info[5], n);
  T* g_params = GetFloatArray<T>(info[6], "gParams", s.param_count).data;
  T* g_theta = IsAbsent(info[7]) ? nullptr : GetFloatArray<T>(info[7], "gTheta", n * D).data;
  const int64_t g_x_len = ctx.stride == 0 ? C : n * C;
  T* g_x = IsAbsent(info[8]) ? nullptr : GetFloatArray<T>(info[8], "gX", g_x_len).data;
  const T* th = theta.data;
  const T* x = static_cast<const T*>(ctx.data);
  // At most kMaxGradChunks chunks, so the per-chunk gradients take at most that many parameter
  // vectors; the chunking depends on n only, never on the thread count.
  const int64_t chunk_rows = std::max(kGradChunkRows, (n + kMaxGradChunks - 1) / kMaxGradChunks);
  const int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
  // Per chunk: its parameter gradient, its loss and (broadcast context) its context gradient.
  std::vector<T> g_chunks(static_cast<size_t>(chunks * s.param_count));
  std::vector<T> gx_chunks(static_cast<size_t>(ctx.stride == 0 && g_x ? chunks * C : 0));
  std::vector<T> losses(static_cast<size_t>(chunks));
  const T scale = T(1) / static_cast<T>(n);
  WithElement<T>(s, [&](const auto& e) {
    ForChunks(n, chunk_rows, [&](int64_t c, int64_t r0, int64_t rows) {
      std::vector<T> work(static_cast<size_t>(sbi::maf_workspace_size(s.shape, rows)));
      std::vector<T> log_prob(static_cast<size_t>(rows));
      T* gx = !g_x ? nullptr : ctx.stride == 0 ? gx_chunks.data() + c * C : g_x + r0 * C;
      T* gp = g_chunks.data() + c * s.param_count;
      losses[c] = sbi::maf_nll_backward(s.shape, e, rows, params, mask.data(), th + r0 * D,
                                        x ? x + r0 * ctx.stride : nullptr, ctx.stride, scale, gp,
                                        g_theta ? g_theta + r0 * D : nullptr, gx, log_prob.data(), work.data());
    });
  });
  double loss = 0;
  for (int64_t j = 0; j < s.param_count; ++j) g_params[j] = T(0);
  if (gx_chunks.size())
    for (int64_t i = 0; i < C; ++i) g_x[i] = T(0);
  for (int64_t c = 0; c < chunks; ++c) {
    loss += static_cast<double>(losses[c]);
    for (int64_t j = 0; j < s.param_count; ++j) g_params[j] += g_chunks[c * s.param_count + j];
    if (gx_chunks.size())
      for (int64_t i = 0; i < C; ++i) g_x[i] += gx_chunks[c * C + i];
  }
  return loss;
}

template <class T>
void Sample(Napi::Env env, const MafSpec& s, const Napi::CallbackInfo& info) {
  std::vector<uint8_t> mask;
  const T* params = GetParams<T>(env, s, info[3], mask);
  const int D = s.shape.made.dim;
  const int64_t n = GetInteger(info[5], "n", 1, kMaxRows);
  const Context ctx = GetContext<T>(env, s, info[4], n);
  const uint64_t seed = GetSeed(info[6], "seed");
  T* theta = GetFloatArray<T>(info[7], "theta", n * D).data;
  T* log_prob = IsAbsent(info[8]) ? nullptr : GetFloatArray<T>(info[8], "logProb", n).data;
  const T* x = static_cast<const T*>(ctx.data);
  WithElement<T>(s, [&](const auto& e) {
    ForChunks(n, kChunkRows, [&](int64_t, int64_t r0, int64_t rows) {
      std::vector<T> work(static_cast<size_t>(sbi::maf_workspace_size(s.shape, rows)));
      std::vector<T> u(static_cast<size_t>(rows * D));
      sbi::maf_sample_base(seed, r0, rows, D, u.data());
      MafSample(s.shape, e, rows, params, x ? x + r0 * ctx.stride : nullptr, ctx.stride, u.data(),
                      theta + r0 * D, log_prob ? log_prob + r0 : nullptr, work.data());
    });
  });
}

template <class T>
void Conditioner(Napi::Env env, const MafSpec& s, const Napi::CallbackInfo& info) {
  std::vector<uint8_t> mask;
  const T* params = GetParams<T>(env, s, info[3], mask);
  const int layer = static_cast<int>(GetInteger(info[4], "layer", 0, s.shape.layers - 1));
  const sbi::nn::MadeShape& m = s.shape.made;
  auto input = GetFloatArray<T>(info[5], "input", -1);
  const int64_t n = RowsOf(env, input.length, m.dim, "input");
  const Context ctx = GetContext<T>(env, s, info[6], n);
  T* out = GetFloatArray<T>(info[7], "out", n * m.dim * m.params_per_dim).data;
  const int W = m.dim + m.context;
  const T* x = static_cast<const T*>(ctx.data);
  const T* made_params = params + layer * sbi::nn::made_param_count(m);
  std::vector<T> in(static_cast<size_t>(n * W));
  for (int64_t r = 0; r < n; ++r) {
    for (int d = 0; d < m.dim; ++d) in[r * W + d] = input.data[r * m.dim + d];
    for (int c = 0; c < m.context; ++c) in[r * W + m.dim + c] = x[r * ctx.stride + c];
  }
  std::vector<T> hidden(static_cast<size_t>(sbi::nn::made_saved_size(m, n)));
  std::vector<T> pre(sbi::nn::activation_needs_preactivation(m.act) ? hidden.size() : 0);
  sbi::nn::made_forward(m, n, made_params, in.data(), hidden.data(), pre.empty() ? nullptr : pre.data(), out);
}

// Runs IMPL<float> or IMPL<double> by the type of the `params` argument (index 3).
#define SBI_MAF_DISPATCH(IMPL)                                          \
  (IsSinglePrecision(env, info[3], "params") ? IMPL<float>(env, s, info)    \
                                             : IMPL<double>(env, s, info))

Napi::Value MafParamCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(GetMafSpec(info.Env(), info).param_count));
}

Napi::Value MafParamMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  uint8_t* mask = GetUint8Array(info[3], "mask", s.param_count).data;
  const int64_t made_count = sbi::nn::made_param_count(s.shape.made);
  for (int k = 0; k < s.shape.layers; ++k) sbi::nn::made_build_mask(s.shape.made, mask + k * made_count);
  return env.Undefined();
}

Napi::Value MafLogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  SBI_MAF_DISPATCH(LogProb);
  return env.Undefined();
}

Napi::Value MafLogProbBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  return Napi::Number::New(env, SBI_MAF_DISPATCH(LogProbBackward));
}

Napi::Value MafSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  SBI_MAF_DISPATCH(Sample);
  return env.Undefined();
}

Napi::Value MafConditioner(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MafSpec s = GetMafSpec(env, info);
  SBI_MAF_DISPATCH(Conditioner);
  return env.Undefined();
}

#undef SBI_MAF_DISPATCH

}  // namespace
SBI_NATIVE_FUNCTION("mafParamCount", MafParamCount);
SBI_NATIVE_FUNCTION("mafParamMask", MafParamMask);
SBI_NATIVE_FUNCTION("mafLogProb", MafLogProb);
SBI_NATIVE_FUNCTION("mafLogProbBackward", MafLogProbBackward);
SBI_NATIVE_FUNCTION("mafSample", MafSample);
SBI_NATIVE_FUNCTION("mafConditioner", MafConditioner);
}  // namespace sbi_native
