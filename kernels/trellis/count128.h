// Unsigned 128-bit counters (modulo 2^128) without compiler extensions, for exact hierarchy
// counts: (2N - 3)!!, the number of binary hierarchies of N leaves, exceeds 2^64 from N = 19.
#pragma once
#include "../common/portable.h"

namespace sbi {

struct U128 {
  uint64_t lo, hi;
};

SBI_HD U128 u128(uint64_t v) { return U128{v, 0}; }
SBI_HD bool u128_is_zero(U128 a) { return (a.lo | a.hi) == 0; }

SBI_HD U128 u128_add(U128 a, U128 b) {
  U128 r;
  r.lo = a.lo + b.lo;
  r.hi = a.hi + b.hi + (r.lo < a.lo ? 1u : 0u);
  return r;
}

// Full 64 x 64 -> 128 product from 32-bit halves.
SBI_HD U128 u128_mul64(uint64_t a, uint64_t b) {
  const uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
  const uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
  U128 r;
  r.lo = (mid << 32) | (p00 & 0xffffffffu);
  r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return r;
}

SBI_HD U128 u128_mul(U128 a, U128 b) {
  U128 r = u128_mul64(a.lo, b.lo);
  r.hi += a.lo * b.hi + a.hi * b.lo;
  return r;
}

// Divides a by 10 in place and returns the remainder (for decimal printing).
SBI_HD int u128_divmod10(U128& a) {
  const uint64_t qh = a.hi / 10, rh = a.hi % 10;
  // (rh · 2^64 + lo) / 10 with rh < 10: split lo into 32-bit halves
  const uint64_t x1 = (rh << 32) | (a.lo >> 32);
  const uint64_t q1 = x1 / 10, r1 = x1 % 10;
  const uint64_t x0 = (r1 << 32) | (a.lo & 0xffffffffu);
  const uint64_t q0 = x0 / 10, r0 = x0 % 10;
  a.hi = qh;
  a.lo = (q1 << 32) | q0;
  return static_cast<int>(r0);
}

}  // namespace sbi
