// The kernels' elementary functions and bit helpers, branch-free so that row loops vectorise.
// This is their only home: kernels use these rather than their own variants.
//
// libm calls stop the compiler from vectorising a loop, and libm's results differ in the last
// bit between glibc (which picks its own code path per CPU), V8, CUDA and MSVC for a few percent
// of arguments. These functions are written with IEEE +, -, *, /, integer bit operations and
// bit_select only, so every instruction-set path (and nvcc) computes bit-identical results under
// -ffp-contract=off (nvcc: --fmad=false). Accuracy is about 1 ulp over the whole double range
// (test/vecmath.test.ts checks it against Math.* and a double-double reference).
// sample_std_normal draws its Box-Muller normals with vlog and vsincos_2pi, which
// src/random/vecmath.ts mirrors expression for expression so that the TypeScript PhiloxStream
// draws the same bits: change both together.
//
// Why bit_select and not `c ? a : b`: under the default -ftrapping-math GCC may not execute a
// floating-point operation that the source only reaches conditionally, and it turns ternaries
// into branches (jump threading even propagates clamped constants into separate paths). Without
// AVX-512 masking it then cannot if-convert the loop and leaves it scalar; a select done on the
// bit patterns is plain integer work on every path.
//
// Techniques (standard, see J.-M. Muller, "Elementary Functions", 3rd ed., 2016). The
// polynomial coefficients are minimax fits (Remez exchange) made by
// scripts/fit-vecmath-polys.py, which prints each fit's error:
//   exp:   n = round(x / ln 2) by adding 1.5·2^52; r = x − n·ln2_hi − n·ln2_lo (Cody & Waite),
//          e^r = 1 + r + r² P(r), deg P = 10 on |r| ≤ 0.3466; times 2^n built from exponent
//          bits in two halves so that subnormal results round once.
//   log:   x = 2^k·m with m ∈ [√½, √2) (integer offset of the bit pattern); f = m − 1,
//          s = f / (2 + f), log m = 2 atanh s = f − (f²/2 − s (f²/2 + s² P(s²))), deg P = 6;
//          k·ln 2 in two parts.
//   sincos_2pi: exact reduction u = j + q/4 + t (j, q integers, |t| ≤ 1/8, each step exact),
//          sin 2πt = 2πt + t³ P(t²) (deg 5, the leading product kept exact by Dekker's
//          two-product), cos 2πt = 1 + t² Q(t²) (deg 6), then rotation by the quadrant q.
#pragma once
#include "portable.h"

namespace sbi {

SBI_HD uint64_t double_bits(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(x));
#else
  uint64_t b;
  __builtin_memcpy(&b, &x, sizeof b);
  return b;
#endif
}

SBI_HD double bits_double(uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(b));
#else
  double x;
  __builtin_memcpy(&x, &b, sizeof x);
  return x;
#endif
}

// All ones if c, else all zeros: a per-lane condition that combines with &, | and ~ and is kept
// in integer registers (lane state such as "the last step was rejected" is stored as a mask).
SBI_HD uint64_t bit_mask(bool c) { return uint64_t{0} - static_cast<uint64_t>(c); }

// Bitwise mask ? a : b (no branch, no floating-point operation).
SBI_HD double mask_select(uint64_t mask, double a, double b) {
  return bits_double((double_bits(a) & mask) | (double_bits(b) & ~mask));
}

// c ? a : b on the bit patterns.
SBI_HD double bit_select(bool c, double a, double b) { return mask_select(bit_mask(c), a, b); }

SBI_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__float_as_uint(x));
#else
  uint32_t b;
  __builtin_memcpy(&b, &x, sizeof b);
  return b;
#endif
}

SBI_HD float bits_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float x;
  __builtin_memcpy(&x, &b, sizeof x);
  return x;
#endif
}

// c ? a : b on float bit patterns (the single-precision kernels' select).
SBI_HD float bit_select(bool c, float a, float b) {
  const uint32_t m = 0u - static_cast<uint32_t>(c);
  return bits_float((float_bits(a) & m) | (float_bits(b) & ~m));
}

namespace vecmath_detail {
// Adding 1.5·2^52 to |v| < 2^51 rounds v to the nearest integer (ties to even) and leaves that
// integer, in two's complement, in the low bits of the sum's bit pattern.
constexpr double kRoundShift = 6755399441055744.0;       // 1.5·2^52
constexpr uint64_t kRoundShiftBits = 0x4338000000000000ull;
constexpr double kLn2Hi = 6.93147180369123816490e-01;    // 0x3FE62E42FEE00000: k·kLn2Hi exact for |k| < 2^11
constexpr double kLn2Lo = 1.90821492927058770002e-10;    // ln 2 − kLn2Hi
constexpr double kLog2e = 1.44269504088896338700e+00;
constexpr double kTwoPiHi = 6.283185307179586;             // 2π rounded
constexpr double kTwoPiLo = 2.4492935982947064e-16;        // 2π − kTwoPiHi
constexpr double kTwoPiHiHi = 6.283185362815857;           // kTwoPiHi split in 26-bit halves
constexpr double kTwoPiHiLo = kTwoPiHi - kTwoPiHiHi;       // exact
constexpr float kRoundShiftF = 12582912.0f;                 // 1.5·2^23
constexpr float kLn2HiF = 0.693145751953125f;               // 0x3F317200: n·kLn2HiF exact for |n| < 2^9
constexpr float kLn2LoF = 1.4286068203094172e-06f;          // ln 2 − kLn2HiF
constexpr float kLog2eF = 1.44269504088896341f;

// 2^k for integer-valued k in [-1022, 1023].
SBI_HD double pow2_int(double k) {
  return bits_double(double_bits(k + (1023.0 + kRoundShift)) << 52);
}

// 2^k for integer-valued float k in [-126, 127].
SBI_HD float pow2_int(float k) { return bits_float(float_bits(k + (127.0f + kRoundShiftF)) << 23); }

// e^r − 1 on the reduced range |r| ≤ 0.3466 (e^r − 1 − r = r² P(r)).
SBI_HD double expm1_reduced(double r) {
  double p = 2.0921587713801616e-09;
  p = p * r + 2.510521508227948e-08;
  p = p * r + 2.755725291730977e-07;
  p = p * r + 2.755725540463896e-06;
  p = p * r + 2.4801587347334528e-05;
  p = p * r + 0.00019841269874817322;
  p = p * r + 0.00138888888888744;
  p = p * r + 0.008333333333326136;
  p = p * r + 0.041666666666666685;
  p = p * r + 0.1666666666666667;
  p = p * r + 0.5;
  return r + (r * r) * p;
}

// e^r − 1 in single precision on |r| ≤ 0.347: r + r² P(r) with P the Taylor polynomial of degree 5,
// whose truncation error (r⁸/8! ≈ 5e-9) is below a tenth of an ulp of the result.
SBI_HD float expm1_reduced(float r) {
  float p = 1.9841270e-4f;  // 1/7!
  p = p * r + 1.3888889e-3f;
  p = p * r + 8.3333333e-3f;
  p = p * r + 4.1666667e-2f;
  p = p * r + 1.6666667e-1f;
  p = p * r + 0.5f;
  return r + (r * r) * p;
}
}  // namespace vecmath_detail

// e^x for every double x (NaN in, NaN out; overflow to +inf; underflow through subnormals to 0).
SBI_HD double vexp(double x) {
  using namespace vecmath_detail;
  x = bit_select(x < -746.0, -746.0, x);  // e^-746 < 2^-1075 rounds to 0; NaN passes both
  x = bit_select(x > 710.0, 710.0, x);    // e^710 > DBL_MAX
  const double n = (x * kLog2e + kRoundShift) - kRoundShift;  // |n| ≤ 1077
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;            // first product and difference exact
  const double er = 1.0 + expm1_reduced(r);
  // 2^n = 2^h · 2^(n−h), both factors normal: the product rounds once, also into subnormals.
  const double h = (n * 0.5 + kRoundShift) - kRoundShift;
  return (er * pow2_int(h)) * pow2_int(n - h);
}

// e^x, but exactly 0 where e^x is below the normal range (x < -708, e^x < 2^-1021): no subnormal
// arithmetic, whose microcode assists cost ~100 cycles per (vector) instruction on x86. For
// terms of a sum that holds a term >= 1 (log-sum-exp relative to its maximum) the result is
// unchanged; NaN in, NaN out.
SBI_HD double vexp_flush(double x) {
  using namespace vecmath_detail;
  // On [-708, 710] the result is normal or +inf, so (2 er) · 2^(n-1) is exact (or overflows to
  // +inf) with 2^(n-1) as one normal exponent field: the same bits as vexp, without its subnormal
  // two-step scaling.
  const bool tiny = x < -708.0;
  const double y = bit_select(tiny, 0.0, bit_select(x > 710.0, 710.0, x));
  const double n = (y * kLog2e + kRoundShift) - kRoundShift;  // -1021 <= n <= 1024
  const double r = (y - n * kLn2Hi) - n * kLn2Lo;
  const double er = 1.0 + expm1_reduced(r);
  return bit_select(tiny, 0.0, (er + er) * pow2_int(n - 1.0));
}

// Natural logarithm for every double x: −inf at ±0, NaN below 0 or at NaN, +inf at +inf.
SBI_HD double vlog(double x) {
  using namespace vecmath_detail;
  const bool subnormal = x < 2.2250738585072014e-308;
  const double xs = x * bit_select(subnormal, 18014398509481984.0, 1.0);  // subnormals · 2^54
  // Offset the bits so that the mantissa field of [√½, 1) lands in the next binade's [1, √2)...
  constexpr uint64_t kSqrtHalfBits = 0x3FE6A09E667F3BCDull;  // √½ rounded
  const uint64_t shifted = double_bits(xs) + (0x3FF0000000000000ull - kSqrtHalfBits);
  // ... then the exponent field is k + 1023 and the mantissa rebuilds m ∈ [√½, √2).
  const double k = (bits_double(kRoundShiftBits | (shifted >> 52)) - kRoundShift) -
                   bit_select(subnormal, 1023.0 + 54.0, 1023.0);
  const double m = bits_double((shifted & 0x000FFFFFFFFFFFFFull) + kSqrtHalfBits);
  const double f = m - 1.0;  // exact (Sterbenz)
  const double s = f / (2.0 + f);
  const double z = s * s;
  // R = 2 atanh(s)/s − 2 = z P(z)  (≈ Σ_j 2 z^j / (2j + 1))
  double q = 0.1461773676993849;
  q = q * z + 0.15331607967937536;
  q = q * z + 0.18182892887123378;
  q = q * z + 0.22222211077399734;
  q = q * z + 0.28571428626371254;
  q = q * z + 0.39999999999898506;
  q = q * z + 0.666666666666667;
  const double R = z * q;
  const double hfsq = 0.5 * f * f;
  const double y = k * kLn2Hi - ((hfsq - (s * (hfsq + R) + k * kLn2Lo)) - f);
  const double special = bit_select(x == 0.0, -INFINITY, bit_select(x == INFINITY, INFINITY, NAN));
  return bit_select((x > 0.0) & (x < INFINITY), y, special);  // & not &&: no branch
}

// A cheap bound on log x for screening (the trellis uses it to find which terms can be a maximum
// before taking exact logs): |vlog_approx(x) − log x| <= kLogApproxError for normal positive x
// (2^-1022 <= x < +inf), −inf at 0. Other x are outside its contract. x = 2^k·m, m ∈ [1, 2):
// k·ln 2 + a cubic in m − 1 fitted to log m on [1, 2) (Lawson's iteratively reweighted least
// squares, which tends to the minimax fit; max error 4.43e-4 over 2·10^6 points).
constexpr double kLogApproxError = 5e-4;
SBI_HD double vlog_approx(double x) {
  using namespace vecmath_detail;
  const uint64_t b = double_bits(x);
  const double k = (bits_double(kRoundShiftBits | (b >> 52)) - kRoundShift) - 1023.0;  // exact
  const double f = bits_double((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull) - 1.0;  // m − 1 ∈ [0, 1)
  const double p = ((0.10968815401272787 * f - 0.4000285255035833) * f + 0.9834875433247885) * f + 0.00044246130049217444;
  return bit_select(x > 0.0, k * 0.6931471805599453 + p, double{-INFINITY});
}

// Single-precision e^x and log x for kernels templated on the precision: the double result
// rounded to float.
SBI_HD float vexp(float x) { return static_cast<float>(vexp(static_cast<double>(x))); }
SBI_HD float vlog(float x) { return static_cast<float>(vlog(static_cast<double>(x))); }

// e^x − 1 without cancellation near 0, for every double x (NaN in, NaN out; −1 below −40, where
// e^x is under half an ulp of 1; overflow to +inf). With x = n ln 2 + r:
//   e^x − 1 = 2^n (e^r − 1) + (2^n − 1)     for n ≤ 53, where 2^n − 1 is exact,
//           = e^x − 1 as in vexp            above, where the −1 is at most an ulp.
SBI_HD double vexpm1(double x) {
  using namespace vecmath_detail;
  x = bit_select(x < -40.0, -40.0, x);
  x = bit_select(x > 710.0, 710.0, x);
  const double n = (x * kLog2e + kRoundShift) - kRoundShift;
  const double r = (x - n * kLn2Hi) - n * kLn2Lo;
  const double em1 = expm1_reduced(r);
  const bool large = n > 53.0;
  const double t = pow2_int(bit_select(large, 0.0, n));  // 2^n within range on both paths
  const double small_result = t * em1 + (t - 1.0);
  const double h = (n * 0.5 + kRoundShift) - kRoundShift;
  const double large_result = ((1.0 + em1) * pow2_int(h)) * pow2_int(n - h) - 1.0;
  return bit_select(x == 0.0, x, bit_select(large, large_result, small_result));  // keeps −0
}

// The same in single precision, computed in float (twice the SIMD lanes of the double path):
// −1 below −30, overflow to +inf above ~88.72; within 2 ulp.
SBI_HD float vexpm1(float x) {
  using namespace vecmath_detail;
  x = bit_select(x < -30.0f, -30.0f, x);
  x = bit_select(x > 89.0f, 89.0f, x);
  const float n = (x * kLog2eF + kRoundShiftF) - kRoundShiftF;  // |n| ≤ 128
  const float r = (x - n * kLn2HiF) - n * kLn2LoF;
  const float em1 = expm1_reduced(r);
  const bool large = n > 24.0f;
  const float t = pow2_int(bit_select(large, 0.0f, n));
  const float small_result = t * em1 + (t - 1.0f);
  const float h = (n * 0.5f + kRoundShiftF) - kRoundShiftF;  // 2^n in two factors: 2^128 is no float
  const float large_result = ((1.0f + em1) * pow2_int(h)) * pow2_int(n - h) - 1.0f;
  return bit_select(x == 0.0f, x, bit_select(large, large_result, small_result));
}

namespace vecmath_detail {
SBI_HD double copy_sign_bit(double magnitude, double sign_of) {
  return bits_double(double_bits(magnitude) | (double_bits(sign_of) & 0x8000000000000000ull));
}
SBI_HD float copy_sign_bit(float magnitude, float sign_of) {
  return bits_float(float_bits(magnitude) | (float_bits(sign_of) & 0x80000000u));
}
SBI_HD double abs_bits(double x) { return bits_double(double_bits(x) & 0x7FFFFFFFFFFFFFFFull); }
SBI_HD float abs_bits(float x) { return bits_float(float_bits(x) & 0x7FFFFFFFu); }
// Beyond this |x|, tanh x rounds to ±1 (1 − tanh x ≈ 2e^−2|x| is under half an ulp of 1).
template <class T> struct TanhSaturation;
template <> struct TanhSaturation<double> { static constexpr double value = 19.5; };
template <> struct TanhSaturation<float> { static constexpr float value = 9.5f; };
}  // namespace vecmath_detail

namespace vecmath_detail {
template <class T> struct ExpConstants;
template <> struct ExpConstants<double> {
  static constexpr double kRoundShift = vecmath_detail::kRoundShift, kLog2e = vecmath_detail::kLog2e,
                          kLn2Hi = vecmath_detail::kLn2Hi, kLn2Lo = vecmath_detail::kLn2Lo;
};
template <> struct ExpConstants<float> {
  static constexpr float kRoundShift = kRoundShiftF, kLog2e = kLog2eF, kLn2Hi = kLn2HiF, kLn2Lo = kLn2LoF;
};

// e^y − 1 for y in [0, 2·TanhSaturation] (NaN passes): vexpm1's small-exponent path alone,
// without its clamps and its large-exponent path (2^n in two factors), the part of tanh's cost
// that its range never needs. For n ≤ 24 (float) / 53 (double) it is vexpm1 to the bit; above,
// t − 1 rounds (a relative error ≤ 2^-24 / 2^-53 in e ≥ 2^24), where tanh = e / (e + 2) lies
// within 2 ulp of 1 and the error moves it by under 1e-14 ulp.
template <class T>
SBI_HD T expm1_tanh_range(T y) {
  using C = ExpConstants<T>;
  const T n = (y * C::kLog2e + C::kRoundShift) - C::kRoundShift;
  const T r = (y - n * C::kLn2Hi) - n * C::kLn2Lo;
  const T t = pow2_int(n);
  return t * expm1_reduced(r) + (t - T(1));
}
}  // namespace vecmath_detail

// tanh x = sign(x) · e / (e + 2), e = e^{2|x|} − 1: no cancellation at small |x| (e ≈ 2|x|), no
// overflow (|x| saturates where tanh rounds to 1). Keeps ±0, ±inf → ±1, NaN → NaN. A few ulp.
template <class T>
SBI_HD T vtanh(T x) {
  using namespace vecmath_detail;
  T a = abs_bits(x);
  a = bit_select(a > TanhSaturation<T>::value, TanhSaturation<T>::value, a);  // NaN passes
  const T e = expm1_tanh_range(a + a);
  return copy_sign_bit(e / (e + T(2)), x);
}

// The logistic sigmoid 1 / (1 + e^−u) = 1 / (2 + (e^−u − 1)) = d softplus / du, branch-free:
// 1 where e^−u is below an ulp; 0 where e^−u overflows (u < −88.7 in float, −709.7 in double,
// where the exact value is subnormal). A few ulp elsewhere.
template <class T>
SBI_HD T logistic(T u) {
  return T(1) / (T(2) + vexpm1(-u));
}

// softplus(u) = log(1 + e^u) = max(u, 0) + log(1 + e^-|u|), without overflow for large u.
template <class T>
SBI_HD T softplus(T u) {
  const T pos = u > T(0) ? u : T(0);
  const T neg_abs = u > T(0) ? -u : u;
  return pos + vlog(T(1) + vexp(neg_abs));
}

// sin(2πu) and cos(2πu) for every finite u (NaN for NaN and ±inf).
SBI_HD void vsincos_2pi(double u, double* sin_out, double* cos_out) {
  using namespace vecmath_detail;
  // u0 = u − nearest integer, exact: adding ±2^52 rounds |u| < 2^52 to an integer; larger
  // doubles are integers already (0·u also turns ±inf into NaN).
  const double shift = bit_select(u < 0.0, -4503599627370496.0, 4503599627370496.0);
  const double u0 = bit_select(fabs(u) < 4503599627370496.0, u - ((u + shift) - shift), 0.0 * u);
  // u0 = q/4 + t with q ∈ {-2, ..., 2}, |t| ≤ 1/8; both steps exact.
  const double qs = 4.0 * u0 + kRoundShift;
  const uint64_t quadrant = double_bits(qs) & 3u;  // q mod 4
  const double t = u0 - (qs - kRoundShift) * 0.25;
  const double z = t * t;
  // sin 2πt = 2πt + t z P(z), cos 2πt = 1 + z Q(z)
  double sp = 3.7864365072411132;
  sp = sp * z - 15.0940543054321;
  sp = sp * z + 42.05868918257167;
  sp = sp * z - 76.70585973563036;
  sp = sp * z + 81.60524927605172;
  sp = sp * z - 41.341702240399755;
  // Leading term t·2π exactly as p + e (Dekker's product with Veltkamp splitting; 2π =
  // kTwoPiHi + kTwoPiLo, kTwoPiHi = kTwoPiHiHi + kTwoPiHiLo in 26-bit halves), so the only
  // rounding of size ulp/2 left is the final sum.
  const double tc = 134217729.0 * t;  // 2^27 + 1
  const double t_hi = tc - (tc - t);
  const double t_lo = t - t_hi;
  const double p = t * kTwoPiHi;
  const double e = ((t_hi * kTwoPiHiHi - p) + t_hi * kTwoPiHiLo + t_lo * kTwoPiHiHi) + t_lo * kTwoPiHiLo;
  const double sin_t = p + (e + (t * kTwoPiLo + (t * z) * sp));
  double cp = -1.6990354964312944;
  cp = cp * z + 7.9032069632446325;
  cp = cp * z - 26.426253276763106;
  cp = cp * z + 60.244641352709365;
  cp = cp * z - 85.45681720664383;
  cp = cp * z + 64.93939402266824;
  cp = cp * z - 19.739208802178716;
  const double cos_t = 1.0 + z * cp;
  // 2πu = qπ/2 + 2πt: rotate by the quadrant.
  const bool swap = (quadrant & 1u) != 0;
  const double s = bit_select(swap, cos_t, sin_t);
  const double c = bit_select(swap, sin_t, cos_t);
  // Negation flips the sign bit (no floating-point operation).
  *sin_out = bits_double(double_bits(s) ^ ((quadrant & 2u) << 62));
  *cos_out = bits_double(double_bits(c) ^ (((quadrant + 1u) & 2u) << 62));
}

}  // namespace sbi
