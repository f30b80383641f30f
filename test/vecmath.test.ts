// kernels/common/vecmath.h (branch-free exp, log, sin/cos of 2πu used by the vectorised
// simulators): accuracy against Math.* and a double-double reference over the whole double
// range, special values, and bit-identical results on every instruction-set path. Also the
// Philox word-to-uniform conversions of philox.h, rewritten without integer conversions.
import { afterEach, describe, expect, it } from 'vitest';
import { native } from '../src/native.js';

const ISA_ORDER = ['scalar', 'avx2', 'avx512'] as const;
const availableIsas = ISA_ORDER.slice(0, ISA_ORDER.indexOf(native.runtimeInfo().detectedIsa as (typeof ISA_ORDER)[number]) + 1);

/** Distance in units in the last place between two doubles (0 for equal values, ±0 included). */
function ulpDistance(a: number, b: number): number {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const view = new DataView(new ArrayBuffer(16));
  view.setFloat64(0, a);
  view.setFloat64(8, b);
  // Map the sign-magnitude bit patterns to a monotone integer line.
  const ordinal = (i: bigint) => (i < 0n ? -(i & 0x7fffffffffffffffn) : i);
  const d = ordinal(view.getBigInt64(0)) - ordinal(view.getBigInt64(8));
  return Number(d < 0n ? -d : d);
}

function maxUlp(got: Float64Array, want: (i: number) => number): { max: number; at: number } {
  let max = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const d = ulpDistance(got[i], want(i));
    if (d > max) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

/** Deterministic pseudo-random numbers in [0, 1) for test inputs (LCG, 2^-53 grid). */
function inputs(n: number, seed: number, map: (u: number) => number): Float64Array {
  const out = new Float64Array(n);
  let s = BigInt(seed);
  for (let i = 0; i < n; i++) {
    s = (s * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    out[i] = map(Number(s >> 11n) / 2 ** 53);
  }
  return out;
}

// Double-double arithmetic (Dekker 1971): a value is hi + lo with |lo| <= ulp(hi)/2.
type DD = [number, number];
function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}
function split(a: number): DD {
  const c = 134217729 * a; // 2^27 + 1
  const hi = c - (c - a);
  return [hi, a - hi];
}
function twoProd(a: number, b: number): DD {
  const p = a * b;
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}
function ddAdd(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  return twoSum(s, e + a[1] + b[1]);
}
function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return twoSum(p, e + a[0] * b[1] + a[1] * b[0]);
}
function ddDivSmallInt(a: DD, k: number): DD {
  const q = a[0] / k;
  const [p, e] = twoProd(q, k);
  return twoSum(q, (a[0] - p - e + a[1]) / k);
}
const TWO_PI: DD = [6.283185307179586, 2.4492935982947064e-16];

/** sin(2πu), cos(2πu) to ~2^-100: exact reduction u = j + q/4 + t, Taylor series in double-double. */
function sinCos2PiReference(u: number): [number, number] {
  if (!(Math.abs(u) < 2 ** 52)) return [0 * u === 0 ? 0 : NaN, 0 * u === 0 ? 1 : NaN];
  const u0 = u - Math.round(u);
  const q = Math.round(4 * u0);
  const t = u0 - q / 4;
  const x = ddMul(TWO_PI, [t, 0]);
  const x2 = ddMul(x, x);
  let sinTerm: DD = x;
  let cosTerm: DD = [1, 0];
  let sin: DD = x;
  let cos: DD = [1, 0];
  for (let k = 1; k <= 14; k++) {
    sinTerm = ddDivSmallInt(ddMul(sinTerm, x2), -(2 * k) * (2 * k + 1));
    cosTerm = ddDivSmallInt(ddMul(cosTerm, x2), -(2 * k - 1) * (2 * k));
    sin = ddAdd(sin, sinTerm);
    cos = ddAdd(cos, cosTerm);
  }
  const s = sin[0] + sin[1];
  const c = cos[0] + cos[1];
  switch (((q % 4) + 4) % 4) {
    case 0: return [s, c];
    case 1: return [c, -s];
    case 2: return [-s, -c];
    default: return [-c, s];
  }
}

describe('vecmath (kernels/common/vecmath.h)', () => {
  afterEach(() => native.setIsa('auto'));

  it('vexp is within 1 ulp of Math.exp from the underflow to the overflow threshold', () => {
    const x = inputs(400_000, 1, (u) => -745.2 + 1455 * u);
    const small = inputs(100_000, 2, (u) => (u - 0.5) * 2 ** -20);
    const out = new Float64Array(x.length);
    native.vecmath('exp', x, out);
    const r = maxUlp(out, (i) => Math.exp(x[i]));
    expect(r.max, `x = ${x[r.at]}`).toBeLessThanOrEqual(1);
    const outSmall = new Float64Array(small.length);
    native.vecmath('exp', small, outSmall);
    expect(maxUlp(outSmall, (i) => Math.exp(small[i])).max).toBeLessThanOrEqual(1);
  });

  it('vexp handles special values like Math.exp', () => {
    const x = Float64Array.of(0, -0, Infinity, -Infinity, NaN, 709.78, 709.79, -745.1, -745.2, -1e300, 1e300, -708.5, 5e-324);
    const out = new Float64Array(x.length);
    native.vecmath('exp', x, out);
    for (let i = 0; i < x.length; i++) expect(ulpDistance(out[i], Math.exp(x[i])), `exp(${x[i]})`).toBeLessThanOrEqual(1);
  });

  it('vlog is within 1 ulp of Math.log for positive doubles of every exponent, subnormals included', () => {
    const x = inputs(400_000, 3, (u) => Math.exp((u - 0.5) * 1418));
    const nearOne = inputs(200_000, 4, (u) => 0.5 + 1.5 * u);
    const subnormal = inputs(50_000, 5, (u) => u * 2.2250738585072014e-308);
    for (const xs of [x, nearOne, subnormal]) {
      const out = new Float64Array(xs.length);
      native.vecmath('log', xs, out);
      const r = maxUlp(out, (i) => Math.log(xs[i]));
      expect(r.max, `x = ${xs[r.at]}`).toBeLessThanOrEqual(1);
    }
  });

  it('vlog handles special values like Math.log', () => {
    const x = Float64Array.of(0, -0, 5e-324, 1, Infinity, -Infinity, NaN, -1, 1.7976931348623157e308, 2.2250738585072014e-308);
    const out = new Float64Array(x.length);
    native.vecmath('log', x, out);
    expect(Array.from(out)).toEqual(Array.from(x, Math.log));
  });

  it('vexp_flush has the bits of vexp where e^x is normal or overflows, and is 0 below e^-708', () => {
    const wide = inputs(400_000, 6, (u) => -720 + 1440 * u);
    const edges = Float64Array.of(-708, -707.9999999999999, -708.0000000000001, 709.78, 709.79, 709.4, 0, -0, Infinity, -Infinity, NaN, -1e300, 1e300);
    for (const x of [wide, edges]) {
      const flush = new Float64Array(x.length);
      const exact = new Float64Array(x.length);
      native.vecmath('expflush', x, flush);
      native.vecmath('exp', x, exact);
      const wrong = Array.from(x).filter((xi, i) => !Object.is(flush[i], xi < -708 ? 0 : exact[i]));
      expect(wrong).toEqual([]);
    }
  });

  it('vlog_approx is within kLogApproxError = 5e-4 of Math.log for normal positive doubles and -inf at 0', () => {
    const x = inputs(400_000, 7, (u) => Math.exp((u - 0.5) * 1414));
    const out = new Float64Array(x.length);
    native.vecmath('logapprox', x, out);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(out[i] - Math.log(x[i])));
    expect(worst).toBeLessThanOrEqual(4.5e-4);
    const special = new Float64Array(2);
    native.vecmath('logapprox', Float64Array.of(0, 2.2250738585072014e-308), special);
    expect(special[0]).toBe(-Infinity);
    expect(Math.abs(special[1] - Math.log(2.2250738585072014e-308))).toBeLessThanOrEqual(4.5e-4);
  });

  it('vsincos_2pi is within 1 ulp of sin 2πu and cos 2πu (double-double reference)', () => {
    const sets = [
      inputs(200_000, 6, (u) => 8 * u - 4),
      inputs(100_000, 7, (u) => (u - 0.5) * 2e6),
      inputs(50_000, 8, (u) => (u - 0.5) * 1e-6),
    ];
    for (const u of sets) {
      const s = new Float64Array(u.length);
      const c = new Float64Array(u.length);
      native.vecmath('sincos2pi', u, s, c);
      const ref = Array.from(u, sinCos2PiReference);
      const rs = maxUlp(s, (i) => ref[i][0]);
      const rc = maxUlp(c, (i) => ref[i][1]);
      expect(rs.max, `sin at u = ${u[rs.at]}`).toBeLessThanOrEqual(1);
      expect(rc.max, `cos at u = ${u[rc.at]}`).toBeLessThanOrEqual(1);
    }
  });

  it('vsincos_2pi agrees with Math.sin / Math.cos of 2πu (independent quadrant check)', () => {
    const u = inputs(100_000, 9, (v) => 3 * v - 1);
    const s = new Float64Array(u.length);
    const c = new Float64Array(u.length);
    native.vecmath('sincos2pi', u, s, c);
    // Math.sin(2π·u) carries the rounding of 2π (2.5e-16 absolute) times |u| and of the
    // product 2π·u (2^-53 relative), on top of each result's own half-ulp.
    let worst = 0;
    for (let i = 0; i < u.length; i++) {
      const tol = 2.5e-16 * Math.abs(u[i]) + 1.2e-16 * Math.abs(2 * Math.PI * u[i]) + 2.3e-16;
      const err = Math.max(Math.abs(s[i] - Math.sin(2 * Math.PI * u[i])), Math.abs(c[i] - Math.cos(2 * Math.PI * u[i])));
      worst = Math.max(worst, err / tol);
    }
    expect(worst).toBeLessThan(1);
  });

  it('vsincos_2pi is exact at quarter turns, for huge arguments, and NaN for non-finite ones', () => {
    const u = Float64Array.of(0, 0.25, 0.5, 0.75, 1, -0.25, 3.5, 2 ** 52, -(2 ** 60), 1e300, Infinity, -Infinity, NaN);
    const s = new Float64Array(u.length);
    const c = new Float64Array(u.length);
    native.vecmath('sincos2pi', u, s, c);
    const wantS = [0, 1, 0, -1, 0, -1, 0, 0, 0, 0, NaN, NaN, NaN];
    const wantC = [1, 0, -1, 0, 1, 0, -1, 1, 1, 1, NaN, NaN, NaN];
    for (let i = 0; i < u.length; i++) {
      expect(s[i] === wantS[i] || (Number.isNaN(s[i]) && Number.isNaN(wantS[i])), `sin(2π·${u[i]}) = ${s[i]}`).toBe(true);
      expect(c[i] === wantC[i] || (Number.isNaN(c[i]) && Number.isNaN(wantC[i])), `cos(2π·${u[i]}) = ${c[i]}`).toBe(true);
    }
  });

  it('gives bit-identical results on every ISA path', () => {
    const x = inputs(50_000, 10, (u) => (u - 0.5) * 1500);
    const pos = inputs(50_000, 11, (u) => Math.exp((u - 0.5) * 1400));
    const run = () => {
      const e = new Float64Array(x.length);
      const l = new Float64Array(x.length);
      const s = new Float64Array(x.length);
      const c = new Float64Array(x.length);
      native.vecmath('exp', x, e);
      native.vecmath('log', pos, l);
      native.vecmath('sincos2pi', x, s, c);
      const f = new Float64Array(x.length);
      const a = new Float64Array(x.length);
      native.vecmath('expflush', x, f);
      native.vecmath('logapprox', pos, a);
      return Buffer.concat([e, l, s, c, f, a].map((a) => Buffer.from(a.buffer)));
    };
    native.setIsa('scalar');
    const ref = run();
    for (const isa of availableIsas) {
      native.setIsa(isa);
      expect(run().equals(ref), isa).toBe(true);
    }
  });
});

/** Distance in units in the last place between two floats. */
function ulpDistanceF(a: number, b: number): number {
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat32(0, a);
  view.setFloat32(4, b);
  const ordinal = (i: number) => (i < 0 ? -(i & 0x7fffffff) : i);
  return Math.abs(ordinal(view.getInt32(0)) - ordinal(view.getInt32(4)));
}

describe('vexpm1, vtanh, logistic (the network activations, kernels/common/vecmath.h)', () => {
  afterEach(() => native.setIsa('auto'));
  const logisticRef = (x: number) => 1 / (1 + Math.exp(-x));
  // Ranges: the reduction's cases (|x| small, moderate, large), the tails up to saturation.
  const wide = inputs(200_000, 11, (u) => (u - 0.5) * 80);
  const moderate = inputs(200_000, 12, (u) => (u - 0.5) * 3);
  const tiny = inputs(50_000, 13, (u) => (u - 0.5) * 2 ** -(1 + Math.floor(u * 1e6) % 60));
  // Float references: the double functions rounded to float are correctly rounded but for ties.
  const cases = [
    { name: 'expm1', ref: Math.expm1, ulps: 3, floatUlps: 2, sets: [wide, moderate, tiny, inputs(50_000, 14, (u) => 700 * u)] },
    { name: 'tanh', ref: Math.tanh, ulps: 4, floatUlps: 2, sets: [wide, moderate, tiny] },
    { name: 'logistic', ref: logisticRef, ulps: 4, floatUlps: 3, sets: [wide, moderate, tiny, inputs(50_000, 15, (u) => -700 * u)] },
  ] as const;
  for (const c of cases) {
    it(`double ${c.name} is within ${c.ulps} ulp of the Math.* reference over wide ranges and the tails`, () => {
      for (const x of c.sets) {
        const out = new Float64Array(x.length);
        native.vecmath(c.name, x, out);
        const r = maxUlp(out, (i) => c.ref(x[i]));
        expect(r.max, `x = ${x[r.at]}`).toBeLessThanOrEqual(c.ulps);
      }
    });
    it(`float ${c.name}f is within ${c.floatUlps} ulp of the correctly rounded float result`, () => {
      for (const xd of c.sets) {
        // Inputs in float, away from the float overflow of expm1 (88.72) and the subnormal logistic.
        const x = Float64Array.from(xd, (v) => Math.fround(c.name === 'expm1' ? Math.min(v, 88.7) : Math.max(v, -87)));
        const out = new Float64Array(x.length);
        native.vecmath(`${c.name}f` as 'expm1f', x, out);
        let worst = 0;
        let at = 0;
        for (let i = 0; i < x.length; i++) {
          const d = ulpDistanceF(out[i], Math.fround(c.ref(x[i])));
          if (d > worst) [worst, at] = [d, i];
        }
        expect(worst, `x = ${x[at]}`).toBeLessThanOrEqual(c.floatUlps);
      }
    });
  }

  it('handle ±0, ±inf and NaN in both precisions', () => {
    const x = Float64Array.of(0, -0, Infinity, -Infinity, NaN, 1e300, -1e300);
    const want: Record<string, number[]> = {
      expm1: [0, -0, Infinity, -1, NaN, Infinity, -1],
      tanh: [0, -0, 1, -1, NaN, 1, -1],
      logistic: [0.5, 0.5, 1, 0, NaN, 1, 0],
    };
    for (const [name, values] of Object.entries(want)) {
      for (const suffix of ['', 'f']) {
        const out = new Float64Array(x.length);
        native.vecmath(`${name}${suffix}` as 'expm1', x, out);
        expect(Array.from(out), `${name}${suffix}`).toEqual(values);  // toEqual tells 0 from -0
      }
    }
  });

  it('give bit-identical results on every ISA path', () => {
    const x = Float64Array.from([...wide.subarray(0, 20_000), ...tiny.subarray(0, 5_000)]);
    let first: Float64Array[] | undefined;
    for (const isa of availableIsas) {
      native.setIsa(isa);
      const outs = ['expm1', 'tanh', 'logistic', 'expm1f', 'tanhf', 'logisticf'].map((name) => {
        const out = new Float64Array(x.length);
        native.vecmath(name as 'expm1', x, out);
        return out;
      });
      if (!first) first = outs;
      else outs.forEach((o, k) => expect(o, isa).toEqual(first![k]));
    }
  });
});

describe('Philox word-to-uniform conversion (kernels/random/philox.h)', () => {
  it('uniform() is (((hi << 32 | lo) >> 11) + 0.5) · 2^-53 of the stream\'s first two words', () => {
    const n = 20_000;
    const seed = 0x1234_5678_9abcn;
    const out = new Float64Array(n);
    native.sample('uniform', Float64Array.of(0, 1), n, seed, 77, out);
    // Block 0 of stream 77 + i: counter (0, 0, stream low, stream high), key = seed words.
    const ctr = new Uint32Array(4 * n);
    for (let i = 0; i < n; i++) ctr[4 * i + 2] = 77 + i;
    const words = new Uint32Array(4 * n);
    native.philox4x32(ctr, Uint32Array.of(Number(seed & 0xffffffffn), Number(seed >> 32n)), words);
    for (let i = 0; i < n; i++) {
      const v = ((BigInt(words[4 * i]) << 32n) | BigInt(words[4 * i + 1])) >> 11n;
      expect(out[i]).toBe((Number(v) + 0.5) * 2 ** -53);
    }
  });
});
