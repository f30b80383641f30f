// Registration of the physics toy simulators with gold (joint likelihoods): the generalized
// Galton board and e+e- -> mu+mu- (design variable sqrt(s)). Kernels in kernels/simulators/.
#include "../../kernels/simulators/galton_board.h"
#include "../../kernels/simulators/weinberg.h"
#include "registry.h"

SBI_REGISTER_SIMULATOR(galton_board, "galton_board", 1, 1, 0, true, 4.0, sbi::simulate_galton_board)
SBI_REGISTER_SIMULATOR(weinberg, "weinberg", 1, 1, 1, true, 1.0, sbi::simulate_weinberg)
