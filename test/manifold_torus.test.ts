// The uniform density on the torus (src/manifold/torus.ts); the torus flows are tested in test/manifold_flow.test.ts.
import { describe, expect, it } from 'vitest';
import { TorusUniform } from '../src/manifold/torus.js';

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
