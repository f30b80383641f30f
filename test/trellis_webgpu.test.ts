// The trellis's WGSL passes (kernels/trellis/trellis.wgsl) against the CPU's double-precision
// trellis: log Z, the MAP hierarchy and energy, every cluster's marginal. Runs on Dawn's OpenGL ES
// backend over Mesa's llvmpipe where there is no GPU; skipped, with the reason in the suite's
// name, where no WebGPU adapter can be created (test/backend_webgpu.test.ts fails CI then).
import { describe, expect, it } from 'vitest';
import { openWebGpu, type WebGpuContext } from '../src/backend/webgpu.js';
import { GINKGO_PRESETS, hierarchyLogLikelihood, runTrellis, simulateGinkgo, type TrellisModel } from '../src/index.js';
import { runTrellisWebGpu } from '../src/trellis/webgpu.js';
import { PhiloxStream } from '../src/random/philox.js';
import { SbiError } from '../src/errors.js';

let ctx: WebGpuContext | undefined;
let reason = '';
try {
  ctx = await openWebGpu();
} catch (e) {
  reason = (e as Error).message;
}

// f32 tolerances, measured with margin: |Δ log Z| and |Δ MAP| stayed below 6e-6 and marginals
// below 4e-6 for jets of 8 to 16 leaves (docs/backends.md); energies of large magnitude carry
// f32's relative error (~1e-7 |ψ|).
const P_TOL = 1e-4;
const logTol = (v: number) => 1e-4 + 1e-6 * Math.abs(v);

async function agree(leaves: Float64Array | number[][], model: TrellisModel) {
  const cpu = runTrellis(leaves, model, { marginals: true });
  const gpu = await runTrellisWebGpu(leaves, model, { marginals: true, context: ctx });
  expect(Math.abs(gpu.logZ - cpu.logZ)).toBeLessThan(logTol(cpu.logZ));
  expect(Math.abs(gpu.mapLogLH - cpu.mapLogLH)).toBeLessThan(logTol(cpu.mapLogLH));
  // an f32 near-tie may pick another tree: it must then be optimal in double too
  expect(gpu.mapTree).not.toBeNull();
  expect(Math.abs(hierarchyLogLikelihood(leaves, model, gpu.mapTree!) - cpu.mapLogLH)).toBeLessThan(logTol(cpu.mapLogLH));
  let worst = 0;
  for (let s = 1; s < cpu.marginals!.length; s++) worst = Math.max(worst, Math.abs(gpu.marginals![s]! - cpu.marginals![s]!));
  expect(worst).toBeLessThan(P_TOL);
  return { cpu, gpu };
}

describe.skipIf(!ctx)(`WebGPU: trellis inside and marginal passes (kernels/trellis/trellis.wgsl)${ctx ? '' : ` — skipped: ${reason}`}`, () => {
  it('agrees with the CPU on W and QCD Ginkgo jets of 4 to 12 leaves', async () => {
    for (const [preset, seed] of [[GINKGO_PRESETS.w, 1], [GINKGO_PRESETS.qcd, 2]] as const) {
      const { jets } = simulateGinkgo({ n: 9, seed, ...preset, minLeaves: 4, maxLeaves: 12 });
      for (const jet of jets) await agree(jet.leaves, preset.model);
    }
  });

  it('agrees with the CPU on the Gaussian-linkage energy (every split allowed)', async () => {
    const r = new PhiloxStream(5, 0);
    const points = Float64Array.from({ length: 10 * 4 }, (_, i) => (i % 4 === 3 ? 0 : r.normal()));
    const { cpu, gpu } = await agree(points, { kind: 'gaussian', sigma: 0.7 });
    expect(gpu.nLeaves).toBe(10);
    expect(Math.abs(gpu.marginals![(1 << 10) - 1]! - 1)).toBeLessThan(P_TOL);
    expect(cpu.nTrees).toBe('34459425'); // (2·10 − 3)!!
  });

  it('handles one and two leaves, and a jet with no allowed hierarchy (log Z = −∞, no MAP tree)', async () => {
    const one = await runTrellisWebGpu(Float64Array.of(10, 1, 2, 3), GINKGO_PRESETS.w.model, { context: ctx });
    expect(one.logZ).toBe(0);
    expect(one.mapTree).toBe(0);
    const { jets } = simulateGinkgo({ n: 1, seed: 3, ...GINKGO_PRESETS.w, minLeaves: 5, maxLeaves: 8 });
    const blocked = { ...GINKGO_PRESETS.w.model, tCut: 1e9 }; // no set may split
    const cpu = runTrellis(jets[0]!.leaves, blocked);
    const gpu = await runTrellisWebGpu(jets[0]!.leaves, blocked, { context: ctx, marginals: true });
    expect(cpu.logZ).toBe(-Infinity);
    expect(gpu.logZ).toBe(-Infinity);
    expect(gpu.mapTree).toBeNull();
    const two = await agree(Float64Array.from(jets[0]!.leaves.slice(0, 2).flat()), { kind: 'gaussian', sigma: 30 });
    expect(two.gpu.mapTree).toEqual([0, 1]);
  });

  it('rejects bad input with the CPU trellis\'s errors', async () => {
    await expect(runTrellisWebGpu(new Float64Array(23 * 4).fill(1), GINKGO_PRESETS.w.model, { context: ctx }))
      .rejects.toSatisfy((e: unknown) => e instanceof SbiError && e.code === 'TOO_MANY_LEAVES');
    await expect(runTrellisWebGpu(new Float64Array(5), GINKGO_PRESETS.w.model, { context: ctx })).rejects.toThrow(/leaves/);
    await expect(runTrellisWebGpu(Float64Array.of(1, 0, 0, 0), { kind: 'nope' } as unknown as TrellisModel, { context: ctx }))
      .rejects.toThrow(/Unknown model kind/);
  });
});
