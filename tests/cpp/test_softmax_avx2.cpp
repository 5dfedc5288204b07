// The checks of softmax_checks.hpp on the rows of softmax built for AVX2 + FMA (x86-64-v3).
#include "softmax_checks.hpp"
