// Activations f, their derivatives f', the prelu slope product and the name table.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "bpcore/activation.hpp"
#include "doctest.h"
#include "softmax_checks.hpp"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::Index;
using bpcore_test::f_scalar;

namespace {

// every element-wise activation, from the table
const std::vector<Activation> kElementwise = bpcore_test::hidden_activations();

template <class T>
std::vector<T> activate_all(Activation f, const std::vector<T>& Z, Index rows, T alpha) {
  std::vector<T> H(Z.size());
  bpcore::activate(f, Z.data(), H.data(), rows, Index(Z.size()) / rows, alpha);
  return H;
}

template <class T>
std::vector<T> derivative_all(Activation f, const std::vector<T>& Z, T alpha) {
  const auto H = activate_all(f, Z, 1, alpha);
  std::vector<T> D(Z.size());
  bpcore::derivative(f, Z.data(), H.data(), D.data(), Index(Z.size()), alpha);
  return D;
}

// A grid on [-4, 4] that never lands on the kink at 0.
std::vector<double> grid() {
  std::vector<double> z;
  for (double x = -4.0; x <= 4.0; x += 0.37) z.push_back(x);
  return z;
}

}  // namespace

TEST_CASE_TEMPLATE("activate at known points", T, float, double) {
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-15;
  const std::vector<T> Z{T(-2), T(-0.5), T(0), T(0.5), T(3)};

  auto H = activate_all(Activation::identity, Z, 1, T(0));
  for (std::size_t i = 0; i < Z.size(); ++i) CHECK(H[i] == Z[i]);

  H = activate_all(Activation::sigmoid, Z, 1, T(0));
  CHECK(H[2] == T(0.5));
  for (std::size_t i = 0; i < Z.size(); ++i)
    CHECK(double(H[i]) == doctest::Approx(1 / (1 + std::exp(-double(Z[i])))).epsilon(tol));

  H = activate_all(Activation::tanh, Z, 1, T(0));
  CHECK(H[2] == T(0));
  for (std::size_t i = 0; i < Z.size(); ++i) {
    // tanh(x) = (1 - e^(-2x)) / (1 + e^(-2x))
    const double e = std::exp(-2 * double(Z[i]));
    CHECK(double(H[i]) == doctest::Approx((1 - e) / (1 + e)).epsilon(tol));
  }

  H = activate_all(Activation::relu, Z, 1, T(0));
  CHECK(H == std::vector<T>{T(0), T(0), T(0), T(0.5), T(3)});

  H = activate_all(Activation::prelu, Z, 1, T(0.1));
  CHECK(double(H[0]) == doctest::Approx(-0.2).epsilon(tol));
  CHECK(double(H[1]) == doctest::Approx(-0.05).epsilon(tol));
  CHECK(H[2] == T(0));
  CHECK(H[3] == T(0.5));
  CHECK(H[4] == T(3));
}

TEST_CASE("sigmoid reproduces the notes' example z = (1, 10, 2)") {
  const std::vector<double> Z{1, 10, 2};
  const auto H = activate_all(Activation::sigmoid, Z, 1, 0.0);
  CHECK(H[0] == doctest::Approx(0.73106).epsilon(1e-5));
  CHECK(H[1] == doctest::Approx(0.99995).epsilon(1e-5));
  CHECK(H[2] == doctest::Approx(0.88080).epsilon(1e-5));
}

TEST_CASE_TEMPLATE("sigmoid and tanh saturate without overflow", T, float, double) {
  const std::vector<T> Z{T(-800), T(-50), T(50), T(800)};
  const auto S = activate_all(Activation::sigmoid, Z, 1, T(0));
  CHECK(S[0] == T(0));
  CHECK(S[3] == T(1));
  const auto Th = activate_all(Activation::tanh, Z, 1, T(0));
  CHECK(Th[0] == T(-1));
  CHECK(Th[1] == T(-1));
  CHECK(Th[2] == T(1));
  CHECK(Th[3] == T(1));
  for (Activation f : {Activation::sigmoid, Activation::tanh}) {
    const auto D = derivative_all(f, Z, T(0));
    for (T d : D) {
      CHECK(std::isfinite(d));
      CHECK(d >= T(0));
    }
  }
}

TEST_CASE_TEMPLATE("derivative at known points", T, float, double) {
  const std::vector<T> Z{T(-1), T(0), T(2)};
  CHECK(derivative_all(Activation::identity, Z, T(0)) == std::vector<T>{T(1), T(1), T(1)});
  CHECK(derivative_all(Activation::sigmoid, Z, T(0))[1] == T(0.25));
  CHECK(derivative_all(Activation::tanh, Z, T(0))[1] == T(1));
  // relu'(0) = 0 and prelu'(0) = alpha: the kink belongs to the negative side
  CHECK(derivative_all(Activation::relu, Z, T(0)) == std::vector<T>{T(0), T(0), T(1)});
  CHECK(derivative_all(Activation::prelu, Z, T(0.3)) == std::vector<T>{T(0.3), T(0.3), T(1)});
  CHECK(derivative_all(Activation::leaky_relu, Z, T(0)) == std::vector<T>{T(0.01), T(0.01), T(1)});
  // elu'(0) = softplus'(0) * 2 = gelu'(0) * 2 = silu'(0) * 2 = 1
  CHECK(derivative_all(Activation::elu, Z, T(0))[1] == T(1));
  CHECK(derivative_all(Activation::softplus, Z, T(0))[1] == T(0.5));
  CHECK(derivative_all(Activation::gelu, Z, T(0))[1] == T(0.5));
  CHECK(derivative_all(Activation::silu, Z, T(0))[1] == T(0.5));
}

TEST_CASE_TEMPLATE("the new activations at known points", T, float, double) {
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-14;
  const std::vector<T> Z{T(-2), T(-0.5), T(0), T(0.5), T(3)};
  auto H = activate_all(Activation::leaky_relu, Z, 1, T(0));
  CHECK(double(H[0]) == doctest::Approx(-0.02).epsilon(tol));
  CHECK(H[2] == T(0));
  CHECK(H[4] == T(3));
  // elu(-2) = e^-2 - 1;  softplus(0) = log 2;  gelu(1) = Phi(1) = 0.8413447460685429...
  H = activate_all(Activation::elu, Z, 1, T(0));
  CHECK(double(H[0]) == doctest::Approx(std::exp(-2.0) - 1).epsilon(tol));
  CHECK(H[3] == T(0.5));
  H = activate_all(Activation::softplus, Z, 1, T(0));
  CHECK(double(H[2]) == doctest::Approx(std::log(2.0)).epsilon(tol));
  CHECK(double(H[4]) == doctest::Approx(3 + std::log1p(std::exp(-3.0))).epsilon(tol));
  const std::vector<T> one{T(1), T(-1)};
  H = activate_all(Activation::gelu, one, 1, T(0));
  CHECK(double(H[0]) == doctest::Approx(0.8413447460685429).epsilon(tol));
  CHECK(double(H[1]) == doctest::Approx(-(1 - 0.8413447460685429)).epsilon(tol));
  H = activate_all(Activation::silu, one, 1, T(0));
  CHECK(double(H[0]) == doctest::Approx(1 / (1 + std::exp(-1.0))).epsilon(tol));
}

TEST_CASE_TEMPLATE("softplus, elu, gelu and silu stay finite and exact at the extremes", T, float,
                   double) {
  const std::vector<T> Z{T(-800), T(-50), T(-1e-30), T(1e-30), T(50), T(800)};
  const auto S = activate_all(Activation::softplus, Z, 1, T(0));
  CHECK(S[5] == T(800));  // log1p(e^-800) + 800: no overflow
  CHECK(S[0] >= T(0));    // e^-800: 0, or (float's vector exp) a number below 1e-37
  CHECK(S[0] < T(1e-37));
  CHECK(S[1] > T(0));  // e^-50, not rounded to 0
  const auto E = activate_all(Activation::elu, Z, 1, T(0));
  CHECK(E[0] == T(-1));
  CHECK(E[2] == T(-1e-30));  // expm1: no cancellation near 0
  const auto G = activate_all(Activation::gelu, Z, 1, T(0));
  CHECK(G[0] == T(0));
  CHECK(G[5] == T(800));
  const auto Si = activate_all(Activation::silu, Z, 1, T(0));
  CHECK(Si[0] == T(0));
  CHECK(Si[5] == T(800));
  for (Activation f : {Activation::softplus, Activation::elu, Activation::gelu, Activation::silu}) {
    CAPTURE(bpcore::activation_name(f));
    for (T d : derivative_all(f, Z, T(0))) CHECK(std::isfinite(d));
  }
}

TEST_CASE("derivative matches central differences of activate") {
  const auto Z = grid();
  const double h = 1e-6;
  for (Activation f : kElementwise) {
    CAPTURE(bpcore::activation_name(f));
    for (double alpha : {0.25, -0.4, 1.7}) {
      if (f != Activation::prelu && alpha != 0.25) continue;
      const auto D = derivative_all(f, Z, alpha);
      std::vector<double> Zp(Z), Zm(Z);
      for (auto& z : Zp) z += h;
      for (auto& z : Zm) z -= h;
      const auto Hp = activate_all(f, Zp, 1, alpha), Hm = activate_all(f, Zm, 1, alpha);
      for (std::size_t i = 0; i < Z.size(); ++i) {
        CAPTURE(Z[i]);
        CHECK(D[i] == doctest::Approx((Hp[i] - Hm[i]) / (2 * h)).epsilon(1e-8).scale(1));
      }
    }
  }
}

TEST_CASE("an activation marked from_output reads f' from H alone") {
  // a wrong Z changes nothing when f' is computed from H
  const auto Z = grid();
  std::vector<double> wrong(Z.size(), 123.0);
  int checked = 0;
  for (const auto& info : bpcore::activation_table) {
    if (!info.from_output) continue;
    CAPTURE(info.name);
    const auto H = activate_all(info.id, Z, 1, 0.25);
    std::vector<double> D(Z.size()), D_wrong(Z.size());
    bpcore::derivative(info.id, Z.data(), H.data(), D.data(), Index(Z.size()), 0.25);
    bpcore::derivative(info.id, wrong.data(), H.data(), D_wrong.data(), Index(Z.size()), 0.25);
    CHECK(D == D_wrong);
    ++checked;
  }
  CHECK(checked >= 4);  // sigmoid, tanh, elu, softplus
}

TEST_CASE("the activation table's properties") {
  for (const auto& info : bpcore::activation_table) {
    CAPTURE(info.name);
    CHECK(&bpcore::activation_info(info.id) == &info);
    CHECK(info.learnable == (info.id == Activation::prelu));
    CHECK_FALSE(info.formula.empty());
    CHECK_FALSE(info.derivative_formula.empty());
    // every activation but softmax has an element-wise f' (the output-only exp too)
    std::vector<double> Z{0.3, -0.2}, H(2), D(2);
    bpcore::activate(info.id, Z.data(), H.data(), 1, 2, 0.25);
    if (info.id != Activation::softmax)
      CHECK_NOTHROW(bpcore::derivative(info.id, Z.data(), H.data(), D.data(), 2, 0.25));
    else
      CHECK_THROWS_AS(bpcore::derivative(info.id, Z.data(), H.data(), D.data(), 2, 0.25),
                      ArgumentError);
  }
}

TEST_CASE("derivative takes f'(Z) from the output H where the notes do") {
  // sigmoid' = H (1 - H) and tanh' = 1 - H^2 read H, not Z: a given H is what is used.
  const std::vector<double> Z{0.3}, H{0.6};
  std::vector<double> D(1);
  bpcore::derivative(Activation::sigmoid, Z.data(), H.data(), D.data(), 1, 0.0);
  CHECK(D[0] == doctest::Approx(0.6 * 0.4));
  bpcore::derivative(Activation::tanh, Z.data(), H.data(), D.data(), 1, 0.0);
  CHECK(D[0] == doctest::Approx(1 - 0.36));
}

TEST_CASE_TEMPLATE("multiply_by_derivative is G ⊙ f'(Z)", T, float, double) {
  const auto Zd = bpcore_test::uniform<double>(40, 7, -3, 3);
  const auto Gd = bpcore_test::uniform<double>(40, 8, -2, 2);
  const std::vector<T> Z(Zd.begin(), Zd.end()), G0(Gd.begin(), Gd.end());
  for (Activation f : kElementwise) {
    CAPTURE(bpcore::activation_name(f));
    const T alpha = T(0.2);
    const auto H = activate_all(f, Z, 1, alpha);
    const auto D = derivative_all(f, Z, alpha);
    std::vector<T> G(G0);
    bpcore::multiply_by_derivative(f, Z.data(), H.data(), G.data(), Index(G.size()), alpha);
    for (std::size_t i = 0; i < G.size(); ++i) CHECK(G[i] == G0[i] * D[i]);
  }
}

TEST_CASE("prelu_alpha_product is sum G min(0, Z) and the alpha-derivative of sum G f") {
  const std::vector<double> Z{-2, -0.5, 0, 1.5};
  const std::vector<double> G{3, -4, 5, 7};
  // 3 (-2) + (-4)(-0.5) + 5 * 0 + 7 * 0 = -4
  CHECK(bpcore::prelu_alpha_product(Z.data(), G.data(), 4) == -4.0);

  const auto Zr = bpcore_test::uniform<double>(30, 11, -3, 3);
  const auto Gr = bpcore_test::uniform<double>(30, 12, -1, 1);
  const double alpha = 0.3, h = 1e-6;
  auto weighted_sum = [&](double a) {
    const auto H = activate_all(Activation::prelu, Zr, 1, a);
    double s = 0;
    for (std::size_t i = 0; i < H.size(); ++i) s += Gr[i] * H[i];
    return s;
  };
  const double numeric = (weighted_sum(alpha + h) - weighted_sum(alpha - h)) / (2 * h);
  CHECK(bpcore::prelu_alpha_product(Zr.data(), Gr.data(), 30) ==
        doctest::Approx(numeric).epsilon(1e-8));

  const std::vector<float> Zf{-2, 1}, Gf{0.5f, 9};
  CHECK(bpcore::prelu_alpha_product(Zf.data(), Gf.data(), 2) == -1.0f);
}

TEST_CASE_TEMPLATE("softmax rows sum to 1 and equal e^z / sum e^z", T, float, double) {
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
  const Index rows = 3, cols = 4;
  const std::vector<T> Z{T(0),   T(1),  T(2),  T(3),   //
                         T(-1),  T(-1), T(-1), T(-1),  //
                         T(0.5), T(-2), T(4),  T(0.1)};
  const auto H = activate_all(Activation::softmax, Z, rows, T(0));
  for (Index i = 0; i < rows; ++i) {
    double total = 0, denom = 0;
    for (Index j = 0; j < cols; ++j) denom += std::exp(double(Z[std::size_t(i * cols + j)]));
    for (Index j = 0; j < cols; ++j) {
      const double h = double(H[std::size_t(i * cols + j)]);
      CHECK(h > 0);
      CHECK(h ==
            doctest::Approx(std::exp(double(Z[std::size_t(i * cols + j)])) / denom).epsilon(tol));
      total += h;
    }
    CHECK(total == doctest::Approx(1.0).epsilon(tol));
  }
  CHECK(double(H[4]) == doctest::Approx(0.25).epsilon(tol));
}

TEST_CASE_TEMPLATE("softmax is stable for large inputs", T, float, double) {
  const std::vector<T> small{T(0), T(1), T(2)};
  const std::vector<T> large{T(1000), T(1001), T(1002)};
  const std::vector<T> negative{T(-1000), T(-999), T(-998)};
  const auto Hs = activate_all(Activation::softmax, small, 1, T(0));
  const auto Hl = activate_all(Activation::softmax, large, 1, T(0));
  const auto Hn = activate_all(Activation::softmax, negative, 1, T(0));
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(std::isfinite(Hl[j]));
    CHECK(std::isfinite(Hn[j]));
    CHECK(double(Hl[j]) == doctest::Approx(double(Hs[j])).epsilon(1e-5));
    CHECK(double(Hn[j]) == doctest::Approx(double(Hs[j])).epsilon(1e-5));
  }
  const std::vector<T> spread{T(-1e4), T(0), T(1e4)};
  const auto H = activate_all(Activation::softmax, spread, 1, T(0));
  // e^(-2e4) underflows: 0, or no more than the smallest normal number
  for (std::size_t j : {0, 1}) {
    CHECK(H[j] >= T(0));
    CHECK(H[j] <= std::numeric_limits<T>::min());
  }
  CHECK(H[2] == T(1));
}

TEST_CASE("softmax has no element-wise derivative") {
  const std::vector<double> Z{0.1, 0.2}, H{0.5, 0.5};
  std::vector<double> D(2);
  CHECK_THROWS_AS(bpcore::derivative(Activation::softmax, Z.data(), H.data(), D.data(), 2, 0.0),
                  ArgumentError);
  CHECK_THROWS_WITH_AS(
      bpcore::multiply_by_derivative(Activation::softmax, Z.data(), H.data(), D.data(), 2, 0.0),
      doctest::Contains("cross_entropy"), ArgumentError);
}

TEST_CASE("activation name table round-trips and rejects unknown names") {
  CHECK(bpcore::activation_table.size() == 12);
  for (const auto& info : bpcore::activation_table) {
    CHECK(bpcore::activation_from_name(info.name) == info.id);
    CHECK(bpcore::activation_name(info.id) == info.name);
    CHECK(info.hidden == (info.id != Activation::softmax && info.id != Activation::exp));
  }
  CHECK(bpcore::activation_from_name("prelu") == Activation::prelu);
  try {
    bpcore::activation_from_name("swish");
    FAIL("an unknown activation name was accepted");
  } catch (const ArgumentError& e) {
    const std::string message = e.what();
    CHECK(message.find("'swish'") != std::string::npos);
    for (const auto& info : bpcore::activation_table)
      CHECK(message.find(std::string(info.name)) != std::string::npos);
  }
  CHECK_THROWS_AS(bpcore::activation_from_name("Sigmoid"), ArgumentError);
  CHECK_THROWS_AS(bpcore::activation_from_name(""), ArgumentError);
  CHECK(bpcore::prelu_alpha_init == 0.25);
}

TEST_CASE("f_scalar oracle agrees with the core on a grid") {
  // The oracle of test_support.hpp is what the network tests compare against: check it here.
  const auto Z = grid();
  for (Activation f : kElementwise) {
    CAPTURE(bpcore::activation_name(f));
    const auto H = activate_all(f, Z, 1, 0.3);
    const auto D = derivative_all(f, Z, 0.3);
    for (std::size_t i = 0; i < Z.size(); ++i) {
      CHECK(H[i] == doctest::Approx(f_scalar(f, Z[i], 0.3)).epsilon(1e-14));
      CHECK(D[i] == doctest::Approx(bpcore_test::fprime_scalar(f, Z[i], 0.3)).epsilon(1e-13));
    }
  }
}

TEST_CASE_TEMPLATE("activate gives the same bits wherever the data lies in memory", T, float,
                   double) {
  // the aligned chunks make each element's value independent of its address
  const auto Zd = bpcore_test::uniform<double>(600, 5, -6, 6);
  std::vector<T> Z(Zd.begin(), Zd.end());
  for (Activation f : kElementwise) {
    CAPTURE(bpcore::activation_name(f));
    const auto H = activate_all(f, Z, 1, T(0.2));
    std::vector<T> shifted(Z.size() + 3), out(Z.size() + 3);
    std::copy(Z.begin(), Z.end(), shifted.begin() + 3);
    bpcore::activate(f, shifted.data() + 3, out.data() + 3, 1, Index(Z.size()), T(0.2));
    CHECK(std::equal(H.begin(), H.end(), out.begin() + 3));
  }
}
