// The full-batch optimizers: rprop's rule by hand, lm's normal equations against finite
// differences and across thread counts, lbfgs and lm lowering J, roll-back on a signal and on a
// non-finite J.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "bpcore/fullbatch.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::EpochOptions;
using bpcore::EpochStatus;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore::Optimizer;
using bpcore::OptimizerConfig;
using bpcore::OptimizerKind;

namespace {

const double* const kNoWeights = nullptr;  // unweighted samples

Network<double> prelu_network(Index width = 4) {
  Network<double> net({3, width, 2}, {Activation::prelu, Activation::tanh}, Loss::mse);
  net.initialize(Init::small_uniform, 7, 0.8);
  return net;
}

struct Data {
  Index rows;
  std::vector<double> X, Y;
};

Data data(Index rows) {
  return {rows, bpcore_test::uniform<double>(rows * 3, 11, -1, 1),
          bpcore_test::uniform<double>(rows * 2, 12, -0.8, 0.8)};
}

OptimizerConfig config(OptimizerKind kind) {
  OptimizerConfig c;
  c.kind = kind;
  return c;
}

}  // namespace

TEST_CASE("rprop: a sign change shrinks the step and makes no move; Delta stays in its bounds") {
  Network<double> net({1, 1}, {Activation::identity}, Loss::mse);
  OptimizerConfig c = config(OptimizerKind::rprop);
  c.lr = 0.1;
  c.step_sizes = {0.01, 0.15};
  Optimizer<double> opt(c, net.n_params());
  net.params()[0] = 1.0;
  net.params()[1] = 0.0;
  auto step = [&](double g0, double g1) {
    net.grads()[0] = g0;
    net.grads()[1] = g1;
    opt.step(net, c.lr);
  };
  step(2.0, -1.0);  // s = 0: Delta = lr
  CHECK(net.params()[0] == doctest::Approx(0.9));
  CHECK(net.params()[1] == doctest::Approx(0.1));
  step(3.0, 1.0);  // w: s > 0, Delta = min(0.12, 0.15); b: s < 0, Delta = 0.05, no move
  CHECK(net.params()[0] == doctest::Approx(0.9 - 0.12));
  CHECK(net.params()[1] == doctest::Approx(0.1));
  step(1.0, 1.0);  // w: Delta = 0.144 (within 0.15); b: g' = 0 so s = 0, Delta kept, a move
  CHECK(net.params()[0] == doctest::Approx(0.9 - 0.12 - 0.144));
  CHECK(net.params()[1] == doctest::Approx(0.1 - 0.05));
  step(1.0, 1.0);  // w: 0.1728 clipped to 0.15
  CHECK(net.params()[0] == doctest::Approx(0.9 - 0.12 - 0.144 - 0.15));
}

TEST_CASE("lm normal equations: Jac from delta back-propagation equals finite differences") {
  Network<double> net = prelu_network();
  const Data d = data(37);  // a full row block and a partial one
  const auto w = bpcore_test::uniform<double>(d.rows, 13, 0.5, 2.0);
  Eigen::MatrixXd JtJ;
  Eigen::VectorXd Jte;
  const double J =
      bpcore::lm_normal_equations(net, d.X.data(), d.Y.data(), w.data(), d.rows, 1, JtJ, Jte);
  CHECK(J == doctest::Approx(net.loss(d.X.data(), d.Y.data(), w.data(), d.rows, 1)).epsilon(1e-12));
  double wsum = 0;
  for (double x : w) wsum += x;
  const Index P = net.n_params(), m = d.rows * 2;
  Eigen::MatrixXd Jac(m, P);
  Eigen::VectorXd e(m);
  const auto size = static_cast<std::size_t>(m);
  std::vector<double> plus(size), minus(size), yhat(size);
  net.predict(d.X.data(), d.rows, yhat.data(), 1);
  for (Index i = 0; i < m; ++i) e[i] = std::sqrt(w[std::size_t(i / 2)] / wsum) * (d.Y[i] - yhat[i]);
  const double h = 1e-6;
  for (Index p = 0; p < P; ++p) {
    const double keep = net.params()[p];
    net.params()[p] = keep + h;
    net.predict(d.X.data(), d.rows, plus.data(), 1);
    net.params()[p] = keep - h;
    net.predict(d.X.data(), d.rows, minus.data(), 1);
    net.params()[p] = keep;
    for (Index i = 0; i < m; ++i)
      Jac(i, p) = std::sqrt(w[std::size_t(i / 2)] / wsum) * (plus[i] - minus[i]) / (2 * h);
  }
  const Eigen::MatrixXd expected = Jac.transpose() * Jac;
  CHECK((JtJ - expected).norm() / expected.norm() < 1e-7);
  CHECK((Jte - Jac.transpose() * e).norm() / Jte.norm() < 1e-7);
  // dJ/dtheta = -Jac^T e
  net.backward(d.X.data(), d.Y.data(), w.data(), d.rows, 1);
  for (Index p = 0; p < P; ++p) CHECK(-Jte[p] == doctest::Approx(net.grads()[p]).epsilon(1e-10));
}

TEST_CASE("lm normal equations are bitwise the same for any thread count") {
  Network<double> net = prelu_network(40);  // 3*40 + 40 + 1 + 40*2 + 2 = 243 params: 4 tiles
  const Data d = data(100);
  Eigen::MatrixXd A1, A;
  Eigen::VectorXd b1, b;
  bpcore::lm_normal_equations(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, 1, A1, b1);
  for (int threads : {2, 3, 4}) {
    bpcore::lm_normal_equations(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, threads, A, b);
    CHECK(std::memcmp(A.data(), A1.data(), sizeof(double) * std::size_t(A.size())) == 0);
    CHECK(std::memcmp(b.data(), b1.data(), sizeof(double) * std::size_t(b.size())) == 0);
  }
  CHECK((A - A.transpose()).norm() == 0);
}

TEST_CASE("lbfgs and lm lower J every epoch on the full batch") {
  for (OptimizerKind kind : {OptimizerKind::lbfgs, OptimizerKind::lm}) {
    Network<double> net = prelu_network();
    const Data d = data(50);
    Optimizer<double> opt(config(kind), net.n_params());
    double last = std::numeric_limits<double>::infinity();
    for (Index e = 0; e < 10; ++e) {
      EpochOptions o;
      o.epoch = e;
      const auto r =
          bpcore::fullbatch_epoch(net, opt, d.X.data(), d.Y.data(), kNoWeights, d.rows, o);
      REQUIRE(r.status != EpochStatus::nonfinite);
      CHECK(r.loss <= last);
      last = r.loss;
      if (r.status != EpochStatus::ok) break;
    }
    CHECK(net.loss(d.X.data(), d.Y.data(), kNoWeights, d.rows, 1) < last + 1e-15);
    CHECK(opt.steps() > 0);
  }
}

TEST_CASE("a signal or a non-finite J rolls the full-batch epoch back") {
  for (OptimizerKind kind : {OptimizerKind::lbfgs, OptimizerKind::lm}) {
    Network<double> net = prelu_network();
    Data d = data(20);
    Optimizer<double> opt(config(kind), net.n_params());
    const auto before = bpcore_test::params_of(net);
    const std::function<bool()> stop = [] { return true; };
    auto r = bpcore::fullbatch_epoch(net, opt, d.X.data(), d.Y.data(), kNoWeights, d.rows,
                                     EpochOptions{}, &stop);
    CHECK(r.status == EpochStatus::interrupted);
    CHECK(bpcore_test::same_bits(before, bpcore_test::params_of(net)));
    CHECK(opt.steps() == 0);
    d.Y[3] = std::numeric_limits<double>::quiet_NaN();
    r = bpcore::fullbatch_epoch(net, opt, d.X.data(), d.Y.data(), kNoWeights, d.rows,
                                EpochOptions{});
    CHECK(r.status == EpochStatus::nonfinite);
    CHECK(bpcore_test::same_bits(before, bpcore_test::params_of(net)));
  }
}

TEST_CASE("a full-batch epoch interrupted after some epochs resumes as if it had not run") {
  // The roll-back restores theta and the memory an iteration changes before it fails (lbfgs's
  // line search moves x, g and J in place; its curvature pairs change only after success).
  for (OptimizerKind kind : {OptimizerKind::lbfgs, OptimizerKind::lm}) {
    const Data d = data(30);
    auto run = [&](bool interrupt) {
      Network<double> net = prelu_network();
      Optimizer<double> opt(config(kind), net.n_params());
      const std::function<bool()> stop = [] { return true; };
      for (Index e = 0; e < 6; ++e) {
        EpochOptions o;
        o.epoch = e;
        if (interrupt && e == 3) {
          const auto before = bpcore_test::params_of(net);
          const auto r = bpcore::fullbatch_epoch(net, opt, d.X.data(), d.Y.data(), kNoWeights,
                                                 d.rows, o, &stop);
          REQUIRE(r.status == EpochStatus::interrupted);
          CHECK(bpcore_test::same_bits(before, bpcore_test::params_of(net)));
        }
        const auto r =
            bpcore::fullbatch_epoch(net, opt, d.X.data(), d.Y.data(), kNoWeights, d.rows, o);
        REQUIRE(r.status == EpochStatus::ok);
      }
      return bpcore_test::params_of(net);
    };
    CHECK(bpcore_test::same_bits(run(false), run(true)));
  }
}

TEST_CASE("lm refuses other losses and too many parameters; step() refuses lbfgs and lm") {
  Network<double> ce({3, 2}, {Activation::softmax}, Loss::cross_entropy);
  const Data d = data(5);
  Optimizer<double> lm(config(OptimizerKind::lm), ce.n_params());
  CHECK_THROWS_AS(
      bpcore::fullbatch_epoch(ce, lm, d.X.data(), d.Y.data(), kNoWeights, d.rows, EpochOptions{}),
      bpcore::ArgumentError);
  Network<double> big({3, 70, 70, 2}, {Activation::tanh, Activation::tanh, Activation::identity},
                      Loss::mse);
  REQUIRE(big.n_params() > bpcore::lm_max_params);
  Optimizer<double> lm_big(config(OptimizerKind::lm), big.n_params());
  CHECK_THROWS_AS(bpcore::fullbatch_epoch(big, lm_big, d.X.data(), d.Y.data(), kNoWeights, d.rows,
                                          EpochOptions{}),
                  bpcore::ArgumentError);
  Network<double> net = prelu_network();
  Optimizer<double> lbfgs(config(OptimizerKind::lbfgs), net.n_params());
  CHECK_THROWS_AS(lbfgs.step(net, 0.1), bpcore::ArgumentError);
  OptimizerConfig bad = config(OptimizerKind::rprop);
  bad.etas = {1.2, 0.5};
  CHECK_THROWS_WITH_AS(bpcore::validate_config(bad),
                       doctest::Contains("etas must be a pair (eta-, eta+)"),
                       bpcore::ArgumentError);
}
