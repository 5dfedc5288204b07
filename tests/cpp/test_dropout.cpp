// Inverted dropout (dropout.hpp): the masks, their rescaling, the gradient under a fixed mask
// against central differences, and training with masks that follow the data set's row index:
// reproducible, bitwise the same for any thread count and batch cut, and p = 0 is no dropout.
#include <cmath>
#include <cstdint>
#include <vector>

#include "bpcore/fullbatch.hpp"
#include "bpcore/trainer.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::DropoutRows;
using bpcore::EpochOptions;
using bpcore::EpochStatus;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore::Optimizer;
using bpcore::OptimizerConfig;
using bpcore::OptimizerKind;
using bpcore_test::params_of;
using bpcore_test::same_bits;

namespace {

constexpr Index kIn = 3, kOut = 2;

Network<double> make_network(std::vector<Index> hidden, Activation f, std::vector<double> rates) {
  std::vector<Index> sizes{kIn};
  std::vector<Activation> fs;
  for (Index n : hidden) {
    sizes.push_back(n);
    fs.push_back(f);
  }
  sizes.push_back(kOut);
  fs.push_back(Activation::identity);
  Network<double> net(sizes, fs, Loss::mse);
  net.initialize(Init::small_uniform, 5, 0.8);
  net.set_dropout(std::move(rates));
  return net;
}

struct Data {
  explicit Data(Index n)
      : rows(n),
        X(bpcore_test::uniform<double>(n * kIn, 31, -1.5, 1.5)),
        Y(bpcore_test::uniform<double>(n * kOut, 32, -1, 1)) {}
  Index rows;
  std::vector<double> X, Y;
};

// The masked J and gradient of a batch with the rows' masks set.
double masked_backward(Network<double>& net, const Data& d, const DropoutRows& rows, int threads) {
  net.set_dropout_rows(&rows);
  const double J = net.backward(d.X.data(), d.Y.data(), nullptr, d.rows, threads);
  net.set_dropout_rows(nullptr);
  return J;
}

std::vector<double> grads_of(const Network<double>& net) {
  return std::vector<double>(net.grads(), net.grads() + net.n_params());
}

std::vector<double> train(Network<double> net, const Data& d, OptimizerKind kind, Index batch,
                          bool shuffle, int threads, Index epochs = 3) {
  OptimizerConfig c;
  c.kind = kind;
  c.lr = kind == OptimizerKind::adam ? 0.01 : 0.2;
  Optimizer<double> opt(c, net.n_params());
  EpochOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = 17;
  o.n_threads = threads;
  for (Index e = 0; e < epochs; ++e) {
    o.epoch = e;
    const auto r =
        bpcore::train_epoch<double>(net, opt, d.X.data(), d.Y.data(), nullptr, d.rows, o);
    REQUIRE(r.status == EpochStatus::ok);
  }
  return params_of(net);
}

}  // namespace

TEST_CASE("a mask is a hash of (seed, epoch, layer, row, unit) with P(drop) = p") {
  const std::uint64_t key = bpcore::dropout_key(7, 2, 1);
  CHECK(bpcore::dropout_uniform(key, 5, 3) == bpcore::dropout_uniform(key, 5, 3));
  CHECK(bpcore::dropout_uniform(key, 5, 3) != bpcore::dropout_uniform(key, 6, 3));
  CHECK(bpcore::dropout_uniform(key, 5, 3) != bpcore::dropout_uniform(key, 5, 4));
  CHECK(key != bpcore::dropout_key(7, 3, 1));  // another epoch
  CHECK(key != bpcore::dropout_key(7, 2, 0));  // another layer
  CHECK(key != bpcore::dropout_key(8, 2, 1));  // another seed
  for (double p : {0.1, 0.5, 0.8}) {
    CAPTURE(p);
    const Index rows = 2000, width = 10;
    std::vector<double> factor(std::size_t(rows * width));
    DropoutRows r{3, 0, nullptr, 100};
    bpcore::dropout_factors(key, p, r, 0, rows, width, factor.data());
    // the factors are dropout_uniform's draws against p
    for (Index i = 0; i < 3; ++i)
      for (Index j = 0; j < width; ++j)
        CHECK((factor[std::size_t(i * width + j)] != 0) ==
              (bpcore::dropout_uniform(key, 100 + i, j) >= p));
    double kept = 0, mean = 0;
    for (double m : factor) {
      CHECK((m == 0 || m == 1.0 / (1.0 - p)));
      kept += m != 0;
      mean += m;
    }
    const double N = double(rows * width);
    // 5 standard deviations of a binomial share
    CHECK(std::abs(kept / N - (1 - p)) < 5 * std::sqrt(p * (1 - p) / N));
    // rescaled: E[M / (1 - p)] = 1
    CHECK(std::abs(mean / N - 1) < 5 * std::sqrt(p / (1 - p) / N));
    // rows are named by their index in the data set: ids or first + i give the same factors
    std::vector<Index> ids(static_cast<std::size_t>(rows));
    for (Index i = 0; i < rows; ++i) ids[std::size_t(i)] = 100 + i;
    std::vector<double> again(factor.size());
    bpcore::dropout_factors(key, p, DropoutRows{3, 0, ids.data(), 0}, 0, rows, width, again.data());
    CHECK(same_bits(factor, again));
  }
}

TEST_CASE("masked H has the mean of H (inverted dropout), and evaluation uses no mask") {
  // constant inputs: every row has the same f(Z^[1]); the masked mean over rows must return to it
  const Index n = 4000;
  auto net = make_network({6}, Activation::sigmoid, {0.4});
  std::vector<double> X(std::size_t(n * kIn), 0.3);
  net.forward(X.data(), n, 1);
  const Eigen::MatrixXd H = net.cached_H(0);
  CHECK_FALSE(net.has_mask(0));
  DropoutRows rows{11, 4, nullptr, 0};
  net.set_dropout_rows(&rows);
  net.forward(X.data(), n, 1);
  net.set_dropout_rows(nullptr);
  REQUIRE(net.has_mask(0));
  CHECK_FALSE(net.has_mask(1));  // the output layer is never masked
  const Eigen::MatrixXd Hd = net.cached_H(0);
  const auto M = net.cached_mask(0);
  for (Index j = 0; j < 6; ++j) {
    const double h = H(0, j), mean = Hd.col(j).mean();
    // sd of the mean of h M / (1 - p): h sqrt(p / (1 - p) / n)
    CHECK(std::abs(mean - h) < 5 * h * std::sqrt(0.4 / 0.6 / double(n)));
    for (Index i = 0; i < n; ++i) CHECK(Hd(i, j) == H(i, j) * M(i, j));
  }
  // predict and loss never mask
  std::vector<double> out(std::size_t(n * kOut));
  net.predict(X.data(), n, out.data(), 1);
  net.forward(X.data(), n, 1);
  CHECK_FALSE(net.has_mask(0));
  const Eigen::MatrixXd Yhat = net.cached_H(1);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < kOut; ++j) CHECK(out[std::size_t(i * kOut + j)] == Yhat(i, j));
  CHECK_THROWS_AS(net.cached_mask(0), ArgumentError);
}

TEST_CASE("the gradient with a fixed mask matches central differences of the masked J") {
  // sigmoid and tanh take f' from H (which the mask must not spoil), prelu's alpha sees the mask
  const Data d(9);
  const double h = 1e-6;
  for (Activation f :
       {Activation::sigmoid, Activation::tanh, Activation::prelu, Activation::identity}) {
    for (const std::vector<double>& rates :
         {std::vector<double>{0.5, 0.3}, std::vector<double>{0.0, 0.6}}) {
      CAPTURE(bpcore::activation_name(f));
      CAPTURE(rates[0]);
      auto net = make_network({5, 4}, f, rates);
      const DropoutRows rows{23, 1, nullptr, 40};
      masked_backward(net, d, rows, 1);
      const auto g = grads_of(net);
      double* theta = net.params();
      std::vector<double> fd(g.size());
      for (Index p = 0; p < net.n_params(); ++p) {
        const double saved = theta[p];
        theta[p] = saved + h;
        const double J_plus = masked_backward(net, d, rows, 1);
        theta[p] = saved - h;
        const double J_minus = masked_backward(net, d, rows, 1);
        theta[p] = saved;
        fd[std::size_t(p)] = (J_plus - J_minus) / (2 * h);
      }
      CHECK(bpcore_test::norm_relative_error(g.data(), fd.data(), net.n_params()) < 1e-7);
      CHECK(bpcore_test::max_relative_error(g.data(), fd.data(), net.n_params(), 1e-3) < 1e-6);
      // the mask matters: the unmasked gradient is another one
      net.backward(d.X.data(), d.Y.data(), nullptr, d.rows, 1);
      CHECK(bpcore_test::norm_relative_error(net.grads(), g.data(), net.n_params()) > 1e-3);
      // prelu: dJ/dalpha is tested through the mask as well
      for (Index k = 0; k < net.n_layers(); ++k)
        if (net.layer(k).alpha_offset >= 0)
          CHECK(std::abs(fd[std::size_t(net.layer(k).alpha_offset)]) > 1e-8);
    }
  }
}

TEST_CASE("masks follow the row's index in the data set, not its batch or thread") {
  // 300 rows: several row blocks, so threads share the batch
  const Data d(300);
  auto net = make_network({40, 30}, Activation::tanh, {0.5, 0.25});
  const DropoutRows rows{5, 2, nullptr, 0};
  const double J1 = masked_backward(net, d, rows, 1);
  const auto g1 = grads_of(net);
  const Eigen::MatrixXd M1 = net.cached_mask(0);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    CHECK(masked_backward(net, d, rows, threads) == J1);
    CHECK(same_bits(grads_of(net), g1));
  }
  // rows 100 … 299 on their own see the masks they had in the whole batch
  Data tail(200);
  tail.X.assign(d.X.begin() + 100 * kIn, d.X.end());
  tail.Y.assign(d.Y.begin() + 100 * kOut, d.Y.end());
  masked_backward(net, tail, DropoutRows{5, 2, nullptr, 100}, 1);
  const auto M2 = net.cached_mask(0);
  CHECK(M2 == M1.bottomRows(200));
  std::vector<Index> ids(static_cast<std::size_t>(200));
  for (Index i = 0; i < 200; ++i) ids[std::size_t(i)] = 100 + i;
  masked_backward(net, tail, DropoutRows{5, 2, ids.data(), 0}, 1);
  CHECK(net.cached_mask(0) == M1.bottomRows(200));
}

TEST_CASE("dropout training: reproducible, the same for any thread count, p = 0 is none") {
  const Data d(150);
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam}) {
    for (Index batch : {1, 16, 150}) {
      for (bool shuffle : {true, false}) {
        CAPTURE(bpcore::optimizer_name(kind));
        CAPTURE(batch);
        CAPTURE(shuffle);
        const auto net = make_network({24, 12}, Activation::sigmoid, {0.3, 0.2});
        const auto a = train(net, d, kind, batch, shuffle, 1);
        CHECK(same_bits(train(net, d, kind, batch, shuffle, 1), a));  // same seed, same result
        CHECK(same_bits(train(net, d, kind, batch, shuffle, 2), a));  // and for 2 threads
        // dropout changed the training
        const auto none = make_network({24, 12}, Activation::sigmoid, {0.0, 0.0});
        const auto b = train(none, d, kind, batch, shuffle, 1);
        CHECK_FALSE(same_bits(a, b));
        // p = 0 everywhere is bitwise no dropout (a network that never had it)
        Network<double> plain({kIn, 24, 12, kOut},
                              {Activation::sigmoid, Activation::sigmoid, Activation::identity},
                              Loss::mse);
        plain.initialize(Init::small_uniform, 5, 0.8);
        CHECK(same_bits(train(plain, d, kind, batch, shuffle, 1), b));
      }
    }
  }
}

TEST_CASE("the online epoch with dropout equals masked backward and sgd on each row") {
  const Data d(12);
  auto net = make_network({4}, Activation::tanh, {0.5});
  auto by_hand = net;
  OptimizerConfig c;
  c.lr = 0.3;
  Optimizer<double> opt(c, net.n_params());
  EpochOptions o;
  o.batch_size = 1;
  o.seed = 9;
  o.epoch = 2;
  REQUIRE(
      bpcore::train_epoch<double>(net, opt, d.X.data(), d.Y.data(), nullptr, d.rows, o).status ==
      EpochStatus::ok);
  const auto order = bpcore::epoch_permutation(d.rows, 9, 2);
  for (Index src : order) {
    DropoutRows rows{9, 2, nullptr, src};
    by_hand.set_dropout_rows(&rows);
    by_hand.backward(d.X.data() + src * kIn, d.Y.data() + src * kOut, nullptr, 1, 1);
    by_hand.set_dropout_rows(nullptr);
    for (Index p = 0; p < by_hand.n_params(); ++p) by_hand.params()[p] -= 0.3 * by_hand.grads()[p];
  }
  CHECK(bpcore_test::max_relative_error(net.params(), by_hand.params(), net.n_params(), 1e-6) <
        1e-14);
}

TEST_CASE("bad rates throw, and the full-batch optimizers refuse dropout") {
  auto net = make_network({4, 3}, Activation::sigmoid, {0.0, 0.0});
  CHECK_THROWS_AS(net.set_dropout({0.5}), ArgumentError);  // one per hidden layer
  CHECK_THROWS_AS(net.set_dropout({0.5, 1.0}), ArgumentError);
  CHECK_THROWS_AS(net.set_dropout({-0.1, 0.0}), ArgumentError);
  CHECK_THROWS_AS(net.set_dropout({NAN, 0.0}), ArgumentError);
  CHECK_FALSE(net.has_dropout());
  net.set_dropout({0.0, 0.5});
  CHECK(net.has_dropout());
  const Data d(8);
  for (const auto& info : bpcore::optimizer_table) {
    CAPTURE(info.name);
    OptimizerConfig c;
    c.kind = info.id;
    Optimizer<double> opt(c, net.n_params());
    EpochOptions o;
    o.batch_size = 0;
    const auto before = params_of(net);
    if (!info.full_batch) {
      CHECK(bpcore::train_epoch<double>(net, opt, d.X.data(), d.Y.data(), nullptr, d.rows, o)
                .status == EpochStatus::ok);
      continue;
    }
    if (info.id == OptimizerKind::rprop)
      CHECK_THROWS_WITH_AS(
          bpcore::train_epoch<double>(net, opt, d.X.data(), d.Y.data(), nullptr, d.rows, o),
          doctest::Contains("dropout needs a mini-batch optimizer"), ArgumentError);
    else
      CHECK_THROWS_WITH_AS(
          bpcore::fullbatch_epoch<double>(net, opt, d.X.data(), d.Y.data(), nullptr, d.rows, o),
          doctest::Contains("dropout needs a mini-batch optimizer"), ArgumentError);
    CHECK(same_bits(params_of(net), before));
  }
}
