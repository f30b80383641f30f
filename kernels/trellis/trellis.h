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

// Features of every set: subsets[S] for 0 < S < 2^N, built from S without its lowest leaf.
template <class E>
SBI_HD void trellis_subset_features(const E& energy, const double* leaves, int n, typename E::Subset* subsets) {
  for (int i = 0; i < n; ++i) energy.leaf(leaves + kLeafValues * i, subsets[uint32_t{1} << i]);
  const uint32_t end = uint32_t{1} << n;
  for (uint32_t s = 1; s < end; ++s) {
    const uint32_t low = lowest_bit(s);
    if (s != low) energy.merge(subsets[s ^ low], subsets[low], subsets[s]);
  }
}

// Inside, MAP and count of one set S (all its proper subsets done). Returns the number of ψ
// evaluations.
template <class E>
SBI_HD uint64_t trellis_inside(const E& energy, const typename E::Subset* subsets, uint32_t s, uint32_t full,
                               const TrellisTables& t) {
  const uint32_t low = lowest_bit(s);
  if (s == low) {
    t.log_z[s] = 0.0;
    t.map_energy[s] = 0.0;
    t.map_left[s] = 0;
    t.count[s] = u128(1);
    return 0;
  }
  LogSumExp z;
  double best = -INFINITY;
  uint32_t best_left = 0;
  U128 count = u128(0);
  uint64_t evaluated = 0;
  const typename E::Subset& parent = subsets[s];
  if (energy.can_split(parent)) {
    const bool root = s == full;
    const uint32_t rest = s ^ low;
    // A = low | sub for every sub ⊊ rest
    for (uint32_t sub = (rest - 1u) & rest;; sub = (sub - 1u) & rest) {
      const uint32_t a = low | sub, b = s ^ a;
      if (!u128_is_zero(t.count[a]) && !u128_is_zero(t.count[b])) {
        ++evaluated;
        const double psi = energy.psi(subsets[a], subsets[b], parent, root);
        if (psi > -INFINITY) {
          z.add(psi + t.log_z[a] + t.log_z[b]);
          const double e = psi + t.map_energy[a] + t.map_energy[b];
          if (e > best) {
            best = e;
            best_left = a;
          }
          count = u128_add(count, u128_mul(t.count[a], t.count[b]));
        }
      }
      if (sub == 0) break;
    }
  }
  t.log_z[s] = z.value();
  t.map_energy[s] = best;
  t.map_left[s] = best_left;
  t.count[s] = count;
  return evaluated;
}

// Outside value of one set A ≠ full (all its proper supersets done).
template <class E>
SBI_HD uint64_t trellis_outside(const E& energy, const typename E::Subset* subsets, uint32_t a, uint32_t full,
                                const TrellisTables& t) {
  if (a == full) {
    t.log_out[a] = 0.0;
    return 0;
  }
  if (u128_is_zero(t.count[a])) {
    t.log_out[a] = -INFINITY;
    return 0;
  }
  LogSumExp z;
  uint64_t evaluated = 0;
  const uint32_t rest = full ^ a;
  for (uint32_t b = rest;; b = (b - 1u) & rest) {
    if (b == 0) break;
    const uint32_t p = a | b;
    if (t.log_out[p] > -INFINITY && !u128_is_zero(t.count[b]) && energy.can_split(subsets[p])) {
      ++evaluated;
      const double psi = energy.psi(subsets[a], subsets[b], subsets[p], p == full);
      z.add(t.log_out[p] + psi + t.log_z[b]);
    }
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
