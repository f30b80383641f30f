// Registration of the sbibm benchmark simulators (kernels in kernels/simulators/).
#include "../../kernels/simulators/two_moons.h"
#include "registry.h"

SBI_REGISTER_SIMULATOR(two_moons, "two_moons", 2, 2, 0, false, 1.0, sbi::simulate_two_moons)
