// The gauge-equivariant U(1) coupling flow (kernels/lattice/gauge_flow.h): gauge invariance of
// log q and equivariance of the map, inverse round trip, log q against a numerical Jacobian,
// the reverse-KL gradients (parameters and input links) against finite differences in double,
// thread-count identity, independence Metropolis against the exact ⟨Q²⟩ of the torus, the model
// file and argument errors.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { U1Flow, trainU1Flow, flowMetropolis, U1Action, u1GaugeTransform, u1Exact } from '../src/lattice/index.js';
import { PhiloxStream } from '../src/random/philox.js';
import { SbiError } from '../src/errors.js';

const TWO_PI = 2 * Math.PI;

function randn(n: number, seed: number, scale = 1): Float64Array {
  const r = new PhiloxStream(seed, 7);
  return Float64Array.from({ length: n }, () => scale * r.normal());
}

function haar(n: number, seed: number): Float64Array {
  const r = new PhiloxStream(seed, 8);
  return Float64Array.from({ length: n }, () => TWO_PI * r.uniform());
}

/** a − b wrapped into [−π, π). */
function angleDiff(a: number, b: number): number {
  const d = a - b;
  return d - TWO_PI * Math.floor((d + Math.PI) / TWO_PI);
}

/** A flow with parameters large enough that the nets and the NCP mixtures all bend. */
function randomFlow(L: number, layers: number, seed: number, scale = 0.3, arch: { hidden?: number; depth?: number } = {}): U1Flow {
  const f = U1Flow.init({ L, beta: 1.5 }, { layers, hidden: arch.hidden ?? 4, depth: arch.depth ?? 2 }, seed);
  return new U1Flow(f.coupling, f.architecture, randn(f.params.length, seed + 100, scale));
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

describe('gauge-equivariant U(1) coupling flow', () => {
  it('log q is gauge invariant and the flow commutes with gauge transformations (L = 4 and 8, all 8 layer kinds)', () => {
    for (const L of [4, 8]) {
      const flow = randomFlow(L, 8, L);
      const D = 2 * L * L;
      const z = haar(3 * D, 20 + L);
      // Large gauge angles, different per configuration.
      const alpha = randn(3 * L * L, 30 + L, 3);
      const gz = u1GaugeTransform(L, z, alpha);
      const a = flow.forward(z), b = flow.forward(gz);
      for (let i = 0; i < 3; i++) expect(Math.abs(b.logq[i]! - a.logq[i]!)).toBeLessThan(1e-10);
      // f(gauge(z)) = gauge(f(z)) modulo 2π: every plaquette, so every shift P' − P, is gauge invariant.
      const ga = u1GaugeTransform(L, a.theta, alpha);
      let worst = 0;
      for (let i = 0; i < ga.length; i++) worst = Math.max(worst, Math.abs(angleDiff(b.theta[i]!, ga[i]!)));
      expect(worst).toBeLessThan(1e-10);
      // The map is not trivial: links moved and log q differs from the Haar density.
      let moved = 0;
      for (let i = 0; i < z.length; i++) moved = Math.max(moved, Math.abs(angleDiff(a.theta[i]!, z[i]!)));
      expect(moved).toBeGreaterThan(0.1);
      expect(Math.abs(a.logq[0]! + D * Math.log(TWO_PI))).toBeGreaterThan(0.1);
    }
  });

  it('inverse(forward(z)) = z (mod 2π) with the same log q (L = 4, 8; 16 layers)', () => {
    for (const L of [4, 8]) {
      const flow = randomFlow(L, 16, 40 + L, 0.25);
      const z = haar(4 * 2 * L * L, 50 + L);
      const f = flow.forward(z);
      for (const v of f.theta) expect(v >= 0 && v < TWO_PI).toBe(true);
      const b = flow.inverse(f.theta);
      let worst = 0;
      for (let i = 0; i < z.length; i++) worst = Math.max(worst, Math.abs(angleDiff(b.z[i]!, z[i]!)));
      expect(worst).toBeLessThan(1e-10);
      for (let i = 0; i < 4; i++) expect(Math.abs(b.logq[i]! - f.logq[i]!)).toBeLessThan(1e-9);
    }
  });

  it('log q equals −2V log 2π − log|det ∂θ/∂z| with the 32×32 Jacobian by finite differences (L = 4)', () => {
    // Parameters of scale 0.25 bend the map (log q is 1.1 off the Haar density) while keeping its
    // third derivatives, so the finite-difference truncation error, small (scale 0.4: ~1e-5 at h = 1e-6).
    const flow = randomFlow(4, 8, 3, 0.25);
    const D = 32;
    const z = haar(D, 4);
    const { logq } = flow.forward(z);
    const h = 1e-5;
    const J = new Float64Array(D * D);
    for (let j = 0; j < D; j++) {
      const zp = Float64Array.from(z), zm = Float64Array.from(z);
      zp[j] = z[j]! + h;
      zm[j] = z[j]! - h;
      const fp = flow.forward(zp).theta, fm = flow.forward(zm).theta;
      // Output links are wrapped into [0, 2π): difference modulo 2π.
      for (let i = 0; i < D; i++) J[i * D + j] = angleDiff(fp[i]!, fm[i]!) / (2 * h);
    }
    const expected = -D * Math.log(TWO_PI) - logAbsDet(J, D);
    // Central differences leave ~1e-9 here; a wrong log-det term would be off by > 1e-2.
    expect(Math.abs(logq[0]! - expected)).toBeLessThan(1e-7);
    expect(Math.abs(logq[0]! + D * Math.log(TWO_PI))).toBeGreaterThan(0.5);
  });

  it('reverse-KL gradients in the parameters and in the input links match central finite differences in double', () => {
    // 4 layers (both directions, two stripe offsets), one hidden layer of 2 channels: 532 parameters.
    const flow = randomFlow(4, 4, 5, 0.4, { hidden: 2, depth: 1 });
    const D = 32;
    const z = haar(3 * D, 6);
    const { loss, grad, gz } = flow.lossAndGrad(z);
    expect(Number.isFinite(loss)).toBe(true);
    const h = 1e-5;
    const lossAt = (params: Float64Array, zz: Float64Array) => new U1Flow(flow.coupling, flow.architecture, params).lossAndGrad(zz).loss;
    let worst = 0, largest = 0;
    for (let j = 0; j < flow.params.length; j++) {
      const p = Float64Array.from(flow.params);
      p[j] = flow.params[j]! + h;
      const up = lossAt(p, z);
      p[j] = flow.params[j]! - h;
      const fd = (up - lossAt(p, z)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - grad[j]!) / (1 + Math.abs(fd)));
      largest = Math.max(largest, Math.abs(fd));
    }
    // Truncation (h² f‴/6) and rounding (ε|loss|/h) leave ~1e-8; a wrong backward term shows at 1e-2.
    expect(worst).toBeLessThan(1e-6);
    expect(largest).toBeGreaterThan(1e-2);
    worst = 0;
    for (let j = 0; j < z.length; j++) {
      const zp = Float64Array.from(z);
      zp[j] = z[j]! + h;
      const up = lossAt(flow.params, zp);
      zp[j] = z[j]! - h;
      const fd = (up - lossAt(flow.params, zp)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - gz[j]!) / (1 + Math.abs(fd)));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('training and sampling give identical bits on 1 and 2 threads; records agree with U1Action and inverse', async () => {
    const opts = { L: 4, beta: 1, layers: 4, hidden: 4, steps: 3, batch: 20, seed: 9 };
    const seen: number[] = [];
    const a = await trainU1Flow({ ...opts, threads: 1, onProgress: (p) => seen.push(p.step) });
    const b = await trainU1Flow({ ...opts, threads: 2 });
    expect(seen).toEqual([1, 2, 3]);
    expect(Buffer.from(a.model.params.buffer).equals(Buffer.from(b.model.params.buffer))).toBe(true);
    expect(Array.from(a.loss)).toEqual(Array.from(b.loss));
    const s1 = await a.model.sample({ n: 40, seed: 3, threads: 1, keepTheta: true });
    const s2 = await a.model.sample({ n: 40, seed: 3, threads: 2, keepTheta: true });
    expect(Array.from(s1.theta!)).toEqual(Array.from(s2.theta!));
    const action = new U1Action(a.model.coupling);
    const act = action.action(s1.theta!), q = action.topologicalCharge(s1.theta!);
    const inv = a.model.inverse(s1.theta!);
    for (let i = 0; i < 40; i++) {
      expect(s1.action[i]).toBeCloseTo(act[i]!, 10);
      expect(s1.charge[i]).toBe(q[i]);
      expect(inv.logq[i]).toBeCloseTo(s1.logq[i]!, 9);
    }
  });

  it('aborting training rejects with SbiError ABORTED', async () => {
    const ac = new AbortController();
    const p = trainU1Flow({ L: 4, beta: 1, layers: 2, steps: 1_000_000, batch: 4, seed: 1, onProgress: (s) => { if (s.step === 2) ac.abort(); }, signal: ac.signal });
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('reverse-KL training lowers the loss, and independence Metropolis reproduces the exact ⟨Q²⟩ (L = 4, β = 1)', async () => {
    const r = await trainU1Flow({ L: 4, beta: 1, layers: 8, hidden: 4, steps: 150, batch: 32, learningRate: 5e-3, seed: 2 });
    const mean = (a: Float64Array, from: number, to: number) => a.subarray(from, to).reduce((s, v) => s + v, 0) / (to - from);
    // Fixed seed: over 150 steps the loss falls by ~0.17 and the batch ESS rises from ~0.45 to ~0.58.
    expect(mean(r.loss, 120, 150)).toBeLessThan(mean(r.loss, 0, 30) - 0.05);
    expect(mean(r.ess, 120, 150)).toBeGreaterThan(mean(r.ess, 0, 30) + 0.05);
    const mc = await flowMetropolis(r.model, { n: 20_000, seed: 5 });
    expect(mc.acceptance).toBeGreaterThan(0.2);
    const exact = u1Exact(4, 1).meanQ2;
    // ⟨Q²⟩ within 5 standard errors (τ_int-corrected); the error is small enough to mean something.
    expect(Math.abs(mc.meanQ2.value - exact)).toBeLessThan(5 * mc.meanQ2.error);
    expect(mc.meanQ2.error).toBeLessThan(0.1 * exact);
    expect(mc.tauQ.tau).toBeGreaterThan(0.4);
    expect(mc.charge.length).toBe(20_000);
  });

  it('saves and loads the model; a corrupt or foreign file is refused', () => {
    const flow = randomFlow(4, 2, 30);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-u1flow-'));
    const file = path.join(dir, 'm.bin');
    flow.save(file);
    const back = U1Flow.load(file);
    expect(back.coupling).toEqual(flow.coupling);
    expect(back.architecture).toEqual(flow.architecture);
    expect(Array.from(back.params)).toEqual(Array.from(flow.params));
    const bad = Uint8Array.from(fs.readFileSync(file));
    bad[bad.length - 20]! ^= 1;
    expect(() => U1Flow.decode(bad)).toThrow(/checksum/);
    expect(() => U1Flow.decode(flow.encode().slice(0, 10))).toThrow(SbiError);
  });

  it('rejects bad arguments with errors naming them', async () => {
    expect(() => U1Flow.init({ L: 6, beta: 1 })).toThrow(/multiple of 4/);
    expect(() => U1Flow.init({ L: 4, beta: NaN })).toThrow(/beta/);
    expect(() => U1Flow.init({ L: 4, beta: 1 }, { kernel: 2 })).toThrow(/kernel/);
    expect(() => U1Flow.init({ L: 4, beta: 1 }, { components: 0 })).toThrow(/components/);
    const flow = U1Flow.init({ L: 4, beta: 1 }, { layers: 2 });
    expect(() => new U1Flow(flow.coupling, flow.architecture, new Float64Array(3))).toThrow(/params/);
    expect(() => flow.forward(new Float64Array(31))).toThrow(/z/);
    const inf = new Float64Array(32);
    inf[7] = Infinity;
    expect(() => flow.inverse(inf)).toThrow(/theta\[7\]/);
    expect(() => flow.lossAndGrad(Float64Array.from(inf))).toThrow(/z\[7\]/);
    await expect(trainU1Flow({ L: 4, beta: 1, steps: 0, seed: 1 })).rejects.toThrow(/steps/);
    await expect(trainU1Flow({ L: 4, beta: 1, steps: 1, seed: 1, batch: 0 })).rejects.toThrow(/batch/);
    await expect(flowMetropolis(flow, { n: 1, seed: 1 })).rejects.toThrow(/n/);
    await expect(flowMetropolis({} as U1Flow, { n: 10, seed: 1 })).rejects.toThrow(/U1Flow/);
    // The native boundary re-checks what TypeScript checked.
    const native = (await import('../src/native.js')).native;
    expect(() => native.u1FlowForward(Int32Array.of(6, 1, 2, 1, 3, 2), flow.params, new Float64Array(72), new Float64Array(72), new Float64Array(1)))
      .toThrow(/multiple of 4/);
  });
});
