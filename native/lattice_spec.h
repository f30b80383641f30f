// Argument parsing of the lattice ops at the N-API boundary, shared by the CPU addon
// (lattice_phi4.cc, lattice_u1.cc, lattice_flow.cc) and the CUDA addon (native/cuda/lattice_ops.cc),
// so both reject the same arguments with the same messages:
//   the lattice extent L of the actions, their couplings ([m², λ] for φ⁴, β for U(1));
//   the flows' shapes (φ⁴: Int32Array [L, layers, hidden, depth, K]; U(1): [..., components]),
//   their couplings (normalisable φ⁴ targets only) and the sampler's options { seed, n, offset?, symmetric? }.
#pragma once
#include <napi.h>

#include <cmath>
#include <string>

#include "../kernels/lattice/flow_sampler.h"
#include "finite_checks.h"
#include "napi_util.h"

namespace sbi_native {

constexpr int64_t kLatticeMaxL = 4096;

// [m², λ] of the φ⁴ action, finite.
struct Phi4ActionCoupling {
  double m2, lambda;
};
inline Phi4ActionCoupling GetPhi4ActionCoupling(const Napi::Value& v) {
  const View<double> c = GetFloat64Array(v, "coupling", 2);
  for (int i = 0; i < 2; ++i)
    if (!std::isfinite(c.data[i]))
      ThrowRangeError(v.Env(), std::string("Expected finite [m2, lambda] in `coupling` but ") + (i == 0 ? "m2" : "lambda") +
                                   " is " + std::to_string(c.data[i]));
  return {c.data[0], c.data[1]};
}

// β of the U(1) action, finite.
inline double GetU1Beta(const Napi::Value& v) {
  const double beta = GetNumber(v, "beta");
  if (!std::isfinite(beta)) ThrowRangeError(v.Env(), "Expected a finite `beta` but received " + Describe(v));
  return beta;
}

// Checks shape[i] in [lo[i], hi[i]] for an Int32Array of N entries, and an odd kernel extent shape[4].
template <size_t N>
View<int32_t> GetLatticeShapeArray(const Napi::Value& v, const char* const (&names)[N], const int (&lo)[N], const int (&hi)[N]) {
  const View<int32_t> a = GetInt32Array(v, "shape", N);
  for (size_t i = 0; i < N; ++i)
    if (a.data[i] < lo[i] || a.data[i] > hi[i])
      ThrowRangeError(v.Env(), std::string("Expected shape[") + std::to_string(i) + "] (" + names[i] + ") in [" +
                                   std::to_string(lo[i]) + ", " + std::to_string(hi[i]) + "] but received " +
                                   std::to_string(a.data[i]));
  if (a.data[4] % 2 == 0) ThrowRangeError(v.Env(), "Expected an odd kernel extent K but received " + std::to_string(a.data[4]));
  return a;
}

inline sbi::CheckerboardFlowShape GetPhi4FlowShape(const Napi::Value& v) {
  static const char* const names[5] = {"L", "layers", "hidden", "depth", "K"};
  const View<int32_t> a = GetLatticeShapeArray(v, names, {2, 1, 1, 0, 1}, {1024, 1024, 1024, sbi::kConvNetMaxDepth - 1, 15});
  return {a.data[0], a.data[1], a.data[2], a.data[3], a.data[4]};
}

inline sbi::GaugeFlowShape GetU1FlowShape(const Napi::Value& v) {
  static const char* const names[6] = {"L", "layers", "hidden", "depth", "K", "components"};
  const View<int32_t> a = GetLatticeShapeArray(v, names, {4, 1, 1, 0, 1, 1},
                                               {1024, 1024, 1024, sbi::kConvNetMaxDepth - 1, 15, sbi::kGaugeFlowMaxComponents});
  if (a.data[0] % 4 != 0)
    ThrowRangeError(v.Env(), "Expected shape[0] (L) a multiple of 4 (the plaquette stripes repeat every 4 sites) but received " +
                                 std::to_string(a.data[0]));
  return {a.data[0], a.data[1], a.data[2], a.data[3], a.data[4], a.data[5]};
}

// The flow's target [m², λ]: finite, and e^-S normalisable (λ > 0, or λ = 0 and m² > 0).
inline sbi::Phi4Params<double> GetPhi4FlowCoupling(const Napi::Value& v, int L) {
  const View<double> c = GetFloat64Array(v, "coupling", 2);
  if (!std::isfinite(c.data[0]) || !std::isfinite(c.data[1]) || c.data[1] < 0 || (c.data[1] == 0 && c.data[0] <= 0))
    ThrowRangeError(v.Env(), "Expected finite [m2, lambda] with lambda > 0, or lambda = 0 and m2 > 0 (a normalisable e^-S), "
                             "but received [" + std::to_string(c.data[0]) + ", " + std::to_string(c.data[1]) + "]");
  return {L, c.data[0], c.data[1]};
}

// The flow's target [β], finite.
inline sbi::U1Params<double> GetU1FlowCoupling(const Napi::Value& v, int L) {
  const View<double> c = GetFloat64Array(v, "coupling", 1);
  if (!std::isfinite(c.data[0]))
    ThrowRangeError(v.Env(), "Expected a finite [beta] for `coupling` but received [" + std::to_string(c.data[0]) + "]");
  return {L, c.data[0]};
}

// The flow's parameters: the model's count of finite doubles.
template <class Model>
View<double> GetLatticeFlowParams(const Napi::Value& v, const Model& m) {
  const View<double> p = GetFloat64Array(v, "params", m.param_count());
  CheckFiniteArray(v.Env(), p, "params");
  return p;
}

// The sampler's options { seed, n, offset? (0), symmetric? (false; only where the target has the
// symmetry x → −x), threads? (read by the CPU sampler) }: draw i from Philox stream offset + i.
struct LatticeSampleOptions {
  uint64_t seed = 0, offset = 0;
  int64_t n = 0;
  bool symmetric = false;
};
inline LatticeSampleOptions GetLatticeSampleOptions(const Napi::Value& v, bool reflectable) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) ThrowTypeError(env, "Expected an options object for `options` but received " + Describe(v));
  const Napi::Object o = v.As<Napi::Object>();
  LatticeSampleOptions r;
  r.seed = GetSeed(o.Get("seed"), "seed");
  r.n = GetInteger(o.Get("n"), "n", 1, int64_t{1} << 40);
  const Napi::Value offset = o.Get("offset");
  r.offset = IsAbsent(offset) ? 0 : static_cast<uint64_t>(GetInteger(offset, "offset", 0, int64_t{1} << 52));
  const Napi::Value symmetric = o.Get("symmetric");
  if (!IsAbsent(symmetric)) {
    if (!symmetric.IsBoolean()) ThrowTypeError(env, "Expected a boolean for `symmetric` but received " + Describe(symmetric));
    r.symmetric = symmetric.As<Napi::Boolean>().Value();
    if (r.symmetric && !reflectable)
      ThrowRangeError(env, "Expected `symmetric` false: this flow's target has no φ → −φ symmetry to symmetrise over");
  }
  return r;
}

}  // namespace sbi_native
