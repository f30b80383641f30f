// simulate / simulateAsync / simulators: the N-API entry points over the simulator table.
#include <cmath>
#include <cstring>
#include <algorithm>
#include <string>

#include "../arg_checks.h"
#include "../batch.h"
#include "../napi_util.h"
#include "registry.h"

namespace sbi_native {

std::vector<SimulatorSpec>& SimulatorTable() {
  static std::vector<SimulatorSpec> table;
  return table;
}

namespace {

const SimulatorSpec& FindSimulator(Napi::Env env, const Napi::Value& v) {
  const std::string name = GetString(v, "name");
  for (const auto& s : SimulatorTable())
    if (name == s.name) return s;
  std::string known;
  for (const auto& s : SimulatorTable()) known += (known.empty() ? "" : ", ") + std::string(s.name);
  ThrowSbiError(env, "UNKNOWN_SIMULATOR", "Unknown simulator " + Describe(v) + "; known: " + known);
}

Napi::Value Simulators(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (const auto& s : SimulatorTable()) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", s.name);
    o.Set("thetaDim", s.theta_dim);
    o.Set("xDim", s.x_dim);
    o.Set("designDim", s.design_dim);
    o.Set("gold", s.gold);
    out.Set(k++, o);
  }
  return out;
}

// Options object: { name, theta, n, seed, streamOffset?, x, failed, jointLogLikelihood?,
// jointScore?, jointLogRatio?, thetaRef?, design?, threads? }. Output arrays are caller-owned.
// simulate(options) -> number of failed rows
// simulateAsync(options, onProgress?, cancelFlag?) -> Promise<number of failed rows>
PreparedBatch PrepareSimulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject() || info[0].IsTypedArray() || info[0].IsArray())
    ThrowTypeError(env, "Expected an options object for `simulate` but received " +
                            (info.Length() ? Describe(info[0]) : std::string("nothing")));
  Napi::Object o = info[0].As<Napi::Object>();
  const SimulatorSpec& spec = FindSimulator(env, o.Get("name"));
  PreparedBatch p;
  SimBatch b;
  b.theta_dim = spec.theta_dim;
  b.x_dim = spec.x_dim;
  b.n = GetInteger(o.Get("n"), "n", 1, int64_t(1) << 40);
  auto theta = GetFloat64Array(o.Get("theta"), "theta", b.n * spec.theta_dim);
  CheckFiniteRows(env, theta.data, theta.length, "theta", spec.theta_dim);
  b.theta = theta.data;
  b.seed = GetSeed(o.Get("seed"), "seed");
  b.stream_offset = IsAbsent(o.Get("streamOffset")) ? 0 : GetSeed(o.Get("streamOffset"), "streamOffset");
  b.x = GetFloat32Array(o.Get("x"), "x", b.n * spec.x_dim).data;
  b.failed = GetUint8Array(o.Get("failed"), "failed", b.n).data;
  p.pinned = {o.Get("theta"), o.Get("x"), o.Get("failed")};

  auto optional_f64 = [&](const char* key, int64_t len, bool allowed) -> double* {
    Napi::Value v = o.Get(key);
    if (IsAbsent(v)) return nullptr;
    if (!allowed)
      ThrowSbiError(env, "NO_GOLD", std::string("Simulator ") + spec.name + " does not provide `" + key + "`");
    p.pinned.push_back(v);
    return GetFloat64Array(v, key, len).data;
  };
  b.joint_log_likelihood = optional_f64("jointLogLikelihood", b.n, spec.gold);
  b.joint_score = optional_f64("jointScore", b.n * spec.theta_dim, spec.gold);
  b.joint_log_ratio = optional_f64("jointLogRatio", b.n, spec.gold);
  b.theta_ref = optional_f64("thetaRef", b.n * spec.theta_dim, spec.gold);
  if (b.theta_ref) CheckFiniteRows(env, b.theta_ref, b.n * spec.theta_dim, "thetaRef", spec.theta_dim);
  if ((b.joint_log_ratio != nullptr) != (b.theta_ref != nullptr))
    ThrowTypeError(env, "`jointLogRatio` and `thetaRef` must be given together");

  Napi::Value design = o.Get("design");
  if (spec.design_dim > 0) {
    if (IsAbsent(design))
      ThrowTypeError(env, std::string("Simulator ") + spec.name + " needs `design` (" + std::to_string(spec.design_dim) + " values)");
    auto d = GetFloat64Array(design, "design", spec.design_dim);
    CheckFiniteRows(env, d.data, d.length, "design", spec.design_dim);
    b.design = d.data;
    p.pinned.push_back(design);
  } else {
    if (!IsAbsent(design)) ThrowSbiError(env, "NO_DESIGN", std::string("Simulator ") + spec.name + " has no design variables");
    b.design = nullptr;
  }

  p.job.n = b.n;
  p.job.threads = GetThreads(o.Get("threads"));
  p.job.grain = std::max<int64_t>(1, static_cast<int64_t>(4096.0 / std::max(1.0, spec.cost)));
  const SimRangeFn fn = spec.range[static_cast<int>(ActiveIsa())];
  p.job.range = [fn, b](int64_t s, int64_t e) { fn(b, s, e); };
  p.result = [b](Napi::Env env) {
    int64_t failed = 0;
    for (int64_t i = 0; i < b.n; ++i) failed += b.failed[i];
    return Napi::Number::New(env, static_cast<double>(failed));
  };
  return p;
}

void InitSimulate(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "simulators", Simulators);
  ExportBatchPair<PrepareSimulate, 1>(env, exports, "simulate");
}

}  // namespace
SBI_NATIVE_MODULE(InitSimulate);
}  // namespace sbi_native
