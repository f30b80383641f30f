// Split energies ψ(A, B) for the trellis (kernels/trellis/trellis.h). An energy is a type E with
//   struct Subset                      features of a set of leaves (precomputed for all 2^N sets)
//   void leaf(const double* x, Subset&) const              x: one leaf's 4 values
//   void merge(const Subset& a, const Subset& b, Subset&) const   features of a ∪ b
//   bool can_split(const Subset& s) const                  false: every ψ(·, ·) with parent s is -inf
//   double psi(const Subset& a, const Subset& b, const Subset& parent, bool root) const
// ψ must be symmetric in (a, b); `root` is true for the split whose union is all N leaves.
// A hierarchy's energy (log-likelihood) is the sum of ψ over its N - 1 internal nodes.
//
// The trellis's hot loops use a blocked form of the same ψ on per-set tables (column-major,
// caller-owned memory of kTableColumns · 2^N doubles, filled once per set in O(2^N)), with the
// terms that depend only on the parent hoisted out of the loop over its splits:
//   Table table(double* memory, uint32_t sets) const                column pointers into memory
//   void table_set(const Table&, const Subset&, uint32_t s, bool full) const
//   bool splittable(const Table&, uint32_t p) const                 = can_split(subset p)
//   Parent parent(const Table&, uint32_t p, uint32_t full) const    the parent's constants
//   void psi_block(const Table&, const Parent&, const uint32_t* a, const uint32_t* b, int m,
//                  double* base, double* q) const
//        ψ(a[i], b[i] | parent) = base[i] + log q[i] (q[i] > 0 normal) for m splits of one parent, base
//        -inf exactly where ψ is (the split is not allowed); loops without branches (they
//        vectorise). Need be right only where both parts admit a hierarchy (Z > 0) and, if
//        kSingleLeafSplits, neither part is a single leaf; equals psi() up to round-off. The
//        split in two lets a caller that wants e^ψ skip the log.
//   static constexpr bool kSingleLeafSplits
//   void psi_single(...)  same arguments as psi_block, for splits whose part b[i] is a single leaf
//        (only if kSingleLeafSplits: an energy whose fast form misses a leaf's special case)
#pragma once
#include "../simulators/ginkgo.h"

namespace sbi {

constexpr int kLeafValues = 4;  // values per leaf in every energy's input: [E, px, py, pz] or a point in R^4

// Ginkgo's ψ (kernels/simulators/ginkgo.h) on summed leaf 4-momenta.
struct GinkgoEnergy {
  struct Subset {
    double p[4];
    double t;  // m²(p)
    double s;  // sqrt(t) where t >= 0
  };
  GinkgoModel model;
  double log_norm, dlog_norm, log_norm_root, dlog_norm_root;

  SBI_HD explicit GinkgoEnergy(const GinkgoModel& m) : model(m) {
    log_norm = ginkgo_log_norm(m.lambda, &dlog_norm);
    log_norm_root = ginkgo_log_norm(m.lambda_root, &dlog_norm_root);
  }
  SBI_HD void finish(Subset& o) const {
    o.t = minkowski_sq(o.p);
    o.s = o.t > 0.0 ? sqrt(o.t) : 0.0;
  }
  SBI_HD void leaf(const double* x, Subset& o) const {
    for (int k = 0; k < 4; ++k) o.p[k] = x[k];
    finish(o);
  }
  SBI_HD void merge(const Subset& a, const Subset& b, Subset& o) const {
    for (int k = 0; k < 4; ++k) o.p[k] = a.p[k] + b.p[k];
    finish(o);
  }
  SBI_HD bool can_split(const Subset& s) const { return s.t > model.t_cut; }
  SBI_HD double psi(const Subset& a, const Subset& b, const Subset& p, bool root) const {
    return ginkgo_split_psi_roots(a.t, a.s, b.t, b.s, p.t, p.s, root ? model.lambda_root : model.lambda, model.t_cut,
                                  root ? log_norm_root : log_norm, root ? dlog_norm_root : dlog_norm, nullptr);
  }

  // Batched ψ. Per set S (as a parent, λ_S = λ_root for the full set): t = m², s = √t,
  // λ_S / t, K_S = log ½ + 2 (C + log λ_S) - log t - log 4π and the "leaf child" term
  // g(t_S, t ≤ t_cut) = C + log(1 - e^{-λ_S min(t_S, t_cut)/t_S}). When neither child is a leaf
  // (t > t_cut), the two orderings' terms are x = K + u - log T_A and y = K + w - log T_B with
  //   u = -λ t_A / t_P - λ t_B / T_A,  w = -λ t_B / t_P - λ t_A / T_B,  T_A = (√t_P - √t_A)²,
  // so ψ = K + log(e^u / T_A + e^w / T_B) = K - log t_P + max(u, w) + log(t_P/T_hi + e^{-|u-w|} t_P/T_lo):
  // one exp and one log per split (base = K - log t_P + max(u, w), q = the log's argument, which
  // lies in [1, 2 / (1 - √0.999)²] so that callers may scale by it freely). A part with
  // t ≤ t_cut is a leaf of the shower; only single leaves matter (larger sets with t ≤ t_cut admit
  // no hierarchy), and the splits with a single-leaf part take the full formula (psi_single).
  static constexpr int kTableColumns = 5;
  struct Table {
    double* ts;  // [2^N][2]: (t, s) of each set side by side, one cache line per child in the split loops
    double *lam_over_t, *k, *leaf_g;
    SBI_HD double t(uint32_t a) const { return ts[2u * a]; }
    SBI_HD double s(uint32_t a) const { return ts[2u * a + 1u]; }
  };
  SBI_HD Table table(double* m, uint32_t sets) const {
    return Table{m, m + 2u * sets, m + 3u * sets, m + 4u * sets};
  }
  SBI_HD void table_set(const Table& tb, const Subset& o, uint32_t s, bool full) const {
    const double lam = full ? model.lambda_root : model.lambda, c = full ? log_norm_root : log_norm;
    const double cl = c + vlog(lam);
    tb.ts[2u * s] = o.t;
    tb.ts[2u * s + 1u] = o.s;
    tb.lam_over_t[s] = lam / o.t;
    tb.k[s] = kLogHalf + (cl + cl) - vlog(o.t) - kLogFourPi;
    const double r = (o.t < model.t_cut ? o.t : model.t_cut) / o.t;
    tb.leaf_g[s] = c + vlog(1.0 - vexp_flush(-lam * r));
  }
  SBI_HD bool splittable(const Table& tb, uint32_t p) const { return tb.t(p) > model.t_cut; }
  struct Parent {
    double lam, c, cl, t, s, log_t, lam_over_t, k, leaf_g;
    double t_max;  // children's m² must stay below it (truncation)
    double inv_t;  // 1 / t
  };
  SBI_HD Parent parent(const Table& tb, uint32_t p, uint32_t full) const {
    const bool root = p == full;
    const double lam = root ? model.lambda_root : model.lambda, c = root ? log_norm_root : log_norm;
    return Parent{lam,         c,        c + vlog(lam),  tb.t(p), tb.s(p), vlog(tb.t(p)), tb.lam_over_t[p], tb.k[p],
                  tb.leaf_g[p], kGinkgoTruncation * tb.t(p), 1.0 / tb.t(p)};
  }
  // t_P / T_A and t_P / T_B of an allowed split, with one division: T_A / t_P and T_B / t_P lie in
  // [(1 - √0.999)², 1] (truncation and √t_A + √t_B <= √t_P), so their product neither overflows
  // nor underflows, whatever the scale of t.
  SBI_HD static void inverse_pair(const Parent& pa, double TA, double TB, double& a, double& iA, double& iB) {
    a = TA * pa.inv_t;
    const double b = TB * pa.inv_t, r = 1.0 / (a * b);
    iA = b * r;
    iB = a * r;
  }
  SBI_HD bool allowed(const Parent& pa, double tA, double tB, double sA, double sB) const {
    // & not &&: no branches
    return (tA >= 0.0) & (tB >= 0.0) & (tA < pa.t_max) & (tB < pa.t_max) & !(sA + sB > pa.s);
  }
  // The full formula for one allowed split (any child may be a leaf).
  SBI_HD double psi_general(const Table& tb, const Parent& pa, uint32_t a, uint32_t b) const {
    const double lam = pa.lam, c = pa.c, cl = pa.cl, t_cut = model.t_cut;
    const double tA = tb.t(a), tB = tb.t(b), tP = pa.t, sA = tb.s(a), sB = tb.s(b), sP = pa.s;
    const double ltP = pa.log_t, leafP = pa.leaf_g;
    const bool leafA = tA <= t_cut, leafB = tB <= t_cut;
    const double dA = sP - sA, dB = sP - sB, TA = dA * dA, TB = dB * dB;
    const double g1A = bit_select(leafA, leafP, cl - ltP - lam * tA / tP);
    const double g1B = bit_select(leafB, leafP, cl - ltP - lam * tB / tP);
    const double rA = bit_select(TA < t_cut, TA, t_cut) / TA, rB = bit_select(TB < t_cut, TB, t_cut) / TB;
    const double g2B = bit_select(leafB, c + vlog(1.0 - vexp_flush(-lam * rA)), cl - vlog(TA) - lam * tB / TA);
    const double g2A = bit_select(leafA, c + vlog(1.0 - vexp_flush(-lam * rB)), cl - vlog(TB) - lam * tA / TB);
    const double x = kLogHalf + g1A + g2B, y = kLogHalf + g1B + g2A;
    const bool xy = x > y;
    const double hi = bit_select(xy, x, y), lo = bit_select(xy, y, x);
    return hi + vlog(1.0 + vexp_flush(lo - hi)) - kLogFourPi;
  }
  // The fast form, right where neither part is a single leaf. Call only for a splittable parent
  // (t_P > t_cut >= 0).
  SBI_HD void psi_block(const Table& tb, const Parent& pa, const uint32_t* ia, const uint32_t* ib, int m, double* base,
                        double* q) const {
    const double lt = pa.lam_over_t, sP = pa.s, k = pa.k - pa.log_t;
    for (int i = 0; i < m; ++i) {
      const uint32_t a = ia[i], b = ib[i];
      const double tA = tb.t(a), tB = tb.t(b), sA = tb.s(a), sB = tb.s(b);
      const bool ok = allowed(pa, tA, tB, sA, sB);
      const double dA = sP - sA, dB = sP - sB;
      double rA, iA, iB;  // iA = t_P / T_A
      inverse_pair(pa, dA * dA, dB * dB, rA, iA, iB);
      const double u = -lt * (tA + tB * iA), w = -lt * (tB + tA * iB);
      const bool uw = u >= w;
      const double hi = bit_select(uw, u, w), lo = bit_select(uw, w, u);
      const double ihi = bit_select(uw, iA, iB), ilo = bit_select(uw, iB, iA);
      base[i] = bit_select(ok, k + hi, double{-INFINITY});
      q[i] = bit_select(ok, ihi + vexp_flush(lo - hi) * ilo, 1.0);
    }
  }
  // Splits with a single-leaf part b[i] (a[i]: the rest of the parent). The leaf is a leaf of the
  // shower (t_B <= t_cut) and A is not (a part with t_A <= t_cut and more than one leaf admits no
  // hierarchy, so its value does not matter as long as it is not NaN): then
  //   x = log ½ + (C + log λ - log t_P - λ t_A / t_P) + (C + log(1 - e^{-λ min(T_A, t_cut) / T_A}))
  //   y = log ½ + g(t_P, leaf) + (C + log λ - log T_B - λ t_A / T_B),  g(t_P, leaf) = the parent's leaf_g,
  // and ψ = logaddexp(x, y) - log 4π = log ½ + C + g_A + log((1 - e^{-λ r_A}) + e^D / T_B) - log 4π with
  // g_A = C + log λ - log t_P - λ t_A / t_P and D = leaf_g - C + log t_P + λ t_A (1/t_P - 1/T_B), so
  // e^D / T_B = e^{D - log t_P} t_P / T_B with D - log t_P <= 0: two exps and one log instead of the
  // general form's three and five. q below the normal range counts as 0 (ψ = -inf; the dropped
  // term is under e^-708 of the split's scale), so q is always normal. A parent of two
  // leaves, or a single leaf with t > t_cut, takes the general form.
  static constexpr bool kSingleLeafSplits = true;
  SBI_HD void psi_single(const Table& tb, const Parent& pa, const uint32_t* ia, const uint32_t* ib, int m, double* base,
                         double* q) const {
    bool leaves = (ia[0] & (ia[0] - 1u)) != 0u;  // A holds more than one leaf (all lanes alike)
    for (int i = 0; i < m; ++i) leaves &= tb.t(ib[i]) <= model.t_cut;
    if (!leaves) {
      for (int i = 0; i < m; ++i) {
        const uint32_t a = ia[i], b = ib[i];
        const bool ok = allowed(pa, tb.t(a), tb.t(b), tb.s(a), tb.s(b));
        base[i] = bit_select(ok, psi_general(tb, pa, a, b), double{-INFINITY});
        q[i] = 1.0;
      }
      return;
    }
    const double lam = pa.lam, lt = pa.lam_over_t, sP = pa.s, cut = model.t_cut * pa.inv_t;
    const double d0 = pa.leaf_g - pa.c, b0 = kLogHalf + pa.c + pa.cl - pa.log_t - kLogFourPi;
    for (int i = 0; i < m; ++i) {
      const uint32_t a = ia[i], b = ib[i];
      const double tA = tb.t(a), tB = tb.t(b), sA = tb.s(a), sB = tb.s(b);
      const bool ok = allowed(pa, tA, tB, sA, sB);
      const double dA = sP - sA, dB = sP - sB;
      double rA, iA, iB;  // rA = T_A / t_P, iA = t_P / T_A
      inverse_pair(pa, dA * dA, dB * dB, rA, iA, iB);
      const double e1 = vexp_flush(-lam * (bit_select(rA < cut, rA, cut) * iA));
      const double ed = vexp_flush(d0 + tA * lt * (1.0 - iB));
      const double qi = (1.0 - e1) + ed * iB;  // ψ = b0 - λ t_A / t_P + log qi
      const bool finite = ok & (qi >= 2.2250738585072014e-308);
      base[i] = bit_select(finite, b0 - tA * lt, double{-INFINITY});
      q[i] = bit_select(finite, qi, 1.0);
    }
  }
};

// Gaussian centroid linkage: ψ(A, B) = -‖μ_A - μ_B‖² / (2 σ²), the log of a Gaussian kernel on the
// distance between the two clusters' means; every split is allowed. (Ward's size weighting
// |A||B|/(|A|+|B|) would make every hierarchy's energy the same: the total sum of squares.)
// Leaves are points in R^4 (pad unused coordinates with zeros).
struct GaussianLinkageEnergy {
  struct Subset {
    double n;
    double sum[4];
  };
  double inv_two_var;  // 1 / (2 σ²)

  SBI_HD explicit GaussianLinkageEnergy(double sigma) : inv_two_var(0.5 / (sigma * sigma)) {}
  SBI_HD void leaf(const double* x, Subset& o) const {
    o.n = 1.0;
    for (int k = 0; k < 4; ++k) o.sum[k] = x[k];
  }
  SBI_HD void merge(const Subset& a, const Subset& b, Subset& o) const {
    o.n = a.n + b.n;
    for (int k = 0; k < 4; ++k) o.sum[k] = a.sum[k] + b.sum[k];
  }
  SBI_HD bool can_split(const Subset&) const { return true; }
  SBI_HD double psi(const Subset& a, const Subset& b, const Subset&, bool) const {
    double d2 = 0.0;
    for (int k = 0; k < 4; ++k) {
      const double d = a.sum[k] / a.n - b.sum[k] / b.n;
      d2 += d * d;
    }
    return -d2 * inv_two_var;
  }

  // Batched ψ on the precomputed means (the same divisions as psi(), so the same values).
  static constexpr int kTableColumns = 4;
  struct Table {
    double* mean[4];
  };
  SBI_HD Table table(double* m, uint32_t sets) const {
    return Table{{m, m + sets, m + 2u * sets, m + 3u * sets}};
  }
  SBI_HD void table_set(const Table& tb, const Subset& o, uint32_t s, bool) const {
    for (int k = 0; k < 4; ++k) tb.mean[k][s] = o.sum[k] / o.n;
  }
  SBI_HD bool splittable(const Table&, uint32_t) const { return true; }
  struct Parent {};
  SBI_HD Parent parent(const Table&, uint32_t, uint32_t) const { return Parent{}; }
  static constexpr bool kSingleLeafSplits = false;  // no psi_single: psi_block is right everywhere
  SBI_HD void psi_block(const Table& tb, const Parent&, const uint32_t* ia, const uint32_t* ib, int m, double* base,
                        double* q) const {
    for (int i = 0; i < m; ++i) {
      double d2 = 0.0;
      for (int k = 0; k < 4; ++k) {
        const double d = tb.mean[k][ia[i]] - tb.mean[k][ib[i]];
        d2 += d * d;
      }
      base[i] = -d2 * inv_two_var;
      q[i] = 1.0;
    }
  }
};

}  // namespace sbi
