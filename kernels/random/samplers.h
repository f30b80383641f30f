// Samplers on top of a PhiloxStream. Each consumes a data-dependent number of draws from
// the stream it is given, so a sample's variates depend only on (seed, stream).
//   normal         Box-Muller (both variates used: the second is kept as a spare), on the
//                  reproducible log and sin/cos of repro_math.h so that normals are the same bits
//                  on every backend and in the TypeScript PhiloxStream
//   gamma          Marsaglia & Tsang, ACM TOMS 26 (2000); shape < 1 by the u^(1/a) boost
//   beta, t        from gamma variates, through their logarithms (no underflow for small shapes)
//   binomial       inversion for n*min(p,q) < 10, else BTRS (Hormann, J. Stat. Comput.
//                  Simul. 46, 1993): exact for any n
//   poisson        inversion for lambda < 10, else PTRS (Hormann, Insurance: Math. Econ. 12, 1993)
// The rejection tests of BTRS and PTRS use Loader's (2000, "Fast and accurate computation of
// binomial probabilities") saddle-point log pmf, which stays exact to ~1e-15 for n, lambda up to
// 2^53 where log(k!) differences lose all digits.
#pragma once
#include "philox.h"
#include "repro_math.h"

namespace sbi {

SBI_HD double sample_uniform(PhiloxStream& r, double low, double high) {
  return low + (high - low) * r.uniform();
}

SBI_HD double sample_std_normal(PhiloxStream& r) {
  if (r.has_spare_normal) {
    r.has_spare_normal = false;
    return r.spare_normal;
  }
  const double u1 = r.uniform();
  const double u2 = r.uniform();
  const double rad = sqrt(-2.0 * repro_log(u1));
  double s, c;
  repro_sincos_2pi(u2, s, c);
  r.spare_normal = rad * s;
  r.has_spare_normal = true;
  return rad * c;
}

SBI_HD double sample_normal(PhiloxStream& r, double mean, double sd) { return mean + sd * sample_std_normal(r); }

SBI_HD double sample_exponential(PhiloxStream& r, double rate) { return -log(r.uniform()) / rate; }

SBI_HD double sample_lognormal(PhiloxStream& r, double mu, double sigma) {
  return exp(mu + sigma * sample_std_normal(r));
}

// Marsaglia & Tsang (2000) for shape >= 1: a Gamma(shape, 1) variate.
SBI_HD double marsaglia_tsang_gamma(PhiloxStream& r, double shape) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    double z, v;
    do {
      z = sample_std_normal(r);
      v = 1.0 + c * z;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = r.uniform();
    const double z2 = z * z;
    if (u < 1.0 - 0.0331 * z2 * z2) return d * v;
    if (log(u) < 0.5 * z2 + d * (1.0 - v + log(v))) return d * v;
  }
}

// Gamma(shape, scale = 1). shape > 0; below 1 by Gamma(a) = Gamma(a + 1) * U^(1/a).
SBI_HD double sample_std_gamma(PhiloxStream& r, double shape) {
  if (shape < 1.0) {
    const double u = r.uniform();
    return marsaglia_tsang_gamma(r, shape + 1.0) * pow(u, 1.0 / shape);
  }
  return marsaglia_tsang_gamma(r, shape);
}

// log of a Gamma(shape, 1) variate (same draws as sample_std_gamma). Stays finite where the
// variate itself underflows to 0, as it does often for shape << 1 (U^(1/a) < 1e-308).
SBI_HD double sample_log_std_gamma(PhiloxStream& r, double shape) {
  if (shape < 1.0) {
    const double u = r.uniform();
    return log(marsaglia_tsang_gamma(r, shape + 1.0)) + log(u) / shape;
  }
  return log(marsaglia_tsang_gamma(r, shape));
}

SBI_HD double sample_gamma(PhiloxStream& r, double shape, double rate) { return sample_std_gamma(r, shape) / rate; }

// X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b), formed from log X and log Y: for small shapes
// both variates can underflow to 0, and X / (X + Y) would be 0 / 0.
SBI_HD double sample_beta(PhiloxStream& r, double a, double b) {
  const double lx = sample_log_std_gamma(r, a);
  const double ly = sample_log_std_gamma(r, b);
  const double t = ly - lx;  // X / (X + Y) = 1 / (1 + e^t)
  if (t > 0.0) {
    const double e = exp(-t);
    return e / (1.0 + e);
  }
  return 1.0 / (1.0 + exp(t));
}

// Z / sqrt(V / df), V = 2 G ~ chi^2(df), G ~ Gamma(df / 2); through log G so that tiny df
// (where G underflows) gives huge finite values rather than Z / 0.
SBI_HD double sample_student_t(PhiloxStream& r, double df) {
  const double z = sample_std_normal(r);
  const double log_g = sample_log_std_gamma(r, 0.5 * df);
  return z * exp(0.5 * (log(0.5 * df) - log_g));
}

// Stirling-series error of log k!: log k! - [(k + 1/2) log k - k + log sqrt(2 pi)], k >= 1
// an integer (Loader 2000). Exact sum below 16, series beyond (absolute error < 2e-14).
SBI_HD double stirling_error(double k) {
  if (k < 16.0) {
    double log_fact = 0.0;
    for (int i = 2; i <= static_cast<int>(k); ++i) log_fact += log(static_cast<double>(i));
    return log_fact - ((k + 0.5) * log(k) - k + kLogSqrtTwoPi);
  }
  const double k2 = k * k;
  return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * k2)) / k2) / k2) / k;
}

// log(k!) for an integer k >= 0.
SBI_HD double log_factorial(double k) {
  if (k < 2.0) return 0.0;
  return (k + 0.5) * log(k) - k + kLogSqrtTwoPi + stirling_error(k);
}

// Deviance term x log(x / m) + m - x >= 0 (Loader 2000). Near x = m both parts are huge and
// nearly cancel, so there it sums the series 2x sum_j v^(2j+1) / (2j+1) - v (x + m),
// v = (x - m) / (x + m), from log(x / m) = 2 atanh(v).
SBI_HD double deviance_term(double x, double m) {
  if (fabs(x - m) < 0.1 * (x + m)) {
    const double v = (x - m) / (x + m), v2 = v * v;
    double sum = (x - m) * v, term = 2.0 * x * v;
    for (int j = 1; j < 64; ++j) {
      term *= v2;
      const double next = sum + term / (2 * j + 1);
      if (next == sum) break;
      sum = next;
    }
    return sum;
  }
  return x * log(x / m) + m - x;
}

// log P(K = k) for K ~ Poisson(lam), lam > 0, k >= 0 an integer. Accurate to ~1e-15 absolute
// for any lam, unlike -lam + k log(lam) - log(k!), whose terms reach 1e16 at lam = 1e15.
SBI_HD double poisson_log_pmf(double k, double lam) {
  if (k == 0.0) return -lam;
  return -stirling_error(k) - deviance_term(k, lam) - 0.5 * log(kTwoPi * k);
}

// log P(K = k) for K ~ Binomial(n, p), q = 1 - p, 0 < p < 1, k in [0, n] an integer;
// the saddle-point form (Loader 2000), accurate for n up to 2^53.
SBI_HD double binomial_log_pmf(double k, double n, double p, double q) {
  if (k == 0.0) return n * log1p(-p);
  if (k == n) return n * log(p);
  return stirling_error(n) - stirling_error(k) - stirling_error(n - k) - deviance_term(k, n * p) -
         deviance_term(n - k, n * q) + 0.5 * log(n / (kTwoPi * k * (n - k)));
}

SBI_HD double sample_poisson(PhiloxStream& r, double lam) {
  if (!(lam > 0.0)) return 0.0;
  if (lam < 10.0) {
    // Sequential inversion from k = 0 (expected lam + 1 steps). Round-off can leave u above
    // the computed total mass; the pmf then underflows to 0 before u is used up: redraw u.
    const double p0 = exp(-lam);
    for (;;) {
      double u = r.uniform(), p = p0, k = 0.0;
      while (u > p && p > 0.0) {
        u -= p;
        k += 1.0;
        p *= lam / k;
      }
      if (u <= p) return k;
    }
  }
  const double slam = sqrt(lam);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double log_inv_alpha = log(1.1239 + 1.1328 / (b - 3.4));
  const double vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = r.uniform() - 0.5;
    const double v = r.uniform();
    const double us = 0.5 - fabs(u);
    const double k = floor((2.0 * a / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v) + log_inv_alpha - log(a / (us * us) + b) <= poisson_log_pmf(k, lam)) return k;
  }
}

// Binomial(n, p), n a non-negative integer held in a double (exact up to 2^53).
SBI_HD double sample_binomial(PhiloxStream& r, double n, double p) {
  if (n <= 0.0 || p <= 0.0) return 0.0;
  if (p >= 1.0) return n;
  const bool flip = p > 0.5;
  const double pp = flip ? 1.0 - p : p;
  const double q = 1.0 - pp;
  double k;
  if (n * pp < 10.0) {
    // Inversion from k = 0 (Kachitvichyanukul & Schmeiser's BINV). If round-off leaves u above
    // the computed total mass, k reaches n or the pmf underflows to 0: redraw u.
    const double s = pp / q, a = (n + 1.0) * s;
    const double r0 = exp(n * log1p(-pp));
    for (;;) {
      double u = r.uniform(), prob = r0;
      k = 0.0;
      while (u > prob && prob > 0.0 && k < n) {
        u -= prob;
        k += 1.0;
        prob *= a / k - s;
      }
      if (u <= prob) break;
    }
  } else {
    const double spq = sqrt(n * pp * q);
    const double b = 1.15 + 2.53 * spq;
    const double a = -0.0873 + 0.0248 * b + 0.01 * pp;
    const double c = n * pp + 0.5;
    const double alpha = (2.83 + 5.1 / b) * spq;
    const double vr = 0.92 - 4.2 / b;
    const double m = floor((n + 1.0) * pp);
    // Hormann's test v <= log f(k) - log f(m) with log(k!) differences of size n log n loses
    // every digit near n = 2^53; the saddle-point log pmf keeps them.
    const double log_fm = binomial_log_pmf(m, n, pp, q);
    for (;;) {
      const double u = r.uniform() - 0.5;
      double v = r.uniform();
      const double us = 0.5 - fabs(u);
      k = floor((2.0 * a / us + b) * u + c);
      if (k < 0.0 || k > n) continue;
      if (us >= 0.07 && v <= vr) break;
      v = log(v * alpha / (a / (us * us) + b));
      if (v <= binomial_log_pmf(k, n, pp, q) - log_fm) break;
    }
  }
  return flip ? n - k : k;
}

// Index in [0, K) with probability w[i] / sum(w). Weights need not be normalised.
SBI_HD int sample_categorical(PhiloxStream& r, const double* w, int K) {
  double total = 0.0;
  for (int i = 0; i < K; ++i) total += w[i];
  double u = r.uniform() * total;
  int last = 0;  // last index of positive weight: where round-off in the sum may leave u
  for (int i = 0; i < K; ++i) {
    if (!(w[i] > 0.0)) continue;
    if (u < w[i]) return i;
    u -= w[i];
    last = i;
  }
  return last;
}

// x = mean + L z, L lower-triangular [d, d] row-major, z ~ N(0, I). out has d entries.
// z_scratch may be `out` itself: rows are formed from the last up, and row i reads only z[0..i].
SBI_HD void sample_mvn_cholesky(PhiloxStream& r, const double* mean, const double* L, int d, double* z_scratch,
                                double* out) {
  for (int i = 0; i < d; ++i) z_scratch[i] = sample_std_normal(r);
  for (int i = d - 1; i >= 0; --i) {
    double acc = mean[i];
    for (int j = 0; j <= i; ++j) acc += L[i * d + j] * z_scratch[j];
    out[i] = acc;
  }
}

}  // namespace sbi
