// Adaptive Dormand–Prince 5(4) integrator with dense output, for small non-stiff systems
//   y'(t) = f(t, y),  y(t0) = y0,  y ∈ ℝ^Dim  (Dim a compile-time constant: state on the stack).
//
// Method. The explicit 7-stage pair of Dormand & Prince, "A family of embedded Runge–Kutta
// formulae", J. Comput. Appl. Math. 6 (1980) 19–26: the 5th-order solution is propagated (local
// extrapolation); the embedded 4th-order one only estimates the error. The last stage is
// evaluated at the new point, so it is the first stage of the next step (FSAL): 6 evaluations
// of f per step.
//
// Error control (Hairer, Nørsett, Wanner, "Solving Ordinary Differential Equations I", 2nd ed.,
// Springer 1993, §II.4): with the difference e of the two solutions,
//   err = sqrt( (1/Dim) Σ_i ( e_i / (atol + rtol · max(|y_i|, |ŷ_i|)) )² ),
// a step is accepted iff err ≤ 1. Step sizes follow the PI controller of §IV.2 (Gustafsson)
//   h_new = h · clamp( 0.9 · err^−(1/5 − 0.75β) · err_prev^β , 1/5, 10 ),  β = 0.04,
// never growing right after a rejection. The first step is chosen by the algorithm of §II.4.
//
// Dense output. Solutions at the requested times come from the continuous extension of order 4
// (Shampine 1986; coefficients as given by Hairer, Nørsett, Wanner, §II.6): inside a step
// [t, t + h] with θ ∈ [0, 1],
//   y(t + θh) = r1 + θ (r2 + (1−θ) (r3 + θ (r4 + (1−θ) r5))),
//   r1 = y, r2 = ŷ − y, r3 = h k1 − r2, r4 = r2 − h k7 − r3, r5 = h Σ_j d_j k_j.
// Output times never clip the step sequence (only the final time does), so the requested grid
// does not change the solution's accuracy or cost.
//
// Failure. A solve ends with a status instead of hanging or trapping: a non-finite start,
// a step size that underflows the time resolution (after non-finite error estimates, reported as
// kNonFinite), or more than `max_steps` attempted steps.
//
// Lanes. One step of an explicit method is a long chain of dependent operations, so a single
// solve leaves the CPU mostly idle. Dopri5Lanes<Dim, Lanes, Rhs> advances `Lanes` independent
// solves in lockstep (structure of arrays; each lane has its own f, step size, accept/reject and
// outputs, and a finished lane can be restarted with a new problem while the others go on).
// Every lane executes exactly the operations of a single solve, so a problem's solution is
// bit-identical whatever lane, lane count or vector width computes it; dopri5_solve is the
// one-lane case.
#pragma once
#include "../common/portable.h"
#include "../common/vecmath.h"

namespace sbi {

enum class OdeStatus : int {
  kSuccess = 0,
  kNonFinite = 1,          // the state or its derivative became NaN/inf and could not be avoided
  kStepSizeUnderflow = 2,  // the step size fell below the resolution of t
  kTooManySteps = 3,       // more than max_steps attempted steps
};

struct Dopri5Options {
  double rtol;    // relative tolerance (per component)
  double atol;    // absolute tolerance (per component, in state units)
  int max_steps;  // attempted (accepted + rejected) steps before giving up
};

struct Dopri5Stats {
  int accepted;
  int rejected;
  int rhs_evals;
};

namespace dopri5 {

// Nodes c, coupling coefficients a, 5th-order weights b (= row 7 of a, b7 = 0) and error
// weights e = b − b̂ (b̂: the embedded 4th-order weights), Dormand & Prince (1980), Table 2.
constexpr double c2 = 1.0 / 5.0, c3 = 3.0 / 10.0, c4 = 4.0 / 5.0, c5 = 8.0 / 9.0;
constexpr double a21 = 1.0 / 5.0;
constexpr double a31 = 3.0 / 40.0, a32 = 9.0 / 40.0;
constexpr double a41 = 44.0 / 45.0, a42 = -56.0 / 15.0, a43 = 32.0 / 9.0;
constexpr double a51 = 19372.0 / 6561.0, a52 = -25360.0 / 2187.0, a53 = 64448.0 / 6561.0, a54 = -212.0 / 729.0;
constexpr double a61 = 9017.0 / 3168.0, a62 = -355.0 / 33.0, a63 = 46732.0 / 5247.0, a64 = 49.0 / 176.0,
                 a65 = -5103.0 / 18656.0;
constexpr double b1 = 35.0 / 384.0, b3 = 500.0 / 1113.0, b4 = 125.0 / 192.0, b5 = -2187.0 / 6784.0,
                 b6 = 11.0 / 84.0;
constexpr double e1 = 71.0 / 57600.0, e3 = -71.0 / 16695.0, e4 = 71.0 / 1920.0, e5 = -17253.0 / 339200.0,
                 e6 = 22.0 / 525.0, e7 = -1.0 / 40.0;
// Dense output (Hairer, Nørsett, Wanner §II.6, the coefficients of r5).
constexpr double d1 = -12715105075.0 / 11282082432.0, d3 = 87487479700.0 / 32700410799.0,
                 d4 = -10690763975.0 / 1880347072.0, d5 = 701980252875.0 / 199316789632.0,
                 d6 = -1453857185.0 / 822651844.0, d7 = 69997945.0 / 29380423.0;

// Step-size controller, in terms of the growth factor g = h_new / h.
constexpr double kSafety = 0.9;
constexpr double kGrowMin = 0.2;  // h shrinks at most 5×
constexpr double kGrowMax = 10.0;  // and grows at most 10× per step
constexpr double kBeta = 0.04;     // PI (Gustafsson) weight of the previous error
constexpr double kExpo = 0.2 - 0.75 * kBeta;
constexpr double kLog2MinErrPrev = -13.287712379549449;  // log2(1e-4): floor of err_prev
constexpr double kEpsilon = 2.220446049250313e-16;       // unit roundoff of double

// Step-size controller powers. The controller needs err^−kExpo · err_prev^β, two powers per step
// and lane. libm's pow would be a third of the cost of a step and cannot be vectorised across
// lanes; vecmath's vlog and vexp can, but their ~1-ulp accuracy (a degree-7 log series and a
// degree-12 exp) cost about 20% of sir's throughput (sims/s at batch 10^5, measured) for
// nothing: the step size is a heuristic, and 2e-7 is far more than it needs. So these two
// short approximations stay here, built on vecmath's bit helpers; like vecmath they use only
// IEEE arithmetic and bit operations, so they give the same bits on every ISA path.
// approx_log2 assumes a positive normal argument (callers clamp).
// log2(x) = e + log2(m), m ∈ [√½, √2): log2(m) = (2/ln 2) atanh(s), s = (m − 1)/(m + 1), |s| < 0.172,
// by the series to s⁷ (absolute error < 5e-8).
SBI_HD double approx_log2(double x) {
  const uint64_t b = double_bits(x);
  const double two52 = 4503599627370496.0;
  // Exponent field as a double, exactly: the bits of 2^52 + n are those of 2^52 plus n.
  const double biased = bits_double(double_bits(two52) | (b >> 52)) - two52;
  double m = bits_double((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);  // [1, 2)
  const uint64_t high = bit_mask(m > 1.4142135623730951);
  m = mask_select(high, 0.5 * m, m);
  const double e = biased - mask_select(high, 1022.0, 1023.0);
  const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  // 2/ln 2 · (s + s³/3 + s⁵/5 + s⁷/7)
  const double c1 = 2.8853900817779268, c3 = 0.9617966939259756, c5 = 0.5770780163555854,
               c7 = 0.4121985831111324;
  return e + s * (c1 + s2 * (c3 + s2 * (c5 + s2 * c7)));
}

// 2^y for y ∈ [−1000, 1000]: 2^n · 2^f with n = round(y), f ∈ [−½, ½], 2^f = exp(f ln 2) by its
// Taylor series to degree 6 (relative error < 2e-7).
SBI_HD double approx_exp2(double y) {
  const double round_magic = 6755399441055744.0;  // 1.5 · 2^52: adding it rounds to an integer
  const double shifted = y + round_magic;
  const double n = shifted - round_magic;
  const double z = (y - n) * 0.6931471805599453;
  const double p = 1.0 + z * (1.0 + z * (1.0 / 2 + z * (1.0 / 6 + z * (1.0 / 24 + z * (1.0 / 120 + z * (1.0 / 720))))));
  // bits(1.5·2^52 + n) − bits(1.5·2^52) = n (two's complement); 2^n has exponent field n + 1023.
  const uint64_t scale = (double_bits(shifted) - double_bits(round_magic) + 1023u) << 52;
  return p * bits_double(scale);
}

}  // namespace dopri5

template <int Dim, int Lanes, class Rhs>
struct Dopri5Lanes {
  Dopri5Options opt;
  Rhs rhs[Lanes];
  // Per lane: time, step size for the next attempt, end time, largest step, log2 of the previous
  // accepted error; state y and its derivative k1 = f(t, y) (FSAL), [component][lane].
  double t[Lanes], h[Lanes], t_end[Lanes], h_max[Lanes], log2_err_prev[Lanes];
  double y[Dim][Lanes], k1[Dim][Lanes];
  bool running[Lanes];       // false: finished (see status) or parked (no problem)
  uint64_t after_reject[Lanes];  // mask: the previous attempt was rejected
  OdeStatus status[Lanes];
  Dopri5Stats stats[Lanes];
  const double* t_out[Lanes];
  double* y_out[Lanes];
  int n_out[Lanes], next_out[Lanes];

  SBI_HD explicit Dopri5Lanes(const Dopri5Options& options) : opt(options), rhs{} {
    for (int l = 0; l < Lanes; ++l) park(l);
  }

  // An idle lane: it steps along with the others on harmless values (h = 0, y = 1) and is never
  // reported; its f is left as it was (finite parameters; zeros at construction).
  SBI_HD void park(int l) {
    t[l] = 0.0;
    h[l] = 0.0;
    t_end[l] = 1.0;
    h_max[l] = 1.0;
    log2_err_prev[l] = dopri5::kLog2MinErrPrev;
    for (int i = 0; i < Dim; ++i) {
      y[i][l] = 1.0;
      k1[i][l] = 0.0;
    }
    running[l] = false;
    after_reject[l] = 0;
    n_out[l] = 0;
    next_out[l] = 0;
  }

  // f(tt, in[.][l]) -> out[.][l] with lane l's right-hand side.
  SBI_HD void eval(int l, double tt, const double (&in)[Dim][Lanes], double (&out)[Dim][Lanes]) const {
    double a[Dim], b[Dim];
    for (int i = 0; i < Dim; ++i) a[i] = in[i][l];
    rhs[l](tt, a, b);
    for (int i = 0; i < Dim; ++i) out[i][l] = b[i];
  }

  // Starts lane l on y' = f(t, y), y(t0) = y0, with outputs at times t_out_[0..n) (non-decreasing,
  // all ≥ t0) written to y_out_[j * Dim + i]. Outputs at t0 are written at once; if nothing is left
  // to integrate (or y0, f(t0, y0) is not finite) the lane is finished when this returns.
  SBI_HD void start(int l, const Rhs& f, double t0, const double* y0, const double* t_out_, int n,
                    double* y_out_) {
    using namespace dopri5;
    park(l);
    rhs[l] = f;
    t_out[l] = t_out_;
    y_out[l] = y_out_;
    n_out[l] = n;
    stats[l] = Dopri5Stats{0, 0, 0};
    status[l] = OdeStatus::kSuccess;
    t[l] = t0;
    double y0l[Dim], f0[Dim];
    for (int i = 0; i < Dim; ++i) y0l[i] = y0[i];
    f(t0, y0l, f0);
    stats[l].rhs_evals = 1;
    for (int i = 0; i < Dim; ++i) {
      y[i][l] = y0l[i];
      k1[i][l] = f0[i];
      if (!(y0l[i] - y0l[i] == 0.0) || !(f0[i] - f0[i] == 0.0)) status[l] = OdeStatus::kNonFinite;
    }
    int j = 0;
    for (; j < n && t_out_[j] <= t0; ++j)
      for (int i = 0; i < Dim; ++i) y_out_[j * Dim + i] = y0l[i];
    next_out[l] = j;
    t_end[l] = n > 0 ? t_out_[n - 1] : t0;
    h_max[l] = t_end[l] - t0;
    if (status[l] != OdeStatus::kSuccess || !(t0 < t_end[l])) return;

    // Starting step (HNW §II.4): from the sizes of y0, f(t0, y0) and a finite-difference estimate
    // of f's derivative along the solution, aiming at a local error of 0.01 in the scaled norm.
    const double rtol = opt.rtol, atol = opt.atol;
    double sy = 0.0, sf = 0.0;
    for (int i = 0; i < Dim; ++i) {
      const double sc = atol + rtol * fabs(y0l[i]);
      sy += (y0l[i] / sc) * (y0l[i] / sc);
      sf += (f0[i] / sc) * (f0[i] / sc);
    }
    const double d0 = sqrt(sy / Dim), d1n = sqrt(sf / Dim);
    double h0 = (d0 < 1e-5 || d1n < 1e-5) ? 1e-6 : 0.01 * d0 / d1n;
    h0 = h0 < h_max[l] ? h0 : h_max[l];
    double y1[Dim], f1[Dim];
    for (int i = 0; i < Dim; ++i) y1[i] = y0l[i] + h0 * f0[i];
    f(t0 + h0, y1, f1);
    stats[l].rhs_evals = 2;
    double sd = 0.0;
    for (int i = 0; i < Dim; ++i) {
      const double q = (f1[i] - f0[i]) / (h0 * (atol + rtol * fabs(y0l[i])));
      sd += q * q;
    }
    const double d2 = sqrt(sd / Dim);
    const double dmax = d1n > d2 ? d1n : d2;
    const double h1 = dmax <= 1e-15 ? (h0 * 1e-3 > 1e-6 ? h0 * 1e-3 : 1e-6) : pow(0.01 / dmax, 0.2);
    double h_start = 100.0 * h0 < h1 ? 100.0 * h0 : h1;
    h_start = h_start < h_max[l] ? h_start : h_max[l];
    if (!(h_start - h_start == 0.0)) {
      status[l] = OdeStatus::kNonFinite;
      return;
    }
    h[l] = h_start;
    running[l] = true;
  }

  // One attempted step on every lane (parked and finished lanes compute harmless values).
  SBI_HD void step() {
    using namespace dopri5;
    const double rtol = opt.rtol, atol = opt.atol;
    double hs[Lanes], t_new[Lanes];
    uint64_t last[Lanes];  // mask: the step ends at t_end
    double tmp[Dim][Lanes], k2[Dim][Lanes], k3[Dim][Lanes], k4[Dim][Lanes], k5[Dim][Lanes], k6[Dim][Lanes],
        k7[Dim][Lanes], y_new[Dim][Lanes];
    for (int l = 0; l < Lanes; ++l) {
      last[l] = bit_mask(t[l] + 1.01 * h[l] >= t_end[l]);
      hs[l] = mask_select(last[l], t_end[l] - t[l], h[l]);
      t_new[l] = mask_select(last[l], t_end[l], t[l] + hs[l]);
    }
    // Each stage sums the older terms first, so only the newest one waits for f.
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l) tmp[i][l] = y[i][l] + (hs[l] * a21) * k1[i][l];
    for (int l = 0; l < Lanes; ++l) eval(l, t[l] + c2 * hs[l], tmp, k2);
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l)
        tmp[i][l] = y[i][l] + (hs[l] * a31) * k1[i][l] + (hs[l] * a32) * k2[i][l];
    for (int l = 0; l < Lanes; ++l) eval(l, t[l] + c3 * hs[l], tmp, k3);
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l)
        tmp[i][l] = y[i][l] + (hs[l] * a41) * k1[i][l] + (hs[l] * a42) * k2[i][l] + (hs[l] * a43) * k3[i][l];
    for (int l = 0; l < Lanes; ++l) eval(l, t[l] + c4 * hs[l], tmp, k4);
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l)
        tmp[i][l] = y[i][l] + (hs[l] * a51) * k1[i][l] + (hs[l] * a52) * k2[i][l] + (hs[l] * a53) * k3[i][l] +
                    (hs[l] * a54) * k4[i][l];
    for (int l = 0; l < Lanes; ++l) eval(l, t[l] + c5 * hs[l], tmp, k5);
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l)
        tmp[i][l] = y[i][l] + (hs[l] * a61) * k1[i][l] + (hs[l] * a62) * k2[i][l] + (hs[l] * a63) * k3[i][l] +
                    (hs[l] * a64) * k4[i][l] + (hs[l] * a65) * k5[i][l];
    for (int l = 0; l < Lanes; ++l) eval(l, t_new[l], tmp, k6);
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l)
        y_new[i][l] = y[i][l] + (hs[l] * b1) * k1[i][l] + (hs[l] * b3) * k3[i][l] + (hs[l] * b4) * k4[i][l] +
                      (hs[l] * b5) * k5[i][l] + (hs[l] * b6) * k6[i][l];
    for (int l = 0; l < Lanes; ++l) eval(l, t_new[l], y_new, k7);

    // Squared error norm; err² ≤ 1 accepts. NaN fails every comparison, so it rejects.
    double err2[Lanes];
    for (int l = 0; l < Lanes; ++l) err2[l] = 0.0;
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l) {
        const double e = (hs[l] * e1) * k1[i][l] + (hs[l] * e3) * k3[i][l] + (hs[l] * e4) * k4[i][l] +
                         (hs[l] * e5) * k5[i][l] + (hs[l] * e6) * k6[i][l] + (hs[l] * e7) * k7[i][l];
        const double ay = fabs(y[i][l]), ay_new = fabs(y_new[i][l]);
        const double q = e / (atol + rtol * mask_select(bit_mask(ay > ay_new), ay, ay_new));
        err2[l] += q * q;
      }

    // Accept or reject, and the next step size: lane-wise arithmetic only, so it vectorizes.
    uint64_t accept[Lanes], finite_err[Lanes];  // masks
    double log2_err[Lanes], h_next[Lanes];
    for (int l = 0; l < Lanes; ++l) {
      const double e2 = err2[l] * (1.0 / Dim);
      finite_err[l] = bit_mask(e2 <= 1.7976931348623157e308);
      accept[l] = bit_mask(e2 <= 1.0);
      // log2(err) from err², clamped to a positive normal range (g is clamped anyway).
      log2_err[l] = 0.5 * approx_log2(mask_select(bit_mask(e2 < 1e-300), 1e-300, mask_select(finite_err[l], e2, 1.0)));
      // g = 0.9 · err^−kExpo · err_prev^β (accepted) or 0.9 · err^−kExpo (rejected).
      double g = kSafety * approx_exp2(-kExpo * log2_err[l] + mask_select(accept[l], kBeta * log2_err_prev[l], 0.0));
      g = mask_select(bit_mask(g < kGrowMin), kGrowMin, g);
      g = mask_select(bit_mask(g > kGrowMax), kGrowMax, g);
      g = mask_select(finite_err[l], g, kGrowMin);
      g = mask_select((after_reject[l] | ~accept[l]) & bit_mask(g > 1.0), 1.0, g);
      const double hn = hs[l] * g;
      h_next[l] = mask_select(bit_mask(hn > h_max[l]), h_max[l], hn);
    }
    // Outputs passed by an accepted step (a few per solve), from the step's dense output.
    for (int l = 0; l < Lanes; ++l)
      if (accept[l] && running[l] && next_out[l] < n_out[l] && t_out[l][next_out[l]] <= t_new[l])
        emit(l, hs[l], t_new[l], k3, k4, k5, k6, k7, y_new);
    // Advance the accepted lanes (k7 = f(t_new, y_new) becomes k1).
    for (int i = 0; i < Dim; ++i)
      for (int l = 0; l < Lanes; ++l) {
        y[i][l] = mask_select(accept[l], y_new[i][l], y[i][l]);
        k1[i][l] = mask_select(accept[l], k7[i][l], k1[i][l]);
      }
    for (int l = 0; l < Lanes; ++l) {
      t[l] = mask_select(accept[l], t_new[l], t[l]);
      const double floored = mask_select(bit_mask(log2_err[l] > kLog2MinErrPrev), log2_err[l], kLog2MinErrPrev);
      log2_err_prev[l] = mask_select(accept[l], floored, log2_err_prev[l]);
      after_reject[l] = ~accept[l];
      h[l] = h_next[l];
    }
    // Counts, and the end of each running solve: done, or failed.
    for (int l = 0; l < Lanes; ++l) {
      if (!running[l]) continue;
      if (accept[l]) ++stats[l].accepted;
      else ++stats[l].rejected;
      stats[l].rhs_evals += 6;
      if (accept[l] && last[l]) {
        running[l] = false;
      } else if (stats[l].accepted + stats[l].rejected >= opt.max_steps) {
        status[l] = OdeStatus::kTooManySteps;
        running[l] = false;
      } else if (!(0.1 * h_next[l] > fabs(t[l]) * kEpsilon) || !(h_next[l] > 1e-300)) {
        status[l] = finite_err[l] ? OdeStatus::kStepSizeUnderflow : OdeStatus::kNonFinite;
        running[l] = false;
      }
    }
  }

  // Writes lane l's outputs inside (t, t_new] of the step just accepted, by dense output.
  SBI_HD void emit(int l, double hl, double tn, const double (&k3)[Dim][Lanes], const double (&k4)[Dim][Lanes],
                   const double (&k5)[Dim][Lanes], const double (&k6)[Dim][Lanes], const double (&k7)[Dim][Lanes],
                   const double (&y_new)[Dim][Lanes]) {
    using namespace dopri5;
    double r5[Dim];
    for (int i = 0; i < Dim; ++i)
      r5[i] = hl * (d1 * k1[i][l] + d3 * k3[i][l] + d4 * k4[i][l] + d5 * k5[i][l] + d6 * k6[i][l] + d7 * k7[i][l]);
    const double* to = t_out[l];
    int j = next_out[l];
    for (; j < n_out[l] && to[j] <= tn; ++j) {
      double* out = y_out[l] + j * Dim;
      if (to[j] == tn) {
        for (int i = 0; i < Dim; ++i) out[i] = y_new[i][l];
        continue;
      }
      const double th = (to[j] - t[l]) / hl, th1 = 1.0 - th;
      for (int i = 0; i < Dim; ++i) {
        const double r2 = y_new[i][l] - y[i][l];
        const double r3 = hl * k1[i][l] - r2;
        const double r4 = r2 - hl * k7[i][l] - r3;
        out[i] = y[i][l] + th * (r2 + th1 * (r3 + th * (r4 + th1 * r5[i])));
      }
    }
    next_out[l] = j;
  }
};

// Integrates y' = rhs(t, y) from (t0, y0) and writes the solution at the n_out times t_out
// (non-decreasing, all ≥ t0) to y_out[j * Dim + i]. `rhs(t, y, dydt)` writes f(t, y) to dydt.
// On failure the content of y_out is unspecified. stats may be null.
template <int Dim, class Rhs>
SBI_HD OdeStatus dopri5_solve(const Rhs& rhs, double t0, const double* y0, const double* t_out, int n_out,
                              double* y_out, const Dopri5Options& opt, Dopri5Stats* stats) {
  Dopri5Lanes<Dim, 1, Rhs> solver(opt);
  solver.start(0, rhs, t0, y0, t_out, n_out, y_out);
  while (solver.running[0]) solver.step();
  if (stats) *stats = solver.stats[0];
  return solver.status[0];
}

}  // namespace sbi
