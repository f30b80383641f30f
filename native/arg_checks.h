// Argument checks shared by the CPU addon and the CUDA addon (native/cuda/), so that both
// reject the same arguments with the same messages.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "../kernels/nn/adam.h"
#include "../kernels/nn/dense.h"
#include "../kernels/trellis/energies.h"
#include "napi_util.h"

namespace sbi_native {

// The activation named by a string: "identity", "relu", "tanh", "elu" or "silu".
inline sbi::nn::Activation GetActivation(const Napi::Value& v) {
  using sbi::nn::Activation;
  const std::string s = GetString(v, "activation");
  if (s == "identity") return Activation::Identity;
  if (s == "relu") return Activation::ReLU;
  if (s == "tanh") return Activation::Tanh;
  if (s == "elu") return Activation::ELU;
  if (s == "silu") return Activation::SiLU;
  ThrowRangeError(v.Env(), "Expected one of \"identity\", \"relu\", \"tanh\", \"elu\", \"silu\" for `activation` but received " +
                               Describe(v));
}

// Layer widths of an MLP from an Int32Array [L + 1] (1 <= L <= 64, each width in [1, 4096]).
inline std::vector<int64_t> GetLayerSizes(const Napi::Value& v) {
  const View<int32_t> s = GetInt32Array(v, "sizes");
  if (s.length < 2 || s.length > 65)
    ThrowRangeError(v.Env(), "Expected 2 to 65 layer widths for `sizes` but received " + Describe(v));
  std::vector<int64_t> sizes(s.length);
  for (size_t i = 0; i < s.length; ++i) {
    if (s.data[i] < 1 || s.data[i] > 4096)
      ThrowRangeError(v.Env(), "Expected layer widths in [1, 4096] but sizes[" + std::to_string(i) + "] is " +
                                   std::to_string(s.data[i]));
    sizes[i] = s.data[i];
  }
  return sizes;
}

// Adam settings from { lr, beta1?, beta2?, eps?, weightDecay?, decoupled? } (nnAdamStep's options).
inline sbi::nn::AdamConfig GetAdamConfig(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(v));
  const Napi::Object o = v.As<Napi::Object>();
  if (IsAbsent(o.Get("lr"))) ThrowTypeError(env, "Expected a number for `lr` but received undefined");
  sbi::nn::AdamConfig c;
  c.lr = GetNumberOption(o, "lr", c.lr, 0, 1e300, false);
  c.beta1 = GetNumberOption(o, "beta1", c.beta1, 0, 1, true);
  c.beta2 = GetNumberOption(o, "beta2", c.beta2, 0, 1, true);
  c.eps = GetNumberOption(o, "eps", c.eps, 0, 1e300, false);
  c.weight_decay = GetNumberOption(o, "weightDecay", c.weight_decay, 0, 1e300, false);
  const Napi::Value dec = o.Get("decoupled");
  if (!IsAbsent(dec)) {
    if (!dec.IsBoolean()) ThrowTypeError(env, "Expected a boolean for `decoupled` but received " + Describe(dec));
    c.decoupled = dec.As<Napi::Boolean>().Value();
  }
  return c;
}

// The trellis's energy ("ginkgo" [λ, λ_root, t_cut] or "gaussian" [σ]) and leaves (native/trellis.cc).
enum class EnergyKind { Ginkgo, Gaussian };

struct EnergySpec {
  EnergyKind kind = EnergyKind::Ginkgo;
  sbi::GinkgoModel ginkgo;
  double sigma = 1.0;
};

inline EnergySpec GetEnergy(Napi::Env env, const Napi::Value& name_value, const Napi::Value& params_value) {
  const std::string name = GetString(name_value, "energy");
  EnergySpec e;
  if (name == "ginkgo") {
    const View<double> p = GetFloat64Array(params_value, "params", 3);
    if (!(p.data[0] > 0.0 && p.data[1] > 0.0 && p.data[2] >= 0.0) || !std::isfinite(p.data[0]) ||
        !std::isfinite(p.data[1]) || !std::isfinite(p.data[2]))
      ThrowRangeError(env, "Expected `params` = [lambda > 0, lambdaRoot > 0, tCut >= 0] (finite) for energy 'ginkgo' but received [" +
                               std::to_string(p.data[0]) + ", " + std::to_string(p.data[1]) + ", " + std::to_string(p.data[2]) + "]");
    e.kind = EnergyKind::Ginkgo;
    e.ginkgo.lambda = p.data[0];
    e.ginkgo.lambda_root = p.data[1];
    e.ginkgo.t_cut = p.data[2];
  } else if (name == "gaussian") {
    const View<double> p = GetFloat64Array(params_value, "params", 1);
    if (!(p.data[0] > 1e-150 && p.data[0] < 1e150))
      ThrowRangeError(env, "Expected `params` = [sigma] with sigma in (1e-150, 1e150) for energy 'gaussian' but received [" +
                               std::to_string(p.data[0]) + "]");
    e.kind = EnergyKind::Gaussian;
    e.sigma = p.data[0];
  } else {
    ThrowSbiError(env, "UNKNOWN_ENERGY", "Unknown energy " + Describe(name_value) + "; known: ginkgo, gaussian");
  }
  return e;
}

// Leaves [N·4], finite, 1 <= N <= max_leaves.
inline std::vector<double> GetLeaves(Napi::Env env, const Napi::Value& v, int max_leaves, int* n) {
  const View<double> a = GetFloat64Array(v, "leaves");
  if (a.length == 0 || a.length % sbi::kLeafValues != 0 || a.length / sbi::kLeafValues > static_cast<size_t>(max_leaves))
    ThrowRangeError(env, "Expected `leaves` to hold N · 4 values with 1 <= N <= " + std::to_string(max_leaves) +
                             " (the trellis's limit: 2^N sets in memory, 3^N split evaluations) but received " +
                             std::to_string(a.length) + " values");
  for (size_t i = 0; i < a.length; ++i)
    if (!std::isfinite(a.data[i]))
      ThrowRangeError(env, "Expected finite values in `leaves` but leaf " + std::to_string(i / 4) + ", component " +
                               std::to_string(i % 4) + " is " + std::to_string(a.data[i]));
  *n = static_cast<int>(a.length / sbi::kLeafValues);
  return std::vector<double>(a.data, a.data + a.length);
}

// RangeError naming the first non-finite value of p[0..len) (rows of `dim` values) by row and
// column. Non-finite (NaN or ±inf) values have all exponent bits set: the scan is an integer OR
// over blocks (vectorised); only a block that has one is searched for the first offender.
inline void CheckFiniteRows(Napi::Env env, const double* p, size_t len, const char* name, int dim) {
  constexpr uint64_t kExponent = 0x7ff0000000000000ull;
  constexpr size_t kBlock = 4096;
  for (size_t b = 0; b < len; b += kBlock) {
    const size_t e = std::min(len, b + kBlock);
    uint64_t any = 0;
    for (size_t i = b; i < e; ++i) {
      uint64_t bits;
      std::memcpy(&bits, p + i, sizeof bits);
      any |= (bits & kExponent) == kExponent ? 1u : 0u;
    }
    if (any == 0) continue;
    for (size_t i = b; i < e; ++i)
      if (!std::isfinite(p[i]))
        ThrowRangeError(env, std::string("Expected finite values in `") + name + "` but row " +
                                 std::to_string(i / dim) + ", column " + std::to_string(i % dim) + " is " +
                                 std::to_string(p[i]));
  }
}

}  // namespace sbi_native
