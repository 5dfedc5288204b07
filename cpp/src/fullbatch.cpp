#include "bpcore/fullbatch.hpp"

#include "bpcore/fp_mode.hpp"
#include "bpcore/sparse_epoch.hpp"
#include "lbfgs_objective.hpp"

// LBFGSpp's own header (it includes Param.h before the line searches that need it)
#include <LBFGS.h>

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace bpcore {

namespace {

using detail::get_params;
using detail::Interrupted;
using detail::LbfgsObjective;
using detail::NonFinite;
using detail::set_params;

bool loss_converged(double J0, double J1, double loss_tol) {
  return std::abs(J0 - J1) <= loss_tol * std::max({std::abs(J0), std::abs(J1), 1.0});
}

template <class T>
EpochStatus lbfgs_iteration(LbfgsObjective<T>& f, FullBatchMemory& mem, const OptimizerConfig& c,
                            EpochResult& result) {
  Network<T>& net = f.net;
  const Index P = net.n_params();
  const Eigen::VectorXd theta = get_params(net);
  // A fresh start when the parameters are not where the last iteration left them.
  if (!mem.started || mem.x.size() != P || mem.x.cast<T>() != theta.cast<T>()) {
    mem.bfgs.reset(int(P), int(c.history_size));
    mem.x = theta;
    mem.J = f(mem.x, mem.g);
    mem.direction = -mem.g;
    mem.step = 1.0 / mem.direction.norm();
    mem.started = true;
  }
  result.loss = mem.J;
  if (!(mem.g.norm() > c.grad_tol)) {
    set_params(net, mem.x);
    return EpochStatus::converged;
  }
  LBFGSpp::LBFGSParam<double> param;
  param.m = int(c.history_size);
  param.linesearch = LBFGSpp::LBFGS_LINESEARCH_BACKTRACKING_STRONG_WOLFE;
  param.max_linesearch = int(c.max_fun);
  const Eigen::VectorXd xp = mem.x, gp = mem.g;
  const double J0 = mem.J;
  try {
    LBFGSpp::LineSearchNocedalWright<double>::LineSearch(f, mem.J, mem.x, mem.g, mem.step,
                                                         mem.direction, xp, param);
  } catch (const std::exception&) {
    return EpochStatus::stalled;  // no step satisfies the Wolfe conditions: rolled back
  }
  set_params(net, mem.x);
  // (checked before the curvature pairs change: the epoch's roll-back does not restore them)
  if (!Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(net.params(), P).isFinite().all())
    return EpochStatus::nonfinite;
  // s = theta_k+1 - theta_k, y = g_k+1 - g_k;  d = -H g
  mem.bfgs.add_correction(mem.x - xp, mem.g - gp);
  mem.bfgs.apply_Hv(mem.g, -1.0, mem.direction);
  mem.step = 1;
  if (!(mem.g.norm() > c.grad_tol) || loss_converged(J0, mem.J, c.loss_tol))
    return EpochStatus::converged;
  return EpochStatus::ok;
}

template <class T>
double lm_equations(const Network<T>& net, const T* X, const Csr<T>* csr, const T* Y,
                    const T* sample_weight, Index rows, int n_threads, Eigen::MatrixXd& JtJ,
                    Eigen::VectorXd& Jte);

// J of a dense X, or of a CSR one when `csr` is set
template <class T>
double input_loss(const Network<T>& net, const T* X, const Csr<T>* csr, const T* Y, const T* w,
                  Index rows, int threads) {
  return csr ? net.loss(*csr, Y, w, threads) : net.loss(X, Y, w, rows, threads);
}

template <class T>
EpochStatus lm_iteration(Network<T>& net, FullBatchMemory& mem, const OptimizerConfig& c,
                         const T* X, const T* Y, const T* w, Index rows, int threads,
                         const std::function<bool()>* poll, EpochResult& result,
                         const Csr<T>* csr) {
  if (!mem.started) {
    mem.mu = lm_mu_start;
    mem.started = true;
  }
  Eigen::MatrixXd JtJ;
  Eigen::VectorXd Jte;
  lm_equations<T>(net, X, csr, Y, w, rows, threads, JtJ, Jte);
  const double J0 = input_loss(net, X, csr, Y, w, rows, threads);
  ++mem.evaluations;
  result.loss = J0;
  if (!std::isfinite(J0) || !Jte.allFinite() || !JtJ.allFinite()) return EpochStatus::nonfinite;
  // dJ/dtheta = -Jac^T e
  if (!(Jte.norm() > c.grad_tol)) return EpochStatus::converged;
  const Eigen::VectorXd theta0 = get_params(net);
  for (;;) {
    if (poll && (*poll)()) return EpochStatus::interrupted;
    set_params(net, theta0 + lm_step(JtJ, Jte, mem.mu));
    const double J1 = input_loss(net, X, csr, Y, w, rows, threads);
    ++mem.evaluations;
    if (std::isfinite(J1) && J1 < J0) {
      mem.mu *= lm_mu_down;
      return loss_converged(J0, J1, c.loss_tol) ? EpochStatus::converged : EpochStatus::ok;
    }
    mem.mu *= lm_mu_up;
    if (mem.mu > lm_mu_max) return EpochStatus::stalled;
  }
}

}  // namespace

Eigen::VectorXd lm_step(const Eigen::MatrixXd& JtJ, const Eigen::VectorXd& Jte, double mu) {
  // (Jac^T Jac + mu I) Dtheta = Jac^T e, factorised in place: one P x P matrix, not two (at
  // hundreds of parameters their allocation and first touch were a tenth of an iteration)
  Eigen::MatrixXd A = JtJ;
  A.diagonal().array() += mu;
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(A);
  if (llt.info() == Eigen::Success) return llt.solve(Jte);
  A = JtJ;  // (the failed factorisation overwrote it)
  A.diagonal().array() += mu;
  return Eigen::LDLT<Eigen::Ref<Eigen::MatrixXd>>(A).solve(Jte);
}

template <class T>
double lm_normal_equations(const Network<T>& net, const T* X, const T* Y, const T* sample_weight,
                           Index rows, int n_threads, Eigen::MatrixXd& JtJ, Eigen::VectorXd& Jte) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  return lm_equations<T>(net, X, nullptr, Y, sample_weight, rows, n_threads, JtJ, Jte);
}

template <class T>
double lm_normal_equations(const Network<T>& net, const Csr<T>& X, const T* Y,
                           const T* sample_weight, int n_threads, Eigen::MatrixXd& JtJ,
                           Eigen::VectorXd& Jte) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require(X.cols == net.n_inputs(), "X must have " + std::to_string(net.n_inputs()) +
                                        " features (columns); got " + std::to_string(X.cols));
  return lm_equations<T>(net, nullptr, &X, Y, sample_weight, X.rows, n_threads, JtJ, Jte);
}

namespace {

template <class T>
double lm_equations(const Network<T>& net, const T* X, const Csr<T>* csr, const T* Y,
                    const T* sample_weight, Index rows, int n_threads, Eigen::MatrixXd& JtJ,
                    Eigen::VectorXd& Jte) {
  require(net.loss_kind() == Loss::mse,
          "optimizer lm needs loss mse (its residuals e = y - y_hat); got loss " +
              std::string(loss_name(net.loss_kind())) + "; use lbfgs or rprop");
  const Index P = net.n_params(), q = net.n_outputs(), L = net.n_layers();
  require(P <= lm_max_params, "optimizer lm solves a P x P system and accepts at most " +
                                  std::to_string(lm_max_params) + " parameters; the network has " +
                                  std::to_string(P) + "; use lbfgs");
  require(rows > 0, "training needs at least one sample");
  const int threads = resolve_threads(n_threads);
  double weight_total = double(rows);
  if (sample_weight) {
    weight_total = 0;
    for (Index i = 0; i < rows; ++i) {
      require(sample_weight[i] >= 0, "sample_weight must be non-negative for optimizer lm");
      weight_total += double(sample_weight[i]);
    }
    require(weight_total > 0, "sample_weight must not sum to 0");
  }
  JtJ.setZero(P, P);
  Jte.setZero(P);
  const T* theta = net.params();
  const Index B = lm_block_rows;
  std::vector<Matrix<T>> Z(static_cast<std::size_t>(L)), H(static_cast<std::size_t>(L));
  Matrix<T> G, Gp;
  // a block's rows of J, row-major: each row (one sample, one output) is written entry after
  // entry below (column-major, those writes were B q doubles apart: 11 % of an iteration)
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> Jb(B * q, P);
  Eigen::VectorXd eb(B * q);
  // Lower-triangle tiles of J^T J, in a fixed order: each tile is one task.
  const Index n_tiles = (P + lm_tile - 1) / lm_tile;
  std::vector<std::pair<Index, Index>> tiles;
  double tile_area = 0;  // multiply-adds of one row's update of the lower tiles
  for (Index a = 0; a < n_tiles; ++a)
    for (Index b = 0; b <= a; ++b) {
      tiles.emplace_back(a, b);
      tile_area +=
          double(std::min(lm_tile, P - a * lm_tile)) * double(std::min(lm_tile, P - b * lm_tile));
    }
  double J = 0;
  for (Index r0 = 0; r0 < rows; r0 += B) {
    const Index nr = std::min(B, rows - r0);
    // Z^[l] = H^[l-1] W^[l] + b^[l],  H^[l] = f(Z^[l])
    for (Index k = 0; k < L; ++k) {
      const auto& s = net.layer(k);
      auto& Zk = Z[std::size_t(k)];
      if (k == 0 && csr) {
        Zk.resize(nr, s.n_out);
        csr_affine(*csr, r0, nr, theta + s.w_offset, theta + s.b_offset, s.n_out, Zk.data());
      } else {
        ConstMatrixMap<T> A(k == 0 ? X + r0 * s.n_in : H[std::size_t(k - 1)].data(), nr, s.n_in);
        Zk.noalias() = A * ConstMatrixMap<T>(theta + s.w_offset, s.n_in, s.n_out);
        Zk.rowwise() += ConstRowVectorMap<T>(theta + s.b_offset, s.n_out);
      }
      H[std::size_t(k)].resize(nr, s.n_out);
      activate(s.f, Zk.data(), H[std::size_t(k)].data(), nr, s.n_out, net.alpha_or_zero(k));
    }
    Jb.setZero();
    eb.setZero();
    for (Index j = 0; j < q; ++j) {
      // G = d y_hat_j / dH^[L]: the unit vector of output j, one row per sample
      G.setZero(nr, q);
      G.col(j).setOnes();
      for (Index k = L - 1; k >= 0; --k) {
        const auto& s = net.layer(k);
        const auto& Zk = Z[std::size_t(k)];
        if (s.alpha_offset >= 0)
          for (Index i = 0; i < nr; ++i)
            Jb(i * q + j, s.alpha_offset) =
                double(prelu_alpha_product(Zk.row(i).data(), G.row(i).data(), s.n_out));
        // delta^[l] = G ⊙ f'(Z^[l]) = d y_hat_j / dZ^[l]
        multiply_by_derivative(s.f, Zk.data(), H[std::size_t(k)].data(), G.data(), nr * s.n_out,
                               net.alpha_or_zero(k));
        const T* A = k == 0 ? (csr ? nullptr : X + r0 * s.n_in) : H[std::size_t(k - 1)].data();
        // d y_hat_j / dW^[l] = H^[l-1]^T delta^[l] (one sample),  d y_hat_j / db^[l] = delta^[l]
        for (Index i = 0; i < nr; ++i) {
          if (!A) {  // CSR X: only the stored x_ia give non-zero entries (Jb starts at zero)
            for (Index p = csr->offset(r0 + i); p < csr->offset(r0 + i + 1); ++p)
              for (Index o = 0; o < s.n_out; ++o)
                Jb(i * q + j, s.w_offset + csr->column(p) * s.n_out + o) =
                    double(csr->data[p]) * double(G(i, o));
          }
          for (Index a = 0; a < (A ? s.n_in : 0); ++a)
            for (Index o = 0; o < s.n_out; ++o)
              Jb(i * q + j, s.w_offset + a * s.n_out + o) =
                  double(A[i * s.n_in + a]) * double(G(i, o));
          for (Index o = 0; o < s.n_out; ++o) Jb(i * q + j, s.b_offset + o) = double(G(i, o));
        }
        if (k == 0) break;
        // G^[l-1] = delta^[l] W^[l]^T
        Gp.noalias() = G * ConstMatrixMap<T>(theta + s.w_offset, s.n_in, s.n_out).transpose();
        G.swap(Gp);
      }
    }
    // rows scaled by sqrt(w~_i); e_ij = sqrt(w~_i) (y_ij - y_hat_ij)
    const auto& Yhat = H[std::size_t(L - 1)];
    for (Index i = 0; i < nr; ++i) {
      const double wi = (sample_weight ? double(sample_weight[r0 + i]) : 1.0) / weight_total;
      const double root = std::sqrt(wi);
      for (Index j = 0; j < q; ++j) {
        Jb.row(i * q + j) *= root;
        eb[i * q + j] = root * (double(Y[(r0 + i) * q + j]) - double(Yhat(i, j)));
        J += 0.5 * eb[i * q + j] * eb[i * q + j];
      }
    }
    const Index m = nr * q;
    Jte.noalias() += Jb.topRows(m).transpose() * eb.head(m);
    // Threads only where a block's tiles are worth starting them for (small P: one thread is
    // faster). The tiles and their order are the same either way, so are the sums.
    const bool parallel = threads > 1 && double(m) * tile_area >= lm_parallel_work;
    for_each_block(Index(tiles.size()), threads, parallel, [&](Index t) {
      const auto [a, b] = tiles[std::size_t(t)];
      const Index ra = a * lm_tile, rb = b * lm_tile;
      const Index ha = std::min(lm_tile, P - ra), hb = std::min(lm_tile, P - rb);
      if (a == b)  // its lower triangle only (J^T J's upper one is copied from it at the end)
        JtJ.block(ra, ra, ha, ha)
            .selfadjointView<Eigen::Lower>()
            .rankUpdate(Jb.block(0, ra, m, ha).transpose());
      else
        JtJ.block(ra, rb, ha, hb).noalias() +=
            Jb.block(0, ra, m, ha).transpose() * Jb.block(0, rb, m, hb);
    });
  }
  JtJ.triangularView<Eigen::StrictlyUpper>() = JtJ.transpose();
  return J;
}

// fullbatch_epoch of a dense X, or of a CSR one when `csr` is set (X is then null)
template <class T>
EpochResult fullbatch_impl(Network<T>& net, Optimizer<T>& optimizer, const T* X, const Csr<T>* csr,
                           const T* Y, const T* sample_weight, Index rows,
                           const EpochOptions& options, const std::function<bool()>* poll);

}  // namespace

template <class T>
EpochResult fullbatch_epoch(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                            const T* sample_weight, Index rows, const EpochOptions& options,
                            const std::function<bool()>* poll) {
  return fullbatch_impl<T>(net, optimizer, X, nullptr, Y, sample_weight, rows, options, poll);
}

template <class T>
EpochResult fullbatch_epoch(Network<T>& net, Optimizer<T>& optimizer, const Csr<T>& X, const T* Y,
                            const T* sample_weight, const EpochOptions& options,
                            const std::function<bool()>* poll) {
  require(X.cols == net.n_inputs(), "X must have " + std::to_string(net.n_inputs()) +
                                        " features (columns); got " + std::to_string(X.cols));
  return fullbatch_impl<T>(net, optimizer, nullptr, &X, Y, sample_weight, X.rows, options, poll);
}

namespace {

template <class T>
EpochResult fullbatch_impl(Network<T>& net, Optimizer<T>& optimizer, const T* X, const Csr<T>* csr,
                           const T* Y, const T* sample_weight, Index rows,
                           const EpochOptions& options, const std::function<bool()>* poll) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  const OptimizerConfig& c = optimizer.config();
  require(steps_in_fullbatch_epoch(c.kind), "fullbatch_epoch runs lbfgs and lm; optimizer " +
                                                std::string(optimizer_name(c.kind)) +
                                                " steps in train_epoch");
  require(rows > 0, "training needs at least one sample");
  require(optimizer.n_params() == net.n_params(), "optimizer and network sizes differ");
  require(options.global_rows == 0,
          std::string(optimizer_name(c.kind)) + " does not train on sharded data");
  require(!net.has_dropout(),
          "dropout needs a mini-batch optimizer: " + std::string(optimizer_name(c.kind)) +
              " trains on the full batch; set every dropout rate to 0");
  // The snapshot to fall back on: theta and the memory but for lbfgs's curvature pairs, which
  // an iteration changes only once it has succeeded (a copy of the whole optimizer, pairs
  // included, took 5.7 us an epoch against 0.8 us for 1210 parameters and 10 pairs, while the
  // other threads wait). The rest of the optimizer's state changes only after the epoch
  // (count_step).
  FullBatchMemory& mem = optimizer.memory();
  const Eigen::VectorXd start = get_params(net);
  const FullBatchState saved = mem;
  auto roll_back = [&] {
    set_params(net, start);
    static_cast<FullBatchState&>(mem) = saved;
  };
  EpochResult result;
  result.lr = learning_rate(c, options.epoch);
  try {
    if (c.kind == OptimizerKind::lbfgs) {
      LbfgsObjective<T> f{net, X, csr, Y, sample_weight, rows, options.n_threads, 0.0, poll};
      f.evaluations = mem.evaluations;
      result.status = lbfgs_iteration(f, mem, c, result);
      mem.evaluations = f.evaluations;
    } else {
      result.status = lm_iteration(net, mem, c, X, Y, sample_weight, rows, options.n_threads, poll,
                                   result, csr);
    }
  } catch (const Interrupted&) {
    result.status = EpochStatus::interrupted;
  } catch (const NonFinite&) {
    result.status = EpochStatus::nonfinite;
  } catch (...) {
    roll_back();
    throw;
  }
  if (result.status == EpochStatus::ok || result.status == EpochStatus::converged) {
    if (!Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(net.params(), net.n_params())
             .isFinite()
             .all())
      result.status = EpochStatus::nonfinite;
  }
  if (result.status == EpochStatus::interrupted || result.status == EpochStatus::nonfinite) {
    roll_back();
    return result;
  }
  if (result.status == EpochStatus::stalled) {
    // theta as at the start, mu (lm) kept past lm_mu_max so the next call stalls at once
    const double mu = optimizer.memory().mu;
    roll_back();
    optimizer.memory().mu = std::max(optimizer.memory().mu, mu);
  }
  result.batches = 1;
  result.samples = rows;
  optimizer.count_step();
  return result;
}

}  // namespace

#define BPCORE_FULLBATCH(T)                                                                      \
  template EpochResult fullbatch_epoch<T>(Network<T>&, Optimizer<T>&, const T*, const T*,        \
                                          const T*, Index, const EpochOptions&,                  \
                                          const std::function<bool()>*);                         \
  template double lm_normal_equations<T>(const Network<T>&, const T*, const T*, const T*, Index, \
                                         int, Eigen::MatrixXd&, Eigen::VectorXd&);
#define BPCORE_SPARSE_FULLBATCH(T)                                                             \
  template EpochResult fullbatch_epoch<T>(Network<T>&, Optimizer<T>&, const Csr<T>&, const T*, \
                                          const T*, const EpochOptions&,                       \
                                          const std::function<bool()>*);                       \
  template double lm_normal_equations<T>(const Network<T>&, const Csr<T>&, const T*, const T*, \
                                         int, Eigen::MatrixXd&, Eigen::VectorXd&);
BPCORE_SPARSE_FULLBATCH(float)
BPCORE_SPARSE_FULLBATCH(double)
#undef BPCORE_SPARSE_FULLBATCH
BPCORE_FULLBATCH(float)
BPCORE_FULLBATCH(double)
#undef BPCORE_FULLBATCH

}  // namespace bpcore
