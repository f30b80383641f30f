// The CUDA addon's ops, argument for argument like the CPU addon's (native/random.cc,
// native/sampler_fill.cc, native/simulators/simulate.cc, native/nn_ops.cc; the MLP ops as
// src/backend/mlp_cpu.ts composes them). Arguments are checked first (TypeError / RangeError
// naming the argument, expected and given), then the device, then the launcher runs
// synchronously: inputs are copied to the device, outputs back into the caller's typed arrays.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../../kernels/nn/mlp.h"
#include "../../kernels/trellis/trellis.h"
#include "../arg_checks.h"
#include "cuda_status.h"

namespace sbi_native {
namespace {

// philoxBlocks(seed, stream, firstBlock, out: Uint32Array[4·blocks])
Napi::Value PhiloxBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t seed = GetSeed(info[0], "seed");
  const uint64_t stream = GetSeed(info[1], "stream");
  const uint64_t first = GetSeed(info[2], "firstBlock");
  auto out = GetUint32Array(info[3], "out");
  if (out.length == 0 || out.length % 4 != 0)
    ThrowRangeError(env, "Expected `out` to hold a positive multiple of 4 words but received " + Describe(info[3]));
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::philox_blocks(seed, stream, first, static_cast<int64_t>(out.length / 4), out.data));
  return env.Undefined();
}

// sample(distribution, params: Float64Array[2], n, seed, streamOffset, out: Float64Array[n])
Napi::Value Sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = GetString(info[0], "distribution");
  sbi::cuda::Sampler sampler;
  if (name == "uniform") sampler = sbi::cuda::Sampler::Uniform;
  else if (name == "normal") sampler = sbi::cuda::Sampler::Normal;
  else
    ThrowSbiError(env, "UNSUPPORTED_OP",
                  "The CUDA backend samples \"uniform\" and \"normal\" only; received " + Describe(info[0]));
  auto p = GetFloat64Array(info[1], "params", 2);
  if (!std::isfinite(p.data[0]) || !std::isfinite(p.data[1]))
    ThrowRangeError(env, "Invalid parameters for `" + name + "`: expected finite values");
  if (sampler == sbi::cuda::Sampler::Uniform && !(p.data[0] < p.data[1]))
    ThrowRangeError(env, "Invalid parameters for `uniform`: expected low < high");
  if (sampler == sbi::cuda::Sampler::Normal && !(p.data[1] > 0))
    ThrowRangeError(env, "Invalid parameters for `normal`: expected a positive standard deviation");
  const int64_t n = GetInteger(info[2], "n", 0, int64_t(1) << 40);
  const uint64_t seed = GetSeed(info[3], "seed");
  const uint64_t offset = GetSeed(info[4], "streamOffset");
  double* out = GetFloat64Array(info[5], "out", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::sample(sampler, p.data[0], p.data[1], n, seed, offset, out));
  return env.Undefined();
}

// samplerFill(distribution, seed, stream, n, out: Float64Array[n]): n draws of ONE stream from its
// start, as the CPU's samplerFill ("uniform": uniform() draws; "normal": n/2 Box–Muller pairs, n even).
Napi::Value SamplerFill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = GetString(info[0], "distribution");
  if (name != "uniform" && name != "normal")
    ThrowRangeError(env, "Expected \"uniform\" or \"normal\" for `distribution` but received " + Describe(info[0]));
  const sbi::cuda::Sampler sampler = name == "uniform" ? sbi::cuda::Sampler::Uniform : sbi::cuda::Sampler::Normal;
  const uint64_t seed = GetSeed(info[1], "seed");
  const uint64_t stream = GetSeed(info[2], "stream");
  const int64_t n = GetInteger(info[3], "n", 1, int64_t(1) << 40);
  if (sampler == sbi::cuda::Sampler::Normal && n % 2 != 0)
    ThrowRangeError(env, "Expected an even `n` (normals come in pairs) but received " + std::to_string(n));
  double* out = GetFloat64Array(info[4], "out", n).data;
  RequireDevice(env);
  CheckCuda(env, sbi::cuda::sampler_fill(sampler, seed, stream, n, out));
  return env.Undefined();
}

// simulators() -> [{ name, thetaDim, xDim, designDim }]: the simulators with a CUDA launcher.
Napi::Value Simulators(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  for (int i = 0; i < sbi::cuda::simulator_count(); ++i) {
    const sbi::cuda::SimulatorInfo& s = sbi::cuda::simulator_info(i);
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", s.name);
    o.Set("thetaDim", s.theta_dim);
    o.Set("xDim", s.x_dim);
    o.Set("designDim", s.design_dim);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// simulate({ name, theta, n, seed, streamOffset?, design?, x, failed }) -> number of failed rows.
Napi::Value Simulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsTypedArray() || info[0].IsArray())
    ThrowTypeError(env, "Expected an options object for `simulate` but received " +
                            (info.Length() ? Describe(info[0]) : std::string("nothing")));
  Napi::Object o = info[0].As<Napi::Object>();
  const std::string name = GetString(o.Get("name"), "name");
  int id = -1;
  std::string known;
  for (int i = 0; i < sbi::cuda::simulator_count(); ++i) {
    if (name == sbi::cuda::simulator_info(i).name) id = i;
    known += (i ? ", " : "") + std::string(sbi::cuda::simulator_info(i).name);
  }
  if (id < 0)
    ThrowSbiError(env, "UNKNOWN_SIMULATOR", "No CUDA launcher for simulator " + Describe(o.Get("name")) + "; CUDA simulators: " + known);
  for (const char* key : {"jointLogLikelihood", "jointScore", "jointLogRatio", "thetaRef"})
    if (!IsAbsent(o.Get(key)))
      ThrowSbiError(env, "UNSUPPORTED_OP", std::string("The CUDA backend's simulate does not take `") + key + "`");
  const sbi::cuda::SimulatorInfo& spec = sbi::cuda::simulator_info(id);
  // As the CPU's simulate (native/simulators/simulate.cc): required iff the simulator has design variables.
  Napi::Value design = o.Get("design");
  const double* design_data = nullptr;
  if (spec.design_dim > 0) {
    if (IsAbsent(design))
      ThrowTypeError(env, std::string("Simulator ") + spec.name + " needs `design` (" + std::to_string(spec.design_dim) + " values)");
    auto d = GetFloat64Array(design, "design", spec.design_dim);
    CheckFiniteRows(env, d.data, d.length, "design", spec.design_dim);
    design_data = d.data;
  } else if (!IsAbsent(design)) {
    ThrowSbiError(env, "NO_DESIGN", std::string("Simulator ") + spec.name + " has no design variables");
  }
  const int64_t n = GetInteger(o.Get("n"), "n", 1, int64_t(1) << 40);
  auto theta = GetFloat64Array(o.Get("theta"), "theta", n * spec.theta_dim);
  CheckFiniteRows(env, theta.data, theta.length, "theta", spec.theta_dim);
  const uint64_t seed = GetSeed(o.Get("seed"), "seed");
  const uint64_t offset = IsAbsent(o.Get("streamOffset")) ? 0 : GetSeed(o.Get("streamOffset"), "streamOffset");
  float* x = GetFloat32Array(o.Get("x"), "x", n * spec.x_dim).data;
  uint8_t* failed = GetUint8Array(o.Get("failed"), "failed", n).data;
  RequireDevice(env);
  int64_t failed_rows = 0;
  CheckCuda(env, sbi::cuda::simulate(id, theta.data, design_data, n, seed, offset, x, failed, &failed_rows));
  return Napi::Number::New(env, static_cast<double>(failed_rows));
}

constexpr int64_t kMaxRows = int64_t{1} << 31;
constexpr int64_t kMaxDim = int64_t{1} << 24;

template <class T>
void DenseForwardT(const Napi::CallbackInfo& info, sbi::nn::Activation act, int64_t n, int64_t in, int64_t out) {
  const T* x = GetFloatArray<T>(info[4], "x", n * in).data;
  const T* w = GetFloatArray<T>(info[5], "w", out * in).data;
  const T* b = GetFloatArray<T>(info[6], "b", out).data;
  T* y = GetFloatArray<T>(info[7], "y", n * out).data;
  // Required for SiLU, as on the CPU (its backward pass needs Z).
  T* pre = !sbi::nn::activation_needs_preactivation(act) && IsAbsent(info[8]) ? nullptr : GetFloatArray<T>(info[8], "pre", n * out).data;
  RequireDevice(info.Env());
  CheckCuda(info.Env(), sbi::cuda::dense_forward(static_cast<int>(act), n, in, out, x, w, b, y, pre));
}

// denseForward(activation, n, inDim, outDim, x, w, b, y, pre?): Float32Array or Float64Array
// throughout (the type of x decides).
Napi::Value DenseForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const sbi::nn::Activation act = GetActivation(info[0]);
  const int64_t n = GetInteger(info[1], "n", 1, kMaxRows);
  const int64_t in = GetInteger(info[2], "inDim", 1, kMaxDim);
  const int64_t out = GetInteger(info[3], "outDim", 1, kMaxDim);
  bool single = false;
  if (info[4].IsTypedArray() && info[4].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) single = true;
  else if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    ThrowTypeError(env, "Expected a Float64Array or Float32Array for `x` but received " + Describe(info[4]));
  if (single) DenseForwardT<float>(info, act, n, in, out);
  else DenseForwardT<double>(info, act, n, in, out);
  return env.Undefined();
}

constexpr int64_t kMaxMlpRows = int64_t{1} << 24;

// The checks the CPU's nnMlpForward / nnMlpBackward make (native/nn_ops.cc), float only.
struct MlpArgs {
  sbi::nn::Activation act;
  std::vector<int64_t> sizes;
  int layers;
  int64_t params;
};
MlpArgs GetMlpArgs(const Napi::CallbackInfo& info) {
  MlpArgs a;
  a.act = GetActivation(info[0]);
  a.sizes = GetLayerSizes(info[1]);
  a.layers = static_cast<int>(a.sizes.size()) - 1;
  a.params = sbi::nn::mlp_param_count(a.layers, a.sizes.data());
  return a;
}

// mlpForward(activation, sizes: Int32Array, n, x, params, out): Float32Array throughout.
Napi::Value MlpForward(const Napi::CallbackInfo& info) {
  const MlpArgs a = GetMlpArgs(info);
  const int64_t n = GetInteger(info[2], "n", 1, kMaxMlpRows);
  const float* x = GetFloat32Array(info[3], "x", n * a.sizes[0]).data;
  const float* params = GetFloat32Array(info[4], "params", a.params).data;
  float* out = GetFloat32Array(info[5], "out", n * a.sizes[a.layers]).data;
  RequireDevice(info.Env());
  CheckCuda(info.Env(), sbi::cuda::mlp_forward(static_cast<int>(a.act), a.layers, a.sizes.data(), n, x, params, out));
  return info.Env().Undefined();
}

// mlpGradients(activation, sizes, n, x, params, dout, grads): grads of Σ dout ⊙ output.
Napi::Value MlpGradients(const Napi::CallbackInfo& info) {
  const MlpArgs a = GetMlpArgs(info);
  const int64_t n = GetInteger(info[2], "n", 1, kMaxMlpRows);
  const float* x = GetFloat32Array(info[3], "x", n * a.sizes[0]).data;
  const float* params = GetFloat32Array(info[4], "params", a.params).data;
  const float* dout = GetFloat32Array(info[5], "dout", n * a.sizes[a.layers]).data;
  float* grads = GetFloat32Array(info[6], "grads", a.params).data;
  RequireDevice(info.Env());
  CheckCuda(info.Env(),
            sbi::cuda::mlp_gradients(static_cast<int>(a.act), a.layers, a.sizes.data(), n, x, params, dout, grads));
  return info.Env().Undefined();
}

// mlpTrain(activation, sizes, loss: "bce" | "mse", adam options, rows: Int32Array[batches], x, target,
// params (updated in place), losses: Float64Array[batches]); x and target are the batches'
// rows concatenated.
Napi::Value MlpTrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const MlpArgs a = GetMlpArgs(info);
  const std::string loss = GetString(info[2], "loss");
  if (loss != "bce" && loss != "mse") ThrowRangeError(env, "Expected \"bce\" or \"mse\" for `loss` but received " + Describe(info[2]));
  const sbi::nn::AdamConfig c = GetAdamConfig(info[3]);
  const View<int32_t> rows = GetInt32Array(info[4], "rows");
  if (rows.length < 1 || rows.length > (size_t{1} << 20))
    ThrowRangeError(env, "Expected 1 to 2^20 batches in `rows` but received " + std::to_string(rows.length));
  std::vector<int64_t> batch_rows(rows.length);
  int64_t total = 0;
  for (size_t b = 0; b < rows.length; ++b) {
    if (rows.data[b] < 1 || rows.data[b] > kMaxMlpRows)
      ThrowRangeError(env, "Expected batch sizes in [1, 2^24] but rows[" + std::to_string(b) + "] is " + std::to_string(rows.data[b]));
    batch_rows[b] = rows.data[b];
    total += rows.data[b];
  }
  const float* x = GetFloat32Array(info[5], "x", total * a.sizes[0]).data;
  const float* target = GetFloat32Array(info[6], "target", total * a.sizes[a.layers]).data;
  float* params = GetFloat32Array(info[7], "params", a.params).data;
  double* losses = GetFloat64Array(info[8], "losses", static_cast<int64_t>(rows.length)).data;
  RequireDevice(env);
  const sbi::cuda::AdamSettings adam{c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, c.decoupled};
  CheckCuda(env, sbi::cuda::mlp_train(static_cast<int>(a.act), a.layers, a.sizes.data(), loss == "bce" ? 0 : 1, adam,
                                      static_cast<int>(rows.length), batch_rows.data(), x, target, params, losses));
  return env.Undefined();
}

// trellis(leaves: Float64Array [N·4], energy: 'ginkgo' | 'gaussian', params, marginals: boolean)
//   -> { logZ, mapLogLH, mapSplits: Uint32Array [2(N-1)] | null, marginals?: Float64Array [2^N] }
// (as the CPU's trellis, native/trellis.cc, without counts and samples).
Napi::Value Trellis(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  const std::vector<double> leaves = GetLeaves(env, info[0], sbi::kTrellisMaxLeaves, &n);
  const EnergySpec energy = GetEnergy(env, info[1], info[2]);
  if (!info[3].IsBoolean()) ThrowTypeError(env, "Expected a boolean for `marginals` but received " + Describe(info[3]));
  const bool marginals = info[3].As<Napi::Boolean>().Value();
  const double params[3] = {energy.ginkgo.lambda, energy.ginkgo.lambda_root, energy.ginkgo.t_cut};
  const double sigma[1] = {energy.sigma};
  RequireDevice(env);
  sbi::cuda::TrellisOutput r;
  CheckCuda(env, sbi::cuda::trellis(energy.kind == EnergyKind::Ginkgo ? 0 : 1,
                                    energy.kind == EnergyKind::Ginkgo ? params : sigma, leaves.data(), n, marginals, &r));
  Napi::Object o = Napi::Object::New(env);
  o.Set("logZ", r.log_z);
  o.Set("mapLogLH", r.map_energy);
  if (r.has_map) {
    Napi::Uint32Array a = Napi::Uint32Array::New(env, r.map_splits.size());
    std::copy(r.map_splits.begin(), r.map_splits.end(), a.Data());
    o.Set("mapSplits", a);
  } else {
    o.Set("mapSplits", env.Null());
  }
  if (marginals) {
    Napi::Float64Array a = Napi::Float64Array::New(env, r.marginals.size());
    std::copy(r.marginals.begin(), r.marginals.end(), a.Data());
    o.Set("marginals", a);
  }
  return o;
}

void InitCudaOps(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "philoxBlocks", PhiloxBlocks);
  ExportFunction(env, exports, "sample", Sample);
  ExportFunction(env, exports, "samplerFill", SamplerFill);
  ExportFunction(env, exports, "simulators", Simulators);
  ExportFunction(env, exports, "simulate", Simulate);
  ExportFunction(env, exports, "denseForward", DenseForward);
  ExportFunction(env, exports, "mlpForward", MlpForward);
  ExportFunction(env, exports, "mlpGradients", MlpGradients);
  ExportFunction(env, exports, "mlpTrain", MlpTrain);
  ExportFunction(env, exports, "trellis", Trellis);
}

}  // namespace
SBI_NATIVE_MODULE(InitCudaOps);
}  // namespace sbi_native
