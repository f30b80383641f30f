// `sbi-engine ginkgo` and `sbi-engine trellis` on the built CLI (dist/cli.js), their JSON format,
// and the exact λ-grid posterior.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulateGinkgo, GINKGO_PRESETS } from '../src/trellis/ginkgo.js';
import { runTrellis } from '../src/trellis/trellis.js';
import { lambdaGridPosterior } from '../src/trellis/lambda.js';
import { parseJetsFile } from '../src/trellis/json.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 26 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

describe('sbi-engine ginkgo / trellis', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-trellis-'));
  const jetsFile = path.join(dir, 'jets.json');

  it('ginkgo writes jets with leaves, generating tree and gold in the shared JSON format', () => {
    const r = run(['ginkgo', '--n', '4', '--seed', '5', '--min-leaves', '4', '--max-leaves', '7', '--out', jetsFile]);
    expect(r.code, r.stderr).toBe(0);
    const data = JSON.parse(fs.readFileSync(jetsFile, 'utf8'));
    expect(data.model).toEqual({ kind: 'ginkgo', lambda: 1.5, lambdaRoot: 3, tCut: 16 });
    expect(data.jets).toHaveLength(4);
    for (const jet of data.jets) {
      expect(jet.leaves.length).toBeGreaterThanOrEqual(4);
      expect(jet.tree).toBeDefined();
      expect(Number.isFinite(jet.gold.jointLogLikelihood)).toBe(true);
    }
    expect(parseJetsFile(data)).toHaveLength(4);
  });

  it('trellis writes logZ, nTrees, MAP, baselines, marginals and samples per jet, matching the API', () => {
    const r = run(['trellis', '--in', jetsFile, '--out', '-', '--marginals', '--samples', '3', '--lambda-grid', '1,1.5,2']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const jets = parseJetsFile(JSON.parse(fs.readFileSync(jetsFile, 'utf8')));
    out.jets.forEach((j: Record<string, unknown>, i: number) => {
      const api = runTrellis(jets[i]!.leaves, jets[i]!.model);
      expect(j.nLeaves).toBe(jets[i]!.leaves.length);
      expect(j.logZ).toBeCloseTo(api.logZ, 12);
      expect(j.nTrees).toBe(api.nTrees);
      expect(j.mapTree).toEqual(api.mapTree);
      expect(j.greedyLogLH as number).toBeLessThanOrEqual((j.mapLogLH as number) + 1e-9);
      expect(j.beamLogLH as number).toBeLessThanOrEqual((j.mapLogLH as number) + 1e-9);
      expect(Array.isArray(j.marginals)).toBe(true);
      expect(j.samples).toHaveLength(3);
      expect(typeof j.seconds).toBe('number');
    });
    expect(out.lambdaGrid.posterior.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('trellis --backend webgpu gives log Z, MAP and marginals within f32 accuracy of the cpu, no count; refuses --samples', () => {
    const r = run(['trellis', '--in', jetsFile, '--out', '-', '--marginals', '--backend', 'webgpu']);
    if (r.code !== 0 && /No WebGPU adapter|webgpu.*did not load/.test(r.stderr) && !process.env.CI) return; // no adapter here (CI has one)
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const jets = parseJetsFile(JSON.parse(fs.readFileSync(jetsFile, 'utf8')));
    out.jets.forEach((j: Record<string, unknown>, i: number) => {
      const api = runTrellis(jets[i]!.leaves, jets[i]!.model);
      expect(Math.abs((j.logZ as number) - api.logZ)).toBeLessThan(1e-4);
      expect(j.nTrees).toBeNull();
      expect(j.backend).toBe('webgpu');
      expect(Array.isArray(j.marginals)).toBe(true);
    });
    const samples = run(['trellis', '--in', jetsFile, '--out', '-', '--samples', '2', '--backend', 'webgpu']);
    expect(samples.code).toBe(1);
    expect(samples.stderr).toMatch(/--samples.*cpu backend only/);
    const bad = run(['trellis', '--in', jetsFile, '--out', '-', '--backend', 'tpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--backend must be cpu or webgpu/);
  });

  it('exits with 2 on a usage error and 1 on a bad file, naming the problem', () => {
    const bad = run(['trellis', '--in', jetsFile, '--out', '-', '--beam-width', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--beam-width/);
    fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify({ model: { kind: 'ginkgo', lambda: 1.5, lambdaRoot: 3, tCut: 16 }, jets: [{ leaves: [[1, 2]] }] }));
    const invalid = run(['trellis', '--in', path.join(dir, 'bad.json'), '--out', '-']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/INVALID_JETS_FILE.*leaves\[0\]/);
  });
});

describe('exact λ posterior', () => {
  it('is prior × Π_jets Z_jet(λ) normalised over the grid, with each jet\'s exact log Z', () => {
    const model = GINKGO_PRESETS.w.model;
    const jets = simulateGinkgo({ n: 12, seed: 12, minLeaves: 4, maxLeaves: 7 }).jets.map((j) => j.leaves);
    const grid = [0.75, 1, 1.5, 2, 3];
    const logPrior = (l: number) => -l; // Exp(1)
    const g = lambdaGridPosterior(jets, model, grid, { logPrior });
    expect(g.jetLogLikelihood[3]![2]).toBeCloseTo(runTrellis(jets[3]!, { ...model, lambda: 1.5 }).logZ, 12);
    const logPost = grid.map((l, i) => logPrior(l) + jets.reduce((s, _, j) => s + g.jetLogLikelihood[j]![i]!, 0));
    const norm = Math.log(logPost.reduce((s, v) => s + Math.exp(v - logPost[0]!), 0)) + logPost[0]!;
    g.posterior.forEach((p, i) => expect(p).toBeCloseTo(Math.exp(logPost[i]! - norm), 12));
    expect(() => lambdaGridPosterior(jets, model, [1, -1])).toThrow(/grid\[1\]/);
  });
});
