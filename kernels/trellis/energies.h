// Split energies ψ(A, B) for the trellis (kernels/trellis/trellis.h). An energy is a type E with
//   struct Subset                      features of a set of leaves (precomputed for all 2^N sets)
//   void leaf(const double* x, Subset&) const              x: one leaf's 4 values
//   void merge(const Subset& a, const Subset& b, Subset&) const   features of a ∪ b
//   bool can_split(const Subset& s) const                  false: every ψ(·, ·) with parent s is -inf
//   double psi(const Subset& a, const Subset& b, const Subset& parent, bool root) const
// ψ must be symmetric in (a, b); `root` is true for the split whose union is all N leaves.
// A hierarchy's energy (log-likelihood) is the sum of ψ over its N - 1 internal nodes.
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
};

}  // namespace sbi
