// Addon entry: instance data (context-aware, so the addon loads in worker_threads), the
// runtime controls, and every module that registered itself with SBI_NATIVE_MODULE.
#include <napi.h>

#include "error_class.h"
#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {
namespace {

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("hardwareThreads", HardwareThreads());
  out.Set("defaultThreads", DefaultThreads());
  out.Set("detectedIsa", IsaName(DetectedIsa()));
  out.Set("activeIsa", IsaName(ActiveIsa()));
  return out;
}

// setThreads(n): default participants for batched kernels (1 ..= 1024).
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  SetDefaultThreads(static_cast<int>(GetInteger(info[0], "threads", 1, 1024)));
  return info.Env().Undefined();
}

// setIsa("scalar" | "avx2" | "avx512" | "auto"): force a dispatch path (tests compare them).
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = GetString(info[0], "isa");
  Isa isa;
  if (name == "auto") isa = DetectedIsa();
  else if (name == "scalar") isa = Isa::Scalar;
  else if (name == "avx2") isa = Isa::Avx2;
  else if (name == "avx512") isa = Isa::Avx512;
  else ThrowRangeError(env, "Expected one of \"auto\", \"scalar\", \"avx2\", \"avx512\" for `isa` but received " + Describe(info[0]));
  if (!SetActiveIsa(isa))
    ThrowSbiError(env, "UNSUPPORTED_ISA", std::string("This CPU does not support the ") + IsaName(isa) + " path");
  return env.Undefined();
}

}  // namespace

Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  ExportFunction(env, exports, "init", InitErrorClass);
  ExportFunction(env, exports, "runtimeInfo", RuntimeInfo);
  ExportFunction(env, exports, "setThreads", SetThreads);
  ExportFunction(env, exports, "setIsa", SetIsa);
  for (ModuleInit init : ModuleRegistry()) init(env, exports);
  return exports;
}

}  // namespace sbi_native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return sbi_native::InitAddon(env, exports); }
NODE_API_MODULE(sbi_engine, InitModule)
