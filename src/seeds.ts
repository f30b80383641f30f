/**
 * Independent seeds for the different random consumers of one job. The prior and the
 * simulator both use Philox stream i for row i, so they must not share a key: the key of
 * each consumer is derived from the user's seed by one Philox evaluation (a good 64-bit mix):
 *   derived = philox4x32_10(ctr = [purpose, 0, 0xffffffff, 0xffffffff], key = seed)[0..1]
 */
import { native } from './native.js';
import { checkSeed } from './validate.js';

export const SeedPurpose = {
  prior: 1,
  simulator: 2,
  training: 3,
  sampling: 4,
  /** Random tie-breaking of SBC ranks (src/diagnostics/calibration.ts). */
  rankTies: 16,
  /** Fresh prior-predictive test pairs of `sbi-engine coverage`. */
  calibration: 17,
  /** Per-round keys of sequential methods (src/inference/sequential.ts). */
  rounds: 18,
} as const;

export function deriveSeed(seed: number | bigint, purpose: number): bigint {
  const s = BigInt(checkSeed(seed));
  const key = Uint32Array.of(Number(s & 0xffffffffn), Number((s >> 32n) & 0xffffffffn));
  const out = new Uint32Array(4);
  native.philox4x32(Uint32Array.of(purpose >>> 0, 0, 0xffffffff, 0xffffffff), key, out);
  return (BigInt(out[1]!) << 32n) | BigInt(out[0]!);
}
