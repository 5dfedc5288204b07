// The checks of small_gemm_checks.hpp on the small products built for AVX2 + FMA (x86-64-v3).
#include "small_gemm_checks.hpp"
