import { describe, expect, it } from 'vitest';
import type { ModelFile } from '../src/io/model_file.js';
import { ModelFileReader } from '../src/io/model_reader.js';

function file(): ModelFile {
  return {
    kind: 'TEST/x',
    metadata: { prior: { kind: 'boxUniform', low: [0], high: [1] }, training: { epochs: 2, bestEpoch: 1, simulations: 10 } },
    tensors: {
      w: { data: Float32Array.of(1, 2, 3), shape: [3] },
      s: { data: Float64Array.of(1, 0), shape: [2] },
      trainLoss: { data: Float64Array.of(3, 2), shape: [2] },
      validationLoss: { data: Float64Array.of(4, 5), shape: [2] },
      bestValidationLoss: { data: Float64Array.of(4), shape: [1] },
    },
  };
}

const invalidMatching = (re: RegExp) => expect.objectContaining({ code: 'INVALID_MODEL_FILE', message: expect.stringMatching(re) });

describe('ModelFileReader', () => {
  it('reads tensors of the stated type and length, the prior and the training summary', () => {
    const r = new ModelFileReader(file(), 'TEST');
    expect(Array.from(r.finiteTensor('w', Float32Array, 3))).toEqual([1, 2, 3]);
    expect(r.prior().dim).toBe(1);
    const t = r.trainingSummary();
    expect([t.epochs, t.bestEpoch, t.bestValidationLoss, t.count('simulations', 1)]).toEqual([2, 1, 4, 10]);
    expect(Array.from(t.validationLoss)).toEqual([4, 5]);
  });

  it('names the file, the tensor and what is wrong', () => {
    const r = new ModelFileReader(file(), 'TEST');
    expect(() => r.tensor('nope', Float32Array, 1)).toThrow(invalidMatching(/^Invalid TEST model file: tensor "nope" is missing/));
    expect(() => r.tensor('w', Float64Array, 3)).toThrow(invalidMatching(/tensor "w" should be a Float64Array of 3 values but holds Float32Array \[3\]/));
    expect(() => r.tensor('w', Float32Array, 4)).toThrow(invalidMatching(/of 4 values/));
    expect(() => r.finiteTensor('s', Float64Array, 2, true)).toThrow(invalidMatching(/s\[1\] is 0/));
    const f = file();
    (f.tensors.w!.data as Float32Array)[1] = NaN;
    expect(() => new ModelFileReader(f, 'TEST').finiteTensor('w', Float32Array, 3)).toThrow(invalidMatching(/w\[1\] is NaN/));
  });

  it('rejects a bad prior spec and inconsistent training records', () => {
    const f = file();
    f.metadata.prior = { kind: 'nonsense' };
    expect(() => new ModelFileReader(f, 'TEST').prior()).toThrow(invalidMatching(/bad prior spec/));
    const g = file();
    g.metadata.training = { epochs: 2, bestEpoch: 3 };
    expect(() => new ModelFileReader(g, 'TEST').trainingSummary()).toThrow(invalidMatching(/bestEpoch 3 exceeds epochs 2/));
    const h = file();
    delete h.metadata.training;
    expect(() => new ModelFileReader(h, 'TEST').trainingSummary()).toThrow(invalidMatching(/no training summary/));
    const k = file();
    expect(() => new ModelFileReader(k, 'TEST').trainingSummary().count('excluded', 0)).toThrow(invalidMatching(/training.excluded is undefined/));
  });
});
