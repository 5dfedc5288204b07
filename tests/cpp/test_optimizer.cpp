// Optimizers against their update formulas, weight decay, learning-rate schedules, validation.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "bpcore/optimizer.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore::Optimizer;
using bpcore::OptimizerConfig;
using bpcore::OptimizerKind;
using bpcore::Schedule;

namespace {

// A small network with a prelu layer, so that theta holds W, b and alpha entries.
template <class T>
Network<T> small_network() {
  Network<T> net({3, 4, 2}, {Activation::prelu, Activation::identity}, Loss::mse);
  net.initialize(Init::small_uniform, 4, 0.5);
  return net;
}

// The gradient of step t (t = 1, 2, 3): fixed numbers, different at every step.
std::vector<double> gradient_at(Index n, int t) {
  auto g = bpcore_test::uniform<double>(n, std::uint64_t(100 + t), -1, 1);
  g[0] = 0;  // a zero gradient entry
  return g;
}

bool is_weight(const Network<double>& net, Index p) {
  for (const auto& s : net.layers())
    if (p >= s.w_offset && p < s.w_offset + s.n_in * s.n_out) return true;
  return false;
}

// theta after 3 steps of `config`, computed from the formulas of optimizer.hpp with plain loops.
std::vector<double> by_hand(const Network<double>& net, const OptimizerConfig& c, double lr) {
  const Index n = net.n_params();
  std::vector<double> theta(net.params(), net.params() + n), v(std::size_t(n), 0.0),
      m(std::size_t(n), 0.0), s(std::size_t(n), 0.0);
  for (int t = 1; t <= 3; ++t) {
    auto g = gradient_at(n, t);
    for (Index p = 0; p < n; ++p) {
      const std::size_t i = std::size_t(p);
      if (is_weight(net, p)) g[i] += c.weight_decay * theta[i];  // L2 on W^[l] only
      switch (c.kind) {
        case OptimizerKind::sgd:
          theta[i] -= lr * g[i];
          break;
        case OptimizerKind::momentum:
          v[i] = c.momentum * v[i] - lr * g[i];
          theta[i] += v[i];
          break;
        case OptimizerKind::nesterov:
          v[i] = c.momentum * v[i] - lr * g[i];
          theta[i] += c.momentum * v[i] - lr * g[i];
          break;
        case OptimizerKind::adam: {
          m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
          s[i] = c.beta2 * s[i] + (1 - c.beta2) * g[i] * g[i];
          const double m_hat = m[i] / (1 - std::pow(c.beta1, t));
          const double s_hat = s[i] / (1 - std::pow(c.beta2, t));
          theta[i] -= lr * m_hat / (std::sqrt(s_hat) + c.epsilon);
          break;
        }
        case OptimizerKind::rprop:  // the full-batch rules: test_fullbatch.cpp
        case OptimizerKind::lbfgs:
        case OptimizerKind::lm:
          break;
      }
    }
  }
  return theta;
}

template <class T>
void set_gradient(Network<T>& net, int t) {
  const auto g = gradient_at(net.n_params(), t);
  for (Index p = 0; p < net.n_params(); ++p) net.grads()[p] = T(g[std::size_t(p)]);
}

}  // namespace

TEST_CASE("sgd, momentum, nesterov and adam follow their formulas over 3 steps") {
  for (const auto& info : bpcore::optimizer_table) {
    if (info.full_batch) continue;  // tested in test_fullbatch.cpp
    for (double weight_decay : {0.0, 0.05}) {
      CAPTURE(info.name);
      CAPTURE(weight_decay);
      OptimizerConfig c;
      c.kind = info.id;
      c.momentum = 0.8;
      c.beta1 = 0.85;
      c.beta2 = 0.99;
      c.epsilon = 1e-6;
      c.weight_decay = weight_decay;
      const double lr = 0.07;
      auto net = small_network<double>();
      const auto expected = by_hand(net, c, lr);
      Optimizer<double> opt(c, net.n_params());
      CHECK(opt.steps() == 0);
      CHECK(opt.n_params() == net.n_params());
      for (int t = 1; t <= 3; ++t) {
        set_gradient(net, t);
        opt.step(net, lr);
        CHECK(opt.steps() == t);
      }
      CHECK(bpcore_test::max_relative_error(net.params(), expected.data(), net.n_params(), 1e-3) <
            1e-13);
    }
  }
}

TEST_CASE("float optimizers agree with double to float precision") {
  for (const auto& info : bpcore::optimizer_table) {
    if (info.full_batch) continue;  // tested in test_fullbatch.cpp
    CAPTURE(info.name);
    OptimizerConfig c;
    c.kind = info.id;
    c.weight_decay = 0.01;
    auto nd = small_network<double>();
    auto nf = small_network<float>();
    Optimizer<double> od(c, nd.n_params());
    Optimizer<float> of(c, nf.n_params());
    for (int t = 1; t <= 3; ++t) {
      set_gradient(nd, t);
      set_gradient(nf, t);
      od.step(nd, 0.05);
      of.step(nf, 0.05);
    }
    // |theta| < 1: compared in absolute terms
    CHECK(bpcore_test::max_relative_error(nf.params(), nd.params(), nd.n_params(), 1.0) < 1e-6);
  }
}

TEST_CASE("weight decay shrinks W^[l] only, not b^[l] or alpha") {
  auto net = small_network<double>();
  const std::vector<double> start(net.params(), net.params() + net.n_params());
  OptimizerConfig c;
  c.weight_decay = 0.5;
  Optimizer<double> opt(c, net.n_params());
  for (Index p = 0; p < net.n_params(); ++p) net.grads()[p] = 0;
  opt.step(net, 0.1);
  // W <- W - lr lambda W = 0.95 W;  b and alpha stay
  Index weights = 0;
  for (Index p = 0; p < net.n_params(); ++p) {
    CAPTURE(p);
    if (is_weight(net, p)) {
      ++weights;
      CHECK(net.params()[p] == doctest::Approx(0.95 * start[std::size_t(p)]).epsilon(1e-15));
    } else {
      CHECK(net.params()[p] == start[std::size_t(p)]);
    }
  }
  CHECK(weights == 3 * 4 + 4 * 2);
  CHECK(net.alpha(0) == 0.25);
  // the decay is applied on the side: grads() still holds dJ/dtheta
  for (Index p = 0; p < net.n_params(); ++p) CHECK(net.grads()[p] == 0.0);
}

TEST_CASE("learning_rate of each schedule") {
  OptimizerConfig c;
  c.lr = 0.8;
  c.schedule = Schedule::constant;
  for (Index e : {0, 1, 7, 1000}) CHECK(bpcore::learning_rate(c, e) == 0.8);

  // invscaling: lr / (e + 1)^power_t
  c.schedule = Schedule::invscaling;
  c.power_t = 0.5;
  CHECK(bpcore::learning_rate(c, 0) == 0.8);
  CHECK(bpcore::learning_rate(c, 3) == doctest::Approx(0.4).epsilon(1e-15));
  CHECK(bpcore::learning_rate(c, 99) == doctest::Approx(0.08).epsilon(1e-15));
  c.power_t = 1;
  CHECK(bpcore::learning_rate(c, 4) == doctest::Approx(0.16).epsilon(1e-15));
  c.power_t = 0;
  CHECK(bpcore::learning_rate(c, 4) == 0.8);

  // step: lr gamma^floor(e / step_size)
  c.schedule = Schedule::step;
  c.step_size = 10;
  c.gamma = 0.5;
  CHECK(bpcore::learning_rate(c, 0) == 0.8);
  CHECK(bpcore::learning_rate(c, 9) == 0.8);
  CHECK(bpcore::learning_rate(c, 10) == doctest::Approx(0.4).epsilon(1e-15));
  CHECK(bpcore::learning_rate(c, 19) == doctest::Approx(0.4).epsilon(1e-15));
  CHECK(bpcore::learning_rate(c, 25) == doctest::Approx(0.2).epsilon(1e-15));
  c.step_size = 1;
  c.gamma = 0.9;
  CHECK(bpcore::learning_rate(c, 3) == doctest::Approx(0.8 * 0.729).epsilon(1e-15));
}

TEST_CASE("OptimizerConfig's defaults are the notes' alpha and the usual ones") {
  const OptimizerConfig c;
  CHECK(c.kind == OptimizerKind::sgd);
  CHECK(c.lr == 0.5);
  CHECK(c.momentum == 0.9);
  CHECK(c.beta1 == 0.9);
  CHECK(c.beta2 == 0.999);
  CHECK(c.epsilon == 1e-8);
  CHECK(c.weight_decay == 0.0);
  CHECK(c.schedule == bpcore::Schedule::constant);
  CHECK(c.power_t == 0.5);
  CHECK(c.step_size == 10);
  CHECK(c.gamma == 0.1);
}

TEST_CASE("validate_config's messages start with the field and give the value") {
  OptimizerConfig c;
  c.lr = 0;
  CHECK_THROWS_WITH_AS(bpcore::validate_config(c), "lr must be a positive number; got 0",
                       ArgumentError);
  c = OptimizerConfig{};
  c.beta1 = 1;
  CHECK_THROWS_WITH_AS(bpcore::validate_config(c), "beta1 must be a number in [0, 1); got 1",
                       ArgumentError);
  c = OptimizerConfig{};
  c.gamma = 1.5;
  CHECK_THROWS_WITH_AS(bpcore::validate_config(c), "gamma must be a number in (0, 1]; got 1.5",
                       ArgumentError);
  c = OptimizerConfig{};
  c.epsilon = -1e-8;
  CHECK_THROWS_WITH_AS(bpcore::validate_config(c), "epsilon must be a positive number; got -1e-08",
                       ArgumentError);
  c = OptimizerConfig{};
  c.step_size = 0;
  CHECK_THROWS_WITH_AS(bpcore::validate_config(c), "step_size must be a positive integer; got 0",
                       ArgumentError);
}

TEST_CASE("the optimizer table lists each rule's options") {
  for (const auto& info : bpcore::optimizer_table) {
    CAPTURE(info.name);
    const auto options = bpcore::split_words(info.options);
    REQUIRE_FALSE(options.empty());
    if (info.id != OptimizerKind::lbfgs && info.id != OptimizerKind::lm)
      CHECK(options.front() == "lr");  // every rule with a step length has a learning rate
    CHECK(&bpcore::optimizer_info(info.id) == &info);
  }
  using Words = std::vector<std::string_view>;
  CHECK(bpcore::split_words(bpcore::optimizer_info(OptimizerKind::adam).options) ==
        Words{"lr", "beta1", "beta2", "epsilon"});
  CHECK(bpcore::split_words(bpcore::common_optimizer_options) ==
        Words{"weight_decay", "schedule", "power_t", "step_size", "gamma"});
  CHECK(bpcore::split_words("  a  b ") == Words{"a", "b"});
  CHECK(bpcore::split_words("").empty());
}

TEST_CASE("validate rejects bad configs and names the field") {
  CHECK_NOTHROW(bpcore::validate_config(OptimizerConfig{}));
  using Setter = void (*)(OptimizerConfig&, double);
  struct Bad {
    const char* field;
    Setter set;
    std::vector<double> values;  // each must be rejected
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Bad cases[] = {
      {"lr", [](OptimizerConfig& c, double v) { c.lr = v; }, {0, -0.1, nan, INFINITY}},
      {"momentum", [](OptimizerConfig& c, double v) { c.momentum = v; }, {1, 1.5, -0.1, nan}},
      {"beta1", [](OptimizerConfig& c, double v) { c.beta1 = v; }, {1, -0.1, nan}},
      {"beta2", [](OptimizerConfig& c, double v) { c.beta2 = v; }, {1, 2, -1e-9, nan}},
      {"epsilon", [](OptimizerConfig& c, double v) { c.epsilon = v; }, {0, -1e-8, nan, INFINITY}},
      {"weight_decay",
       [](OptimizerConfig& c, double v) { c.weight_decay = v; },
       {-1e-6, nan, INFINITY}},
      {"power_t", [](OptimizerConfig& c, double v) { c.power_t = v; }, {-0.5, nan, INFINITY}},
      {"gamma", [](OptimizerConfig& c, double v) { c.gamma = v; }, {0, -0.5, 1.01, nan}},
  };
  for (const Bad& bad : cases) {
    for (double value : bad.values) {
      CAPTURE(bad.field);
      CAPTURE(value);
      OptimizerConfig c;
      bad.set(c, value);
      CHECK_THROWS_WITH_AS(bpcore::validate_config(c), doctest::Contains(bad.field), ArgumentError);
      try {
        bpcore::validate_config(c);
      } catch (const ArgumentError& e) {
        CHECK(std::string(e.what()).rfind(std::string(bad.field) + " must be ", 0) == 0);
      }
      CHECK_THROWS_AS(Optimizer<double>(c, 5), ArgumentError);
    }
  }
  OptimizerConfig c;
  c.step_size = 0;
  CHECK_THROWS_WITH_AS(bpcore::validate_config(c), doctest::Contains("step_size"), ArgumentError);
  c.step_size = -2;
  CHECK_THROWS_AS(bpcore::validate_config(c), ArgumentError);

  // the edges that are allowed
  OptimizerConfig edge;
  edge.momentum = 0;
  edge.beta1 = 0;
  edge.beta2 = 0;
  edge.gamma = 1;
  edge.power_t = 0;
  edge.weight_decay = 0;
  CHECK_NOTHROW(bpcore::validate_config(edge));
}

TEST_CASE("Optimizer state: size checks, reset and set_config") {
  CHECK_THROWS_AS(Optimizer<double>(OptimizerConfig{}, 0), ArgumentError);
  auto net = small_network<double>();
  Optimizer<double> wrong(OptimizerConfig{}, net.n_params() + 1);
  CHECK_THROWS_WITH_AS(wrong.step(net, 0.1), doctest::Contains("sizes"), ArgumentError);

  OptimizerConfig c;
  c.kind = OptimizerKind::momentum;
  c.momentum = 0.9;
  auto run = [&](Optimizer<double>& opt, Network<double>& n, int from, int to) {
    for (int t = from; t <= to; ++t) {
      set_gradient(n, t);
      opt.step(n, 0.1);
    }
  };
  // reset forgets the velocity: steps after a reset are those of a fresh optimizer
  auto a = small_network<double>(), b = small_network<double>();
  Optimizer<double> oa(c, a.n_params()), ob(c, b.n_params());
  run(oa, a, 1, 2);
  for (Index p = 0; p < a.n_params(); ++p) b.params()[p] = a.params()[p];
  oa.reset();
  CHECK(oa.steps() == 0);
  run(oa, a, 3, 3);
  run(ob, b, 3, 3);
  CHECK(std::equal(a.params(), a.params() + a.n_params(), b.params()));

  // set_config with the same kind keeps the state; another kind starts afresh
  auto x = small_network<double>(), y = small_network<double>();
  Optimizer<double> ox(c, x.n_params()), oy(c, y.n_params());
  run(ox, x, 1, 2);
  run(oy, y, 1, 2);
  OptimizerConfig c2 = c;
  c2.momentum = 0.5;
  ox.set_config(c2);
  CHECK(ox.steps() == 2);
  CHECK(ox.config().momentum == 0.5);
  c2.kind = OptimizerKind::adam;
  oy.set_config(c2);
  CHECK(oy.steps() == 0);
  CHECK(oy.config().kind == OptimizerKind::adam);
  Optimizer<double> fresh(c2, y.n_params());
  auto z = small_network<double>();
  for (Index p = 0; p < y.n_params(); ++p) z.params()[p] = y.params()[p];
  run(oy, y, 3, 3);
  run(fresh, z, 3, 3);
  CHECK(std::equal(y.params(), y.params() + y.n_params(), z.params()));
  OptimizerConfig bad = c;
  bad.lr = -1;
  CHECK_THROWS_AS(ox.set_config(bad), ArgumentError);
  CHECK(ox.config().momentum == 0.5);
}

TEST_CASE("optimizer and schedule name tables round-trip and reject unknown names") {
  for (const auto& info : bpcore::optimizer_table) {
    CHECK(bpcore::optimizer_from_name(info.name) == info.id);
    CHECK(bpcore::optimizer_name(info.id) == info.name);
  }
  for (const auto& info : bpcore::schedule_table) {
    CHECK(bpcore::schedule_from_name(info.name) == info.id);
    CHECK(bpcore::schedule_name(info.id) == info.name);
  }
  try {
    bpcore::optimizer_from_name("rmsprop");
    FAIL("an unknown optimizer name was accepted");
  } catch (const ArgumentError& e) {
    const std::string message = e.what();
    CHECK(message.find("'rmsprop'") != std::string::npos);
    for (const auto& info : bpcore::optimizer_table)
      CHECK(message.find(std::string(info.name)) != std::string::npos);
  }
  try {
    bpcore::schedule_from_name("cosine");
    FAIL("an unknown schedule name was accepted");
  } catch (const ArgumentError& e) {
    const std::string message = e.what();
    CHECK(message.find("lr_schedule") != std::string::npos);
    for (const auto& info : bpcore::schedule_table)
      CHECK(message.find(std::string(info.name)) != std::string::npos);
  }
}
