// The checks of fast_paths_checks.hpp on the portable core's activations (the SSE2 baseline on
// x86-64, where exp_fixed's multiply-adds are a product and a sum).
#include "fast_paths_checks.hpp"
