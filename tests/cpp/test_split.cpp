// backward over several row blocks: deltas by row blocks, then dJ/dW^[l] by fixed row ranges of
// each layer's gradient over the whole batch (gradient_pieces), or per-block sums for a small
// gradient. The cut, bitwise thread invariance, and agreement with the plain-loop reference and
// with per-block sums. And softmax, whose exponentials run over many rows at once: a row's values
// do not depend on the batch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "bpcore/network.hpp"
#include "bpcore/optimizer.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::GradPiece;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore_test::norm_relative_error;
using bpcore_test::params_of;
using bpcore_test::same_bits;

namespace {

template <class T>
std::vector<T> grads_of(const Network<T>& net) {
  return std::vector<T>(net.grads(), net.grads() + net.n_params());
}

// backward on 1 thread, then on 2 and 3: the same J and gradient bits; returns the gradient
template <class T>
std::vector<T> check_thread_invariant(Network<T>& net, const std::vector<T>& X,
                                      const std::vector<T>& Y, const T* w, Index n, double& J1) {
  J1 = net.backward(X.data(), Y.data(), w, n, 1);
  const auto g1 = grads_of(net);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    const double J = net.backward(X.data(), Y.data(), w, n, threads);
    CHECK(std::memcmp(&J, &J1, sizeof J) == 0);
    CHECK(same_bits(grads_of(net), g1));
  }
  return g1;
}

}  // namespace

TEST_CASE("gradient_pieces cuts every layer's rows once, in order, by the sizes alone") {
  for (const std::vector<Index>& sizes : std::vector<std::vector<Index>>{{784, 256, 128, 10},
                                                                         {100, 80, 40, 10},
                                                                         {3, 5, 2},
                                                                         {64, 64, 10},
                                                                         {1, 1},
                                                                         {17, 300, 1},
                                                                         {1000, 1}}) {
    CAPTURE(sizes.size());
    std::vector<Activation> acts(sizes.size() - 1, Activation::relu);
    acts.back() = Activation::identity;
    Network<float> net(sizes, acts, Loss::mse);
    const auto pieces = bpcore::gradient_pieces(net.layers());
    REQUIRE(!pieces.empty());
    Index layer = 0, next = 0;
    for (const GradPiece& p : pieces) {
      if (p.layer != layer) {
        CHECK(next == net.layer(layer).n_in);  // the previous layer is covered to its end
        CHECK(p.layer == layer + 1);
        layer = p.layer;
        next = 0;
      }
      CHECK(p.p0 == next);
      CHECK(p.p1 > p.p0);
      CHECK(p.p1 <= net.layer(layer).n_in);
      if (p.p1 < net.layer(layer).n_in) CHECK((p.p1 - p.p0) % 16 == 0);
      next = p.p1;
    }
    CHECK(layer == net.n_layers() - 1);
    CHECK(next == net.layer(layer).n_in);
    CHECK(Index(pieces.size()) <= bpcore::kGradPieces + net.n_layers());
  }
  // the wide first layer of the MNIST-shaped network is cut, its narrow last layer is not
  Network<float> mnist({784, 256, 128, 10},
                       {Activation::relu, Activation::relu, Activation::softmax},
                       Loss::cross_entropy);
  const auto pieces = bpcore::gradient_pieces(mnist.layers());
  Index first = 0;
  for (const GradPiece& p : pieces) first += p.layer == 0;
  CHECK(first > 1);
  CHECK(pieces.back().layer == 2);
  CHECK(pieces.back().p0 == 0);
}

TEST_CASE_TEMPLATE("the split backward is bitwise the same for 1, 2 and 3 threads", T, float,
                   double) {
  // 300 rows: 5 row blocks; 100-80-40-10: the first layer's gradient comes in several pieces
  const Index n = 300, d = 100, q = 10;
  Network<T> net({d, 80, 40, q}, {Activation::tanh, Activation::relu, Activation::softmax},
                 Loss::cross_entropy);
  net.initialize(Init::he, 5);
  REQUIRE(net.row_blocks(n).count > 1);
  REQUIRE(net.splits_backward(n));
  Index first_layer_pieces = 0;
  for (const GradPiece& p : bpcore::gradient_pieces(net.layers()))
    first_layer_pieces += p.layer == 0;
  REQUIRE(first_layer_pieces > 1);
  const auto X = bpcore_test::uniform<T>(n * d, 6, -1, 1);
  const auto Y = bpcore_test::one_hot<T>(n, q, 7);
  const auto w = bpcore_test::uniform<T>(n, 8, 0, 2);
  for (const T* wp : {static_cast<const T*>(nullptr), w.data()}) {
    CAPTURE(wp != nullptr);
    double J1 = 0;
    const auto g1 = check_thread_invariant(net, X, Y, wp, n, J1);
    const auto ref = bpcore_test::reference_backprop(net, X.data(), Y.data(), wp, n);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    CHECK(norm_relative_error(g1.data(), ref.grad.data(), net.n_params()) < tol);
    CHECK(J1 == doctest::Approx(ref.J).epsilon(tol));
    // the cache holds every row's delta, as after a single-block backward
    for (Index k = 0; k < net.n_layers(); ++k) {
      const auto D = net.cached_delta(k);
      const auto& R = ref.delta[std::size_t(k)];
      CHECK(norm_relative_error(D.data(), R.data(), Index(R.size())) < tol);
    }
  }
}

TEST_CASE_TEMPLATE("a small gradient is summed per block, bitwise the same for 1, 2 and 3 threads",
                   T, float, double) {
  // 64-16-10 on 1500 rows: 16 row blocks, and 1210 parameters are cheaper to add up per block
  // than a barrier between the split's two phases
  const Index n = 1500, d = 64, q = 10;
  Network<T> net({d, 16, q}, {Activation::tanh, Activation::softmax}, Loss::cross_entropy);
  net.initialize(Init::xavier, 3);
  REQUIRE(net.row_blocks(n).count > 1);
  REQUIRE_FALSE(net.splits_backward(n));
  const auto X = bpcore_test::uniform<T>(n * d, 4, -1, 1);
  const auto Y = bpcore_test::one_hot<T>(n, q, 5);
  double J1 = 0;
  const auto g1 = check_thread_invariant(net, X, Y, static_cast<const T*>(nullptr), n, J1);
  const auto ref =
      bpcore_test::reference_backprop(net, X.data(), Y.data(), static_cast<const T*>(nullptr), n);
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  CHECK(norm_relative_error(g1.data(), ref.grad.data(), net.n_params()) < tol);
  CHECK(J1 == doctest::Approx(ref.J).epsilon(tol));
}

TEST_CASE_TEMPLATE("a step taken on the gradient's ranges inside backward equals step() after it",
                   T, float, double) {
  // gradient_done's ranges are disjoint and cover every parameter, on the split backward
  // (100-80-40-10) and on per-block sums (64-16-10, with prelu), on 1 and 2 threads; an optimizer
  // stepping on them as they come (as the epochs do) leaves the bits of Optimizer::step after the
  // pass.
  struct Case {
    std::vector<Index> sizes;
    std::vector<Activation> f;
    Index n;
    bool split;
  };
  const std::vector<Case> cases{
      {{100, 80, 40, 10}, {Activation::tanh, Activation::relu, Activation::softmax}, 300, true},
      {{64, 16, 10}, {Activation::prelu, Activation::softmax}, 1500, false}};
  for (const Case& c : cases) {
    Network<T> net(c.sizes, c.f, Loss::cross_entropy);
    net.initialize(Init::he, 5);
    REQUIRE(net.splits_backward(c.n) == c.split);
    const Index d = c.sizes.front(), q = c.sizes.back();
    const auto X = bpcore_test::uniform<T>(c.n * d, 6, -1, 1);
    const auto Y = bpcore_test::one_hot<T>(c.n, q, 7);
    for (const auto kind : {bpcore::OptimizerKind::sgd, bpcore::OptimizerKind::momentum,
                            bpcore::OptimizerKind::nesterov, bpcore::OptimizerKind::adam,
                            bpcore::OptimizerKind::rprop}) {
      for (const double decay : {0.0, 1e-3}) {
        bpcore::OptimizerConfig config;
        config.kind = kind;
        config.lr = 0.01;
        config.weight_decay = kind == bpcore::OptimizerKind::rprop ? 0.0 : decay;
        for (int threads : {1, 2}) {
          CAPTURE(c.split);
          CAPTURE(int(kind));
          CAPTURE(decay);
          CAPTURE(threads);
          Network<T> after = net, inside = net;
          bpcore::Optimizer<T> opt_after(config, net.n_params()), opt_inside = opt_after;
          std::vector<int> seen(std::size_t(net.n_params()), 0);
          bpcore::PassHooks hooks;
          hooks.gradient_done = [&](Index begin, Index end, bool weights) {
            opt_inside.step_range(inside.params(), inside.grads(), begin, end, weights, 0.01);
#pragma omp critical(test_hooks)
            for (Index i = begin; i < end; ++i) ++seen[std::size_t(i)];
          };
          for (int step = 0; step < 3; ++step) {  // momentum, adam and rprop carry state
            after.backward(X.data(), Y.data(), nullptr, c.n, threads);
            opt_after.step(after, 0.01);
            opt_inside.start_step();
            inside.backward(X.data(), Y.data(), nullptr, c.n, threads, &hooks);
          }
          CHECK(std::all_of(seen.begin(), seen.end(), [](int k) { return k == 3; }));
          CHECK(same_bits(params_of(inside), params_of(after)));
          CHECK(same_bits(grads_of(inside), grads_of(after)));
          CHECK(opt_inside.steps() == opt_after.steps());
        }
      }
    }
  }
}

TEST_CASE_TEMPLATE("rows filled by PassHooks::fill_rows as the blocks need them give the same pass",
                   T, float, double) {
  // X starts as NaN and each block's rows are copied in by the hook (as the epochs gather a
  // shuffled batch): every row exactly once, and J and the gradient have the bits of a pass on
  // the filled X, on the split backward, on per-block sums and on one block, on 1 and 2 threads.
  struct Case {
    std::vector<Index> sizes;
    Index n;
  };
  for (const Case& c :
       std::vector<Case>{{{100, 80, 40, 10}, 300}, {{64, 16, 10}, 1500}, {{64, 16, 10}, 40}}) {
    std::vector<Activation> f(c.sizes.size() - 2, Activation::tanh);
    f.push_back(Activation::softmax);
    Network<T> net(c.sizes, f, Loss::cross_entropy);
    net.initialize(Init::he, 5);
    const Index d = c.sizes.front(), q = c.sizes.back();
    const auto X = bpcore_test::uniform<T>(c.n * d, 6, -1, 1);
    const auto Y = bpcore_test::one_hot<T>(c.n, q, 7);
    for (int threads : {1, 2}) {
      CAPTURE(c.n);
      CAPTURE(threads);
      const double J = net.backward(X.data(), Y.data(), nullptr, c.n, threads);
      const auto g = grads_of(net);
      std::vector<T> Xb(X.size(), std::numeric_limits<T>::quiet_NaN());
      std::vector<int> filled(std::size_t(c.n), 0);
      bpcore::PassHooks hooks;
      hooks.fill_rows = [&](Index first, Index count) {
        std::copy_n(X.data() + first * d, count * d, Xb.data() + first * d);
        for (Index i = first; i < first + count; ++i) ++filled[std::size_t(i)];
      };
      const double Jh = net.backward(Xb.data(), Y.data(), nullptr, c.n, threads, &hooks);
      CHECK(std::memcmp(&J, &Jh, sizeof J) == 0);
      CHECK(same_bits(grads_of(net), g));
      CHECK(std::all_of(filled.begin(), filled.end(), [](int k) { return k == 1; }));
    }
  }
}

TEST_CASE("the split backward equals the row-weighted mean of per-block backward calls") {
  const Index n = 200, d = 40, q = 3;
  Network<double> net({d, 48, q}, {Activation::sigmoid, Activation::identity}, Loss::mse);
  net.initialize(Init::xavier, 11);
  const auto X = bpcore_test::uniform<double>(n * d, 12, -1, 1);
  const auto Y = bpcore_test::uniform<double>(n * q, 13, -1, 1);
  const auto blocks = net.row_blocks(n);
  REQUIRE(blocks.count > 1);
  net.backward(X.data(), Y.data(), nullptr, n, 2);
  const auto g_all = grads_of(net);
  std::vector<double> g_sum(g_all.size(), 0.0);
  for (Index b = 0; b < blocks.count; ++b) {
    const Index r0 = blocks.begin(b), nr = blocks.size(b);
    net.backward(X.data() + r0 * d, Y.data() + r0 * q, nullptr, nr, 1);
    for (std::size_t p = 0; p < g_sum.size(); ++p)
      g_sum[p] += net.grads()[p] * double(nr) / double(n);
  }
  CHECK(norm_relative_error(g_all.data(), g_sum.data(), net.n_params()) < 1e-13);
}

TEST_CASE_TEMPLATE("softmax gives a row the same bits alone and anywhere in a batch", T, float,
                   double) {
  for (Index cols : {2, 3, 10, 16, 17, 300}) {
    CAPTURE(cols);
    const Index rows = 37;
    const auto Z = bpcore_test::uniform<T>(rows * cols, 31, -20, 20);
    std::vector<T> whole(Z.size());
    bpcore::activate(Activation::softmax, Z.data(), whole.data(), rows, cols, T(0));
    bool same = true;
    double worst = 0;
    for (Index i = 0; i < rows; ++i) {
      std::vector<T> one(static_cast<std::size_t>(cols));
      bpcore::activate(Activation::softmax, Z.data() + i * cols, one.data(), 1, cols, T(0));
      same = same && std::memcmp(one.data(), whole.data() + i * cols, sizeof(T) * cols) == 0;
      // and it is e^z / sum e^z
      double zmax = -1e300, total = 0;
      for (Index j = 0; j < cols; ++j) zmax = std::max(zmax, double(Z[std::size_t(i * cols + j)]));
      for (Index j = 0; j < cols; ++j)
        total += std::exp(double(Z[std::size_t(i * cols + j)]) - zmax);
      for (Index j = 0; j < cols; ++j) {
        const double want = std::exp(double(Z[std::size_t(i * cols + j)]) - zmax) / total;
        worst = std::max(worst, std::abs(double(one[std::size_t(j)]) - want) / want);
      }
    }
    CHECK(same);
    CHECK(worst < (sizeof(T) == 4 ? 1e-5 : 1e-13));
  }
}
