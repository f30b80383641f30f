// Reproducible log and sin/cos for the samplers: built only from IEEE-754 operations that every
// conforming platform rounds identically (+, -, *, / and the exact frexp and fmod), so that a
// variate has the same bits on every CPU path, under nvcc and in the TypeScript mirror
// (src/random/repro_math.ts). libm's log/sin/cos differ between glibc, V8, CUDA and MSVC in the
// last bit for a few percent of arguments: a Box-Muller normal built on them would differ too.
// Accuracy (against 120-bit mpmath on 200,000 arguments, many binades): repro_log 0.75 ulp,
// repro_sincos_2pi 1.54 ulp. Requires no FMA contraction on every path (-ffp-contract=off;
// nvcc: --fmad=false).
// Throughput: a Box-Muller pair is ~10% faster than with glibc's log and sincos.
#pragma once
#include "../common/portable.h"

namespace sbi {

// Natural logarithm. x = m 2^e with m in [sqrt(1/2), sqrt(2)), f = m - 1, s = f / (2 + f);
// log(1 + f) = 2 atanh(s) = 2s + s R(s^2), R(z) = sum_k 2 z^k / (2k + 1) (|s| < 0.1716, ten
// terms leave a relative truncation error below 1e-18), rearranged with 2s = f - s f as
// log(1 + f) = f - (f^2/2 - s (f^2/2 + R)) so that the rounding errors sit in a small correction.
// e ln 2 = e ln2_hi + e ln2_lo, ln2_hi with 42 significant bits so that e ln2_hi is exact.
SBI_HD double repro_log(double x) {
  if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
  if (x == INFINITY) return x;
  constexpr double kLn2Hi = 0.6931471805598903;  // 0x1.62e42fefa38p-1
  constexpr double kLn2Lo = 5.497923018708371e-14;
  constexpr double kSqrtHalf = 0.7071067811865476;  // 0x1.6a09e667f3bcdp-1
  int e;
  double m = frexp(x, &e);  // exact: m in [0.5, 1)
  const bool below = m < kSqrtHalf;  // selects rather than branches: the test is a coin flip for uniform x
  m = below ? m + m : m;
  e -= below ? 1 : 0;
  const double f = m - 1.0;  // exact (Sterbenz)
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double z2 = z * z, z4 = z2 * z2, z8 = z4 * z4;  // Estrin's scheme: short dependency chains
  const double R = z * (((2.0 / 3.0 + z * (2.0 / 5.0)) + z2 * (2.0 / 7.0 + z * (2.0 / 9.0))) +
                        z4 * ((2.0 / 11.0 + z * (2.0 / 13.0)) + z2 * (2.0 / 15.0 + z * (2.0 / 17.0))) +
                        z8 * (2.0 / 19.0 + z * (2.0 / 21.0)));
  const double hfsq = 0.5 * f * f;
  const double k = static_cast<double>(e);
  return k * kLn2Hi - ((hfsq - (s * (hfsq + R) + k * kLn2Lo)) - f);
}

// sin(2 pi u) and cos(2 pi u), reduced exactly on u rather than on the rounded product 2 pi u:
// t = 4u mod 4 (exact; fmod only outside (-4, 4), never for a Box-Muller angle), k = t rounded
// to the nearest integer by the 1.5 * 2^52 shift (exact and libm-free), r = t - k (exact,
// |r| <= 1/2), so 2 pi u = (pi/2)(k + r) + 2 pi n and the quadrant k mod 4 permutes and negates
// sin((pi/2) r) and cos((pi/2) r), evaluated by their Taylor series in r (degrees 17 and 18:
// truncation error below 1e-18). u non-finite gives NaN.
SBI_HD void repro_sincos_2pi(double u, double& sin_out, double& cos_out) {
  constexpr double kRoundShift = 6755399441055744.0;  // 1.5 * 2^52
  const double t4 = 4.0 * u;
  const double t = fabs(t4) < 4.0 ? t4 : fmod(t4, 4.0);
  const double k = (t + kRoundShift) - kRoundShift;  // in {-4, ..., 4}
  const double r = t - k;
  if (!(r == r)) {  // u is NaN or infinite
    sin_out = cos_out = NAN;
    return;
  }
  // The leading terms are added last (Horner) so that their rounding is not compounded; the tail
  // runs in Estrin's scheme for short dependency chains; pi/2 = kHalfPiHi + kHalfPiLo.
  constexpr double kHalfPiHi = 1.5707963267948966, kHalfPiLo = 6.123233995736766e-17;
  const double z = r * r, z2 = z * z, z4 = z2 * z2;
  const double sin_tail = (0.07969262624616705 + z * -0.004681754135318688) +
                          z2 * (0.00016044118478735983 + z * -3.598843235212085e-06) +
                          z4 * ((5.692172921967927e-08 + z * -6.688035109811468e-10) + z2 * 6.0669357311061955e-12);
  const double sr = r * kHalfPiHi + (r * kHalfPiLo + (r * z) * (-0.6459640975062463 + z * sin_tail));
  const double cos_tail = (-0.02086348076335296 + z * 0.0009192602748394266) +
                          z2 * (-2.5202042373060607e-05 + z * 4.710874778818172e-07) +
                          z4 * ((-6.386603083791852e-09 + z * 6.565963114979473e-11) + z2 * -5.294400200734623e-13);
  const double cr = 1.0 + z * (-1.2337005501361697 + z * (0.25366950790104803 + z * cos_tail));
  // Quadrant q = k mod 4 (q = 4 is q = 0): (sin, cos) = (sr, cr), (cr, -sr), (-sr, -cr), (-cr, sr)
  // for q = 0, 1, 2, 3; selects rather than branches (q is uniform for the Box-Muller angle).
  const double q = k < 0.0 ? k + 4.0 : k;
  const bool odd = q == 1.0 || q == 3.0;
  const double a = odd ? cr : sr;
  const double b = odd ? sr : cr;
  sin_out = (q == 2.0 || q == 3.0) ? -a : a;
  cos_out = (q == 1.0 || q == 2.0) ? -b : b;
}

}  // namespace sbi
