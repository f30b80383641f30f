/**
 * slcp (sbibm): four draws from N(m, S), m = (θ₁, θ₂), S from s₁ = θ₃², s₂ = θ₄², ρ = tanh θ₅
 * plus 1e-6 on the diagonal. Oracle and baseline; slcpDraw also serves slcp_distractors.
 */
import { Rng } from './rng.js';

/** Writes the 8 SLCP values for θ = theta[off..off+5) into out[outOff..outOff+8). */
export function slcpDraw(theta: Float64Array, off: number, rng: Rng, out: Float64Array | Float32Array, outOff: number): void {
  const s1 = theta[off + 2] ** 2;
  const s2 = theta[off + 3] ** 2;
  const rho = Math.tanh(theta[off + 4]);
  const a = s1 * s1 + 1e-6;
  const b = rho * s1 * s2;
  const c = s2 * s2 + 1e-6;
  // Cholesky factor of [[a, b], [b, c]].
  const l00 = Math.sqrt(a);
  const l10 = b / l00;
  const l11 = Math.sqrt(c - l10 * l10);
  for (let k = 0; k < 4; k++) {
    const z0 = rng.normal();
    const z1 = rng.normal();
    out[outOff + 2 * k] = theta[off] + l00 * z0;
    out[outOff + 2 * k + 1] = theta[off + 1] + l10 * z0 + l11 * z1;
  }
}

export function slcpOracle(theta: Float64Array, n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(8 * n);
  for (let i = 0; i < n; i++) slcpDraw(theta, 5 * i, rng, x, 8 * i);
  return x;
}
