// samplerFill(kind, seed, stream, leadWords, n, out, sequential): the bulk samplers of
// kernels/random/samplers.h against the sequential draws they must equal (for tests). Draws
// `leadWords` 32-bit words from stream `stream` under key `seed` (to start at any position in
// a Philox block), then n values of `kind` — "normal": sample_std_normal_fill, or n/2
// sample_std_normal_pair calls when `sequential`; "uniform": sample_uniform_fill, or n
// uniform() calls — then 3 more uniform() draws. out holds n + 3 values.
#include <string>

#include "../kernels/random/samplers.h"
#include "napi_util.h"

namespace sbi_native {
namespace {

Napi::Value SamplerFill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = GetString(info[0], "kind");
  if (kind != "normal" && kind != "uniform")
    ThrowRangeError(env, "Expected \"normal\" or \"uniform\" for `kind` but received " + Describe(info[0]));
  const uint64_t seed = GetSeed(info[1], "seed");
  const uint64_t stream = GetSeed(info[2], "stream");
  const int lead = static_cast<int>(GetInteger(info[3], "leadWords", 0, 1 << 20));
  const int n = static_cast<int>(GetInteger(info[4], "n", 0, 1 << 20));
  if (kind == "normal" && n % 2 != 0) ThrowRangeError(env, "Expected an even `n` for normal pairs but received " + std::to_string(n));
  auto out = GetFloat64Array(info[5], "out", static_cast<int64_t>(n) + 3);
  if (!info[6].IsBoolean()) ThrowTypeError(env, "Expected a boolean for `sequential` but received " + Describe(info[6]));
  const bool sequential = info[6].As<Napi::Boolean>().Value();

  sbi::PhiloxStream r(seed, stream);
  for (int i = 0; i < lead; ++i) r.next_u32();
  double* o = out.data;
  if (kind == "normal") {
    if (sequential)
      for (int i = 0; i < n; i += 2) sbi::sample_std_normal_pair(r, &o[i], &o[i + 1]);
    else
      sbi::sample_std_normal_fill(r, o, n);
  } else {
    if (sequential)
      for (int i = 0; i < n; ++i) o[i] = r.uniform();
    else
      sbi::sample_uniform_fill(r, o, n);
  }
  for (int i = 0; i < 3; ++i) o[n + i] = r.uniform();
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("samplerFill", SamplerFill);
}  // namespace sbi_native
