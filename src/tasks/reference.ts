/**
 * sbibm reference data shipped in data/sbibm/ (from the public sbibm benchmark, MIT licence):
 * for observations k = 1..5 the observed x, the true θ and 10,000 reference posterior samples.
 * slcp_distractors and bernoulli_glm_raw share the reference posteriors of slcp and
 * bernoulli_glm; only their observations differ.
 */
import path from 'node:path';
import fs from 'node:fs';
import { packageRoot } from '../native.js';
import { readCsvFile } from '../csv.js';
import { SbiError } from '../errors.js';

const SOURCES: Record<string, { dir: string; observationFile: string }> = {
  gaussian_linear: { dir: 'gaussian_linear', observationFile: 'observation.csv' },
  gaussian_linear_uniform: { dir: 'gaussian_linear_uniform', observationFile: 'observation.csv' },
  slcp: { dir: 'slcp', observationFile: 'observation.csv' },
  slcp_distractors: { dir: 'slcp', observationFile: 'observation_distractors.csv' },
  two_moons: { dir: 'two_moons', observationFile: 'observation.csv' },
  gaussian_mixture: { dir: 'gaussian_mixture', observationFile: 'observation.csv' },
  bernoulli_glm: { dir: 'bernoulli_glm', observationFile: 'observation.csv' },
  bernoulli_glm_raw: { dir: 'bernoulli_glm', observationFile: 'observation_raw.csv' },
  sir: { dir: 'sir', observationFile: 'observation.csv' },
  lotka_volterra: { dir: 'lotka_volterra', observationFile: 'observation.csv' },
};

export const REFERENCE_OBSERVATIONS = [1, 2, 3, 4, 5] as const;

export function hasReferenceData(task: string): boolean {
  return task in SOURCES;
}

function observationDir(task: string, k: number): string {
  const src = SOURCES[task];
  if (!src) {
    throw new SbiError(`Task "${task}" has no reference data; tasks with reference data: ${Object.keys(SOURCES).join(', ')}`, 'NO_REFERENCE');
  }
  if (!Number.isInteger(k) || k < 1 || k > 5) {
    throw new RangeError(`Expected an integer in [1, 5] for \`observation\` but received ${k}`);
  }
  const dir = path.join(packageRoot, 'data', 'sbibm', src.dir, `num_observation_${k}`);
  if (!fs.existsSync(dir)) throw new SbiError(`Reference data missing: ${dir}`, 'NO_REFERENCE');
  return dir;
}

/** The observed x of reference observation k (1..5), as one row. */
export function referenceObservation(task: string, k: number): Float64Array {
  const file = path.join(observationDir(task, k), SOURCES[task]!.observationFile);
  return readCsvFile(file).data;
}

/** The θ that generated reference observation k. */
export function referenceParameters(task: string, k: number): Float64Array {
  return readCsvFile(path.join(observationDir(task, k), 'true_parameters.csv')).data;
}

/** The 10,000 reference posterior samples of observation k: [n, dim] row-major. */
export function referencePosteriorSamples(task: string, k: number): { samples: Float64Array; n: number; dim: number } {
  const t = readCsvFile(path.join(observationDir(task, k), 'reference_posterior_samples.csv.gz'));
  return { samples: t.data, n: t.rows, dim: t.cols };
}
