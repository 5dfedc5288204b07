// Losses J (loss_sum), the output error and the output-activation pairing rules.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "bpcore/activation.hpp"
#include "bpcore/loss.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::Index;
using bpcore::Loss;

namespace {

// log(1 + e^x) for moderate x, as a plain oracle
double softplus(double x) { return std::log(1 + std::exp(x)); }

}  // namespace

TEST_CASE_TEMPLATE("mse: J = 1/2 sum e^2 per sample, summed over rows", T, float, double) {
  const Index rows = 2, cols = 3;
  const std::vector<T> Y_hat{T(0.5), T(1), T(-1), T(2), T(0), T(0.25)};
  const std::vector<T> Y{T(1), T(1), T(1), T(0), T(0), T(0)};
  // row 0: e = (0.5, 0, 2) -> 1/2 (0.25 + 4) = 2.125; row 1: e = (-2, 0, -0.25) -> 1/2 (4 + 0.0625)
  const double J0 = 2.125, J1 = 2.03125;
  // Z is not read by mse; pass Y_hat for it
  CHECK(bpcore::loss_sum(Loss::mse, Y_hat.data(), Y_hat.data(), Y.data(),
                         static_cast<const T*>(nullptr), rows, cols) == J0 + J1);
  const std::vector<T> w{T(2), T(0.5)};
  CHECK(bpcore::loss_sum(Loss::mse, Y_hat.data(), Y_hat.data(), Y.data(), w.data(), rows, cols) ==
        2 * J0 + 0.5 * J1);
  const std::vector<T> w0{T(0), T(1)};
  CHECK(bpcore::loss_sum(Loss::mse, Y_hat.data(), Y_hat.data(), Y.data(), w0.data(), rows, cols) ==
        J1);
  CHECK(bpcore::loss_sum(Loss::mse, Y.data(), Y.data(), Y.data(), static_cast<const T*>(nullptr),
                         rows, cols) == 0.0);
}

// Y_hat = softmax(Z) by the core's output activation, which the cross-entropy reads log-sum-exp
// from
template <class T>
std::vector<T> softmax_of(const std::vector<T>& Z, Index cols) {
  std::vector<T> H(Z.size());
  bpcore::activate(Activation::softmax, Z.data(), H.data(), Index(Z.size()) / cols, cols, T(0));
  return H;
}

TEST_CASE_TEMPLATE("cross_entropy: J = -sum y log softmax(z), from Z^[L] and the softmax", T, float,
                   double) {
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
  const Index cols = 3;
  const std::vector<T> Z{T(1), T(2), T(3)};
  const T* none = nullptr;
  auto J = [&](const std::vector<T>& z, const std::vector<T>& y) {
    const std::vector<T> H = softmax_of(z, cols);
    return bpcore::loss_sum(Loss::cross_entropy, z.data(), H.data(), y.data(), none, 1, cols);
  };
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  CHECK(J(Z, {T(0), T(0), T(1)}) == doctest::Approx(lse - 3).epsilon(tol));
  CHECK(J(Z, {T(1), T(0), T(0)}) == doctest::Approx(lse - 1).epsilon(tol));
  // soft labels: -sum_j y_j (z_j - lse)
  CHECK(J(Z, {T(0.25), T(0.25), T(0.5)}) ==
        doctest::Approx(0.25 * (lse - 1) + 0.25 * (lse - 2) + 0.5 * (lse - 3)).epsilon(tol));

  // large |z|: no overflow, and the exact limits
  const std::vector<T> big{T(1000), T(0), T(-1000)};
  CHECK(J(big, {T(1), T(0), T(0)}) == doctest::Approx(0.0).scale(1).epsilon(1e-12));
  CHECK(J(big, {T(0), T(1), T(0)}) == doctest::Approx(1000.0).epsilon(tol));
  CHECK(J(big, {T(0), T(0), T(1)}) == doctest::Approx(2000.0).epsilon(tol));

  // two rows with weights
  const std::vector<T> Z2{T(1), T(2), T(3), T(0), T(0), T(0)};
  const std::vector<T> Y2{T(0), T(0), T(1), T(0), T(1), T(0)};
  const std::vector<T> w{T(3), T(0.5)};
  CHECK(bpcore::loss_sum(Loss::cross_entropy, Z2.data(), softmax_of(Z2, cols).data(), Y2.data(),
                         w.data(), 2, cols) ==
        doctest::Approx(3 * (lse - 3) + 0.5 * std::log(3.0)).epsilon(tol));

  // wide rows, ties for the largest z and a row far from 0: against long double arithmetic
  const Index wide = 37;
  std::vector<T> Zw(std::size_t(3 * wide)), Yw(Zw.size(), T(0));
  for (Index k = 0; k < 3 * wide; ++k) Zw[std::size_t(k)] = T(std::sin(0.7 * double(k)) * 4);
  Zw[5] = Zw[9] = T(6);  // a tie at the top of row 0
  for (Index j = 0; j < wide; ++j) Zw[std::size_t(2 * wide + j)] += T(-300);  // row 2
  for (Index i = 0; i < 3; ++i) Yw[std::size_t(i * wide + (7 * i + 3) % wide)] = T(1);
  long double expected = 0;
  for (Index i = 0; i < 3; ++i) {
    long double top = Zw[std::size_t(i * wide)], sum = 0;
    for (Index j = 0; j < wide; ++j)
      top = std::max<long double>(top, Zw[std::size_t(i * wide + j)]);
    for (Index j = 0; j < wide; ++j)
      sum += std::exp((long double)Zw[std::size_t(i * wide + j)] - top);
    expected += top + std::log(sum) - (long double)Zw[std::size_t(i * wide + (7 * i + 3) % wide)];
  }
  CHECK(bpcore::loss_sum(Loss::cross_entropy, Zw.data(), softmax_of(Zw, wide).data(), Yw.data(),
                         none, 3, wide) == doctest::Approx(double(expected)).epsilon(tol));
}

TEST_CASE_TEMPLATE(
    "softmax's log-sum-exp gives the cross-entropy its own read-back value, bit for bit", T, float,
    double) {
  // rows across the 256-row buffers of both functions, z of many sizes, ties, a NaN row
  for (Index cols : {Index(1), Index(2), Index(10), Index(37)}) {
    CAPTURE(cols);
    const Index rows = 600;
    auto Z = bpcore_test::uniform<T>(rows * cols, 9, -30, 30);
    for (Index j = 0; j < cols; ++j) Z[std::size_t(3 * cols + j)] = T(2);  // row 3: all tied
    Z[std::size_t(7 * cols)] = std::numeric_limits<T>::quiet_NaN();        // row 7: NaN
    std::vector<T> Y(Z.size(), T(0));
    for (Index i = 0; i < rows; ++i) Y[std::size_t(i * cols + (5 * i) % cols)] = T(1);
    const auto w = bpcore_test::uniform<T>(rows, 10, 0, 2);
    std::vector<T> H(Z.size()), H2(Z.size());
    std::vector<double> lse(static_cast<std::size_t>(rows));
    bpcore::softmax(Z.data(), H.data(), rows, cols, lse.data());
    bpcore::activate(Activation::softmax, Z.data(), H2.data(), rows, cols, T(0));
    CHECK(std::memcmp(H.data(), H2.data(), sizeof(T) * H.size()) == 0);  // the same softmax
    for (Index i = 0; i < rows; ++i) {
      if (i == 7) {
        CHECK(std::isnan(lse[std::size_t(i)]));
        continue;
      }
      long double top = Z[std::size_t(i * cols)], sum = 0;
      for (Index j = 0; j < cols; ++j)
        top = std::max<long double>(top, Z[std::size_t(i * cols + j)]);
      for (Index j = 0; j < cols; ++j)
        sum += std::exp((long double)Z[std::size_t(i * cols + j)] - top);
      CHECK(lse[std::size_t(i)] == doctest::Approx(double(top + std::log(sum))).epsilon(1e-6));
    }
    // rows 8 … : the NaN row left out, with and without weights
    const Index r0 = 8, n = rows - r0;
    for (const T* wp : {static_cast<const T*>(nullptr), w.data() + r0}) {
      const double read_back =
          bpcore::loss_sum(Loss::cross_entropy, Z.data() + r0 * cols, H.data() + r0 * cols,
                           Y.data() + r0 * cols, wp, n, cols);
      const double given =
          bpcore::loss_sum(Loss::cross_entropy, Z.data() + r0 * cols, H.data() + r0 * cols,
                           Y.data() + r0 * cols, wp, n, cols, lse.data() + r0);
      CHECK(std::isfinite(given));
      CHECK(std::memcmp(&read_back, &given, sizeof given) == 0);
    }
  }
}

TEST_CASE_TEMPLATE("binary_cross_entropy from Z^[L], with no overflow for large |z|", T, float,
                   double) {
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-14;
  const T* none = nullptr;
  auto J = [&](std::vector<T> z, std::vector<T> y) {
    const std::vector<T> unused(z.size(), T(-3));
    return bpcore::loss_sum(Loss::binary_cross_entropy, z.data(), unused.data(), y.data(), none, 1,
                            Index(z.size()));
  };
  // z = 0: sigmoid = 1/2 and J = log 2 whatever y is
  CHECK(J({T(0)}, {T(1)}) == doctest::Approx(std::log(2.0)).epsilon(tol));
  CHECK(J({T(0)}, {T(0.3)}) == doctest::Approx(std::log(2.0)).epsilon(tol));
  // -[y log s + (1-y) log(1-s)] = y softplus(-z) + (1-y) softplus(z)
  CHECK(J({T(1.5), T(-0.7)}, {T(1), T(0)}) ==
        doctest::Approx(softplus(-1.5) + softplus(-0.7)).epsilon(tol));
  CHECK(J({T(2)}, {T(0.25)}) ==
        doctest::Approx(0.25 * softplus(-2.0) + 0.75 * softplus(2.0)).epsilon(tol));
  // the same from the sigmoid itself
  const double s = 1 / (1 + std::exp(-0.8));
  CHECK(J({T(0.8)}, {T(0.6)}) ==
        doctest::Approx(-(0.6 * std::log(s) + 0.4 * std::log(1 - s))).epsilon(tol));
  // large |z|
  for (T z : {T(800), T(-800), T(1e6), T(-1e6)}) {
    CAPTURE(z);
    const double right = J({z}, {T(z > 0 ? 1 : 0)});
    const double wrong = J({z}, {T(z > 0 ? 0 : 1)});
    CHECK(std::isfinite(right));
    CHECK(std::isfinite(wrong));
    CHECK(right == doctest::Approx(0.0).scale(1).epsilon(1e-12));
    CHECK(wrong == doctest::Approx(std::abs(double(z))).epsilon(tol));
  }
  // weights
  const std::vector<T> Z{T(0), T(0)}, Y{T(1), T(0)}, w{T(2), T(5)};
  CHECK(bpcore::loss_sum(Loss::binary_cross_entropy, Z.data(), Z.data(), Y.data(), w.data(), 2,
                         1) == doctest::Approx(7 * std::log(2.0)).epsilon(tol));
}

TEST_CASE_TEMPLATE("output_error is E = Y - Y_hat", T, float, double) {
  const std::vector<T> Y_hat{T(0.25), T(1), T(-2)}, Y{T(1), T(1), T(0.5)};
  std::vector<T> G(3, T(99));
  bpcore::output_error(Y_hat.data(), Y.data(), G.data(), 3);
  CHECK(G == std::vector<T>{T(0.75), T(0), T(2.5)});
}

TEST_CASE("delta_is_error only for the cross-entropy losses") {
  CHECK_FALSE(bpcore::loss_info(Loss::mse).delta_is_error);
  CHECK(bpcore::loss_info(Loss::cross_entropy).delta_is_error);
  CHECK(bpcore::loss_info(Loss::binary_cross_entropy).delta_is_error);
}

TEST_CASE("the loss table's properties are consistent") {
  for (const auto& info : bpcore::loss_table) {
    CAPTURE(info.name);
    // delta^[L] = Y - Y_hat holds only for the loss's own output activation (its canonical link)
    if (info.delta_is_error) CHECK(info.output.has_value());
    CHECK(
        (info.task == "regression" || info.task == "classification" || info.task == "multilabel"));
    CHECK(info.formula.find("J = ") == 0);
    CHECK(&bpcore::loss_info(info.id) == &info);
  }
  CHECK(bpcore::loss_info(Loss::cross_entropy).output == Activation::softmax);
  CHECK(bpcore::loss_info(Loss::binary_cross_entropy).output == Activation::sigmoid);
  CHECK_FALSE(bpcore::loss_info(Loss::mse).output.has_value());
  CHECK(bpcore::loss_info(Loss::mse).task == "regression");
}

TEST_CASE("check_output_pairing accepts exactly the valid pairs") {
  for (const auto& loss : bpcore::loss_table) {
    for (const auto& activation : bpcore::activation_table) {
      const Activation f = activation.id;
      CAPTURE(loss.name);
      CAPTURE(activation.name);
      bool valid = false;
      switch (loss.id) {
        case Loss::mse:  // any hidden activation as f^[L]
          valid = bpcore::activation_info(f).hidden;
          break;
        case Loss::cross_entropy:
          valid = f == Activation::softmax;
          break;
        case Loss::binary_cross_entropy:
          valid = f == Activation::sigmoid;
          break;
        case Loss::poisson:
          valid = f == Activation::exp;
          break;
      }
      if (valid)
        CHECK_NOTHROW(bpcore::check_output_pairing(f, loss.id));
      else
        CHECK_THROWS_AS(bpcore::check_output_pairing(f, loss.id), ArgumentError);
    }
  }
  CHECK_THROWS_WITH_AS(bpcore::check_output_pairing(Activation::sigmoid, Loss::cross_entropy),
                       doctest::Contains("softmax"), ArgumentError);
  CHECK_THROWS_WITH_AS(bpcore::check_output_pairing(Activation::softmax, Loss::mse),
                       doctest::Contains("cross_entropy"), ArgumentError);
  CHECK_THROWS_WITH_AS(bpcore::check_output_pairing(Activation::tanh, Loss::binary_cross_entropy),
                       doctest::Contains("sigmoid"), ArgumentError);
  // the messages name both sides of a bad pair, as the core said before the tables
  CHECK_THROWS_WITH_AS(
      bpcore::check_output_pairing(Activation::softmax, Loss::binary_cross_entropy),
      "output_activation 'softmax' is only used with loss 'cross_entropy', got "
      "'binary_cross_entropy'",
      ArgumentError);
  CHECK_THROWS_WITH_AS(bpcore::check_output_pairing(Activation::gelu, Loss::cross_entropy),
                       "loss 'cross_entropy' needs output_activation 'softmax', got 'gelu'",
                       ArgumentError);
}

TEST_CASE("loss name table round-trips and rejects unknown names") {
  CHECK(bpcore::loss_table.size() == 4);
  for (const auto& info : bpcore::loss_table) {
    CHECK(bpcore::loss_from_name(info.name) == info.id);
    CHECK(bpcore::loss_name(info.id) == info.name);
  }
  try {
    bpcore::loss_from_name("hinge");
    FAIL("an unknown loss name was accepted");
  } catch (const ArgumentError& e) {
    const std::string message = e.what();
    CHECK(message.find("'hinge'") != std::string::npos);
    for (const auto& info : bpcore::loss_table)
      CHECK(message.find(std::string(info.name)) != std::string::npos);
  }
  CHECK_THROWS_AS(bpcore::loss_from_name("MSE"), ArgumentError);
}

TEST_CASE_TEMPLATE("poisson: J = sum_j [y_hat - y + y log(y / y_hat)] from Z^[L], 0 log 0 = 0", T,
                   float, double) {
  const Index rows = 2, cols = 2;
  const std::vector<T> Z{T(0.5), T(-1), T(0), T(2)};
  std::vector<T> Y_hat(4);
  bpcore::activate(Activation::exp, Z.data(), Y_hat.data(), rows, cols, T(0));
  const std::vector<T> Y{T(3), T(0), T(1), T(5)};
  double expected = 0;
  for (int e = 0; e < 4; ++e) {
    const double y = double(Y[e]), mu = std::exp(double(Z[e]));
    expected += mu - y + (y > 0 ? y * std::log(y / mu) : 0.0);
  }
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  const double J = bpcore::loss_sum(Loss::poisson, Z.data(), Y_hat.data(), Y.data(),
                                    static_cast<const T*>(nullptr), rows, cols);
  CHECK(std::abs(J - expected) <= tol * expected);
  // J = 0 exactly where y_hat = y (and y = 0 contributes y_hat only)
  const std::vector<T> Zy{T(0), T(std::log(2.0))}, Yy{T(1), T(2)};
  std::vector<T> Hy(2);
  bpcore::activate(Activation::exp, Zy.data(), Hy.data(), 1, 2, T(0));
  CHECK(std::abs(bpcore::loss_sum(Loss::poisson, Zy.data(), Hy.data(), Yy.data(),
                                  static_cast<const T*>(nullptr), 1, 2)) <= tol);
  CHECK(bpcore::loss_info(Loss::poisson).output == Activation::exp);
  CHECK(bpcore::loss_info(Loss::poisson).delta_is_error);
  CHECK_THROWS_AS(bpcore::check_output_pairing(Activation::identity, Loss::poisson), ArgumentError);
  CHECK_THROWS_AS(bpcore::check_output_pairing(Activation::exp, Loss::mse), ArgumentError);
}
