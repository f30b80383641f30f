// Argument checking and typed errors for the N-API boundary. Every failure reaches JS as
// TypeError / RangeError (bad argument) or the SbiError class handed over at load (with a code).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sbi_native {

struct AddonData {
  Napi::FunctionReference sbi_error;  // the SbiError class from src/errors.ts
};

// Module initialisers register themselves; addon.cc runs them all at load.
using ModuleInit = void (*)(Napi::Env env, Napi::Object exports);
std::vector<ModuleInit>& ModuleRegistry();
struct ModuleRegistrar {
  explicit ModuleRegistrar(ModuleInit init) { ModuleRegistry().push_back(init); }
};
#define SBI_NATIVE_MODULE(INIT) static ::sbi_native::ModuleRegistrar sbi_module_registrar_##INIT(INIT)

// Sets exports[name] to a JS function named `name` that calls `fn`.
void ExportFunction(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn);
// A module whose only export is the function `FN`, exported as JS_NAME.
#define SBI_NATIVE_FUNCTION(JS_NAME, FN)                                          \
  static void sbi_export_##FN(Napi::Env env, Napi::Object exports) {             \
    ::sbi_native::ExportFunction(env, exports, JS_NAME, FN);                     \
  }                                                                             \
  SBI_NATIVE_MODULE(sbi_export_##FN)

// Builds an SbiError(message, code) (plain Error before init) for throwing or rejecting.
Napi::Error MakeSbiError(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void ThrowSbiError(Napi::Env env, const std::string& code, const std::string& message);
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);

// A short description of a JS value for messages: "Float32Array(12)", "number -3", "undefined".
std::string Describe(const Napi::Value& v);

template <class T>
struct View {
  T* data = nullptr;
  size_t length = 0;
};

// A typed array of the exact element type, not detached, with `expected` elements (-1: any).
View<double> GetFloat64Array(const Napi::Value& v, const char* name, int64_t expected = -1);
View<float> GetFloat32Array(const Napi::Value& v, const char* name, int64_t expected = -1);
View<uint8_t> GetUint8Array(const Napi::Value& v, const char* name, int64_t expected = -1);
View<uint32_t> GetUint32Array(const Napi::Value& v, const char* name, int64_t expected = -1);
View<int32_t> GetInt32Array(const Napi::Value& v, const char* name, int64_t expected = -1);
bool IsAbsent(const Napi::Value& v);

// The Float64Array / Float32Array for kernels templated on their float type T.
template <class T>
View<T> GetFloatArray(const Napi::Value& v, const char* name, int64_t expected = -1);
template <>
inline View<double> GetFloatArray<double>(const Napi::Value& v, const char* name, int64_t expected) {
  return GetFloat64Array(v, name, expected);
}
template <>
inline View<float> GetFloatArray<float>(const Napi::Value& v, const char* name, int64_t expected) {
  return GetFloat32Array(v, name, expected);
}  // undefined or null

// An integer number in [lo, hi].
int64_t GetInteger(const Napi::Value& v, const char* name, int64_t lo, int64_t hi);
// A finite number.
double GetNumber(const Napi::Value& v, const char* name);
// A seed: a non-negative safe integer or a bigint below 2^64.
uint64_t GetSeed(const Napi::Value& v, const char* name);
// An optional number property `key` of `o` in [lo, hi] (hi_open: below hi); `fallback` when absent.
double GetNumberOption(const Napi::Object& o, const char* key, double fallback, double lo, double hi, bool hi_open);
std::string GetString(const Napi::Value& v, const char* name);
// An optional thread count in [1, 1024]; 0 (the pool's default) when absent.
int GetThreads(const Napi::Value& v);

}  // namespace sbi_native
