// lbfgs_run: a whole L-BFGS minimisation with scipy's L-BFGS-B stopping rules. F = J + l2/2 sum
// ||W||^2 is stationary where it converges, each limit stops it with its own status, a non-finite
// start is reported and leaves theta as it was, and the result is bitwise the same for any number
// of threads.
#include <cmath>
#include <limits>
#include <vector>

#include "bpcore/lbfgs_run.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::Index;
using bpcore::Init;
using bpcore::LbfgsRunSettings;
using bpcore::LbfgsStop;
using bpcore::Loss;
using bpcore::Network;

namespace {

Network<double> tanh_network() {
  Network<double> net({3, 5, 2}, {Activation::tanh, Activation::identity}, Loss::mse);
  net.initialize(Init::small_uniform, 11, 0.8);
  return net;
}

struct Data {
  Index rows = 40;
  std::vector<double> X, Y;
};

Data data() {
  Data d;
  d.X = bpcore_test::uniform<double>(d.rows * 3, 5, -1, 1);
  d.Y.resize(std::size_t(d.rows * 2));
  for (Index i = 0; i < d.rows; ++i) {
    d.Y[std::size_t(2 * i)] = std::sin(2 * d.X[std::size_t(3 * i)]);
    d.Y[std::size_t(2 * i + 1)] = d.X[std::size_t(3 * i + 1)] * d.X[std::size_t(3 * i + 2)];
  }
  return d;
}

const double* const kNoWeights = nullptr;

}  // namespace

TEST_CASE("lbfgs_run converges where dF/dtheta = dJ/dtheta + l2 W vanishes") {
  auto net = tanh_network();
  const Data d = data();
  LbfgsRunSettings s;
  s.grad_tol = 1e-8;
  s.loss_tol = 0;
  s.l2 = 0.01;
  const double J0 = net.loss(d.X.data(), d.Y.data(), kNoWeights, d.rows, 1);
  const auto r = bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s);
  CHECK(r.stop == LbfgsStop::converged_grad);
  CHECK(r.iterations > 5);
  CHECK(r.evaluations >= r.iterations + 1);
  const double J = net.backward(d.X.data(), d.Y.data(), kNoWeights, d.rows, 1);
  CHECK(r.loss == J);
  CHECK(J + r.penalty < J0);
  double worst = 0, sum = 0;
  for (const auto& l : net.layers()) {
    for (Index p = l.w_offset; p < l.w_offset + l.n_in * l.n_out; ++p) {
      worst = std::max(worst, std::abs(net.grads()[p] + s.l2 * net.params()[p]));
      sum += net.params()[p] * net.params()[p];
    }
    for (Index p = l.b_offset; p < l.b_offset + l.n_out; ++p)
      worst = std::max(worst, std::abs(net.grads()[p]));
  }
  CHECK(worst <= 1e-8);
  CHECK(std::abs(r.penalty - 0.5 * s.l2 * sum) <= 1e-15 * sum);
}

TEST_CASE("lbfgs_run stops at max_iter, after the iteration that passes max_fun, or by ftol") {
  const Data d = data();
  {
    auto net = tanh_network();
    LbfgsRunSettings s;
    s.max_iter = 4;
    s.grad_tol = 0;
    const auto r = bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s);
    CHECK(r.stop == LbfgsStop::max_iter);
    CHECK(r.iterations == 4);
  }
  {
    auto net = tanh_network();
    LbfgsRunSettings s;
    s.max_fun = 6;
    s.grad_tol = 0;
    const auto r = bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s);
    CHECK(r.stop == LbfgsStop::max_fun);
    CHECK(r.evaluations > 6);
    CHECK(r.evaluations <= 6 + s.max_linesearch);
  }
  {
    auto net = tanh_network();
    LbfgsRunSettings s;
    s.grad_tol = 0;
    s.loss_tol = 1e-3;
    const auto r = bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s);
    CHECK(r.stop == LbfgsStop::converged_loss);
    CHECK(r.iterations < s.max_iter);
  }
}

TEST_CASE("lbfgs_run reports a non-finite start and leaves theta as it was") {
  auto net = tanh_network();
  Data d = data();
  d.X[0] = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> before(net.params(), net.params() + net.n_params());
  const auto r = bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, {});
  CHECK(r.stop == LbfgsStop::nonfinite);
  CHECK(r.iterations == 0);
  CHECK(std::vector<double>(net.params(), net.params() + net.n_params()) == before);
}

TEST_CASE("lbfgs_run gives the same theta bit for bit for any number of threads") {
  const Data d = data();
  std::vector<std::vector<double>> thetas;
  for (int threads : {1, 2, 3}) {
    auto net = tanh_network();
    LbfgsRunSettings s;
    s.max_iter = 30;
    s.n_threads = threads;
    s.l2 = 0.001;
    bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s);
    thetas.emplace_back(net.params(), net.params() + net.n_params());
  }
  CHECK(thetas[0] == thetas[1]);
  CHECK(thetas[0] == thetas[2]);
}

TEST_CASE("lbfgs_run rejects settings out of range") {
  auto net = tanh_network();
  const Data d = data();
  LbfgsRunSettings s;
  s.max_fun = 0;
  CHECK_THROWS_WITH_AS(bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s),
                       doctest::Contains("max_fun"), bpcore::ArgumentError);
  s = {};
  s.l2 = -1;
  CHECK_THROWS_WITH_AS(bpcore::lbfgs_run(net, d.X.data(), d.Y.data(), kNoWeights, d.rows, s),
                       doctest::Contains("l2"), bpcore::ArgumentError);
  CHECK(bpcore::lbfgs_stop_name(LbfgsStop::max_fun) == "max_fun");
}
