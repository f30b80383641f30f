// Generalized Galton board with gold: Brehmer, Louppe, Pavez, Cranmer, "Mining gold from
// implicit models", PNAS 117 (2020) 5242, arXiv:1805.12244 (also Stoye et al., arXiv:1808.00973).
//
// A ball falls through R = 20 rows of a board with N = 31 nail positions (0..30), starting at
// nail 15. At row l, nail n it goes left with probability
//   t(l, n; θ) = (1 − s_l)/2 + s_l σ(10 θ g_n),   s_l = sin(π l / 19),   g_n = 2n/30 − 1,
// σ the logistic function; so the first row is a fair coin and the middle rows follow θ. On even
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
  double big[kGaltonReach + 1];    // σ(10 |θ| g_k)
  double small[kGaltonReach + 1];  // σ(−10 |θ| g_k) = 1 − big, without cancellation
};

SBI_HD void galton_sigmoids(double theta, GaltonSigmoids& out) {
  out.theta = theta;
  for (int k = 0; k <= kGaltonReach; ++k) {
    const double g = 2.0 * k / static_cast<double>(kGaltonNails - 1);
    const double e = exp(-10.0 * fabs(theta) * g);  // ≤ 1: no overflow
    out.big[k] = 1.0 / (1.0 + e);
    out.small[k] = e / (1.0 + e);
  }
}

// Probabilities of going left / right at one nail, and ∂/∂θ of the left one.
struct GaltonNail {
  double p_left;
  double p_right;
  double dp_left;
};

SBI_HD GaltonNail galton_nail(const GaltonSigmoids& sig, int row, int position) {
  const double s = galton_row_weight(row);
  const int d = position - kGaltonStart;
  const int k = d < 0 ? -d : d;
  const bool z_nonnegative = (sig.theta >= 0.0) == (d >= 0);  // z = 10 θ (2d/30)
  const double sig_pos = z_nonnegative ? sig.big[k] : sig.small[k];  // σ(z)
  const double sig_neg = z_nonnegative ? sig.small[k] : sig.big[k];  // σ(−z)
  const double base = 0.5 * (1.0 - s);
  GaltonNail out;
  out.p_left = base + s * sig_pos;
  out.p_right = base + s * sig_neg;  // = 1 − p_left
  out.dp_left = s * sig.big[k] * sig.small[k] * 10.0 * (2.0 * d / static_cast<double>(kGaltonNails - 1));
  return out;
}

// Position after a decision at row `row` (left or right), per the even/odd rule above.
SBI_HD int galton_move(int row, int position, bool left) {
  if (row % 2 == 0) return left ? position : position + 1;
  return left ? position - 1 : position;
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
    const GaltonNail nail = galton_nail(sig, l, position);
    const bool left = rng.uniform() < nail.p_left;
    if (gold) {
      const double p = left ? nail.p_left : nail.p_right;
      path_prob *= p;
      score += (left ? nail.dp_left : -nail.dp_left) / p;  // ∂ log p / ∂θ, ∂p_right = −∂p_left
      if (row.theta_ref) {
        const GaltonNail ref = galton_nail(sig_ref, l, position);
        ratio *= p / (left ? ref.p_left : ref.p_right);
      }
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
