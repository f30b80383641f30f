// ginkgoSimulate / ginkgoSimulateAsync: batches of Ginkgo jets (kernels/simulators/ginkgo.h).
// Options { n, seed, streamOffset?, lambda, lambdaRoot, tCut, mass, momentum, minLeaves, maxLeaves,
//   maxTries, momenta Float64Array [n·M·4], t Float64Array [n·M], children Int32Array [n·M·2],
//   nodes Int32Array [n], failed Uint8Array [n], jointLogLikelihood Float64Array [n],
//   jointScore Float64Array [n·2] (∂/∂λ, ∂/∂λ_root), reference? Float64Array [3] (λ, λ_root, t_cut)
//   with jointLogRatio? Float64Array [n], threads? } with M = 2 · maxLeaves - 1 node slots per jet.
// Jet i uses Philox stream streamOffset + i; it is redrawn (from the same stream) until its leaf
// count is in [minLeaves, maxLeaves]; after maxTries it is marked failed (nodes 0).
// ginkgoSimulate(options) -> number of failed jets; ginkgoSimulateAsync(options, onProgress, cancelFlag).
#include <cmath>
#include <string>
#include <vector>

#include "../../kernels/simulators/ginkgo.h"
#include "../batch.h"
#include "../napi_util.h"

namespace sbi_native {
namespace {

constexpr int64_t kMaxJetLeaves = 4096;

struct GinkgoBatch {
  sbi::GinkgoModel model, reference;
  bool has_reference = false;
  double root[4];
  double root_t;
  uint64_t seed, stream_offset;
  int64_t n, min_leaves, max_leaves, max_tries;
  double *momenta, *t, *log_lh, *score, *log_ratio;
  int32_t *children, *nodes;
  uint8_t* failed;
};

void SimulateRange(const GinkgoBatch& b, int64_t begin, int64_t end) {
  const int m = static_cast<int>(2 * b.max_leaves - 1);
  std::vector<int32_t> left(m), right(m), stack(m);
  for (int64_t i = begin; i < end; ++i) {
    sbi::PhiloxStream rng(b.seed, b.stream_offset + static_cast<uint64_t>(i));
    sbi::GinkgoTree tree{b.momenta + i * m * 4, b.t + i * m, left.data(), right.data(), stack.data(), m};
    sbi::GinkgoGold gold{};
    int nodes = 0;
    for (int64_t attempt = 0; attempt < b.max_tries && nodes == 0; ++attempt) {
      const int k = sbi::ginkgo_shower(rng, b.root, b.root_t, b.model, b.has_reference ? &b.reference : nullptr, tree, gold);
      if (k > 0 && (k + 1) / 2 >= b.min_leaves) nodes = k;
    }
    b.nodes[i] = nodes;
    b.failed[i] = nodes == 0 ? 1 : 0;
    for (int j = 0; j < m; ++j) {
      b.children[(i * m + j) * 2] = j < nodes ? left[j] : -1;
      b.children[(i * m + j) * 2 + 1] = j < nodes ? right[j] : -1;
    }
    const double nan = std::nan("");
    b.log_lh[i] = nodes ? gold.log_likelihood : nan;
    b.score[2 * i] = nodes ? gold.score_lambda : nan;
    b.score[2 * i + 1] = nodes ? gold.score_lambda_root : nan;
    if (b.log_ratio) b.log_ratio[i] = nodes ? gold.log_ratio : nan;
  }
}

sbi::GinkgoModel GetModel(Napi::Env env, const double* v, const char* name) {
  if (!(v[0] > 0.0) || !(v[1] > 0.0) || !(v[2] >= 0.0) || !std::isfinite(v[0]) || !std::isfinite(v[1]) || !std::isfinite(v[2]))
    ThrowRangeError(env, std::string("Expected `") + name + "` = [lambda > 0, lambdaRoot > 0, tCut >= 0] (finite) but received [" +
                             std::to_string(v[0]) + ", " + std::to_string(v[1]) + ", " + std::to_string(v[2]) + "]");
  sbi::GinkgoModel m;
  m.lambda = v[0];
  m.lambda_root = v[1];
  m.t_cut = v[2];
  return m;
}

PreparedBatch PrepareGinkgo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsTypedArray() || info[0].IsArray())
    ThrowTypeError(env, "Expected an options object for `ginkgoSimulate` but received " +
                            (info.Length() ? Describe(info[0]) : std::string("nothing")));
  Napi::Object o = info[0].As<Napi::Object>();
  GinkgoBatch b{};
  b.n = GetInteger(o.Get("n"), "n", 1, int64_t(1) << 32);
  b.seed = GetSeed(o.Get("seed"), "seed");
  b.stream_offset = IsAbsent(o.Get("streamOffset")) ? 0 : GetSeed(o.Get("streamOffset"), "streamOffset");
  const double model[3] = {GetNumber(o.Get("lambda"), "lambda"), GetNumber(o.Get("lambdaRoot"), "lambdaRoot"),
                           GetNumber(o.Get("tCut"), "tCut")};
  b.model = GetModel(env, model, "model");
  const double mass = GetNumber(o.Get("mass"), "mass"), momentum = GetNumber(o.Get("momentum"), "momentum");
  if (!(mass > 0.0) || !(momentum >= 0.0) || mass > 1e100 || momentum > 1e100)
    ThrowRangeError(env, "Expected `mass` in (0, 1e100] and `momentum` in [0, 1e100] but received " + std::to_string(mass) + " and " +
                             std::to_string(momentum));
  const double c = momentum / std::sqrt(3.0);
  b.root_t = mass * mass;
  b.root[0] = std::sqrt(momentum * momentum + b.root_t);
  b.root[1] = b.root[2] = b.root[3] = c;
  b.max_leaves = GetInteger(o.Get("maxLeaves"), "maxLeaves", 1, kMaxJetLeaves);
  b.min_leaves = GetInteger(o.Get("minLeaves"), "minLeaves", 1, b.max_leaves);
  b.max_tries = GetInteger(o.Get("maxTries"), "maxTries", 1, int64_t(1) << 30);
  const int64_t m = 2 * b.max_leaves - 1;
  if (b.n * m > (int64_t(1) << 40))
    ThrowRangeError(env, "Expected n · (2 maxLeaves - 1) <= 2^40 node slots but received " + std::to_string(b.n * m));
  b.momenta = GetFloat64Array(o.Get("momenta"), "momenta", b.n * m * 4).data;
  b.t = GetFloat64Array(o.Get("t"), "t", b.n * m).data;
  b.children = GetInt32Array(o.Get("children"), "children", b.n * m * 2).data;
  b.nodes = GetInt32Array(o.Get("nodes"), "nodes", b.n).data;
  b.failed = GetUint8Array(o.Get("failed"), "failed", b.n).data;
  b.log_lh = GetFloat64Array(o.Get("jointLogLikelihood"), "jointLogLikelihood", b.n).data;
  b.score = GetFloat64Array(o.Get("jointScore"), "jointScore", b.n * 2).data;
  PreparedBatch p;
  p.pinned = {o.Get("momenta"), o.Get("t"), o.Get("children"), o.Get("nodes"), o.Get("failed"),
              o.Get("jointLogLikelihood"), o.Get("jointScore")};
  const Napi::Value ref = o.Get("reference"), ratio = o.Get("jointLogRatio");
  if (IsAbsent(ref) != IsAbsent(ratio)) ThrowTypeError(env, "`reference` and `jointLogRatio` must be given together");
  if (!IsAbsent(ref)) {
    b.reference = GetModel(env, GetFloat64Array(ref, "reference", 3).data, "reference");
    b.has_reference = true;
    b.log_ratio = GetFloat64Array(ratio, "jointLogRatio", b.n).data;
    p.pinned.push_back(ratio);
  }
  p.job.n = b.n;
  p.job.threads = GetThreads(o.Get("threads"));
  p.job.grain = 16;
  p.job.range = [b](int64_t s, int64_t e) { SimulateRange(b, s, e); };
  p.result = [b](Napi::Env env) {
    int64_t failed = 0;
    for (int64_t i = 0; i < b.n; ++i) failed += b.failed[i];
    return Napi::Number::New(env, static_cast<double>(failed));
  };
  return p;
}

void InitGinkgo(Napi::Env env, Napi::Object exports) { ExportBatchPair<PrepareGinkgo, 1>(env, exports, "ginkgoSimulate"); }

}  // namespace
SBI_NATIVE_MODULE(InitGinkgo);
}  // namespace sbi_native
