// The small-row fast paths of the activations: the exp behind sigmoid and silu (accuracy
// against long double, overflow and underflow, position independence), activate_with_derivative
// against activate + derivative, and the shuffle's draws against the plain rejection rule; and
// the checks of exp_fixed_checks.hpp on the portable build.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "bpcore/activation.hpp"
#include "doctest.h"
#include "exp_fixed_checks.hpp"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::Index;

TEST_CASE("sigmoid is within 3 ulp of the long double value on [-40, 40]") {
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
