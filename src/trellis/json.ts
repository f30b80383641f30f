/**
 * The JSON format shared by `sbi-engine ginkgo` and `sbi-engine trellis` (docs/trellis.md):
 *   { "model": { "kind": "ginkgo", "lambda": 1.5, "lambdaRoot": 3.0, "tCut": 16 },
 *     "jets": [ { "leaves": [[E, px, py, pz], ...], "model"?: { per-jet override },
 *                 "tree"?: nested pairs, "gold"?: {...} }, ... ] }
 * −∞ (a log-likelihood of a forbidden hierarchy) is written as null.
 */
import { SbiError } from '../errors.js';
import type { GinkgoJet, GinkgoModel } from './ginkgo.js';
import type { TrellisModel } from './trellis.js';

export interface JetsFile {
  model: TrellisModel;
  jets: { leaves: number[][]; model?: Partial<TrellisModel>; [key: string]: unknown }[];
  [key: string]: unknown;
}

/** −∞ / NaN as null, for JSON. */
export const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function jetsFileFromSimulation(model: GinkgoModel, root: { mass: number; momentum: number }, jets: GinkgoJet[], failed: number): JetsFile {
  return {
    model,
    root,
    failed,
    jets: jets.map((j) => ({
      leaves: j.leaves,
      tree: j.tree,
      gold: {
        jointLogLikelihood: finiteOrNull(j.gold.jointLogLikelihood),
        jointScore: j.gold.jointScore,
        ...(j.gold.jointLogRatio !== undefined ? { jointLogRatio: finiteOrNull(j.gold.jointLogRatio) } : {}),
      },
    })),
  };
}

function fail(message: string): never {
  throw new SbiError(`Invalid jets file: ${message}`, 'INVALID_JETS_FILE');
}

/** Checks the parsed JSON and returns each jet's leaves with its effective model. */
export function parseJetsFile(data: unknown): { leaves: number[][]; model: TrellisModel }[] {
  if (typeof data !== 'object' || data === null) fail('expected an object with "model" and "jets"');
  const d = data as Record<string, unknown>;
  const model = d.model as TrellisModel | undefined;
  if (typeof model !== 'object' || model === null || (model.kind !== 'ginkgo' && model.kind !== 'gaussian'))
    fail('"model" must be an object with "kind": "ginkgo" or "gaussian"');
  if (!Array.isArray(d.jets)) fail('"jets" must be an array');
  return d.jets.map((j: unknown, i: number) => {
    if (typeof j !== 'object' || j === null) fail(`jets[${i}] must be an object`);
    const jet = j as Record<string, unknown>;
    const leaves = jet.leaves;
    if (!Array.isArray(leaves) || leaves.length === 0) fail(`jets[${i}].leaves must be a non-empty array of [E, px, py, pz]`);
    leaves.forEach((l: unknown, k: number) => {
      if (!Array.isArray(l) || l.length !== 4 || !l.every((v) => typeof v === 'number' && Number.isFinite(v)))
        fail(`jets[${i}].leaves[${k}] must be 4 finite numbers`);
    });
    const override = jet.model;
    if (override !== undefined && (typeof override !== 'object' || override === null)) fail(`jets[${i}].model must be an object`);
    const effective = { ...model, ...(override as object | undefined) } as TrellisModel;
    for (const [key, value] of Object.entries(effective))
      if (key !== 'kind' && (typeof value !== 'number' || !Number.isFinite(value))) fail(`jets[${i}]: model.${key} must be a finite number`);
    return { leaves: leaves as number[][], model: effective };
  });
}
