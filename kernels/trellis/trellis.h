// The trellis: exact sums and maxima over all binary hierarchies of N leaves in O(3^N) time and
// O(2^N) memory (Greenberg, Macaluso, Monath, Cranmer, McCallum et al., "Data structures &
// algorithms for exact inference in hierarchical clustering", AISTATS 2021, arXiv:2002.11661).
//
// Sets of leaves are bitmasks S ⊆ {0..N-1}. A hierarchy's energy is Σ ψ(A, B) over its internal
// nodes A ∪ B (kernels/trellis/energies.h). For every S (by increasing size):
//   inside    log Z(S) = log Σ_{A ⊎ B = S} exp(ψ(A, B) + log Z(A) + log Z(B)),  log Z({i}) = 0
//   MAP       E*(S)    = max_{A ⊎ B = S} ψ(A, B) + E*(A) + E*(B)  (and the maximising A)
//   count     n(S)     = Σ_{A ⊎ B = S, ψ finite} n(A) n(B)         (hierarchies of finite energy)
// Each unordered split is visited once by requiring A to hold the lowest leaf of S: S has
// 2^{|S|-1} - 1 splits and Σ_S 2^{|S|-1} = (3^N - 1)/2 over all S.
// Marginals (top-down, by decreasing size of the parent): the probability that a random hierarchy
// holds cluster P and splits it into (A, B) is P(P) · exp(ψ(A, B) + log Z(A) + log Z(B) - log Z(P)),
// so P(C) = Σ over parents P ⊋ C of that term for the split (C, P \ C), with P(full) = 1. Each
// split's term is added to both parts (a scatter over subsets, one ψ per unordered split); it is a
// probability, so the sums run in linear space without overflow (terms below e^-708 are flushed to
// 0: an absolute error under 1e-300). Threads scatter into separate buffers (kTrellisScatterBuffers).
// This equals the outside recursion log Z_out(A) = log Σ_B Z_out(A ∪ B) e^{ψ(A, B)} Z(B) with
// P(A) = Z(A) Z_out(A) / Z(full), without evaluating ψ once per part.
//
// Splits are enumerated in blocks of consecutive B = pdep(j, S \ {lowest leaf}), j = 1, 2, ...
// (pdep: the bits of j deposited on the set bits of the mask): a block is one scalar increment
// plus a vector OR with a per-set table of the low deposits, so ψ and the reductions run on whole
// vectors with no compaction; a split that is not allowed has ψ = -inf and adds nothing.
// Every routine here handles one set; the caller runs the sets of one size in parallel.
#pragma once
#include "../random/philox.h"
#include "count128.h"
#include "energies.h"

namespace sbi {

constexpr int kTrellisMaxLeaves = 22;  // 2^22 sets: ~0.5 GB of tables, (3^22 - 1)/2 ≈ 1.6e10 splits

struct TrellisTables {
  double* z_map;       // [2^N][2]: log Z and the MAP energy of each set side by side (one cache line per part)
  uint32_t* map_left;  // [2^N] the MAP split's part holding the lowest leaf (0: none)
  U128* count;         // [2^N]
  SBI_HD double& log_z(uint32_t s) const { return z_map[2u * s]; }
  SBI_HD double& map_energy(uint32_t s) const { return z_map[2u * s + 1u]; }
};

SBI_HD uint32_t lowest_bit(uint32_t s) { return s & (~s + 1u); }
SBI_HD int popcount32(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return static_cast<int>((((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
}

// Features of every set: subsets[S] for 0 < S < 2^N, built from S without its lowest leaf, and
// the energy's per-set table for the batched ψ.
template <class E>
SBI_HD void trellis_subset_features(const E& energy, const double* leaves, int n, typename E::Subset* subsets,
                                    const typename E::Table& tab) {
  for (int i = 0; i < n; ++i) energy.leaf(leaves + kLeafValues * i, subsets[uint32_t{1} << i]);
  const uint32_t end = uint32_t{1} << n;
  for (uint32_t s = 1; s < end; ++s) {
    const uint32_t low = lowest_bit(s);
    if (s != low) energy.merge(subsets[s ^ low], subsets[low], subsets[s]);
    energy.table_set(tab, subsets[s], s, s == end - 1u);
  }
}

// Per-thread scratch of the blocked passes (caller-owned; a few KB, fine on the stack).
constexpr int kTrellisBlockBits = 6;
constexpr int kTrellisBlock = 1 << kTrellisBlockBits;
struct TrellisBlock {
  uint32_t low[kTrellisBlock], a[kTrellisBlock], b[kTrellisBlock];
  double psi[kTrellisBlock], q[kTrellisBlock], v[kTrellisBlock], e[kTrellisBlock];
};

// The splits (A, B) of a set s of >= 2 leaves, A holding its lowest leaf, in blocks, with ψ:
// begin(...) and then next(...) until it returns false; each call fills w.a, w.b, w.psi, w.q
// [0, m), m the block size (2^(|s| - 1) up to kTrellisBlock), ψ = psi + log q (-inf: no split).
// Block k holds B = pdep(k·m + i, rest), i < m, rest = s without its lowest leaf. The splits with
// a single-leaf part, B = {r} (j = 2^q) and A = {lowest leaf} (j = 2^|rest| - 1), are evaluated
// up front with psi_single where the energy needs it, and patched into their lanes.
constexpr int kTrellisMaxSingles = 32 + 8;  // |rest| + 1 <= 32, padded to whole vectors
struct TrellisSplits {
  uint32_t s, rest_hi, hi, blocks, block;
  int m, l, singles, next_single;
  uint32_t single_a[kTrellisMaxSingles], single_b[kTrellisMaxSingles], single_j[kTrellisMaxSingles];
  double single_psi[kTrellisMaxSingles], single_q[kTrellisMaxSingles];

  template <class E>
  SBI_HD void begin(const E& energy, const typename E::Table& tab, const typename E::Parent& parent, uint32_t set,
                    TrellisBlock& w) {
    s = set;
    const uint32_t low = lowest_bit(set), rest = set ^ low;
    const int bits = popcount32(rest);
    l = bits < kTrellisBlockBits ? bits : kTrellisBlockBits;
    m = 1 << l;
    uint32_t x = 0;
    for (int i = 0; i < m; ++i) {
      w.low[i] = x;  // pdep(i, rest)
      x = (x - rest) & rest;
    }
    rest_hi = rest ^ w.low[m - 1];  // rest without its l lowest leaves
    hi = 0;
    blocks = uint32_t{1} << (bits - l);
    block = 0;
    singles = next_single = 0;
    if constexpr (E::kSingleLeafSplits) {
      uint32_t r = rest;
      for (int k = 0; k < bits; ++k) {  // ascending j, as the blocks come
        single_b[k] = lowest_bit(r);
        single_a[k] = set ^ single_b[k];
        single_j[k] = uint32_t{1} << k;
        r ^= single_b[k];
      }
      singles = bits;
      if (bits >= 2) {  // (for |rest| = 1 the split {low}, rest is B = {r} already)
        single_a[singles] = rest;  // the single leaf goes second (psi is symmetric)
        single_b[singles] = low;
        single_j[singles] = (uint32_t{1} << bits) - 1u;
        ++singles;
      }
      const int padded = (singles + 7) & ~7;  // whole vectors: no scalar remainder loop
      for (int k = singles; k < padded; ++k) {
        single_a[k] = single_a[0];
        single_b[k] = single_b[0];
      }
      energy.psi_single(tab, parent, single_a, single_b, padded, single_psi, single_q);
    }
  }
  template <class E>
  SBI_HD bool next(const E& energy, const typename E::Table& tab, const typename E::Parent& parent, TrellisBlock& w) {
    if (block == blocks) return false;
    for (int i = 0; i < m; ++i) {
      w.b[i] = hi | w.low[i];
      w.a[i] = s ^ w.b[i];
    }
    energy.psi_block(tab, parent, w.a, w.b, m, w.psi, w.q);
    if (block == 0) w.psi[0] = -INFINITY;  // B = ∅: no split
    while (next_single < singles && (single_j[next_single] >> l) == block) {
      const uint32_t lane = single_j[next_single] & static_cast<uint32_t>(m - 1);
      w.psi[lane] = single_psi[next_single];
      w.q[lane] = single_q[next_single];
      ++next_single;
    }
    hi = (hi - rest_hi) & rest_hi;
    ++block;
    return true;
  }
};

// Lane-wise reductions in a fixed association (8 partial results combined in order), so they
// vectorise and give the same bits on every instruction-set path.
constexpr int kTrellisLanes = 8;
SBI_HD double trellis_batch_max(const double* v, int m) {
  double acc[kTrellisLanes];
  for (int l = 0; l < kTrellisLanes; ++l) acc[l] = -INFINITY;
  int i = 0;
  for (; i + kTrellisLanes <= m; i += kTrellisLanes)
    for (int l = 0; l < kTrellisLanes; ++l) acc[l] = bit_select(v[i + l] > acc[l], v[i + l], acc[l]);
  for (; i < m; ++i) acc[0] = bit_select(v[i] > acc[0], v[i], acc[0]);
  double r = acc[0];
  for (int l = 1; l < kTrellisLanes; ++l) r = bit_select(acc[l] > r, acc[l], r);
  return r;
}
// Σ exp(v[i] - mx) q[i] (mx finite; v[i] = -inf adds 0). Overwrites v with the terms.
SBI_HD double trellis_batch_sum_exp_scaled(double* v, const double* q, int m, double mx) {
  for (int i = 0; i < m; ++i) v[i] = vexp_flush(v[i] - mx) * q[i];
  double acc[kTrellisLanes];
  for (int l = 0; l < kTrellisLanes; ++l) acc[l] = 0.0;
  int i = 0;
  for (; i + kTrellisLanes <= m; i += kTrellisLanes)
    for (int l = 0; l < kTrellisLanes; ++l) acc[l] += v[i + l];
  for (; i < m; ++i) acc[0] += v[i];
  double r = acc[0];
  for (int l = 1; l < kTrellisLanes; ++l) r += acc[l];
  return r;
}

// Log-sum-exp merged batch by batch: (m, s) with value m + log s.
struct BatchLogSumExp {
  double m = -INFINITY, s = 0.0;
  // Adds a batch's sum sb = Σ exp(v_i - mx) taken relative to an offset mx.
  SBI_HD void add_offset(double sb, double mx) {
    if (mx > m) {
      s = s * vexp_flush(m - mx) + sb;
      m = mx;
    } else {
      s += sb * vexp_flush(mx - m);
    }
  }
  SBI_HD double value() const { return m > -INFINITY && s > 0.0 ? m + vlog(s) : -INFINITY; }
};

// (2k - 3)!! < 2^64 for k <= 18: the counts of sets of up to 18 leaves (and every partial sum)
// fit in 64 bits.
constexpr int kTrellisCount64Leaves = 18;

// Inside, MAP and count of one set S (all its proper subsets done), in one pass over its splits.
// A set that cannot split (Z = 0) enumerates nothing. Returns the number of splits visited.
template <class E>
SBI_HD uint64_t trellis_inside(const E& energy, const typename E::Table& tab, uint32_t s, uint32_t full,
                               const TrellisTables& t, TrellisBlock& w) {
  const uint32_t low = lowest_bit(s);
  if (s == low) {
    t.log_z(s) = 0.0;
    t.map_energy(s) = 0.0;
    t.map_left[s] = 0;
    t.count[s] = u128(1);
    return 0;
  }
  BatchLogSumExp z;
  double best = -INFINITY;
  uint32_t best_left = 0;
  U128 count = u128(0);
  uint64_t count64 = 0;
  const bool small = popcount32(s) <= kTrellisCount64Leaves;
  uint64_t visited = 0;
  if (energy.splittable(tab, s)) {
    const typename E::Parent parent = energy.parent(tab, s, full);
    const double* z_map = t.z_map;
    const U128* counts = t.count;
    TrellisSplits splits;
    splits.begin(energy, tab, parent, s, w);
    const int k = splits.m;
    while (splits.next(energy, tab, parent, w)) {
      visited += static_cast<uint64_t>(k);
      // MAP terms with a cheap log (within kLogApproxError of the exact one) first; exact logs
      // only for the lanes that can be the block's maximum and beat the best so far.
      for (int i = 0; i < k; ++i) {
        const uint32_t a = w.a[i], b = w.b[i];
        w.v[i] = w.psi[i] + z_map[2u * a] + z_map[2u * b];
        w.e[i] = w.psi[i] + vlog_approx(w.q[i]) + z_map[2u * a + 1u] + z_map[2u * b + 1u];
      }
      const double eb = trellis_batch_max(w.e, k);
      if (!(eb > -INFINITY)) continue;
      // |approximate - exact| <= kLogApproxError plus a few ulps of the sums: the exact maximum is
      // among the lanes within twice that of eb.
      constexpr double kSlack = 2.0 * kLogApproxError;
      if (eb + kSlack > best) {
        const double floor = eb - kSlack;
        for (int i = 0; i < k; ++i)
          if (w.e[i] >= floor && w.e[i] + kSlack > best) {
            const double exact = (w.psi[i] + vlog(w.q[i])) + z_map[2u * w.a[i] + 1u] + z_map[2u * w.b[i] + 1u];
            if (exact > best) {  // the first maximiser in enumeration order, as a sequential scan finds
              best = exact;
              best_left = w.a[i];
            }
          }
      }
      // n(S) = Σ n(A) n(B) over splits of finite ψ (a set with Z = 0 has n = 0)
      if (small) {
        uint64_t c = 0;  // integer sum: vectorises, same value in any order
        for (int i = 0; i < k; ++i) c += bit_mask(w.psi[i] > -INFINITY) & (counts[w.a[i]].lo * counts[w.b[i]].lo);
        count64 += c;
      } else {
        for (int i = 0; i < k; ++i)
          if (w.psi[i] > -INFINITY) count = u128_add(count, u128_mul(counts[w.a[i]], counts[w.b[i]]));
      }
      // Log-sum-exp offset: the block's approximate best MAP term eb. The terms are e^(v_i - eb) q_i
      // with v_i + log q_i - e_i = (log Z - E*)(A) + (log Z - E*)(B) <= log(n(A) n(B)) < 60 for
      // N <= 22 and e_i <= eb + kSlack, so none overflows, and the maximiser's term is >= e^-kSlack.
      z.add_offset(trellis_batch_sum_exp_scaled(w.v, w.q, k, eb), eb);
    }
  }
  t.log_z(s) = z.value();
  t.map_energy(s) = best;
  t.map_left[s] = best_left;
  t.count[s] = small ? u128(count64) : count;
  return visited;
}

// Scatter buffers of the marginal pass: kTrellisScatterBuffers arrays of 2^N partial sums. The
// parents of one size are dealt round-robin into that many slices, slice c adding into buffer c,
// and a cluster's marginal is the buffers' sum in buffer order: the same bits for any thread count.
constexpr int kTrellisScatterBuffers = 4;

// Adds the terms of every split of parent p (|p| >= 2, marginal[p] final) into the buffer
// `into` [2^N]. Returns the number of splits visited.
template <class E>
SBI_HD uint64_t trellis_scatter(const E& energy, const typename E::Table& tab, uint32_t p, uint32_t full,
                                const TrellisTables& t, const double* marginal, double* into, TrellisBlock& w) {
  const double* z_map = t.z_map;
  if (!(t.log_z(p) > -INFINITY) || !(marginal[p] > 0.0) || !energy.splittable(tab, p)) return 0;
  const typename E::Parent parent = energy.parent(tab, p, full);
  const double offset = vlog(marginal[p]) - t.log_z(p);
  uint64_t visited = 0;
  TrellisSplits splits;
  splits.begin(energy, tab, parent, p, w);
  const int k = splits.m;
  while (splits.next(energy, tab, parent, w)) {
    visited += static_cast<uint64_t>(k);
    // e^ψ = e^base q: no log. e^(base + ...) <= the term · t_P-like scale of 1/q: no overflow
    for (int i = 0; i < k; ++i) w.v[i] = vexp_flush(w.psi[i] + z_map[2u * w.a[i]] + z_map[2u * w.b[i]] + offset) * w.q[i];
    for (int i = 0; i < k; ++i) {  // A and B differ in every lane: no two lanes add into one cluster
      into[w.a[i]] += w.v[i];
      into[w.b[i]] += w.v[i];
    }
  }
  return visited;
}

// A hierarchy as its N - 1 splits in pre-order: splits[2k] = parent set, splits[2k + 1] = its part
// holding the parent's lowest leaf. `stack`: scratch of N entries.
SBI_HD int trellis_map_splits(const TrellisTables& t, uint32_t full, uint32_t* splits, uint32_t* stack) {
  int top = 0, k = 0;
  stack[top++] = full;
  while (top > 0) {
    const uint32_t s = stack[--top];
    if (s == lowest_bit(s)) continue;
    const uint32_t a = t.map_left[s];
    if (a == 0) return -1;  // no finite hierarchy
    splits[2 * k] = s;
    splits[2 * k + 1] = a;
    ++k;
    stack[top++] = s ^ a;
    stack[top++] = a;
  }
  return k;
}

// One exact draw from p(hierarchy) ∝ exp(Σ ψ): from the top, split S into (A, B) with probability
// exp(ψ(A, B) + log Z(A) + log Z(B) - log Z(S)). Output as trellis_map_splits. Returns false if
// Z(full) = 0.
template <class E>
SBI_HD bool trellis_sample(const E& energy, const typename E::Subset* subsets, uint32_t full, const TrellisTables& t,
                           PhiloxStream& rng, uint32_t* splits, uint32_t* stack) {
  if (!(t.log_z(full) > -INFINITY)) return false;
  int top = 0, k = 0;
  stack[top++] = full;
  while (top > 0) {
    const uint32_t s = stack[--top];
    const uint32_t low = lowest_bit(s);
    if (s == low) continue;
    const double u = rng.uniform();
    const uint32_t rest = s ^ low;
    const bool root = s == full;
    double acc = 0.0;
    uint32_t chosen = 0;
    for (uint32_t sub = (rest - 1u) & rest;; sub = (sub - 1u) & rest) {
      const uint32_t a = low | sub, b = s ^ a;
      if (t.log_z(a) > -INFINITY && t.log_z(b) > -INFINITY) {
        const double psi = energy.psi(subsets[a], subsets[b], subsets[s], root);
        if (psi > -INFINITY) {
          chosen = a;  // the last allowed split absorbs round-off in the cumulative sum
          acc += exp(psi + t.log_z(a) + t.log_z(b) - t.log_z(s));
          if (u < acc) break;
        }
      }
      if (sub == 0) break;
    }
    splits[2 * k] = s;
    splits[2 * k + 1] = chosen;
    ++k;
    stack[top++] = s ^ chosen;
    stack[top++] = chosen;
  }
  return true;
}

}  // namespace sbi
