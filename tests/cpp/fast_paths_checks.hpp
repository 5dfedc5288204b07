// The small-row fast paths of the activations: the exp behind sigmoid and silu (accuracy
// against long double, overflow and underflow, position independence), tanh and the losses' log1p,
// activate_with_derivative against activate + derivative, and the shuffle's draws against the plain
// rejection rule.
//
// Included by test_fast_paths.cpp (the portable core) and by test_fast_paths_avx2.cpp and
// test_fast_paths_avx512.cpp, which are built with activation.cpp compiled in for that instruction
// set on x86-64: exp_fixed's multiply-adds are fused there (bpcore/exp_fixed.hpp), so its accuracy
// and its bits in a scalar and a vector lane are checked in each build. A variant the CPU running
// it lacks says so and checks nothing.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "bpcore/activation.hpp"
#include "bpcore/exp_fixed.hpp"
#include "bpcore/init.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::Index;

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

TEST_CASE("sigmoid is within 3 ulp of the long double value on [-40, 40]") {
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
  std::vector<double> Z;
  for (double z = -40.0; z <= 40.0; z += 0.000977) Z.push_back(z);
  std::vector<double> H(Z.size());
  bpcore::activate(Activation::sigmoid, Z.data(), H.data(), 1, Index(Z.size()), 0.0);
  double worst = 0;
  for (std::size_t i = 0; i < Z.size(); ++i) {
    const long double want = 1.0L / (1.0L + std::exp(-(long double)Z[i]));
    worst = std::max(worst, ulps(H[i], want));
  }
  // e^-z within 1 ulp, then the addition and the division round once each
  CHECK(worst <= 3.0);
}

TEST_CASE("exp's overflow and underflow through sigmoid and silu") {
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
  const std::vector<double> Z{
      -800.0, -709.0, -708.5, 700.0, 745.0, 760.0, std::numeric_limits<double>::quiet_NaN()};
  std::vector<double> H(Z.size()), S(Z.size());
  bpcore::activate(Activation::sigmoid, Z.data(), H.data(), 1, Index(Z.size()), 0.0);
  bpcore::activate(Activation::silu, Z.data(), S.data(), 1, Index(Z.size()), 0.0);
  CHECK(H[0] == 0.0);
  // e^-z for z = 700 is about 1e-304, for 745 a subnormal, for 760 zero: 1 / (1 + tiny) = 1
  CHECK(H[3] == 1.0);
  CHECK(H[4] == 1.0);
  CHECK(H[5] == 1.0);
  CHECK(std::isnan(H[6]));
  // sigmoid(-709) = e^-709 (1 - tiny): normal; silu(-745) reaches e^745 = inf, so -745 / inf
  CHECK(ulps(H[1], std::exp(-709.0L) / (1.0L + std::exp(-709.0L))) <= 2.0);
  CHECK(ulps(H[2], std::exp(-708.5L) / (1.0L + std::exp(-708.5L))) <= 2.0);
  CHECK(S[0] == -0.0);
  CHECK(S[4] == 745.0);
}

TEST_CASE_TEMPLATE("the exp-based activations give an element the same bits alone or in a row", T,
                   float, double) {
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
  const auto Z = bpcore_test::uniform<T>(1000, 5, -12.0, 12.0);
  for (Activation f : {Activation::sigmoid, Activation::silu, Activation::tanh}) {
    std::vector<T> whole(Z.size());
    bpcore::activate(f, Z.data(), whole.data(), 1, Index(Z.size()), T(0));
    bool same = true;
    for (std::size_t i = 0; i < Z.size(); i += 37) {
      T one = 0;
      bpcore::activate(f, Z.data() + i, &one, 1, 1, T(0));
      if (!(one == whole[i])) same = false;
    }
    if (f != Activation::tanh || std::is_same_v<T, double>) CHECK(same);
  }
}

TEST_CASE_TEMPLATE("activate_with_derivative equals activate and derivative bit for bit", T, float,
                   double) {
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
  const auto Z = bpcore_test::uniform<T>(61, 3, -5.0, 5.0);
  for (Activation f : bpcore_test::hidden_activations()) {
    const T alpha = T(0.3);
    std::vector<T> H(Z.size()), D(Z.size()), H2(Z.size()), D2(Z.size());
    bpcore::activate(f, Z.data(), H.data(), 1, Index(Z.size()), alpha);
    bpcore::derivative(f, Z.data(), H.data(), D.data(), Index(Z.size()), alpha);
    bpcore::activate_with_derivative(f, Z.data(), H2.data(), D2.data(), Index(Z.size()), alpha);
    CHECK(bpcore_test::same_bits(H, H2));
    CHECK(bpcore_test::same_bits(D, D2));
  }
  std::vector<T> H(3), D(3);
  CHECK_THROWS_AS(
      bpcore::activate_with_derivative(Activation::softmax, Z.data(), H.data(), D.data(), 3, T(0)),
      bpcore::ArgumentError);
}

TEST_CASE("Rng::below draws what the rejection rule with 2^64 mod n draws") {
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
  for (std::uint64_t n :
       {std::uint64_t(1), std::uint64_t(2), std::uint64_t(3), std::uint64_t(150),
        std::uint64_t(60000), (std::uint64_t(1) << 63) + 5, ~std::uint64_t(0) - 2}) {
    bpcore::Rng rng(42);
    std::mt19937_64 engine(42);
    bool same = true;
    for (int i = 0; i < 2000; ++i) {
      const std::uint64_t skip = (0 - n) % n;
      std::uint64_t r = engine();
      while (r < skip) r = engine();
      if (rng.below(n) != r % n) same = false;
    }
    CHECK(same);
  }
}

TEST_CASE("tanh_fixed is within 3 ulp of the long double value, with tanh's edges") {
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
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
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
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
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
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
  if (!bpcore_test::cpu_runs_this_build()) {
    MESSAGE("this CPU lacks the instruction set of this build: nothing checked");
    return;
  }
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
