// The bulk samplers of kernels/random/samplers.h (sample_std_normal_fill, sample_uniform_fill)
// generate whole Philox blocks in loops that vectorise; they must give exactly the values of
// the corresponding sequential draws and leave the stream where those would leave it.
import { describe, expect, it } from 'vitest';
import { native } from '../src/native.js';

const bytes = (a: Float64Array) => Buffer.from(a.buffer);

describe.each(['normal', 'uniform'] as const)('sample_%s fill', (kind) => {
  it('equals the sequential draws from any word offset, and leaves the stream at the same place', () => {
    for (const lead of [0, 1, 2, 3, 4, 5, 6, 7, 12]) {
      for (const n of [0, 2, 6, 8, 46, 64, 66, 92, 130]) {
        const bulk = new Float64Array(n + 3);
        const seq = new Float64Array(n + 3);
        native.samplerFill(kind, 0xfeedn, 123_456_789_012n, lead, n, bulk, false);
        native.samplerFill(kind, 0xfeedn, 123_456_789_012n, lead, n, seq, true);
        expect(bytes(bulk).equals(bytes(seq)), `lead ${lead}, n ${n}`).toBe(true);
      }
    }
  });

  it('produces finite values of the right distribution scale', () => {
    const n = 20_000;
    const out = new Float64Array(n + 3);
    native.samplerFill(kind, 1, 2, 0, n, out, false);
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      expect(Number.isFinite(out[i])).toBe(true);
      mean += out[i] / n;
      sq += out[i] * out[i] / n;
    }
    // N(0, 1): mean 0, E x² = 1;  U(0, 1): mean 1/2, E x² = 1/3 (5 standard errors).
    const [m, s2, sdM, sdS2] = kind === 'normal' ? [0, 1, 1, Math.SQRT2] : [0.5, 1 / 3, Math.sqrt(1 / 12), Math.sqrt(4 / 45)];
    expect(Math.abs(mean - m)).toBeLessThan((5 * sdM) / Math.sqrt(n));
    expect(Math.abs(sq - s2)).toBeLessThan((5 * sdS2) / Math.sqrt(n));
  });
});
