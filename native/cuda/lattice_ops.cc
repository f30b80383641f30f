// The CUDA addon's lattice ops, argument for argument like the CPU addon's (native/lattice_phi4.cc,
// native/lattice_u1.cc, native/lattice_flow.cc's xxxFlowSample and xxxFlowInverse) with the same checks
// (native/lattice_spec.h), in double only: arguments first, then the device, then the launcher
// (kernels/lattice/*.cu) runs synchronously.
//   phi4Action(L, coupling [m², λ], phi [n·V], action [n], grad? [n·V])
//   u1Action(L, beta, theta [n·2V], action [n], grad? [n·2V], charge? [n])
//   phi4FlowSample(shape, coupling, params, { seed, n, offset?, symmetric? }, magnetization [n], action [n], logq [n], phi? [n·V])
//   u1FlowSample(shape, coupling, params, { seed, n, offset? }, charge [n], action [n], logq [n], theta? [n·2V])
//   phi4FlowInverse(shape, params, phi [n·V], z [n·V], logq [n])       z = f⁻¹(φ), log q(φ)
//   u1FlowInverse(shape, params, theta [n·2V], z [n·2V], logq [n])     z = f⁻¹(θ), log q(θ)
#include <string>

#include "../../kernels/lattice/lattice_launch.h"
#include "../finite_checks.h"
#include "../lattice_spec.h"
#include "cuda_status.h"

namespace sbi_native {
namespace {

// Whole configurations of `width` values in `name`, finite: their count.
int64_t GetConfigurations(Napi::Env env, const View<double>& a, int64_t width, const char* name, const std::string& what) {
  if (a.length == 0 || a.length % width != 0)
    ThrowRangeError(env, std::string("Expected `") + name + "` to hold one or more configurations of " + what + " but it has " +
                             std::to_string(a.length) + " values");
  CheckFiniteArray(env, a, name);
  return static_cast<int64_t>(a.length) / width;
}

Napi::Value Phi4Action(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kLatticeMaxL));
  const Phi4ActionCoupling c = GetPhi4ActionCoupling(info[1]);
  const int64_t V = int64_t{L} * L;
  const View<double> phi = GetFloat64Array(info[2], "phi", -1);
  const int64_t n = GetConfigurations(env, phi, V, "phi", "L·L = " + std::to_string(V) + " sites");
  double* action = GetFloat64Array(info[3], "action", n).data;
  double* grad = IsAbsent(info[4]) ? nullptr : GetFloat64Array(info[4], "grad", n * V).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::phi4_action(sbi::Phi4Params<double>{L, c.m2, c.lambda}, n, phi.data, action, grad));
  return env.Undefined();
}

Napi::Value U1Action(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int L = static_cast<int>(GetInteger(info[0], "L", 1, kLatticeMaxL));
  const double beta = GetU1Beta(info[1]);
  const int64_t D = 2 * int64_t{L} * L;
  const View<double> theta = GetFloat64Array(info[2], "theta", -1);
  const int64_t n = GetConfigurations(env, theta, D, "theta", "2·L·L = " + std::to_string(D) + " link angles");
  double* action = GetFloat64Array(info[3], "action", n).data;
  double* grad = IsAbsent(info[4]) ? nullptr : GetFloat64Array(info[4], "grad", n * D).data;
  double* charge = IsAbsent(info[5]) ? nullptr : GetFloat64Array(info[5], "charge", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::u1_action(sbi::U1Params<double>{L, beta}, n, theta.data, action, grad, charge));
  return env.Undefined();
}

// The outputs of a flow sampler, as the CPU's: observable, action, logq [n], x [n·D] or absent.
sbi::cuda::LatticeFlowDraws GetDraws(const Napi::CallbackInfo& info, int64_t n, int64_t D, const char* x_name) {
  sbi::cuda::LatticeFlowDraws d{};
  d.observable = GetFloat64Array(info[4], "observable", n).data;
  d.action = GetFloat64Array(info[5], "action", n).data;
  d.logq = GetFloat64Array(info[6], "logq", n).data;
  d.x = IsAbsent(info[7]) ? nullptr : GetFloat64Array(info[7], x_name, n * D).data;
  return d;
}

Napi::Value Phi4FlowSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sbi::Phi4FlowKernel m;
  m.s = GetPhi4FlowShape(info[0]);
  m.p = GetPhi4FlowCoupling(info[1], m.s.L);
  const double* params = GetLatticeFlowParams(info[2], m).data;
  const LatticeSampleOptions o = GetLatticeSampleOptions(info[3], sbi::Phi4FlowKernel::kReflectable);
  const sbi::cuda::LatticeFlowDraws d = GetDraws(info, o.n, m.size(), "phi");
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::phi4_flow_sample(m, params, o.seed, o.offset, o.n, o.symmetric, d));
  return env.Undefined();
}

Napi::Value U1FlowSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  sbi::U1FlowKernel m;
  m.s = GetU1FlowShape(info[0]);
  m.p = GetU1FlowCoupling(info[1], m.s.L);
  const double* params = GetLatticeFlowParams(info[2], m).data;
  const LatticeSampleOptions o = GetLatticeSampleOptions(info[3], sbi::U1FlowKernel::kReflectable);
  const sbi::cuda::LatticeFlowDraws d = GetDraws(info, o.n, m.size(), "theta");
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::u1_flow_sample(m, params, o.seed, o.offset, o.n, d));
  return env.Undefined();
}

// The inverse pass of a flow over given configurations, as the CPU's FlowTransform<Model, true>:
// shape, params, x [n·D] (named `x_name`), z [n·D], logq [n].
template <class Model>
Napi::Value FlowInverse(const Napi::CallbackInfo& info, Model m, const char* x_name,
                        sbi::cuda::Status (*launch)(const Model&, const double*, int64_t, const double*,
                                                    const sbi::cuda::LatticeFlowInverse&)) {
  Napi::Env env = info.Env();
  const double* params = GetLatticeFlowParams(info[1], m).data;
  const int64_t D = m.size();
  const View<double> x = GetFloat64Array(info[2], x_name, -1);
  const int64_t n = GetConfigurations(env, x, D, x_name, std::to_string(D) + " values");
  sbi::cuda::LatticeFlowInverse out{};
  out.z = GetFloat64Array(info[3], "z", n * D).data;
  out.logq = GetFloat64Array(info[4], "logq", n).data;
  RequireDevice(env);
  CheckCuda(env, launch(m, params, n, x.data, out));
  return env.Undefined();
}

Napi::Value Phi4FlowInverse(const Napi::CallbackInfo& info) {
  sbi::Phi4FlowKernel m;
  m.s = GetPhi4FlowShape(info[0]);
  return FlowInverse(info, m, "phi", sbi::cuda::phi4_flow_inverse);
}

Napi::Value U1FlowInverse(const Napi::CallbackInfo& info) {
  sbi::U1FlowKernel m;
  m.s = GetU1FlowShape(info[0]);
  return FlowInverse(info, m, "theta", sbi::cuda::u1_flow_inverse);
}

void InitCudaLatticeOps(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "phi4Action", Phi4Action);
  ExportFunction(env, exports, "u1Action", U1Action);
  ExportFunction(env, exports, "phi4FlowSample", Phi4FlowSample);
  ExportFunction(env, exports, "u1FlowSample", U1FlowSample);
  ExportFunction(env, exports, "phi4FlowInverse", Phi4FlowInverse);
  ExportFunction(env, exports, "u1FlowInverse", U1FlowInverse);
}

}  // namespace
SBI_NATIVE_MODULE(InitCudaLatticeOps);
}  // namespace sbi_native
