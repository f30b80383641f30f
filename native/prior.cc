// samplePrior: batched prior draws (kernels/random/prior.h); row i uses stream streamOffset + i.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../kernels/random/prior.h"
#include "batch.h"
#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {
namespace {

struct PriorArgs {
  sbi::PriorProgram prog;
  int dim;
  uint64_t seed, stream_offset;
  double* out;
};

inline void PriorRows(const PriorArgs& a, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; ++i) {
    sbi::PhiloxStream r(a.seed, a.stream_offset + static_cast<uint64_t>(i));
    sbi::sample_prior_row(a.prog, r, a.out + i * a.dim);
  }
}
SBI_MULTIVERSION(PriorRange, PriorArgs, PriorRows)
using PriorRangeFn = void (*)(const PriorArgs&, int64_t, int64_t);
const PriorRangeFn kPriorRange[3] = SBI_MULTIVERSION_TABLE(PriorRange);

// Checks the program against the params so that the kernel never reads out of bounds or
// draws from an invalid distribution; returns theta's dimension.
int CheckProgram(Napi::Env env, const View<int32_t>& parts, const View<double>& params) {
  auto bad = [&](const std::string& what) { ThrowRangeError(env, "Invalid prior program: " + what); };
  if (parts.length == 0 || parts.length % 3 != 0)
    bad("expected `parts` to hold (kind, dim, offset) triples but it has " + std::to_string(parts.length) + " entries");
  for (size_t i = 0; i < params.length; ++i)
    if (!std::isfinite(params.data[i])) bad("`params` index " + std::to_string(i) + " is not finite");
  int64_t dim = 0;
  for (size_t j = 0; j < parts.length / 3; ++j) {
    const std::string part = "part " + std::to_string(j);
    const int32_t kind = parts.data[3 * j], d = parts.data[3 * j + 1], offset = parts.data[3 * j + 2];
    if (kind < 0 || kind >= sbi::kPriorPartKinds) bad(part + " has unknown kind " + std::to_string(kind));
    if (d < 1 || d > 65536) bad(part + " has dimension " + std::to_string(d) + " (expected 1 to 65536)");
    const int64_t count = sbi::prior_part_param_count(kind, d);
    if (offset < 0 || offset + count > static_cast<int64_t>(params.length))
      bad(part + " reads params [" + std::to_string(offset) + ", " + std::to_string(offset + count) + ") of " +
          std::to_string(params.length));
    const double* p = params.data + offset;
    for (int i = 0; i < d; ++i) {
      const bool ok = kind == sbi::kPriorBoxUniform ? p[i] < p[d + i]
                      : kind == sbi::kPriorMvn      ? p[d + i * d + i] > 0.0
                                                    : p[d + i] > 0.0;
      if (!ok) bad(part + (kind == sbi::kPriorBoxUniform ? " needs low < high" : " needs a positive scale") +
                   " in dimension " + std::to_string(i));
    }
    dim += d;
  }
  if (dim > 65536) bad("theta has " + std::to_string(dim) + " dimensions (at most 65536)");
  return static_cast<int>(dim);
}

// samplePrior(parts: Int32Array, params: Float64Array, n, seed, streamOffset, out: Float64Array[n * dim], threads?)
Napi::Value SamplePrior(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto parts = GetInt32Array(info[0], "parts");
  auto params = GetFloat64Array(info[1], "params");
  PriorArgs a;
  a.dim = CheckProgram(env, parts, params);
  a.prog.parts = parts.data;
  a.prog.n_parts = static_cast<int>(parts.length / 3);
  a.prog.params = params.data;
  const int64_t n = GetInteger(info[2], "n", 0, int64_t(1) << 40);
  a.seed = GetSeed(info[3], "seed");
  a.stream_offset = GetSeed(info[4], "streamOffset");
  a.out = GetFloat64Array(info[5], "out", n * a.dim).data;
  BatchJob job;
  job.n = n;
  job.threads = GetThreads(info[6]);
  job.grain = std::max<int64_t>(64, 8192 / a.dim);
  const PriorRangeFn fn = kPriorRange[static_cast<int>(ActiveIsa())];
  job.range = [fn, a](int64_t b, int64_t e) { fn(a, b, e); };
  RunBatch(job, nullptr, nullptr);
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("samplePrior", SamplePrior);
}  // namespace sbi_native
