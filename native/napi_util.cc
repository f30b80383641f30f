#include "napi_util.h"
#include "error_class.h"

#include <cmath>
#include <sstream>

namespace sbi_native {

std::vector<ModuleInit>& ModuleRegistry() {
  static std::vector<ModuleInit> registry;
  return registry;
}

Napi::Error MakeSbiError(Napi::Env env, const std::string& code, const std::string& message) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data != nullptr && !data->sbi_error.IsEmpty()) {
    Napi::Object err = data->sbi_error.New({Napi::String::New(env, message), Napi::String::New(env, code)});
    return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

void ThrowSbiError(Napi::Env env, const std::string& code, const std::string& message) {
  throw MakeSbiError(env, code, message);
}
void ThrowTypeError(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }
void ThrowRangeError(Napi::Env env, const std::string& message) { throw Napi::RangeError::New(env, message); }

static std::string TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

std::string Describe(const Napi::Value& v) {
  std::ostringstream os;
  switch (v.Type()) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return v.As<Napi::Boolean>().Value() ? "true" : "false";
    case napi_number: os << "number " << v.As<Napi::Number>().DoubleValue(); return os.str();
    case napi_string: {
      std::string s = v.As<Napi::String>().Utf8Value();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "string \"" + s + "\"";
    }
    case napi_bigint: return "bigint";
    case napi_symbol: return "symbol";
    case napi_function: return "function";
    default: break;
  }
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.ArrayBuffer().IsDetached()) return TypedArrayName(ta.TypedArrayType()) + " (detached)";
    os << TypedArrayName(ta.TypedArrayType()) << "(" << ta.ElementLength() << ")";
    return os.str();
  }
  if (v.IsArray()) {
    os << "Array(" << v.As<Napi::Array>().Length() << ")";
    return os.str();
  }
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  return "object";
}

template <class T>
static View<T> GetTyped(const Napi::Value& v, const char* name, int64_t expected, napi_typedarray_type type,
                        const char* type_name) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    ThrowTypeError(env, std::string("Expected a ") + type_name + " for `" + name + "` but received " + Describe(v));
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ArrayBuffer().IsDetached())
    ThrowTypeError(env, std::string("Expected a ") + type_name + " for `" + name + "` but its buffer is detached");
  View<T> view;
  view.length = ta.ElementLength();
  view.data = reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  if (expected >= 0 && static_cast<int64_t>(view.length) != expected) {
    std::ostringstream os;
    os << "Expected `" << name << "` to have " << expected << " elements but received " << view.length;
    ThrowRangeError(env, os.str());
  }
  return view;
}

View<double> GetFloat64Array(const Napi::Value& v, const char* name, int64_t expected) {
  return GetTyped<double>(v, name, expected, napi_float64_array, "Float64Array");
}
View<float> GetFloat32Array(const Napi::Value& v, const char* name, int64_t expected) {
  return GetTyped<float>(v, name, expected, napi_float32_array, "Float32Array");
}
View<uint8_t> GetUint8Array(const Napi::Value& v, const char* name, int64_t expected) {
  return GetTyped<uint8_t>(v, name, expected, napi_uint8_array, "Uint8Array");
}
View<uint32_t> GetUint32Array(const Napi::Value& v, const char* name, int64_t expected) {
  return GetTyped<uint32_t>(v, name, expected, napi_uint32_array, "Uint32Array");
}
View<int32_t> GetInt32Array(const Napi::Value& v, const char* name, int64_t expected) {
  return GetTyped<int32_t>(v, name, expected, napi_int32_array, "Int32Array");
}

bool IsAbsent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

int64_t GetInteger(const Napi::Value& v, const char* name, int64_t lo, int64_t hi) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) ThrowTypeError(env, std::string("Expected an integer for `") + name + "` but received " + Describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    std::ostringstream os;
    os << "Expected an integer in [" << lo << ", " << hi << "] for `" << name << "` but received " << Describe(v);
    ThrowRangeError(env, os.str());
  }
  return static_cast<int64_t>(d);
}

double GetNumber(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) ThrowTypeError(env, std::string("Expected a number for `") + name + "` but received " + Describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) ThrowRangeError(env, std::string("Expected a finite number for `") + name + "` but received " + Describe(v));
  return d;
}

double GetNumberOption(const Napi::Object& o, const char* key, double fallback, double lo, double hi, bool hi_open) {
  const Napi::Value v = o.Get(key);
  if (IsAbsent(v)) return fallback;
  const double d = GetNumber(v, key);
  if (d < lo || d > hi || (hi_open && d == hi))
    ThrowRangeError(o.Env(), std::string("Expected `") + key + "` in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                 (hi_open ? ")" : "]") + " but received " + Describe(v));
  return d;
}

uint64_t GetSeed(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (v.IsBigInt()) {
    bool lossless = false;
    const uint64_t s = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowRangeError(env, std::string("Expected `") + name + "` to be a bigint in [0, 2^64) but it is out of range");
    return s;
  }
  return static_cast<uint64_t>(GetInteger(v, name, 0, 9007199254740991LL));
}

std::string GetString(const Napi::Value& v, const char* name) {
  if (!v.IsString()) ThrowTypeError(v.Env(), std::string("Expected a string for `") + name + "` but received " + Describe(v));
  return v.As<Napi::String>().Utf8Value();
}

int GetThreads(const Napi::Value& v) {
  return IsAbsent(v) ? 0 : static_cast<int>(GetInteger(v, "threads", 1, 1024));
}

void ExportFunction(Napi::Env env, Napi::Object exports, const char* name, Napi::Function::Callback fn) {
  exports.Set(name, Napi::Function::New(env, fn, name));
}

Napi::Value InitErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject())
    ThrowTypeError(env, "Expected an object { SbiError } for `options` but received " +
                            (info.Length() ? Describe(info[0]) : std::string("nothing")));
  Napi::Value cls = info[0].As<Napi::Object>().Get("SbiError");
  if (!cls.IsFunction()) ThrowTypeError(env, "Expected a class for `SbiError` but received " + Describe(cls));
  env.GetInstanceData<AddonData>()->sbi_error = Napi::Persistent(cls.As<Napi::Function>());
  return env.Undefined();
}

}  // namespace sbi_native
