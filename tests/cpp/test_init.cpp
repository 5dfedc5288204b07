// Seeded random numbers (Rng, derive_seed), epoch permutations and weight initialisation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "bpcore/init.hpp"
#include "bpcore/network.hpp"
#include "doctest.h"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore::Rng;

TEST_CASE("Rng is std::mt19937_64 with 53-bit uniforms") {
  // The C++ standard fixes the 10000th output of a default-seeded (5489) mt19937_64.
  Rng rng(5489);
  double u = 0;
  for (int i = 0; i < 10000; ++i) u = rng.uniform();
  CHECK(u == double(9981545732273789042ULL >> 11) * 0x1.0p-53);

  Rng a(42), b(42), c(43);
  bool all_same = true, any_differs = false;
  for (int i = 0; i < 100; ++i) {
    const double x = a.uniform(), y = b.uniform(), z = c.uniform();
    all_same = all_same && x == y;
    any_differs = any_differs || x != z;
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
  }
  CHECK(all_same);
  CHECK(any_differs);

  Rng r(7);
  double lo = 1, hi = -1, mean = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = r.uniform(-2.0, 3.0);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    mean += x / n;
  }
  CHECK(lo >= -2.0);
  CHECK(hi < 3.0);
  CHECK(lo < -1.99);
  CHECK(hi > 2.99);
  CHECK(mean == doctest::Approx(0.5).epsilon(0.05));
}

TEST_CASE("Rng::below is uniform on [0, n)") {
  Rng rng(3);
  for (int i = 0; i < 100; ++i) CHECK(rng.below(1) == 0u);
  const std::uint64_t n = 7;
  const int draws = 70000;
  std::vector<int> counts(n, 0);
  for (int i = 0; i < draws; ++i) {
    const auto k = rng.below(n);
    REQUIRE(k < n);
    ++counts[k];
  }
  // chi-square with 6 degrees of freedom: 22.46 is its 0.999 quantile
  double chi2 = 0;
  const double expected = double(draws) / double(n);
  for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
  CHECK(chi2 < 22.46);
  // a huge n whose rejection region is almost half of the range
  const std::uint64_t big = (std::uint64_t(1) << 63) + 1;
  for (int i = 0; i < 1000; ++i) CHECK(rng.below(big) < big);
}

TEST_CASE("derive_seed is splitmix64 of seed + golden * (stream + 1)") {
  // The first outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
  CHECK(bpcore::derive_seed(0, 0) == 0xE220A8397B1DCDAFULL);
  CHECK(bpcore::derive_seed(0, 1) == 0x6E789E6AA1B965F4ULL);
  CHECK(bpcore::derive_seed(0, 2) == 0x06C45D188009454FULL);
  std::vector<std::uint64_t> seen;
  for (std::uint64_t seed : {0ULL, 1ULL, 12345ULL})
    for (std::uint64_t stream = 0; stream < 50; ++stream)
      seen.push_back(bpcore::derive_seed(seed, stream));
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

TEST_CASE("epoch_permutation is a seeded Fisher-Yates shuffle") {
  for (Index n : {0, 1, 2, 10, 257}) {
    CAPTURE(n);
    const auto order = bpcore::epoch_permutation(n, 9, 4);
    REQUIRE(Index(order.size()) == n);
    std::vector<Index> sorted(order);
    std::sort(sorted.begin(), sorted.end());
    std::vector<Index> identity(static_cast<std::size_t>(n));
    std::iota(identity.begin(), identity.end(), Index(0));
    CHECK(sorted == identity);
    CHECK(order == bpcore::epoch_permutation(n, 9, 4));
  }
  // an independent Fisher-Yates with the documented generator
  const Index n = 50;
  Rng rng(bpcore::derive_seed(123, 6));
  std::vector<Index> expected(static_cast<std::size_t>(n));
  std::iota(expected.begin(), expected.end(), Index(0));
  for (Index i = n - 1; i > 0; --i)
    std::swap(expected[std::size_t(i)], expected[std::size_t(rng.below(std::uint64_t(i + 1)))]);
  CHECK(bpcore::epoch_permutation(n, 123, 6) == expected);

  CHECK(bpcore::epoch_permutation(n, 123, 6) != bpcore::epoch_permutation(n, 123, 7));
  CHECK(bpcore::epoch_permutation(n, 123, 6) != bpcore::epoch_permutation(n, 124, 6));
}

TEST_CASE("epoch_permutation visits the 6 orders of 3 rows equally often") {
  std::map<std::vector<Index>, int> counts;
  const int epochs = 6000;
  for (int e = 0; e < epochs; ++e) ++counts[bpcore::epoch_permutation(3, 1, std::uint64_t(e))];
  CHECK(counts.size() == 6);
  // chi-square with 5 degrees of freedom: 20.52 is its 0.999 quantile
  double chi2 = 0;
  for (const auto& [order, c] : counts) chi2 += (c - 1000.0) * (c - 1000.0) / 1000.0;
  CHECK(chi2 < 20.52);
}

TEST_CASE("init name table round-trips and rejects unknown names") {
  for (const auto& info : bpcore::init_table) {
    CHECK(bpcore::init_from_name(info.name) == info.id);
    CHECK(bpcore::init_name(info.id) == info.name);
  }
  try {
    bpcore::init_from_name("orthogonal");
    FAIL("an unknown init name was accepted");
  } catch (const ArgumentError& e) {
    const std::string message = e.what();
    CHECK(message.find("'orthogonal'") != std::string::npos);
    for (const auto& info : bpcore::init_table)
      CHECK(message.find(std::string(info.name)) != std::string::npos);
  }
}

TEST_CASE_TEMPLATE("initialize draws W and b within each scheme's bound", T, float, double) {
  const std::vector<Index> sizes{6, 10, 4, 3};
  Network<T> net(sizes, {Activation::prelu, Activation::tanh, Activation::identity}, Loss::mse);
  for (const auto& info : bpcore::init_table) {
    CAPTURE(info.name);
    for (double scale : {0.1, 0.5}) {
      net.alpha(0) = T(-3);  // initialize resets the slope to 0.25
      net.initialize(info.id, 11, scale);
      CHECK(net.alpha(0) == T(0.25));
      for (Index k = 0; k < net.n_layers(); ++k) {
        const auto& s = net.layer(k);
        double w_bound = scale, b_bound = scale;
        if (info.id == Init::xavier) w_bound = std::sqrt(6.0 / double(s.n_in + s.n_out));
        if (info.id == Init::he) w_bound = std::sqrt(6.0 / double(s.n_in));
        if (info.id != Init::small_uniform) b_bound = 0;
        const auto W = net.W(k);
        const auto b = net.b(k);
        CHECK(double(W.cwiseAbs().maxCoeff()) <= w_bound);
        // with 12 or more draws the largest |w| is close to the bound, and none is zero
        CHECK(double(W.cwiseAbs().maxCoeff()) > 0.5 * w_bound);
        CHECK(double(W.cwiseAbs().minCoeff()) > 0);
        CHECK(double(W.mean()) == doctest::Approx(0).scale(w_bound).epsilon(0.5));
        if (b_bound == 0) {
          CHECK(b.isZero(0));
        } else {
          CHECK(double(b.cwiseAbs().maxCoeff()) <= b_bound);
          CHECK(double(b.cwiseAbs().minCoeff()) > 0);
        }
      }
    }
  }
}

TEST_CASE("initialize draws W^[1], b^[1], W^[2], … in order from Rng(seed)") {
  Network<double> net({3, 2, 2}, {Activation::sigmoid, Activation::sigmoid}, Loss::mse);
  net.initialize(Init::small_uniform, 5, 0.1);
  Rng rng(5);
  for (Index p = 0; p < net.n_params(); ++p) CHECK(net.params()[p] == rng.uniform(-0.1, 0.1));

  Network<double> other({3, 2, 2}, {Activation::sigmoid, Activation::sigmoid}, Loss::mse);
  other.initialize(Init::small_uniform, 5, 0.1);
  CHECK(std::equal(net.params(), net.params() + net.n_params(), other.params()));
  other.initialize(Init::small_uniform, 6, 0.1);
  CHECK_FALSE(std::equal(net.params(), net.params() + net.n_params(), other.params()));

  // float networks draw the same numbers, rounded
  Network<float> single({3, 2, 2}, {Activation::sigmoid, Activation::sigmoid}, Loss::mse);
  single.initialize(Init::small_uniform, 5, 0.1);
  for (Index p = 0; p < net.n_params(); ++p) CHECK(single.params()[p] == float(net.params()[p]));
}

TEST_CASE("initialize rejects a bad scale") {
  Network<double> net({2, 2}, {Activation::identity}, Loss::mse);
  CHECK_THROWS_AS(net.initialize(Init::small_uniform, 0, 0.0), ArgumentError);
  CHECK_THROWS_AS(net.initialize(Init::small_uniform, 0, -1.0), ArgumentError);
  CHECK_THROWS_AS(net.initialize(Init::xavier, 0, NAN), ArgumentError);
  CHECK_THROWS_AS(net.initialize(Init::he, 0, INFINITY), ArgumentError);
}
