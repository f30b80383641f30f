// Contract of the conditional MAF (kernels/nn/made.h, kernels/flows/maf.h, src/flows/maf.ts),
// run over every elementwise transform in CASES, autoregressive (passes = dim) and coupling
// (passes = 2).
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
  { name: 'affine coupling', config: { dim: 5, contextDim: 2, hidden: 7, hiddenLayers: 2, layers: 3, passes: 2, transform: { kind: 'affine' } } },
  {
    name: 'rqSpline coupling',
    config: { dim: 5, contextDim: 2, hidden: 8, hiddenLayers: 2, layers: 2, passes: 2, activation: 'elu', transform: { kind: 'rqSpline', bins: 4 } },
  },
];

/** The degree group (0-based) of variable d: ⌊d · passes / dim⌋ (kernels/nn/made.h). */
function group(maf: MAF, d: number): number {
  return Math.floor((d * maf.passes) / maf.dim);
}

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

/** log|det A| by Gaussian elimination with partial pivoting (A is overwritten). */
function logAbsDet(a: Float64Array[]): number {
  const n = a.length;
  let sum = 0;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    sum += Math.log(Math.abs(a[c]![c]!));
    for (let r = c + 1; r < n; r++) {
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k < n; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  return sum;
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

  it('is autoregressive over degree groups: MADE output e depends only on inputs of lower groups and on x; one layer has a triangular Jacobian', () => {
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
          expect(changed, `layer ${k}: output ${e} after moving input ${d}`).toBe(group(maf, e) > group(maf, d));
        }
      }
      const movedX = x.slice();
      movedX[0] += 0.3;
      const outX = maf.conditioner(k, input, movedX);
      for (let e = 0; e < D; e++) {
        expect(Array.from({ length: P }, (_, p) => outX[e * P + p] !== ref[e * P + p]).some(Boolean), `output ${e} after moving x`).toBe(true);
      }
    }
    // A one-layer flow: u_e depends on θ_e and θ of lower groups only (lower-triangular Jacobian, no reversal yet).
    const one = randomFlow({ ...config, layers: 1 }, 7);
    const base = one.logProbAndBase(input, x).base;
    for (let d = 0; d < D; d++) {
      const moved = input.slice();
      moved[d] += 0.3;
      const b = one.logProbAndBase(moved, x).base;
      for (let e = 0; e < D; e++) expect(b[e] !== base[e], `u_${e} after moving θ_${d}`).toBe(e === d || group(one, e) > group(one, d));
    }
    // Two layers: the reversal makes u_{D-1} of the second layer depend on θ_{D-1}'s image first.
    const two = randomFlow({ ...config, layers: 2 }, 7);
    const base2 = two.logProbAndBase(input, x).base;
    const moved = input.slice();
    moved[D - 1] += 0.3;
    const b2 = two.logProbAndBase(moved, x).base;
    expect(b2[0]).not.toBe(base2[0]);
  });

  it('log q(θ | x) = log N(u) + log|det ∂u/∂θ| with the Jacobian from central differences', () => {
    const maf = randomFlow(config, 13, 0.3);
    const D = config.dim, h = 1e-5;
    const x = normals(config.contextDim, 81);
    for (let r = 0; r < 3; r++) {
      const t = theta.slice(r * D, (r + 1) * D);
      const { logProb, base } = maf.logProbAndBase(t, x);
      const jac = Array.from({ length: D }, () => new Float64Array(D));  // jac[e][d] = ∂u_e/∂θ_d
      for (let d = 0; d < D; d++) {
        const up = t.slice(), down = t.slice();
        up[d] += h;
        down[d] -= h;
        const bu = maf.logProbAndBase(up, x).base, bd = maf.logProbAndBase(down, x).base;
        for (let e = 0; e < D; e++) jac[e]![d] = (bu[e]! - bd[e]!) / (2 * h);
      }
      let logNormal = -0.5 * D * Math.log(2 * Math.PI);
      for (let e = 0; e < D; e++) logNormal -= 0.5 * base[e]! ** 2;
      expect(Math.abs(logProb[0]! - (logNormal + logAbsDet(jac)))).toBeLessThan(1e-6);
    }
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

describe('MAF passes (degree groups)', () => {
  it('passes = dim reproduces the autoregressive masks, parameters and log-densities bit for bit', () => {
    for (const { config } of CASES.filter((c) => c.config.passes === undefined)) {
      const a = new MAF(config, { seed: 2 });
      const b = new MAF({ ...config, passes: config.dim }, { seed: 2 });
      expect(b.passes).toBe(a.passes);
      expect(b.mask).toEqual(a.mask);
      expect(b.params).toEqual(a.params);
      const t = normals(4 * config.dim, 91), x = normals(config.contextDim, 92);
      // arch without its 7th value (passes) means passes = dim.
      const lp6 = new Float64Array(4);
      native.mafLogProb(a.arch.subarray(0, 6), a.transform.kind, a.hyper, a.params, t, x, lp6);
      expect(b.logProb(t, x)).toEqual(lp6);
    }
  });

  it('passes = 2 is a coupling layer: the first ⌈dim/2⌉ outputs see x only, the rest the first half and x (also without context)', () => {
    for (const [dim, contextDim, passes] of [[5, 2, 2], [4, 0, 2], [7, 0, 3], [6, 1, 3]] as const) {
      const maf = randomFlow({ dim, contextDim, hidden: 9, hiddenLayers: 2, layers: 1, passes }, 17);
      const P = maf.paramsPerDim;
      const input = normals(dim, 23), x = normals(contextDim, 24);
      const ref = maf.conditioner(0, input, contextDim ? x : null);
      for (let d = 0; d < dim; d++) {
        const moved = input.slice();
        moved[d] += 0.3;
        const out = maf.conditioner(0, moved, contextDim ? x : null);
        for (let e = 0; e < dim; e++) {
          const changed = Array.from({ length: P }, (_, p) => out[e * P + p] !== ref[e * P + p]).some(Boolean);
          expect(changed, `dim ${dim} passes ${passes}: output ${e} after moving input ${d}`).toBe(group(maf, e) > group(maf, d));
        }
      }
      if (passes === 2) for (let d = 0; d < dim; d++) expect(group(maf, d)).toBe(d < Math.ceil(dim / 2) ? 0 : 1);
    }
  });

  it('throws RangeError if passes is not an integer in [1, dim]', () => {
    expect(() => new MAF({ dim: 3, contextDim: 1, passes: 4 })).toThrow(/`passes`/);
    expect(() => new MAF({ dim: 3, contextDim: 1, passes: 0 })).toThrow(RangeError);
    expect(() => new MAF({ dim: 3, contextDim: 1, passes: 1.5 })).toThrow(RangeError);
    const maf = new MAF({ dim: 3, contextDim: 1, hidden: 4 });
    for (const bad of [0, 4, -1]) {
      expect(() => native.mafParamCount(Int32Array.of(3, 1, 4, 2, 5, 2, bad), 'affine', Float64Array.of(5)))
        .toThrow(/arch\[6\]` \(passes\) in \[1, 3\] but received/);
    }
    expect(() => native.mafLogProb(Int32Array.of(3, 1, 4, 2, 5, 2, 2, 1), 'affine', maf.hyper, maf.params, normals(3, 1), normals(1, 2),
      new Float64Array(1))).toThrow(/6 or 7 values/);
  });
});
