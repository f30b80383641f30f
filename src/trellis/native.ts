/** Types of the trellis and Ginkgo entry points of the addon (native/trellis.cc, native/simulators/ginkgo.cc). */
import { native, type NativeAddon, type ProgressCallback } from '../native.js';

export interface NativeGinkgoOptions {
  n: number;
  seed: number | bigint;
  streamOffset?: number | bigint;
  lambda: number;
  lambdaRoot: number;
  tCut: number;
  mass: number;
  momentum: number;
  minLeaves: number;
  maxLeaves: number;
  maxTries: number;
  /** [n · M · 4] node 4-momenta, M = 2 maxLeaves − 1 slots per jet, nodes in pre-order */
  momenta: Float64Array;
  /** [n · M] each node's drawn invariant mass squared */
  t: Float64Array;
  /** [n · M · 2] left and right child of each node (−1: leaf) */
  children: Int32Array;
  /** [n] nodes of each jet (0: failed) */
  nodes: Int32Array;
  failed: Uint8Array;
  jointLogLikelihood: Float64Array;
  /** [n · 2]: ∂/∂λ, ∂/∂λ_root */
  jointScore: Float64Array;
  /** [λ, λ_root, t_cut] of the log-ratio's denominator */
  reference?: Float64Array;
  jointLogRatio?: Float64Array;
  threads?: number;
}

export interface NativeTrellisOptions {
  threads?: number;
  marginals?: boolean;
  samples?: number;
  seed?: number | bigint;
}

export interface NativeTrellisResult {
  logZ: number;
  count: string;
  mapLogLH: number;
  mapSplits: Uint32Array | null;
  marginals?: Float64Array;
  samples?: Uint32Array;
  splitsEvaluated: number;
}

export type NativeEnergyName = 'ginkgo' | 'gaussian';

export interface TrellisNative {
  ginkgoSimulate(options: NativeGinkgoOptions): number;
  ginkgoSimulateAsync(options: NativeGinkgoOptions, onProgress?: ProgressCallback, cancelFlag?: Int32Array): Promise<number>;
  trellis(leaves: Float64Array, energy: NativeEnergyName, params: Float64Array, options?: NativeTrellisOptions): NativeTrellisResult;
  trellisAsync(
    leaves: Float64Array, energy: NativeEnergyName, params: Float64Array, options: NativeTrellisOptions | undefined,
    onProgress: ProgressCallback | undefined, cancelFlag: Int32Array | undefined,
  ): Promise<NativeTrellisResult>;
  trellisBeam(leaves: Float64Array, energy: NativeEnergyName, params: Float64Array, width: number): { logLH: number; splits: Uint32Array | null };
  trellisEnergy(leaves: Float64Array, energy: NativeEnergyName, params: Float64Array, splits: Uint32Array): Float64Array;
  /** The per-set features the accelerator passes read, column-major [columns · 2^N], and the energy's constants. */
  trellisTable(leaves: Float64Array, energy: NativeEnergyName, params: Float64Array): { columns: number; table: Float64Array; constants: Float64Array };
}

export const trellisNative = native as NativeAddon & TrellisNative;
