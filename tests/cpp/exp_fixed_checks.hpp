// The element-wise functions of bpcore/exp_fixed.hpp against long double: exp_fixed, tanh_fixed,
// log_fixed and log1p_unit (accuracy, edges), and each one's bits in a vectorised loop against a
// call on one element.
//
// Included by test_fast_paths.cpp (the portable build, where mul_add is a product and a sum) and
// by test_exp_fixed_avx2.cpp and test_exp_fixed_avx512.cpp, built for those instruction sets on
// x86-64, where mul_add is a fused multiply-add; a variant the CPU running it lacks says so and
// checks nothing. Header-only: the functions are inline.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "bpcore/exp_fixed.hpp"
#include "bpcore/init.hpp"
#include "doctest.h"
#include "test_support.hpp"

// The selects of exp_fixed vectorise only where comparisons are taken not to trap
// (bpcore/exp_fixed.hpp), and GCC inlines its functions only into code compiled alike: so is
// everything below, as the core's loops over them are (no value changes).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

namespace {

// Distance in units in the last place between a double and a long double reference.
double ulps(double got, long double want) {
  const double w = double(want);
  const double ulp =
      std::nextafter(std::fabs(w), std::numeric_limits<double>::infinity()) - std::fabs(w);
  return double(std::fabs((long double)got - want) / (long double)ulp);
}

// The largest distance in ulp of f(x) from the long double reference g(x) over the points it is
// called with (references below the smallest normal number are not counted).
template <class F, class G>
struct WorstUlps {
  F f;
  G g;
  double worst = 0;
  void operator()(double x) {
    const long double want = g((long double)x);
    if (std::fabs(want) >= 0x1p-1022L) worst = std::max(worst, ulps(f(x), want));
  }
};
template <class F, class G>
WorstUlps<F, G> worst_ulps(F f, G g) {
  return {f, g, 0.0};
}

}  // namespace

TEST_CASE("tanh_fixed is within 3 ulp of the long double value, with tanh's edges") {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  bpcore::Rng rng(11);
  auto check = worst_ulps([](double x) { return bpcore::scalar::tanh_fixed(x); },
                          [](long double x) { return std::tanh(x); });
  for (double x = -25.0; x <= 25.0; x += 0.00137) check(x);
  for (int i = 0; i < 200000; ++i) check(rng.uniform(-1.0, 1.0));
  for (int i = 0; i < 2000; ++i) check(std::ldexp(rng.uniform(0.5, 1.0), -int(rng.below(1000))));
  // where the reduction's multiple k of ln 2 steps from 0 to 1 (2|z| = ln2 / 2), tiny and large z
  const double step = 0.25 * 0.6931471805599453;
  for (double x : {step, std::nextafter(step, 0.0), -step, std::nextafter(-step, 0.0), 0.625,
                   1e-300, -1e-300, 0x1p-60, 19.0, 19.99, 20.0, 354.9, 355.0})
    check(x);
  CHECK(check.worst <= 3.0);
  CHECK(std::signbit(bpcore::scalar::tanh_fixed(-0.0)));
  CHECK(bpcore::scalar::tanh_fixed(0.0) == 0.0);
  CHECK(bpcore::scalar::tanh_fixed(std::numeric_limits<double>::infinity()) == 1.0);
  CHECK(bpcore::scalar::tanh_fixed(-std::numeric_limits<double>::infinity()) == -1.0);
  CHECK(bpcore::scalar::tanh_fixed(800.0) == 1.0);
  CHECK(std::isnan(bpcore::scalar::tanh_fixed(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("log1p_unit is within 3 ulp of the long double value on [-0.3, 1]") {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  bpcore::Rng rng(5);
  auto check = worst_ulps([](double u) { return bpcore::scalar::log1p_unit(u); },
                          [](long double u) { return std::log1p(u); });
  for (double u = -0.3; u <= 1.0; u += 0.0000977) check(u);
  for (int i = 0; i < 200000; ++i) check(rng.uniform(0.0, 1.0));
  // small u, as e^-|z| of a saturated sigmoid gives it
  for (int i = 0; i < 20000; ++i) check(std::ldexp(rng.uniform(0.5, 1.0), -int(rng.below(1000))));
  for (double u : {1.0, std::nextafter(1.0, 0.0), 0x1p-1022, 1e-300, 0x1p-30, 0.5}) check(u);
  CHECK(check.worst <= 3.0);
  CHECK(bpcore::scalar::log1p_unit(0.0) == 0.0);
}

TEST_CASE("log_fixed is within 3 ulp of the long double value over the normal numbers") {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  bpcore::Rng rng(9);
  auto check = worst_ulps([](double x) { return bpcore::scalar::log_fixed(x); },
                          [](long double x) { return std::log(x); });
  // the cross-entropy's range, the largest softmax output of a row: [1/q, 1]
  for (double x = 0.001; x <= 1.0; x += 0.0000977) check(x);
  for (int i = 0; i < 200000; ++i) check(rng.uniform(0.5, 2.0));
  for (int i = 0; i < 200000; ++i)
    check(std::ldexp(rng.uniform(0.5, 1.0), int(rng.below(2044)) - 1021));
  // either side of sqrt(1/2), where the split of x into 2^k m moves k by one
  const double sqrt_half = 0.70710678118654752440;
  double below = sqrt_half, above = sqrt_half;
  for (int i = 0; i < 200; ++i) {
    check(below);
    check(above);
    below = std::nextafter(below, 0.0);
    above = std::nextafter(above, 1.0);
  }
  for (double x : {std::nextafter(1.0, 0.0), std::nextafter(1.0, 2.0), 0.1, 0.5, 2.0,
                   std::numeric_limits<double>::min(), std::numeric_limits<double>::max()})
    check(x);
  CHECK(check.worst <= 3.0);
  CHECK(bpcore::scalar::log_fixed(1.0) == 0.0);
  CHECK(std::isnan(bpcore::scalar::log_fixed(std::numeric_limits<double>::quiet_NaN())));
}

TEST_CASE("exp_fixed is within 1 ulp of the long double value, through the whole range") {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  bpcore::Rng rng(7);
  auto check = worst_ulps([](double x) { return bpcore::scalar::exp_fixed(x); },
                          [](long double x) { return std::exp(x); });
  for (double x = -708.0; x <= 709.7; x += 0.0137) check(x);
  for (int i = 0; i < 200000; ++i) check(rng.uniform(-1.0, 1.0));
  for (int i = 0; i < 200000; ++i) check(rng.uniform(-40.0, 40.0));
  for (double x : {0.0, -0.0, 1e-300, -1e-300, 0x1p-60, 704.5, 709.78, -704.5, -707.9}) check(x);
  CHECK(check.worst < 1.0);
  // the edges: overflow to inf, the subnormal range to 1 ulp of the smallest normal, 0 below it
  CHECK(std::isinf(bpcore::scalar::exp_fixed(709.79)));
  CHECK(std::isfinite(bpcore::scalar::exp_fixed(709.78)));
  for (double x = -745.0; x < -708.4; x += 0.37) {
    CAPTURE(x);
    const double got = bpcore::scalar::exp_fixed(x);
    const long double want = std::exp((long double)x);
    CHECK(std::fabs((long double)got - want) <= 0x1p-1074L);
  }
  CHECK(bpcore::scalar::exp_fixed(-745.2) == 0.0);
  CHECK(bpcore::scalar::exp_fixed(-1e308) == 0.0);
  CHECK(std::isinf(bpcore::scalar::exp_fixed(1e308)));
  CHECK(bpcore::scalar::exp_fixed(0.0) == 1.0);
  CHECK(std::isnan(bpcore::scalar::exp_fixed(std::numeric_limits<double>::quiet_NaN())));
}

// y = f(x) element by element, in a loop the compiler vectorises
template <class F>
void over_array(const std::vector<double>& x, std::vector<double>& y, F f) {
  const std::size_t n = x.size();
  const double* in = x.data();
  double* out = y.data();
  for (std::size_t i = 0; i < n; ++i) out[i] = f(in[i]);
}

TEST_CASE("exp_fixed, tanh_fixed, log_fixed and log1p_unit: a vector lane has the bits of a call") {
  BPCORE_TEST_RETURN_UNLESS_CPU_RUNS_THIS_BUILD();
  bpcore::Rng rng(3);
  std::vector<double> wide, unit, positive;
  for (int i = 0; i < 4099; ++i) {
    wide.push_back(rng.uniform(-30.0, 30.0));
    unit.push_back(rng.uniform(-0.3, 1.0));
    positive.push_back(std::ldexp(rng.uniform(0.5, 1.0), int(rng.below(80)) - 70));
  }
  // called through a pointer the compiler cannot see through: the scalar code, one element a call
  double (*volatile exp_one)(double) = &bpcore::scalar::exp_fixed;
  double (*volatile tanh_one)(double) = &bpcore::scalar::tanh_fixed;
  double (*volatile log_one)(double) = &bpcore::scalar::log_fixed;
  double (*volatile log1p_one)(double) = &bpcore::scalar::log1p_unit;
  const auto check = [](const std::vector<double>& x, double (*one)(double), auto vectorised) {
    std::vector<double> y(x.size());
    over_array(x, y, vectorised);
    std::size_t differ = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double want = one(x[i]);
      if (std::memcmp(&want, &y[i], sizeof want) != 0) ++differ;
    }
    return differ;
  };
  CHECK(check(wide, exp_one, [](double v) { return bpcore::scalar::exp_fixed(v); }) == 0);
  CHECK(check(wide, tanh_one, [](double v) { return bpcore::scalar::tanh_fixed(v); }) == 0);
  CHECK(check(positive, log_one, [](double v) { return bpcore::scalar::log_fixed(v); }) == 0);
  CHECK(check(unit, log1p_one, [](double v) { return bpcore::scalar::log1p_unit(v); }) == 0);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
