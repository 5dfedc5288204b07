// The network: parameter layout, the forward pass, delta back-propagation and its gradient,
// float against double, determinism over thread counts, and argument errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpcore/network.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Network;
using bpcore_test::max_relative_error;
using bpcore_test::norm_relative_error;
using bpcore_test::params_of;
using bpcore_test::same_bits;

namespace {

using bpcore_test::has_kink;
using bpcore_test::OutputCase;

// every hidden activation, and every loss with each output activation it accepts (the tables)
const std::vector<Activation> kHidden = bpcore_test::hidden_activations();
const std::vector<OutputCase> kOutputs = bpcore_test::output_cases();

// sizes (d, n_1 … n_depth, q) and activations for a test network
struct Spec {
  std::vector<Index> sizes;
  std::vector<Activation> activations;
  Loss loss;
};

Spec make_spec(int depth, Activation hidden, const OutputCase& out) {
  const Index widths[] = {5, 4, 6};
  Spec s{{3}, {}, out.loss};
  for (int k = 0; k < depth; ++k) {
    s.sizes.push_back(widths[k]);
    s.activations.push_back(hidden);
  }
  s.sizes.push_back(out.loss == Loss::binary_cross_entropy ? 2 : 3);
  s.activations.push_back(out.f);
  return s;
}

// Targets that suit the loss's task: real values (regression), one-hot rows (classification),
// values in [0, 1] (multilabel), counts (poisson: y >= 0, some exactly 0).
std::vector<double> make_targets(Loss loss, Index rows, Index q, std::uint64_t seed) {
  const std::string_view task = bpcore::loss_info(loss).task;
  if (loss == Loss::poisson) {
    auto Y = bpcore_test::uniform<double>(rows * q, seed, 0, 4);
    for (std::size_t i = 0; i < Y.size(); ++i) Y[i] = i % 4 == 0 ? 0.0 : std::floor(Y[i]);
    return Y;
  }
  if (task == "classification") return bpcore_test::one_hot<double>(rows, q, seed);
  if (task == "multilabel") {
    auto Y = bpcore_test::uniform<double>(rows * q, seed, 0, 1);
    for (std::size_t i = 0; i < Y.size(); i += 3) Y[i] = Y[i] < 0.5 ? 0 : 1;
    return Y;
  }
  return bpcore_test::uniform<double>(rows * q, seed, -1, 1);
}

// Sets prelu slopes away from their initial value so that alpha is really exercised.
template <class T>
void set_alphas(Network<T>& net) {
  for (Index k = 0; k < net.n_layers(); ++k)
    if (bpcore::activation_info(net.layer(k).f).learnable) net.alpha(k) = T(0.1 + 0.15 * double(k));
}

// Smallest |Z^[l]| over the layers whose activation has a kink at 0 (after forward).
template <class T>
double kink_margin(const Network<T>& net) {
  double margin = INFINITY;
  for (Index k = 0; k < net.n_layers(); ++k)
    if (has_kink(net.layer(k).f))
      margin = std::min(margin, double(net.cached_Z(k).cwiseAbs().minCoeff()));
  return margin;
}

// Whether every layer with a learnable slope alpha has some Z^[l] < 0, where alpha acts.
template <class T>
bool alphas_act(const Network<T>& net) {
  for (Index k = 0; k < net.n_layers(); ++k)
    if (net.layer(k).alpha_offset >= 0 && net.cached_Z(k).minCoeff() >= 0) return false;
  return true;
}

template <class T>
std::vector<T> grads_of(const Network<T>& net) {
  return std::vector<T>(net.grads(), net.grads() + net.n_params());
}

}  // namespace

TEST_CASE("parameter layout: per layer W^[l] row-major, b^[l], then alpha^[l] for prelu") {
  Network<double> net({4, 5, 3}, {Activation::prelu, Activation::sigmoid}, Loss::mse);
  CHECK(net.n_layers() == 2);
  CHECK(net.n_inputs() == 4);
  CHECK(net.n_outputs() == 3);
  CHECK(net.n_params() == 4 * 5 + 5 + 1 + 5 * 3 + 3);
  CHECK(net.layer(0).w_offset == 0);
  CHECK(net.layer(0).b_offset == 20);
  CHECK(net.layer(0).alpha_offset == 25);
  CHECK(net.layer(1).w_offset == 26);
  CHECK(net.layer(1).b_offset == 41);
  CHECK(net.layer(1).alpha_offset == -1);
  CHECK(net.layer(0).n_in == 4);
  CHECK(net.layer(0).n_out == 5);
  CHECK(net.loss_kind() == Loss::mse);
  // a new network: zero W and b, alpha at its initial value
  CHECK(net.params()[25] == 0.25);
  CHECK(net.alpha(0) == 0.25);
  CHECK(net.alpha_or_zero(1) == 0.0);
  for (Index p = 0; p < net.n_params(); ++p)
    if (p != 25) CHECK(net.params()[p] == 0.0);

  net.W(0)(2, 3) = 7;  // W^[1]_{2,3} (0-based) sits at row 2, column 3 of a 4 × 5 matrix
  net.b(0)(4) = 8;
  net.alpha(0) = 9;
  net.W(1)(4, 2) = 10;
  net.b(1)(0) = 11;
  CHECK(net.params()[2 * 5 + 3] == 7);
  CHECK(net.params()[20 + 4] == 8);
  CHECK(net.params()[25] == 9);
  CHECK(net.params()[26 + 4 * 3 + 2] == 10);
  CHECK(net.params()[41] == 11);
  CHECK(net.W(0).rows() == 4);
  CHECK(net.W(0).cols() == 5);
  CHECK(net.b(1).size() == 3);
}

TEST_CASE("hand-computed forward and backward of the notes' 4-5-3 sigmoid network") {
  const Index n = 2, d = 4, m = 5, q = 3;
  double X[n][d] = {{0.5, -1.0, 2.0, 0.25}, {-0.3, 0.8, 0.1, -1.2}};
  double Y[n][q] = {{1, 0, 0}, {0, 0, 1}};
  double W1[d][m], b1[m], W2[m][q], b2[q];
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < m; ++j)
      W1[i][j] = 0.05 * double(i + 1) - 0.03 * double(j + 1) + 0.02 * double(i * j);
  for (Index j = 0; j < m; ++j) b1[j] = 0.1 * double(j) - 0.2;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < q; ++j) W2[i][j] = 0.3 - 0.04 * double((i + 1) * (j + 1));
  for (Index j = 0; j < q; ++j) b2[j] = 0.1 - 0.08 * double(j);

  Network<double> net({d, m, q}, {Activation::sigmoid, Activation::sigmoid}, Loss::mse);
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < m; ++j) net.W(0)(i, j) = W1[i][j];
  for (Index j = 0; j < m; ++j) net.b(0)(j) = b1[j];
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < q; ++j) net.W(1)(i, j) = W2[i][j];
  for (Index j = 0; j < q; ++j) net.b(1)(j) = b2[j];

  // the notes, one neuron at a time: z_j = sum_i x_i w_ij + b_j,  h_j = 1 / (1 + e^-z_j)
  double Z1[n][m], H1[n][m], Z2[n][q], H2[n][q];
  for (Index s = 0; s < n; ++s) {
    for (Index j = 0; j < m; ++j) {
      Z1[s][j] = b1[j];
      for (Index i = 0; i < d; ++i) Z1[s][j] += X[s][i] * W1[i][j];
      H1[s][j] = 1 / (1 + std::exp(-Z1[s][j]));
    }
    for (Index j = 0; j < q; ++j) {
      Z2[s][j] = b2[j];
      for (Index i = 0; i < m; ++i) Z2[s][j] += H1[s][i] * W2[i][j];
      H2[s][j] = 1 / (1 + std::exp(-Z2[s][j]));
    }
  }

  net.forward(&X[0][0], n, 1);
  REQUIRE(net.cached_rows() == n);
  CHECK_FALSE(net.has_delta());
  for (Index s = 0; s < n; ++s) {
    for (Index j = 0; j < m; ++j) {
      CHECK(net.cached_Z(0)(s, j) == doctest::Approx(Z1[s][j]).epsilon(1e-14));
      CHECK(net.cached_H(0)(s, j) == doctest::Approx(H1[s][j]).epsilon(1e-14));
    }
    for (Index j = 0; j < q; ++j) {
      CHECK(net.cached_Z(1)(s, j) == doctest::Approx(Z2[s][j]).epsilon(1e-14));
      CHECK(net.cached_H(1)(s, j) == doctest::Approx(H2[s][j]).epsilon(1e-14));
    }
  }

  // delta^[2] = (y - h) h (1 - h);  delta^[1]_a = (sum_j delta^[2]_j w_aj) h_a (1 - h_a)
  double D2[n][q], D1[n][m], J = 0;
  for (Index s = 0; s < n; ++s) {
    for (Index j = 0; j < q; ++j) {
      const double e = Y[s][j] - H2[s][j];
      J += 0.5 * e * e / double(n);
      D2[s][j] = e * H2[s][j] * (1 - H2[s][j]);
    }
    for (Index a = 0; a < m; ++a) {
      double g = 0;
      for (Index j = 0; j < q; ++j) g += D2[s][j] * W2[a][j];
      D1[s][a] = g * H1[s][a] * (1 - H1[s][a]);
    }
  }
  const double J_core = net.backward(&X[0][0], &Y[0][0], nullptr, n, 1);
  CHECK(J_core == doctest::Approx(J).epsilon(1e-14));
  CHECK(net.has_delta());
  for (Index s = 0; s < n; ++s) {
    for (Index j = 0; j < q; ++j)
      CHECK(net.cached_delta(1)(s, j) == doctest::Approx(D2[s][j]).epsilon(1e-13));
    for (Index a = 0; a < m; ++a)
      CHECK(net.cached_delta(0)(s, a) == doctest::Approx(D1[s][a]).epsilon(1e-13));
  }
  // dJ/dw_ij = -(1/n) sum_s h_i delta_j,  dJ/db_j = -(1/n) sum_s delta_j
  const double* g = net.grads();
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < m; ++j) {
      double expected = 0;
      for (Index s = 0; s < n; ++s) expected -= X[s][i] * D1[s][j] / double(n);
      CHECK(g[i * m + j] == doctest::Approx(expected).epsilon(1e-13));
    }
  for (Index j = 0; j < m; ++j) {
    double expected = 0;
    for (Index s = 0; s < n; ++s) expected -= D1[s][j] / double(n);
    CHECK(g[d * m + j] == doctest::Approx(expected).epsilon(1e-13));
  }
  const Index w2 = d * m + m;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < q; ++j) {
      double expected = 0;
      for (Index s = 0; s < n; ++s) expected -= H1[s][i] * D2[s][j] / double(n);
      CHECK(g[w2 + i * q + j] == doctest::Approx(expected).epsilon(1e-13));
    }
  for (Index j = 0; j < q; ++j) {
    double expected = 0;
    for (Index s = 0; s < n; ++s) expected -= D2[s][j] / double(n);
    CHECK(g[w2 + m * q + j] == doctest::Approx(expected).epsilon(1e-13));
  }

  // one gradient-descent step W <- W - lr dJ/dW lowers J (the notes' sign is an erratum)
  for (Index p = 0; p < net.n_params(); ++p) net.params()[p] -= 0.5 * g[p];
  CHECK(net.loss(&X[0][0], &Y[0][0], nullptr, n, 1) < J);
}

TEST_CASE("backward's dJ/dtheta matches central differences of loss and the oracle") {
  // every hidden activation × every loss with each valid output activation × 0 … 3 hidden layers,
  // with and without sample weights
  const Index n = 6;
  const double h = 1e-5;
  int networks = 0;
  double worst_fd = 0, worst_fd_element = 0, worst_oracle = 0;
  for (int depth = 0; depth <= 3; ++depth) {
    for (Activation hidden : kHidden) {
      if (depth == 0 && hidden != Activation::identity) continue;  // no hidden layer to vary
      for (const OutputCase& out : kOutputs) {
        for (bool weighted : {false, true}) {
          const Spec spec = make_spec(depth, hidden, out);
          CAPTURE(depth);
          CAPTURE(bpcore::activation_name(hidden));
          CAPTURE(bpcore::activation_name(out.f));
          CAPTURE(bpcore::loss_name(out.loss));
          CAPTURE(weighted);
          Network<double> net(spec.sizes, spec.activations, spec.loss);
          const Index q = net.n_outputs();
          std::vector<double> X, Y, w;
          // pick data whose pre-activations keep clear of the kinks at 0 and reach alpha
          bool clear = false;
          for (std::uint64_t seed = 1; seed < 200 && !clear; ++seed) {
            net.initialize(Init::small_uniform, seed, 0.9);
            set_alphas(net);
            X = bpcore_test::uniform<double>(n * 3, 1000 + seed, -1.5, 1.5);
            net.forward(X.data(), n, 1);
            clear = kink_margin(net) > 1e-3 && alphas_act(net);
          }
          REQUIRE(clear);
          Y = make_targets(spec.loss, n, q, 77);
          if (weighted) {
            w = bpcore_test::uniform<double>(n, 5, 0.2, 2.0);
            w[1] = 0;  // a zero weight drops its sample
          }
          const double* wp = weighted ? w.data() : nullptr;

          const double J = net.backward(X.data(), Y.data(), wp, n, 1);
          const auto g = grads_of(net);
          const auto ref = bpcore_test::reference_backprop(net, X.data(), Y.data(), wp, n);
          const auto fd = bpcore_test::numeric_gradient(net, X.data(), Y.data(), wp, n, h);

          CHECK(J == doctest::Approx(ref.J).epsilon(1e-13));
          CHECK(J == doctest::Approx(net.loss(X.data(), Y.data(), wp, n, 1)).epsilon(1e-13));
          const double e_oracle =
              max_relative_error(g.data(), ref.grad.data(), net.n_params(), 1e-8);
          const double e_fd = norm_relative_error(g.data(), fd.data(), net.n_params());
          CHECK(e_oracle < 1e-10);
          CHECK(e_fd < 1e-7);
          // element-wise: relative 1e-6 above 1e-3, absolute 1e-9 below it
          const double e_fd_element = max_relative_error(g.data(), fd.data(), net.n_params(), 1e-3);
          CHECK(e_fd_element < 1e-6);
          worst_fd = std::max(worst_fd, e_fd);
          worst_fd_element = std::max(worst_fd_element, e_fd_element);
          worst_oracle = std::max(worst_oracle, e_oracle);
          for (Index k = 0; k < net.n_layers(); ++k) {
            const auto& s = net.layer(k);
            if (s.alpha_offset >= 0) {
              // dJ/dalpha is really tested: the data reach the negative side
              CHECK(std::abs(fd[std::size_t(s.alpha_offset)]) > 1e-6);
              CHECK(g[std::size_t(s.alpha_offset)] ==
                    doctest::Approx(fd[std::size_t(s.alpha_offset)]).epsilon(1e-6));
            }
            if (!weighted) {
              // delta^[l] = -dJ_i/dZ^[l] per sample, as the oracle computes it
              const auto D = net.cached_delta(k);
              CHECK(max_relative_error(D.data(), ref.delta[std::size_t(k)].data(), n * s.n_out,
                                       1e-8) < 1e-10);
            }
          }
          ++networks;
        }
      }
    }
  }
  CHECK(networks == int(2 * kOutputs.size() * (1 + 3 * kHidden.size())));
  MESSAGE(networks << " networks; worst relative error against central differences " << worst_fd
                   << " (norm), " << worst_fd_element << " (element-wise); against the oracle "
                   << worst_oracle);
}

TEST_CASE("float and double agree to float precision") {
  const Index n = 40;
  for (Activation hidden : kHidden) {
    for (const OutputCase& out : kOutputs) {
      CAPTURE(bpcore::activation_name(hidden));
      CAPTURE(bpcore::activation_name(out.f));
      const Spec spec = make_spec(2, hidden, out);
      Network<double> nd(spec.sizes, spec.activations, spec.loss);
      Network<float> nf(spec.sizes, spec.activations, spec.loss);
      nd.initialize(Init::xavier, 3);
      set_alphas(nd);
      for (Index p = 0; p < nd.n_params(); ++p) nf.params()[p] = float(nd.params()[p]);
      // data exactly representable in float, so both see the same inputs
      auto Xd = bpcore_test::uniform<double>(n * 3, 4, -2, 2);
      for (auto& x : Xd) x = double(float(x));
      auto Yd = make_targets(spec.loss, n, nd.n_outputs(), 9);
      for (auto& y : Yd) y = double(float(y));
      const std::vector<float> Xf(Xd.begin(), Xd.end()), Yf(Yd.begin(), Yd.end());

      const double Jd = nd.backward(Xd.data(), Yd.data(), nullptr, n, 1);
      const double Jf = nf.backward(Xf.data(), Yf.data(), nullptr, n, 1);
      CHECK(Jf == doctest::Approx(Jd).epsilon(1e-5));
      const auto gd = grads_of(nd);
      const auto gf = grads_of(nf);
      double g_max = 0, diff_max = 0;
      for (std::size_t p = 0; p < gd.size(); ++p) {
        g_max = std::max(g_max, std::abs(gd[p]));
        diff_max = std::max(diff_max, std::abs(gd[p] - double(gf[p])));
      }
      CHECK(diff_max <= 1e-5 * g_max);

      std::vector<double> Pd(std::size_t(n * nd.n_outputs()));
      std::vector<float> Pf(Pd.size());
      nd.predict(Xd.data(), n, Pd.data(), 1);
      nf.predict(Xf.data(), n, Pf.data(), 1);
      CHECK(max_relative_error(Pf.data(), Pd.data(), Index(Pd.size()), 1.0) < 1e-5);
    }
  }
}

TEST_CASE("results are bitwise the same for 1, 2 and 3 threads") {
  // 1000 rows: 16 row blocks in backward, 4 chunks in predict and loss, and enough work for threads
  const Index n = 1000;
  struct Case {
    Activation hidden;
    OutputCase out;
  };
  for (const Case& c :
       {Case{Activation::tanh, {Loss::mse, Activation::identity}},
        Case{Activation::prelu, {Loss::cross_entropy, Activation::softmax}},
        Case{Activation::gelu, {Loss::mse, Activation::softplus}},
        Case{Activation::silu, {Loss::binary_cross_entropy, Activation::sigmoid}}}) {
    CAPTURE(bpcore::activation_name(c.hidden));
    Network<double> net({8, 32, 16, 3}, {c.hidden, c.hidden, c.out.f}, c.out.loss);
    net.initialize(Init::he, 21);
    set_alphas(net);
    REQUIRE(bpcore::partition_rows(n).count > 1);
    const auto X = bpcore_test::uniform<double>(n * 8, 22, -1, 1);
    const auto Y = make_targets(c.out.loss, n, 3, 23);
    auto w = bpcore_test::uniform<double>(n, 24, 0, 3);

    for (const double* wp :
         {static_cast<const double*>(nullptr), static_cast<const double*>(w.data())}) {
      CAPTURE(wp != nullptr);
      const double J1 = net.backward(X.data(), Y.data(), wp, n, 1);
      const auto g1 = grads_of(net);
      std::vector<double> P1(std::size_t(n * 3));
      net.predict(X.data(), n, P1.data(), 1);
      const double L1 = net.loss(X.data(), Y.data(), wp, n, 1);
      for (int threads : {2, 3}) {
        CAPTURE(threads);
        const double J = net.backward(X.data(), Y.data(), wp, n, threads);
        CHECK(std::memcmp(&J, &J1, sizeof J) == 0);
        CHECK(same_bits(grads_of(net), g1));
        std::vector<double> P(P1.size());
        net.predict(X.data(), n, P.data(), threads);
        CHECK(same_bits(P, P1));
        const double L = net.loss(X.data(), Y.data(), wp, n, threads);
        CHECK(std::memcmp(&L, &L1, sizeof L) == 0);
      }

      // the block-wise gradient is the gradient of the whole batch, up to rounding
      const auto ref = bpcore_test::reference_backprop(net, X.data(), Y.data(), wp, n);
      CHECK(norm_relative_error(g1.data(), ref.grad.data(), net.n_params()) < 1e-12);
      CHECK(J1 == doctest::Approx(ref.J).epsilon(1e-12));
      CHECK(L1 == doctest::Approx(J1).epsilon(1e-12));
      net.forward(X.data(), n, 2);
      const auto H_L = net.cached_H(net.n_layers() - 1);
      CHECK(max_relative_error(H_L.data(), P1.data(), n * 3, 1e-3) < 1e-12);
    }

    // unweighted: the mean over the blocks, each block's backward weighted by its rows
    const auto blocks = bpcore::partition_rows(n);
    net.backward(X.data(), Y.data(), nullptr, n, 3);
    const auto g_all = grads_of(net);
    std::vector<double> g_sum(g_all.size(), 0.0);
    for (Index b = 0; b < blocks.count; ++b) {
      const Index r0 = blocks.begin(b), nr = blocks.size(b);
      net.backward(X.data() + r0 * 8, Y.data() + r0 * 3, nullptr, nr, 1);
      for (std::size_t p = 0; p < g_sum.size(); ++p)
        g_sum[p] += net.grads()[p] * double(nr) / double(n);
    }
    CHECK(norm_relative_error(g_all.data(), g_sum.data(), net.n_params()) < 1e-13);
  }
}

TEST_CASE("predict and loss leave the cache alone and equal forward and backward") {
  Network<double> net({3, 7, 2}, {Activation::tanh, Activation::sigmoid},
                      Loss::binary_cross_entropy);
  net.initialize(Init::xavier, 2);
  const auto X = bpcore_test::uniform<double>(30, 1, -1, 1);
  const auto Y = make_targets(Loss::binary_cross_entropy, 10, 2, 3);
  const double J = net.backward(X.data(), Y.data(), nullptr, 10, 1);
  const auto Z_before = std::vector<double>(net.cached_Z(1).data(), net.cached_Z(1).data() + 20);
  const auto g_before = grads_of(net);

  std::vector<double> P(6);
  net.predict(X.data() + 12, 3, P.data(), 1);  // rows 4 … 6 only
  CHECK(net.loss(X.data(), Y.data(), nullptr, 10, 1) == doctest::Approx(J).epsilon(1e-14));
  CHECK(net.cached_rows() == 10);
  CHECK(net.has_delta());
  CHECK(std::equal(Z_before.begin(), Z_before.end(), net.cached_Z(1).data()));
  CHECK(same_bits(grads_of(net), g_before));
  for (Index i = 0; i < 3; ++i)
    for (Index j = 0; j < 2; ++j)
      CHECK(P[std::size_t(i * 2 + j)] == doctest::Approx(net.cached_H(1)(4 + i, j)).epsilon(1e-14));
}

TEST_CASE_TEMPLATE("predict reports a non-finite Z^[1] for every NaN or infinite input", T, float,
                   double) {
  // The caller checks X only when predict returns false, so every non-finite x must show: also
  // through a zero row of W^[1] (inf * 0 is NaN) and saturating activations (sigmoid(inf) = 1), on
  // the small networks' row kernels and on the products, on one chunk or several, on 1 or 2 threads
  const T bad_values[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                          -std::numeric_limits<T>::infinity()};
  for (const Index width : {Index(5), Index(40)}) {
    Network<T> net({6, width, 3}, {Activation::sigmoid, Activation::softmax}, Loss::cross_entropy);
    net.initialize(Init::xavier, 4);
    const Index n_out = net.layer(0).n_out;
    std::fill_n(net.params() + net.layer(0).w_offset + 2 * n_out, n_out, T(0));  // input 2
    for (const Index rows : {Index(3), Index(700)}) {
      auto X = bpcore_test::uniform<T>(rows * 6, 8, -1, 1);
      std::vector<T> P(std::size_t(rows * 3));
      for (int threads : {1, 2}) {
        CHECK(net.predict(X.data(), rows, P.data(), threads));
        for (const T bad : bad_values)
          for (const Index at : {Index(0), rows * 3 + 2, rows * 6 - 1}) {
            const T kept = X[std::size_t(at)];
            X[std::size_t(at)] = bad;
            CHECK_FALSE(net.predict(X.data(), rows, P.data(), threads));
            X[std::size_t(at)] = kept;
          }
      }
    }
  }
}

TEST_CASE("the workspace follows the batch size and can be released") {
  Network<double> net({2, 4, 1}, {Activation::sigmoid, Activation::identity}, Loss::mse);
  net.initialize(Init::small_uniform, 8, 0.5);
  const auto X = bpcore_test::uniform<double>(2 * 300, 1, -1, 1);
  const auto Y = bpcore_test::uniform<double>(300, 2, -1, 1);
  const double J_small = net.backward(X.data(), Y.data(), nullptr, 5, 1);
  const auto g_small = grads_of(net);
  net.backward(X.data(), Y.data(), nullptr, 300, 1);
  CHECK(net.cached_rows() == 300);
  // a smaller batch after a larger one gives what it gave the first time
  CHECK(net.backward(X.data(), Y.data(), nullptr, 5, 1) == J_small);
  CHECK(same_bits(grads_of(net), g_small));
  CHECK(net.cached_rows() == 5);
  net.release_workspace();
  CHECK(net.cached_rows() == 0);
  CHECK_FALSE(net.has_delta());
  CHECK_THROWS_AS(net.cached_Z(0), ArgumentError);
  CHECK(net.backward(X.data(), Y.data(), nullptr, 5, 1) == J_small);
  CHECK(same_bits(grads_of(net), g_small));
}

TEST_CASE("bad sizes, activations and pairings throw ArgumentError") {
  using A = Activation;
  CHECK_THROWS_WITH_AS(Network<double>({4}, {}, Loss::mse), doctest::Contains("sizes"),
                       ArgumentError);
  CHECK_THROWS_AS(Network<double>({}, {}, Loss::mse), ArgumentError);
  CHECK_THROWS_WITH_AS(Network<double>({4, 0, 3}, {A::sigmoid, A::sigmoid}, Loss::mse),
                       doctest::Contains("sizes[1]"), ArgumentError);
  CHECK_THROWS_AS(Network<double>({4, 5, -3}, {A::sigmoid, A::sigmoid}, Loss::mse), ArgumentError);
  CHECK_THROWS_WITH_AS(Network<double>({4, 5, 3}, {A::sigmoid}, Loss::mse),
                       doctest::Contains("activations"), ArgumentError);
  CHECK_THROWS_AS(Network<float>({4, 5, 3}, {A::sigmoid, A::sigmoid, A::sigmoid}, Loss::mse),
                  ArgumentError);
  CHECK_THROWS_WITH_AS(Network<double>({4, 5, 3}, {A::softmax, A::softmax}, Loss::cross_entropy),
                       doctest::Contains("softmax"), ArgumentError);
  CHECK_THROWS_AS(Network<double>({4, 3}, {A::sigmoid}, Loss::cross_entropy), ArgumentError);
  CHECK_THROWS_AS(Network<double>({4, 3}, {A::softmax}, Loss::mse), ArgumentError);
  CHECK_THROWS_AS(Network<double>({4, 3}, {A::softmax}, Loss::binary_cross_entropy), ArgumentError);
  CHECK_THROWS_AS(Network<double>({4, 3}, {A::identity}, Loss::binary_cross_entropy),
                  ArgumentError);
  CHECK_THROWS_AS(Network<double>({4, 1}, {A::softmax}, Loss::cross_entropy), ArgumentError);
  CHECK_NOTHROW(Network<double>({4, 2}, {A::softmax}, Loss::cross_entropy));
  CHECK_NOTHROW(Network<double>({4, 1}, {A::sigmoid}, Loss::binary_cross_entropy));

  Network<double> net({2, 3, 2}, {A::relu, A::prelu}, Loss::mse);
  CHECK_THROWS_WITH_AS(net.alpha(0), doctest::Contains("not prelu"), ArgumentError);
  CHECK_NOTHROW(net.alpha(1));
  CHECK_THROWS_AS(net.layer(2), std::out_of_range);
  CHECK_THROWS_AS(net.cached_Z(0), ArgumentError);
  CHECK_THROWS_AS(net.cached_H(0), ArgumentError);
  CHECK_THROWS_AS(net.cached_delta(0), ArgumentError);
}

TEST_CASE("bad batches and sample weights throw ArgumentError") {
  Network<double> net({2, 3, 1}, {Activation::tanh, Activation::identity}, Loss::mse);
  net.initialize(Init::small_uniform, 1);
  const std::vector<double> X{1, 2, 3, 4}, Y{1, 0};
  std::vector<double> P(2);
  CHECK_THROWS_AS(net.forward(X.data(), 0, 1), ArgumentError);
  CHECK_THROWS_AS(net.backward(X.data(), Y.data(), nullptr, 0, 1), ArgumentError);
  CHECK_THROWS_AS(net.loss(X.data(), Y.data(), nullptr, 0, 1), ArgumentError);
  CHECK_THROWS_AS(net.predict(X.data(), 0, P.data(), 1), ArgumentError);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::vector<double>& w :
       {std::vector<double>{1, -1}, std::vector<double>{nan, 1}, std::vector<double>{1, INFINITY},
        std::vector<double>{0, 0}}) {
    CAPTURE(w[0]);
    CAPTURE(w[1]);
    CHECK_THROWS_WITH_AS(net.backward(X.data(), Y.data(), w.data(), 2, 1),
                         doctest::Contains("sample_weight"), ArgumentError);
    CHECK_THROWS_WITH_AS(net.loss(X.data(), Y.data(), w.data(), 2, 1),
                         doctest::Contains("sample_weight"), ArgumentError);
  }

  // after forward there is no delta yet; after backward there is
  net.forward(X.data(), 2, 1);
  CHECK_NOTHROW(net.cached_Z(1));
  CHECK_THROWS_WITH_AS(net.cached_delta(0), doctest::Contains("backward"), ArgumentError);
  net.backward(X.data(), Y.data(), nullptr, 2, 1);
  CHECK_NOTHROW(net.cached_delta(0));
}
