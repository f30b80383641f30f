// Samplers on top of a PhiloxStream. Each consumes a data-dependent number of draws from
// the stream it is given, so a sample's variates depend only on (seed, stream).
//   normal         Box-Muller (both variates used: the second is kept as a spare), on the
//                  reproducible log and sin/cos of repro_math.h so that normals are the same bits
//                  on every backend and in the TypeScript PhiloxStream
//   gamma          Marsaglia & Tsang, ACM TOMS 26 (2000); shape < 1 by the u^(1/a) boost
//   binomial       inversion for n*min(p,q) < 10, else BTRS (Hormann, J. Stat. Comput.
//                  Simul. 46, 1993): exact for any n
//   poisson        inversion for lambda < 10, else PTRS (Hormann, Insurance: Math. Econ. 12, 1993)
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

// Gamma(shape, scale = 1). shape > 0.
SBI_HD double sample_std_gamma(PhiloxStream& r, double shape) {
  double boost = 1.0;
  if (shape < 1.0) {
    // Gamma(a) = Gamma(a + 1) * U^(1/a)
    boost = pow(r.uniform(), 1.0 / shape);
    shape += 1.0;
  }
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
    if (u < 1.0 - 0.0331 * z2 * z2) return boost * d * v;
    if (log(u) < 0.5 * z2 + d * (1.0 - v + log(v))) return boost * d * v;
  }
}

SBI_HD double sample_gamma(PhiloxStream& r, double shape, double rate) { return sample_std_gamma(r, shape) / rate; }

SBI_HD double sample_beta(PhiloxStream& r, double a, double b) {
  const double x = sample_std_gamma(r, a);
  const double y = sample_std_gamma(r, b);
  return x / (x + y);
}

SBI_HD double sample_student_t(PhiloxStream& r, double df) {
  const double z = sample_std_normal(r);
  const double chi2 = 2.0 * sample_std_gamma(r, 0.5 * df);
  return z / sqrt(chi2 / df);
}

// log(k!) : exact table below 16, Stirling series beyond (relative error < 1e-15).
SBI_HD double log_factorial(double k) {
  if (k < 16.0) {
    double acc = 0.0;
    for (int i = 2; i <= static_cast<int>(k); ++i) acc += log(static_cast<double>(i));
    return acc;
  }
  const double k2 = k * k;
  return (k + 0.5) * log(k) - k + kLogSqrtTwoPi +
         (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * k2)) / k2) / k2) / k;
}

SBI_HD double sample_poisson(PhiloxStream& r, double lam) {
  if (!(lam > 0.0)) return 0.0;
  if (lam < 10.0) {
    // Sequential inversion: expected lam + 1 steps.
    double p = exp(-lam), cdf = p, k = 0.0;
    const double u = r.uniform();
    while (u > cdf && k < 1000.0) {
      k += 1.0;
      p *= lam / k;
      cdf += p;
    }
    return k;
  }
  const double slam = sqrt(lam), loglam = log(lam);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double vr = 0.9277 - 3.6224 / (b - 2.0);
  for (;;) {
    const double u = r.uniform() - 0.5;
    const double v = r.uniform();
    const double us = 0.5 - fabs(u);
    const double k = floor((2.0 * a / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0.0 || (us < 0.013 && v > us)) continue;
    if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -lam + k * loglam - log_factorial(k)) return k;
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
    // Inversion from k = 0 (Kachitvichyanukul & Schmeiser's BINV); restart on round-off overrun.
    const double s = pp / q, a = (n + 1.0) * s;
    const double r0 = exp(n * log1p(-pp));
    for (;;) {
      double u = r.uniform(), prob = r0;
      k = 0.0;
      while (u > prob) {
        u -= prob;
        k += 1.0;
        if (k > n) break;
        prob *= a / k - s;
      }
      if (k <= n) break;
    }
  } else {
    const double spq = sqrt(n * pp * q);
    const double b = 1.15 + 2.53 * spq;
    const double a = -0.0873 + 0.0248 * b + 0.01 * pp;
    const double c = n * pp + 0.5;
    const double alpha = (2.83 + 5.1 / b) * spq;
    const double vr = 0.92 - 4.2 / b;
    const double lpq = log(pp / q);
    const double m = floor((n + 1.0) * pp);
    const double h = log_factorial(m) + log_factorial(n - m);
    for (;;) {
      const double u = r.uniform() - 0.5;
      double v = r.uniform();
      const double us = 0.5 - fabs(u);
      k = floor((2.0 * a / us + b) * u + c);
      if (k < 0.0 || k > n) continue;
      if (us >= 0.07 && v <= vr) break;
      v = log(v * alpha / (a / (us * us) + b));
      if (v <= h - log_factorial(k) - log_factorial(n - k) + (k - m) * lpq) break;
    }
  }
  return flip ? n - k : k;
}

// Index in [0, K) with probability w[i] / sum(w). Weights need not be normalised.
SBI_HD int sample_categorical(PhiloxStream& r, const double* w, int K) {
  double total = 0.0;
  for (int i = 0; i < K; ++i) total += w[i];
  double u = r.uniform() * total;
  for (int i = 0; i < K - 1; ++i) {
    if (u < w[i]) return i;
    u -= w[i];
  }
  return K - 1;
}

// x = mean + L z, L lower-triangular [d, d] row-major, z ~ N(0, I). out has d entries.
SBI_HD void sample_mvn_cholesky(PhiloxStream& r, const double* mean, const double* L, int d, double* z_scratch,
                                double* out) {
  for (int i = 0; i < d; ++i) z_scratch[i] = sample_std_normal(r);
  for (int i = 0; i < d; ++i) {
    double acc = mean[i];
    for (int j = 0; j <= i; ++j) acc += L[i * d + j] * z_scratch[j];
    out[i] = acc;
  }
}

}  // namespace sbi
