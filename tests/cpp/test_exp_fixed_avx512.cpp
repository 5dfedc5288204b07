// The checks of exp_fixed_checks.hpp built for AVX-512 (x86-64-v4), where mul_add is a fused
// multiply-add.
#include "exp_fixed_checks.hpp"
