// Entry of the optional CUDA addon (sbi_engine_cuda.node, built by `npm run build:cuda`; never
// linked into the main addon). The CUDA runtime is linked statically, so loading works without
// a driver; the absence is reported by deviceInfo() and, as NO_CUDA_DEVICE, by every op.
#include <napi.h>

#include "../error_class.h"
#include "../napi_util.h"
#include "cuda_status.h"

namespace sbi_native {
namespace {

// deviceInfo() -> { count, description?, error? }: never throws for a missing device or driver.
Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  int count = 0;
  const sbi::cuda::Status s = sbi::cuda::device_count(&count);
  out.Set("count", count);
  if (!s.ok()) {
    out.Set("error", (sbi::cuda::is_no_device(s.code) ? "no CUDA device: " : "CUDA error: ") + s.message);
  } else if (count > 0) {
    std::string description;
    const sbi::cuda::Status d = sbi::cuda::device_description(&description);
    out.Set(d.ok() ? "description" : "error", d.ok() ? description : "CUDA error: " + d.message);
  }
  return out;
}

}  // namespace

Napi::Object InitCudaAddon(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  ExportFunction(env, exports, "init", InitErrorClass);
  ExportFunction(env, exports, "deviceInfo", DeviceInfo);
  for (ModuleInit init : ModuleRegistry()) init(env, exports);
  return exports;
}

}  // namespace sbi_native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return sbi_native::InitCudaAddon(env, exports); }
NODE_API_MODULE(sbi_engine_cuda, InitModule)
