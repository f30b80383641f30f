// Garbage at every native entry point: each call must throw a JS error (TypeError, RangeError
// or SbiError) or return normally — never crash, hang or corrupt the process.
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../src/native.js';
import { SbiError } from '../src/errors.js';

function detached(): Float64Array {
  const view = new Float64Array(8);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
}

const GARBAGE: unknown[] = [
  undefined, null, 0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 1e300, -(2 ** 63), 'x', '', true, {}, [], [1, 2],
  () => 1, Symbol('s'), 10n, -5n, 2n ** 70n, new Float64Array(0), new Float32Array(3), new Uint8Array(5),
  new Int32Array(1), new Uint32Array(4), detached(), new ArrayBuffer(8), new Float64Array([NaN, Infinity]),
];

const isJsError = (e: unknown) => e instanceof TypeError || e instanceof RangeError || e instanceof SbiError;

async function callSafely(fn: (...a: unknown[]) => unknown, args: unknown[]): Promise<void> {
  let result: unknown;
  try {
    result = fn(...args);
  } catch (e) {
    if (!isJsError(e)) throw new Error(`unexpected error type for args ${args.map(String).join(', ')}: ${String(e)}`);
    return;
  }
  if (result instanceof Promise) {
    try {
      await result;
    } catch (e) {
      if (!isJsError(e)) throw new Error(`unexpected rejection type: ${String(e)}`);
    }
  }
}

// A valid call per entry point; the fuzzer replaces one argument (or one option) at a time.
function validCalls(): Record<string, unknown[]> {
  const sim = native.simulators()[0]!;
  const n = 4;
  const manifoldSpec = { space: 'torus', dim: 2, layers: 2, bins: 4, hidden: 4, hiddenLayers: 1 };
  const f64 = (k: number) => Float64Array.from({ length: k }, (_, i) => 0.1 * (i + 1));
  const simOptions = {
    name: sim.name,
    theta: new Float64Array(n * sim.thetaDim).fill(0.1),
    n,
    seed: 1,
    x: new Float32Array(n * sim.xDim),
    failed: new Uint8Array(n),
    ...(sim.designDim > 0 ? { design: new Float64Array(sim.designDim).fill(91) } : {}),
  };
  const ginkgoOptions = {
    n, seed: 1, lambda: 1.5, lambdaRoot: 3, tCut: 16, mass: 80, momentum: 400, minLeaves: 1, maxLeaves: 8, maxTries: 3,
    momenta: new Float64Array(n * 15 * 4), t: new Float64Array(n * 15), children: new Int32Array(n * 15 * 2),
    nodes: new Int32Array(n), failed: new Uint8Array(n), jointLogLikelihood: new Float64Array(n), jointScore: new Float64Array(2 * n),
  };
  const phi4HmcOptions = { seed: 1, steps: 3, leapfrogSteps: 2, stepSize: 0.1, stepJitter: 0.2, stepOffset: 5, threads: 1 };
  const jetLeaves = Float64Array.of(100, 60, 0, 0, 100, 0, 60, 0, 50, 0, 0, 49, 80, 40, 40, 40);
  return {
    runtimeInfo: [],
    setThreads: [2],
    setIsa: ['auto'],
    philox4x32: [new Uint32Array(4), new Uint32Array(2), new Uint32Array(4)],
    sample: ['normal', Float64Array.of(0, 1), n, 1, 0, new Float64Array(n)],
    sampleAsync: ['normal', Float64Array.of(0, 1), n, 1, 0, new Float64Array(n), 1, undefined, undefined],
    // one box-uniform part over 2 dims: (kind 0, dim 2, params offset 0), params = low.., high..
    samplePrior: [Int32Array.of(0, 2, 0), Float64Array.of(-1, -1, 1, 1), n, 1, 0, new Float64Array(2 * n)],
    simulators: [],
    vecmath: ['exp', Float64Array.of(0.5, 1), new Float64Array(2)],
    samplerFill: ['normal', 1, 2, 0, n, new Float64Array(n + 3), false],
    odeSolution: ['sir', Float64Array.of(0.4, 0.125), 1, undefined, undefined, new Float64Array(10)],
    simulate: [simOptions],
    flowTransform: ['rqSpline', 'forward', Float64Array.of(3, 2, 1e-3, 1e-3, 1e-3), Float64Array.of(-3, 0.5),
      new Float64Array(2 * 8), new Float64Array(2), new Float64Array(2)],
    flowTransformBackward: ['affine', Float64Array.of(5), Float32Array.of(0.5, 1), new Float32Array(4),
      new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(4)],
    simulateAsync: [simOptions, undefined, undefined],
    // circle / interval transforms over 2 elements: an NCP mixture of 2 components (5 params each),
    // the circular spline's backward with 2 bins (7 params each) in float
    manifoldTransform: ['ncp', 'forward', Float64Array.of(2, 1e-3), f64(2), f64(10), new Float64Array(2), new Float64Array(2)],
    manifoldTransformBackward: ['circularSpline', Float64Array.of(2, 1e-3, 1e-3, 1e-3), Float32Array.of(0.5, 1),
      new Float32Array(14), new Float32Array(2), new Float32Array(2), new Float32Array(2), new Float32Array(14)],
    // a 2-layer MAF over 2 dims with 1 context input, 3 hidden units (56 parameters, all zero)
    mafParamCount: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5)],
    mafParamMask: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5), new Uint8Array(56)],
    mafLogProb: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5), new Float64Array(56), f64(4), f64(1),
      new Float64Array(2), new Float64Array(4)],
    mafLogProbBackward: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5), new Float32Array(56),
      Float32Array.of(0.1, 0.2, 0.3, 0.4), Float32Array.of(1, 2), new Float32Array(56), new Float32Array(4), new Float32Array(2)],
    // A 2-D MAF with contextDim 1 fed by the embedding [3 -> 2 -> 1] of two rows of x.
    mafEmbeddedLogProbBackward: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5), new Float64Array(56),
      Int32Array.of(3, 2, 1), f64(11), f64(4), f64(6), new Float64Array(56), new Float64Array(11)],
    mafSample: [Int32Array.of(2, 1, 3, 1, 2, 2), 'rqSpline', Float64Array.of(2, 3, 1e-3, 1e-3, 1e-3),
      new Float64Array(2 * (3 * 4 + 2 * 5 * 4)), f64(1), n, 1, new Float64Array(2 * n), new Float64Array(n)],
    mafConditioner: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5), new Float64Array(56), 1, f64(4), f64(1),
      new Float64Array(8)],
    // 20 rows of the same 2-layer MAF (2 validation rows), at most 2 epochs
    mafTrain: [Int32Array.of(2, 1, 3, 1, 2, 2), 'affine', Float64Array.of(5), new Float32Array(56),
      Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)), Float32Array.from({ length: 20 }, (_, i) => Math.cos(i)),
      { seed: 1, maxEpochs: 2, batchSize: 8 }, undefined, new Int32Array(1)],
    // nn ops on a batch of 2 rows, 3 inputs, 2 outputs (Float64Array: the double instantiation)
    nnDenseForward: ['silu', 2, 3, 2, f64(6), f64(6), f64(2), f64(4), f64(4)],
    nnDenseBackward: ['silu', 2, 3, 2, f64(6), f64(6), f64(4), f64(4), f64(4), f64(6), f64(6), f64(2)],
    nnResidualForward: ['tanh', 2, 2, f64(4), f64(4), f64(2), f64(4), f64(2), f64(12), f64(4)],
    nnResidualBackward: ['tanh', 2, 2, f64(4), f64(4), f64(4), f64(12), f64(4), f64(4), f64(4), f64(2), f64(4), f64(2)],
    nnStandardizeFit: [2, 2, f64(4), 1e-14, f64(2), f64(2)],
    nnStandardize: ['forward', 2, 2, f64(2), new Float64Array(2).fill(1), f64(4), f64(4)],
    nnLoss: ['cross_entropy', 2, 3, new Float32Array(6), Int32Array.of(0, 2), new Float32Array(6)],
    nnMlpForward: ['silu', Int32Array.of(2, 3, 1), 2, f64(4), f64(13), f64(14), f64(2)],
    nnMlpBackward: ['silu', Int32Array.of(2, 3, 1), 2, f64(4), f64(13), f64(14), f64(2), f64(13)],
    // storage widths padded to 16 (as the classifier pads them), logical widths 2, 3, 1
    nnReluMlpSparse: [Int32Array.of(16, 16, 1), Int32Array.of(2, 3, 1), 2, f64(32), f64(289), f64(2), f64(2), f64(289)],
    // 8 rows, 1 column, 2 folds, 2 epochs: fast enough to fuzz every argument
    classifierCrossValidate: [f64(8), Uint8Array.of(0, 1, 0, 1, 0, 1, 0, 1), 8, 1, { seed: 1, folds: 2, maxEpochs: 2 }],
    classifierCrossValidateAsync: [
      f64(8), Uint8Array.of(0, 1, 0, 1, 0, 1, 0, 1), 8, 1, { seed: 1, folds: 2, maxEpochs: 2, threads: 2 }, undefined, new Int32Array(1),
    ],
    // NRE: a loss on 2 rows, the classifier arch [in 3, hidden 2, 1 block] (23 parameters), and a
    // 20-row training (θ 2-D, x 1-D, hidden 3, 1 block: 40 parameters) of at most 2 epochs
    nreLoss: ['c', 2, 2, 0.5, 0, f64(8), new Float64Array(8)],
    nreNetForward: [Int32Array.of(3, 2, 1), 2, f64(23), f64(6), new Float64Array(2), f64(2), new Float64Array(23)],
    nreTrain: [Int32Array.of(2, 1, 3, 1), { variant: 'a' }, Float64Array.from({ length: 40 }, (_, i) => Math.sin(i)),
      Float64Array.from({ length: 20 }, (_, i) => Math.cos(i)), { seed: 1, maxEpochs: 2, batchSize: 8, validationFraction: 0.2 },
      undefined, new Int32Array(1)],
    // ... with the embedding [1, 2, 1] of x (7 parameters; the classifier keeps 3 inputs)
    nreLogRatio: [Int32Array.of(2, 1, 3, 1), new Float32Array(40), f64(2), f64(2), f64(1), f64(1), f64(4), f64(1), new Float64Array(2), 2,
      Int32Array.of(1, 2, 1), new Float32Array(7)],
    // NRE-B (2 atoms) on 3 x rows of width 2 through the embedding [2, 3, 2] (17 parameters), classifier [θ 1 + 2, hidden 2, 1 block]
    nreEmbeddedLossBackward: [{ variant: 'b', classes: 2 }, Int32Array.of(1, 2, 1), Int32Array.of(2, 3, 2), f64(23), f64(17), f64(3), f64(6),
      Int32Array.of(0, 1, 1, 2, 2, 0), new Float64Array(23), new Float64Array(17)],
    // MDN arch [dim 2, context 1, hidden 3, 1 hidden layer, 2 components]: outputs 2 · 6, 54
    // parameters; a 20-row training of at most 2 epochs
    mdnHead: [Int32Array.of(2, 2), f64(24), f64(4), new Float64Array(2), new Float64Array(24)],
    mdnNetLogProb: [Int32Array.of(2, 1, 3, 1, 2), f64(54), f64(2), f64(4), new Float64Array(2), new Float64Array(54)],
    mdnTrain: [Int32Array.of(2, 1, 3, 1, 2), Float64Array.from({ length: 40 }, (_, i) => Math.sin(i)),
      Float64Array.from({ length: 20 }, (_, i) => Math.cos(i)), { seed: 1, maxEpochs: 2, batchSize: 8, validationFraction: 0.2 },
      undefined, new Int32Array(1)],
    mdnLogProb: [Int32Array.of(2, 1, 3, 1, 2), new Float32Array(54), new Float32Array(4), new Float32Array(1), new Float32Array(2), 2],
    mdnSample: [Int32Array.of(2, 1, 3, 1, 2), new Float32Array(54), new Float32Array(1), 2, 1, new Float32Array(4), 2],
    nnAdamStep: [f64(3), f64(3), f64(3), f64(3), 1, { lr: 1e-3, weightDecay: 0.01, decoupled: true }],
    nnClipGradNorm: [Float64Array.of(3, 4), 5],
    // Ginkgo: 4 jets of at most 8 leaves (M = 15 node slots each)
    ginkgoSimulate: [ginkgoOptions],
    ginkgoSimulateAsync: [ginkgoOptions, undefined, undefined],
    // the trellis on 4 leaves (a W-jet-like set: masses below t_cut, pairs above)
    trellis: [jetLeaves, 'ginkgo', Float64Array.of(1.5, 3, 16), { marginals: true, samples: 2, seed: 1 }],
    // φ⁴ on a 2×2 lattice: the action of 2 configurations with its gradient; 2 HMC chains of 3 trajectories
    phi4Action: [2, Float64Array.of(-4, 8), f64(8), new Float64Array(2), new Float64Array(8)],
    phi4Hmc: [2, Float64Array.of(-4, 8), f64(8), phi4HmcOptions, new Float64Array(6), new Float64Array(6), new Uint8Array(6)],
    phi4HmcAsync: [2, Float64Array.of(-4, 8), f64(8), phi4HmcOptions, new Float64Array(6), new Float64Array(6), new Uint8Array(6),
      undefined, new Int32Array(1)],
    // U(1) on a 2×2 lattice (8 links): the action of 2 configurations with gradient and charge; 2 HMC chains
    u1Action: [2, 1.5, f64(16), new Float64Array(2), new Float64Array(16), new Float64Array(2)],
    u1Hmc: [2, 1.5, f64(16), phi4HmcOptions, new Float64Array(6), new Float64Array(6), new Uint8Array(6)],
    u1HmcAsync: [2, 1.5, f64(16), phi4HmcOptions, new Float64Array(6), new Float64Array(6), new Uint8Array(6),
      undefined, new Int32Array(1)],
    // a torus flow on T² (2 coupling layers, 4 bins, one hidden layer of 4: 154 parameters)
    manifoldFlowInfo: [manifoldSpec],
    manifoldFlowLayout: [manifoldSpec],
    manifoldFlowInit: [manifoldSpec, 1, new Float64Array(154)],
    manifoldFlowSample: [manifoldSpec, new Float64Array(154).fill(0.01), 3, 1, 0, new Float64Array(6), new Float64Array(3), 1],
    manifoldFlowLogProb: [manifoldSpec, new Float64Array(154).fill(0.01), Float64Array.of(0.1, 0.2, 1, 2, 3, 4), new Float64Array(3), 1],
    manifoldFlowLoss: [manifoldSpec, new Float64Array(154).fill(0.01), { target: 'torus-unimodal', batchSize: 4, seed: 1, step: 0 }, new Float64Array(154)],
    manifoldFlowTabulatedLoss: [manifoldSpec, new Float64Array(154).fill(0.01), { batchSize: 4, seed: 1, step: 0 }, new Float64Array(4), new Float64Array(8), new Float64Array(154)],
    manifoldFlowTrain: [manifoldSpec, new Float64Array(154).fill(0.01), { target: 'torus-unimodal', steps: 2, batchSize: 4, seed: 1 }, undefined, new Int32Array(1)],
    // the trellis's per-set table for the accelerator passes
    trellisTable: [jetLeaves, 'ginkgo', Float64Array.of(1.5, 3, 16)],
    // circular convolution, shape [n, cIn, cOut, L0, L1, K] = [1, 1, 2, 2, 2, 3]
    conv2dCircular: [Int32Array.of(1, 1, 2, 2, 2, 3), f64(18), f64(2), f64(4), new Float64Array(8)],
    conv2dCircularBackward: [Int32Array.of(1, 1, 2, 2, 2, 3), Float32Array.from(f64(18)), Float32Array.from(f64(4)),
      Float32Array.from(f64(8)), new Float32Array(4), new Float32Array(18), new Float32Array(2)],
    // the φ⁴ flow, shape [L, layers, hidden, depth, K] = [2, 2, 2, 1, 3]: 116 parameters, 2 configurations of 4 sites
    phi4FlowInit: [Int32Array.of(2, 2, 2, 1, 3), 1, new Float64Array(116)],
    phi4FlowForward: [Int32Array.of(2, 2, 2, 1, 3), f64(116), f64(8), new Float64Array(8), new Float64Array(2), 1],
    phi4FlowInverse: [Int32Array.of(2, 2, 2, 1, 3), f64(116), f64(8), new Float64Array(8), new Float64Array(2), 1],
    phi4FlowLossGrad: [Int32Array.of(2, 2, 2, 1, 3), Float64Array.of(-4, 8), f64(116), f64(8), new Float64Array(116)],
    phi4FlowTrain: [Int32Array.of(2, 2, 2, 1, 3), Float64Array.of(-4, 8), f64(116), { seed: 1, steps: 2, batchSize: 3, learningRate: 1e-3, threads: 1 },
      undefined, new Int32Array(1)],
    phi4FlowSample: [Int32Array.of(2, 2, 2, 1, 3), Float64Array.of(-4, 8), f64(116), { seed: 1, n: 3, offset: 2, threads: 1 },
      new Float64Array(3), new Float64Array(3), new Float64Array(3), new Float64Array(12)],
    phi4FlowSampleAsync: [Int32Array.of(2, 2, 2, 1, 3), Float64Array.of(-4, 8), f64(116), { seed: 1, n: 3 },
      new Float64Array(3), new Float64Array(3), new Float64Array(3), undefined, undefined, new Int32Array(1)],
    // the U(1) flow, shape [L, layers, hidden, depth, K, components] = [4, 2, 2, 1, 3, 1]: 190 parameters, 2 configurations of 32 links
    u1FlowInit: [Int32Array.of(4, 2, 2, 1, 3, 1), 1, new Float64Array(190)],
    u1FlowForward: [Int32Array.of(4, 2, 2, 1, 3, 1), f64(190), f64(64), new Float64Array(64), new Float64Array(2), 1],
    u1FlowInverse: [Int32Array.of(4, 2, 2, 1, 3, 1), f64(190), f64(64), new Float64Array(64), new Float64Array(2), 1],
    u1FlowLossGrad: [Int32Array.of(4, 2, 2, 1, 3, 1), Float64Array.of(2), f64(190), f64(64), new Float64Array(190), new Float64Array(64)],
    u1FlowTrain: [Int32Array.of(4, 2, 2, 1, 3, 1), Float64Array.of(2), f64(190), { seed: 1, steps: 2, batchSize: 3, learningRate: 1e-3, threads: 1 },
      undefined, new Int32Array(1)],
    u1FlowSample: [Int32Array.of(4, 2, 2, 1, 3, 1), Float64Array.of(2), f64(190), { seed: 1, n: 3, offset: 2, threads: 1 },
      new Float64Array(3), new Float64Array(3), new Float64Array(3), new Float64Array(96)],
    u1FlowSampleAsync: [Int32Array.of(4, 2, 2, 1, 3, 1), Float64Array.of(2), f64(190), { seed: 1, n: 3 },
      new Float64Array(3), new Float64Array(3), new Float64Array(3), undefined, undefined, new Int32Array(1)],
    trellisAsync: [jetLeaves, 'ginkgo', Float64Array.of(1.5, 3, 16), { marginals: true, samples: 2, seed: 1 }, undefined, new Int32Array(1)],
    trellisBeam: [jetLeaves, 'gaussian', Float64Array.of(1), 3],
    trellisEnergy: [jetLeaves, 'ginkgo', Float64Array.of(1.5, 3, 16), Uint32Array.of(15, 3, 3, 1, 12, 4)],
  };
}

describe('native entry points survive garbage', () => {
  afterAll(() => {
    native.setIsa('auto');
    native.setThreads(native.runtimeInfo().hardwareThreads);
  });

  const entryPoints = Object.keys(native).filter((k) => typeof native[k] === 'function' && k !== 'init');

  it('has a valid call for every entry point (so a new one is fuzzed too)', () => {
    const calls = validCalls();
    for (const name of entryPoints) expect(calls, `add ${name} to validCalls()`).toHaveProperty(name);
  });

  for (const name of Object.keys(validCalls())) {
    it(`${name}: every positional argument replaced by garbage`, async () => {
      const fn = native[name] as (...a: unknown[]) => unknown;
      const valid = validCalls()[name]!;
      await callSafely(fn, []);
      for (let i = 0; i < Math.max(1, valid.length); i++) {
        for (const g of GARBAGE) {
          const args = validCalls()[name]!.slice();
          args[i] = g;
          await callSafely(fn, args);
        }
      }
    });
  }

  for (const name of ['simulate', 'simulateAsync']) {
    it(`${name}: every option replaced by garbage, extra options, huge sizes`, async () => {
      const fn = native[name] as (...a: unknown[]) => unknown;
      const base = validCalls()[name]![0] as Record<string, unknown>;
      const keys = [...Object.keys(base), 'jointLogLikelihood', 'jointScore', 'jointLogRatio', 'thetaRef', 'design', 'threads', 'streamOffset'];
      for (const key of keys) {
        for (const g of GARBAGE) {
          const args = validCalls()[name]!.slice();
          args[0] = { ...base, [key]: g };
          await callSafely(fn, args);
        }
      }
      await callSafely(fn, [{ ...base, n: 2 ** 40 }]);
      await callSafely(fn, [{ ...base, n: 2 ** 53 }]);
    });
  }

  for (const name of ['ginkgoSimulate', 'ginkgoSimulateAsync']) {
    it(`${name}: every option replaced by garbage`, async () => {
      const fn = native[name] as (...a: unknown[]) => unknown;
      const base = validCalls()[name]![0] as Record<string, unknown>;
      for (const key of [...Object.keys(base), 'reference', 'jointLogRatio', 'threads', 'streamOffset']) {
        for (const g of GARBAGE) {
          const args = validCalls()[name]!.slice();
          args[0] = { ...base, [key]: g };
          await callSafely(fn, args);
        }
      }
    });
  }

  for (const name of ['phi4Hmc', 'phi4HmcAsync', 'u1Hmc', 'u1HmcAsync']) {
    it(`${name}: every option replaced by garbage`, async () => {
      const fn = native[name] as (...a: unknown[]) => unknown;
      const base = validCalls()[name]![3] as Record<string, unknown>;
      for (const key of Object.keys(base)) {
        for (const g of GARBAGE) {
          const args = validCalls()[name]!.slice();
          args[3] = { ...base, [key]: g };
          await callSafely(fn, args);
        }
      }
    });
  }

  it('trellis: every option replaced by garbage', async () => {
    const [leaves, energy, params, options] = validCalls().trellis!;
    for (const key of ['marginals', 'samples', 'seed', 'threads'])
      for (const g of GARBAGE) await callSafely(native.trellis as (...a: unknown[]) => unknown, [leaves, energy, params, { ...(options as object), [key]: g }]);
  });

  it('init rejects garbage and keeps the SbiError class', () => {
    for (const g of GARBAGE) {
      try {
        native.init(g as never);
      } catch (e) {
        expect(isJsError(e)).toBe(true);
      }
    }
    native.init({ SbiError });
    try {
      native.simulate({ name: 'no-such-simulator' } as never);
    } catch (e) {
      expect(e).toBeInstanceOf(SbiError);
    }
  });
});
