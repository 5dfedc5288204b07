// The checks of fast_paths_checks.hpp on the activations built for AVX2 + FMA (x86-64-v3).
#include "fast_paths_checks.hpp"
