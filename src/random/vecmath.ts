/**
 * TypeScript mirror of `vlog` and `vsincos_2pi` from `kernels/common/vecmath.h`, the two
 * functions behind the native Box–Muller sampler `sample_std_normal`. They use only IEEE-754
 * +, −, ×, ÷ (which every conforming platform rounds identically) and exact bit manipulation, so
 * a normal drawn by `PhiloxStream.normal()` has the same bits as one drawn by a native kernel;
 * `Math.log`/`Math.sin`/`Math.cos` (V8's fdlibm) and glibc's libm disagree in the last bit for a
 * few percent of arguments. Every floating-point expression keeps the evaluation order of the C++
 * body (methods and accuracy are described there); change both together.
 *
 * The 64-bit integer steps of the C++ code act here on the two 32-bit halves of a shared
 * Float64Array/Uint32Array view (carries propagated by hand), so no BigInt is needed. Where the
 * C++ code selects between values computed on both sides (`bit_select`), this code may branch:
 * the selected value is the same.
 */

const LN2_HI = 6.93147180369123816490e-01; // 0x3FE62E42FEE00000: k·LN2_HI exact for |k| < 2^11
const LN2_LO = 1.90821492927058770002e-10; // ln 2 − LN2_HI
const ROUND_SHIFT = 6755399441055744; // 1.5·2^52
const TWO_52 = 4503599627370496;
const TWO_54 = 18014398509481984;
const TWO_32 = 4294967296;
const MIN_NORMAL = 2.2250738585072014e-308;
const TWO_PI_HI = 6.283185307179586;
const TWO_PI_LO = 2.4492935982947064e-16;
const TWO_PI_HI_HI = 6.283185362815857;
const TWO_PI_HI_LO = TWO_PI_HI - TWO_PI_HI_HI;
// √½ rounded (0x3FE6A09E667F3BCD) and 0x3FF0000000000000 − √½, as 32-bit halves.
const SQRT_HALF_HI = 0x3fe6a09e;
const SQRT_HALF_LO = 0x667f3bcd;
const OFFSET_HI = 0x00095f61;
const OFFSET_LO = 0x9980c433;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0; // index of the high word
const LO = 1 - HI;

/** Natural logarithm: −∞ at ±0, NaN below 0 and at NaN, +∞ at +∞; see `vlog`. */
export function vlog(x: number): number {
  if (!(x > 0 && x < Infinity)) return x === 0 ? -Infinity : x === Infinity ? Infinity : NaN;
  const subnormal = x < MIN_NORMAL;
  f64[0] = x * (subnormal ? TWO_54 : 1.0);
  // shifted = bits(xs) + (bits(1) − bits(√½)): the exponent field becomes k + 1023.
  const lo = u32[LO] + OFFSET_LO; // < 2^33: exact
  const carry = lo >= TWO_32 ? 1 : 0;
  const shiftedLo = lo >>> 0;
  const shiftedHi = (u32[HI] + OFFSET_HI + carry) >>> 0;
  const k = (shiftedHi >>> 20) - (subnormal ? 1023 + 54 : 1023);
  // m = bits⁻¹((shifted & mantissa field) + bits(√½)) ∈ [√½, √2).
  const mLo = shiftedLo + SQRT_HALF_LO;
  u32[LO] = mLo >>> 0;
  u32[HI] = (shiftedHi & 0x000fffff) + SQRT_HALF_HI + (mLo >= TWO_32 ? 1 : 0);
  const m = f64[0];
  const f = m - 1.0;
  const s = f / (2.0 + f);
  const z = s * s;
  let q = 0.1461773676993849;
  q = q * z + 0.15331607967937536;
  q = q * z + 0.18182892887123378;
  q = q * z + 0.22222211077399734;
  q = q * z + 0.28571428626371254;
  q = q * z + 0.39999999999898506;
  q = q * z + 0.666666666666667;
  const R = z * q;
  const hfsq = 0.5 * f * f;
  return k * LN2_HI - ((hfsq - (s * (hfsq + R) + k * LN2_LO)) - f);
}

/**
 * sin(2πu) and cos(2πu) for every finite u (NaN for NaN and ±∞), written to `out` as [sin, cos];
 * see `vsincos_2pi`.
 */
export function vsincos2Pi(u: number, out: Float64Array | number[]): void {
  const shift = u < 0.0 ? -TWO_52 : TWO_52;
  const u0 = Math.abs(u) < TWO_52 ? u - ((u + shift) - shift) : 0.0 * u;
  const qs = 4.0 * u0 + ROUND_SHIFT;
  const quadrant = (qs - ROUND_SHIFT) & 3; // the low bits of qs: q mod 4 (two's complement)
  const t = u0 - (qs - ROUND_SHIFT) * 0.25;
  const z = t * t;
  let sp = 3.7864365072411132;
  sp = sp * z - 15.0940543054321;
  sp = sp * z + 42.05868918257167;
  sp = sp * z - 76.70585973563036;
  sp = sp * z + 81.60524927605172;
  sp = sp * z - 41.341702240399755;
  const tc = 134217729.0 * t;
  const tHi = tc - (tc - t);
  const tLo = t - tHi;
  const p = t * TWO_PI_HI;
  const e = ((tHi * TWO_PI_HI_HI - p) + tHi * TWO_PI_HI_LO + tLo * TWO_PI_HI_HI) + tLo * TWO_PI_HI_LO;
  const sinT = p + (e + (t * TWO_PI_LO + (t * z) * sp));
  let cp = -1.6990354964312944;
  cp = cp * z + 7.9032069632446325;
  cp = cp * z - 26.426253276763106;
  cp = cp * z + 60.244641352709365;
  cp = cp * z - 85.45681720664383;
  cp = cp * z + 64.93939402266824;
  cp = cp * z - 19.739208802178716;
  const cosT = 1.0 + z * cp;
  const swap = (quadrant & 1) !== 0;
  const s = swap ? cosT : sinT;
  const c = swap ? sinT : cosT;
  // Negation flips the sign bit only, like the XOR of the C++ code.
  out[0] = (quadrant & 2) !== 0 ? -s : s;
  out[1] = ((quadrant + 1) & 2) !== 0 ? -c : c;
}
