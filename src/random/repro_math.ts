/**
 * Mirror of `kernels/random/repro_math.h`: a logarithm and sin/cos(2πu) built only from IEEE-754
 * operations that every conforming platform rounds identically (+, −, ×, ÷, exact exponent
 * extraction, exact fmod), so that a Box–Muller normal drawn here has the same bits as one drawn
 * by a native kernel. `Math.log`/`Math.sin`/`Math.cos` (V8's fdlibm) and glibc's libm disagree in
 * the last bit for a few percent of arguments. Every expression below keeps the evaluation order
 * of the C++ body; change both together.
 */

const LN2_HI = 0.6931471805598903; // 0x1.62e42fefa38p-1: 42 significant bits, e·LN2_HI exact
const LN2_LO = 5.497923018708371e-14;
const SQRT_HALF = 0.7071067811865476;
const TWO_54 = 18014398509481984;
const ROUND_SHIFT = 6755399441055744; // 1.5·2^52
const HALF_PI_HI = 1.5707963267948966;
const HALF_PI_LO = 6.123233995736766e-17;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1 ? 1 : 0; // index of the high word

/** Natural logarithm, below 1 ulp of error; see `repro_log` for the method. */
export function reproLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return x;
  // frexp: x = m·2^e with m in [0.5, 1), by rewriting the exponent field (exact).
  let scale = 0;
  f64[0] = x;
  if (u32[HI] >>> 20 === 0) {
    f64[0] = x * TWO_54; // subnormal: normalise first (exact)
    scale = 54;
  }
  const hiWord = u32[HI];
  let e = (hiWord >>> 20) - 1022 - scale;
  u32[HI] = (hiWord & 0x800fffff) | 0x3fe00000;
  let m = f64[0];
  const below = m < SQRT_HALF;
  m = below ? m + m : m;
  e -= below ? 1 : 0;
  const f = m - 1.0;
  const s = f / (2.0 + f);
  const z = s * s;
  const z2 = z * z, z4 = z2 * z2, z8 = z4 * z4;
  const R = z * (((2.0 / 3.0 + z * (2.0 / 5.0)) + z2 * (2.0 / 7.0 + z * (2.0 / 9.0))) +
                 z4 * ((2.0 / 11.0 + z * (2.0 / 13.0)) + z2 * (2.0 / 15.0 + z * (2.0 / 17.0))) +
                 z8 * (2.0 / 19.0 + z * (2.0 / 21.0)));
  const hfsq = 0.5 * f * f;
  return e * LN2_HI - ((hfsq - (s * (hfsq + R) + e * LN2_LO)) - f);
}

/**
 * sin(2πu) and cos(2πu), below 2 ulp of error, reduced exactly on u; see `repro_sincos_2pi`.
 * Writes [sin, cos] to `out`. Non-finite u gives NaN.
 */
export function reproSinCos2Pi(u: number, out: Float64Array | number[]): void {
  const t4 = 4.0 * u;
  const t = Math.abs(t4) < 4.0 ? t4 : t4 % 4.0; // `%` on numbers is C's exact fmod
  const k = (t + ROUND_SHIFT) - ROUND_SHIFT;
  const r = t - k;
  if (!(r === r)) {
    out[0] = NaN;
    out[1] = NaN;
    return;
  }
  const z = r * r, z2 = z * z, z4 = z2 * z2;
  const sinTail = (0.07969262624616705 + z * -0.004681754135318688) +
                  z2 * (0.00016044118478735983 + z * -3.598843235212085e-06) +
                  z4 * ((5.692172921967927e-08 + z * -6.688035109811468e-10) + z2 * 6.0669357311061955e-12);
  const sr = r * HALF_PI_HI + (r * HALF_PI_LO + (r * z) * (-0.6459640975062463 + z * sinTail));
  const cosTail = (-0.02086348076335296 + z * 0.0009192602748394266) +
                  z2 * (-2.5202042373060607e-05 + z * 4.710874778818172e-07) +
                  z4 * ((-6.386603083791852e-09 + z * 6.565963114979473e-11) + z2 * -5.294400200734623e-13);
  const cr = 1.0 + z * (-1.2337005501361697 + z * (0.25366950790104803 + z * cosTail));
  const q = k < 0.0 ? k + 4.0 : k;
  const odd = q === 1.0 || q === 3.0;
  const a = odd ? cr : sr;
  const b = odd ? sr : cr;
  out[0] = q === 2.0 || q === 3.0 ? -a : a;
  out[1] = q === 1.0 || q === 2.0 ? -b : b;
}
