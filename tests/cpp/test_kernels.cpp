// The small-network path: the row kernels (fixed widths against the run-time-width ones and against
// Eigen's products), the networks that run on them, and the fused online sgd step.
#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include "bpcore/kernels.hpp"
#include "bpcore/trainer.hpp"
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
using bpcore_test::max_relative_error;
using bpcore_test::params_of;
using bpcore_test::same_bits;
namespace kernels = bpcore::kernels;

namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class T>
Mat<T> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  const auto v = bpcore_test::uniform<T>(rows * cols, seed, -1, 1);
  return Eigen::Map<const Mat<T>>(v.data(), rows, cols);
}

template <class T>
bool same(const Mat<T>& a, const Mat<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(T) * a.size()) == 0;
}

template <class T>
double rel(const Mat<T>& got, const Mat<T>& want) {
  return max_relative_error(got.data(), want.data(), want.size(), 1.0);
}

// Every kernel at width n_out: the picked ones equal the run-time-width ones bitwise and Eigen's
// products to rounding.
template <class T>
void check_width(Index n_out, double tol) {
  const auto fast = kernels::row_ops<T>(n_out);
  const auto generic = kernels::row_ops<T>(n_out, true);
  CHECK(generic.fixed_width == 0);
  for (Index n_in : {1, 3, 17, 64}) {
    for (Index nr : {1, 2, 7}) {
      CAPTURE(n_in);
      CAPTURE(nr);
      const std::uint64_t seed = std::uint64_t(1000 * n_out + 10 * n_in + nr);
      const Mat<T> A = random_matrix<T>(nr, n_in, seed);
      const Mat<T> W = random_matrix<T>(n_in, n_out, seed + 1);
      const Mat<T> b = random_matrix<T>(1, n_out, seed + 2);
      const Mat<T> D = random_matrix<T>(nr, n_out, seed + 3);

      // Z = A W + b
      Mat<T> Z1(nr, n_out), Z0(nr, n_out);
      fast.affine(A.data(), W.data(), b.data(), Z1.data(), nr, n_in, n_out);
      generic.affine(A.data(), W.data(), b.data(), Z0.data(), nr, n_in, n_out);
      CHECK(same(Z1, Z0));
      const Mat<T> Z = (A * W).rowwise() + b.row(0);
      CHECK(rel(Z1, Z) < tol);

      // gW = A^T D, gb = column sums of D
      Mat<T> gW1(n_in, n_out), gW0(n_in, n_out), gb1(1, n_out), gb0(1, n_out);
      fast.grad(A.data(), D.data(), gW1.data(), gb1.data(), nr, n_in, n_out);
      generic.grad(A.data(), D.data(), gW0.data(), gb0.data(), nr, n_in, n_out);
      CHECK(same(gW1, gW0));
      CHECK(same(gb1, gb0));
      CHECK(rel(gW1, Mat<T>(A.transpose() * D)) < tol);
      CHECK(rel(gb1, Mat<T>(D.colwise().sum())) < tol);

      // G = D W^T
      Mat<T> G1(nr, n_in), G0(nr, n_in);
      fast.back(D.data(), W.data(), G1.data(), nr, n_in, n_out);
      generic.back(D.data(), W.data(), G0.data(), nr, n_in, n_out);
      CHECK(same(G1, G0));
      CHECK(rel(G1, Mat<T>(D * W.transpose())) < tol);

      // one row's sgd step: g = -(a^T d), theta - lr g, exactly as grad and sgd_update
      const T lr = T(0.3);
      Mat<T> W1 = W, b1 = b, W0 = W, b0 = b;
      Mat<T> g1(n_in, n_out), h1(1, n_out), g0(n_in, n_out), h0(1, n_out);
      fast.sgd_row(A.data(), D.data(), W1.data(), b1.data(), g1.data(), h1.data(), n_in, n_out, lr);
      generic.sgd_row(A.data(), D.data(), W0.data(), b0.data(), g0.data(), h0.data(), n_in, n_out,
                      lr);
      CHECK(same(W1, W0));
      CHECK(same(b1, b0));
      CHECK(same(g1, g0));
      Mat<T> gW(n_in, n_out), gb(1, n_out);
      generic.grad(A.data(), D.data(), gW.data(), gb.data(), 1, n_in, n_out);
      gW *= T(-1);
      gb *= T(-1);
      CHECK(same(g1, gW));
      CHECK(same(h1, gb));
      Mat<T> Wref = W, bref = b;
      kernels::sgd_update(Wref.data(), gW.data(), lr, gW.size());
      kernels::sgd_update(bref.data(), gb.data(), lr, gb.size());
      CHECK(same(W1, Wref));
      CHECK(same(b1, bref));
    }
  }
}

}  // namespace

TEST_CASE("each width's kernels equal the run-time-width kernels bitwise and Eigen's products") {
  Index fixed = 0;
  for (Index n_out = 1; n_out <= 40; ++n_out) {
    CAPTURE(n_out);
    if (kernels::row_ops<double>(n_out).fixed_width == n_out) ++fixed;
    check_width<double>(n_out, 1e-14);
    check_width<float>(n_out, 1e-5);
  }
  CHECK(fixed >= 16);  // 1 … 16 at least have their own kernels
  CHECK(kernels::row_ops<double>(33).fixed_width == 0);
}

TEST_CASE("which networks are small") {
  auto small = [](std::vector<Index> sizes) {
    std::vector<Activation> f(sizes.size() - 1, Activation::tanh);
    return Network<double>(sizes, f, Loss::mse).small();
  };
  CHECK(small({4, 5, 3}));
  CHECK(small({64, 32, 32, 32, 1}));
  CHECK_FALSE(small({65, 8, 2}));    // wide input
  CHECK_FALSE(small({4, 33, 2}));    // wide hidden layer
  CHECK_FALSE(small({64, 64, 10}));  // W2's network
  CHECK_FALSE(small({784, 256, 128, 10}));
  Network<double> net({4, 5, 3}, {Activation::sigmoid, Activation::sigmoid}, Loss::mse);
  CHECK(net.uses_row_kernels(1));
  CHECK(net.uses_row_kernels(kernels::kSmallRows));
  CHECK_FALSE(net.uses_row_kernels(kernels::kSmallRows + 1));
}

TEST_CASE("small batches on the row kernels: predict, forward, loss and backward agree") {
  Network<double> net({6, 12, 12, 3}, {Activation::tanh, Activation::prelu, Activation::softmax},
                      Loss::cross_entropy);
  net.initialize(Init::he, 12);
  net.alpha(1) = 0.3;
  for (Index n = 1; n <= kernels::kSmallRows + 1; ++n) {
    CAPTURE(n);
    const auto X = bpcore_test::uniform<double>(n * 6, 13, -1, 1);
    const auto Y = bpcore_test::one_hot<double>(n, 3, 14);
    const double J = net.backward(X.data(), Y.data(), nullptr, n, 1);
    const auto ref = bpcore_test::reference_backprop<double>(net, X.data(), Y.data(), nullptr, n);
    CHECK(J == doctest::Approx(ref.J).epsilon(1e-13));
    CHECK(bpcore_test::norm_relative_error(net.grads(), ref.grad.data(), net.n_params()) < 1e-13);
    CHECK(net.loss(X.data(), Y.data(), nullptr, n, 1) == J);
    std::vector<double> P(std::size_t(n * 3));
    net.predict(X.data(), n, P.data(), 1);
    net.forward(X.data(), n, 1);
    const auto H = net.cached_H(2);
    CHECK(same_bits(std::vector<double>(H.data(), H.data() + H.size()), P));
  }
}

namespace {

// The networks of the fused-step tests: every activation and loss, depth 0 … 3, small and not.
struct NetCase {
  std::vector<Index> sizes;
  Activation hidden, out;
  Loss loss;
};

const NetCase kNets[] = {
    {{4, 5, 3}, Activation::sigmoid, Activation::sigmoid, Loss::mse},
    {{3, 2}, Activation::identity, Activation::identity, Loss::mse},
    {{6, 7, 9, 4}, Activation::tanh, Activation::softmax, Loss::cross_entropy},
    {{5, 12, 12, 12, 2}, Activation::relu, Activation::sigmoid, Loss::binary_cross_entropy},
    {{4, 8, 3}, Activation::prelu, Activation::prelu, Loss::mse},
    {{30, 32, 24, 1}, Activation::tanh, Activation::identity, Loss::mse},
    {{70, 9, 3}, Activation::sigmoid, Activation::softmax, Loss::cross_entropy},  // not small
    {{4, 40, 2}, Activation::prelu, Activation::tanh, Loss::mse},                 // not small
};

template <class T>
Network<T> make_net(const NetCase& c, std::uint64_t seed) {
  std::vector<Activation> f(c.sizes.size() - 1, c.hidden);
  f.back() = c.out;
  Network<T> net(c.sizes, f, c.loss);
  net.initialize(Init::xavier, seed);
  for (Index k = 0; k < net.n_layers(); ++k)
    if (net.layer(k).f == Activation::prelu) net.alpha(k) = T(0.1 + 0.1 * double(k));
  // non-zero biases, so that b is exercised
  for (Index k = 0; k < net.n_layers(); ++k) net.b(k).setConstant(T(0.05));
  return net;
}

template <class T>
std::vector<T> targets(const NetCase& c, Index rows, std::uint64_t seed) {
  const Index q = c.sizes.back();
  if (c.loss == Loss::cross_entropy) return bpcore_test::one_hot<T>(rows, q, seed);
  return bpcore_test::uniform<T>(rows * q, seed, c.loss == Loss::mse ? -0.5 : 0.0, 1.0);
}

template <class T>
void check_sgd_row(const NetCase& c) {
  const Index d = c.sizes.front(), q = c.sizes.back(), rows = 6;
  auto fused = make_net<T>(c, 4), hand = make_net<T>(c, 4);
  const auto X = bpcore_test::uniform<T>(rows * d, 5, -1, 1);
  const auto Y = targets<T>(c, rows, 6);
  OptimizerConfig config;
  config.lr = 0.2;
  Optimizer<T> opt(config, hand.n_params());
  for (Index i = 0; i < rows; ++i) {
    CAPTURE(i);
    const double J = fused.sgd_row(X.data() + i * d, Y.data() + i * q, T(0.2));
    const double J_hand = hand.backward(X.data() + i * d, Y.data() + i * q, nullptr, 1, 1);
    const std::vector<T> g_hand(hand.grads(), hand.grads() + hand.n_params());
    opt.step(hand, 0.2);
    CHECK(std::memcmp(&J, &J_hand, sizeof J) == 0);
    CHECK(same_bits(params_of(fused), params_of(hand)));
    CHECK(same_bits(std::vector<T>(fused.grads(), fused.grads() + fused.n_params()), g_hand));
    for (Index k = 0; k < fused.n_layers(); ++k) {
      CHECK(fused.cached_Z(k) == hand.cached_Z(k));
      CHECK(fused.cached_delta(k) == hand.cached_delta(k));
    }
  }
}

}  // namespace

TEST_CASE("sgd_row is bitwise backward on the row followed by sgd's step") {
  for (const auto& c : kNets) {
    CAPTURE(c.sizes.size());
    CAPTURE(c.sizes[1]);
    check_sgd_row<double>(c);
    check_sgd_row<float>(c);
  }
}

TEST_CASE("online epochs (fused sgd, or any optimizer) equal backward and step on each row") {
  for (const auto& c : kNets) {
    for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam}) {
      for (double decay : {0.0, 0.01}) {
        for (bool weighted : {false, true}) {
          CAPTURE(c.sizes[1]);
          CAPTURE(bpcore::optimizer_name(kind));
          CAPTURE(decay);
          CAPTURE(weighted);
          const Index d = c.sizes.front(), q = c.sizes.back(), rows = 12;
          const auto X = bpcore_test::uniform<double>(rows * d, 7, -1, 1);
          const auto Y = targets<double>(c, rows, 8);
          auto w = bpcore_test::uniform<double>(rows, 9, 0.5, 2);
          w[3] = 0;  // skipped
          auto net = make_net<double>(c, 10), hand = make_net<double>(c, 10);
          OptimizerConfig config;
          config.kind = kind;
          config.lr = kind == OptimizerKind::sgd ? 0.3 : 0.01;
          config.weight_decay = decay;
          Optimizer<double> opt(config, net.n_params()), hand_opt(config, net.n_params());
          for (Index epoch = 0; epoch < 2; ++epoch) {
            EpochOptions o;
            o.batch_size = 1;
            o.seed = 11;
            o.epoch = epoch;
            const auto r = bpcore::train_epoch<double>(net, opt, X.data(), Y.data(),
                                                       weighted ? w.data() : nullptr, rows, o);
            const auto order = bpcore::epoch_permutation(rows, 11, std::uint64_t(epoch));
            double total = 0, weight = 0;
            Index steps = 0;
            for (Index src : order) {
              const double* wp = weighted ? &w[std::size_t(src)] : nullptr;
              if (wp && *wp == 0) continue;
              const double J = hand.backward(X.data() + src * d, Y.data() + src * q, wp, 1, 1);
              hand_opt.step(hand, config.lr);
              total += J * (wp ? *wp : 1.0);
              weight += wp ? *wp : 1.0;
              ++steps;
            }
            CHECK(r.status == EpochStatus::ok);
            CHECK(r.batches == steps);
            CHECK(r.loss == total / weight);
            CHECK(opt.steps() == hand_opt.steps());
            CHECK(same_bits(params_of(net), params_of(hand)));
          }
        }
      }
    }
  }
}

TEST_CASE("small networks: the same bits for 1, 2 and 3 threads, and forward equals predict") {
  const Index n = 4000, d = 10, q = 4;  // enough work for threads
  Network<double> net({d, 16, 16, q}, {Activation::tanh, Activation::prelu, Activation::softmax},
                      Loss::cross_entropy);
  REQUIRE(net.small());
  net.initialize(Init::he, 3);
  net.alpha(1) = 0.2;
  const auto X = bpcore_test::uniform<double>(n * d, 4, -1, 1);
  const auto Y = bpcore_test::one_hot<double>(n, q, 5);
  const double J1 = net.backward(X.data(), Y.data(), nullptr, n, 1);
  const std::vector<double> g1(net.grads(), net.grads() + net.n_params());
  std::vector<double> P1(std::size_t(n * q));
  net.predict(X.data(), n, P1.data(), 1);
  const auto ref = bpcore_test::reference_backprop<double>(net, X.data(), Y.data(), nullptr, n);
  CHECK(J1 == doctest::Approx(ref.J).epsilon(1e-12));
  CHECK(bpcore_test::norm_relative_error(g1.data(), ref.grad.data(), net.n_params()) < 1e-12);
  for (int threads : {2, 3}) {
    CAPTURE(threads);
    const double J = net.backward(X.data(), Y.data(), nullptr, n, threads);
    CHECK(std::memcmp(&J, &J1, sizeof J) == 0);
    CHECK(same_bits(std::vector<double>(net.grads(), net.grads() + net.n_params()), g1));
    std::vector<double> P(P1.size());
    net.predict(X.data(), n, P.data(), threads);
    CHECK(same_bits(P, P1));
    net.forward(X.data(), n, threads);
    const auto H = net.cached_H(net.n_layers() - 1);
    CHECK(same_bits(std::vector<double>(H.data(), H.data() + H.size()), P1));
  }
  // full-batch epochs on several threads: the same parameters
  std::vector<std::vector<double>> after;
  for (int threads : {1, 2, 3}) {
    auto copy = net;
    Optimizer<double> opt(OptimizerConfig{}, copy.n_params());
    EpochOptions o;
    o.batch_size = 0;
    o.n_threads = threads;
    REQUIRE(bpcore::train_epoch<double>(copy, opt, X.data(), Y.data(), nullptr, n, o).status ==
            EpochStatus::ok);
    after.push_back(params_of(copy));
  }
  CHECK(same_bits(after[1], after[0]));
  CHECK(same_bits(after[2], after[0]));
}

namespace {

// The online kernels of width n_out and activation f: the picked ones equal the run-time-width
// ones bitwise, and both equal affine + activate_with_derivative (forward) and back, G ⊙ f',
// sgd_row (backward) of the row kernels.
template <class T>
void check_online_width(Index n_out, Activation f) {
  const auto fast = kernels::online_ops<T>(n_out, f);
  const auto generic = kernels::online_ops<T>(n_out, f, true);
  const auto row = kernels::row_ops<T>(n_out, true);
  CHECK(generic.fixed_width == 0);
  CHECK(fast.fused == generic.fused);
  CHECK(fast.fused ==
        (f == Activation::sigmoid || (f == Activation::tanh && std::is_same_v<T, double>)));
  for (Index n_in : {1, 3, 17, 64}) {
    CAPTURE(n_in);
    const std::uint64_t seed = std::uint64_t(100 * n_out + n_in);
    const Mat<T> a = random_matrix<T>(1, n_in, seed);
    const Mat<T> W = random_matrix<T>(n_in, n_out, seed + 1);
    const Mat<T> b = random_matrix<T>(1, n_out, seed + 2);
    const Mat<T> d = random_matrix<T>(1, n_out, seed + 3);
    const Mat<T> fp_prev = random_matrix<T>(1, n_in, seed + 4);

    // forward: z = b + a W, and h = f(z), fp = f'(z) when fused
    Mat<T> z1(1, n_out), h1(1, n_out), p1(1, n_out), z0(1, n_out), h0(1, n_out), p0(1, n_out);
    fast.forward(a.data(), W.data(), b.data(), z1.data(), h1.data(), p1.data(), n_in, n_out);
    generic.forward(a.data(), W.data(), b.data(), z0.data(), h0.data(), p0.data(), n_in, n_out);
    Mat<T> z(1, n_out), h(1, n_out), p(1, n_out);
    row.affine(a.data(), W.data(), b.data(), z.data(), 1, n_in, n_out);
    CHECK(same(z1, z));
    CHECK(same(z0, z));
    if (fast.fused) {
      bpcore::activate_with_derivative(f, z.data(), h.data(), p.data(), n_out, T(0));
      CHECK(same(h1, h));
      CHECK(same(p1, p));
      CHECK(same(h0, h));
      CHECK(same(p0, p));
    }

    // backward: g = (d W^T) ⊙ fp_prev from W before the step (or without fp_prev), then the step
    for (bool with_fp : {true, false}) {
      for (bool grads : {true, false}) {
        CAPTURE(with_fp);
        CAPTURE(grads);
        const T lr = T(0.3);
        const T* fpp = with_fp ? fp_prev.data() : nullptr;
        Mat<T> W1 = W, b1 = b, W0 = W, b0 = b, Wr = W, br = b;
        Mat<T> gW1 = Mat<T>::Constant(n_in, n_out, T(7)), gb1 = Mat<T>::Constant(1, n_out, T(7));
        Mat<T> gW0 = gW1, gb0 = gb1, gWr(n_in, n_out), gbr(1, n_out);
        Mat<T> g1(1, n_in), g0(1, n_in), gr(1, n_in);
        auto bwd1 = grads ? fast.backward : fast.backward_no_grads;
        auto bwd0 = grads ? generic.backward : generic.backward_no_grads;
        bwd1(a.data(), d.data(), W1.data(), b1.data(), gW1.data(), gb1.data(), g1.data(), fpp, n_in,
             n_out, lr);
        bwd0(a.data(), d.data(), W0.data(), b0.data(), gW0.data(), gb0.data(), g0.data(), fpp, n_in,
             n_out, lr);
        row.back(d.data(), W.data(), gr.data(), 1, n_in, n_out);
        if (with_fp)
          for (Index i = 0; i < n_in; ++i) gr(0, i) *= fp_prev(0, i);
        row.sgd_row(a.data(), d.data(), Wr.data(), br.data(), gWr.data(), gbr.data(), n_in, n_out,
                    lr);
        CHECK(same(g1, gr));
        CHECK(same(g0, gr));
        CHECK(same(W1, Wr));
        CHECK(same(b1, br));
        CHECK(same(W0, Wr));
        CHECK(same(b0, br));
        if (grads) {
          CHECK(same(gW1, gWr));
          CHECK(same(gb1, gbr));
          CHECK(same(gW0, gWr));
        } else {  // left alone
          CHECK(gW1.isConstant(T(7)));
          CHECK(gb1.isConstant(T(7)));
          CHECK(gW0.isConstant(T(7)));
        }
        // the first layer: no g to fill, the same step
        Mat<T> W2 = W, b2 = b;
        bwd1(a.data(), d.data(), W2.data(), b2.data(), gW1.data(), gb1.data(), nullptr, fpp, n_in,
             n_out, lr);
        CHECK(same(W2, Wr));
        CHECK(same(b2, br));
      }
    }
  }
}

}  // namespace

TEST_CASE("each width's online kernels equal the run-time-width ones and the row kernels bitwise") {
  Index fixed = 0;
  for (Index n_out = 1; n_out <= 34; ++n_out) {
    CAPTURE(n_out);
    if (kernels::online_ops<double>(n_out, Activation::sigmoid).fixed_width == n_out) ++fixed;
    for (Activation f : {Activation::sigmoid, Activation::tanh, Activation::relu}) {
      CAPTURE(bpcore::activation_name(f));
      check_online_width<double>(n_out, f);
      check_online_width<float>(n_out, f);
    }
  }
  CHECK(fixed >= 16);
  CHECK(kernels::online_ops<double>(33, Activation::sigmoid).fixed_width == 0);
}

TEST_CASE("sgd_row without the gradient: the same step, W and b's gradient left alone") {
  for (const auto& c : kNets) {
    CAPTURE(c.sizes[1]);
    const Index d = c.sizes.front(), q = c.sizes.back(), rows = 5;
    auto with = make_net<double>(c, 21), without = make_net<double>(c, 21);
    const auto X = bpcore_test::uniform<double>(rows * d, 22, -1, 1);
    const auto Y = targets<double>(c, rows, 23);
    std::fill(without.grads(), without.grads() + without.n_params(), 5.0);
    for (Index i = 0; i < rows; ++i) {
      const double J1 = with.sgd_row(X.data() + i * d, Y.data() + i * q, 0.2);
      const double J0 = without.sgd_row(X.data() + i * d, Y.data() + i * q, 0.2, false);
      CHECK(std::memcmp(&J1, &J0, sizeof J1) == 0);
      CHECK(same_bits(params_of(with), params_of(without)));
    }
    if (!without.small()) continue;  // the general path computes the whole gradient anyway
    for (Index k = 0; k < without.n_layers(); ++k) {
      const auto& s = without.layer(k);
      bool kept = true;
      for (Index i = s.w_offset; i < s.b_offset + s.n_out; ++i)
        kept = kept && without.grads()[i] == 5.0;
      CHECK(kept);
    }
  }
}

TEST_CASE("train_epochs runs the epochs of train_epoch one after the other and stops at tol") {
  const NetCase c{{4, 5, 3}, Activation::sigmoid, Activation::sigmoid, Loss::mse};
  const Index rows = 20, d = 4;
  const auto X = bpcore_test::uniform<double>(rows * d, 31, -1, 1);
  const auto Y = targets<double>(c, rows, 32);
  for (Index batch : {1, 3}) {
    CAPTURE(batch);
    auto net = make_net<double>(c, 33), hand = make_net<double>(c, 33);
    OptimizerConfig config;
    config.lr = 0.5;
    Optimizer<double> opt(config, net.n_params()), hand_opt(config, net.n_params());
    EpochOptions o;
    o.batch_size = batch;
    o.seed = 34;
    o.epoch = 2;
    std::vector<bpcore::TimedEpoch> out;
    bpcore::train_epochs<double>(net, opt, X.data(), Y.data(), nullptr, rows, o, 4,
                                 std::numeric_limits<double>::quiet_NaN(), nullptr, out);
    REQUIRE(out.size() == 4);
    for (Index e = 0; e < 4; ++e) {
      EpochOptions he = o;
      he.epoch = 2 + e;
      const auto r =
          bpcore::train_epoch<double>(hand, hand_opt, X.data(), Y.data(), nullptr, rows, he);
      CHECK(out[std::size_t(e)].result.loss == r.loss);
      CHECK(out[std::size_t(e)].result.status == EpochStatus::ok);
      CHECK(out[std::size_t(e)].seconds >= 0);
    }
    CHECK(same_bits(params_of(net), params_of(hand)));
    CHECK(opt.steps() == hand_opt.steps());
    // tol: stops after the first epoch whose mean J is below it
    auto again = make_net<double>(c, 33);
    Optimizer<double> again_opt(config, again.n_params());
    std::vector<bpcore::TimedEpoch> stopped;
    const double tol = out[1].result.loss * (1 + 1e-12);
    bpcore::train_epochs<double>(again, again_opt, X.data(), Y.data(), nullptr, rows, o, 4, tol,
                                 nullptr, stopped);
    std::size_t expected = 1;
    while (!(out[expected - 1].result.loss < tol)) ++expected;
    CHECK(expected <= 2);
    CHECK(stopped.size() == expected);
    CHECK(stopped.back().result.loss == out[expected - 1].result.loss);
  }
  // a non-finite epoch is the last one run, rolled back
  auto net = make_net<double>(c, 35);
  OptimizerConfig config;
  config.lr = 0.5;
  Optimizer<double> opt(config, net.n_params());
  auto bad = X;
  bad[7] = std::numeric_limits<double>::quiet_NaN();
  EpochOptions o;
  const auto start = params_of(net);
  std::vector<bpcore::TimedEpoch> out;
  bpcore::train_epochs<double>(net, opt, bad.data(), Y.data(), nullptr, rows, o, 5,
                               std::numeric_limits<double>::quiet_NaN(), nullptr, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].result.status == EpochStatus::nonfinite);
  CHECK(same_bits(params_of(net), start));
}
