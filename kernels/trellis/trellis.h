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
// Outside (by decreasing size), for A ≠ the full set F:
//   log Z_out(A) = log Σ_{∅ ≠ B ⊆ F \ A} exp(log Z_out(A ∪ B) + ψ(A, B) + log Z(B)),  Z_out(F) = 1,
// a gather over supersets (3^N terms in all, race-free across threads), and the marginal of a
// cluster is P(C) = Z(C) Z_out(C) / Z(F). A set with Z(S) = 0 is in no hierarchy: its Z_out is
// not needed (every term it would feed has a zero factor) and is left at 0 (-inf).
// Every routine here handles one set; the caller runs the sets of one size in parallel.
#pragma once
#include "../random/philox.h"
#include "count128.h"
#include "energies.h"

namespace sbi {

constexpr int kTrellisMaxLeaves = 22;  // 2^22 sets: ~0.5 GB of tables, (3^22 - 1)/2 ≈ 1.6e10 splits

struct TrellisTables {
  double* log_z;       // [2^N]
  double* map_energy;  // [2^N]
  uint32_t* map_left;  // [2^N] the MAP split's part holding the lowest leaf (0: none)
  U128* count;         // [2^N]
  double* log_out;     // [2^N] (outside pass only)
};

SBI_HD uint32_t lowest_bit(uint32_t s) { return s & (~s + 1u); }
SBI_HD int popcount32(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return static_cast<int>((((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
}

// Streaming log-sum-exp: one exp per term.
struct LogSumExp {
  double m = -INFINITY, s = 0.0;
  SBI_HD void add(double v) {
    if (!(v > -INFINITY)) return;
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  SBI_HD double value() const { return m > -INFINITY ? m + log(s) : -INFINITY; }
};

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

// Per-thread scratch of the batched passes (caller-owned; a few KB, fine on the stack).
constexpr int kTrellisBatch = 256;
struct TrellisBatch {
  uint32_t a[kTrellisBatch], b[kTrellisBatch], p[kTrellisBatch];
  double psi[kTrellisBatch], v[kTrellisBatch], e[kTrellisBatch];
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
// Σ exp(v[i] - mx) (mx finite; v[i] = -inf adds 0). Overwrites v with the terms.
SBI_HD double trellis_batch_sum_exp(double* v, int m, double mx) {
  for (int i = 0; i < m; ++i) v[i] = vexp_flush(v[i] - mx);
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
  // Adds the m terms v[0..m) (overwritten).
  SBI_HD void add(double* v, int count) {
    const double mx = trellis_batch_max(v, count);
    if (!(mx > -INFINITY)) return;
    const double sb = trellis_batch_sum_exp(v, count, mx);
    if (mx > m) {
      s = s * vexp_flush(m - mx) + sb;
      m = mx;
    } else {
      s += sb * vexp_flush(mx - m);
    }
  }
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

// Inside, MAP and count of one set S (all its proper subsets done), batched: the splits that can
// have finite ψ (both parts admit a hierarchy, energy.allowed) are gathered into w, ψ is
// evaluated for the whole batch (energy.psi_batch), then reduced. A set that cannot split
// (Z = 0) enumerates nothing. Returns the number of ψ evaluations.
template <class E>
SBI_HD uint64_t trellis_inside(const E& energy, const typename E::Table& tab, uint32_t s, uint32_t full,
                               const TrellisTables& t, TrellisBatch& w) {
  const uint32_t low = lowest_bit(s);
  if (s == low) {
    t.log_z[s] = 0.0;
    t.map_energy[s] = 0.0;
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
  uint64_t evaluated = 0;
  if (energy.splittable(tab, s)) {
    const uint32_t rest = s ^ low;
    uint32_t sub = (rest - 1u) & rest;  // A = low | sub for every sub ⊊ rest
    bool more = true;
    while (more) {
      int k = 0;
      while (more && k < kTrellisBatch) {
        const uint32_t a = low | sub, b = s ^ a;
        const bool ok = (t.log_z[a] > -INFINITY) & (t.log_z[b] > -INFINITY) & energy.allowed(tab, a, b, s);
        w.a[k] = a;
        w.b[k] = b;
        w.p[k] = s;
        k += ok;
        more = sub != 0;
        sub = (sub - 1u) & rest;
      }
      if (k == 0) continue;
      evaluated += static_cast<uint64_t>(k);
      energy.psi_batch(tab, w.a, w.b, w.p, k, full, w.psi);
      for (int i = 0; i < k; ++i) {
        w.v[i] = w.psi[i] + t.log_z[w.a[i]] + t.log_z[w.b[i]];
        w.e[i] = w.psi[i] + t.map_energy[w.a[i]] + t.map_energy[w.b[i]];
      }
      const double eb = trellis_batch_max(w.e, k);
      if (eb > best) {  // the first maximiser in enumeration order, as a sequential scan finds
        int i = 0;
        while (!(w.e[i] == eb)) ++i;
        best = eb;
        best_left = w.a[i];
      }
      if (small) {
        uint64_t c = 0;  // integer sum: vectorises, same value in any order
        for (int i = 0; i < k; ++i)
          c += bit_mask(w.psi[i] > -INFINITY) & (t.count[w.a[i]].lo * t.count[w.b[i]].lo);
        count64 += c;
      } else {
        for (int i = 0; i < k; ++i)
          if (w.psi[i] > -INFINITY) count = u128_add(count, u128_mul(t.count[w.a[i]], t.count[w.b[i]]));
      }
      // Log-sum-exp offset: the batch's best MAP term eb. v_i - e_i = (log Z - E*)(A) + (log Z - E*)(B)
      // <= log(n(A) n(B)) < 60 for N <= 22, so no term overflows, and the maximiser's term is >= 1.
      if (eb > -INFINITY) z.add_offset(trellis_batch_sum_exp(w.v, k, eb), eb);
    }
  }
  t.log_z[s] = z.value();
  t.map_energy[s] = best;
  t.map_left[s] = best_left;
  t.count[s] = small ? u128(count64) : count;
  return evaluated;
}

// Outside value of one set A ≠ full (all its proper supersets done), batched like the inside.
template <class E>
SBI_HD uint64_t trellis_outside(const E& energy, const typename E::Table& tab, uint32_t a, uint32_t full,
                                const TrellisTables& t, TrellisBatch& w) {
  if (a == full) {
    t.log_out[a] = 0.0;
    return 0;
  }
  if (!(t.log_z[a] > -INFINITY)) {
    t.log_out[a] = -INFINITY;
    return 0;
  }
  BatchLogSumExp z;
  uint64_t evaluated = 0;
  const uint32_t rest = full ^ a;
  uint32_t b = rest;
  bool more = true;
  while (more) {
    int k = 0;
    while (more && k < kTrellisBatch) {
      const uint32_t p = a | b;
      const bool ok = (t.log_out[p] > -INFINITY) & (t.log_z[b] > -INFINITY) & energy.allowed(tab, a, b, p);
      w.a[k] = a;
      w.b[k] = b;
      w.p[k] = p;
      k += ok;
      b = (b - 1u) & rest;
      more = b != 0;
    }
    if (k == 0) continue;
    evaluated += static_cast<uint64_t>(k);
    energy.psi_batch(tab, w.a, w.b, w.p, k, full, w.psi);
    for (int i = 0; i < k; ++i) w.v[i] = t.log_out[w.p[i]] + w.psi[i] + t.log_z[w.b[i]];
    z.add(w.v, k);
  }
  t.log_out[a] = z.value();
  return evaluated;
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
  if (!(t.log_z[full] > -INFINITY)) return false;
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
      if (t.log_z[a] > -INFINITY && t.log_z[b] > -INFINITY) {
        const double psi = energy.psi(subsets[a], subsets[b], subsets[s], root);
        if (psi > -INFINITY) {
          chosen = a;  // the last allowed split absorbs round-off in the cumulative sum
          acc += exp(psi + t.log_z[a] + t.log_z[b] - t.log_z[s]);
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
