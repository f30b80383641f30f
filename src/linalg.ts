/**
 * Small dense linear algebra for validating and factorising covariance / precision matrices.
 * Matrices are [d, d] row-major Float64Arrays; d is small (parameter dimensions), so plain
 * O(d³) loops are the right tool.
 */

/** Relative tolerance on |A_ij − A_ji| / √(A_ii A_jj) when checking symmetry. */
const SYMMETRY_TOLERANCE = 1e-9;

/**
 * Checks that `a` ([d, d]) is symmetric (up to round-off) and returns its symmetrised copy.
 * Throws RangeError naming `name` and the offending entry.
 */
export function checkSymmetric(a: Float64Array, d: number, name: string): Float64Array {
  if (a.length !== d * d) throw new RangeError(`Expected \`${name}\` to have ${d}×${d} = ${d * d} elements but received ${a.length}`);
  const s = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const aij = a[i * d + j], aji = a[j * d + i];
      const scale = Math.max(Math.sqrt(Math.abs(a[i * d + i] * a[j * d + j])), Math.abs(aij), Math.abs(aji));
      if (Math.abs(aij - aji) > SYMMETRY_TOLERANCE * scale) {
        throw new RangeError(
          `Expected \`${name}\` to be symmetric but entry (${i}, ${j}) is ${aij} and entry (${j}, ${i}) is ${aji}`,
        );
      }
      s[i * d + j] = s[j * d + i] = 0.5 * (aij + aji);
    }
  }
  return s;
}

/**
 * Cholesky factor L (lower-triangular, A = L Lᵀ) of a symmetric matrix `a` ([d, d]); only the
 * lower triangle is read. Throws RangeError naming `name` if `a` is not positive definite.
 */
export function cholesky(a: Float64Array, d: number, name: string): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j];
      for (let k = 0; k < j; k++) s -= L[i * d + k] * L[j * d + k];
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) {
          throw new RangeError(
            `Expected \`${name}\` to be positive definite but its Cholesky factorisation fails at pivot ${i} (value ${s})`,
          );
        }
        L[i * d + i] = Math.sqrt(s);
      } else {
        L[i * d + j] = s / L[j * d + j];
      }
    }
  }
  return L;
}

/** Inverse of a lower-triangular matrix with a non-zero diagonal (itself lower-triangular). */
export function invertLowerTriangular(L: Float64Array, d: number): Float64Array {
  const inv = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    // Column j of L⁻¹ by forward substitution of L x = e_j.
    inv[j * d + j] = 1 / L[j * d + j];
    for (let i = j + 1; i < d; i++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * d + k] * inv[k * d + j];
      inv[i * d + j] = s / L[i * d + i];
    }
  }
  return inv;
}

/** Σ = P⁻¹ for a symmetric positive definite precision P with Cholesky factor L_P: Σ = L_P⁻ᵀ L_P⁻¹. */
export function inverseFromCholesky(L: Float64Array, d: number): Float64Array {
  const Linv = invertLowerTriangular(L, d);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      // (L⁻ᵀ L⁻¹)_ij = Σ_k Linv_ki Linv_kj, with Linv_ki = 0 for k < i.
      let s = 0;
      for (let k = i; k < d; k++) s += Linv[k * d + i] * Linv[k * d + j];
      out[i * d + j] = out[j * d + i] = s;
    }
  }
  return out;
}
