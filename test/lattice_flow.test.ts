// The checkerboard affine coupling flow for φ⁴ (kernels/lattice/checkerboard_flow.h): reverse-KL
// parameter gradient against finite differences in double, log q against a numeric log-det,
// invertibility, thread-count identity, independence Metropolis on the exactly solvable free
// theory, the Z2-symmetrised proposal (density, flips, chain against HMC in the broken phase),
// the model file, the CLI and argument errors.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Phi4Flow, trainPhi4Flow, flowMetropolis, trainPhi4FlowFromCli, Phi4Action, U1Flow, dropBurnIn, hmc, twoPointSusceptibility,
} from '../src/lattice/index.js';
import { PhiloxStream } from '../src/random/philox.js';
import { SbiError } from '../src/errors.js';

function randn(n: number, seed: number, scale = 1): Float64Array {
  const r = new PhiloxStream(seed, 7);
  return Float64Array.from({ length: n }, () => scale * r.normal());
}

/** A flow with parameters large enough that s, t and the nets' nonlinearities all matter. */
function randomFlow(L: number, layers: number, seed: number, scale = 0.4, m2 = -4, lambda = 8): Phi4Flow {
  const f = Phi4Flow.init({ L, m2, lambda }, { layers, hidden: 4, depth: 2, kernel: 3 }, seed);
  return new Phi4Flow(f.coupling, f.architecture, randn(f.params.length, seed + 100, scale));
}

/** log|det A| by LU with partial pivoting. */
function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let s = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (p !== k) for (let j = 0; j < n; j++) [m[k * n + j], m[p * n + j]] = [m[p * n + j]!, m[k * n + j]!];
    const d = m[k * n + k]!;
    s += Math.log(Math.abs(d));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / d;
      for (let j = k; j < n; j++) m[i * n + j]! -= f * m[k * n + j]!;
    }
  }
  return s;
}

describe('checkerboard affine coupling flow (φ⁴)', () => {
  it('reverse-KL parameter gradient matches central finite differences in double (L = 4, 2 layers)', () => {
    const flow = randomFlow(4, 2, 1);
    const z = randn(3 * 16, 2);
    const { loss, grad } = flow.lossAndGrad(z);
    expect(Number.isFinite(loss)).toBe(true);
    const h = 1e-5;
    let worst = 0;
    for (let j = 0; j < flow.params.length; j++) {
      const p = Float64Array.from(flow.params);
      p[j] = flow.params[j]! + h;
      const up = new Phi4Flow(flow.coupling, flow.architecture, p).lossAndGrad(z).loss;
      p[j] = flow.params[j]! - h;
      const down = new Phi4Flow(flow.coupling, flow.architecture, p).lossAndGrad(z).loss;
      const fd = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grad[j]!) / (1 + Math.abs(fd)));
    }
    // Central differences with h = 1e-5: truncation (h² f‴ / 6) and rounding (ε |loss| / h) leave
    // ~1e-7 relative here; a wrong term in the backward pass shows up at 1e-2 or more.
    expect(worst).toBeLessThan(1e-5);
  });

  it('log q equals log N(z) − log|det ∂φ/∂z| with the Jacobian by finite differences (L = 4)', () => {
    const flow = randomFlow(4, 4, 3, 0.5);
    const V = 16;
    const z = randn(V, 4);
    const { logq } = flow.forward(z);
    const h = 1e-6;
    const J = new Float64Array(V * V);
    for (let j = 0; j < V; j++) {
      const zp = Float64Array.from(z), zm = Float64Array.from(z);
      zp[j] = z[j]! + h;
      zm[j] = z[j]! - h;
      const fp = flow.forward(zp).phi, fm = flow.forward(zm).phi;
      for (let i = 0; i < V; i++) J[i * V + j] = (fp[i]! - fm[i]!) / (2 * h);
    }
    let logr = 0;
    for (const v of z) logr += -0.5 * v * v - 0.5 * Math.log(2 * Math.PI);
    const expected = logr - logAbsDet(J, V);
    // Each Jacobian entry by central differences carries ~1e-10 error, amplified by the condition
    // of J in log|det J|: 1e-6 (a wrong log-det term would be off by more than 1e-2).
    expect(Math.abs(logq[0]! - expected)).toBeLessThan(1e-6);
    // A non-trivial Jacobian: the flow really rescales.
    expect(Math.abs(logq[0]! - logr)).toBeGreaterThan(0.1);
  });

  it('inverse(forward(z)) = z and both give the same log q (L = 3, 4, 6)', () => {
    for (const L of [3, 4, 6]) {
      const flow = randomFlow(L, 5, 10 + L, 0.5);
      const z = randn(4 * L * L, 20 + L);
      const f = flow.forward(z);
      const b = flow.inverse(f.phi);
      for (let i = 0; i < z.length; i++) expect(Math.abs(b.z[i]! - z[i]!)).toBeLessThan(1e-12 * (1 + Math.abs(z[i]!)) + 1e-12);
      for (let i = 0; i < 4; i++) expect(b.logq[i]).toBeCloseTo(f.logq[i]!, 10);
    }
  });

  it('training and sampling give identical bits on 1 and 2 threads; progress is reported', async () => {
    const opts = { L: 4, m2: -4, lambda: 8, layers: 2, hidden: 4, steps: 4, batch: 20, seed: 9 };
    const seen: number[] = [];
    const a = await trainPhi4Flow({ ...opts, threads: 1, onProgress: (p) => seen.push(p.step) });
    const b = await trainPhi4Flow({ ...opts, threads: 2 });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(b.model.params.buffer))).toBe(true);
    expect(Array.from(a.loss)).toEqual(Array.from(b.loss));
    expect(Array.from(a.ess)).toEqual(Array.from(b.ess));
    const s1 = await a.model.sample({ n: 50, seed: 3, threads: 1, keepPhi: true });
    const s2 = await a.model.sample({ n: 50, seed: 3, threads: 2, keepPhi: true });
    expect(Array.from(s1.phi!)).toEqual(Array.from(s2.phi!));
    expect(Array.from(s1.logq)).toEqual(Array.from(s2.logq));
    // Sample records agree with the API's forward / action on the same configurations.
    const act = new Phi4Action(a.model.coupling).action(s1.phi!);
    for (let i = 0; i < 50; i++) expect(s1.action[i]).toBeCloseTo(act[i]!, 10);
    const inv = a.model.inverse(s1.phi!);
    for (let i = 0; i < 50; i++) expect(inv.logq[i]).toBeCloseTo(s1.logq[i]!, 9);
  });

  it('training from `init` continues from its parameters (the default init gives the same bits); a mismatched init is refused', async () => {
    const opts = { L: 4, m2: -4, lambda: 8, layers: 2, hidden: 4, steps: 3, batch: 8, seed: 6 };
    const fresh = await trainPhi4Flow(opts);
    const fromInit = await trainPhi4Flow({ ...opts, init: Phi4Flow.init({ L: 4, m2: -4, lambda: 8 }, { layers: 2, hidden: 4 }, 6) });
    expect(fromInit.model.params).toEqual(fresh.model.params);
    const more = await trainPhi4Flow({ ...opts, seed: 7, init: fresh.model });
    expect(more.model.params).not.toEqual(fresh.model.params);
    expect(fresh.model.params).toEqual(fromInit.model.params);  // init is not modified
    await expect(trainPhi4Flow({ ...opts, layers: 3, init: fresh.model })).rejects.toThrow(/init.*architecture/);
    await expect(trainPhi4Flow({ ...opts, init: {} as Phi4Flow })).rejects.toThrow(/Phi4Flow for `init`/);
  });

  it('aborting training or sampling rejects with SbiError ABORTED', async () => {
    const ac = new AbortController();
    const p = trainPhi4Flow({ L: 4, m2: -4, lambda: 8, steps: 1_000_000, batch: 8, seed: 1, onProgress: (s) => { if (s.step === 2) ac.abort(); }, signal: ac.signal });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    const flow = Phi4Flow.init({ L: 4, m2: -4, lambda: 8 });
    const ac2 = new AbortController();
    ac2.abort();
    await expect(flow.sample({ n: 10, seed: 1, signal: ac2.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('independence Metropolis on the free theory reproduces χ₂ = 1/(2m²) (L = 4, m² = 1)', async () => {
    // λ = 0, m² = 1: e^{−S} is Gaussian and χ₂ = Σ_x G(x) = 1/(2m²) exactly, whatever the flow.
    const r = await trainPhi4Flow({ L: 4, m2: 1, lambda: 0, layers: 4, hidden: 4, steps: 300, batch: 32, learningRate: 5e-3, seed: 2 });
    const mc = await flowMetropolis(r.model, { n: 40_000, seed: 5 });
    expect(mc.acceptance).toBeGreaterThan(0.2);
    expect(mc.ess).toBeGreaterThan(0.1);
    const chi = mc.susceptibility;
    expect(Math.abs(chi.value - 0.5)).toBeLessThan(5 * chi.error);
    expect(chi.error).toBeLessThan(0.05);
    // A chain that accepts a fraction a of independent proposals has τ_int ≥ ½.
    expect(chi.tau).toBeGreaterThan(0.4);
  });

  it('symmetric draws: log q_s = log ½(q(φ) + q(−φ)) by the inverse pass, a fair sign flip, and E_q_s[q/q_s] = 1', async () => {
    const flow = randomFlow(4, 4, 50);
    const n = 1000;
    const plain = await flow.sample({ n, seed: 3, keepPhi: true });
    const sym = await flow.sample({ n, seed: 3, keepPhi: true, symmetric: true });
    const a = flow.inverse(sym.phi!).logq;
    const b = flow.inverse(sym.phi!.map((v) => -v)).logq;
    let flips = 0, ratio = 0, ratioSq = 0, worst = 0, mismatches = 0, worstAction = 0;
    for (let i = 0; i < n; i++) {
      const m = Math.max(a[i]!, b[i]!);
      const lse = m + Math.log(Math.exp(a[i]! - m) + Math.exp(b[i]! - m)) - Math.log(2);
      worst = Math.max(worst, Math.abs(sym.logq[i]! - lse) / (1 + Math.abs(lse)));
      // The same draw f(z), kept or flipped as a whole; the action is even.
      const sign = sym.magnetization[i]! === plain.magnetization[i]! ? 1 : -1;
      if (sign < 0) flips++;
      if (sym.magnetization[i] !== sign * plain.magnetization[i]!) mismatches++;
      for (let k = 0; k < flow.sites; k++) if (sym.phi![i * flow.sites + k] !== sign * plain.phi![i * flow.sites + k]!) mismatches++;
      worstAction = Math.max(worstAction, Math.abs(sym.action[i]! - plain.action[i]!));
      const w = Math.exp(a[i]! - sym.logq[i]!);
      ratio += w;
      ratioSq += w * w;
    }
    expect(worst).toBeLessThan(1e-12);
    expect(mismatches).toBe(0);
    expect(worstAction).toBeLessThan(1e-9);
    // Flips ~ Binomial(n, ½): within 5 standard deviations.
    expect(Math.abs(flips - n / 2)).toBeLessThan(5 * Math.sqrt(n / 4));
    // q_s normalised: q/q_s ∈ [0, 2] averages to ∫q = 1 under q_s, within 5 standard errors.
    const mean = ratio / n, se = Math.sqrt((ratioSq / n - mean * mean) / n);
    expect(Math.abs(mean - 1)).toBeLessThan(5 * se);
  });

  it('the symmetrised chain reproduces HMC\'s χ₂ in the broken phase (L = 4, m² = −4, λ = 8)', async () => {
    const coupling = { L: 4, m2: -4, lambda: 8 };
    const chains = 8;
    const ref = hmc(new Phi4Action(coupling), { seed: 9, steps: 6000, chains, leapfrogSteps: 10, stepSize: 0.1 });
    const chiHmc = twoPointSusceptibility(dropBurnIn(ref.magnetization, chains, 200), 16, chains);
    const r = await trainPhi4Flow({ ...coupling, layers: 4, hidden: 4, steps: 1000, batch: 64, learningRate: 3e-3, seed: 2 });
    const mc = await flowMetropolis(r.model, { n: 30_000, seed: 5, symmetric: true });
    const chi = mc.susceptibility;
    expect(Math.abs(chi.value - chiHmc.value)).toBeLessThan(5 * Math.hypot(chi.error, chiHmc.error));
    expect(chi.error).toBeLessThan(0.1 * chiHmc.value);
    // The symmetrised proposal visits both signs of M equally.
    let positive = 0;
    for (const m of mc.magnetization) if (m > 0) positive++;
    expect(Math.abs(positive / mc.magnetization.length - 0.5)).toBeLessThan(0.1);
  });

  it('saves and loads the model (versioned, checksummed); corrupt or foreign files are refused', () => {
    const flow = randomFlow(4, 2, 30);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-phi4flow-'));
    const file = path.join(dir, 'm.bin');
    flow.save(file);
    const back = Phi4Flow.load(file);
    expect(back.coupling).toEqual(flow.coupling);
    expect(back.architecture).toEqual(flow.architecture);
    expect(Array.from(back.params)).toEqual(Array.from(flow.params));
    const bytes = fs.readFileSync(file);
    const bad = Uint8Array.from(bytes);
    bad[bad.length - 20]! ^= 1;
    expect(() => Phi4Flow.decode(bad)).toThrow(SbiError);
    expect(() => Phi4Flow.decode(bad)).toThrow(/checksum/);
  });

  it('rejects bad arguments with errors naming them', async () => {
    expect(() => Phi4Flow.init({ L: 1, m2: -4, lambda: 8 })).toThrow(/L/);
    expect(() => Phi4Flow.init({ L: 4, m2: -4, lambda: -1 })).toThrow(/lambda/);
    expect(() => Phi4Flow.init({ L: 4, m2: 0, lambda: 0 })).toThrow(/normalisable/);
    expect(() => Phi4Flow.init({ L: 4, m2: -4, lambda: 8 }, { kernel: 2 })).toThrow(/kernel/);
    expect(() => Phi4Flow.init({ L: 4, m2: -4, lambda: 8 }, { layers: 0 })).toThrow(/layers/);
    const flow = Phi4Flow.init({ L: 4, m2: -4, lambda: 8 }, { layers: 2 });
    expect(() => new Phi4Flow(flow.coupling, flow.architecture, new Float64Array(3))).toThrow(/params/);
    const nan = Float64Array.from(flow.params);
    nan[5] = NaN;
    expect(() => new Phi4Flow(flow.coupling, flow.architecture, nan)).toThrow(/params\[5\]/);
    expect(() => flow.forward(new Float64Array(15))).toThrow(/z/);
    expect(() => flow.inverse(Float64Array.of(...new Array(16).fill(0).map((_, i) => (i === 3 ? Infinity : 0))))).toThrow(/phi\[3\]/);
    await expect(trainPhi4Flow({ L: 4, m2: -4, lambda: 8, steps: 0, seed: 1 })).rejects.toThrow(/steps/);
    await expect(trainPhi4Flow({ L: 4, m2: -4, lambda: 8, steps: 1, seed: 1, learningRate: 0 })).rejects.toThrow(/learningRate/);
    await expect(flowMetropolis(flow, { n: 1, seed: 1 })).rejects.toThrow(/n/);
    await expect(flowMetropolis(flow, { n: 10, seed: 1, burnIn: 9 })).rejects.toThrow(/burnIn/);
    await expect(flowMetropolis({} as Phi4Flow, { n: 10, seed: 1 })).rejects.toThrow(/Phi4Flow/);
    await expect(flowMetropolis(flow, { n: 10, seed: 1, symmetric: 1 as unknown as boolean })).rejects.toThrow(/symmetric/);
    await expect(flow.sample({ n: 10, seed: 1, symmetric: 'yes' as unknown as boolean })).rejects.toThrow(/symmetric/);
    const u1 = U1Flow.init({ L: 4, beta: 1 }, { layers: 1 });
    await expect(flowMetropolis(u1, { n: 10, seed: 1, symmetric: true })).rejects.toThrow(/symmetric.*φ⁴/);
  });
});

describe('sbi-engine flow-mcmc', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const cli = path.join(root, 'dist', 'cli.js');
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  it('trains a tiny model through trainPhi4FlowFromCli and runs the chain from the CLI', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-flowmcmc-'));
    const file = path.join(dir, 'phi4.bin');
    const s = await trainPhi4FlowFromCli({ lattice: 4, m2: -4, lambda: 8, steps: 20, batch: 16, seed: 4, out: file, threads: 1 });
    expect(s.out).toBe(file);
    expect(Number.isFinite(s.loss)).toBe(true);
    const text = run(['flow-mcmc', '--model', file, '--n', '2000', '--seed', '1']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/acceptance 0\.\d{4}/);
    expect(text.stdout).toMatch(/chi2 \d+\.\d{4} \+- \d+\.\d{4}/);
    expect(text.stdout).toMatch(/tau_int \d+\.\d{3}/);
    const json = run(['flow-mcmc', '--model', file, '--n', '2000', '--seed', '1', '--json']);
    const o = JSON.parse(json.stdout);
    // Same seed, same chain: the API gives the same numbers.
    const api = await flowMetropolis(Phi4Flow.load(file), { n: 2000, seed: 1 });
    expect(o.acceptance).toBe(api.acceptance);
    expect(o.chi2).toBe(api.susceptibility.value);
    const sym = JSON.parse(run(['flow-mcmc', '--model', file, '--n', '2000', '--seed', '1', '--symmetric', '--json']).stdout);
    const apiSym = await flowMetropolis(Phi4Flow.load(file), { n: 2000, seed: 1, symmetric: true });
    expect(sym.symmetric).toBe(true);
    expect(sym.chi2).toBe(apiSym.susceptibility.value);
    expect(run(['flow-mcmc', '--model', file, '--n', 'x']).code).toBe(2);
    const missing = run(['flow-mcmc', '--model', path.join(dir, 'none.bin'), '--n', '10']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/FILE_NOT_FOUND/);
  });
});
