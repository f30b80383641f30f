// The lattice flows' reverse-KL training on the WebGPU device (ops lattice.phi4_flow_train,
// lattice.u1_flow_train; src/backend/lattice_train_webgpu.ts). The CPU's gradients have
// finite-difference tests (test/lattice_flow.test.ts, test/lattice_u1_flow.test.ts); the device's
// gradients are checked here against the CPU's at the same draws, and trainPhi4Flow /
// trainU1Flow({ backend: 'webgpu' }) against the CPU trainers. The ops' agreement cases (a few
// steps from random parameters) are in test/backend_ops.test.ts.
import { describe, expect, it } from 'vitest';
import { OPS, selectBackend, type Backend } from '../src/backend/backend.js';
import { phi4FlowLossGradWebGpu, u1FlowLossGradWebGpu } from '../src/backend/lattice_train_webgpu.js';
import type { WebGpuContext } from '../src/backend/webgpu.js';
import { Phi4Flow, trainPhi4Flow } from '../src/lattice/flow.js';
import { U1Flow, trainU1Flow } from '../src/lattice/u1_flow.js';
import { PhiloxStream } from '../src/random/philox.js';

let reason = '';
const webgpu = await selectBackend('webgpu').catch((e: Error) => {
  reason = e.message;
  return undefined;
});
const ctx = (webgpu as (Backend & { ctx?: WebGpuContext }) | undefined)?.ctx;

/** A flow of `architecture` far from its initialisation (torch's, moved by 0.1·N(0, 1)). */
function movedFlow(L: number, architecture: Parameters<typeof Phi4Flow.init>[1]): Phi4Flow {
  const flow = Phi4Flow.init({ L, m2: -4, lambda: 8 }, architecture, 3);
  const r = new PhiloxStream(5n, 30n);
  for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
  return flow;
}

/** Device gradient components outside 1e-4·max|g| + 1e-4·|g| of the CPU's. */
function gradientsApart(device: Float64Array, cpu: Float64Array): number {
  const scale = Math.max(...cpu.map(Math.abs));
  let bad = 0;
  cpu.forEach((g, i) => {
    if (!(Math.abs(device[i]! - g) <= 1e-4 * scale + 1e-4 * Math.abs(g))) bad++;
  });
  return bad;
}

describe.skipIf(!webgpu || !ctx)(`φ⁴ flow training on the webgpu backend${webgpu ? '' : ` — skipped: ${reason}`}`, () => {
  it('the device gradient of the batch loss equals the CPU\'s lossAndGrad at the same draws (f32 against double)', async () => {
    // depth 0, 1 and 2 nets, 3×3 and 5×5 kernels, odd and even L; steps other than 0 (stream t·2³² + b)
    const cases = [[6, { layers: 2, hidden: 4, depth: 1, kernel: 3 }, 8, 0], [7, { layers: 4, hidden: 4, depth: 2, kernel: 5 }, 12, 3],
      [6, { layers: 3, hidden: 2, depth: 0, kernel: 3 }, 9, 1]] as const;
    for (const [L, architecture, batch, step] of cases) {
      const flow = movedFlow(L, architecture);
      const d = await phi4FlowLossGradWebGpu(ctx!, flow, { batch, seed: 7, step });
      expect(d.z.length).toBe(batch * L * L);
      const c = flow.lossAndGrad(d.z);
      expect(Math.abs(d.loss - c.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(c.loss));
      // measured ≤ 3.4e-7 of max|g| here (≤ 1.4e-5 on the trained L = 8 flow, whose loss cancels)
      const bad = gradientsApart(d.grad, c.grad);
      expect(bad, `L ${L}: ${bad} of ${c.grad.length} gradient components apart`).toBe(0);
    }
  });

  it('its draws are the CPU trainer\'s: step t, configuration b from Philox stream t·2³² + b', async () => {
    // the CPU's loss of its own draws of a step equals the device loss within f32 rounding
    const flow = movedFlow(6, { layers: 2, hidden: 4, depth: 1, kernel: 3 });
    const d = await phi4FlowLossGradWebGpu(ctx!, flow, { batch: 4, seed: 11, step: 0 });
    const cpu = await trainPhi4Flow({ L: 6, m2: -4, lambda: 8, layers: 2, hidden: 4, depth: 1, kernel: 3, init: flow, steps: 1, batch: 4, seed: 11 });
    expect(Math.abs(d.loss - cpu.loss[0]!)).toBeLessThanOrEqual(1e-5 * Math.abs(cpu.loss[0]!));
  });

  it('trainPhi4Flow({ backend: "webgpu" }) follows the CPU trainer within the op\'s tolerance, with progress', async () => {
    const tol = OPS['lattice.phi4_flow_train'].tolerance;
    const init = movedFlow(6, { layers: 3, hidden: 4, depth: 1, kernel: 3 });
    const options = { L: 6, m2: -4, lambda: 8, layers: 3, hidden: 4, depth: 1, kernel: 3, init, steps: 4, batch: 10, seed: 21 };
    const progress: number[] = [];
    const [g, c] = [await trainPhi4Flow({ ...options, backend: 'webgpu', onProgress: (p) => progress.push(p.step) }), await trainPhi4Flow(options)];
    expect(progress).toEqual([1, 2, 3, 4]);
    expect(g.model).toBeInstanceOf(Phi4Flow);
    expect(g.model.training?.steps).toBe(4);
    g.loss.forEach((v, i) => expect(Math.abs(v - c.loss[i]!)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(c.loss[i]!)));
    g.model.params.forEach((v, i) => expect(Math.abs(v - c.model.params[i]!)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(c.model.params[i]!)));
    // the parameters moved: the comparison is not of the initial values
    expect(Math.max(...c.model.params.map((v, i) => Math.abs(v - init.params[i]!)))).toBeGreaterThan(1e-3);
  });

  it('refuses what it cannot run, naming the argument', async () => {
    const base = { L: 4, m2: -4, lambda: 8, layers: 2, hidden: 2, steps: 1, seed: 1 };
    await expect(trainPhi4Flow({ ...base, batch: 70_000, backend: 'webgpu' })).rejects.toThrow(/`batch`.*70000/);
    await expect(trainPhi4Flow({ ...base, backend: 'cuda' })).rejects.toThrow(/cuda/i);
    const aborted = new AbortController();
    aborted.abort();
    await expect(trainPhi4Flow({ ...base, backend: 'webgpu', signal: aborted.signal })).rejects.toThrow(/abort/i);
    const flow = movedFlow(4, { layers: 2 });
    await expect(webgpu!.phi4FlowTrain(flow, { steps: 0, batch: 4, learningRate: 1e-3, seed: 1 })).rejects.toThrow(/`steps`/);
    await expect(webgpu!.phi4FlowTrain(flow, { steps: 1, batch: 4, learningRate: 2, seed: 1 })).rejects.toThrow(/`learningRate`.*2/);
  });
});

describe.skipIf(!webgpu || !ctx)(`U(1) flow training on the webgpu backend${webgpu ? '' : ` — skipped: ${reason}`}`, () => {
  /** A U(1) flow of `architecture` moved from torch's initialisation by 0.1·N(0, 1). */
  function movedU1(L: number, architecture: Parameters<typeof U1Flow.init>[1]): U1Flow {
    const flow = U1Flow.init({ L, beta: 2 }, architecture, 3);
    const r = new PhiloxStream(5n, 31n);
    for (let j = 0; j < flow.params.length; j++) flow.params[j] += 0.1 * r.normal();
    return flow;
  }

  it('the device gradient of the batch loss equals the CPU\'s lossAndGrad at the same Haar draws (f32 against double)', async () => {
    // depth 1 and 0 nets, 1–3 NCP components, a 5×5 kernel, L = 4 and 8, steps other than 0
    const cases = [[4, { layers: 2, hidden: 4, depth: 1, kernel: 3, components: 2 }, 6, 0], [4, { layers: 4, hidden: 4, depth: 1, kernel: 5, components: 3 }, 9, 2],
      [8, { layers: 3, hidden: 3, depth: 0, components: 1 }, 5, 1]] as const;
    for (const [L, architecture, batch, step] of cases) {
      const flow = movedU1(L, architecture);
      const d = await u1FlowLossGradWebGpu(ctx!, flow, { batch, seed: 7, step });
      expect(d.z.length).toBe(batch * 2 * L * L);
      const c = flow.lossAndGrad(d.z);
      expect(Math.abs(d.loss - c.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(c.loss));
      // measured ≤ 9e-7 of max|g| (≤ 1.1e-5 on the trained L = 8 flow)
      const bad = gradientsApart(d.grad, c.grad);
      expect(bad, `L ${L}: ${bad} of ${c.grad.length} gradient components apart`).toBe(0);
    }
  });

  it('trainU1Flow({ backend: "webgpu" }) follows the CPU trainer within the op\'s tolerance; cuda is refused', async () => {
    const tol = OPS['lattice.u1_flow_train'].tolerance;
    const options = { L: 4, beta: 1.5, layers: 2, hidden: 4, depth: 1, steps: 3, batch: 6, seed: 22 };
    const progress: number[] = [];
    const [g, c] = [await trainU1Flow({ ...options, backend: 'webgpu', onProgress: (p) => progress.push(p.step) }), await trainU1Flow(options)];
    expect(progress).toEqual([1, 2, 3]);
    expect(g.model).toBeInstanceOf(U1Flow);
    g.loss.forEach((v, i) => expect(Math.abs(v - c.loss[i]!)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(c.loss[i]!)));
    g.model.params.forEach((v, i) => expect(Math.abs(v - c.model.params[i]!)).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(c.model.params[i]!)));
    const init = U1Flow.init({ L: 4, beta: 1.5 }, { layers: 2, hidden: 4, depth: 1 }, 22);
    expect(Math.max(...c.model.params.map((v, i) => Math.abs(v - init.params[i]!)))).toBeGreaterThan(1e-3);
    await expect(trainU1Flow({ ...options, backend: 'cuda' })).rejects.toThrow(/cuda/i);
    await expect(trainU1Flow({ ...options, batch: 70_000, backend: 'webgpu' })).rejects.toThrow(/`batch`.*70000/);
  });
});
