// init({ SbiError }): hands the TypeScript error class to native code, so typed errors thrown
// from C++ are instances of it. Shared by the main addon and the optional CUDA addon.
#pragma once
#include <napi.h>

namespace sbi_native {
Napi::Value InitErrorClass(const Napi::CallbackInfo& info);
}  // namespace sbi_native
