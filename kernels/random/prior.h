// Prior draws: a whole theta row from one PhiloxStream, walking a flat description of the
// prior's independent parts. Row i of a batch uses stream (streamOffset + i), so a row depends
// only on (seed, streamOffset + i), never on the batch it was drawn in.
#pragma once
#include "samplers.h"

namespace sbi {

enum PriorPartKind : int32_t {
  kPriorBoxUniform = 0,  // params: low[d], high[d]           theta_j ~ U(low_j, high_j)
  kPriorNormal = 1,      // params: loc[d], scale[d]          theta_j ~ N(loc_j, scale_j^2)
  kPriorLogNormal = 2,   // params: loc[d], scale[d]          log theta_j ~ N(loc_j, scale_j^2)
  kPriorMvn = 3,         // params: loc[d], L[d * d]          theta = loc + L z, L lower-triangular
};
constexpr int kPriorPartKinds = 4;

// Number of parameters a part of `kind` and dimension d reads.
SBI_HD int64_t prior_part_param_count(int32_t kind, int64_t d) {
  return kind == kPriorMvn ? d + d * d : 2 * d;
}

// Part j is parts[3j .. 3j + 2] = (kind, dim, offset of its parameters in params). The parts'
// draws are concatenated in order to form theta (length: the sum of dims).
struct PriorProgram {
  const int32_t* parts;
  int n_parts;
  const double* params;
};

SBI_HD void sample_prior_row(const PriorProgram& prog, PhiloxStream& r, double* theta) {
  for (int j = 0; j < prog.n_parts; ++j) {
    const int32_t kind = prog.parts[3 * j];
    const int d = prog.parts[3 * j + 1];
    const double* p = prog.params + prog.parts[3 * j + 2];
    switch (kind) {
      case kPriorBoxUniform:
        for (int i = 0; i < d; ++i) theta[i] = sample_uniform(r, p[i], p[d + i]);
        break;
      case kPriorNormal:
        for (int i = 0; i < d; ++i) theta[i] = sample_normal(r, p[i], p[d + i]);
        break;
      case kPriorLogNormal:
        for (int i = 0; i < d; ++i) theta[i] = sample_lognormal(r, p[i], p[d + i]);
        break;
      case kPriorMvn:
        sample_mvn_cholesky(r, p, p + d, d, theta, theta);
        break;
    }
    theta += d;
  }
}

}  // namespace sbi
