// Philox and the samplers, batched: sample i of a batch uses stream (streamOffset + i).
#include <cmath>
#include <string>
#include <vector>

#include "../kernels/random/samplers.h"
#include "batch.h"
#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {
namespace {

// philox4x32(counters: Uint32Array[4m], key: Uint32Array[2], out: Uint32Array[4m])
Napi::Value Philox4x32(const Napi::CallbackInfo& info) {
  auto ctr = GetUint32Array(info[0], "counters");
  if (ctr.length % 4 != 0) ThrowRangeError(info.Env(), "Expected `counters` to hold a multiple of 4 words but received " + Describe(info[0]));
  auto key = GetUint32Array(info[1], "key", 2);
  auto out = GetUint32Array(info[2], "out", static_cast<int64_t>(ctr.length));
  for (size_t i = 0; i < ctr.length; i += 4) {
    sbi::U32x4 c = {{ctr.data[i], ctr.data[i + 1], ctr.data[i + 2], ctr.data[i + 3]}};
    sbi::U32x4 r = sbi::philox4x32_10(c, key.data[0], key.data[1]);
    for (int j = 0; j < 4; ++j) out.data[i + j] = r.v[j];
  }
  return info.Env().Undefined();
}

enum class Dist { Uniform, Normal, Exponential, Gamma, Beta, Binomial, Poisson, LogNormal, Categorical, StudentT, MvnCholesky };

struct DistSpec {
  const char* name;
  Dist dist;
  int n_params;  // -1: variable
};

const DistSpec kDists[] = {
    {"uniform", Dist::Uniform, 2},      {"normal", Dist::Normal, 2},       {"exponential", Dist::Exponential, 1},
    {"gamma", Dist::Gamma, 2},          {"beta", Dist::Beta, 2},           {"binomial", Dist::Binomial, 2},
    {"poisson", Dist::Poisson, 1},      {"lognormal", Dist::LogNormal, 2}, {"categorical", Dist::Categorical, -1},
    {"studentT", Dist::StudentT, 1},    {"mvnCholesky", Dist::MvnCholesky, -1},
};

struct SampleArgs {
  Dist dist;
  const double* p;
  int np;
  int dim;  // output values per sample
  uint64_t seed, stream_offset;
  double* out;
};

// Rows [b, e) of a batch. Compiled once per instruction-set path (SBI_MULTIVERSION); every
// path gives bit-identical output because nothing is contracted or reassociated.
inline void SampleRows(const SampleArgs& a, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    sbi::PhiloxStream r(a.seed, a.stream_offset + static_cast<uint64_t>(i));
    double* o = a.out + i * a.dim;
    switch (a.dist) {
      case Dist::Uniform: o[0] = sbi::sample_uniform(r, a.p[0], a.p[1]); break;
      case Dist::Normal: o[0] = sbi::sample_normal(r, a.p[0], a.p[1]); break;
      case Dist::Exponential: o[0] = sbi::sample_exponential(r, a.p[0]); break;
      case Dist::Gamma: o[0] = sbi::sample_gamma(r, a.p[0], a.p[1]); break;
      case Dist::Beta: o[0] = sbi::sample_beta(r, a.p[0], a.p[1]); break;
      case Dist::Binomial: o[0] = sbi::sample_binomial(r, a.p[0], a.p[1]); break;
      case Dist::Poisson: o[0] = sbi::sample_poisson(r, a.p[0]); break;
      case Dist::LogNormal: o[0] = sbi::sample_lognormal(r, a.p[0], a.p[1]); break;
      case Dist::Categorical: o[0] = sbi::sample_categorical(r, a.p, a.np); break;
      case Dist::StudentT: o[0] = sbi::sample_student_t(r, a.p[0]); break;
      // The row itself holds z while it is transformed in place.
      case Dist::MvnCholesky: sbi::sample_mvn_cholesky(r, a.p, a.p + a.dim, a.dim, o, o); break;
    }
  }
}
SBI_MULTIVERSION(SampleRange, SampleArgs, SampleRows)
using SampleRangeFn = void (*)(const SampleArgs&, int64_t, int64_t);
const SampleRangeFn kSampleRange[3] = SBI_MULTIVERSION_TABLE(SampleRange);

// Cheap invariants re-checked here so that no parameter can make a sampler loop forever.
void CheckParams(Napi::Env env, const DistSpec& d, const double* p, int np, int* dim) {
  auto bad = [&](const std::string& what) {
    ThrowRangeError(env, std::string("Invalid parameters for `") + d.name + "`: expected " + what);
  };
  for (int i = 0; i < np; ++i)
    if (!std::isfinite(p[i])) bad("finite values");
  *dim = 1;
  switch (d.dist) {
    case Dist::Uniform: if (!(p[0] < p[1])) bad("low < high"); break;
    case Dist::Normal: case Dist::LogNormal: if (!(p[1] > 0)) bad("a positive standard deviation"); break;
    case Dist::Exponential: if (!(p[0] > 0)) bad("a positive rate"); break;
    case Dist::Gamma: case Dist::Beta: if (!(p[0] > 0 && p[1] > 0)) bad("two positive parameters"); break;
    case Dist::Binomial:
      if (!(p[0] >= 0 && p[0] <= 9007199254740992.0 && std::floor(p[0]) == p[0])) bad("a non-negative integer count n <= 2^53");
      if (!(p[1] >= 0 && p[1] <= 1)) bad("a probability p in [0, 1]");
      break;
    case Dist::Poisson: if (!(p[0] >= 0 && p[0] <= 1e15)) bad("a rate in [0, 1e15]"); break;
    case Dist::StudentT: if (!(p[0] > 0)) bad("positive degrees of freedom"); break;
    case Dist::Categorical: {
      if (np < 1) bad("at least one weight");
      double total = 0;
      for (int i = 0; i < np; ++i) {
        if (p[i] < 0) bad("non-negative weights");
        total += p[i];
      }
      if (!(total > 0)) bad("weights with a positive sum");
      break;
    }
    case Dist::MvnCholesky: {
      // params = [mean (d), L (d*d)]  ->  np = d + d^2
      int d2 = static_cast<int>(std::floor((-1.0 + std::sqrt(1.0 + 4.0 * np)) / 2.0 + 0.5));
      if (d2 < 1 || d2 + d2 * d2 != np) bad("d mean values followed by a d x d Cholesky factor");
      *dim = d2;
      break;
    }
  }
}

// sample(distribution, params, n, seed, streamOffset, out, threads?)
// sampleAsync(distribution, params, n, seed, streamOffset, out, threads?, onProgress?, cancelFlag?)
PreparedBatch PrepareSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = GetString(info[0], "distribution");
  const DistSpec* spec = nullptr;
  for (const auto& d : kDists)
    if (name == d.name) spec = &d;
  if (spec == nullptr) ThrowRangeError(env, "Unknown distribution " + Describe(info[0]));
  auto params = GetFloat64Array(info[1], "params", spec->n_params);
  const int64_t n = GetInteger(info[2], "n", 0, int64_t(1) << 50);
  SampleArgs a;
  a.dist = spec->dist;
  a.p = params.data;
  a.np = static_cast<int>(params.length);
  CheckParams(env, *spec, a.p, a.np, &a.dim);
  a.seed = GetSeed(info[3], "seed");
  a.stream_offset = GetSeed(info[4], "streamOffset");
  a.out = GetFloat64Array(info[5], "out", n * a.dim).data;
  PreparedBatch p;
  p.job.n = n;
  p.job.threads = GetThreads(info[6]);
  p.job.grain = 4096;
  // params and out are pinned, so their pointers stay valid off-thread.
  const SampleRangeFn fn = kSampleRange[static_cast<int>(ActiveIsa())];
  p.job.range = [fn, a](int64_t b, int64_t e) { fn(a, b, e); };
  p.pinned = {info[1], info[5]};
  p.result = [](Napi::Env env) { return env.Undefined(); };
  return p;
}

void InitRandom(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "philox4x32", Philox4x32);
  ExportBatchPair<PrepareSample, 7>(env, exports, "sample");
}

}  // namespace
SBI_NATIVE_MODULE(InitRandom);
}  // namespace sbi_native
