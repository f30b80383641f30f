// Circular 2-D convolution (kernels/nn/conv2d_circular.h): forward against a direct sum,
// gradients against finite differences in double, translation equivariance, errors.
import { describe, expect, it } from 'vitest';
import { conv2dCircular, conv2dCircularBackward, type Conv2dShape } from '../src/lattice/index.js';
import { PhiloxStream } from '../src/random/philox.js';

function randn(n: number, seed: number): Float64Array {
  const r = new PhiloxStream(seed, 1);
  return Float64Array.from({ length: n }, () => r.normal());
}

const mod = (a: number, L: number) => ((a % L) + L) % L;

/** The definition, one output at a time, with explicit modular indices. */
function reference(s: Conv2dShape, w: Float64Array, b: Float64Array, x: Float64Array): Float64Array {
  const r = (s.K - 1) / 2;
  const plane = s.L0 * s.L1;
  const y = new Float64Array(s.n * s.cOut * plane);
  for (let n = 0; n < s.n; n++)
    for (let o = 0; o < s.cOut; o++)
      for (let i = 0; i < s.L0; i++)
        for (let j = 0; j < s.L1; j++) {
          let v = b[o]!;
          for (let c = 0; c < s.cIn; c++)
            for (let a = -r; a <= r; a++)
              for (let d = -r; d <= r; d++)
                v += w[((o * s.cIn + c) * s.K + a + r) * s.K + d + r]! *
                  x[(n * s.cIn + c) * plane + mod(i + a, s.L0) * s.L1 + mod(j + d, s.L1)]!;
          y[(n * s.cOut + o) * plane + i * s.L1 + j] = v;
        }
  return y;
}

const SHAPES: Conv2dShape[] = [
  { n: 2, cIn: 1, cOut: 8, L0: 4, L1: 4, K: 3 },
  { n: 1, cIn: 3, cOut: 2, L0: 3, L1: 5, K: 3 },
  { n: 2, cIn: 2, cOut: 2, L0: 2, L1: 1, K: 3 },
  { n: 1, cIn: 2, cOut: 1, L0: 6, L1: 4, K: 5 },
  { n: 1, cIn: 1, cOut: 1, L0: 1, L1: 1, K: 3 },
];

function tensors(s: Conv2dShape, seed: number) {
  const w = randn(s.cOut * s.cIn * s.K * s.K, seed);
  const b = randn(s.cOut, seed + 1);
  const x = randn(s.n * s.cIn * s.L0 * s.L1, seed + 2);
  return { w, b, x };
}

describe('conv2dCircular', () => {
  it('equals the direct sum with periodic indices (including lattices smaller than the kernel)', () => {
    SHAPES.forEach((s, k) => {
      const { w, b, x } = tensors(s, 10 * k);
      const y = conv2dCircular(s, w, b, x);
      const ref = reference(s, w, b, x);
      for (let i = 0; i < y.length; i++) expect(Math.abs(y[i]! - ref[i]!)).toBeLessThan(1e-12 * (1 + Math.abs(ref[i]!)));
    });
  });

  it('has input, weight and bias gradients equal to central finite differences in double', () => {
    SHAPES.slice(0, 4).forEach((s, k) => {
      const { w, b, x } = tensors(s, 100 + 10 * k);
      const rdot = randn(s.n * s.cOut * s.L0 * s.L1, 7 + k);
      const loss = (ww: Float64Array, bb: Float64Array, xx: Float64Array) => {
        const y = conv2dCircular(s, ww, bb, xx);
        let l = 0;
        for (let i = 0; i < y.length; i++) l += rdot[i]! * y[i]!;
        return l;
      };
      const g = conv2dCircularBackward(s, w, x, rdot);
      const h = 1e-6;
      const check = (arr: Float64Array, grad: Float64Array, f: (a: Float64Array) => number) => {
        for (let i = 0; i < arr.length; i++) {
          const p = Float64Array.from(arr);
          const m = Float64Array.from(arr);
          p[i]! += h;
          m[i]! -= h;
          const fd = (f(p) - f(m)) / (2 * h);
          expect(Math.abs(grad[i]! - fd)).toBeLessThan(1e-7 * (1 + Math.abs(fd)));
        }
      };
      check(x, g.gx, (xx) => loss(w, b, xx));
      check(w, g.gweight, (ww) => loss(ww, b, x));
      check(b, g.gbias, (bb) => loss(w, bb, x));
    });
  });

  it('commutes with lattice translations', () => {
    const s: Conv2dShape = { n: 1, cIn: 2, cOut: 3, L0: 6, L1: 6, K: 3 };
    const { w, b, x } = tensors(s, 55);
    const shift = (f: Float64Array, channels: number, t0: number, t1: number) => {
      const out = new Float64Array(f.length);
      for (let c = 0; c < channels; c++)
        for (let i = 0; i < 6; i++)
          for (let j = 0; j < 6; j++) out[c * 36 + mod(i + t0, 6) * 6 + mod(j + t1, 6)] = f[c * 36 + i * 6 + j]!;
      return out;
    };
    for (const [t0, t1] of [[1, 0], [2, 3], [5, 5]] as const) {
      const a = conv2dCircular(s, w, b, shift(x, 2, t0, t1));
      const c = shift(conv2dCircular(s, w, b, x), 3, t0, t1);
      for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(c[i]!, 12);
    }
  });

  it('runs the float kernels on Float32Array to single precision', () => {
    const s = SHAPES[0]!;
    const { w, b, x } = tensors(s, 3);
    const y32 = conv2dCircular(s, Float32Array.from(w), Float32Array.from(b), Float32Array.from(x));
    expect(y32).toBeInstanceOf(Float32Array);
    const y = conv2dCircular(s, w, b, x);
    for (let i = 0; i < y.length; i++) expect(Math.abs(y32[i]! - y[i]!)).toBeLessThan(1e-5 * (1 + Math.abs(y[i]!)));
  });

  it('throws RangeError for an even kernel, a mismatched weight length or non-finite input', () => {
    const s = SHAPES[1]!;
    const { w, b, x } = tensors(s, 4);
    expect(() => conv2dCircular({ ...s, K: 2 }, w, b, x)).toThrow(/odd/);
    expect(() => conv2dCircular(s, w.subarray(1), b, x)).toThrow(/weight/);
    const bad = Float64Array.from(x);
    bad[3] = NaN;
    expect(() => conv2dCircular(s, w, b, bad)).toThrow(/x\[3\]/);
  });
});
