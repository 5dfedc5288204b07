// The objective both L-BFGS drivers hand to LBFGSpp's line search (fullbatch.cpp: one iteration
// per epoch of fit; lbfgs_run.cpp: a whole run under scikit-learn's rules), private to the core.
//
//   F(theta) = J(theta) + l2/2 sum_l ||W^[l]||^2,   dF/dW^[l] = dJ/dW^[l] + l2 W^[l]
//
// with J and dJ/dtheta from one full-batch forward/backward of the network (dense or CSR X).
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <functional>
#include <limits>

#include "bpcore/network.hpp"
#include "bpcore/sparse.hpp"

namespace bpcore::detail {

// Thrown from inside an evaluation to leave the line search (not std::exceptions, which the
// line search's own failures are).
struct Interrupted {};
struct NonFinite {};
struct OutOfEvaluations {};

template <class T>
void set_params(Network<T>& net, const Eigen::VectorXd& x) {
  Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), net.n_params()) = x.cast<T>();
}

template <class T>
Eigen::VectorXd get_params(const Network<T>& net) {
  return Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), net.n_params())
      .template cast<double>();
}

/// f(x, grad) of LBFGSpp: F and dF/dtheta at x. Throws NonFinite when either is not finite,
/// Interrupted when `poll` asks to stop, OutOfEvaluations when `budget` is spent.
template <class T>
struct LbfgsObjective {
  Network<T>& net;
  const T* X;
  const Csr<T>* csr;  // X is CSR (and the dense X null)
  const T *Y, *w;
  Index rows;
  int threads;
  double l2;
  const std::function<bool()>* poll;
  Index evaluations = 0;
  Index budget = std::numeric_limits<Index>::max();  // evaluations this line search may take
  double J = 0;                                      // the data term of the last evaluation

  double penalty(const Eigen::VectorXd& x) const {
    double sum = 0;
    for (const auto& s : net.layers()) sum += x.segment(s.w_offset, s.n_in * s.n_out).squaredNorm();
    return 0.5 * l2 * sum;
  }

  double operator()(const Eigen::VectorXd& x, Eigen::VectorXd& grad) {
    if (budget <= 0) throw OutOfEvaluations{};
    --budget;
    set_params(net, x);
    J = csr ? net.backward(*csr, Y, w, threads) : net.backward(X, Y, w, rows, threads);
    ++evaluations;
    grad = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.grads(), net.n_params())
               .template cast<double>();
    double F = J;
    if (l2 > 0) {
      for (const auto& s : net.layers())
        grad.segment(s.w_offset, s.n_in * s.n_out) += l2 * x.segment(s.w_offset, s.n_in * s.n_out);
      F += penalty(x);
    }
    if (!std::isfinite(F) || !grad.allFinite()) throw NonFinite{};
    if (poll && (*poll)()) throw Interrupted{};
    return F;
  }
};

}  // namespace bpcore::detail
