// The checks of exp_fixed_checks.hpp built for AVX2 + FMA (x86-64-v3), where mul_add is a fused
// multiply-add.
#include "exp_fixed_checks.hpp"
