// train_epoch: the notes' per-sample BP loop, mini-batches, full batch, and the all-or-nothing
// epoch (non-finite values, interruption).
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "bpcore/trainer.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::EpochOptions;
using bpcore::EpochResult;
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

constexpr Index kRows = 10, kIn = 4, kOut = 3;

Network<double> make_network() {
  Network<double> net({kIn, 5, kOut}, {Activation::sigmoid, Activation::sigmoid}, Loss::mse);
  net.initialize(Init::small_uniform, 3, 0.5);
  return net;
}

struct Data {
  std::vector<double> X = bpcore_test::uniform<double>(kRows * kIn, 1, -1, 1);
  std::vector<double> Y = bpcore_test::uniform<double>(kRows * kOut, 2, 0, 1);
  std::vector<double> w = bpcore_test::uniform<double>(kRows, 3, 0.1, 2);
};

// Rows `order[r0 … r0+nb-1]` of M (cols wide), gathered into one contiguous batch.
std::vector<double> gather(const std::vector<double>& M, Index cols,
                           const std::vector<Index>& order, Index r0, Index nb) {
  std::vector<double> out;
  for (Index i = 0; i < nb; ++i) {
    const Index src = order[std::size_t(r0 + i)];
    out.insert(out.end(), M.begin() + src * cols, M.begin() + (src + 1) * cols);
  }
  return out;
}

std::vector<Index> in_order(Index n) {
  std::vector<Index> order(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  return order;
}

// The epoch written out: for each batch of `order`, backward, then one optimizer step.
// Returns the weighted mean of the batch losses.
double epoch_by_hand(Network<double>& net, Optimizer<double>& opt, const Data& data,
                     const std::vector<Index>& order, Index batch, Index n_batches, bool weighted,
                     double lr) {
  double total = 0, weight = 0;
  for (Index bi = 0; bi < n_batches; ++bi) {
    const Index r0 = bi * batch, nb = std::min(batch, Index(order.size()) - r0);
    const auto Xb = gather(data.X, kIn, order, r0, nb);
    const auto Yb = gather(data.Y, kOut, order, r0, nb);
    const auto wb = gather(data.w, 1, order, r0, nb);
    double batch_weight = double(nb);
    if (weighted) {
      batch_weight = 0;
      for (double v : wb) batch_weight += v;
    }
    const double J = net.backward(Xb.data(), Yb.data(), weighted ? wb.data() : nullptr, nb, 1);
    total += J * batch_weight;
    weight += batch_weight;
    opt.step(net, lr);
  }
  return total / weight;
}

}  // namespace

TEST_CASE("batch_size 1 with shuffling is the notes' per-sample BP loop, exactly") {
  const Data data;
  for (const auto& info : bpcore::optimizer_table) {
    if (info.full_batch) continue;  // one iteration per epoch: test_fullbatch.cpp
    CAPTURE(info.name);
    OptimizerConfig c;
    c.kind = info.id;
    c.lr = 0.3;
    auto net = make_network(), hand = make_network();
    Optimizer<double> opt(c, net.n_params()), hand_opt(c, hand.n_params());
    for (Index epoch = 0; epoch < 3; ++epoch) {
      CAPTURE(epoch);
      EpochOptions o;
      o.batch_size = 1;
      o.shuffle = true;
      o.seed = 17;
      o.epoch = epoch;
      o.n_threads = 1;
      const EpochResult r =
          bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
      const auto order = bpcore::epoch_permutation(kRows, 17, std::uint64_t(epoch));
      const double J = epoch_by_hand(hand, hand_opt, data, order, 1, kRows, false, 0.3);
      CHECK(r.status == EpochStatus::ok);
      CHECK(r.batches == kRows);
      CHECK(r.samples == kRows);
      CHECK(r.lr == 0.3);
      CHECK(r.loss == J);
      CHECK(same_bits(params_of(net), params_of(hand)));
    }
    CHECK(opt.steps() == 3 * kRows);
  }
}

TEST_CASE("an epoch lowers the loss of the notes' rule (gradient descent, not ascent)") {
  const Data data;
  auto net = make_network();
  OptimizerConfig c;
  c.lr = 0.5;
  Optimizer<double> opt(c, net.n_params());
  const double before = net.loss(data.X.data(), data.Y.data(), nullptr, kRows, 1);
  EpochOptions o;
  for (Index epoch = 0; epoch < 20; ++epoch) {
    o.epoch = epoch;
    REQUIRE(bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o)
                .status == EpochStatus::ok);
  }
  CHECK(net.loss(data.X.data(), data.Y.data(), nullptr, kRows, 1) < 0.9 * before);
}

TEST_CASE("mini-batches with sample weights, shuffled, equal the loop by hand") {
  const Data data;
  OptimizerConfig c;
  c.kind = OptimizerKind::adam;
  c.lr = 0.01;
  c.schedule = bpcore::Schedule::step;
  c.step_size = 2;
  c.gamma = 0.5;
  auto net = make_network(), hand = make_network();
  Optimizer<double> opt(c, net.n_params()), hand_opt(c, hand.n_params());
  EpochOptions o;
  o.batch_size = 4;
  o.seed = 5;
  o.epoch = 3;
  const EpochResult r =
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), data.w.data(), kRows, o);
  const auto order = bpcore::epoch_permutation(kRows, 5, 3);
  const double J = epoch_by_hand(hand, hand_opt, data, order, 4, 3, true, 0.005);
  CHECK(r.status == EpochStatus::ok);
  CHECK(r.lr == 0.005);  // step schedule: 0.01 * 0.5^floor(3 / 2)
  CHECK(r.batches == 3);
  CHECK(r.samples == kRows);
  CHECK(r.loss == doctest::Approx(J).epsilon(1e-15));
  CHECK(same_bits(params_of(net), params_of(hand)));
}

TEST_CASE("the epoch's loss is the weighted mean of J over its samples") {
  // with lr tiny the batches see (almost) the starting parameters: the epoch loss is then the loss
  const Data data;
  auto net = make_network();
  OptimizerConfig c;
  c.lr = 1e-12;
  Optimizer<double> opt(c, net.n_params());
  for (bool weighted : {false, true}) {
    CAPTURE(weighted);
    const double* w = weighted ? data.w.data() : nullptr;
    const double J = net.loss(data.X.data(), data.Y.data(), w, kRows, 1);
    for (Index batch : {1, 3, 4, 10}) {
      CAPTURE(batch);
      EpochOptions o;
      o.batch_size = batch;
      const EpochResult r =
          bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), w, kRows, o);
      CHECK(r.loss == doctest::Approx(J).epsilon(1e-9));
    }
  }
}

TEST_CASE("full batch (batch_size 0) is one backward on every row and one step") {
  const Data data;
  for (bool shuffle : {false, true}) {
    CAPTURE(shuffle);
    OptimizerConfig c;
    c.kind = OptimizerKind::nesterov;
    c.lr = 0.2;
    auto net = make_network(), hand = make_network();
    Optimizer<double> opt(c, net.n_params()), hand_opt(c, hand.n_params());
    EpochOptions o;
    o.batch_size = 0;
    o.shuffle = shuffle;
    o.seed = 8;
    const EpochResult r =
        bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
    const auto order = shuffle ? bpcore::epoch_permutation(kRows, 8, 0) : in_order(kRows);
    const double J = epoch_by_hand(hand, hand_opt, data, order, kRows, 1, false, 0.2);
    CHECK(r.status == EpochStatus::ok);
    CHECK(r.batches == 1);
    CHECK(r.samples == kRows);
    CHECK(r.loss == J);
    CHECK(same_bits(params_of(net), params_of(hand)));
  }
}

TEST_CASE("drop_last skips the short last batch") {
  const Data data;
  for (bool drop_last : {false, true}) {
    CAPTURE(drop_last);
    auto net = make_network(), hand = make_network();
    OptimizerConfig c;
    c.kind = OptimizerKind::momentum;
    c.lr = 0.1;
    Optimizer<double> opt(c, net.n_params()), hand_opt(c, hand.n_params());
    EpochOptions o;
    o.batch_size = 4;
    o.shuffle = false;
    o.drop_last = drop_last;
    const EpochResult r =
        bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
    const Index n_batches = drop_last ? 2 : 3;
    const double J = epoch_by_hand(hand, hand_opt, data, in_order(kRows), 4, n_batches, false, 0.1);
    CHECK(r.batches == n_batches);
    CHECK(r.samples == (drop_last ? 8 : 10));
    CHECK(r.loss == J);
    CHECK(same_bits(params_of(net), params_of(hand)));
  }
}

TEST_CASE(
    "drop_last with a batch larger than the data leaves no batch: an error, nothing trained") {
  const Data data;
  auto net = make_network();
  const auto start = params_of(net);
  OptimizerConfig c;
  Optimizer<double> opt(c, net.n_params());
  EpochOptions o;
  o.batch_size = kRows + 1;
  o.drop_last = true;
  CHECK_THROWS_AS(
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o),
      ArgumentError);
  CHECK(same_bits(params_of(net), start));
  o.drop_last = false;  // without drop_last the whole data set is one batch
  const EpochResult r =
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  CHECK(r.batches == 1);
  CHECK(r.samples == kRows);
}

TEST_CASE("a batch whose weights are all zero is skipped") {
  Data data;
  for (Index i = 0; i < 4; ++i) data.w[std::size_t(i)] = 0;
  auto net = make_network(), hand = make_network();
  OptimizerConfig c;
  c.lr = 0.1;
  Optimizer<double> opt(c, net.n_params()), hand_opt(c, hand.n_params());
  EpochOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  const EpochResult r =
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), data.w.data(), kRows, o);
  CHECK(r.status == EpochStatus::ok);
  CHECK(r.batches == 2);
  CHECK(r.samples == 6);
  CHECK(opt.steps() == 2);
  // the hand loop over rows 4 … 9 only
  std::vector<Index> order;
  for (Index i = 4; i < kRows; ++i) order.push_back(i);
  const double J = epoch_by_hand(hand, hand_opt, data, order, 4, 2, true, 0.1);
  CHECK(r.loss == doctest::Approx(J).epsilon(1e-15));
  CHECK(same_bits(params_of(net), params_of(hand)));
}

TEST_CASE("a NaN in X gives nonfinite and the epoch-start parameters and optimizer state") {
  Data data;
  OptimizerConfig c;
  c.kind = OptimizerKind::adam;
  c.lr = 0.05;
  auto net = make_network(), twin = make_network();
  Optimizer<double> opt(c, net.n_params()), twin_opt(c, twin.n_params());
  EpochOptions o;
  o.batch_size = 2;
  // one good epoch first, so that the optimizer has state to keep
  bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  bpcore::train_epoch<double>(twin, twin_opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  const auto start = params_of(net);
  const Index steps = opt.steps();

  auto bad = data;
  bad.X[std::size_t(7 * kIn + 2)] = std::numeric_limits<double>::quiet_NaN();
  o.epoch = 1;
  const EpochResult r =
      bpcore::train_epoch<double>(net, opt, bad.X.data(), bad.Y.data(), nullptr, kRows, o);
  CHECK(r.status == EpochStatus::nonfinite);
  CHECK(same_bits(params_of(net), start));
  CHECK(opt.steps() == steps);
  // the next epoch continues as if the bad one never ran
  bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  bpcore::train_epoch<double>(twin, twin_opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  CHECK(same_bits(params_of(net), params_of(twin)));
}

TEST_CASE("diverging parameters give nonfinite and the epoch-start parameters") {
  const Data data;
  Network<double> net({kIn, kOut}, {Activation::identity}, Loss::mse);
  net.initialize(Init::small_uniform, 1);
  const auto start = params_of(net);
  OptimizerConfig c;
  c.lr = 1e300;
  Optimizer<double> opt(c, net.n_params());
  EpochOptions o;
  o.shuffle = false;
  const EpochResult r =
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  CHECK(r.status == EpochStatus::nonfinite);
  CHECK(same_bits(params_of(net), start));
  CHECK(opt.steps() == 0);
}

TEST_CASE("poll returning true interrupts and restores the epoch-start parameters") {
  const Data data;
  auto net = make_network();
  OptimizerConfig c;
  c.kind = OptimizerKind::momentum;
  c.lr = 0.2;
  Optimizer<double> opt(c, net.n_params());
  const auto start = params_of(net);
  int calls = 0;
  const std::function<bool()> poll = [&] { return ++calls == 3; };
  EpochOptions o;
  o.batch_size = 2;
  const EpochResult r =
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o, &poll);
  CHECK(r.status == EpochStatus::interrupted);
  CHECK(calls == 3);
  CHECK(r.batches == 3);
  CHECK(same_bits(params_of(net), start));
  CHECK(opt.steps() == 0);

  // a poll that never asks to stop is called once per batch and changes nothing
  calls = 0;
  const std::function<bool()> never = [&] {
    ++calls;
    return false;
  };
  auto twin = make_network();
  Optimizer<double> twin_opt(c, twin.n_params());
  const EpochResult ok = bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(),
                                                     nullptr, kRows, o, &never);
  bpcore::train_epoch<double>(twin, twin_opt, data.X.data(), data.Y.data(), nullptr, kRows, o);
  CHECK(ok.status == EpochStatus::ok);
  CHECK(calls == 5);
  CHECK(same_bits(params_of(net), params_of(twin)));
}

TEST_CASE("train_epoch rejects bad arguments") {
  const Data data;
  auto net = make_network();
  Optimizer<double> opt(OptimizerConfig{}, net.n_params());
  EpochOptions o;
  CHECK_THROWS_AS(
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, 0, o),
      ArgumentError);
  o.batch_size = -1;
  CHECK_THROWS_WITH_AS(
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o),
      doctest::Contains("batch_size"), ArgumentError);
  o.batch_size = 1;
  o.epoch = -1;
  CHECK_THROWS_AS(
      bpcore::train_epoch<double>(net, opt, data.X.data(), data.Y.data(), nullptr, kRows, o),
      ArgumentError);
  Optimizer<double> wrong(OptimizerConfig{}, net.n_params() + 2);
  o.epoch = 0;
  CHECK_THROWS_AS(
      bpcore::train_epoch<double>(net, wrong, data.X.data(), data.Y.data(), nullptr, kRows, o),
      ArgumentError);
}

TEST_CASE("float training follows double to float precision") {
  const Data data;
  Network<float> nf({kIn, 5, kOut}, {Activation::tanh, Activation::identity}, Loss::mse);
  Network<double> nd({kIn, 5, kOut}, {Activation::tanh, Activation::identity}, Loss::mse);
  nf.initialize(Init::xavier, 6);
  nd.initialize(Init::xavier, 6);
  std::vector<float> Xf(data.X.size()), Yf(data.Y.size());
  std::vector<double> Xd(data.X.size()), Yd(data.Y.size());
  for (std::size_t i = 0; i < Xf.size(); ++i) Xd[i] = Xf[i] = float(data.X[i]);
  for (std::size_t i = 0; i < Yf.size(); ++i) Yd[i] = Yf[i] = float(data.Y[i]);
  OptimizerConfig c;
  c.lr = 0.1;
  Optimizer<float> of(c, nf.n_params());
  Optimizer<double> od(c, nd.n_params());
  EpochOptions o;
  o.batch_size = 3;
  for (Index e = 0; e < 3; ++e) {
    o.epoch = e;
    const auto rf = bpcore::train_epoch<float>(nf, of, Xf.data(), Yf.data(), nullptr, kRows, o);
    const auto rd = bpcore::train_epoch<double>(nd, od, Xd.data(), Yd.data(), nullptr, kRows, o);
    CHECK(rf.loss == doctest::Approx(rd.loss).epsilon(1e-5));
  }
  CHECK(bpcore_test::max_relative_error(nf.params(), nd.params(), nd.n_params(), 1e-1) < 1e-5);
}
