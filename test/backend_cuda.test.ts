// The optional CUDA addon (src/backend/cuda.ts). What runs depends on the machine, and every
// skipped case says why in its name:
//   - nvcc present: the addon must have been built (`npm run build:cuda`, which CI runs before the
//     tests; this file never builds it). Missing in CI is a failure, elsewhere a skip.
//   - built, no device (CI, this VM: no driver): loading works, every op throws NO_CUDA_DEVICE,
//     arguments are checked before the device.
//   - a device: agreement with the CPU kernels (Philox bit for bit; samplers, simulators and the
//     dense layer within float tolerance). None of these has run yet: no machine with a CUDA
//     device was available when they were written (docs/backends.md says which).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SbiError } from '../src/errors.js';
import { native } from '../src/native.js';
import { cpuBackend, cudaUnavailableReason, selectBackend } from '../src/backend/backend.js';
import {
  CUDA_ADDON_PATH, cudaDenseForward, cudaDeviceCount, cudaMlpForward, cudaMlpGradients, cudaMlpTrain, cudaPhiloxBlocks, cudaSample,
  cudaSamplerFill, cudaSimulate, cudaTrellis, loadCudaBackend, type CudaBackend,
} from '../src/backend/cuda.js';
import {
  cudaManifoldFlowLogProb, cudaManifoldFlowSample, cudaPhi4Action, cudaPhi4FlowSample, cudaU1Action, cudaU1FlowSample,
  cudaPhi4FlowLogProb, cudaU1FlowLogProb,
} from '../src/backend/cuda.js';
import { CudaBackendImpl } from '../src/backend/backend.js';
import { ManifoldFlow, type ManifoldFlowOptions } from '../src/manifold/flow.js';
import { Phi4Flow } from '../src/lattice/flow.js';
import { U1Flow } from '../src/lattice/u1_flow.js';
import { PhiloxStream } from '../src/random/philox.js';
import { runTrellis } from '../src/trellis/trellis.js';
import { cpuMlpForward, cpuMlpGradients } from '../src/backend/mlp_cpu.js';
import { getTask, listTasks } from '../src/tasks/index.js';

const onPath = (name: string) =>
  (process.env.PATH ?? '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, name)));
const nvcc = onPath('nvcc') || fs.existsSync('/usr/local/cuda/bin/nvcc');
const built = fs.existsSync(CUDA_ADDON_PATH);
const backend: CudaBackend | undefined = built ? loadCudaBackend() : undefined;
const hasDevice = (backend?.deviceCount ?? 0) > 0;
const noBuildReason = nvcc ? 'nvcc found but the addon is not built: run `npm run build:cuda`' : 'no nvcc on this machine';

/** Expects fn to throw an SbiError with `code` whose message matches `message`. */
function expectSbiError(fn: () => unknown, code: string, message: RegExp) {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SbiError);
  expect((error as SbiError).code).toBe(code);
  expect((error as SbiError).message).toMatch(message);
}

describe('CUDA addon build', () => {
  it.skipIf(!nvcc || (!built && !process.env.CI))(
    `exists wherever nvcc does (CI builds it before the tests)${!nvcc ? ' — skipped: no nvcc' : !built && !process.env.CI ? ` — skipped: ${noBuildReason}` : ''}`,
    () => {
      expect(built, `${CUDA_ADDON_PATH} is missing although nvcc exists: CI must run \`npm run build:cuda\` before \`npm test\``).toBe(true);
      expect(fs.statSync(CUDA_ADDON_PATH).size).toBeGreaterThan(0);
    },
  );

  it.skipIf(built)(`when not built, says how to build it${built ? ' — skipped: the addon is built' : ''}`, () => {
    expectSbiError(() => loadCudaBackend(), 'BACKEND_UNAVAILABLE', /npm run build:cuda/);
    expectSbiError(() => cudaDeviceCount(), 'BACKEND_UNAVAILABLE', /npm run build:cuda/);
  });
});

const seeded = { seed: 2024, streamOffset: 5 };
// A 3 → 5 → 2 MLP: 32 parameters.
const mlp = { sizes: [3, 5, 2], activation: 'tanh' as const };
const mlpBatch = { x: new Float32Array(12), target: new Float32Array(8) };
const adam = { loss: 'mse' as const, adam: { lr: 1e-3 } };
const gaussian = { kind: 'gaussian' as const, sigma: 0.8 };
/** k points in R^4 (trellis leaves) from Philox normals. */
const points = (k: number) => {
  const v = new Float64Array(4 * k);
  native.sample('normal', Float64Array.of(0, 1), v.length, 11, 0, v);
  return v;
};

describe.skipIf(!built || hasDevice)(
  `CUDA without a device${!built ? ` — skipped: ${noBuildReason}` : hasDevice ? ' — skipped: this machine has a CUDA device' : ''}`,
  () => {
    it('loads and reports no device, with CUDA\'s reason', () => {
      expect(backend!.deviceCount).toBe(0);
      expect(cudaDeviceCount()).toBe(0);
      expect(backend!.device.error).toMatch(/^no CUDA device: cudaGetDeviceCount: /);
      // every native simulator but ginkgo (a whole-batch tree sampler), with the CPU's dimensions
      const cpu = new Map(native.simulators().map((s) => [s.name, s]));
      expect(backend!.simulators.map((s) => s.name).sort()).toEqual([...cpu.keys()].filter((n) => n !== 'ginkgo').sort());
      for (const s of backend!.simulators) {
        const c = cpu.get(s.name)!;
        expect({ thetaDim: s.thetaDim, xDim: s.xDim, designDim: s.designDim }, s.name).toEqual({ thetaDim: c.thetaDim, xDim: c.xDim, designDim: c.designDim });
      }
    });

    it('the Backend interface refuses cuda with CUDA\'s reason, and auto does not pick it', async () => {
      const err = await selectBackend('cuda').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SbiError);
      expect((err as SbiError).code).toBe('BACKEND_UNAVAILABLE');
      expect((err as SbiError).message).toMatch(/^--backend cuda: the CUDA addon is built but no CUDA device: /);
      expect(cudaUnavailableReason()).toMatch(/no CUDA device/);
      expect((await selectBackend('auto')).name).not.toBe('cuda');
    });

    it('fails every op with SbiError NO_CUDA_DEVICE, not a crash', () => {
      const noDevice = /^no CUDA device: /;
      expectSbiError(() => cudaPhiloxBlocks(1n, 0n, 0n, 4), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaSample({ kind: 'normal', loc: 0, scale: 1 }, 10, seeded), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaSamplerFill('uniform', 1, 2, 5), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaSamplerFill('normal', 1, 2, 6), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaSimulate('two_moons', new Float64Array(6), 3, seeded), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaSimulate('weinberg', Float64Array.of(0.23), 1, { ...seeded, design: Float64Array.of(91) }), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaSimulate('sir', Float64Array.of(0.4, 0.1), 1, seeded), 'NO_CUDA_DEVICE', noDevice);
      const f = (k: number) => new Float32Array(k);
      expectSbiError(() => cudaDenseForward('tanh', 2, 3, 4, f(6), f(12), f(4), f(8)), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMlpForward(mlp, f(32), f(12), 4), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMlpGradients(mlp, f(32), f(12), f(8), 4), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMlpTrain(mlp, f(32), [mlpBatch, mlpBatch], adam), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaTrellis(points(5), gaussian), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaTrellis(points(5), gaussian, { marginals: true }), 'NO_CUDA_DEVICE', noDevice);
    });

    it('checks arguments before the device, naming them', () => {
      expect(() => cudaPhiloxBlocks(-1, 0n, 0n, 4)).toThrow(/`seed`/);
      expect(() => cudaPhiloxBlocks(1, 0n, 0n, 0)).toThrow(/`blocks`/);
      expect(() => cudaSample({ kind: 'uniform', low: 1, high: 0 }, 10, seeded)).toThrow(/low < high/);
      expect(() => cudaSample({ kind: 'normal', loc: 0, scale: -1 }, 10, seeded)).toThrow(/positive standard deviation/);
      expectSbiError(() => cudaSample({ kind: 'gamma', shape: 1, rate: 1 }, 10, seeded), 'UNSUPPORTED_OP', /"uniform" and "normal"/);
      expect(() => cudaSamplerFill('normal', 1, 2, 5)).toThrow(/even `n`/);
      expect(() => cudaSamplerFill('uniform', 1, 2, 0)).toThrow(/`n`/);
      expect(() => cudaSamplerFill('uniform', -1, 2, 4)).toThrow(/`seed`/);
      expect(() => cudaSamplerFill('uniform', 1, -2, 4)).toThrow(/`stream`/);
      expect(() => cudaSamplerFill('gamma' as 'uniform', 1, 2, 4)).toThrow(/`distribution`/);
      expectSbiError(() => cudaSimulate('ginkgo', new Float64Array(2), 1, seeded), 'UNKNOWN_SIMULATOR', /two_moons/);
      expect(() => cudaSimulate('weinberg', Float64Array.of(0.23), 1, seeded)).toThrow(/weinberg needs `design` \(1 values\)/);
      expect(() => cudaSimulate('weinberg', Float64Array.of(0.23), 1, { ...seeded, design: Float64Array.of(91, 1) })).toThrow(/`design`/);
      expect(() => cudaSimulate('weinberg', Float64Array.of(0.23), 1, { ...seeded, design: Float64Array.of(NaN) })).toThrow(/finite values in `design`/);
      expectSbiError(() => cudaSimulate('two_moons', new Float64Array(2), 1, { ...seeded, design: Float64Array.of(1) }), 'NO_DESIGN', /no design variables/);
      expect(() => cudaSimulate('two_moons', new Float64Array(5), 3, seeded)).toThrow(/`theta` to have 6 elements but received 5/);
      expect(() => cudaSimulate('two_moons', Float64Array.of(0, NaN), 1, seeded)).toThrow(/finite values in `theta`/);
      const f = (k: number) => new Float32Array(k);
      expect(() => cudaDenseForward('tanh', 2, 3, 4, f(6), f(11), f(4), f(8))).toThrow(/`w`/);
      expect(() => cudaDenseForward('swish' as 'tanh', 2, 3, 4, f(6), f(12), f(4), f(8))).toThrow(/`activation`/);
      expect(() => cudaDenseForward('silu', 2, 3, 4, f(6), f(12), f(4), f(8))).toThrow(/`pre`/);
      expect(() => cudaMlpForward({ sizes: [3], activation: 'tanh' }, f(32), f(12), 4)).toThrow(/`sizes`/);
      expect(() => cudaMlpForward({ sizes: [3, 5, 2], activation: 'gelu' as 'tanh' }, f(32), f(12), 4)).toThrow(/`activation`/);
      expect(() => cudaMlpForward(mlp, f(31), f(12), 4)).toThrow(/32 elements in `params` but received 31/);
      expect(() => cudaMlpForward(mlp, f(32), f(11), 4)).toThrow(/`x`/);
      expect(() => cudaMlpForward(mlp, f(32), f(12), 0)).toThrow(/`n`/);
      expect(() => cudaMlpGradients(mlp, f(32), f(12), f(7), 4)).toThrow(/`dout`/);
      expect(() => cudaMlpTrain(mlp, f(32), [], adam)).toThrow(/`batches`/);
      expect(() => cudaMlpTrain(mlp, f(32), [{ x: f(13), target: f(8) }], adam)).toThrow(/`batches\[0\]\.x`/);
      expect(() => cudaMlpTrain(mlp, f(32), [mlpBatch, { x: f(12), target: f(9) }], adam)).toThrow(/`batches\[1\]\.target`/);
      expect(() => cudaMlpTrain(mlp, f(32), [mlpBatch], { loss: 'hinge' as 'mse', adam: { lr: 1e-3 } })).toThrow(/`loss`/);
      expectSbiError(() => cudaTrellis(points(23), gaussian), 'TOO_MANY_LEAVES', /at most 22 leaves/);
      expect(() => cudaTrellis(new Float64Array(5), gaussian)).toThrow(/`leaves`/);
      expectSbiError(() => cudaTrellis(points(3), { kind: 'ward' } as unknown as typeof gaussian), 'UNKNOWN_ENERGY', /ginkgo, gaussian/);
      expect(() => cudaTrellis(points(3), { kind: 'gaussian', sigma: 0 })).toThrow(/sigma in \(1e-150, 1e150\)/);
      expect(() => cudaTrellis(Float64Array.of(1, 2, 3, NaN), gaussian)).toThrow(/finite values in `leaves`/);
      // the native side re-checks what the wrapper passes on (Adam's options)
      expect(() => cudaMlpTrain(mlp, f(32), [mlpBatch], { loss: 'mse', adam: { lr: -1 } })).toThrow(/`lr`/);
    });
  },
);

// The lattice and manifold-flow ops (kernels/lattice/*.cu, kernels/manifold/flow.cu): small flows
// moved away from their initialisation by 0.1·N(0, 1), the same on every backend.
function perturbed<F extends { params: Float64Array }>(flow: F, stream: bigint): F {
  const r = new PhiloxStream(2024, stream);
  for (let i = 0; i < flow.params.length; i++) flow.params[i]! += 0.1 * r.normal();
  return flow;
}
const phi4Flow = (L: number, architecture: Partial<Phi4Flow['architecture']>) => perturbed(Phi4Flow.init({ L, m2: -4, lambda: 8 }, architecture, 3), 31n);
const u1Flow = (L: number, architecture: Partial<U1Flow['architecture']>) => perturbed(U1Flow.init({ L, beta: 2 }, architecture, 3), 32n);
const manifoldFlow = (spec: ManifoldFlowOptions) => perturbed(new ManifoldFlow(spec, 3), 33n);
const LATTICE_OPS = [
  'lattice.phi4_action', 'lattice.u1_action', 'lattice.phi4_flow_sample', 'lattice.u1_flow_sample', 'lattice.phi4_flow_log_prob', 'lattice.u1_flow_log_prob',
] as const;
const MANIFOLD_OPS = ['manifold.flow_log_prob', 'manifold.flow_sample'] as const;

describe.skipIf(!built || hasDevice)(
  `CUDA lattice and manifold-flow ops without a device${!built ? ` — skipped: ${noBuildReason}` : hasDevice ? ' — skipped: this machine has a CUDA device' : ''}`,
  () => {
    const noDevice = /^no CUDA device: /;
    const smallPhi4 = () => phi4Flow(4, { layers: 2, hidden: 2, depth: 1 });
    const smallU1 = () => u1Flow(4, { layers: 2, hidden: 2, depth: 1, components: 2 });
    const torus = () => manifoldFlow({ space: 'torus', dim: 2, layers: 2, hidden: 4 });
    const sphere = () => manifoldFlow({ space: 'sphere', dim: 2, layers: 2, hidden: 4 });

    it('the CUDA backend claims the eight ops; the flow ops of other launchers keep their reason', () => {
      const cuda = new CudaBackendImpl(backend!);
      for (const op of [...LATTICE_OPS, ...MANIFOLD_OPS]) expect(cuda.supportsOp(op), op).toBe(true);
      expect(cuda.supportsOp('flow.maf_train')).toEqual({ reason: expect.stringMatching(/no CUDA launcher/) });
      expect(cuda.supportsOp('lattice.phi4_flow_train')).toEqual({ reason: expect.stringMatching(/no CUDA launcher/) });
    });

    it('every op reaches the addon through the Backend interface and fails with NO_CUDA_DEVICE, not UNSUPPORTED_OP', async () => {
      const cuda = new CudaBackendImpl(backend!);
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['phi4Action', () => cuda.phi4Action({ L: 4, m2: -4, lambda: 8 }, new Float64Array(32))],
        ['u1Action', () => cuda.u1Action({ L: 4, beta: 2 }, new Float64Array(64))],
        ['phi4FlowSample', () => cuda.phi4FlowSample(smallPhi4(), { n: 3, seed: 1 })],
        ['phi4FlowSample symmetric', () => cuda.phi4FlowSample(smallPhi4(), { n: 3, seed: 1, offset: 7, symmetric: true, keepPhi: false })],
        ['u1FlowSample', () => cuda.u1FlowSample(smallU1(), { n: 3, seed: 1 })],
        ['phi4FlowLogProb', () => cuda.phi4FlowLogProb(smallPhi4(), new Float64Array(2 * 16).fill(0.5))],
        ['u1FlowLogProb', () => cuda.u1FlowLogProb(smallU1(), new Float64Array(3 * 32).fill(1))],
        ['manifoldFlowSample', () => cuda.manifoldFlowSample(torus(), 5, 1, 2n ** 62n)],
        ['manifoldFlowLogProb', () => cuda.manifoldFlowLogProb(sphere(), Float64Array.of(0, 0, 1, 1, 0, 0))],
      ];
      for (const [name, call] of calls) {
        const err = await call().then(() => undefined, (e: unknown) => e);
        expect(err, name).toBeInstanceOf(SbiError);
        expect((err as SbiError).code, name).toBe('NO_CUDA_DEVICE');
        expect((err as SbiError).message, name).toMatch(noDevice);
      }
    });

    it('checks arguments before the device, naming them (TypeScript first, the addon again)', () => {
      const phi4 = { L: 4, m2: -4, lambda: 8 };
      expect(() => cudaPhi4Action(phi4, new Float64Array(15))).toThrow(/`phi`/);
      expect(() => cudaPhi4Action(phi4, new Float32Array(16) as unknown as Float64Array)).toThrow(/Float64Array for `phi`/);
      expect(() => cudaPhi4Action({ ...phi4, m2: NaN }, new Float64Array(16))).toThrow(/m2/);
      expect(() => cudaU1Action({ L: 4, beta: 2 }, new Float64Array(33))).toThrow(/`theta`/);
      // TypeScript does not scan the values: the addon rejects a non-finite one, naming it
      expect(() => cudaPhi4Action(phi4, new Float64Array(16).fill(NaN, 3, 4))).toThrow(/finite values in `phi` but `phi\[3\]` is -?nan/);
      expect(() => cudaU1Action({ L: 4, beta: 2 }, new Float64Array(32).fill(Infinity, 31))).toThrow(/finite values in `theta`/);
      expect(() => cudaPhi4FlowSample(smallPhi4(), { n: 0, seed: 1 })).toThrow(/`n`/);
      expect(() => cudaPhi4FlowSample(smallPhi4(), { n: 2, seed: -1 })).toThrow(/seed/);
      expect(() => cudaPhi4FlowSample({} as Phi4Flow, { n: 2, seed: 1 })).toThrow(/Phi4Flow for `flow`/);
      expect(() => cudaU1FlowSample(smallU1(), { n: 2, seed: 1, symmetric: true })).toThrow(/`symmetric`/);
      expect(() => cudaU1FlowSample(smallPhi4() as unknown as U1Flow, { n: 2, seed: 1 })).toThrow(/U1Flow for `flow`/);
      // parameters changed after construction: the addon re-checks them
      const badPhi4 = smallPhi4();
      badPhi4.params[5] = NaN;
      expect(() => cudaPhi4FlowSample(badPhi4, { n: 2, seed: 1 })).toThrow(/finite values in `params` but `params\[5\]`/);
      const badU1 = smallU1();
      badU1.params[0] = Infinity;
      expect(() => cudaU1FlowSample(badU1, { n: 2, seed: 1 })).toThrow(/finite values in `params`/);
      // the inverse passes (lattice.phi4_flow_log_prob, lattice.u1_flow_log_prob)
      expect(() => cudaPhi4FlowLogProb(smallPhi4(), new Float64Array(17))).toThrow(/`phi` to hold one or more configurations of 16 sites but it has 17/);
      expect(() => cudaPhi4FlowLogProb(smallPhi4(), new Float64Array(0))).toThrow(/`phi`/);
      expect(() => cudaPhi4FlowLogProb(smallPhi4(), [0, 1] as unknown as Float64Array)).toThrow(/Float64Array for `phi`/);
      expect(() => cudaPhi4FlowLogProb(smallU1() as unknown as Phi4Flow, new Float64Array(16))).toThrow(/Phi4Flow for `flow`/);
      expect(() => cudaPhi4FlowLogProb(smallPhi4(), new Float64Array(32).fill(NaN, 20, 21))).toThrow(/finite values in `phi` but `phi\[20\]`/);
      expect(() => cudaPhi4FlowLogProb(badPhi4, new Float64Array(16))).toThrow(/finite values in `params` but `params\[5\]`/);
      expect(() => cudaU1FlowLogProb(smallU1(), new Float64Array(33))).toThrow(/`theta` to hold one or more configurations of 2·L·L = 32 link angles but it has 33/);
      expect(() => cudaU1FlowLogProb(smallPhi4() as unknown as U1Flow, new Float64Array(32))).toThrow(/U1Flow for `flow`/);
      expect(() => cudaU1FlowLogProb(smallU1(), new Float64Array(32).fill(-Infinity, 7, 8))).toThrow(/finite values in `theta` but `theta\[7\]`/);
      expect(() => cudaU1FlowLogProb(badU1, new Float64Array(32))).toThrow(/finite values in `params`/);
      expect(() => cudaManifoldFlowSample(torus(), 0, 1)).toThrow(/`n`/);
      expect(() => cudaManifoldFlowSample(torus(), 3, 1, -1)).toThrow(/`stream`/);
      expect(() => cudaManifoldFlowLogProb(torus(), new Float64Array(3))).toThrow(/rows of 2 values/);
      expect(() => cudaManifoldFlowLogProb(torus(), Float64Array.of(0, NaN))).toThrow(/finite values in `x`/);
      expect(() => cudaManifoldFlowLogProb(sphere(), Float64Array.of(0, 0, 3))).toThrow(/unit vectors in `x` but row 0 has norm 3/);
      expect(() => cudaManifoldFlowLogProb(torus(), [0, 1] as unknown as Float64Array)).toThrow(/Float64Array for `x`/);
      const badTorus = torus();
      badTorus.params[2] = NaN;
      expect(() => cudaManifoldFlowSample(badTorus, 3, 1)).toThrow(/finite values in `params`/);
    });
  },
);

/** max |a − b| / (1 + |b|) over the arrays (NaN where either is NaN and the other is not). */
function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  }
  return worst;
}

describe.skipIf(!hasDevice)(
  `CUDA agreement with the CPU${hasDevice ? ` on ${backend!.device.description}` : ` — skipped: ${!built ? noBuildReason : backend!.device.error}`}`,
  () => {
    it('is the backend auto picks, and says which ops it runs', async () => {
      const b = await selectBackend('cuda');
      expect(b.name).toBe('cuda');
      expect((await selectBackend('auto')).name).toBe('cuda');
      expect(b.supportsOp('philox.blocks')).toBe(true);
      expect(b.supportsOp('simulate.two_moons')).toBe(true);
      expect(b.supportsOp('sampler.uniform')).toBe(true);
      expect(b.supportsOp('sampler.normal')).toBe(true);
      expect(b.supportsOp('simulate.sir')).toBe(true);
      expect(b.supportsOp('trellis.marginals')).toBe(true);
      expect(b.supportsOp('flow.maf_sample')).toBe(true);
      expect(b.supportsOp('flow.maf_train')).toEqual({ reason: expect.stringMatching(/no CUDA launcher/) });
    });

    it('Philox: the Random123 known-answer vectors and the CPU\'s bits across the counter carry', async () => {
      const cases: Array<[bigint, bigint, bigint, number[]]> = [
        [0n, 0n, 0n, [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
        [(1n << 64n) - 1n, (1n << 64n) - 1n, (1n << 64n) - 1n, [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
        [0x299f31d0a4093822n, 0x0370734413198a2en, 0x85a308d3243f6a88n, [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
      ];
      for (const [seed, stream, block, out] of cases) expect(Array.from(cudaPhiloxBlocks(seed, stream, block, 1))).toEqual(out);
      const seed = 0x0123456789abcdefn, stream = 77n, first = (1n << 32n) - 1000n, blocks = 100_003;
      const gpu = cudaPhiloxBlocks(seed, stream, first, blocks);
      const cpu = await cpuBackend.philoxBlocks(seed, stream, first, blocks);
      let mismatches = 0;
      for (let i = 0; i < cpu.length; i++) if (gpu[i] !== cpu[i]) mismatches++;
      expect(mismatches).toBe(0);
    });

    it('uniform and normal samplers agree with the CPU (same streams, float64)', () => {
      const n = 100_000;
      for (const [d, name, params] of [
        [{ kind: 'uniform', low: -2, high: 3 }, 'uniform', [-2, 3]],
        [{ kind: 'normal', loc: 1.5, scale: 0.25 }, 'normal', [1.5, 0.25]],
      ] as const) {
        const gpu = cudaSample(d, n, seeded);
        const cpu = new Float64Array(n);
        native.sample(name, Float64Array.from(params), n, seeded.seed, seeded.streamOffset, cpu);
        // Both compute without contractions from the same bits; 1e-14 allows for a last-bit difference.
        expect(maxRelativeError(gpu, cpu)).toBeLessThan(1e-14);
      }
    });

    it('the single-stream fills agree with the CPU\'s samplerFill (float64, same words)', async () => {
      for (const n of [1, 2, 7, 65_537]) {
        const gpu = cudaSamplerFill('uniform', 0x5eedn, 3n, n);
        expect(maxRelativeError(gpu, await cpuBackend.sampleUniform(0x5eedn, 3n, n)), `uniform ${n}`).toBe(0);
      }
      // whole and partial groups of 4 pairs (3 blocks)
      for (const n of [2, 6, 8, 10, 65_538]) {
        const gpu = cudaSamplerFill('normal', 0x5eedn, 3n, n);
        // vlog / vsincos_2pi and sqrt without contractions on both sides; 1e-14 allows a last-bit difference
        expect(maxRelativeError(gpu, await cpuBackend.sampleNormal(0x5eedn, 3n, n)), `normal ${n}`).toBeLessThan(1e-14);
      }
    });

    it('every simulator agrees with the CPU on its tasks\' priors (float32 outputs)', () => {
      const n = 4099;
      for (const s of backend!.simulators) {
        for (const def of listTasks().filter((t) => t.simulator === s.name)) {
          const task = getTask(def.name);
          const theta = task.prior.sample(n, { seed: 7 });
          const design = task.defaultDesign.length > 0 ? { design: task.defaultDesign } : {};
          const gpu = cudaSimulate(s.name, theta, n, { ...seeded, ...design });
          const x = new Float32Array(n * s.xDim);
          const failed = new Uint8Array(n);
          const cpuFailed = native.simulate({ name: s.name, theta, n, seed: seeded.seed, streamOffset: seeded.streamOffset, ...design, x, failed });
          expect(gpu.failedCount, def.name).toBe(cpuFailed);
          expect(Array.from(gpu.failed), def.name).toEqual(Array.from(failed));
          // Same expressions and draws in double; CUDA's exp / log / pow / cbrt may differ from glibc's
          // by an ulp, which moves an ODE step size or a rejection / inversion test that sits on a
          // tie: such rows (and only they) may differ beyond float rounding.
          let discordant = 0;
          for (let i = 0; i < n; i++) {
            const row = (a: Float32Array) => a.subarray(i * s.xDim, (i + 1) * s.xDim);
            if (maxRelativeError(row(gpu.x), row(x)) > 1e-6) discordant++;
          }
          expect(discordant, `${def.name}: rows beyond 1e-6`).toBeLessThanOrEqual(Math.ceil(1e-3 * n));
        }
      }
    });

    it('the MLP forward and gradients equal the CPU\'s (the sums run in the CPU\'s order)', () => {
      for (const activation of ['identity', 'relu', 'tanh', 'elu', 'silu'] as const) {
        const spec = { sizes: [7, 70, 33, 3], activation };
        const n = 131;
        const rand = (k: number, seed: number) => {
          const v = new Float64Array(k);
          native.sample('normal', Float64Array.of(0, 0.3), k, seed, 0, v);
          return Float32Array.from(v);
        };
        const params = rand(7 * 70 + 70 + 70 * 33 + 33 + 33 * 3 + 3, 1), x = rand(n * 7, 2), dout = rand(n * 3, 3);
        // tanh / elu / silu use vecmath.h's polynomials on both sides; 1e-6 allows a last-bit difference
        expect(maxRelativeError(cudaMlpForward(spec, params, x, n), cpuMlpForward(spec, params, x, n)), activation).toBeLessThan(1e-6);
        expect(maxRelativeError(cudaMlpGradients(spec, params, x, dout, n), cpuMlpGradients(spec, params, x, dout, n)), activation).toBeLessThan(1e-5);
      }
    });

    it('the trellis passes agree with the CPU (double), from one leaf to 13', () => {
      for (const k of [1, 2, 3, 13]) {
        const gpu = cudaTrellis(points(k), gaussian, { marginals: true });
        const cpu = runTrellis(points(k), gaussian, { marginals: true });
        expect(maxRelativeError([gpu.logZ, gpu.mapLogLH], [cpu.logZ, cpu.mapLogLH]), `${k} leaves`).toBeLessThan(1e-12);
        expect(gpu.mapTree, `${k} leaves`).toEqual(cpu.mapTree);
        expect(maxRelativeError(gpu.marginals!, cpu.marginals!), `${k} leaves`).toBeLessThan(1e-12);
      }
    });

    it('the dense layer agrees with the CPU in float32 and float64, for every activation', () => {
      const n = 37, inDim = 70, outDim = 19; // past one 64-deep panel and one 16-wide tile
      for (const act of ['identity', 'relu', 'tanh', 'elu', 'silu'] as const) {
        for (const T of [Float32Array, Float64Array]) {
          const rand = (k: number, seed: number) => {
            const v = new Float64Array(k);
            native.sample('normal', Float64Array.of(0, 0.5), k, seed, 0, v);
            return T.from(v);
          };
          const x = rand(n * inDim, 1), w = rand(outDim * inDim, 2), b = rand(outDim, 3);
          const y = new T(n * outDim), pre = new T(n * outDim), yc = new T(n * outDim), prec = new T(n * outDim);
          cudaDenseForward(act, n, inDim, outDim, x, w, b, y, pre);
          native.nnDenseForward(act, n, inDim, outDim, x, w, b, yc, prec);
          const tol = T === Float32Array ? 1e-5 : 1e-13;
          expect(maxRelativeError(y, yc), `${act} ${T.name}`).toBeLessThan(tol);
          expect(maxRelativeError(pre, prec), `${act} ${T.name}`).toBeLessThan(tol);
        }
      }
    });

    it('the lattice actions agree with the CPU (double: the CPU\'s functions, one thread per configuration)', async () => {
      for (const [L, n] of [[8, 33], [5, 7], [12, 5]] as const) {
        const r = new PhiloxStream(2024, 40n);
        const phi = Float64Array.from({ length: n * L * L }, () => 1.5 * r.normal());
        for (const c of [{ L, m2: -4, lambda: 8 }, { L, m2: 0.5, lambda: 0.1 }]) {
          const gpu = cudaPhi4Action(c, phi), cpu = await cpuBackend.phi4Action(c, phi);
          // the same IEEE operations in the same order, without contractions on either side
          expect(maxRelativeError(gpu.action, cpu.action), `phi4 L ${L} S`).toBeLessThan(1e-13);
          expect(maxRelativeError(gpu.grad, cpu.grad), `phi4 L ${L} dS/dphi`).toBeLessThan(1e-13);
        }
        const theta = Float64Array.from({ length: n * 2 * L * L }, () => 3 * Math.PI * (2 * r.uniform() - 1));
        const gpu = cudaU1Action({ L, beta: 0.7 }, theta), cpu = await cpuBackend.u1Action({ L, beta: 0.7 }, theta);
        // CUDA's cos / sin may differ from glibc's by an ulp
        expect(maxRelativeError(gpu.action, cpu.action), `u1 L ${L} S`).toBeLessThan(1e-12);
        expect(maxRelativeError(gpu.grad, cpu.grad), `u1 L ${L} dS/dtheta`).toBeLessThan(1e-12);
        expect(Array.from(gpu.charge), `u1 L ${L} Q`).toEqual(Array.from(cpu.charge));
      }
    });

    it('the lattice flows\' draws agree with the CPU sampler (double, the same Philox words; φ⁴ symmetrised too)', async () => {
      const phi4Cases = [
        [phi4Flow(8, {}), false], [phi4Flow(7, { layers: 4, hidden: 4, depth: 1, kernel: 5 }), false],
        [phi4Flow(8, {}), true], [phi4Flow(6, { layers: 3, hidden: 2, depth: 0 }), true],
      ] as const;
      for (const [flow, symmetric] of phi4Cases) {
        const options = { n: 67, seed: 2024, offset: 5, symmetric };
        const gpu = cudaPhi4FlowSample(flow, options), cpu = await cpuBackend.phi4FlowSample(flow, options);
        const label = `L ${flow.coupling.L}, ${JSON.stringify(flow.architecture)}${symmetric ? ', symmetric' : ''}`;
        // CUDA's exp / tanh / log1p may differ from glibc's by an ulp, which the coupling layers carry along
        for (const k of ['phi', 'logq', 'action', 'magnetization'] as const) expect(maxRelativeError(gpu[k]!, cpu[k]!), `${label} ${k}`).toBeLessThan(1e-9);
      }
      for (const flow of [u1Flow(8, {}), u1Flow(4, { layers: 4, hidden: 4, depth: 1, kernel: 5, components: 3 })]) {
        const options = { n: 41, seed: 2024, offset: 5 };
        const gpu = cudaU1FlowSample(flow, options), cpu = await cpuBackend.u1FlowSample(flow, options);
        const label = `L ${flow.coupling.L}, ${JSON.stringify(flow.architecture)}`;
        // links in [0, 2π): compared on the circle
        expect(maxRelativeError(gpu.theta!.map(Math.cos), cpu.theta!.map(Math.cos)), `${label} cos theta'`).toBeLessThan(1e-9);
        expect(maxRelativeError(gpu.theta!.map(Math.sin), cpu.theta!.map(Math.sin)), `${label} sin theta'`).toBeLessThan(1e-9);
        expect(maxRelativeError(gpu.logq, cpu.logq), `${label} log q`).toBeLessThan(1e-9);
        expect(maxRelativeError(gpu.action, cpu.action), `${label} S`).toBeLessThan(1e-9);
        expect(Array.from(gpu.charge), `${label} Q`).toEqual(Array.from(cpu.charge));
      }
    });

    it('the lattice flows\' inverse passes agree with the CPU (double: one thread per configuration, the CPU\'s functions)', async () => {
      // given configurations: the CPU sampler's draws (then z ≈ the draws' base points) and, for φ⁴, wide normals
      for (const flow of [phi4Flow(8, {}), phi4Flow(7, { layers: 4, hidden: 4, depth: 1, kernel: 5 }), phi4Flow(6, { layers: 3, hidden: 2, depth: 0 })]) {
        const drawn = (await cpuBackend.phi4FlowSample(flow, { n: 67, seed: 2024, offset: 5 })).phi!;
        const r = new PhiloxStream(2024, 41n);
        const wide = Float64Array.from({ length: 13 * flow.sites }, () => 2 * r.normal());
        for (const [what, phi] of [['draws', drawn], ['normals', wide]] as const) {
          const gpu = cudaPhi4FlowLogProb(flow, phi), cpu = await cpuBackend.phi4FlowLogProb(flow, phi);
          const label = `L ${flow.coupling.L}, ${JSON.stringify(flow.architecture)}, ${what}`;
          // CUDA's exp / tanh may differ from glibc's by an ulp, which the coupling layers carry along
          expect(maxRelativeError(gpu.z, cpu.z), `${label} z`).toBeLessThan(1e-9);
          expect(maxRelativeError(gpu.logq, cpu.logq), `${label} log q`).toBeLessThan(1e-9);
        }
      }
      for (const flow of [u1Flow(8, {}), u1Flow(4, { layers: 4, hidden: 4, depth: 1, kernel: 5, components: 3 })]) {
        const drawn = (await cpuBackend.u1FlowSample(flow, { n: 41, seed: 2024, offset: 5 })).theta!;
        const r = new PhiloxStream(2024, 42n);
        const links = 2 * flow.coupling.L * flow.coupling.L;
        const haar = Float64Array.from({ length: 9 * links }, () => 2 * Math.PI * r.uniform());
        for (const [what, theta] of [['draws', drawn], ['Haar links', haar]] as const) {
          const gpu = cudaU1FlowLogProb(flow, theta), cpu = await cpuBackend.u1FlowLogProb(flow, theta);
          const label = `L ${flow.coupling.L}, ${JSON.stringify(flow.architecture)}, ${what}`;
          // z on the circle (Newton's iterates may round differently with CUDA's sin / cos / atan2)
          expect(maxRelativeError(gpu.z.map(Math.cos), cpu.z.map(Math.cos)), `${label} cos z`).toBeLessThan(1e-9);
          expect(maxRelativeError(gpu.z.map(Math.sin), cpu.z.map(Math.sin)), `${label} sin z`).toBeLessThan(1e-9);
          expect(maxRelativeError(gpu.logq, cpu.logq), `${label} log q`).toBeLessThan(1e-9);
        }
      }
    });

    it('the manifold flows\' draws and log q agree with the CPU (double: one thread per row, the CPU\'s functions)', async () => {
      const specs: ManifoldFlowOptions[] = [
        { space: 'torus', dim: 2 }, { space: 'torus', dim: 3, layers: 2, conditioner: 'autoregressive' },
        { space: 'torus', dim: 2, circleTransform: 'moebius', components: 3 }, { space: 'torus', dim: 3, circleTransform: 'ncp' },
        { space: 'sphere', dim: 2, bins: 16 }, { space: 'sphere', dim: 3, layers: 2, circleTransform: 'ncp' },
      ];
      // more rows than one CPU chunk (32) and not a multiple of it; a stream above 2^32
      const n = 1031, stream = (1n << 33n) + 5n;
      for (const spec of specs) {
        const flow = manifoldFlow(spec);
        const label = JSON.stringify(spec);
        const gpu = cudaManifoldFlowSample(flow, n, 2024, stream), cpu = await cpuBackend.manifoldFlowSample(flow, n, 2024, stream);
        // angles compared on the circle; CUDA's sin / cos / atan2 / exp / log may differ from glibc's by an ulp
        const circle = spec.space === 'torus' ? [Math.cos, Math.sin] : [(v: number) => v];
        for (const f of circle) expect(maxRelativeError(gpu.x.map(f), cpu.x.map(f)), `${label} points`).toBeLessThan(1e-9);
        expect(maxRelativeError(gpu.logProb, cpu.logProb), `${label} log q of the draws`).toBeLessThan(1e-9);
        // log q of given points (the CPU's draws), through the inverse pass
        expect(maxRelativeError(cudaManifoldFlowLogProb(flow, cpu.x), await cpuBackend.manifoldFlowLogProb(flow, cpu.x)), `${label} log q`).toBeLessThan(1e-9);
      }
    });
  },
);
