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

// Probabilities of going left / right at one nail, and ∂/∂θ of the left one.
struct GaltonNail {
  double p_left;
  double p_right;
  double dp_left;
};

SBI_HD GaltonNail galton_nail(int row, int nail, double theta) {
  const double s = sin(kPi * static_cast<double>(row) / static_cast<double>(kGaltonRows - 1));
  const double g = (2.0 * nail - (kGaltonNails - 1)) / static_cast<double>(kGaltonNails - 1);
  const double z = 10.0 * theta * g;
  const double sig_pos = 1.0 / (1.0 + exp(-z));  // σ(z)
  const double sig_neg = 1.0 / (1.0 + exp(z));   // σ(−z) = 1 − σ(z), without cancellation
  const double base = 0.5 * (1.0 - s);
  GaltonNail out;
  out.p_left = base + s * sig_pos;
  out.p_right = base + s * sig_neg;  // = 1 − p_left
  out.dp_left = s * sig_pos * sig_neg * 10.0 * g;
  return out;
}

// Position after a decision at row `row` (left or right), per the even/odd rule above.
SBI_HD int galton_move(int row, int position, bool left) {
  if (row % 2 == 0) return left ? position : position + 1;
  return left ? position - 1 : position;
}

SBI_HD bool simulate_galton_board(const SimRow& row, PhiloxStream& rng) {
  const double theta = row.theta[0];
  const bool gold = row.joint_log_likelihood || row.joint_score || row.joint_log_ratio;
  int position = kGaltonStart;
  // Products of per-row probabilities (each ≥ (1 − sin(9π/19))/2 ≈ 1.7e-3, so 20 of them stay
  // far above underflow); one log at the end instead of one per row.
  double path_prob = 1.0, ratio = 1.0, score = 0.0;
  for (int l = 0; l < kGaltonRows; ++l) {
    const GaltonNail nail = galton_nail(l, position, theta);
    const bool left = rng.uniform() < nail.p_left;
    if (gold) {
      const double p = left ? nail.p_left : nail.p_right;
      path_prob *= p;
      score += (left ? nail.dp_left : -nail.dp_left) / p;  // ∂ log p / ∂θ, ∂p_right = −∂p_left
      if (row.theta_ref) {
        const GaltonNail ref = galton_nail(l, position, row.theta_ref[0]);
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
