// The checks of softmax_checks.hpp on the rows of softmax built for AVX-512 (x86-64-v4).
#include "softmax_checks.hpp"
