// The trellis against brute-force enumeration (test/oracles/trellis_bruteforce.ts): log Z, the
// count, the MAP, cluster marginals and exact samples; baselines; limits, errors and cancellation.
import { afterEach, describe, expect, it } from 'vitest';
import { runtimeInfo, setIsa, type IsaPath } from '../src/runtime.js';
import { SbiError } from '../src/errors.js';
import { simulateGinkgo, GINKGO_PRESETS } from '../src/trellis/ginkgo.js';
import {
  runTrellis, runTrellisAsync, beamSearch, greedyClustering, hierarchyLogLikelihood, clusterMarginals,
  type TrellisModel, type GaussianLinkageModel,
} from '../src/trellis/trellis.js';
import { treeKey, type NestedTree } from '../src/trellis/hierarchy.js';
import { trellisNative } from '../src/trellis/native.js';
import { bruteForce, type SplitPotential } from './oracles/trellis_bruteforce.js';
import { oraclePsiMomenta } from './oracles/ginkgo.js';
import { Rng } from './oracles/rng.js';
import { chiSquareCritical } from './helpers/statistics.js';

const W = GINKGO_PRESETS.w.model;

function ginkgoJet(n: number, seed: number): number[][] {
  return simulateGinkgo({ n: 1, seed, minLeaves: n, maxLeaves: n }).jets[0]!.leaves;
}

function gaussianPoints(n: number, seed: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => [rng.normal(), rng.normal(), 0, 0]);
}

/** The oracle ψ of a model on leaf index lists. */
function oraclePotential(leaves: number[][], model: TrellisModel): SplitPotential {
  const sum = (idx: number[]) => [0, 1, 2, 3].map((k) => idx.reduce((s, i) => s + leaves[i]![k]!, 0));
  if (model.kind === 'ginkgo')
    return (a, b, root) => oraclePsiMomenta(sum(a), sum(b), root ? model.lambdaRoot : model.lambda, model.tCut);
  return (a, b) => {
    const ma = sum(a).map((v) => v / a.length), mb = sum(b).map((v) => v / b.length);
    const d2 = ma.reduce((s, v, k) => s + (v - mb[k]!) ** 2, 0);
    return -d2 / (2 * model.sigma ** 2);
  };
}

const doubleFactorial = (k: number): number => (k <= 1 ? 1 : k * doubleFactorial(k - 2));
const mask = (cluster: number[]) => cluster.reduce((m, i) => m | (1 << i), 0);

const CASES: { name: string; leaves: number[][]; model: TrellisModel }[] = [
  ...[3, 4, 5, 6, 7].map((n) => ({ name: `ginkgo W jet, N = ${n}`, leaves: ginkgoJet(n, 100 + n), model: W as TrellisModel })),
  { name: 'ginkgo QCD jet, N = 8', leaves: simulateGinkgo({ n: 1, seed: 8, minLeaves: 8, maxLeaves: 8, ...GINKGO_PRESETS.qcd }).jets[0]!.leaves, model: GINKGO_PRESETS.qcd.model },
  ...[1, 2, 5, 8].map((n) => ({ name: `gaussian linkage, N = ${n}`, leaves: gaussianPoints(n, n), model: { kind: 'gaussian', sigma: 0.7 } as TrellisModel })),
];

describe('trellis against brute-force enumeration', () => {
  for (const c of CASES) {
    it(`agrees on log Z, count, MAP and marginals (${c.name})`, () => {
      const n = c.leaves.length;
      const exact = bruteForce(n, oraclePotential(c.leaves, c.model));
      const r = runTrellis(c.leaves, c.model, { marginals: true });
      expect(r.nTrees).toBe(String(exact.count));
      if (c.model.kind === 'gaussian') expect(r.nTrees).toBe(String(doubleFactorial(2 * n - 3)));
      expect(Math.abs(r.logZ - exact.logZ)).toBeLessThan(1e-9 * (1 + Math.abs(exact.logZ)));
      expect(Math.abs(r.mapLogLH - exact.mapEnergy)).toBeLessThan(1e-9 * (1 + Math.abs(exact.mapEnergy)));
      expect(treeKey(r.mapTree!)).toBe(exact.mapKey);
      expect(hierarchyLogLikelihood(c.leaves, c.model, r.mapTree!)).toBeCloseTo(r.mapLogLH, 9);
      for (let s = 1; s < 2 ** n; s++) {
        const cluster = Array.from({ length: n }, (_, i) => i).filter((i) => s & (1 << i));
        expect(r.marginals![s]!).toBeCloseTo(exact.marginals.get(cluster.join(',')) ?? 0, 10);
      }
    });
  }
});

/**
 * The trellis recursions in plain TypeScript (one split at a time, the outside pass as a gather
 * over supersets): an independent check of the native kernel's blocked split enumeration and its
 * scatter of marginals at sizes beyond brute force.
 */
function plainTrellis(n: number, psi: SplitPotential) {
  const sets = 2 ** n, full = sets - 1;
  const members = (m: number) => Array.from({ length: n }, (_, i) => i).filter((i) => m & (1 << i));
  const logZ = new Float64Array(sets).fill(-Infinity), map = new Float64Array(sets).fill(-Infinity);
  const count: bigint[] = new Array(sets).fill(0n);
  const lse = (xs: number[]) => {
    const m = Math.max(...xs);
    return m === -Infinity ? -Infinity : m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
  };
  const psiOf = new Map<number, number>();  // key: parent · 2^n + part holding the lowest leaf
  const order = Array.from({ length: sets - 1 }, (_, i) => i + 1).sort((a, b) => members(a).length - members(b).length || a - b);
  for (const s of order) {
    if ((s & (s - 1)) === 0) { logZ[s] = 0; map[s] = 0; count[s] = 1n; continue; }
    const low = s & -s, rest = s ^ low, terms: number[] = [];
    for (let sub = (rest - 1) & rest; ; sub = (sub - 1) & rest) {
      const a = low | sub, b = s ^ a, v = psi(members(a), members(b), s === full);
      psiOf.set(s * sets + a, v);
      if (v > -Infinity && logZ[a]! > -Infinity && logZ[b]! > -Infinity) {
        terms.push(v + logZ[a]! + logZ[b]!);
        map[s] = Math.max(map[s]!, v + map[a]! + map[b]!);
        count[s] = count[s]! + count[a]! * count[b]!;
      }
      if (sub === 0) break;
    }
    logZ[s] = lse(terms);
  }
  const out = new Float64Array(sets).fill(-Infinity);
  out[full] = 0;
  for (const a of [...order].reverse()) {
    if (a === full || logZ[a] === -Infinity) continue;
    const rest = full ^ a, terms: number[] = [];
    for (let b = rest; b !== 0; b = (b - 1) & rest) {
      const p = a | b, left = (a & -a) < (b & -b) ? a : b;
      terms.push(out[p]! + psiOf.get(p * sets + left)! + logZ[b]!);
    }
    out[a] = lse(terms);
  }
  const marginals = Float64Array.from(logZ, (z, s) => (s === 0 || z === -Infinity ? 0 : Math.exp(z + out[s]! - logZ[full]!)));
  return { logZ: logZ[full]!, map: map[full]!, count: count[full]!, marginals };
}

describe('trellis against the plain recursions (sets of several split blocks)', () => {
  const cases: [string, number[][], TrellisModel][] = [
    ['ginkgo W jet, N = 10', ginkgoJet(10, 210), W],
    ['gaussian linkage, N = 10', gaussianPoints(10, 11), { kind: 'gaussian', sigma: 0.7 }],
  ];
  for (const [name, leaves, model] of cases)
    it(`agrees on log Z, count, MAP and every marginal (${name})`, () => {
      const n = leaves.length;
      const plain = plainTrellis(n, oraclePotential(leaves, model));
      const r = runTrellis(leaves, model, { marginals: true });
      expect(r.nTrees).toBe(String(plain.count));
      expect(Math.abs(r.logZ - plain.logZ)).toBeLessThan(1e-9 * (1 + Math.abs(plain.logZ)));
      expect(Math.abs(r.mapLogLH - plain.map)).toBeLessThan(1e-9 * (1 + Math.abs(plain.map)));
      let worst = 0;
      for (let s = 1; s < 2 ** n; s++) worst = Math.max(worst, Math.abs(r.marginals![s]! - plain.marginals[s]!));
      expect(worst).toBeLessThan(1e-10);
    });

  it('gives bit-identical marginals for 1, 2 and 3 threads (fixed scatter buffers)', () => {
    const leaves = ginkgoJet(12, 5);
    const [a, b, c] = [1, 2, 3].map((threads) => runTrellis(leaves, W, { marginals: true, threads }));
    expect({ ...b, seconds: 0 }).toEqual({ ...a, seconds: 0 });
    expect({ ...c, seconds: 0 }).toEqual({ ...a, seconds: 0 });
  });
});

describe('trellis marginals and samples', () => {
  it('gives marginals that sum to the 2N − 1 clusters of every hierarchy, leaves and root with probability 1', () => {
    for (const [leaves, model] of [[ginkgoJet(11, 5), W], [gaussianPoints(12, 3), { kind: 'gaussian', sigma: 1 }]] as const) {
      const n = leaves.length;
      const r = runTrellis(leaves, model, { marginals: true });
      const m = r.marginals!;
      expect(m.reduce((s, v) => s + v, 0)).toBeCloseTo(2 * n - 1, 9);
      expect(m[2 ** n - 1]).toBeCloseTo(1, 12);
      for (let i = 0; i < n; i++) expect(m[1 << i]).toBeCloseTo(1, 12);
      // every leaf i: the clusters holding i along any hierarchy are nested, so for a leaf pair the
      // probability that some cluster holds both is 1 (the root); the smallest such cluster is unique
      // per hierarchy: Σ_C∋i,j P(C) − Σ_{C∋i,j, C smaller} ... checked as: P(i, j siblings) ≤ P({i, j}) ≤ 1
      for (let s = 1; s < 2 ** n; s++) expect(m[s]!).toBeLessThanOrEqual(1 + 1e-12);
      for (const { p } of clusterMarginals(r, 0)) expect(p).toBeGreaterThanOrEqual(0);
    }
  });

  it('draws exact samples: hierarchy frequencies pass a χ² test against the exact probabilities', () => {
    for (const [leaves, model] of [[gaussianPoints(5, 21), { kind: 'gaussian', sigma: 1.2 }], [ginkgoJet(5, 33), W]] as const) {
      const K = 20000;
      const exact = bruteForce(5, oraclePotential(leaves as number[][], model as TrellisModel));
      const r = runTrellis(leaves, model as TrellisModel, { samples: K, seed: 4 });
      const counts = new Map<string, number>();
      for (const t of r.samples!) counts.set(treeKey(t), (counts.get(treeKey(t)) ?? 0) + 1);
      // cells: trees with expected count >= 5, the rest pooled
      let stat = 0, cells = 0, poolO = 0, poolE = 0;
      for (const [key, p] of exact.probabilities) {
        const e = K * p, o = counts.get(key) ?? 0;
        if (p === 0) expect(o).toBe(0);
        if (e >= 5) {
          stat += (o - e) ** 2 / e;
          cells++;
        } else {
          poolO += o;
          poolE += e;
        }
      }
      if (poolE >= 5) {
        stat += (poolO - poolE) ** 2 / poolE;
        cells++;
      }
      expect(cells).toBeGreaterThan(5);
      expect(stat, `χ² = ${stat} on ${cells - 1} df`).toBeLessThan(chiSquareCritical(cells - 1));
    }
  });

  it('gives the same samples and results for 1 and 2 threads', () => {
    const leaves = ginkgoJet(9, 77);
    const a = runTrellis(leaves, W, { marginals: true, samples: 50, seed: 9, threads: 1 });
    const b = runTrellis(leaves, W, { marginals: true, samples: 50, seed: 9, threads: 2 });
    expect({ ...b, seconds: 0 }).toEqual({ ...a, seconds: 0 });
  });

  describe('instruction sets', () => {
    afterEach(() => setIsa('auto'));
    it('gives bit-identical log Z, count, MAP and marginals on the scalar and every available SIMD path', () => {
      const order: IsaPath[] = ['scalar', 'avx2', 'avx512'];
      const isas = order.slice(0, order.indexOf(runtimeInfo().detectedIsa) + 1);
      const cases: [number[][], TrellisModel][] = [
        [ginkgoJet(10, 31), W],
        [gaussianPoints(9, 4), { kind: 'gaussian', sigma: 0.7 }],
      ];
      for (const [leaves, model] of cases) {
        setIsa('scalar');
        const reference = runTrellis(leaves, model, { marginals: true, threads: 1 });
        for (const isa of isas)
          for (const threads of [1, 2]) {
            setIsa(isa);
            const r = runTrellis(leaves, model, { marginals: true, threads });
            expect({ ...r, seconds: 0 }).toEqual({ ...reference, seconds: 0 });
          }
      }
    });
  });
});

describe('baselines', () => {
  it('greedy and beam never beat the MAP; a beam wider than the partitions of N leaves finds it', () => {
    for (let seed = 0; seed < 6; seed++) {
      const leaves = ginkgoJet(6, 300 + seed);
      const r = runTrellis(leaves, W);
      const g = greedyClustering(leaves, W);
      const b = beamSearch(leaves, W, 10);
      const wide = beamSearch(leaves, W, 203); // Bell(6) = 203 partitions
      expect(g.logLH).toBeLessThanOrEqual(r.mapLogLH + 1e-9);
      expect(b.logLH).toBeLessThanOrEqual(r.mapLogLH + 1e-9);
      expect(b.logLH).toBeGreaterThanOrEqual(g.logLH - 1e-9);
      expect(wide.logLH).toBeCloseTo(r.mapLogLH, 9);
      for (const x of [g, b, wide]) if (x.tree) expect(hierarchyLogLikelihood(leaves, W, x.tree)).toBeCloseTo(x.logLH, 9);
    }
  });
});

describe('trellis limits and errors', () => {
  it('refuses more leaves than the limit, naming it', () => {
    const leaves = gaussianPoints(23, 1);
    expect(() => runTrellis(leaves, { kind: 'gaussian', sigma: 1 })).toThrow(/at most 22 leaves/);
    expect(() => trellisNative.trellis(Float64Array.from(leaves.flat()), 'gaussian', Float64Array.of(1))).toThrow(/N <= 22/);
  });

  it('rejects a bad energy or bad leaves with the argument named', () => {
    const x = new Float64Array(8).fill(1);
    expect(() => trellisNative.trellis(x, 'nope' as never, Float64Array.of(1))).toThrow(SbiError);
    expect(() => trellisNative.trellis(x, 'gaussian', Float64Array.of(-1))).toThrow(/sigma/);
    expect(() => trellisNative.trellis(Float64Array.of(1, 2, 3), 'gaussian', Float64Array.of(1))).toThrow(/leaves/);
    expect(() => trellisNative.trellis(Float64Array.of(1, 2, 3, NaN), 'gaussian', Float64Array.of(1))).toThrow(/finite/);
  });

  it('reports −∞ and no MAP when no hierarchy is allowed', () => {
    const leaves = [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]]; // parent mass² 9 < t_cut
    const r = runTrellis(leaves, W, { marginals: true, samples: 3 });
    expect(r.logZ).toBe(-Infinity);
    expect(r.nTrees).toBe('0');
    expect(r.mapTree).toBeNull();
    expect(greedyClustering(leaves, W).tree).toBeNull();
  });

  it('runs asynchronously with progress, and aborts when the signal fires', async () => {
    const leaves = gaussianPoints(10, 2);
    const steps: number[] = [];
    const r = await runTrellisAsync(leaves, { kind: 'gaussian', sigma: 1 }, { marginals: true, onProgress: (d) => steps.push(d) });
    expect(r.logZ).toBeCloseTo(runTrellis(leaves, { kind: 'gaussian', sigma: 1 }).logZ, 12);
    expect(steps.at(-1)).toBe(20);
    const controller = new AbortController();
    const big = runTrellisAsync(gaussianPoints(18, 2), { kind: 'gaussian', sigma: 1 }, { marginals: true, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await expect(big).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

export type { NestedTree, GaussianLinkageModel };
