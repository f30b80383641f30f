/**
 * Brute-force enumeration of every binary hierarchy of N ≤ 8 leaves (135135 at N = 8): the oracle of
 * the trellis tests. Every hierarchy is listed explicitly (sub-hierarchies of a set are listed
 * once and shared), with its energy — the sum of a caller-supplied ψ over its internal nodes —
 * and its clusters; log Z, the MAP, the count and the marginals are then plain sums over the list.
 */

/** ψ(A, B, isRoot) on leaf index lists. */
export type SplitPotential = (a: number[], b: number[], isRoot: boolean) => number;

interface Listed {
  /** canonical form: children ordered by their lowest leaf, e.g. "((0,1),2)" */
  key: string;
  energy: number;
  /** bitmasks of its clusters (leaves and root included) */
  clusters: number[];
}

const members = (mask: number) => Array.from({ length: 32 }, (_, i) => i).filter((i) => mask & (1 << i));

/** Every hierarchy over the leaves of `mask`. */
function enumerate(mask: number, full: number, psi: SplitPotential, memo: Map<number, Listed[]>): Listed[] {
  const hit = memo.get(mask);
  if (hit) return hit;
  let out: Listed[];
  if ((mask & (mask - 1)) === 0) {
    out = [{ key: String(31 - Math.clz32(mask)), energy: 0, clusters: [mask] }];
  } else {
    out = [];
    const low = mask & -mask, rest = mask ^ low;
    for (let sub = 0; sub < 2 ** 31; sub = ((sub | ~rest) + 1) & rest) {
      const a = low | sub, b = mask ^ a;
      if (b === 0) break;
      const e = psi(members(a), members(b), mask === full);
      for (const ta of enumerate(a, full, psi, memo))
        for (const tb of enumerate(b, full, psi, memo))
          out.push({ key: `(${ta.key},${tb.key})`, energy: e + ta.energy + tb.energy, clusters: [mask, ...ta.clusters, ...tb.clusters] });
      if (sub === rest) break;
    }
  }
  memo.set(mask, out);
  return out;
}

export interface BruteForce {
  logZ: number;
  count: number;
  mapEnergy: number;
  mapKey: string;
  /** exact probability of each hierarchy (canonical key) */
  probabilities: Map<string, number>;
  /** marginal of each cluster, by sorted leaf list joined with ',' */
  marginals: Map<string, number>;
}

export function bruteForce(n: number, psi: SplitPotential): BruteForce {
  const full = 2 ** n - 1;
  const trees = enumerate(full, full, psi, new Map());
  let max = -Infinity, mapKey = '', count = 0;
  for (const t of trees) {
    if (t.energy > -Infinity) count++;
    if (t.energy > max) {
      max = t.energy;
      mapKey = t.key;
    }
  }
  let sum = 0;
  for (const t of trees) if (t.energy > -Infinity) sum += Math.exp(t.energy - max);
  const logZ = count ? max + Math.log(sum) : -Infinity;
  const probabilities = new Map<string, number>();
  const byMask = new Map<number, number>();
  for (const t of trees) {
    const p = t.energy > -Infinity ? Math.exp(t.energy - logZ) : 0;
    probabilities.set(t.key, p);
    for (const c of t.clusters) byMask.set(c, (byMask.get(c) ?? 0) + p);
  }
  const marginals = new Map<string, number>();
  for (const [m, p] of byMask) marginals.set(members(m).join(','), p);
  return { logZ, count, mapEnergy: max, mapKey, probabilities, marginals };
}
