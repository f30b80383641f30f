// Ginkgo, a toy generative model of jet showers (Cranmer, Drnevich, Macaluso, Pappadopulo,
// "Ginkgo: a toy generative model for jet physics", 2021; public code SebastianMacaluso/ginkgo),
// and its split potential ψ, the log-probability of one binary split.
//
// Shower: a node with 4-momentum p = [E, px, py, pz] (metric +,-,-,-) and invariant mass squared
// t. If t <= t_cut the node is a leaf. Otherwise
//   u_1, u_2 ~ Exp(rate) truncated to u < 1 - 1e-3 (rate = lambda_root at the root, lambda below),
//   t_1 = t u_1,  t_2 = (sqrt t - sqrt t_1)^2 u_2,
//   a direction r uniform on the sphere; child 1 moves along r, child 2 along -r in the parent's
//   rest frame (two-body decay), both boosted to the lab; a fair coin swaps left and right.
//
// ψ(A, B) for children with masses t_A, t_B and parent mass t_P (λ: the rate of that split):
//   -inf if t_P <= 0, t_A < 0, t_B < 0, t_P <= t_cut, t_A >= 0.999 t_P, t_B >= 0.999 t_P or
//   sqrt t_A + sqrt t_B > sqrt t_P; otherwise, with C = -log(1 - exp(-0.999 λ)) and
//     g(T, t) = C + log λ - log T - λ t / T           for t > t_cut (density of the next mass)
//     g(T, t) = C + log(1 - exp(-λ min(T, t_cut)/T))    for t <= t_cut (the child stops: a leaf),
//   ψ = logsumexp(log ½ + g(t_P, t_A) + g((√t_P - √t_A)², t_B),
//                 log ½ + g(t_P, t_B) + g((√t_P - √t_B)², t_A)) - log 4π.
// The two orderings are the coin flip (either child may have been drawn first); -log 4π is the
// direction's density. This is the public reference's split_logLH_with_stop_nonstop_prob, kept
// exactly, including its leaf term: when T < t_cut its probability (1 - e^{-λ}) / (1 - e^{-0.999λ})
// exceeds 1 (the truncation at 0.999 is not applied there). The simulator's gold uses the same ψ,
// so a hierarchy's log-likelihood is the sum of ψ over its N - 1 internal nodes, and the sum over
// the generating tree equals the simulator's joint log-likelihood.
#pragma once
#include "../common/vecmath.h"
#include "../random/philox.h"

namespace sbi {

struct GinkgoModel {
  double lambda = 1.5;       // rate of every split below the root
  double lambda_root = 3.0;  // rate of the root split
  double t_cut = 16.0;       // mass squared below which a node is a leaf
};

constexpr double kGinkgoTruncation = 1.0 - 1e-3;  // u < 0.999: masses strictly decrease
constexpr double kLogFourPi = 2.53102424696929002254;  // log(4π)
constexpr double kLogHalf = -0.69314718055994530942;

SBI_HD double minkowski_sq(const double* p) { return p[0] * p[0] - (p[1] * p[1] + p[2] * p[2] + p[3] * p[3]); }

// -log(1 - e^{-0.999 λ}): the truncated exponential's normalisation, and its λ-derivative.
SBI_HD double ginkgo_log_norm(double lam, double* dlam) {
  const double q = exp(-kGinkgoTruncation * lam);
  if (dlam) *dlam = -kGinkgoTruncation * q / (1.0 - q);
  return -log1p(-q);
}

// g(T, t) (see above) and, if dlam is given, dg/dλ. `log_norm`/`dlog_norm`: ginkgo_log_norm(λ).
SBI_HD double ginkgo_child_log_density(double T, double t, double lam, double t_cut, double log_norm, double dlog_norm,
                                       double* dlam) {
  if (t > t_cut) {
    if (dlam) *dlam = dlog_norm + 1.0 / lam - t / T;
    return log_norm + log(lam) - log(T) - lam * t / T;
  }
  const double r = (T < t_cut ? T : t_cut) / T;
  const double q = exp(-lam * r);
  if (dlam) *dlam = dlog_norm + r * q / (1.0 - q);
  return log_norm + log1p(-q);
}

// ψ from the three masses squared t and their square roots s (s = sqrt(t) where t >= 0);
// log_norm, dlog_norm: ginkgo_log_norm(λ). dlam (optional) receives dψ/dλ (0 where ψ = -inf).
SBI_HD double ginkgo_split_psi_roots(double tA, double sA, double tB, double sB, double tP, double sP, double lam,
                                     double t_cut, double log_norm, double dlog_norm, double* dlam) {
  const double neg_inf = -INFINITY;
  if (dlam) *dlam = 0.0;
  if (!(tP > t_cut) || !(tP > 0.0) || tA < 0.0 || tB < 0.0) return neg_inf;
  if (tA >= kGinkgoTruncation * tP || tB >= kGinkgoTruncation * tP) return neg_inf;
  if (sA + sB > sP) return neg_inf;
  double d1 = 0, d2 = 0, d3 = 0, d4 = 0;
  const double TA = (sP - sA) * (sP - sA), TB = (sP - sB) * (sP - sB);
  const double a = kLogHalf + ginkgo_child_log_density(tP, tA, lam, t_cut, log_norm, dlog_norm, dlam ? &d1 : nullptr) +
                   ginkgo_child_log_density(TA, tB, lam, t_cut, log_norm, dlog_norm, dlam ? &d2 : nullptr);
  const double b = kLogHalf + ginkgo_child_log_density(tP, tB, lam, t_cut, log_norm, dlog_norm, dlam ? &d3 : nullptr) +
                   ginkgo_child_log_density(TB, tA, lam, t_cut, log_norm, dlog_norm, dlam ? &d4 : nullptr);
  const double m = a > b ? a : b;
  if (!(m > neg_inf)) return neg_inf;
  const double wa = exp(a - m), wb = exp(b - m);
  if (dlam) *dlam = (wa * (d1 + d2) + wb * (d3 + d4)) / (wa + wb);
  return m + log(wa + wb) - kLogFourPi;
}

// ψ from the three masses squared (see the top of this file).
SBI_HD double ginkgo_split_psi(double tA, double tB, double tP, double lam, double t_cut, double* dlam) {
  double dn = 0.0;
  const double ln = ginkgo_log_norm(lam, &dn);
  const double sA = tA > 0.0 ? sqrt(tA) : 0.0, sB = tB > 0.0 ? sqrt(tB) : 0.0, sP = tP > 0.0 ? sqrt(tP) : 0.0;
  return ginkgo_split_psi_roots(tA, sA, tB, sB, tP, sP, lam, t_cut, ln, dn, dlam);
}

// The truncated exponential draw by inversion: u = -log(1 - U (1 - e^{-0.999 rate})) / rate,
// one uniform per draw, so u < 0.999 without rejection.
SBI_HD double ginkgo_truncated_exponential(PhiloxStream& rng, double rate) {
  const double c = -expm1(-kGinkgoTruncation * rate);
  return -log1p(-rng.uniform() * c) / rate;
}

// Boost of q (in the rest frame of a parent with lab 4-momentum P and mass m) to the lab frame.
SBI_HD void boost_from_rest_frame(const double* P, double m, const double* q, double* out) {
  const double px = P[1], py = P[2], pz = P[3];
  const double pdotq = px * q[1] + py * q[2] + pz * q[3];
  const double E = (P[0] * q[0] + pdotq) / m;
  const double k = (q[0] + E) / (P[0] + m);  // (γ-1)(n·q)/|P| n + γβE* n in one factor
  out[0] = E;
  out[1] = q[1] + k * px;
  out[2] = q[2] + k * py;
  out[3] = q[3] + k * pz;
}

// One jet's tree in caller-owned arrays of capacity `max_nodes` (2 · max leaves - 1):
//   momenta [max_nodes · 4], t [max_nodes] (the drawn mass squared of each node),
//   left/right [max_nodes] (children indices, -1 for a leaf), stack [max_nodes] (scratch).
// Nodes are in depth-first pre-order (root 0, then the left subtree, then the right).
struct GinkgoTree {
  double* momenta;
  double* t;
  int32_t* left;
  int32_t* right;
  int32_t* stack;
  int max_nodes;
};

struct GinkgoGold {
  double log_likelihood;     // Σ ψ over the internal nodes
  double score_lambda;       // ∂/∂λ
  double score_lambda_root;  // ∂/∂λ_root
  double log_ratio;          // log p(tree | model) - log p(tree | reference)
};

// Simulates one shower from root 4-momentum `root` with mass squared `root_t`. Returns the number
// of nodes, or -1 if the tree needs more than max_nodes nodes. `reference` (may be null) is the
// model of the log-ratio.
SBI_HD int ginkgo_shower(PhiloxStream& rng, const double* root, double root_t, const GinkgoModel& model,
                         const GinkgoModel* reference, GinkgoTree& tree, GinkgoGold& gold) {
  gold.log_likelihood = gold.score_lambda = gold.score_lambda_root = gold.log_ratio = 0.0;
  for (int k = 0; k < 4; ++k) tree.momenta[k] = root[k];
  tree.t[0] = root_t;
  tree.left[0] = tree.right[0] = -1;
  int n = 1, top = 0;
  tree.stack[top++] = 0;
  while (top > 0) {
    const int i = tree.stack[--top];
    const double tP = tree.t[i];
    if (tP <= model.t_cut) continue;  // a leaf
    if (n + 2 > tree.max_nodes) return -1;
    const bool is_root = i == 0;
    const double rate = is_root ? model.lambda_root : model.lambda;
    const double t1 = tP * ginkgo_truncated_exponential(rng, rate);
    const double sP = sqrt(tP), s1 = sqrt(t1);
    const double t2 = (sP - s1) * (sP - s1) * ginkgo_truncated_exponential(rng, rate);
    // direction uniform on the sphere: cos θ uniform on (-1, 1), φ uniform
    const double cz = 2.0 * rng.uniform() - 1.0;
    double sphi, cphi;
    vsincos_2pi(rng.uniform(), &sphi, &cphi);
    const double sz = sqrt(1.0 - cz * cz);
    const double dir[3] = {sz * cphi, sz * sphi, cz};
    const double E1 = 0.5 * sP * (1.0 + (t1 - t2) / tP);
    const double E2 = 0.5 * sP * (1.0 + (t2 - t1) / tP);
    const double lam_sum = 1.0 - 2.0 * (t1 + t2) / tP + (t1 - t2) * (t1 - t2) / (tP * tP);
    const double pcm = 0.5 * sP * sqrt(lam_sum > 0.0 ? lam_sum : 0.0);
    const double q1[4] = {E1, pcm * dir[0], pcm * dir[1], pcm * dir[2]};
    const double q2[4] = {E2, -pcm * dir[0], -pcm * dir[1], -pcm * dir[2]};
    const bool swap = (rng.next_u32() & 1u) != 0;
    const int a = n, b = n + 1;
    n += 2;
    const double* P = tree.momenta + 4 * i;
    boost_from_rest_frame(P, sP, swap ? q2 : q1, tree.momenta + 4 * a);
    boost_from_rest_frame(P, sP, swap ? q1 : q2, tree.momenta + 4 * b);
    tree.t[a] = swap ? t2 : t1;
    tree.t[b] = swap ? t1 : t2;
    tree.left[a] = tree.right[a] = tree.left[b] = tree.right[b] = -1;
    tree.left[i] = a;
    tree.right[i] = b;
    double d = 0.0;
    const double psi = ginkgo_split_psi(t1, t2, tP, rate, model.t_cut, &d);
    gold.log_likelihood += psi;
    if (is_root)
      gold.score_lambda_root += d;
    else
      gold.score_lambda += d;
    if (reference) {
      const double ref_rate = is_root ? reference->lambda_root : reference->lambda;
      gold.log_ratio += psi - ginkgo_split_psi(t1, t2, tP, ref_rate, reference->t_cut, nullptr);
    }
    // pre-order: the left subtree first
    tree.stack[top++] = b;
    tree.stack[top++] = a;
  }
  return n;
}

}  // namespace sbi
