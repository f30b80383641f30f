// vecmath(name, x, out, out2?): the branch-free elementary functions of kernels/common/vecmath.h
// over an array, on the active instruction-set path (tests compare them with Math.* and
// across paths). name: "exp" | "log" | "expm1" | "tanh" | "logistic" (out = f(x)), the same
// with an "f" suffix for the single-precision versions (x rounded to float, out = the float
// result), "expflush" and "logapprox" (the trellis's vexp_flush and vlog_approx), or
// "sincos2pi" (out = sin 2πx, out2 = cos 2πx).
#include <string>

#include "../kernels/common/vecmath.h"
#include "napi_util.h"
#include "runtime.h"

namespace sbi_native {
namespace {

enum class VecFn { Exp, Log, ExpFlush, LogApprox, SinCos2Pi, Expm1, Tanh, Logistic, Expm1F, TanhF, LogisticF };

struct VecArgs {
  VecFn fn;
  const double* x;
  double* out;
  double* out2;
};

inline void VecRange(const VecArgs& a, int64_t b, int64_t e) {
  switch (a.fn) {
    case VecFn::Exp:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vexp(a.x[i]);
      break;
    case VecFn::Log:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vlog(a.x[i]);
      break;
    case VecFn::ExpFlush:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vexp_flush(a.x[i]);
      break;
    case VecFn::LogApprox:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vlog_approx(a.x[i]);
      break;
    case VecFn::SinCos2Pi:
      for (int64_t i = b; i < e; ++i) sbi::vsincos_2pi(a.x[i], &a.out[i], &a.out2[i]);
      break;
    case VecFn::Expm1:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vexpm1(a.x[i]);
      break;
    case VecFn::Tanh:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vtanh(a.x[i]);
      break;
    case VecFn::Logistic:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::logistic(a.x[i]);
      break;
    case VecFn::Expm1F:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vexpm1(static_cast<float>(a.x[i]));
      break;
    case VecFn::TanhF:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::vtanh(static_cast<float>(a.x[i]));
      break;
    case VecFn::LogisticF:
      for (int64_t i = b; i < e; ++i) a.out[i] = sbi::logistic(static_cast<float>(a.x[i]));
      break;
  }
}
SBI_MULTIVERSION(VecMathRange, VecArgs, VecRange)

Napi::Value VecMath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = GetString(info[0], "name");
  VecArgs a;
  if (name == "exp") a.fn = VecFn::Exp;
  else if (name == "log") a.fn = VecFn::Log;
  else if (name == "expflush") a.fn = VecFn::ExpFlush;
  else if (name == "logapprox") a.fn = VecFn::LogApprox;
  else if (name == "sincos2pi") a.fn = VecFn::SinCos2Pi;
  else if (name == "expm1") a.fn = VecFn::Expm1;
  else if (name == "tanh") a.fn = VecFn::Tanh;
  else if (name == "logistic") a.fn = VecFn::Logistic;
  else if (name == "expm1f") a.fn = VecFn::Expm1F;
  else if (name == "tanhf") a.fn = VecFn::TanhF;
  else if (name == "logisticf") a.fn = VecFn::LogisticF;
  else
    ThrowRangeError(env,
                    "Expected one of \"exp\", \"log\", \"expflush\", \"logapprox\", \"sincos2pi\", \"expm1\", \"tanh\", \"logistic\", "
                    "\"expm1f\", \"tanhf\", \"logisticf\" for `name` but received " + Describe(info[0]));
  auto x = GetFloat64Array(info[1], "x");
  const int64_t n = static_cast<int64_t>(x.length);
  a.x = x.data;
  a.out = GetFloat64Array(info[2], "out", n).data;
  a.out2 = a.fn == VecFn::SinCos2Pi ? GetFloat64Array(info[3], "out2", n).data : nullptr;
  using RangeFn = void (*)(const VecArgs&, int64_t, int64_t);
  static const RangeFn kTable[3] = SBI_MULTIVERSION_TABLE(VecMathRange);
  kTable[static_cast<int>(ActiveIsa())](a, 0, n);
  return env.Undefined();
}

}  // namespace
SBI_NATIVE_FUNCTION("vecmath", VecMath);
}  // namespace sbi_native
