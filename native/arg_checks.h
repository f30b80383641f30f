// Argument checks shared by the CPU addon and the CUDA addon (native/cuda/), so that both
// reject the same arguments with the same messages.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "../kernels/nn/dense.h"
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
