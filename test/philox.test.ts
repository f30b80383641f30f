import { describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { PhiloxStream, philox4x32 } from '../src/random/philox.js';
import { vlog, vsincos2Pi } from '../src/random/vecmath.js';

// Known-answer vectors of Random123 (kat_vectors, philox4x32 with 10 rounds).
const KAT: Array<{ ctr: number[]; key: number[]; out: number[] }> = [
  { ctr: [0, 0, 0, 0], key: [0, 0], out: [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8] },
  {
    ctr: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
    key: [0xffffffff, 0xffffffff],
    out: [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
  },
  {
    ctr: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
    key: [0xa4093822, 0x299f31d0],
    out: [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
  },
];

describe('Philox4x32-10', () => {
  for (const [i, v] of KAT.entries()) {
    it(`matches Random123 known-answer vector ${i}`, () => {
      const out = new Uint32Array(4);
      native.philox4x32(Uint32Array.from(v.ctr), Uint32Array.from(v.key), out);
      expect(Array.from(out)).toEqual(v.out);
    });
    it(`matches Random123 known-answer vector ${i} in TypeScript`, () => {
      const out = new Uint32Array(4);
      philox4x32(v.ctr[0], v.ctr[1], v.ctr[2], v.ctr[3], v.key[0], v.key[1], out);
      expect(Array.from(out)).toEqual(v.out);
    });
  }
});

/** Words for test inputs (xorshift32; any fixed sequence will do), with the extremes mixed in. */
function testWords(count: number, seed: number): Uint32Array {
  const w = new Uint32Array(count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    w[i] = i % 7 === 0 ? 0xffffffff : i % 11 === 0 ? 0 : s;
  }
  return w;
}

function ulpDistance(a: number, b: number): number {
  if (a === b) return 0;
  const scale = 2 ** (Math.floor(Math.log2(Math.max(Math.abs(a), Math.abs(b)))) - 52);
  return Math.abs(a - b) / scale;
}

describe('TypeScript Philox4x32-10 and PhiloxStream', () => {
  it('philox4x32 equals the native function on 20,000 random counter/key pairs', () => {
    const m = 20_000;
    const ctr = testWords(4 * m, 12345);
    const keys = testWords(2 * m, 999);
    const expected = new Uint32Array(4);
    const got = new Uint32Array(4);
    for (let i = 0; i < m; i++) {
      const c = ctr.subarray(4 * i, 4 * i + 4);
      const k = keys.subarray(2 * i, 2 * i + 2);
      native.philox4x32(c, k, expected);
      philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], got);
      if (got.some((w, j) => w !== expected[j])) {
        expect({ i, got: Array.from(got) }).toEqual({ i, got: Array.from(expected) });
      }
    }
  });

  it('draw j of a stream is word j % 4 of block j / 4 (counter = block, stream; key = seed)', () => {
    const seed = 0x1234567890abn;
    const stream = 2 ** 40 + 17;
    const firstBlock = 2 ** 32 - 2; // the block counter carries into its high word
    const s = new PhiloxStream(seed, stream, firstBlock);
    const block = new Uint32Array(4);
    for (let b = 0; b < 4; b++) {
      const counter = firstBlock + b;
      native.philox4x32(
        Uint32Array.of(counter % 2 ** 32, Math.floor(counter / 2 ** 32), stream % 2 ** 32, Math.floor(stream / 2 ** 32)),
        Uint32Array.of(0x567890ab, 0x1234),
        block,
      );
      for (let w = 0; w < 4; w++) expect(s.nextU32()).toBe(block[w]);
    }
  });

  it('uniform() of stream i equals native uniform sample i, bit for bit', () => {
    const n = 5000;
    for (const [seed, offset] of [[0, 0], [42, 1000], [2n ** 64n - 1n, 2n ** 63n + 5n]] as const) {
      const out = new Float64Array(n);
      native.sample('uniform', Float64Array.of(0, 1), n, seed, offset, out);
      for (let i = 0; i < n; i++) {
        const u = new PhiloxStream(seed, BigInt(offset) + BigInt(i)).uniform();
        if (u !== out[i]) expect({ seed, offset, i, u }).toEqual({ seed, offset, i, u: out[i] });
      }
    }
  });

  it('normal() sequences (Box-Muller with its spare) equal the native sampler, bit for bit', () => {
    // mvnCholesky with mean 0 and L = I returns the first d standard normals of each stream.
    const n = 20_000;
    const d = 5;
    const params = new Float64Array(d + d * d);
    for (let j = 0; j < d; j++) params[d + j * d + j] = 1;
    const out = new Float64Array(n * d);
    native.sample('mvnCholesky', params, n, 7, 3, out);
    for (let i = 0; i < n; i++) {
      const s = new PhiloxStream(7, 3 + i);
      for (let j = 0; j < d; j++) {
        const z = s.normal();
        if (!Object.is(z, out[i * d + j])) expect({ i, j, z }).toEqual({ i, j, z: out[i * d + j] });
      }
    }
  });

  it('rejects seeds and streams outside [0, 2^64)', () => {
    expect(() => new PhiloxStream(-1, 0)).toThrow(RangeError);
    expect(() => new PhiloxStream(0, 2n ** 64n)).toThrow(RangeError);
    expect(() => new PhiloxStream(0.5, 0)).toThrow(RangeError);
  });
});

describe('TypeScript mirror of vecmath vlog and vsincos_2pi', () => {
  /** Doubles over all binades (subnormals included), special values and ±0. */
  function logArguments(): Float64Array {
    const words = testWords(40_000, 77);
    const xs: number[] = [0, -0, -1, Infinity, -Infinity, NaN, 1, Math.E, Number.MIN_VALUE, 2.2250738585072014e-308,
      2.225073858507201e-308, Number.MAX_VALUE, Math.SQRT1_2, Math.SQRT2, 1 - 2 ** -53, 1 + 2 ** -52];
    for (let i = 0; i < words.length; i += 2) {
      const mantissa = 1 + words[i] / 2 ** 32;
      xs.push(mantissa * 2 ** ((words[i + 1] % 2098) - 1074));
    }
    // The Box–Muller radius argument: uniforms on (0, 1) with 53 random bits.
    for (let i = 0; i < words.length; i += 2) xs.push(((words[i] >>> 5) * 67108864 + (words[i + 1] >>> 6) + 0.5) / 2 ** 53);
    return Float64Array.from(xs);
  }

  it('vlog is within 2 ulp of Math.log over all binades, subnormals included', () => {
    let worst = 0;
    for (const x of logArguments()) {
      if (!(x > 0) || x === Infinity) continue;
      worst = Math.max(worst, ulpDistance(vlog(x), Math.log(x)));
    }
    expect(worst).toBeLessThanOrEqual(2);
  });

  it('vlog is exact at 1 and handles ±0, negatives, infinity and NaN', () => {
    expect(Object.is(vlog(1), 0)).toBe(true);
    expect(vlog(0)).toBe(-Infinity);
    expect(vlog(-0)).toBe(-Infinity);
    expect(vlog(-1)).toBeNaN();
    expect(vlog(-Infinity)).toBeNaN();
    expect(vlog(Infinity)).toBe(Infinity);
    expect(vlog(NaN)).toBeNaN();
    expect(vlog(Math.E)).toBeCloseTo(1, 15);
  });

  it('vlog equals the native vlog bit for bit', () => {
    const xs = logArguments();
    const out = new Float64Array(xs.length);
    native.vecmath('log', xs, out);
    for (let i = 0; i < xs.length; i++) {
      const got = vlog(xs[i]);
      if (!Object.is(got, out[i])) expect({ x: xs[i], got }).toEqual({ x: xs[i], got: out[i] });
    }
  });

  /** Angles: Box–Muller's u in (0, 1), negative u, u > 1, large and special values. */
  function angleArguments(): Float64Array {
    const words = testWords(40_000, 5);
    const us: number[] = [0, -0, 0.125, 0.25, 0.375, 0.5, 0.75, 1, -0.25, 2 ** 52, -(2 ** 52) - 2, 2 ** 52 - 0.5, 1e300,
      Number.MIN_VALUE, Infinity, -Infinity, NaN];
    for (const w of words) us.push((w / 2 ** 32) * 3 - 1);
    for (const w of words) us.push((w + 0.5) * 2.3283064365386963e-10);
    return Float64Array.from(us);
  }

  it('vsincos2Pi agrees with Math.sin/cos(2πu) to 4e-16 and is exact at quarter turns', () => {
    const sc = new Float64Array(2);
    let worst = 0; // error relative to the rounding error of 2πu itself, which Math.sin/cos inherit
    for (const u of angleArguments()) {
      if (!(Math.abs(u) <= 2)) continue;
      vsincos2Pi(u, sc);
      const tolerance = 4e-16 * (1 + 8 * Math.abs(u));
      worst = Math.max(worst, Math.abs(sc[0] - Math.sin(2 * Math.PI * u)) / tolerance);
      worst = Math.max(worst, Math.abs(sc[1] - Math.cos(2 * Math.PI * u)) / tolerance);
    }
    expect(worst).toBeLessThan(1);
    const quarter: Array<[number, number, number]> = [[0, 0, 1], [0.25, 1, 0], [0.5, 0, -1], [0.75, -1, 0], [1, 0, 1]];
    for (const [u, s, c] of quarter) {
      vsincos2Pi(u, sc);
      expect([sc[0] + 0, sc[1] + 0]).toEqual([s, c]);
    }
    for (const u of [Infinity, -Infinity, NaN]) {
      vsincos2Pi(u, sc);
      expect(Number.isNaN(sc[0]) && Number.isNaN(sc[1])).toBe(true);
    }
  });

  it('vsincos2Pi equals the native vsincos_2pi bit for bit', () => {
    const us = angleArguments();
    const sin = new Float64Array(us.length);
    const cos = new Float64Array(us.length);
    native.vecmath('sincos2pi', us, sin, cos);
    const sc = new Float64Array(2);
    for (let i = 0; i < us.length; i++) {
      vsincos2Pi(us[i], sc);
      if (!Object.is(sc[0], sin[i]) || !Object.is(sc[1], cos[i])) {
        expect({ u: us[i], sin: sc[0], cos: sc[1] }).toEqual({ u: us[i], sin: sin[i], cos: cos[i] });
      }
    }
  });
});
