// Binary MLP classifier trained like scikit-learn's MLPClassifier with its defaults (the
// classifier sbibm's C2ST uses), and k-fold cross-validated accuracy. Plain C++ on the kernels
// of kernels/nn/ (relu_sparse.h for training, mlp.h for scoring, loss.h, adam.h); no N-API
// here (native/classifier.cc is the boundary).
// Training runs in float. Randomness: Philox keyed by `seed`; the fold assignment uses stream 0,
// fold f's initialisation and epoch shuffles stream f + 1, so results do not depend on threads.
#pragma once
#include <cstdint>
#include <vector>

namespace sbi_native {

struct ClassifierConfig {
  int hidden_layers = 2;
  int64_t hidden_width = 10;    // sbibm: 10 · dim
  int64_t batch_size = 200;     // min(batch_size, training rows)
  int64_t max_epochs = 10000;   // sbibm passes max_iter=10000
  int64_t patience = 10;        // sklearn n_iter_no_change: stop after patience + 1 epochs without
  double tol = 1e-4;            //   the epoch loss falling below best - tol
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double alpha = 1e-4;          // L2 penalty on the weights (not the biases), as sklearn
};

struct ClassifierFit {
  std::vector<float> params;    // kernels/nn/mlp.h layout at the padded widths (mlp_classifier.cc)
  int64_t epochs = 0;
  double first_loss = 0.0;      // epoch-mean training loss (incl. the L2 term) of epoch 1
  double last_loss = 0.0;       // ... of the last epoch
  bool cancelled = false;
};

// x [n, dim] float, labels [n] in {0, 1}. Polls `cancel` (may be null) once per epoch.
ClassifierFit TrainBinaryClassifier(const ClassifierConfig& c, int64_t n, int64_t dim, const float* x,
                                    const uint8_t* labels, uint64_t seed, uint64_t stream, const int32_t* cancel);

// Fraction of rows whose predicted class (logit > 0, i.e. probability > 1/2) equals the label.
double ClassifierAccuracy(const ClassifierConfig& c, const ClassifierFit& fit, int64_t n, int64_t dim, const float* x,
                          const uint8_t* labels);

// Shuffled k-fold split of [0, n) (sklearn KFold(shuffle=True) sizes: the first n % k folds get
// one extra row): fold_of[i] in [0, k).
void AssignFolds(int64_t n, int folds, uint64_t seed, int32_t* fold_of);

struct FoldResult {
  double accuracy = 0.0;
  int64_t epochs = 0;
  double first_loss = 0.0, last_loss = 0.0;
  bool cancelled = false;
};

// Trains on every fold but `fold` and scores on `fold`. x [n, dim] double.
FoldResult RunFold(const ClassifierConfig& c, int64_t n, int64_t dim, const double* x, const uint8_t* labels,
                   const int32_t* fold_of, int fold, uint64_t seed, const int32_t* cancel);

}  // namespace sbi_native
