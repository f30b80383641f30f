/**
 * Philox4x32-10 in TypeScript, bit-identical to `kernels/random/philox.h` (Salmon, Moraes, Dror,
 * Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC'11). It lets simulators written in
 * TypeScript draw exactly the variates a native kernel would draw from the same (seed, stream).
 *
 * Only 32-bit integer arithmetic and doubles holding integers below 2^53 are used (no BigInt on
 * the hot path): the high half of the 32×32→64-bit product of a Philox round is assembled from
 * 16-bit halves, because `Math.imul` yields only the low 32 bits.
 */
import { vlog, vsincos2Pi } from './vecmath.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_32 = 4294967296;

/** High 32 bits of the 64-bit product of two unsigned 32-bit words, from 16-bit halves. */
function mulhi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lh = al * bh; // each partial product < 2^32: exact, and `>>>` reads it as uint32
  const hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * One Philox4x32-10 block: counter words c0..c3 and key words k0, k1 (unsigned 32-bit) to four
 * unsigned 32-bit words, written to `out[offset..offset+3]`.
 */
export function philox4x32(
  c0: number, c1: number, c2: number, c3: number, k0: number, k1: number,
  out: Uint32Array, offset = 0,
): void {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = c2 >>> 0, x3 = c3 >>> 0;
  let key0 = k0 >>> 0, key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[offset] = x0;
  out[offset + 1] = x1;
  out[offset + 2] = x2;
  out[offset + 3] = x3;
}

/** (0, 1) from 32 bits, like `u32_to_open01`: never 0 or 1. */
export function u32ToOpen01(x: number): number {
  return ((x >>> 0) + 0.5) * 2.3283064365386963e-10;
}

/** (0, 1) with 53 random bits from two words, like `u64_to_open01`: ((hi·2^32 + lo) >> 11 + ½)·2^-53. */
export function u64ToOpen01(hi: number, lo: number): number {
  const bits = (hi >>> 0) * 2097152 + ((lo >>> 0) >>> 11); // < 2^53: exact
  return (bits + 0.5) * 1.1102230246251565e-16;
}

function checkU64(value: number | bigint, name: string): void {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= 1n << 64n) throw new RangeError(`Expected \`${name}\` in [0, 2^64) but received ${value}`);
  } else if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Expected a non-negative safe integer or a bigint for \`${name}\` but received ${value}`);
  }
}

/** Low 32 bits of a checked value below 2^64. */
function low32(value: number | bigint): number {
  return typeof value === 'bigint' ? Number(value & 0xffffffffn) : value >>> 0; // ToUint32 is mod 2^32
}

/** High 32 bits of a checked value below 2^64. */
function high32(value: number | bigint): number {
  return typeof value === 'bigint' ? Number(value >> 32n) : Math.floor(value / TWO_32);
}

// Scratch shared by all streams: every use is synchronous, and each isolate has its own.
const scratchBlock = new Uint32Array(4);
const scratchSinCos = new Float64Array(2);

/**
 * Sequential draws inside one Philox stream, mirroring `sbi::PhiloxStream`: draw j is word j % 4
 * of block j / 4; block b is philox4x32_10(counter = (b_lo, b_hi, stream_lo, stream_hi),
 * key = (seed_lo, seed_hi)). Cheap to construct (plain fields, no typed arrays): make one per row.
 */
export class PhiloxStream {
  private readonly k0: number;
  private readonly k1: number;
  private readonly s0: number;
  private readonly s1: number;
  private blockLo: number;
  private blockHi: number;
  // The current block's words and how many of them were used (4: none left).
  private w0 = 0;
  private w1 = 0;
  private w2 = 0;
  private w3 = 0;
  private used = 4;
  private hasSpareNormal = false;
  private spareNormal = 0;

  constructor(seed: number | bigint, stream: number | bigint, firstBlock: number | bigint = 0) {
    checkU64(seed, 'seed');
    checkU64(stream, 'stream');
    checkU64(firstBlock, 'firstBlock');
    this.k0 = low32(seed);
    this.k1 = high32(seed);
    this.s0 = low32(stream);
    this.s1 = high32(stream);
    this.blockLo = low32(firstBlock);
    this.blockHi = high32(firstBlock);
  }

  /** The next unsigned 32-bit word. */
  nextU32(): number {
    if (this.used === 4) {
      philox4x32(this.blockLo, this.blockHi, this.s0, this.s1, this.k0, this.k1, scratchBlock);
      this.w0 = scratchBlock[0];
      this.w1 = scratchBlock[1];
      this.w2 = scratchBlock[2];
      this.w3 = scratchBlock[3];
      this.blockLo = (this.blockLo + 1) >>> 0;
      if (this.blockLo === 0) this.blockHi = (this.blockHi + 1) >>> 0;
      this.used = 0;
    }
    switch (this.used++) {
      case 0: return this.w0;
      case 1: return this.w1;
      case 2: return this.w2;
      default: return this.w3;
    }
  }

  /** Uniform on (0, 1) with 53 random bits (two words, the first one high), like `uniform()`. */
  uniform(): number {
    const hi = this.nextU32();
    const lo = this.nextU32();
    return u64ToOpen01(hi, lo);
  }

  /**
   * Standard normal by Box–Muller, like `sample_std_normal`: from u1, u2 it returns
   * √(−2 ln u1)·cos(2π u2) and keeps √(−2 ln u1)·sin(2π u2) as the next call's value (log and
   * sin/cos from the mirror of `kernels/common/vecmath.h`, so the bits equal the native sampler's).
   */
  normal(): number {
    if (this.hasSpareNormal) {
      this.hasSpareNormal = false;
      return this.spareNormal;
    }
    const u1 = this.uniform();
    const u2 = this.uniform();
    const rad = Math.sqrt(-2.0 * vlog(u1));
    vsincos2Pi(u2, scratchSinCos);
    this.spareNormal = rad * scratchSinCos[0];
    this.hasSpareNormal = true;
    return rad * scratchSinCos[1];
  }
}

/** sample_index and shuffle of kernels/random/samplers.h: Fisher–Yates of `a` from 53-bit uniforms of `rng`. */
export function shuffle(rng: PhiloxStream, a: Int32Array): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.min(Math.floor(rng.uniform() * (i + 1)), i);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}
