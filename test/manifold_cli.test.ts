// `sbi-engine flow-train` / `flow-sample` on the built CLI (dist/cli.js): short training, the model
// file, the sample CSV's columns and domain, and clear errors for unknown targets and corrupt files.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelFile } from '../src/io/model_file.js';
import { ManifoldFlow } from '../src/manifold/flow.js';
import { U1Flow, flowMetropolis } from '../src/lattice/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli.js');
const run = (args: string[]) => {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 26 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
};

describe('sbi-engine flow-train / flow-sample', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-flow-'));

  it('trains a sphere flow, saves it, and samples unit vectors with log q', () => {
    const model = path.join(dir, 'sphere.bin');
    const r = run(['flow-train', '--target', 'sphere-vmf4', '--steps', '60', '--batch', '64', '--seed', '3', '--out', model, '--quiet', '--eval-size', '500']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/KL E\[log q - log p~\] -?\d+\.\d+ +log Z -?\d+\.\d+ +KL\(q\|\|p\) -?\d+\.\d+ +ESS \d+\.\d %/);
    const file = loadModelFile(model, { expectedKind: 'manifold-flow' });
    expect(file.metadata.target).toBe('sphere-vmf4');
    const s = run(['flow-sample', '--model', model, '--n', '50', '--seed', '1', '--out', '-']);
    expect(s.code, s.stderr).toBe(0);
    const lines = s.stdout.trim().split('\n');
    expect(lines[0]).toBe('x_1,x_2,x_3,log_q');
    expect(lines).toHaveLength(51);
    const rows = lines.slice(1).map((l) => l.split(',').map(Number));
    for (const [a, b, c, lq] of rows as number[][]) {
      expect(Math.hypot(a!, b!, c!)).toBeCloseTo(1, 12);
      expect(Number.isFinite(lq)).toBe(true);
    }
    // log q in the CSV is the flow's density at the written point.
    const flow = ManifoldFlow.fromModelFile(file);
    const back = flow.logProb(Float64Array.from(rows.flatMap((r) => r.slice(0, 3))));
    rows.forEach((r, i) => expect(back[i]).toBeCloseTo(r[3]!, 8));
  });

  it('trains a torus flow and writes angles in [0, 2π)', () => {
    const model = path.join(dir, 'torus.bin');
    const r = run(['flow-train', '--target', 'torus-correlated', '--steps', '40', '--batch', '64', '--out', model, '--quiet', '--eval-size', '200']);
    expect(r.code, r.stderr).toBe(0);
    const out = path.join(dir, 'torus.csv');
    expect(run(['flow-sample', '--model', model, '--n', '20', '--out', out]).code).toBe(0);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('angle_1,angle_2,log_q');
    for (const l of lines.slice(1)) {
      const [a, b] = l.split(',').map(Number);
      for (const v of [a!, b!]) expect(v >= 0 && v < 2 * Math.PI).toBe(true);
    }
  });

  it('trains an S³ flow with Möbius circle layers and samples x_1..x_4,log_q; a bad --circle-transform is a usage error', () => {
    const model = path.join(dir, 's3.bin');
    const r = run(['flow-train', '--target', 'sphere3-vmf4', '--circle-transform', 'moebius', '--components', '2', '--layers', '2',
      '--hidden', '8', '--steps', '30', '--batch', '32', '--seed', '1', '--out', model, '--quiet', '--eval-size', '200']);
    expect(r.code, r.stderr).toBe(0);
    const file = loadModelFile(model, { expectedKind: 'manifold-flow' });
    expect(file.metadata.spec).toMatchObject({ space: 'sphere', dim: 3, circleTransform: 'moebius', components: 2 });
    const s = run(['flow-sample', '--model', model, '--n', '30', '--seed', '2', '--out', '-']);
    expect(s.code, s.stderr).toBe(0);
    const lines = s.stdout.trim().split('\n');
    expect(lines[0]).toBe('x_1,x_2,x_3,x_4,log_q');
    const rows = lines.slice(1).map((l) => l.split(',').map(Number));
    for (const row of rows) expect(Math.hypot(...row.slice(0, 4))).toBeCloseTo(1, 12);
    const back = ManifoldFlow.fromModelFile(file).logProb(Float64Array.from(rows.flatMap((row) => row.slice(0, 4))));
    rows.forEach((row, i) => expect(back[i]).toBeCloseTo(row[4]!, 8));
    const bad = run(['flow-train', '--target', 'sphere3-vmf4', '--circle-transform', 'spiral', '--out', model]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--circle-transform: expected one of spline, moebius, ncp but received "spiral"/);
  });

  it('flow-train --target phi4 trains the lattice flow, and flow-mcmc runs its chain', () => {
    const model = path.join(dir, 'phi4.bin');
    const r = run(['flow-train', '--target', 'phi4', '--lattice', '4', '--m2', '-4', '--lambda', '8', '--steps', '5', '--batch', '8',
      '--seed', '2', '--out', model, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/target phi4 {2}L 4 {2}m2 -4 {2}lambda 8 {2}steps 5 {2}batch 8/);
    const chain = run(['flow-mcmc', '--model', model, '--n', '200', '--seed', '1', '--json']);
    expect(chain.code, chain.stderr).toBe(0);
    const out = JSON.parse(chain.stdout);
    expect(out.acceptance).toBeGreaterThanOrEqual(0);
    expect(out.acceptance).toBeLessThanOrEqual(1);
    const missing = run(['flow-train', '--target', 'phi4', '--lattice', '4', '--out', model]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--target phi4 needs --lattice, --m2 and --lambda/);
  });

  it('flow-train --target u1 trains the gauge-equivariant flow, and flow-mcmc runs its chain like the API', async () => {
    const model = path.join(dir, 'u1.bin');
    const r = run(['flow-train', '--target', 'u1', '--lattice', '4', '--beta', '1', '--steps', '3', '--batch', '8',
      '--seed', '2', '--out', model, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/target u1 {2}L 4 {2}beta 1 {2}steps 3 {2}batch 8/);
    const text = run(['flow-mcmc', '--model', model, '--n', '300', '--seed', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/target u1 L=4 beta=1/);
    expect(text.stdout).toMatch(/Q2 \d+\.\d{4} \+- \d+\.\d{4}/);
    expect(text.stdout).toMatch(/tau_int_Q \d+\.\d{3}/);
    const out = JSON.parse(run(['flow-mcmc', '--model', model, '--n', '300', '--seed', '1', '--json']).stdout);
    const api = await flowMetropolis(U1Flow.load(model), { n: 300, seed: 1 });
    expect(out.target).toBe('u1');
    expect(out.acceptance).toBe(api.acceptance);
    expect(out.meanQ2).toBe(api.meanQ2.value);
    const odd = run(['flow-train', '--target', 'u1', '--lattice', '6', '--beta', '1', '--out', model]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toMatch(/multiple of 4/);
    const missing = run(['flow-train', '--target', 'u1', '--lattice', '4', '--out', model]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--target u1 needs --lattice and --beta/);
  });

  it('unknown target: exit 2 listing the known targets; corrupt model: exit 1 naming the damage', () => {
    const bad = run(['flow-train', '--target', 'phi5', '--out', path.join(dir, 'x.bin')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown target "phi5".*sphere-vmf4, torus-unimodal, torus-multimodal, torus-correlated/);
    const model = path.join(dir, 'sphere.bin');
    const bytes = fs.readFileSync(model);
    bytes[bytes.length - 30] ^= 0x55;
    const corrupt = path.join(dir, 'corrupt.bin');
    fs.writeFileSync(corrupt, bytes);
    const r = run(['flow-sample', '--model', corrupt, '--n', '5', '--out', '-']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch/);
    expect(run(['flow-sample', '--model', model, '--n', '0', '--out', '-']).code).toBe(2);
  });
});
