/**
 * Hierarchies (binary trees over leaves 0..N−1) in the two forms the trellis uses:
 * - splits: N − 1 pairs (parent bitmask, the part holding the parent's lowest leaf), any order;
 * - nested pairs: a leaf index, or [left, right] with the child holding the lowest leaf first.
 */
import { SbiError } from '../errors.js';

export type NestedTree = number | [NestedTree, NestedTree];

const lowestLeaf = (mask: number) => 31 - Math.clz32(mask & -mask);

/** Nested pairs from splits of a hierarchy over n leaves (throws if they do not form one). */
export function splitsToTree(splits: ArrayLike<number>, n: number): NestedTree {
  const part = new Map<number, number>();
  for (let k = 0; k + 1 < splits.length; k += 2) part.set(splits[k]! >>> 0, splits[k + 1]! >>> 0);
  const build = (mask: number, depth: number): NestedTree => {
    if ((mask & (mask - 1)) === 0) return lowestLeaf(mask);
    const a = part.get(mask);
    if (a === undefined || depth > n) throw new SbiError(`The splits do not form a hierarchy: cluster ${mask} has no split`, 'INVALID_HIERARCHY');
    const b = (mask ^ a) >>> 0;
    const [first, second] = a & (mask & -mask) ? [a, b] : [b, a];
    return [build(first, depth + 1), build(second, depth + 1)];
  };
  const full = n >= 32 ? 0xffffffff : 2 ** n - 1;
  return build(full >>> 0, 0);
}

/** The bitmask of the leaves under a (sub)tree. */
export function treeMask(tree: NestedTree): number {
  return typeof tree === 'number' ? 2 ** tree : (treeMask(tree[0]) | treeMask(tree[1])) >>> 0;
}

/** Splits (as in splitsToTree) of a nested tree, in pre-order. */
export function treeToSplits(tree: NestedTree): Uint32Array {
  const out: number[] = [];
  const walk = (t: NestedTree) => {
    if (typeof t === 'number') return;
    const a = treeMask(t[0]), b = treeMask(t[1]);
    const parent = (a | b) >>> 0;
    out.push(parent, a & (parent & -parent) ? a : b);
    walk(t[0]);
    walk(t[1]);
  };
  walk(tree);
  return Uint32Array.from(out);
}

/** A canonical string of a hierarchy (children ordered by lowest leaf), e.g. "((0,1),2)". */
export function treeKey(tree: NestedTree): string {
  if (typeof tree === 'number') return String(tree);
  const [x, y] = tree;
  const lx = lowestLeaf(treeMask(x)), ly = lowestLeaf(treeMask(y));
  return lx < ly ? `(${treeKey(x)},${treeKey(y)})` : `(${treeKey(y)},${treeKey(x)})`;
}
