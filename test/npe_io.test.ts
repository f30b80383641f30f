// Saving and loading trained NPE (src/inference/npe.ts through src/io/model_file.ts).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAF } from '../src/flows/maf.js';
import { NPE, NPEPosterior } from '../src/inference/npe.js';
import { decodeModelFile, encodeModelFile } from '../src/io/model_file.js';
import type { ModelFile } from '../src/io/model_file.js';
import { createPrior } from '../src/priors.js';
import type { PriorSpec } from '../src/priors.js';
import { PhiloxStream } from '../src/random/philox.js';

/** θ ~ prior (normal or uniform per dimension), x = (θ + N(0, 0.3²), θ_0 − θ_last). */
async function trained(kind: 'maf' | 'nsf', spec: PriorSpec, n = 400): Promise<NPE> {
  const prior = createPrior(spec);
  const theta = prior.sample(n, { seed: 5 });
  const D = prior.dim;
  const rng = new PhiloxStream(9, 0);
  const x = new Float64Array(n * (D + 1));
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < D; d++) x[i * (D + 1) + d] = theta[i * D + d]! + 0.3 * rng.normal();
    x[i * (D + 1) + D] = theta[i * D]! - theta[i * D + D - 1]!;
  }
  const npe = new NPE({ prior, densityEstimator: kind, hidden: 8, layers: 2 });
  npe.appendSimulations(theta, x);
  await npe.train({ seed: 3, maxEpochs: 3 });
  return npe;
}

const bits = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'sbi-npe-io-'));

const normal1: PriorSpec = { kind: 'normal', loc: [0], scale: [2] };
const box2: PriorSpec = { kind: 'boxUniform', low: [-1, -1], high: [1, 1] };

describe('NPE save / load', () => {
  it('NPE.load gives a posterior whose sample and logProb are bit-identical (MAF)', async () => {
    const npe = await trained('maf', normal1);
    const dir = tmp();
    const file = path.join(dir, 'npe.bin');
    npe.save(file);
    expect(decodeModelFile(new Uint8Array(fs.readFileSync(file))).kind).toBe('NPE/maf');
    const loaded = NPE.load(file);
    expect(loaded.densityEstimator).toBe('maf');
    expect(loaded.prior.spec).toEqual(normal1);
    const a = npe.buildPosterior();
    const b = loaded.buildPosterior();
    const x = [0.4, 0.5];
    expect(bits(b.sample(500, { x, seed: 11 }))).toEqual(bits(a.sample(500, { x, seed: 11 })));
    const grid = Float64Array.from({ length: 101 }, (_, i) => -5 + 0.1 * i);
    expect(bits(b.logProb(grid, { x }))).toEqual(bits(a.logProb(grid, { x })));
    expect(b.summary).toEqual(a.summary);
    expect(b.summary.simulations).toBe(400);
    fs.rmSync(dir, { recursive: true });
  });

  it('NPEPosterior.save / load round-trips an NSF posterior bit for bit, support rejection included', async () => {
    const npe = await trained('nsf', box2);
    const a = npe.buildPosterior();
    expect(a.kind).toBe('NPE/nsf');
    const dir = tmp();
    const file = path.join(dir, 'post.bin');
    a.save(file);
    const b = NPEPosterior.load(file);
    expect(NPE.load(file).densityEstimator).toBe('nsf');
    const x = [0.2, -0.3, 0.5];
    expect(bits(b.sample(300, { x, seed: 2 }))).toEqual(bits(a.sample(300, { x, seed: 2 })));
    const theta = Float64Array.of(0, 0, 0.9, -0.9, 1.5, 0); // the last row lies outside the support
    const lq = b.logProb(theta, { x });
    expect(bits(lq)).toEqual(bits(a.logProb(theta, { x })));
    expect(lq[2]).toBe(-Infinity);
    // Same bytes again: encoding is a function of the model.
    expect(Buffer.from(b.encode())).toEqual(Buffer.from(a.encode()));
    fs.rmSync(dir, { recursive: true });
  });

  describe('errors', () => {
    let good: ModelFile;
    const withMeta = (patch: (m: ModelFile) => void): Uint8Array => {
      const m = decodeModelFile(encodeModelFile(good));
      patch(m);
      return encodeModelFile(m);
    };

    it('gives the container\'s SbiError for a missing, corrupt, foreign or other-kind file, NOT_TRAINED before training', async () => {
      const npe = await trained('maf', normal1, 200);
      good = npe.buildPosterior().toModelFile();
      const dir = tmp();
      expect(() => NPE.load(path.join(dir, 'nope.bin'))).toThrow(expect.objectContaining({ name: 'SbiError', code: 'FILE_NOT_FOUND' }));
      const bytes = encodeModelFile(good);
      const damaged = bytes.slice();
      damaged[damaged.length - 20]! ^= 1;
      expect(() => NPE.decode(damaged)).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
      expect(() => NPE.decode(bytes.subarray(0, bytes.length - 9))).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
      const foreign = path.join(dir, 'foreign.bin');
      fs.writeFileSync(foreign, 'parameter_1\n0.5\n'.repeat(4));
      expect(() => NPE.load(foreign)).toThrow(expect.objectContaining({ code: 'NOT_A_MODEL_FILE' }));
      const other = encodeModelFile({ ...good, kind: 'NLE/maf' });
      expect(() => NPEPosterior.decode(other)).toThrow(expect.objectContaining({ code: 'WRONG_MODEL_KIND' }));
      expect(() => new NPE({ prior: createPrior(normal1) }).save(path.join(dir, 'x.bin'))).toThrow(expect.objectContaining({ code: 'NOT_TRAINED' }));
      fs.rmSync(dir, { recursive: true });
    });

    it('gives SbiError INVALID_MODEL_FILE for inconsistent contents, never a wrong model', () => {
      const flow = (m: ModelFile) => m.metadata.flow as Record<string, unknown>;
      const cases: Array<[string, (m: ModelFile) => void, RegExp]> = [
        ['hidden changed', (m) => { flow(m).hidden = 9; }, /paramCount|tensor "params"/],
        ['paramCount changed', (m) => { flow(m).paramCount = 7; }, /paramCount 7/],
        ['params truncated', (m) => { m.tensors.params = { data: m.tensors.params!.data.slice(1), shape: [m.tensors.params!.data.length - 1] }; }, /tensor "params"/],
        ['params as float64', (m) => { m.tensors.params = { data: Float64Array.from(m.tensors.params!.data), shape: m.tensors.params!.shape }; }, /Float32Array/],
        ['prior of another dimension', (m) => { m.metadata.prior = box2; }, /prior has 2 dimensions/],
        ['bad prior spec', (m) => { m.metadata.prior = { kind: 'normal', loc: [0], scale: [-1] }; }, /bad prior spec/],
        ['transform of the other kind', (m) => { flow(m).transform = { kind: 'rqSpline' }; }, /transform/],
        ['densityEstimator of the other kind', (m) => { m.metadata.densityEstimator = 'nsf'; }, /densityEstimator/],
        ['zero thetaStd', (m) => { (m.tensors.thetaStd!.data as Float64Array)[0] = 0; }, /thetaStd\[0\] is 0/],
        ['xMean missing', (m) => { delete m.tensors.xMean; }, /"xMean" is missing/],
        ['epochs not matching the losses', (m) => { (m.metadata.training as Record<string, unknown>).epochs = 99; }, /trainLoss|bestEpoch/],
        ['no training summary', (m) => { delete m.metadata.training; }, /training summary/],
      ];
      for (const [name, patch, message] of cases) {
        let error: unknown;
        try {
          NPE.decode(withMeta(patch));
        } catch (e) {
          error = e;
        }
        expect(error, name).toMatchObject({ name: 'SbiError', code: 'INVALID_MODEL_FILE' });
        expect((error as Error).message, name).toMatch(message);
      }
      // A weight the MADE masks out that is not 0: the parameters were not made for this architecture.
      const j = new MAF({ dim: 1, contextDim: 2, hidden: 8, layers: 2 }).mask.indexOf(0);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(good.tensors.params!.data[j]).toBe(0);
      const bytes = withMeta((m) => { (m.tensors.params!.data as Float32Array)[j] = 0.5; });
      expect(() => NPE.decode(bytes)).toThrow(/masked parameter/);
      expect(() => NPE.decode(withMeta((m) => { m.metadata.npeFileVersion = 3; }))).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_MODEL_VERSION' }));
      // Version 2 is the layout with an embedding network (test/npe_embedding.test.ts): it needs one.
      expect(() => NPE.decode(withMeta((m) => { m.metadata.npeFileVersion = 2; }))).toThrow(expect.objectContaining({ code: 'INVALID_MODEL_FILE' }));
    });
  });
});
