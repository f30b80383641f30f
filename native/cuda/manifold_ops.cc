// The CUDA addon's manifold-flow ops, argument for argument like the CPU addon's
// (native/manifold_flow.cc) with the same checks (native/manifold_flow_spec.h), in double:
// arguments first, then the device, then the launcher (kernels/manifold/flow.cu) runs synchronously.
//   manifoldFlowSample(spec, params, n, seed, stream, x [n·W], logq [n])
//   manifoldFlowLogProb(spec, params, x [n·W], logq [n])
#include "../../kernels/manifold/flow_launch.h"
#include "../manifold_flow_spec.h"
#include "cuda_status.h"

namespace sbi_native {
namespace {

namespace mf = sbi::manifold;

Napi::Value ManifoldFlowSample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = manifold_spec::GetShape(env, info[0]);
  const double* params = manifold_spec::GetParams(env, info[1], s).data;
  const int64_t n = GetInteger(info[2], "n", 1, int64_t{1} << 40);
  const uint64_t seed = GetSeed(info[3], "seed");
  const uint64_t stream = GetSeed(info[4], "stream");
  const int W = mf::flow_output_width(s);
  double* x = GetFloat64Array(info[5], "x", n * W).data;
  double* logq = GetFloat64Array(info[6], "logq", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::manifold_flow_sample(s, params, n, seed, stream, x, logq));
  return env.Undefined();
}

Napi::Value ManifoldFlowLogProb(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const mf::FlowShape s = manifold_spec::GetShape(env, info[0]);
  const double* params = manifold_spec::GetParams(env, info[1], s).data;
  const View<double> x = GetFloat64Array(info[2], "x");
  manifold_spec::CheckPoints(env, s, x, "x");
  const int64_t n = static_cast<int64_t>(x.length) / mf::flow_output_width(s);
  double* logq = GetFloat64Array(info[3], "logq", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::manifold_flow_log_prob(s, params, n, x.data, logq));
  return env.Undefined();
}

void InitCudaManifoldOps(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "manifoldFlowSample", ManifoldFlowSample);
  ExportFunction(env, exports, "manifoldFlowLogProb", ManifoldFlowLogProb);
}

}  // namespace
SBI_NATIVE_MODULE(InitCudaManifoldOps);
}  // namespace sbi_native
