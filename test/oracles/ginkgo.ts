/**
 * Independent TypeScript Ginkgo (jet shower) and its split potential ψ, written from the model's
 * definition (docs/trellis.md), not from the kernel: truncated exponentials by rejection, the
 * direction as a normalised Gaussian vector, the boost as a Lorentz matrix, recursion over nodes,
 * xoshiro128** random numbers.
 */
import { Rng } from './rng.js';

export interface OracleGinkgoModel {
  lambda: number;
  lambdaRoot: number;
  tCut: number;
}

const mass2 = (p: number[]) => p[0]! ** 2 - p[1]! ** 2 - p[2]! ** 2 - p[3]! ** 2;

/** log-probability of the split of (a ∪ b) into a and b, from the children's and the parent's m². */
export function oraclePsi(tA: number, tB: number, tP: number, lam: number, tCut: number): number {
  if (tP <= 0 || tA < 0 || tB < 0 || tP <= tCut) return -Infinity;
  if (tA >= 0.999 * tP || tB >= 0.999 * tP) return -Infinity;
  if (Math.sqrt(tA) + Math.sqrt(tB) > Math.sqrt(tP)) return -Infinity;
  const norm = -Math.log(1 - Math.exp(-0.999 * lam));
  const g = (T: number, t: number) =>
    t > tCut ? norm + Math.log(lam) - Math.log(T) - (lam * t) / T : norm + Math.log(1 - Math.exp((-lam * Math.min(T, tCut)) / T));
  const first = Math.log(0.5) + g(tP, tA) + g((Math.sqrt(tP) - Math.sqrt(tA)) ** 2, tB);
  const second = Math.log(0.5) + g(tP, tB) + g((Math.sqrt(tP) - Math.sqrt(tB)) ** 2, tA);
  const m = Math.max(first, second);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(Math.exp(first - m) + Math.exp(second - m)) - Math.log(4 * Math.PI);
}

/** ψ from the two children's 4-momenta (the parent is their sum). */
export function oraclePsiMomenta(a: number[], b: number[], lam: number, tCut: number): number {
  const p = a.map((v, k) => v + b[k]!);
  return oraclePsi(mass2(a), mass2(b), mass2(p), lam, tCut);
}

export interface OracleJet {
  leaves: number[][];
  logLikelihood: number;
}

function truncatedExponential(rng: Rng, rate: number): number {
  for (;;) {
    const u = -Math.log(rng.uniform()) / rate;
    if (u < 0.999) return u;
  }
}

/** Boosts q from the rest frame of P (mass m) to the lab: Λ(β) with β = P⃗/E. */
function boost(P: number[], m: number, q: number[]): number[] {
  const gamma = P[0]! / m;
  const b = [P[1]! / P[0]!, P[2]! / P[0]!, P[3]! / P[0]!];
  const b2 = b[0]! ** 2 + b[1]! ** 2 + b[2]! ** 2;
  const bq = b[0]! * q[1]! + b[1]! * q[2]! + b[2]! * q[3]!;
  const out = [gamma * (q[0]! + bq)];
  for (let k = 0; k < 3; k++) {
    const c = b2 > 0 ? ((gamma - 1) * bq) / b2 : 0;
    out.push(q[k + 1]! + c * b[k]! + gamma * b[k]! * q[0]!);
  }
  return out;
}

/** One jet from root mass M and momentum |p| along (1,1,1)/√3. */
export function oracleGinkgoJet(rng: Rng, model: OracleGinkgoModel, mass: number, momentum: number): OracleJet {
  const leaves: number[][] = [];
  let logLikelihood = 0;
  const c = momentum / Math.sqrt(3);
  const visit = (p: number[], t: number, isRoot: boolean) => {
    if (t <= model.tCut) {
      leaves.push(p);
      return;
    }
    const rate = isRoot ? model.lambdaRoot : model.lambda;
    const t1 = t * truncatedExponential(rng, rate);
    const t2 = (Math.sqrt(t) - Math.sqrt(t1)) ** 2 * truncatedExponential(rng, rate);
    const v = [rng.normal(), rng.normal(), rng.normal()];
    const norm = Math.hypot(v[0]!, v[1]!, v[2]!);
    const r = v.map((x) => x / norm);
    const m = Math.sqrt(t);
    const e1 = (t + t1 - t2) / (2 * m), e2 = (t + t2 - t1) / (2 * m);
    const k = Math.sqrt(Math.max(0, e1 * e1 - t1));
    const p1 = boost(p, m, [e1, k * r[0]!, k * r[1]!, k * r[2]!]);
    const p2 = boost(p, m, [e2, -k * r[0]!, -k * r[1]!, -k * r[2]!]);
    logLikelihood += oraclePsi(t1, t2, t, rate, model.tCut);
    if (rng.uniform() < 0.5) {
      visit(p1, t1, false);
      visit(p2, t2, false);
    } else {
      visit(p2, t2, false);
      visit(p1, t1, false);
    }
  };
  visit([Math.sqrt(momentum * momentum + mass * mass), c, c, c], mass * mass, true);
  return { leaves, logLikelihood };
}
