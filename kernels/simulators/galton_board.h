// Generalized Galton board with gold: Brehmer, Louppe, Pavez, Cranmer, "Mining gold from
// implicit models", PNAS 117 (2020) 5242, arXiv:1805.12244 (also Stoye et al., arXiv:1808.00973).
//
// A ball falls through R = 20 rows of a board with N = 31 nail positions (0..30), starting at
// nail 15. At row l, nail n it goes left with probability
//   t(l, n; θ) = (1 − s_l)/2 + s_l σ(10 θ g_n),   s_l = sin(π l / 19),   g_n = 2n/30 − 1,
// σ the logistic function; the first and last rows are fair coins, the middle ones follow θ. On even
// rows left keeps the position and right adds 1; on odd rows left subtracts 1 and right keeps it.
// Two consecutive rows move the ball by −1, 0 or +1, so after 20 rows it lies in 15 ± 10 = 5..25:
// the edges 0 and 30 are never reached and nothing needs clamping.
//
//   x     = the final position (one value, an integer held in a float)
//   z     = the 20 left/right decisions
//   gold  = log p(x, z | θ) = Σ_l log t_l or log(1 − t_l) along the path,
//           its derivative ∂/∂θ (analytic: ∂t/∂θ = s_l σ(z)σ(−z) · 10 g_n), and
//           log p(x, z | θ) − log p(x, z | θ_ref) for the same path (simulated at θ).
// Randomness: decision l compares the l-th uniform() of the row's Philox stream with t; left if
// u < t. (Nothing else is drawn, so a path can be replayed from the stream.)
#pragma once
#include "../random/philox.h"
#include "sim_row.h"

namespace sbi {

constexpr int kGaltonRows = 20;
constexpr int kGaltonNails = 31;
constexpr int kGaltonStart = 15;

// s_l = sin(π l / 19), correctly rounded; s_l = s_{19−l}, so the last row, like the first, is
// exactly a fair coin (a table: a sine per row and ball would cost more than the rest of the walk).
SBI_HD double galton_row_weight(int row) {
  constexpr double kWeights[10] = {0.0,
                                   0.1645945902807339,
                                   0.3246994692046835,
                                   0.47594739303707356,
                                   0.6142127126896678,
                                   0.7357239106731316,
                                   0.8371664782625285,
                                   0.9157733266550574,
                                   0.9694002659393304,
                                   0.9965844930066698};
  return kWeights[row < kGaltonRows / 2 ? row : kGaltonRows - 1 - row];
}

constexpr int kGaltonReach = kGaltonRows / 2;  // largest |position − start| a ball can reach

// σ(±z) for the nails a ball can reach. Nail n = 15 ± k has g_n = ±g_k, g_k = 2k/30, so
// z = 10 θ g_n takes only the values ±10 |θ| g_k, k = 0..10. The 11 exps are independent (they
// pipeline), where one exp per row would sit on the walk's serial dependency chain.
struct GaltonSigmoids {
  double theta;
  // sigma[1][k] = σ(10 |θ| g_k), sigma[0][k] = σ(−10 |θ| g_k) = 1 − sigma[1][k] without cancellation.
  // Indexed by a 0/1 flag rather than chosen by a branch: the walk's turns are coin flips that a
  // branch predictor cannot learn.
  double sigma[2][kGaltonReach + 1];
};

SBI_HD void galton_sigmoids(double theta, GaltonSigmoids& out) {
  out.theta = theta;
  for (int k = 0; k <= kGaltonReach; ++k) {
    const double g = 2.0 * k / static_cast<double>(kGaltonNails - 1);
    const double e = exp(-10.0 * fabs(theta) * g);  // ≤ 1: no overflow
    out.sigma[1][k] = 1.0 / (1.0 + e);
    out.sigma[0][k] = e / (1.0 + e);
  }
}

// Probability of the turn `left` (1: left, t; 0: right, 1 − t) at row `row`, position `position`:
// (1 − s_l)/2 + s_l σ(±z), σ(z) for left and σ(−z) for right, z = 10 θ (2d/30), d = position − 15.
SBI_HD double galton_turn_probability(const GaltonSigmoids& sig, int row, int position, int left) {
  const double s = galton_row_weight(row);
  const int d = position - kGaltonStart;
  const int z_nonnegative = (sig.theta >= 0.0) == (d >= 0);
  return 0.5 * (1.0 - s) + s * sig.sigma[z_nonnegative == left][d < 0 ? -d : d];
}

// ∂t/∂θ = s_l σ(z) σ(−z) · 10 g_n; the right turn's derivative is its negative.
SBI_HD double galton_left_derivative(const GaltonSigmoids& sig, int row, int position) {
  const int d = position - kGaltonStart;
  const int k = d < 0 ? -d : d;
  return galton_row_weight(row) * sig.sigma[1][k] * sig.sigma[0][k] * 10.0 *
         (2.0 * d / static_cast<double>(kGaltonNails - 1));
}

// Position after turn `left` (1/0) at row `row`, per the even/odd rule above.
SBI_HD int galton_move(int row, int position, int left) {
  return row % 2 == 0 ? position + 1 - left : position - left;
}

SBI_HD bool simulate_galton_board(const SimRow& row, PhiloxStream& rng) {
  const bool gold = row.joint_log_likelihood || row.joint_score || row.joint_log_ratio;
  GaltonSigmoids sig, sig_ref;
  galton_sigmoids(row.theta[0], sig);
  if (row.theta_ref) galton_sigmoids(row.theta_ref[0], sig_ref);
  int position = kGaltonStart;
  // Products of per-row probabilities (each ≥ (1 − sin(9π/19))/2 ≈ 1.7e-3, so 20 of them stay
  // far above underflow); one log at the end instead of one per row.
  double path_prob = 1.0, ratio = 1.0, score = 0.0;
  for (int l = 0; l < kGaltonRows; ++l) {
    const int left = rng.uniform() < galton_turn_probability(sig, l, position, 1);
    if (gold) {
      const double p = galton_turn_probability(sig, l, position, left);
      path_prob *= p;
      score += (2 * left - 1) * galton_left_derivative(sig, l, position) / p;  // ∂ log p / ∂θ
      if (row.theta_ref) ratio *= p / galton_turn_probability(sig_ref, l, position, left);
    }
    position = galton_move(l, position, left);
  }
  row.x[0] = static_cast<float>(position);
  if (row.joint_log_likelihood) *row.joint_log_likelihood = log(path_prob);
  if (row.joint_score) row.joint_score[0] = score;
  if (row.joint_log_ratio) *row.joint_log_ratio = log(ratio);
  return true;
}

}  // namespace sbi
