/**
 * Fixed data that WGSL simulator kernels read from a storage buffer (bind group 1), laid out as
 * the kernel declares it. The source is the same sbibm file the CPU kernel's generated header
 * embeds (scripts/gen-task-data.mjs), read here at first use; values are rounded to f32.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { SbiError } from '../errors.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface NoiseMixture {
  probs: number[];
  df: number[];
  loc: number[][];
  scale_tril: number[][][];
}

const COMPONENTS = 20;
const NOISE_DIM = 92;
// Offsets of the parts (SD_* in the kernel)
const DF = COMPONENTS;
const PERMUTATION = 2 * COMPONENTS;
const LOC = PERMUTATION + NOISE_DIM + 8;
const TRIL = LOC + COMPONENTS * NOISE_DIM;
const TRIL_SIZE = (NOISE_DIM * (NOISE_DIM + 1)) / 2;

/**
 * slcp_distractors' noise mixture for kernels/simulators/slcp_distractors.wgsl: probs [20], ν [20],
 * the output permutation [100], loc [20, 92], then each L_k's lower triangle by rows (4 278 values).
 */
export function slcpDistractorsMixture(): Float32Array<ArrayBuffer> {
  const files = path.join(packageRoot, 'data', 'sbibm', 'slcp_distractors', 'files');
  let mix: NoiseMixture, perm: number[];
  try {
    mix = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(files, 'noise_gmm.json.gz'))).toString('utf8')) as NoiseMixture;
    perm = (JSON.parse(fs.readFileSync(path.join(files, 'permutation.json'), 'utf8')) as { permutation_idx: number[] }).permutation_idx;
  } catch (e) {
    throw new SbiError(`slcp_distractors on the webgpu backend needs the noise mixture in ${files}: ${(e as Error).message}`, 'DATA_MISSING');
  }
  if (mix.probs.length !== COMPONENTS || mix.loc.some((l) => l.length !== NOISE_DIM) || perm.length !== NOISE_DIM + 8) {
    throw new SbiError(`Expected a mixture of ${COMPONENTS} components in ${NOISE_DIM} dimensions and a permutation of ${NOISE_DIM + 8} in ${files}`, 'DATA_MISSING');
  }
  // The kernel draws Gamma(ν/2) by Marsaglia–Tsang, which needs ν/2 ≥ 1 (sbibm's ν are all 2).
  if (mix.df.length !== COMPONENTS || mix.df.some((v) => !(v >= 2))) {
    throw new SbiError(`Expected ${COMPONENTS} degrees of freedom ≥ 2 in ${files} (the WGSL kernel's gamma sampler needs shape ≥ 1)`, 'DATA_MISSING');
  }
  const out = new Float32Array(TRIL + COMPONENTS * TRIL_SIZE);
  out.set(mix.probs, 0);
  out.set(mix.df, DF);
  out.set(perm, PERMUTATION);
  mix.loc.forEach((l, k) => out.set(l, LOC + NOISE_DIM * k));
  mix.scale_tril.forEach((L, k) => {
    for (let i = 0; i < NOISE_DIM; i++) out.set(L[i]!.slice(0, i + 1), TRIL + TRIL_SIZE * k + (i * (i + 1)) / 2);
  });
  return out;
}
