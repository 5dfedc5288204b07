// The checks of fast_paths_checks.hpp on the activations built for AVX-512 (x86-64-v4).
#include "fast_paths_checks.hpp"
