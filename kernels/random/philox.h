// Philox4x32-10 counter-based generator (Salmon, Moraes, Dror, Shaw, "Parallel random
// numbers: as easy as 1, 2, 3", SC'11). Every random number in the engine comes from
// philox4x32_10(counter, key) with
//   key     = seed (64 bit)                    -> key[0] = low word, key[1] = high word
//   counter = (draw index, stream)            -> ctr[0..1] = draw index, ctr[2..3] = stream
// Stream = sample index, so a batch's output does not depend on threads, chunking or backend.
#pragma once
#include "../common/vecmath.h"

namespace sbi {

struct U32x4 {
  uint32_t v[4];
};

SBI_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

SBI_HD U32x4 philox4x32_10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(M0, ctr.v[0], hi0, lo0);
    philox_mulhilo(M1, ctr.v[2], hi1, lo1);
    U32x4 next = {{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    ctr = next;
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// Exact double value of a 32-bit word, read off the bit pattern of 2^52 + x: no integer
// conversion instruction (AVX2 has none for unsigned or 64-bit integers), so loops over
// samples vectorise on every instruction-set path.
SBI_HD double u32_to_double(uint32_t x) {
  return bits_double(0x4330000000000000ull | x) - 4503599627370496.0;
}

// (0, 1) open interval from 32 bits: never 0 or 1, so log() and 1/x are safe.
SBI_HD double u32_to_open01(uint32_t x) { return (u32_to_double(x) + 0.5) * 2.3283064365386963e-10; }

// (0, 1) open interval with 53 random bits: (v + 0.5) · 2^-53 with v = (hi·2^32 + lo) >> 11,
// formed exactly as hi·2^21 + (lo >> 11).
SBI_HD double u64_to_open01(uint32_t hi, uint32_t lo) {
  const double v = u32_to_double(hi) * 2097152.0 + u32_to_double(lo >> 11);
  return (v + 0.5) * 1.1102230246251565e-16;
}

// Sequential draws inside one stream. Draw j of a stream is word (j % 4) of block (j / 4);
// a block is one Philox call with counter = block index. Cheap to construct per sample.
struct PhiloxStream {
  uint32_t k0, k1;
  uint32_t s0, s1;  // stream words
  uint64_t block;   // next block index
  U32x4 buf;
  int used;         // words of buf consumed (4 = empty)
  bool has_spare_normal;
  double spare_normal;

  SBI_HD PhiloxStream(uint64_t seed, uint64_t stream, uint64_t first_block = 0)
      : k0(static_cast<uint32_t>(seed)), k1(static_cast<uint32_t>(seed >> 32)),
        s0(static_cast<uint32_t>(stream)), s1(static_cast<uint32_t>(stream >> 32)),
        block(first_block), buf{{0, 0, 0, 0}}, used(4), has_spare_normal(false), spare_normal(0.0) {}

// GCC 12 reports `buf` as maybe-uninitialised once a sampler's rejection loop is inlined into a
// flattened batch function; the constructor always initialises it (a false positive).
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
  SBI_HD uint32_t next_u32() {
    if (used == 4) {
      U32x4 ctr = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), s0, s1}};
      buf = philox4x32_10(ctr, k0, k1);
      ++block;
      used = 0;
    }
    return buf.v[used++];
  }
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDACC__)
#pragma GCC diagnostic pop
#endif
  // Uniform on (0, 1) with 53 random bits (two 32-bit words).
  SBI_HD double uniform() {
    const uint32_t hi = next_u32();
    const uint32_t lo = next_u32();
    return u64_to_open01(hi, lo);
  }
};

}  // namespace sbi
