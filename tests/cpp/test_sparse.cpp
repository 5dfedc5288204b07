// CSR input: the two products of layer 1 against dense Eigen products, the CSR checks, gathered
// rows, and Network / train_epoch / fullbatch_epoch on a CSR X against the same X made dense,
// with bitwise thread invariance.
#include <cmath>
#include <cstdint>
#include <vector>

#include "bpcore/sparse_epoch.hpp"
#include "doctest.h"
#include "test_support.hpp"

using bpcore::Activation;
using bpcore::ArgumentError;
using bpcore::Csr;
using bpcore::CsrRows;
using bpcore::EpochOptions;
using bpcore::EpochStatus;
using bpcore::Index;
using bpcore::Init;
using bpcore::Loss;
using bpcore::Matrix;
using bpcore::Network;
using bpcore::Optimizer;
using bpcore::OptimizerConfig;
using bpcore::OptimizerKind;

namespace {

const double* const kNoWeights = nullptr;  // unweighted samples

// A seeded random CSR matrix (about `density` of the entries stored) and its dense copy.
template <class I>
struct Sparse {
  Index rows = 0, cols = 0;
  std::vector<double> data;
  std::vector<I> indices, indptr{0};
  std::vector<double> dense;

  Csr<double> csr() const {
    return Csr<double>{rows,           cols,          data.data(),
                       indices.data(), indptr.data(), sizeof(I) == sizeof(std::int64_t)};
  }
};

template <class I>
Sparse<I> random_sparse(Index rows, Index cols, double density, std::uint64_t seed) {
  Sparse<I> s;
  s.rows = rows;
  s.cols = cols;
  s.dense.assign(std::size_t(rows * cols), 0.0);
  bpcore::Rng rng(seed);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      if (rng.uniform(0, 1) < density) {
        const double x = rng.uniform(-2, 2);
        s.data.push_back(x);
        s.indices.push_back(I(j));
        s.dense[std::size_t(i * cols + j)] = x;
      }
    }
    s.indptr.push_back(I(s.data.size()));
  }
  return s;
}

double max_abs_diff(const double* a, const double* b, Index n) {
  double worst = 0;
  for (Index i = 0; i < n; ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

Network<double> network(Index d) {
  Network<double> net({d, 9, 3}, {Activation::tanh, Activation::softmax}, Loss::cross_entropy);
  net.initialize(Init::xavier, 5);
  return net;
}

}  // namespace

TEST_CASE_TEMPLATE("csr_affine and csr_transpose_product equal the dense products", I, std::int32_t,
                   std::int64_t) {
  const auto X = random_sparse<I>(37, 23, 0.15, 1);
  const Index n_out = 5;
  const auto W = bpcore_test::uniform<double>(X.cols * n_out, 2, -1, 1);
  const auto b = bpcore_test::uniform<double>(n_out, 3, -1, 1);
  const auto delta = bpcore_test::uniform<double>(X.rows * n_out, 4, -1, 1);
  bpcore::ConstMatrixMap<double> Xd(X.dense.data(), X.rows, X.cols);
  bpcore::ConstMatrixMap<double> Wm(W.data(), X.cols, n_out);
  bpcore::ConstMatrixMap<double> Dm(delta.data(), X.rows, n_out);
  bpcore::ConstRowVectorMap<double> bm(b.data(), n_out);

  // rows 4 … 30 of X: a block in the middle, as a row block of a batch
  const Index r0 = 4, nr = 27;
  Matrix<double> Z(nr, n_out);
  bpcore::csr_affine(X.csr(), r0, nr, W.data(), b.data(), n_out, Z.data());
  Matrix<double> Zd = Xd.middleRows(r0, nr) * Wm;
  Zd.rowwise() += bm;
  CHECK(max_abs_diff(Z.data(), Zd.data(), nr * n_out) < 1e-14);

  Matrix<double> gW(X.cols, n_out);
  bpcore::RowVector<double> gb(n_out);
  gW.setConstant(7.0);  // overwritten, not added to
  bpcore::csr_transpose_product(X.csr(), r0, nr, delta.data() + r0 * n_out, n_out, gW.data(),
                                gb.data());
  const Matrix<double> gWd = Xd.middleRows(r0, nr).transpose() * Dm.middleRows(r0, nr);
  const bpcore::RowVector<double> gbd = Dm.middleRows(r0, nr).colwise().sum();
  CHECK(max_abs_diff(gW.data(), gWd.data(), X.cols * n_out) < 1e-14);
  CHECK(max_abs_diff(gb.data(), gbd.data(), n_out) < 1e-14);

  // a view of rows r0 … is the same matrix from its row 0
  Matrix<double> Zv(nr, n_out);
  bpcore::csr_affine(X.csr().rows_view(r0, nr), 0, nr, W.data(), b.data(), n_out, Zv.data());
  CHECK(Zv == Z);
}

TEST_CASE("an empty row gives Z = b and adds nothing to the gradient") {
  std::vector<double> data{2.0};
  std::vector<std::int32_t> indices{1}, indptr{0, 0, 1};
  const Csr<double> X{2, 3, data.data(), indices.data(), indptr.data(), false};
  const std::vector<double> W{1, 2, 3, 4, 5, 6}, b{0.5, -0.5};
  std::vector<double> Z(4);
  bpcore::csr_affine(X, 0, 2, W.data(), b.data(), 2, Z.data());
  CHECK(Z == std::vector<double>{0.5, -0.5, 2 * 3 + 0.5, 2 * 4 - 0.5});
  const std::vector<double> delta{10, 20, 1, -1};
  std::vector<double> gW(6), gb(2);
  bpcore::csr_transpose_product(X, 0, 2, delta.data(), 2, gW.data(), gb.data());
  CHECK(gW == std::vector<double>{0, 0, 2, -2, 0, 0});
  CHECK(gb == std::vector<double>{11, 19});
}

TEST_CASE("check_csr refuses unsorted, duplicate and out-of-range indices and a bad indptr") {
  std::vector<double> data{1, 2, 3};
  auto check = [&](std::vector<std::int64_t> indices, std::vector<std::int64_t> indptr) {
    const Csr<double> X{
        Index(indptr.size()) - 1, 4, data.data(), indices.data(), indptr.data(), true};
    bpcore::check_csr(X);
  };
  CHECK_NOTHROW(check({0, 2, 3}, {0, 2, 3}));
  CHECK_THROWS_AS(check({2, 0, 3}, {0, 2, 3}), ArgumentError);  // unsorted
  CHECK_THROWS_AS(check({1, 1, 3}, {0, 2, 3}), ArgumentError);  // duplicate
  CHECK_THROWS_AS(check({0, 4, 3}, {0, 2, 3}), ArgumentError);  // column 4 of 4
  CHECK_THROWS_AS(check({0, -1, 3}, {0, 2, 3}), ArgumentError);
  CHECK_THROWS_AS(check({0, 2, 3}, {0, 3, 2}), ArgumentError);  // decreasing indptr
  CHECK_THROWS_WITH_AS(check({1, 1, 3}, {0, 2, 3}), doctest::Contains("sorted without duplicates"),
                       ArgumentError);
}

TEST_CASE("CsrRows gathers rows in the order given") {
  const auto X = random_sparse<std::int32_t>(10, 6, 0.4, 8);
  const std::vector<Index> src{7, 2, 2, 9};
  CsrRows<double> rows;
  rows.gather(X.csr(), src.data(), Index(src.size()));
  const Csr<double> G = rows.view();
  REQUIRE(G.rows == 4);
  REQUIRE(G.cols == 6);
  const std::vector<double> W = bpcore_test::uniform<double>(6 * 2, 9, -1, 1), b{0, 0};
  std::vector<double> Zg(8), Zx(2);
  bpcore::csr_affine(G, 0, 4, W.data(), b.data(), 2, Zg.data());
  for (Index i = 0; i < 4; ++i) {
    bpcore::csr_affine(X.csr(), src[std::size_t(i)], 1, W.data(), b.data(), 2, Zx.data());
    CHECK(Zg[std::size_t(2 * i)] == Zx[0]);
    CHECK(Zg[std::size_t(2 * i + 1)] == Zx[1]);
  }
}

TEST_CASE("Network on a CSR batch: forward, loss, predict and backward equal the dense batch") {
  const auto X = random_sparse<std::int32_t>(300, 40, 0.1, 11);
  const auto Y = bpcore_test::one_hot<double>(X.rows, 3, 12);
  const auto w = bpcore_test::uniform<double>(X.rows, 13, 0.2, 2);
  Network<double> sparse = network(X.cols), dense = network(X.cols);
  const Csr<double> C = X.csr();

  const double Js = sparse.backward(C, Y.data(), w.data(), 1);
  const double Jd = dense.backward(X.dense.data(), Y.data(), w.data(), X.rows, 1);
  CHECK(std::abs(Js - Jd) < 1e-13);
  CHECK(max_abs_diff(sparse.grads(), dense.grads(), sparse.n_params()) < 1e-13);
  CHECK(std::abs(sparse.loss(C, Y.data(), w.data(), 1) -
                 dense.loss(X.dense.data(), Y.data(), w.data(), X.rows, 1)) < 1e-13);
  std::vector<double> Ps(std::size_t(X.rows * 3)), Pd(Ps.size());
  sparse.predict(C, Ps.data(), 1);
  dense.predict(X.dense.data(), X.rows, Pd.data(), 1);
  CHECK(max_abs_diff(Ps.data(), Pd.data(), X.rows * 3) < 1e-14);
  sparse.forward(C, 1);
  CHECK(max_abs_diff(sparse.cached_H(1).data(), Pd.data(), X.rows * 3) < 1e-14);

  // the wrong number of columns is refused
  const Csr<double> narrow{C.rows, C.cols - 1, C.data, C.indices, C.indptr, C.index64};
  CHECK_THROWS_AS(sparse.forward(narrow, 1), ArgumentError);
}

TEST_CASE("a CSR batch gives bitwise the same results for any thread count") {
  // large enough for several row blocks over several threads
  const auto X = random_sparse<std::int64_t>(3000, 400, 0.05, 21);
  const auto Y = bpcore_test::one_hot<double>(X.rows, 3, 22);
  Network<double> a = network(X.cols), b = network(X.cols);
  const double Ja = a.backward(X.csr(), Y.data(), nullptr, 1);
  const double Jb = b.backward(X.csr(), Y.data(), nullptr, 4);
  CHECK(Ja == Jb);
  CHECK(bpcore_test::same_bits(bpcore_test::params_of(a), bpcore_test::params_of(b)));
  CHECK(std::vector<double>(a.grads(), a.grads() + a.n_params()) ==
        std::vector<double>(b.grads(), b.grads() + b.n_params()));

  for (OptimizerKind kind : {OptimizerKind::adam, OptimizerKind::lbfgs}) {
    Network<double> n1 = network(X.cols), n4 = network(X.cols);
    OptimizerConfig c;
    c.kind = kind;
    Optimizer<double> o1(c, n1.n_params()), o4(c, n4.n_params());
    EpochOptions e1;
    e1.batch_size = kind == OptimizerKind::lbfgs ? 0 : 256;
    e1.seed = 3;
    e1.n_threads = 1;
    EpochOptions e4 = e1;
    e4.n_threads = 4;
    for (Index epoch = 0; epoch < 2; ++epoch) {
      e1.epoch = e4.epoch = epoch;
      if (kind == OptimizerKind::lbfgs) {
        bpcore::fullbatch_epoch(n1, o1, X.csr(), Y.data(), kNoWeights, e1);
        bpcore::fullbatch_epoch(n4, o4, X.csr(), Y.data(), kNoWeights, e4);
      } else {
        bpcore::train_epoch(n1, o1, X.csr(), Y.data(), kNoWeights, e1);
        bpcore::train_epoch(n4, o4, X.csr(), Y.data(), kNoWeights, e4);
      }
    }
    CHECK(bpcore_test::same_bits(bpcore_test::params_of(n1), bpcore_test::params_of(n4)));
  }
}

TEST_CASE("train_epoch and fullbatch_epoch on CSR rows follow the dense epochs") {
  const auto X = random_sparse<std::int32_t>(200, 30, 0.12, 31);
  const auto Y = bpcore_test::one_hot<double>(X.rows, 3, 32);
  const auto w = bpcore_test::uniform<double>(X.rows, 33, 0.0, 2);
  struct Case {
    OptimizerKind kind;
    Index batch;
    bool shuffle;
  };
  for (const Case& k : {Case{OptimizerKind::sgd, 1, true}, Case{OptimizerKind::momentum, 16, true},
                        Case{OptimizerKind::adam, 32, false}, Case{OptimizerKind::rprop, 0, false},
                        Case{OptimizerKind::lbfgs, 0, false}}) {
    CAPTURE(optimizer_name(k.kind));
    Network<double> s = network(X.cols), d = network(X.cols);
    OptimizerConfig c;
    c.kind = k.kind;
    c.lr = 0.05;
    Optimizer<double> os(c, s.n_params()), od(c, d.n_params());
    EpochOptions e;
    e.batch_size = k.batch;
    e.shuffle = k.shuffle;
    e.seed = 4;
    for (Index epoch = 0; epoch < 3; ++epoch) {
      e.epoch = epoch;
      bpcore::EpochResult rs, rd;
      if (k.kind == OptimizerKind::lbfgs) {
        rs = bpcore::fullbatch_epoch(s, os, X.csr(), Y.data(), w.data(), e);
        rd = bpcore::fullbatch_epoch(d, od, X.dense.data(), Y.data(), w.data(), X.rows, e);
      } else {
        rs = bpcore::train_epoch(s, os, X.csr(), Y.data(), w.data(), e);
        rd = bpcore::train_epoch(d, od, X.dense.data(), Y.data(), w.data(), X.rows, e);
      }
      CHECK(rs.status == rd.status);
      CHECK(rs.batches == rd.batches);
      CHECK(std::abs(rs.loss - rd.loss) < 1e-12);
    }
    CHECK(max_abs_diff(s.params(), d.params(), s.n_params()) < 1e-12);
  }
}

TEST_CASE("lm's normal equations of a CSR X equal those of the dense X") {
  const auto X = random_sparse<std::int32_t>(70, 12, 0.2, 41);
  const auto Y = bpcore_test::uniform<double>(X.rows * 2, 42, -1, 1);
  Network<double> net({X.cols, 4, 2}, {Activation::tanh, Activation::identity}, Loss::mse);
  net.initialize(Init::xavier, 6);
  Eigen::MatrixXd As, Ad;
  Eigen::VectorXd bs, bd;
  const double Js = bpcore::lm_normal_equations(net, X.csr(), Y.data(), kNoWeights, 1, As, bs);
  const double Jd =
      bpcore::lm_normal_equations(net, X.dense.data(), Y.data(), kNoWeights, X.rows, 1, Ad, bd);
  CHECK(std::abs(Js - Jd) < 1e-13);
  CHECK((As - Ad).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((bs - bd).cwiseAbs().maxCoeff() < 1e-13);
}
