/**
 * slcp_distractors (sbibm): SLCP's 8 values and 92 draws from a mixture of 20 multivariate
 * Student-t distributions, columns permuted. Reads sbibm's mixture and permutation from the
 * repository's data/sbibm/slcp_distractors/files/ (not through the generated C++ header).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { Rng } from './rng.js';
import { slcpDraw } from './slcp.js';

interface NoiseMixture {
  probs: number[];
  df: number[];
  loc: number[][];
  scale_tril: number[][][];
}

const files = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/sbibm/slcp_distractors/files');
let cache: { mix: NoiseMixture; tril: Float64Array[]; perm: number[] } | undefined;

function load() {
  if (!cache) {
    const mix = JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(files, 'noise_gmm.json.gz'))).toString('utf8')) as NoiseMixture;
    const perm = (JSON.parse(fs.readFileSync(path.join(files, 'permutation.json'), 'utf8')) as { permutation_idx: number[] }).permutation_idx;
    const tril = mix.scale_tril.map((L) => Float64Array.from(L.flat()));
    cache = { mix, tril, perm };
  }
  return cache;
}

export function slcpDistractorsOracle(theta: Float64Array, n: number, seed: number): Float32Array {
  const { mix, tril, perm } = load();
  const dim = 92;
  const rng = new Rng(seed);
  const x = new Float32Array(100 * n);
  const v = new Float64Array(100);
  const z = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    slcpDraw(theta, 5 * i, rng, v, 0);
    const k = rng.categorical(mix.probs);
    const df = mix.df[k];
    for (let j = 0; j < dim; j++) z[j] = rng.normal();
    const w = Math.sqrt((2 * rng.gamma(df / 2)) / df); // √(χ²_ν / ν)
    const L = tril[k];
    const loc = mix.loc[k];
    for (let r = 0; r < dim; r++) {
      let acc = 0;
      for (let c = 0; c <= r; c++) acc += L[r * dim + c] * z[c];
      v[8 + r] = loc[r] + acc / w;
    }
    for (let c = 0; c < 100; c++) x[100 * i + c] = v[perm[c]];
  }
  return x;
}
