// Greedy and beam-search baselines for the MAP hierarchy: bottom-up agglomeration, as jet
// clustering algorithms do. Each state is a partition of the leaves into clusters with the summed
// ψ of the merges so far; a step expands every state of the beam by every allowed pair merge and
// keeps the `width` best distinct partitions (partitions reached by different merge orders are one
// state, kept with its best energy). Width 1 is the greedy algorithm (the best single merge each
// step). Cost: O(width · N³) ψ evaluations, plus O(width) per candidate to keep the best ones.
#pragma once
#include "trellis.h"

namespace sbi {

// Caller-owned workspace for N leaves and beam width W: two generations of states.
template <class E>
struct BeamWorkspace {
  uint32_t* masks[2];                // [W · N] clusters of each state
  typename E::Subset* features[2];   // [W · N]
  uint32_t* splits[2];               // [W · 2(N - 1)] merges so far, as in trellis_map_splits
  double* score[2];                  // [W]
  uint64_t* hash[2];                 // [W] order-free hash of the partition
  double* cand_score;                // [W] the best candidates of one step
  uint64_t* cand_hash;               // [W]
  int32_t* cand_state;               // [W]
  int32_t* cand_i;                   // [W]
  int32_t* cand_j;                   // [W]
};

SBI_HD uint64_t cluster_hash(uint32_t mask) {  // splitmix64 finaliser
  uint64_t z = mask + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Keeps the best `width` candidates, sorted by decreasing score; one entry per partition hash.
template <class E>
SBI_HD void beam_offer(BeamWorkspace<E>& w, int width, int& count, double sc, uint64_t h, int st, int i, int j) {
  int pos = -1;
  for (int c = 0; c < count; ++c)
    if (w.cand_hash[c] == h) {
      pos = c;
      break;
    }
  if (pos >= 0) {
    if (!(sc > w.cand_score[pos])) return;
    for (int c = pos; c + 1 < count; ++c) {  // remove it, then insert anew
      w.cand_score[c] = w.cand_score[c + 1];
      w.cand_hash[c] = w.cand_hash[c + 1];
      w.cand_state[c] = w.cand_state[c + 1];
      w.cand_i[c] = w.cand_i[c + 1];
      w.cand_j[c] = w.cand_j[c + 1];
    }
    --count;
  } else if (count == width && !(sc > w.cand_score[count - 1])) {
    return;
  }
  int at = count < width ? count : width - 1;
  while (at > 0 && sc > w.cand_score[at - 1]) {
    w.cand_score[at] = w.cand_score[at - 1];
    w.cand_hash[at] = w.cand_hash[at - 1];
    w.cand_state[at] = w.cand_state[at - 1];
    w.cand_i[at] = w.cand_i[at - 1];
    w.cand_j[at] = w.cand_j[at - 1];
    --at;
  }
  w.cand_score[at] = sc;
  w.cand_hash[at] = h;
  w.cand_state[at] = st;
  w.cand_i[at] = i;
  w.cand_j[at] = j;
  if (count < width) ++count;
}

// Beam search over merges. Writes the best hierarchy's splits (N - 1 pairs) and returns its
// energy; -inf (splits unset) if no sequence of allowed merges reaches a single cluster.
template <class E>
SBI_HD double beam_search(const E& energy, const double* leaves, int n, int width, BeamWorkspace<E>& w,
                          uint32_t* out_splits) {
  const uint32_t full = n >= 32 ? 0xffffffffu : (uint32_t{1} << n) - 1u;
  int cur = 0, states = 1;
  w.score[0][0] = 0.0;
  w.hash[0][0] = 0;
  for (int i = 0; i < n; ++i) {
    w.masks[0][i] = uint32_t{1} << i;
    energy.leaf(leaves + kLeafValues * i, w.features[0][i]);
    w.hash[0][0] += cluster_hash(w.masks[0][i]);
  }
  typename E::Subset u;
  for (int step = 0; step + 1 < n; ++step) {
    const int k = n - step;  // clusters per state
    int count = 0;
    for (int st = 0; st < states; ++st) {
      const uint32_t* m = w.masks[cur] + st * n;
      const typename E::Subset* f = w.features[cur] + st * n;
      for (int i = 0; i < k; ++i)
        for (int j = i + 1; j < k; ++j) {
          energy.merge(f[i], f[j], u);
          if (!energy.can_split(u)) continue;
          const uint32_t um = m[i] | m[j];
          const double psi = energy.psi(f[i], f[j], u, um == full);
          if (!(psi > -INFINITY)) continue;
          const uint64_t h = w.hash[cur][st] - cluster_hash(m[i]) - cluster_hash(m[j]) + cluster_hash(um);
          beam_offer(w, width, count, w.score[cur][st] + psi, h, st, i, j);
        }
    }
    if (count == 0) return -INFINITY;
    const int nxt = 1 - cur;
    for (int c = 0; c < count; ++c) {
      const int st = w.cand_state[c], i = w.cand_i[c], j = w.cand_j[c];
      const uint32_t* m = w.masks[cur] + st * n;
      const typename E::Subset* f = w.features[cur] + st * n;
      uint32_t* m2 = w.masks[nxt] + c * n;
      typename E::Subset* f2 = w.features[nxt] + c * n;
      int q = 0;
      for (int r = 0; r < k; ++r)
        if (r != i && r != j) {
          m2[q] = m[r];
          f2[q] = f[r];
          ++q;
        }
      m2[q] = m[i] | m[j];
      energy.merge(f[i], f[j], f2[q]);
      const uint32_t* sp = w.splits[cur] + st * 2 * (n - 1);
      uint32_t* sp2 = w.splits[nxt] + c * 2 * (n - 1);
      for (int r = 0; r < 2 * step; ++r) sp2[r] = sp[r];
      sp2[2 * step] = m2[q];
      sp2[2 * step + 1] = (m[i] & lowest_bit(m2[q])) ? m[i] : m[j];
      w.score[nxt][c] = w.cand_score[c];
      w.hash[nxt][c] = w.cand_hash[c];
    }
    states = count;
    cur = nxt;
  }
  // splits were recorded bottom-up; report them top-down (pre-order is not needed by readers)
  for (int r = 0; r + 1 < n; ++r) {
    out_splits[2 * r] = w.splits[cur][2 * (n - 2 - r)];
    out_splits[2 * r + 1] = w.splits[cur][2 * (n - 2 - r) + 1];
  }
  return n == 1 ? 0.0 : w.score[cur][0];
}

}  // namespace sbi
