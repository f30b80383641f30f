// The CUDA launchers of the density estimators' ops (src/backend/cuda_flows.ts: flow.maf_log_prob,
// flow.maf_sample for MAF and NSF, flow.mdn_log_prob, flow.mdn_sample, flow.mdn_train,
// nre.log_ratio, nre.train). What runs
// depends on the machine, and every skipped case says why in its name:
//   - always: the CUDA backend's op table claims these seven ops and gives a reason for the rest;
//   - built, no device (this VM): each op checks its arguments with the CPU's messages, then fails
//     with SbiError NO_CUDA_DEVICE;
//   - a device: the ops agree with the CPU backend on rows spread over many thread blocks. Not run
//     yet: no machine with a CUDA device was available when this was written.
// test/backend_ops.test.ts runs the same ops against the CPU under the op table's tolerances.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SbiError } from '../src/errors.js';
import { MAF } from '../src/flows/maf.js';
import { MDN } from '../src/flows/mdn.js';
import { PhiloxStream } from '../src/random/philox.js';
import { OPS, cpuBackend, cudaOpSupport, selectBackend, type OpName } from '../src/backend/backend.js';
import { CUDA_ADDON_PATH, loadCudaBackend } from '../src/backend/cuda.js';
import {
  cudaMafLogProb, cudaMafSample, cudaMdnLogProb, cudaMdnSample, cudaMdnTrainSteps, cudaNreLogRatio, cudaNreTrainSteps,
} from '../src/backend/cuda_flows.js';
import {
  drawBatchPairs, initialRatioParams, ratioLogitsPerRow, ratioNetSize, type RatioClassifier, type RatioLossSpec,
} from '../src/backend/ratio_ops.js';

const built = fs.existsSync(CUDA_ADDON_PATH);
const device = built ? loadCudaBackend() : undefined;
const hasDevice = (device?.deviceCount ?? 0) > 0;

const FLOW_OPS: OpName[] = [
  'flow.maf_log_prob', 'flow.maf_sample', 'flow.mdn_log_prob', 'flow.mdn_sample', 'flow.mdn_train', 'nre.log_ratio', 'nre.train',
];

/** A float32 MAF / NSF with weights far from the identity (as the agreement harness builds them). */
function maf(kind: 'affine' | 'rqSpline', passes: number, contextDim = 2): MAF {
  const transform = kind === 'affine' ? { kind } : { kind, bins: 8, bound: 3 };
  const m = new MAF({ dim: 3, contextDim, hidden: 20, hiddenLayers: 2, layers: 3, activation: 'tanh', passes, transform }, { seed: 1, precision: 'float32' });
  const r = new PhiloxStream(7, 23n);
  for (let j = 0; j < m.params.length; j++) if (m.mask[j]) m.params[j] = 0.3 * r.normal();
  return m;
}

function mdn(dim: number, components: number): MDN {
  const m = new MDN({ dim, contextDim: 2, components, hidden: 20, hiddenLayers: 2 });
  const r = new PhiloxStream(7, 25n);
  m.params = Float32Array.from({ length: m.paramCount }, () => 0.3 * r.normal());
  return m;
}

function classifier(): RatioClassifier {
  const shape = { thetaDim: 3, xDim: 5, hidden: 50, blocks: 2 };
  const r = new PhiloxStream(7, 26n);
  const f64 = (k: number, scale = 1, shift = 0) => Float64Array.from({ length: k }, () => shift + scale * r.normal());
  const params = Float32Array.from({ length: ratioNetSize(shape).paramCount }, () => 0.25 * r.normal());
  return { ...shape, params, thetaMean: f64(3), thetaStd: f64(3, 0.2, 1), xMean: f64(5), xStd: f64(5, 0.2, 1) };
}

const normals = (k: number, stream: bigint, scale = 1) => {
  const r = new PhiloxStream(11, stream);
  return Float32Array.from({ length: k }, () => scale * r.normal());
};
const normals64 = (k: number, stream: bigint, scale = 1) => Float64Array.from(normals(k, stream, scale));
/** The classifier of op nre.train's harness case: [θ (3), x (4)], 20 hidden, 2 blocks. */
const ratioShape = { thetaDim: 3, xDim: 4, hidden: 20, blocks: 2 };
/** Batches of `rows` rows with the CPU trainer's contrast draws (as test/backend_ops.test.ts builds them). */
function ratioBatches(loss: RatioLossSpec, rows: number[]) {
  const A = ratioLogitsPerRow(loss);
  const r = new PhiloxStream(7, 27n);
  return rows.map((nb) => {
    const pairs = new Int32Array(2 * nb * A);
    drawBatchPairs(r, loss, Int32Array.from({ length: nb }, (_, k) => k), pairs, 0);
    const f32 = (k: number) => Float32Array.from({ length: k }, () => r.normal());
    return { theta: f32(3 * nb), x: f32(4 * nb), pairTheta: Int32Array.from({ length: nb * A }, (_, p) => pairs[2 * p]!) };
  });
}
const nreC: RatioLossSpec = { variant: 'c', classes: 3, gamma: 1.5, lambda: 100 };
/** A batch of op flow.mdn_train: rows of y (spread `scale`) and context. */
const mdnBatch = (m: MDN, rows: number, scale = 1) => ({ y: normals(rows * m.dim, BigInt(rows), scale), context: normals(rows * m.contextDim, BigInt(rows) + 1000n) });

describe('the CUDA backend\'s op table', () => {
  it('claims the MAF / NSF, MDN and NRE forward ops and MDN and NRE training, and names why MAF training is not claimed', () => {
    for (const op of FLOW_OPS) expect(cudaOpSupport(op, new Set()), op).toBe(true);
    expect(cudaOpSupport('flow.maf_train', new Set())).toEqual({ reason: expect.stringMatching(/no CUDA launcher for MAF \/ NSF training/) });
    expect(cudaOpSupport('nre.embedding_train', new Set())).toEqual({ reason: expect.stringMatching(/no CUDA launcher for the embedding networks/) });
    // every op the CUDA backend claims has a tolerance, so the agreement harness can run it on a device
    for (const op of Object.keys(OPS) as OpName[]) if (cudaOpSupport(op, new Set()) === true) expect(OPS[op].tolerance, op).toBeDefined();
  });
});

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

describe.skipIf(!built || hasDevice)(
  `CUDA flow ops without a device${!built ? ' — skipped: the CUDA addon is not built (npm run build:cuda)' : hasDevice ? ' — skipped: this machine has a CUDA device' : ''}`,
  () => {
    it('fails each op with SbiError NO_CUDA_DEVICE after its arguments pass', () => {
      const noDevice = /^no CUDA device: /;
      const affine = maf('affine', 3), spline = maf('rqSpline', 2);
      expectSbiError(() => cudaMafLogProb(affine, normals(30, 1n), normals(2, 2n)), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMafLogProb(spline, normals(30, 1n), normals(20, 2n)), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMafLogProb(maf('affine', 3, 0), normals(30, 1n), null), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMafSample(spline, normals(2, 2n), 10, 3), 'NO_CUDA_DEVICE', noDevice);
      const m = mdn(3, 5);
      expectSbiError(() => cudaMdnLogProb(m, normals(30, 1n), normals(2, 2n)), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMdnSample(m, normals(20, 2n), 10, 3n), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaMdnTrainSteps(m, [mdnBatch(m, 50), mdnBatch(m, 51)], { learningRate: 1e-3 }), 'NO_CUDA_DEVICE', noDevice);
      const net = classifier();
      expectSbiError(() => cudaNreLogRatio(net, normals64(30, 1n), normals64(5, 2n)), 'NO_CUDA_DEVICE', noDevice);
      expectSbiError(() => cudaNreLogRatio(net, normals64(30, 1n), normals64(50, 2n)), 'NO_CUDA_DEVICE', noDevice);
      const p0 = initialRatioParams(ratioShape, 7);
      expectSbiError(() => cudaNreTrainSteps(ratioShape, p0, nreC, ratioBatches(nreC, [40, 41]), { learningRate: 1e-3 }), 'NO_CUDA_DEVICE', noDevice);
    });

    it('checks arguments before the device, naming them', () => {
      const affine = maf('affine', 3);
      expect(() => cudaMafLogProb(affine, normals(31, 1n), normals(2, 2n))).toThrow(/`theta` to hold a positive multiple of 3/);
      expect(() => cudaMafLogProb(affine, normals(30, 1n), normals(3, 2n))).toThrow(/`x` to hold 2 values \(one context\) or 20/);
      expect(() => cudaMafLogProb(affine, normals(30, 1n), null)).toThrow(/Float32Array for `x`/);
      expect(() => cudaMafSample(affine, normals(2, 2n), 0, 3)).toThrow(/`n`/);
      expect(() => cudaMafSample(affine, normals(2, 2n), 10, -1)).toThrow(/`seed`/);
      const masked = maf('affine', 3);
      masked.params[masked.mask.indexOf(0)] = 0.5;
      expect(() => cudaMafLogProb(masked, normals(30, 1n), normals(2, 2n))).toThrow(/masked weights to be exactly 0/);
      const m = mdn(3, 5);
      expect(() => cudaMdnLogProb(m, normals(31, 1n), normals(2, 2n))).toThrow(/`y` to hold a positive multiple of 3/);
      expect(() => cudaMdnLogProb(m, normals(30, 1n), normals(4, 2n))).toThrow(/`context` to hold 2 values/);
      expect(() => cudaMdnSample(m, Float32Array.of(0, NaN), 10, 3)).toThrow(/finite values in `context`/);
      expect(() => cudaMdnTrainSteps(m, [])).toThrow(/`batches`/);
      expect(() => cudaMdnTrainSteps(m, [{ y: normals(31, 1n), context: normals(20, 2n) }])).toThrow(/`batches\[0\]\.y`/);
      expect(() => cudaMdnTrainSteps(m, [mdnBatch(m, 50)], { learningRate: -1 })).toThrow(/`learningRate`/);
      expect(() => cudaMdnTrainSteps(m, [mdnBatch(m, 50)], { clipMaxNorm: 0 })).toThrow(/`clipMaxNorm`/);
      const net = classifier();
      expect(() => cudaNreLogRatio(net, normals64(31, 1n), normals64(5, 2n))).toThrow(/`theta` to hold whole rows of 3/);
      expect(() => cudaNreLogRatio(net, normals64(30, 1n), normals64(6, 2n))).toThrow(/`x` to be a Float64Array of 5 values/);
      expect(() => cudaNreLogRatio({ ...net, thetaStd: Float64Array.of(1, 0, 1) }, normals64(30, 1n), normals64(5, 2n))).toThrow(/`thetaStd`/);
      const embedded = { ...net, embeddingSizes: [5, 4], embeddingParams: new Float32Array(24), params: new Float32Array(ratioNetSize({ ...net, embeddingSizes: [5, 4] }).paramCount) };
      expectSbiError(() => cudaNreLogRatio(embedded, normals64(30, 1n), normals64(5, 2n)), 'NO_CUDA_DEVICE', /^no CUDA device: /);
      expect(() => cudaNreTrainSteps({ ...ratioShape, embeddingSizes: [4, 3] }, new Float32Array(10), nreC, [])).toThrow(/embedding network is not supported on the cuda backend/);
      const p0 = initialRatioParams(ratioShape, 7);
      expect(() => cudaNreTrainSteps(ratioShape, p0.subarray(1), nreC, ratioBatches(nreC, [40]))).toThrow(/`params`/);
      expect(() => cudaNreTrainSteps(ratioShape, p0, { ...nreC, variant: 'd' as 'c' }, ratioBatches(nreC, [40]))).toThrow(/variant/);
      expect(() => cudaNreTrainSteps(ratioShape, p0, nreC, [])).toThrow(/`batches`/);
      expect(() => cudaNreTrainSteps(ratioShape, p0, nreC, [{ ...ratioBatches(nreC, [40])[0]!, pairTheta: new Int32Array(3) }])).toThrow(/`batches\[0\]\.pairTheta`/);
      expect(() => cudaNreTrainSteps(ratioShape, p0, nreC, ratioBatches(nreC, [40]), { clipMaxNorm: -1 })).toThrow(/`clipMaxNorm`/);
      const nan = p0.slice();
      nan[5] = NaN;
      expect(() => cudaNreTrainSteps(ratioShape, nan, nreC, ratioBatches(nreC, [40]))).toThrow(/finite values in `params`/);
    });
  },
);

/** max |a − b| / (1 + |b|). */
function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return worst;
}

describe.skipIf(!hasDevice)(
  `CUDA flow ops agree with the CPU${hasDevice ? ` on ${device!.device.description}` : ` — skipped: ${!built ? 'the CUDA addon is not built' : device!.device.error}`}`,
  () => {
    // The rows' arithmetic is the CPU's (same summation order, no fused multiply-adds): expected
    // bit for bit; 1e-6 relative allows a last-bit difference. 5 000 rows span 20 thread blocks.
    const n = 5000;
    it('MAF and NSF: log q and draws (autoregressive and coupling, shared and per-row context)', async () => {
      const cuda = await selectBackend('cuda');
      for (const m of [maf('affine', 3), maf('rqSpline', 2), maf('rqSpline', 3)]) {
        for (const x of [normals(2, 3n), normals(2 * n, 4n)]) {
          const theta = normals(3 * n, 5n, 1.5);
          const label = `${m.transform.kind}, ${m.passes} passes, ${x.length === 2 ? 'shared' : 'per-row'} context`;
          expect(maxRelativeError(await cuda.mafLogProb(m, theta, x), await cpuBackend.mafLogProb(m, theta, x)), label).toBeLessThan(1e-6);
          const [g, c] = [await cuda.mafSample(m, x, n, 9), await cpuBackend.mafSample(m, x, n, 9)];
          expect(maxRelativeError(g.theta, c.theta), label).toBeLessThan(1e-6);
          expect(maxRelativeError(g.logProb, c.logProb), label).toBeLessThan(1e-6);
        }
      }
    });

    it('MDN: log q and draws (row i from Philox stream i)', async () => {
      const cuda = await selectBackend('cuda');
      for (const m of [mdn(1, 1), mdn(3, 5), mdn(5, 10)]) {
        for (const c of [normals(2, 3n), normals(2 * n, 4n)]) {
          const y = normals(m.dim * n, 5n, 1.5);
          const label = `D ${m.dim}, K ${m.components}, ${c.length === 2 ? 'shared' : 'per-row'} context`;
          expect(maxRelativeError(await cuda.mdnLogProb(m, y, c), await cpuBackend.mdnLogProb(m, y, c)), label).toBeLessThan(1e-6);
          const [g, w] = [await cuda.mdnSample(m, c, n, 9), await cpuBackend.mdnSample(m, c, n, 9)];
          // a component pick at a float tie would move one row (the op table allows 0.1 % of rows)
          let apart = 0;
          for (let i = 0; i < n; i++) if (maxRelativeError(g.subarray(i * m.dim, (i + 1) * m.dim), w.subarray(i * m.dim, (i + 1) * m.dim)) > 1e-6) apart++;
          expect(apart, label).toBeLessThanOrEqual(Math.floor(1e-3 * n));
        }
      }
    });

    it('MDN training steps: parameters and losses (a clipped case included)', async () => {
      const cuda = await selectBackend('cuda');
      for (const [dim, components, spread] of [[2, 3, 1], [3, 5, 4]] as const) {
        const m = mdn(dim, components);
        const batches = Array.from({ length: 8 }, (_, i) => mdnBatch(m, 300 + i, spread));
        const [g, c] = [await cuda.mdnTrain(m, batches, { learningRate: 1e-3 }), await cpuBackend.mdnTrain(m, batches, { learningRate: 1e-3 })];
        // the gradients sum in the CPU's order; Adam's bias corrections call pow, which CUDA may round an ulp apart
        expect(maxRelativeError(g.params, c.params), `D ${dim}, K ${components}`).toBeLessThan(1e-5);
        expect(maxRelativeError(g.losses, c.losses), `D ${dim}, K ${components}`).toBeLessThan(1e-6);
      }
    });

    it('NRE training steps: parameters and losses of NRE-A, NRE-C and BNRE', async () => {
      const cuda = await selectBackend('cuda');
      // NRE-B is left to the harness, which compares it without its shift-invariant biases
      for (const loss of [{ variant: 'a', classes: 2, gamma: 1, lambda: 100 }, nreC, { variant: 'bnre', classes: 2, gamma: 1, lambda: 100 }] as RatioLossSpec[]) {
        const batches = ratioBatches(loss, [300, 301, 302, 303]);
        const p0 = initialRatioParams(ratioShape, 7);
        const [g, c] = [await cuda.nreTrain(ratioShape, p0, loss, batches, { learningRate: 1e-3 }), await cpuBackend.nreTrain(ratioShape, p0, loss, batches, { learningRate: 1e-3 })];
        // the sums run in the CPU's order; the loss's exp / log1p and Adam's pow may round an ulp apart on CUDA
        expect(maxRelativeError(g.params, c.params), loss.variant).toBeLessThan(1e-5);
        expect(maxRelativeError(g.losses, c.losses), loss.variant).toBeLessThan(1e-5);
      }
    });

    it('NRE: the classifier\'s log r for per-row and shared x', async () => {
      const cuda = await selectBackend('cuda');
      const net = classifier();
      const theta = normals64(3 * n, 5n, 2);
      for (const x of [normals64(5, 3n, 2), normals64(5 * n, 4n, 2)]) {
        expect(maxRelativeError(await cuda.nreLogRatio(net, theta, x), await cpuBackend.nreLogRatio(net, theta, x))).toBeLessThan(1e-6);
      }
    });
  },
);
