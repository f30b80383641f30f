// The uniform density and the coupling flow of circular splines on the torus (src/manifold/torus.ts).
import { describe, expect, it } from 'vitest';
import { TorusCouplingFlow, TorusUniform } from '../src/manifold/torus.js';

const TWO_PI = 2 * Math.PI;

describe('TorusUniform', () => {
  it('has log density −D log 2π and draws angles with mean π (5 standard errors)', () => {
    const base = new TorusUniform(3);
    const n = 4000;
    const x = base.sample(n, 7);
    expect(base.logProb(x.subarray(0, 6))).toEqual(Float64Array.of(-3 * Math.log(TWO_PI), -3 * Math.log(TWO_PI)));
    const se = TWO_PI / Math.sqrt(12) / Math.sqrt(n);
    for (let d = 0; d < 3; d++) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += x[i * 3 + d]! / n;
      expect(Math.abs(mean - Math.PI)).toBeLessThan(5 * se);
    }
    for (const v of x) expect(v >= 0 && v < TWO_PI).toBe(true);
  });

  it('is reproducible from (seed, stream): row i uses stream streamOffset + i', () => {
    const base = new TorusUniform(2);
    const a = base.sample(4, 3);
    const b = base.sample(2, 3, 2);
    expect(b).toEqual(a.subarray(4, 8));
  });
});

describe('TorusCouplingFlow', () => {
  it.each([2, 3])('returns with each sample (D = %i) the log-density that logProb computes', (dim) => {
    const flow = new TorusCouplingFlow(dim, 11, { layers: 3, bins: 5, hidden: 8 });
    const { x, logProb } = flow.sample(200, 5);
    for (const v of x) expect(v >= 0 && v < TWO_PI).toBe(true);
    const again = flow.logProb(x);
    for (let i = 0; i < 200; i++) expect(Math.abs(again[i]! - logProb[i]!)).toBeLessThan(1e-10);
    // not the uniform density: the layers do something
    expect(Math.max(...logProb) - Math.min(...logProb)).toBeGreaterThan(0.01);
  });

  it('has a density that integrates to 1 on T²', () => {
    const flow = new TorusCouplingFlow(2, 12, { layers: 2, bins: 4, hidden: 8 });
    // Midpoint rule on a 256 × 256 grid: error O(m⁻²) for a density that is smooth between the
    // splines' knots (measured for this flow: 5e-5 at m = 128, 6e-7 at m = 256).
    const integral = (m: number) => {
      const x = new Float64Array(2 * m * m);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < m; j++) {
          x[2 * (i * m + j)] = (TWO_PI * (i + 0.5)) / m;
          x[2 * (i * m + j) + 1] = (TWO_PI * (j + 0.5)) / m;
        }
      }
      const lq = flow.logProb(x);
      let s = 0;
      for (const v of lq) s += Math.exp(v);
      return s * (TWO_PI / m) ** 2;
    };
    expect(Math.abs(integral(256) - 1)).toBeLessThan(1e-5);
  });

  it('throws for bad arguments', () => {
    expect(() => new TorusCouplingFlow(1, 1)).toThrow(/`dim` >= 2/);
    expect(() => new TorusCouplingFlow(2, 1, { bins: 0 })).toThrow(/`bins`/);
    const flow = new TorusCouplingFlow(2, 1, { layers: 1, hidden: 4 });
    expect(() => flow.logProb(new Float64Array(3))).toThrow(/multiple of 2/);
    expect(() => flow.logProb(new Float32Array(2) as unknown as Float64Array)).toThrow(TypeError);
    expect(() => flow.logProb(Float64Array.of(0, NaN))).toThrow(/finite angles/);
  });
});
