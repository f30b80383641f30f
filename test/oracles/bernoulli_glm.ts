/**
 * bernoulli_glm / bernoulli_glm_raw (sbibm): y_t ~ Bernoulli(σ((Xβ)_t)), t < 100; summaries
 * Xᵀy or the raw y. Reads the design matrix CSV from data/sbibm/bernoulli_glm/files/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from './rng.js';

const csv = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../data/sbibm/bernoulli_glm/files/bernoulli_glm_design_matrix.csv',
);
let design: Float64Array | undefined;

function designMatrix(): Float64Array {
  design ??= Float64Array.from(fs.readFileSync(csv, 'utf8').trim().split(/[\n,]/).map(Number));
  return design;
}

function simulate(theta: Float64Array, n: number, seed: number, raw: boolean): Float32Array {
  const X = designMatrix();
  const T = 100;
  const d = 10;
  const rng = new Rng(seed);
  const x = new Float32Array((raw ? T : d) * n);
  const y = new Float64Array(T);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < T; t++) {
      let psi = 0;
      for (let j = 0; j < d; j++) psi += X[t * d + j] * theta[i * d + j];
      y[t] = rng.uniform() < 1 / (1 + Math.exp(-psi)) ? 1 : 0;
    }
    if (raw) {
      for (let t = 0; t < T; t++) x[i * T + t] = y[t];
    } else {
      for (let j = 0; j < d; j++) {
        let acc = 0;
        for (let t = 0; t < T; t++) acc += X[t * d + j] * y[t];
        x[i * d + j] = acc;
      }
    }
  }
  return x;
}

export const bernoulliGlmOracle = (theta: Float64Array, n: number, seed: number) => simulate(theta, n, seed, false);
export const bernoulliGlmRawOracle = (theta: Float64Array, n: number, seed: number) => simulate(theta, n, seed, true);
