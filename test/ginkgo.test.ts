// The Ginkgo simulator: its gold against the split potential ψ, thread independence, and its
// distribution against the independent TypeScript oracle (test/oracles/ginkgo.ts).
import { describe, expect, it } from 'vitest';
import { simulateGinkgo, simulateGinkgoAsync, GINKGO_PRESETS, type GinkgoModel } from '../src/trellis/ginkgo.js';
import { hierarchyLogLikelihood, splitEnergies } from '../src/trellis/trellis.js';
import { treeToSplits } from '../src/trellis/hierarchy.js';
import { oracleGinkgoJet, oraclePsiMomenta } from './oracles/ginkgo.js';
import { Rng } from './oracles/rng.js';
import { chiSquareCritical, chiSquareTwoSample, ksCritical, ksTwoSampleStatistic } from './helpers/statistics.js';
import type { NestedTree } from '../src/trellis/hierarchy.js';

const W = GINKGO_PRESETS.w.model;

function subtreeLeaves(t: NestedTree): number[] {
  return typeof t === 'number' ? [t] : [...subtreeLeaves(t[0]), ...subtreeLeaves(t[1])];
}

describe('Ginkgo simulator', () => {
  const batch = simulateGinkgo({ n: 200, seed: 7, reference: { ...W, lambda: 2.0 } });

  it('conserves 4-momentum: the leaves sum to the root (|p| = 400 along (1,1,1)/√3, M = 80)', () => {
    for (const jet of batch.jets.slice(0, 50)) {
      const sum = [0, 1, 2, 3].map((k) => jet.leaves.reduce((s, l) => s + l[k]!, 0));
      const c = 400 / Math.sqrt(3);
      expect(sum[0]).toBeCloseTo(Math.sqrt(400 ** 2 + 80 ** 2), 8);
      for (let k = 1; k < 4; k++) expect(sum[k]).toBeCloseTo(c, 8);
      for (const l of jet.leaves) expect(l[0]! ** 2 - l[1]! ** 2 - l[2]! ** 2 - l[3]! ** 2).toBeLessThanOrEqual(16 + 1e-6);
    }
  });

  it('reports a joint log-likelihood equal to the sum of ψ over the generating tree', () => {
    for (const jet of batch.jets) {
      const psi = hierarchyLogLikelihood(jet.leaves, W, jet.tree);
      expect(Math.abs(psi - jet.gold.jointLogLikelihood)).toBeLessThan(1e-8 * (1 + Math.abs(psi)));
    }
  });

  it('matches the oracle ψ split by split', () => {
    for (const jet of batch.jets.slice(0, 40)) {
      const energies = splitEnergies(jet.leaves, W, jet.tree);
      const splits = treeToSplits(jet.tree);
      const sum = (mask: number) => [0, 1, 2, 3].map((k) => jet.leaves.reduce((s, l, i) => s + (mask & (1 << i) ? l[k]! : 0), 0));
      for (let s = 0; s < energies.length; s++) {
        const parent = splits[2 * s]!, a = splits[2 * s + 1]!;
        const isRoot = parent === 2 ** jet.leaves.length - 1;
        const expected = oraclePsiMomenta(sum(a), sum(parent ^ a), isRoot ? W.lambdaRoot : W.lambda, W.tCut);
        expect(Math.abs(energies[s]! - expected)).toBeLessThan(1e-7 * (1 + Math.abs(expected)));
      }
    }
  });

  it('reports the joint score (∂/∂λ, ∂/∂λ_root) as the derivative of Σ ψ (central differences)', () => {
    const h = 1e-5;
    for (const jet of batch.jets.slice(0, 30)) {
      const at = (m: GinkgoModel) => hierarchyLogLikelihood(jet.leaves, m, jet.tree);
      const dl = (at({ ...W, lambda: W.lambda + h }) - at({ ...W, lambda: W.lambda - h })) / (2 * h);
      const dr = (at({ ...W, lambdaRoot: W.lambdaRoot + h }) - at({ ...W, lambdaRoot: W.lambdaRoot - h })) / (2 * h);
      expect(jet.gold.jointScore.lambda).toBeCloseTo(dl, 4);
      expect(jet.gold.jointScore.lambdaRoot).toBeCloseTo(dr, 4);
    }
  });

  it('reports the joint log-ratio against the reference model', () => {
    for (const jet of batch.jets.slice(0, 30)) {
      const ratio = hierarchyLogLikelihood(jet.leaves, W, jet.tree) - hierarchyLogLikelihood(jet.leaves, { ...W, lambda: 2.0 }, jet.tree);
      expect(jet.gold.jointLogRatio!).toBeCloseTo(ratio, 7);
    }
  });

  it('gives the same jets for any thread count and from the async call', async () => {
    const a = simulateGinkgo({ n: 64, seed: 3, threads: 1 });
    const b = simulateGinkgo({ n: 64, seed: 3, threads: 2 });
    const c = await simulateGinkgoAsync({ n: 64, seed: 3 });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
  });

  it('draws jets within a wanted range of leaf counts', () => {
    const r = simulateGinkgo({ n: 50, seed: 11, minLeaves: 6, maxLeaves: 8 });
    expect(r.failed).toBe(0);
    for (const jet of r.jets) {
      expect(jet.leaves.length).toBeGreaterThanOrEqual(6);
      expect(jet.leaves.length).toBeLessThanOrEqual(8);
      expect(subtreeLeaves(jet.tree).sort((x, y) => x - y)).toEqual(jet.leaves.map((_, i) => i));
    }
  });

  it('reports jets that never reach the leaf range as failed', () => {
    const r = simulateGinkgo({ n: 3, seed: 1, minLeaves: 200, maxLeaves: 256, maxTries: 5 });
    expect(r.failed).toBe(3);
    expect(r.jets).toHaveLength(0);
  });

  it('rejects a bad model, naming the argument', () => {
    expect(() => simulateGinkgo({ n: 1, seed: 1, model: { ...W, lambda: -1 } })).toThrow(/model\.lambda/);
    expect(() => simulateGinkgo({ n: 0, seed: 1 })).toThrow(/`n`/);
  });

  for (const [name, preset] of Object.entries(GINKGO_PRESETS)) {
    it(`agrees in distribution with the independent TypeScript Ginkgo (${name} jets)`, () => {
      const n = 3000;
      const native = simulateGinkgo({ n, seed: 2024, model: preset.model, root: preset.root }).jets;
      const rng = new Rng(99);
      const oracle = Array.from({ length: n }, () => oracleGinkgoJet(rng, preset.model, preset.root.mass, preset.root.momentum));
      // leaf counts: χ² test of homogeneity
      const counts = (jets: { leaves: number[][] }[]) => Int32Array.from(jets, (j) => Math.min(j.leaves.length, 60));
      const chi = chiSquareTwoSample(counts(native), counts(oracle), 61);
      expect(chi.stat, `χ² ${chi.stat} on ${chi.df} df`).toBeLessThan(chiSquareCritical(chi.df));
      // per-jet summaries (independent across jets): the hardest leaf's energy, the mean leaf mass
      const critical = ksCritical((n * n) / (2 * n));
      const hardest = (jets: { leaves: number[][] }[]) => jets.map((j) => Math.max(...j.leaves.map((l) => l[0]!)));
      const meanMass = (jets: { leaves: number[][] }[]) =>
        jets.map((j) => j.leaves.reduce((s, l) => s + Math.sqrt(Math.max(0, l[0]! ** 2 - l[1]! ** 2 - l[2]! ** 2 - l[3]! ** 2)), 0) / j.leaves.length);
      expect(ksTwoSampleStatistic(hardest(native), hardest(oracle))).toBeLessThan(critical);
      expect(ksTwoSampleStatistic(meanMass(native), meanMass(oracle))).toBeLessThan(critical);
      // and the joint log-likelihood of the generating tree
      expect(ksTwoSampleStatistic(native.map((j) => j.gold.jointLogLikelihood), oracle.map((j) => j.logLikelihood))).toBeLessThan(critical);
    });
  }
});
