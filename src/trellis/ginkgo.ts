/**
 * Ginkgo jets (Cranmer, Drnevich, Macaluso, Pappadopulo, "Ginkgo: a toy generative model for jet
 * physics"): a batched native simulator (kernels/simulators/ginkgo.h). Jet k uses Philox stream k
 * of the simulator seed, so the jets do not depend on the thread count.
 */
import type { ProgressCallback } from '../native.js';
import { SbiError } from '../errors.js';
import { checkPositiveInteger, checkSeed, checkThreads, checkFinite } from '../validate.js';
import { trellisNative } from './native.js';
import type { NestedTree } from './hierarchy.js';

/** Ginkgo's shower parameters: the split rates (exponential) and the mass² below which a node is a leaf. */
export interface GinkgoModel {
  kind: 'ginkgo';
  lambda: number;
  lambdaRoot: number;
  tCut: number;
}

/** A jet's root: invariant mass M and momentum |p| along (1, 1, 1)/√3. */
export interface GinkgoRoot {
  mass: number;
  momentum: number;
}

/** W jets: M = 80, λ_root = 3, λ = 1.5, t_cut = 16. QCD jets: M = 30, both rates 1.5. */
export const GINKGO_PRESETS = {
  w: { model: { kind: 'ginkgo', lambda: 1.5, lambdaRoot: 3.0, tCut: 16 }, root: { mass: 80, momentum: 400 } },
  qcd: { model: { kind: 'ginkgo', lambda: 1.5, lambdaRoot: 1.5, tCut: 16 }, root: { mass: 30, momentum: 400 } },
} as const satisfies Record<string, { model: GinkgoModel; root: GinkgoRoot }>;

export interface GinkgoSimulateOptions {
  n: number;
  seed: number | bigint;
  model?: GinkgoModel;
  root?: GinkgoRoot;
  /** Redraw a jet (from its own stream) until its leaf count is in [minLeaves, maxLeaves]. */
  minLeaves?: number;
  maxLeaves?: number;
  /** Draws per jet before it is reported failed (default 100000). */
  maxTries?: number;
  /** Model of the log-ratio's denominator: gold.jointLogRatio = log p(tree | model) − log p(tree | reference). */
  reference?: GinkgoModel;
  threads?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface GinkgoGold {
  /** Σ ψ over the generating tree's internal nodes (docs/trellis.md). */
  jointLogLikelihood: number;
  /** ∂/∂λ and ∂/∂λ_root of the joint log-likelihood. */
  jointScore: { lambda: number; lambdaRoot: number };
  jointLogRatio?: number;
}

export interface GinkgoJet {
  /** Leaf 4-momenta [E, px, py, pz], in the generating tree's left-to-right order. */
  leaves: number[][];
  /** The generating tree as nested pairs of leaf indices (left child first, as drawn). */
  tree: NestedTree;
  /** The drawn invariant mass squared of every internal node, in pre-order. */
  internalMasses: number[];
  gold: GinkgoGold;
}

export interface GinkgoBatch {
  jets: GinkgoJet[];
  /** Jets whose leaf count stayed out of range after maxTries draws (not in `jets`). */
  failed: number;
}

const DEFAULT_MAX_LEAVES = 256;

function checkModel(m: GinkgoModel, name: string): GinkgoModel {
  if (typeof m !== 'object' || m === null || m.kind !== 'ginkgo')
    throw new TypeError(`Expected \`${name}\` to be { kind: 'ginkgo', lambda, lambdaRoot, tCut }`);
  for (const key of ['lambda', 'lambdaRoot'] as const)
    if (!(checkFinite(m[key], `${name}.${key}`) > 0)) throw new RangeError(`Expected a positive \`${name}.${key}\` but received ${m[key]}`);
  if (!(checkFinite(m.tCut, `${name}.tCut`) >= 0)) throw new RangeError(`Expected a non-negative \`${name}.tCut\` but received ${m.tCut}`);
  return m;
}

function prepare(o: GinkgoSimulateOptions) {
  const n = checkPositiveInteger(o.n, 'n', 2 ** 32);
  const model = checkModel(o.model ?? GINKGO_PRESETS.w.model, 'model');
  const root = o.root ?? GINKGO_PRESETS.w.root;
  const maxLeaves = o.maxLeaves === undefined ? DEFAULT_MAX_LEAVES : checkPositiveInteger(o.maxLeaves, 'maxLeaves', 4096);
  const minLeaves = o.minLeaves === undefined ? 1 : checkPositiveInteger(o.minLeaves, 'minLeaves', maxLeaves);
  const slots = 2 * maxLeaves - 1;
  if (n * slots * 4 > 2 ** 31) throw new RangeError(`Expected n · (2 maxLeaves − 1) · 4 <= 2^31 values but received n = ${n}, maxLeaves = ${maxLeaves}`);
  const native = {
    n, seed: checkSeed(o.seed), lambda: model.lambda, lambdaRoot: model.lambdaRoot, tCut: model.tCut,
    mass: root.mass, momentum: root.momentum, minLeaves, maxLeaves,
    maxTries: o.maxTries === undefined ? 100000 : checkPositiveInteger(o.maxTries, 'maxTries', 2 ** 30),
    momenta: new Float64Array(n * slots * 4), t: new Float64Array(n * slots), children: new Int32Array(n * slots * 2),
    nodes: new Int32Array(n), failed: new Uint8Array(n), jointLogLikelihood: new Float64Array(n),
    jointScore: new Float64Array(2 * n),
    ...(o.reference
      ? { reference: Float64Array.of(checkModel(o.reference, 'reference').lambda, o.reference.lambdaRoot, o.reference.tCut),
          jointLogRatio: new Float64Array(n) }
      : {}),
    ...(o.threads === undefined ? {} : { threads: checkThreads(o.threads) }),
  };
  return { native, slots };
}

function collect(p: ReturnType<typeof prepare>): GinkgoBatch {
  const { native: r, slots } = p;
  const jets: GinkgoJet[] = [];
  let failed = 0;
  for (let i = 0; i < r.n; i++) {
    if (r.failed[i]) {
      failed++;
      continue;
    }
    const base = i * slots;
    const leaves: number[][] = [];
    const internalMasses: number[] = [];
    const build = (node: number): NestedTree => {
      const l = r.children[2 * (base + node)]!, rr = r.children[2 * (base + node) + 1]!;
      if (l < 0) {
        leaves.push(Array.from(r.momenta.subarray(4 * (base + node), 4 * (base + node) + 4)));
        return leaves.length - 1;
      }
      internalMasses.push(r.t[base + node]!);
      return [build(l), build(rr)];
    };
    const tree = build(0);
    jets.push({
      leaves, tree, internalMasses,
      gold: {
        jointLogLikelihood: r.jointLogLikelihood[i]!,
        jointScore: { lambda: r.jointScore[2 * i]!, lambdaRoot: r.jointScore[2 * i + 1]! },
        ...(r.jointLogRatio ? { jointLogRatio: r.jointLogRatio[i]! } : {}),
      },
    });
  }
  return { jets, failed };
}

/** Simulates n jets on the thread pool (blocking). */
export function simulateGinkgo(options: GinkgoSimulateOptions): GinkgoBatch {
  const p = prepare(options);
  trellisNative.ginkgoSimulate(p.native);
  return collect(p);
}

/** Simulates n jets off the event loop, with progress and cancellation (`signal`). */
export async function simulateGinkgoAsync(options: GinkgoSimulateOptions): Promise<GinkgoBatch> {
  const p = prepare(options);
  const flag = new Int32Array(1);
  const abort = () => { flag[0] = 1; };
  if (options.signal?.aborted) throw new SbiError('The operation was aborted', 'ABORTED');
  options.signal?.addEventListener('abort', abort);
  try {
    await trellisNative.ginkgoSimulateAsync(p.native, options.onProgress, flag);
  } finally {
    options.signal?.removeEventListener('abort', abort);
  }
  return collect(p);
}
