// NPE with a jointly trained embedding network (src/inference/embedding.ts,
// kernels/flows/maf_embedding.h, native/flow_trainer.h).
import { describe, expect, it } from 'vitest';
import { c2st } from '../src/diagnostics/c2st.js';
import { SbiError } from '../src/errors.js';
import { MAF } from '../src/flows/maf.js';
import { NPE, NPEPosterior } from '../src/inference/npe.js';
import { decodeModelFile, encodeModelFile } from '../src/io/model_file.js';
import { native } from '../src/native.js';
import { createPrior } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';

/**
 * gaussian_linear in `informative` dimensions (θ ~ N(0, 0.1 I), x = θ + N(0, 0.1 I), posterior
 * N(x/2, 0.05 I)) with `noise` further x dimensions of pure N(0, 1) noise after them.
 */
function linearWithNoise(n: number, informative: number, noise: number, seed: number) {
  const rng = new PhiloxStream(seed, 0);
  const W = informative + noise;
  const theta = new Float64Array(n * informative);
  const x = new Float64Array(n * W);
  const s = Math.sqrt(0.1);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < informative; d++) {
      theta[i * informative + d] = s * rng.normal();
      x[i * W + d] = theta[i * informative + d]! + s * rng.normal();
    }
    for (let j = informative; j < W; j++) x[i * W + j] = rng.normal();
  }
  return { theta, x };
}
const linearPrior = (dim: number) => createPrior({ kind: 'normal', loc: new Array(dim).fill(0), scale: new Array(dim).fill(Math.sqrt(0.1)) });
const smallEmbedding = { hidden: [16], outputDim: 4 };

function smallNpe(n = 600): NPE {
  const npe = new NPE({ prior: linearPrior(2), hidden: 16, layers: 2, embedding: smallEmbedding });
  const { theta, x } = linearWithNoise(n, 2, 6, 1);
  return npe.appendSimulations(theta, x);
}

describe('NPE embedding network', () => {
  it('back-propagates the flow NLL through the embedding (finite differences, double)', () => {
    // The chain the trainer runs (maf_embedded_nll_backward): context = MLP(x); dL/dcontext from
    // mafLogProbBackward; MLP backward of it. Checked against central differences of the loss.
    const D = 2, X = 5, H = 6, C = 3, n = 7;
    const sizes = Int32Array.of(X, H, C);
    const Q = H * (X + 1) + C * (H + 1);
    const flow = new MAF({ dim: D, contextDim: C, hidden: 8, layers: 2 }, { seed: 3, precision: 'float64' });
    const rng = new PhiloxStream(9, 0);
    const fill = (a: Float64Array, s: number) => { for (let i = 0; i < a.length; i++) a[i] = s * rng.normal(); return a; };
    const params = flow.params as Float64Array;
    for (let j = 0; j < params.length; j++) if (flow.mask[j]) params[j] += 0.1 * rng.normal();
    const ep = fill(new Float64Array(Q), 0.4);
    const theta = fill(new Float64Array(n * D), 1);
    const x = fill(new Float64Array(n * X), 1);
    const embed = (e: Float64Array) => {
      const out = new Float64Array(n * C);
      native.nnMlpForward('relu', sizes, n, x, e, new Float64Array(n * (H + C)), out);
      return out;
    };
    const loss = (e: Float64Array) => {
      const lp = new Float64Array(n);
      native.mafLogProb(flow.arch, flow.transform.kind, flow.hyper, params, theta, embed(e), lp);
      return -lp.reduce((a, b) => a + b, 0) / n;
    };
    const saved = new Float64Array(n * (H + C));
    const ctx = new Float64Array(n * C);
    native.nnMlpForward('relu', sizes, n, x, ep, saved, ctx);
    const gParams = new Float64Array(params.length);
    const gCtx = new Float64Array(n * C);
    const l0 = native.mafLogProbBackward(flow.arch, flow.transform.kind, flow.hyper, params, theta, ctx, gParams, null, gCtx);
    expect(l0).toBeCloseTo(loss(ep), 12);
    const g = new Float64Array(Q);
    native.nnMlpBackward('relu', sizes, n, x, ep, saved, gCtx, g);
    const h = 1e-6;
    let worst = 0;
    for (let j = 0; j < Q; j++) {
      const p = ep.slice(); p[j]! += h;
      const m = ep.slice(); m[j]! -= h;
      const fd = (loss(p) - loss(m)) / (2 * h);
      worst = Math.max(worst, Math.abs(fd - g[j]!) / Math.max(1, Math.abs(fd)));
    }
    expect(worst).toBeLessThan(1e-6);
  });

  it('mafEmbeddedLogProbBackward (the trainer\'s kernel) matches finite differences in double, flow and embedding', () => {
    const D = 2, X = 5, H = 6, C = 3, n = 9;
    const sizes = Int32Array.of(X, H, 4, C);
    const Q = H * (X + 1) + 4 * (H + 1) + C * (4 + 1);
    for (const transform of [undefined, { kind: 'rqSpline', bins: 4, bound: 3 }] as const) {
      const flow = new MAF({ dim: D, contextDim: C, hidden: 8, layers: 2, ...(transform ? { transform } : {}) },
        { seed: 3, precision: 'float64' });
      const rng = new PhiloxStream(10, 0);
      const fill = (a: Float64Array, s: number) => { for (let i = 0; i < a.length; i++) a[i] = s * rng.normal(); return a; };
      const params = (flow.params as Float64Array).slice();
      for (let j = 0; j < params.length; j++) if (flow.mask[j]) params[j] += 0.1 * rng.normal();
      const ep = fill(new Float64Array(Q), 0.4);
      const theta = fill(new Float64Array(n * D), 1);
      const x = fill(new Float64Array(n * X), 1);
      const f = (p: Float64Array, e: Float64Array) => native.mafEmbeddedLogProbBackward(flow.arch, flow.transform.kind, flow.hyper,
        p, sizes, e, theta, x, new Float64Array(p.length), new Float64Array(Q));
      const gp = new Float64Array(params.length);
      const ge = new Float64Array(Q);
      native.mafEmbeddedLogProbBackward(flow.arch, flow.transform.kind, flow.hyper, params, sizes, ep, theta, x, gp, ge);
      const h = 1e-6;
      let worst = 0;
      const check = (v: Float64Array, g: Float64Array, eval_: (w: Float64Array) => number, skip?: Uint8Array) => {
        for (let j = 0; j < v.length; j++) {
          if (skip && !skip[j]) { expect(g[j]).toBe(0); continue; }
          const p = v.slice(); p[j]! += h;
          const m = v.slice(); m[j]! -= h;
          const fd = (eval_(p) - eval_(m)) / (2 * h);
          worst = Math.max(worst, Math.abs(fd - g[j]!) / Math.max(1, Math.abs(fd)));
        }
      };
      check(ep, ge, (e) => f(params, e));
      check(params, gp, (p) => f(p, ep), flow.mask);
      expect(worst, transform?.kind ?? 'affine').toBeLessThan(1e-6);
    }
    const flow = new MAF({ dim: 1, contextDim: 2, hidden: 4, layers: 1 }, { seed: 1, precision: 'float64' });
    const call = (sz: Int32Array) => native.mafEmbeddedLogProbBackward(flow.arch, flow.transform.kind, flow.hyper, flow.params as Float64Array,
      sz, new Float64Array(8), new Float64Array(2), new Float64Array(4), new Float64Array(flow.paramCount), new Float64Array(8));
    expect(() => call(Int32Array.of(2, 3))).toThrow(/contextDim = 2/);
    expect(() => call(Int32Array.of(2, 2))).toThrow(/embeddingParams/);
  });

  it('trains the embedding jointly: deterministic, same bits with 1 and 2 threads, loss decreases', async () => {
    const run = async (seed: number, threads: number) => {
      const npe = smallNpe();
      const s = await npe.train({ seed, maxEpochs: 4, threads });
      return { s, bytes: npe.buildPosterior().encode() };
    };
    const a = await run(3, 1);
    const b = await run(3, 2);
    const c = await run(4, 2);
    expect(b.s.validationLoss).toEqual(a.s.validationLoss);
    expect(b.bytes).toEqual(a.bytes);
    expect(c.s.validationLoss).not.toEqual(a.s.validationLoss);
    expect(a.s.validationLoss[3]!).toBeLessThan(a.s.validationLoss[0]!);
  });

  it('trains to the same bits on every instruction-set path (scalar, AVX2, AVX-512)', async () => {
    const isas = ['scalar', 'avx2', 'avx512'] as const;
    const available = isas.slice(0, isas.indexOf(native.runtimeInfo().detectedIsa as (typeof isas)[number]) + 1);
    let first: Uint8Array | undefined;
    try {
      for (const isa of available) {
        native.setIsa(isa);
        const npe = smallNpe(400);
        await npe.train({ seed: 2, maxEpochs: 2, threads: 1 });
        const bytes = npe.buildPosterior().encode();
        if (!first) first = bytes;
        else expect(bytes, isa).toEqual(first);
      }
    } finally {
      native.setIsa('auto');
    }
  });

  it('saves and loads bit for bit (model file version 2 with the embedding); version 1 files still load', async () => {
    const npe = smallNpe();
    await npe.train({ seed: 5, maxEpochs: 3 });
    const post = npe.buildPosterior();
    const bytes = post.encode();
    const file = decodeModelFile(bytes);
    expect(file.metadata.npeFileVersion).toBe(2);
    expect(file.metadata.embedding).toEqual({ sizes: [8, 16, 4], activation: 'relu', paramCount: 16 * 9 + 4 * 17 });
    const back = NPE.decode(bytes).buildPosterior();
    expect(back.encode()).toEqual(bytes);
    expect(back.xDim).toBe(8);
    const xo = [0.3, -0.2, 0, 0, 0, 0, 0, 0];
    expect(back.sample(20, { x: xo, seed: 1 })).toEqual(post.sample(20, { x: xo, seed: 1 }));
    const th = Float64Array.of(0.1, 0.2, -0.1, 0);
    expect(back.logProb(th, { x: xo })).toEqual(post.logProb(th, { x: xo }));
    // A version 2 file without its embedding is rejected; a plain NPE still writes version 1.
    const broken = decodeModelFile(bytes);
    delete broken.tensors.embeddingParams;
    expect(() => NPEPosterior.decode(encodeModelFile(broken))).toThrow(/embeddingParams/);
    const plain = new NPE({ prior: linearPrior(2), hidden: 16, layers: 2 });
    const sims = linearWithNoise(300, 2, 0, 2);
    plain.appendSimulations(sims.theta, sims.x);
    await plain.train({ seed: 1, maxEpochs: 1 });
    expect(decodeModelFile(plain.buildPosterior().encode()).metadata.npeFileVersion).toBe(1);
    expect(NPE.decode(plain.buildPosterior().encode()).buildPosterior().xDim).toBe(2);
    const v3 = decodeModelFile(bytes);
    v3.metadata.npeFileVersion = 3;
    expect(() => NPEPosterior.decode(encodeModelFile(v3))).toThrow(SbiError);
  });

  it('validates the embedding option and the native arguments', () => {
    const prior = linearPrior(2);
    expect(() => new NPE({ prior, embedding: { outputDim: 0 } })).toThrow(/embedding.outputDim/);
    expect(() => new NPE({ prior, embedding: { hidden: [10, -1], outputDim: 3 } })).toThrow(/embedding.hidden\[1\]/);
    expect(() => new NPE({ prior, embedding: 5 as never })).toThrow(/embedding/);
    const flow = new MAF({ dim: 1, contextDim: 3, hidden: 4, layers: 1 }, { seed: 1, precision: 'float32' });
    const theta = new Float32Array(20);
    const x = new Float32Array(40);
    const call = (o: object) => native.mafTrain(flow.arch, flow.transform.kind, flow.hyper, flow.params as Float32Array, theta, x,
      { seed: 1, maxEpochs: 1, ...o }, undefined, undefined);
    expect(() => call({ embeddingSizes: Int32Array.of(2, 5, 2), embeddingParams: new Float32Array(27) })).toThrow(/contextDim = 3/);
    expect(() => call({ embeddingSizes: Int32Array.of(2) })).toThrow(/embeddingSizes/);
    expect(() => call({ embeddingSizes: Int32Array.of(2, 0, 3) })).toThrow(/index 1/);
    expect(() => call({ embeddingSizes: Int32Array.of(2, 3), embeddingParams: new Float32Array(2) })).toThrow(/embeddingParams/);
    expect(() => call({ embeddingParams: new Float32Array(9) })).toThrow(/embeddingSizes/);
  });
});

describe('NPE embedding on gaussian_linear with 45 noise dimensions', () => {
  it('reaches a C2ST close to NPE on the 5 informative dimensions alone', async () => {
    // 3 000 simulations; x = 5 informative values (θ + N(0, 0.1 I)) then 45 of pure N(0, 1) noise;
    // 1 000 posterior samples at x_o against 1 000 draws of the analytic posterior N(x_o/2, 0.05 I).
    // Measured (this seed): NPE on the 5 informative dimensions alone 0.534; NPE with the
    // embedding [50, 100, 100, 20] on all 50 dimensions 0.604 (training seeds 2, 3: 0.643, 0.583); NPE on all 50 without embedding
    // 0.554 (docs/npe.md). Bound 0.70: the prior instead of the posterior gives ~0.9.
    const n = 3000;
    const I = 5;
    const sims = linearWithNoise(n, I, 45, 11);
    const xo = [0.3, -0.4, 0.1, 0.5, -0.2, ...new Array(45).fill(0).map((_, j) => Math.sin(j))];
    const m = 1000;
    const rng = new PhiloxStream(21, 0);
    const ref = new Float64Array(m * I);
    for (let i = 0; i < m * I; i++) ref[i] = xo[i % I]! / 2 + Math.sqrt(0.05) * rng.normal();
    const npe = new NPE({ prior: linearPrior(I), embedding: { hidden: [100, 100], outputDim: 20 } }).appendSimulations(sims.theta, sims.x);
    await npe.train({ seed: 1 });
    const score = await c2st(npe.buildPosterior().sample(m, { x: xo, seed: 2 }), ref, I, { seed: 1 });
    expect(score).toBeLessThan(0.7);
  }, 60_000);
});
