/**
 * Checked reads from a decoded model file, shared by the estimators' loaders: every failure is an
 * SbiError INVALID_MODEL_FILE naming the file's label and what is wrong, never a silently wrong model.
 */
import { SbiError } from '../errors.js';
import { createPrior, type Prior, type PriorSpec } from '../priors.js';
import { describe } from '../validate.js';
import type { ModelFile } from './model_file.js';

type FloatArrayCtor<T> = { new (n: number): T; name: string };

/** The training record every estimator file stores in `metadata.training` and its loss tensors. */
export interface StoredTrainingSummary {
  epochs: number;
  bestEpoch: number;
  bestValidationLoss: number;
  trainLoss: Float64Array;
  validationLoss: Float64Array;
  /** A non-negative integer field of `metadata.training` of at least `min`. */
  count(name: string, min: number): number;
}

export class ModelFileReader {
  constructor(readonly file: ModelFile, readonly label: string) {}

  invalid(why: string): SbiError {
    return new SbiError(`Invalid ${this.label} model file: ${why}`, 'INVALID_MODEL_FILE');
  }

  /** A 1-D tensor of exactly `length` values of type `ctor`. */
  tensor<T extends Float32Array | Float64Array>(name: string, ctor: FloatArrayCtor<T>, length: number): T {
    const t = this.file.tensors[name];
    if (!t) throw this.invalid(`tensor "${name}" is missing`);
    if (!(t.data instanceof ctor) || t.shape.length !== 1 || t.data.length !== length) {
      throw this.invalid(`tensor "${name}" should be a ${ctor.name} of ${length} values but holds ${t.data.constructor.name} [${t.shape}]`);
    }
    return t.data as T;
  }

  /** `tensor`, with every value finite (and > 0 when `positive`). */
  finiteTensor<T extends Float32Array | Float64Array>(name: string, ctor: FloatArrayCtor<T>, length: number, positive = false): T {
    const v = this.tensor(name, ctor, length);
    v.forEach((a, i) => {
      if (!Number.isFinite(a) || (positive && !(a > 0))) throw this.invalid(`${name}[${i}] is ${a}`);
    });
    return v;
  }

  /** The prior rebuilt from `metadata.prior`. */
  prior(): Prior {
    try {
      return createPrior(this.file.metadata.prior as PriorSpec);
    } catch (e) {
      throw this.invalid(`bad prior spec (${(e as Error).message})`);
    }
  }

  trainingSummary(): StoredTrainingSummary {
    const training = this.file.metadata.training as Record<string, unknown> | undefined;
    if (typeof training !== 'object' || training === null) throw this.invalid('no training summary');
    const count = (name: string, min: number) => {
      const v = training[name];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw this.invalid(`training.${name} is ${describe(v)}`);
      return v;
    };
    const epochs = count('epochs', 1);
    const bestEpoch = count('bestEpoch', 1);
    if (bestEpoch > epochs) throw this.invalid(`training.bestEpoch ${bestEpoch} exceeds epochs ${epochs}`);
    return {
      epochs, bestEpoch, count,
      bestValidationLoss: this.tensor('bestValidationLoss', Float64Array, 1)[0]!,
      trainLoss: this.tensor('trainLoss', Float64Array, epochs),
      validationLoss: this.tensor('validationLoss', Float64Array, epochs),
    };
  }
}
