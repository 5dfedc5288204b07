// The checks of small_gemm_checks.hpp on the portable core's small products (the SSE2 baseline on
// x86-64).
#include "small_gemm_checks.hpp"
