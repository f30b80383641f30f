// Registration of the sbibm benchmark simulators (kernels in kernels/simulators/).
// gaussian_linear serves both gaussian_linear tasks (they differ only in the prior).
#include "../../kernels/simulators/bernoulli_glm.h"
#include "../../kernels/simulators/gaussian_linear.h"
#include "../../kernels/simulators/gaussian_mixture.h"
#include "../../kernels/simulators/slcp.h"
#include "../../kernels/simulators/slcp_distractors.h"
#include "../../kernels/simulators/two_moons.h"
#include "registry.h"

SBI_REGISTER_SIMULATOR(two_moons, "two_moons", 2, 2, 0, false, 1.0, sbi::simulate_two_moons)
SBI_REGISTER_SIMULATOR(gaussian_linear, "gaussian_linear", 10, 10, 0, false, 2.0, sbi::simulate_gaussian_linear)
SBI_REGISTER_SIMULATOR(gaussian_mixture, "gaussian_mixture", 2, 2, 0, false, 1.0, sbi::simulate_gaussian_mixture)
SBI_REGISTER_SIMULATOR(slcp, "slcp", 5, 8, 0, false, 2.0, sbi::simulate_slcp)
SBI_REGISTER_SIMULATOR(slcp_distractors, "slcp_distractors", 5, 100, 0, false, 40.0, sbi::simulate_slcp_distractors)
SBI_REGISTER_SIMULATOR(bernoulli_glm, "bernoulli_glm", 10, 10, 0, false, 20.0, sbi::simulate_bernoulli_glm)
SBI_REGISTER_SIMULATOR(bernoulli_glm_raw, "bernoulli_glm_raw", 10, 100, 0, false, 20.0, sbi::simulate_bernoulli_glm_raw)
