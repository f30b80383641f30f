// Contract of the conditional MAF (kernels/nn/made.h, kernels/flows/maf.h, src/flows/maf.ts),
// run over every elementwise transform in CASES.
import { afterAll, describe, expect, it } from 'vitest';
import { MAF, type MAFConfig } from '../src/flows/maf.js';
import { native } from '../src/native.js';
import { PhiloxStream } from '../src/random/philox.js';

const CASES: { name: string; config: MAFConfig }[] = [
  { name: 'affine', config: { dim: 3, contextDim: 2, hidden: 7, hiddenLayers: 2, layers: 3, transform: { kind: 'affine' } } },
  {
    name: 'rqSpline',
    config: { dim: 3, contextDim: 2, hidden: 7, hiddenLayers: 2, layers: 2, activation: 'elu', transform: { kind: 'rqSpline', bins: 4 } },
  },
];

function normals(n: number, seed: number, scale = 1): Float64Array {
  const rng = new PhiloxStream(seed, 999);
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

/** A flow with every trainable parameter drawn at `scale` (far from the near-identity init). */
function randomFlow(config: MAFConfig, seed: number, scale = 0.5): MAF {
  const maf = new MAF(config, { seed });
  const noise = normals(maf.paramCount, seed + 1, scale);
  for (let j = 0; j < maf.paramCount; j++) maf.params[j] = maf.mask[j] ? noise[j]! : 0;
  return maf;
}

/** [offset, length] of every tensor (each MADE's W and b per layer), in the documented layout. */
function tensors(maf: MAF): [number, number][] {
  const out: [number, number][] = [];
  const shapes: [number, number][] = [[maf.hidden, maf.dim + maf.contextDim]];
  for (let l = 1; l < maf.hiddenLayers; l++) shapes.push([maf.hidden, maf.hidden]);
  shapes.push([maf.dim * maf.paramsPerDim, maf.hidden]);
  let off = 0;
  for (let k = 0; k < maf.layers; k++) {
    for (const [o, i] of shapes) {
      out.push([off, o * i], [off + o * i, o]);
      off += o * i + o;
    }
  }
  expect(off).toBe(maf.paramCount);
  return out;
}

function meanNll(maf: MAF, theta: Float64Array, x: Float64Array): number {
  const lp = maf.logProb(theta, x);
  return -lp.reduce((a, b) => a + b, 0) / lp.length;
}

function expectClose(analytic: number, fd: number, what: string): void {
  expect(Math.abs(analytic - fd), `${what}: analytic ${analytic} vs fd ${fd}`).toBeLessThanOrEqual(
    1e-6 * Math.max(Math.abs(analytic), Math.abs(fd), 1e-2),
  );
}

describe.each(CASES)('MAF ($name)', ({ config }) => {
  const n = 6;
  const theta = normals(n * config.dim, 11);
  const xRows = normals(n * config.contextDim, 12);

  it('mean NLL gradient matches central differences for samples of every tensor, θ and x', () => {
    const maf = randomFlow(config, 3);
    const h = 1e-6;
    const central = (f: () => number, set: (v: number) => void, v0: number) => {
      set(v0 + h);
      const up = f();
      set(v0 - h);
      const down = f();
      set(v0);
      return (up - down) / (2 * h);
    };
    for (const x of [xRows, xRows.slice(0, config.contextDim)]) {
      const { loss, gParams, gTheta, gX } = maf.lossAndGrad(theta, x);
      expect(loss).toBeCloseTo(meanNll(maf, theta, x), 12);
      const rng = new PhiloxStream(5, 0);
      for (const [off, len] of tensors(maf)) {
        const trainable = Array.from({ length: len }, (_, i) => off + i).filter((j) => maf.mask[j]);
        expect(trainable.length).toBeGreaterThan(0);
        for (let s = 0; s < 4; s++) {
          const j = trainable[Math.floor(rng.uniform() * trainable.length)]!;
          const fd = central(() => meanNll(maf, theta, x), (v) => (maf.params[j] = v), maf.params[j]!);
          expectClose(gParams[j]!, fd, `params[${j}]`);
        }
      }
      for (let i = 0; i < theta.length; i++) {
        const fd = central(() => meanNll(maf, theta, x), (v) => (theta[i] = v), theta[i]!);
        expectClose(gTheta[i]!, fd, `theta[${i}]`);
      }
      for (let i = 0; i < x.length; i++) {
        const fd = central(() => meanNll(maf, theta, x), (v) => (x[i] = v), x[i]!);
        expectClose(gX![i]!, fd, `x[${i}]`);
      }
    }
  });

  it('keeps masked weights exactly zero: zero at init, zero gradient, rejected when nonzero', () => {
    const maf = new MAF(config, { seed: 4 });
    const masked = Array.from(maf.mask.keys()).filter((j) => !maf.mask[j]);
    expect(masked.length).toBeGreaterThan(0);
    for (const j of masked) expect(maf.params[j]).toBe(0);
    const { gParams } = randomFlow(config, 4).lossAndGrad(theta, xRows);
    for (const j of masked) expect(gParams[j]).toBe(0);
    maf.params[masked[0]!] = 1e-3;
    expect(() => maf.logProb(theta, xRows)).toThrow(RangeError);
  });

  it('is autoregressive: MADE output d depends only on inputs < d and on x; one layer has a triangular Jacobian', () => {
    const maf = randomFlow(config, 6);
    const D = config.dim, P = maf.paramsPerDim;
    const input = normals(D, 21);
    const x = normals(config.contextDim, 22);
    for (let k = 0; k < maf.layers; k++) {
      const ref = maf.conditioner(k, input, x);
      for (let d = 0; d < D; d++) {
        const moved = input.slice();
        moved[d] += 0.3;
        const out = maf.conditioner(k, moved, x);
        for (let e = 0; e < D; e++) {
          const changed = Array.from({ length: P }, (_, p) => out[e * P + p] !== ref[e * P + p]).some(Boolean);
          expect(changed, `layer ${k}: output ${e} after moving input ${d}`).toBe(e > d);
        }
      }
      const movedX = x.slice();
      movedX[0] += 0.3;
      const outX = maf.conditioner(k, input, movedX);
      for (let e = 0; e < D; e++) {
        expect(Array.from({ length: P }, (_, p) => outX[e * P + p] !== ref[e * P + p]).some(Boolean), `output ${e} after moving x`).toBe(true);
      }
    }
    // A one-layer flow: u_e depends on θ_{≤e} only (lower-triangular Jacobian, no reversal yet).
    const one = randomFlow({ ...config, layers: 1 }, 7);
    const base = one.logProbAndBase(input, x).base;
    for (let d = 0; d < D; d++) {
      const moved = input.slice();
      moved[d] += 0.3;
      const b = one.logProbAndBase(moved, x).base;
      for (let e = 0; e < D; e++) expect(b[e] !== base[e], `u_${e} after moving θ_${d}`).toBe(e >= d);
    }
    // Two layers: the reversal makes u_{D-1} of the second layer depend on θ_{D-1}'s image first.
    const two = randomFlow({ ...config, layers: 2 }, 7);
    const base2 = two.logProbAndBase(input, x).base;
    const moved = input.slice();
    moved[D - 1] += 0.3;
    const b2 = two.logProbAndBase(moved, x).base;
    expect(b2[0]).not.toBe(base2[0]);
  });

  it('samples map back to their Philox base normals and carry the log-density of logProb', () => {
    const maf = randomFlow(config, 8, 0.3);
    const count = 2000;
    const x = normals(config.contextDim, 31);
    const { theta: s, logProb } = maf.sampleAndLogProb(count, x, { seed: 77 });
    const { logProb: lp, base } = maf.logProbAndBase(s, x);
    let maxLp = 0;
    let maxBase = 0;
    for (let i = 0; i < count; i++) {
      maxLp = Math.max(maxLp, Math.abs(lp[i]! - logProb[i]!));
      const rng = new PhiloxStream(77, i);
      for (let d = 0; d < config.dim; d++) maxBase = Math.max(maxBase, Math.abs(base[i * config.dim + d]! - rng.normal()));
    }
    expect(maxLp).toBeLessThan(1e-8);
    expect(maxBase).toBeLessThan(1e-8);
    // The base points are N(0, I): mean and variance of each coordinate within 5 standard errors.
    for (let d = 0; d < config.dim; d++) {
      let m = 0;
      let v = 0;
      for (let i = 0; i < count; i++) m += base[i * config.dim + d]! / count;
      for (let i = 0; i < count; i++) v += (base[i * config.dim + d]! - m) ** 2 / (count - 1);
      expect(Math.abs(m)).toBeLessThan(5 / Math.sqrt(count));
      expect(Math.abs(v - 1)).toBeLessThan(5 * Math.sqrt(2 / count));
    }
  });

  it('samples the same bits with 1 and 2 threads (and the gradient too)', () => {
    const maf = randomFlow(config, 9, 0.3);
    const x = normals(config.contextDim, 41);
    const big = normals(600 * config.dim, 42);
    native.setThreads(1);
    const a = maf.sample(300, x, { seed: 5 });
    const ga = maf.lossAndGrad(big, x).gParams;
    native.setThreads(2);
    const b = maf.sample(300, x, { seed: 5 });
    const gb = maf.lossAndGrad(big, x).gParams;
    expect(b).toEqual(a);
    expect(gb).toEqual(ga);
  });

  it('agrees in float and double', () => {
    const maf = randomFlow(config, 10, 0.3);
    const f32 = new MAF(config, { precision: 'float32' });
    f32.params = Float32Array.from(maf.params);
    const x = normals(config.contextDim, 51);
    const lp64 = maf.logProb(theta, x);
    const lp32 = f32.logProb(Float32Array.from(theta), Float32Array.from(x));
    for (let i = 0; i < n; i++) expect(Math.abs(lp32[i]! - lp64[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lp64[i]!)));
    const g64 = maf.lossAndGrad(theta, x).gParams;
    const g32 = f32.lossAndGrad(Float32Array.from(theta), Float32Array.from(x)).gParams;
    const scale = g64.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let j = 0; j < g64.length; j++) expect(Math.abs(g32[j]! - g64[j]!)).toBeLessThan(1e-4 * scale);
    const s64 = maf.sample(50, x, { seed: 3 });
    const s32 = f32.sample(50, Float32Array.from(x), { seed: 3 });
    for (let i = 0; i < s64.length; i++) expect(Math.abs(s32[i]! - s64[i]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(s64[i]!)));
  });

  it('integrates to 1 over a 2-D grid', () => {
    const maf = randomFlow({ ...config, dim: 2 }, 12, 0.3);
    const x = normals(config.contextDim, 61);
    const half = 12;
    const cells = 480;
    const h = (2 * half) / cells;
    const grid = new Float64Array(cells * cells * 2);
    for (let i = 0; i < cells; i++) {
      for (let j = 0; j < cells; j++) {
        grid[2 * (i * cells + j)] = -half + (i + 0.5) * h;
        grid[2 * (i * cells + j) + 1] = -half + (j + 0.5) * h;
      }
    }
    const lp = maf.logProb(grid, x);
    let mass = 0;
    for (let i = 0; i < lp.length; i++) mass += Math.exp(lp[i]!) * h * h;
    expect(Math.abs(mass - 1)).toBeLessThan(2e-3);
  });
});

describe('MAF initialisation', () => {
  afterAll(() => native.setThreads(native.runtimeInfo().hardwareThreads));

  it('starts near the identity (up to the layers\' reversals) for both transforms', () => {
    for (const { config } of CASES) {
      const maf = new MAF(config, { seed: 1 });
      const D = config.dim;
      const theta = normals(10 * D, 71);
      const { base } = maf.logProbAndBase(theta, normals(10 * config.contextDim, 72));
      // layers − 1 reversals: an odd count leaves the coordinates reversed.
      const reversed = (maf.layers - 1) % 2 === 1;
      for (let i = 0; i < theta.length; i++) {
        const r = Math.floor(i / D), d = i % D;
        const source = theta[r * D + (reversed ? D - 1 - d : d)]!;
        expect(Math.abs(base[i]! - source)).toBeLessThan(0.01 * (1 + Math.abs(source)));
      }
    }
  });

  it('throws RangeError for an unknown activation or transform', () => {
    expect(() => new MAF({ dim: 2, contextDim: 1, activation: 'gelu' as never })).toThrow(RangeError);
    expect(() => new MAF({ dim: 2, contextDim: 1, transform: { kind: 'planar' } as never })).toThrow(RangeError);
  });
});
