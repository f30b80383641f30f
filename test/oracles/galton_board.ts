/**
 * Independent TypeScript implementation of the generalized Galton board (Brehmer, Louppe, Pavez,
 * Cranmer, PNAS 2020, arXiv:1805.12244): the statistical-test oracle and the benchmark baseline.
 * Written from the model, not from the kernel: the left probability is used in its tanh form
 *   t = 1/2 + (s_l / 2) tanh(5 θ g_n),   ∂t/∂θ = (s_l / 2)(1 − tanh²) 5 g_n,
 * (equal to (1 − s_l)/2 + s_l σ(10 θ g_n)), the board is a table of nails per row, randomness is
 * xoshiro128**, and the exact distribution is obtained by enumerating all 2^20 paths.
 */
import { Rng } from './rng.js';

const ROWS = 20;
const NAILS = 31;
const START = 15;

/** Left probability and its θ-derivative for every (row, nail), [ROWS * NAILS]. */
function nailTable(theta: number): { t: Float64Array; dt: Float64Array } {
  const t = new Float64Array(ROWS * NAILS);
  const dt = new Float64Array(ROWS * NAILS);
  for (let row = 0; row < ROWS; row++) {
    const half = 0.5 * Math.sin((Math.PI * row) / (ROWS - 1));
    for (let nail = 0; nail < NAILS; nail++) {
      const g = (2 * nail) / (NAILS - 1) - 1;
      const th = Math.tanh(5 * theta * g);
      t[row * NAILS + nail] = 0.5 + half * th;
      dt[row * NAILS + nail] = half * (1 - th * th) * 5 * g;
    }
  }
  return { t, dt };
}

/** Horizontal step of the ball: even rows move right by one on "right", odd rows left on "left". */
function step(row: number, left: boolean): number {
  return row % 2 === 0 ? (left ? 0 : 1) : left ? -1 : 0;
}

export interface GaltonTrace {
  x: number;
  /** log p(x, z | θ) */
  logLik: number;
  /** ∂/∂θ log p(x, z | θ) */
  score: number;
  /** log p(x, z | θ_ref) of the same path, when θ_ref was given */
  logLikRef?: number;
}

/**
 * One ball, its decision at row l being "left" iff uniforms[l] < t. With θ_ref, also the log
 * probability of the same path under θ_ref.
 */
export function galtonTrace(theta: number, uniforms: ArrayLike<number>, thetaRef?: number): GaltonTrace {
  const board = nailTable(theta);
  const ref = thetaRef === undefined ? undefined : nailTable(thetaRef);
  let pos = START;
  let logLik = 0;
  let score = 0;
  let logLikRef = 0;
  for (let row = 0; row < ROWS; row++) {
    const k = row * NAILS + pos;
    const left = uniforms[row] < board.t[k];
    const p = left ? board.t[k] : 1 - board.t[k];
    logLik += Math.log(p);
    score += (left ? board.dt[k] : -board.dt[k]) / p;
    if (ref) logLikRef += Math.log(left ? ref.t[k] : 1 - ref.t[k]);
    pos += step(row, left);
  }
  return { x: pos, logLik, score, ...(ref ? { logLikRef } : {}) };
}

export interface GaltonSample {
  x: Float64Array;
  jointLogLikelihood: Float64Array;
  jointScore: Float64Array;
}

/** n balls at θ with gold, from xoshiro128** seeded by `seed`. */
export function galtonSimulate(theta: number, n: number, seed: number): GaltonSample {
  const rng = new Rng(seed);
  const board = nailTable(theta);
  const out: GaltonSample = {
    x: new Float64Array(n),
    jointLogLikelihood: new Float64Array(n),
    jointScore: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    let pos = START;
    let logLik = 0;
    let score = 0;
    for (let row = 0; row < ROWS; row++) {
      const k = row * NAILS + pos;
      const left = rng.uniform() < board.t[k];
      const p = left ? board.t[k] : 1 - board.t[k];
      logLik += Math.log(p);
      score += (left ? board.dt[k] : -board.dt[k]) / p;
      pos += step(row, left);
    }
    out.x[i] = pos;
    out.jointLogLikelihood[i] = logLik;
    out.jointScore[i] = score;
  }
  return out;
}

/**
 * p(x = k | θ) and ∂/∂θ p(x = k | θ), k = 0..30, by summing p(z | θ) and p(z | θ) ∂ log p(z | θ)
 * over all 2^20 paths z (depth-first; about 2 million nodes).
 */
export function galtonPmfByEnumeration(theta: number): { pmf: Float64Array; dpmf: Float64Array } {
  const board = nailTable(theta);
  const pmf = new Float64Array(NAILS);
  const dpmf = new Float64Array(NAILS);
  const visit = (row: number, pos: number, prob: number, score: number): void => {
    if (row === ROWS) {
      pmf[pos] += prob;
      dpmf[pos] += prob * score;
      return;
    }
    const k = row * NAILS + pos;
    const t = board.t[k];
    visit(row + 1, pos + step(row, true), prob * t, score + board.dt[k] / t);
    visit(row + 1, pos + step(row, false), prob * (1 - t), score - board.dt[k] / (1 - t));
  };
  visit(0, START, 1, 0);
  return { pmf, dpmf };
}
