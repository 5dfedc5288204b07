// The checks of small_gemm_checks.hpp on the small products built for AVX-512 (x86-64-v4).
#include "small_gemm_checks.hpp"
