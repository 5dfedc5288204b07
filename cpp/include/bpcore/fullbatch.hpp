// The full-batch methods that need more than the gradient of one batch: L-BFGS and
// Levenberg–Marquardt. Each call of fullbatch_epoch is one iteration on the whole data set.
//
// J(theta) is the (weighted) mean loss of the data set; every evaluation of J and dJ/dtheta is one
// full-batch Network::backward.
//
// lbfgs: d_k = -H_k dJ/dtheta (H_k the L-BFGS inverse-Hessian estimate from the last
//   history_size pairs s = theta_k+1 - theta_k, y = g_k+1 - g_k; LBFGSpp's BFGSMat), then
//   theta_k+1 = theta_k + a d_k with a from LBFGSpp's Nocedal–Wright line search, which satisfies
//   the strong Wolfe conditions J(theta + a d) <= J + 1e-4 a g^T d, |g(theta + a d)^T d| <=
//   0.9 |g^T d|. The first direction is -g with a first trial step 1/||g||, as in LBFGSpp's solver.
//
// lm (loss mse, J = sum_i w~_i 1/2 ||y_i - y_hat_i||^2 with w~_i = w_i / sum w):
//   e = (sqrt(w~_i) (y_ij - y_hat_ij)) the n q residuals, Jac = d(sqrt(w~_i) y_hat_ij)/dtheta
//   (n q x P, from delta back-propagation one output j at a time, never held whole), and
//   (Jac^T Jac + mu I) Dtheta = Jac^T e,   theta <- theta + Dtheta  if J decreases.
//   D = I (Levenberg's damping, as MATLAB's trainlm): positive definite for every mu > 0 even when
//   a column of Jac is zero (a dead relu unit), where Marquardt's diag(Jac^T Jac) would be
//   singular. mu starts at lm_mu_start, x lm_mu_down after an accepted step, x lm_mu_up after a
//   rejected one; above lm_mu_max the iteration stops with status "stalled".
//
// Both stop with status "converged" when ||dJ/dtheta|| <= grad_tol or when J changed by at most
// loss_tol max(|J_k|, |J_k+1|, 1); the epoch that finds it is still a finished epoch.
#pragma once

#include <functional>

#include "bpcore/trainer.hpp"

namespace bpcore {

/// Row block of the lm normal equations: J^T J and J^T e are sums over blocks of this many rows.
inline constexpr Index lm_block_rows = 32;
/// Column tile of J^T J: each tile is one task of the parallel loop, so any thread count gives the
/// same sums bit for bit.
inline constexpr Index lm_tile = 64;
/// Multiply-adds of one row block's J^T J update below which it runs on one thread: starting
/// the threads costs more than the work (10-8-1, 97 parameters, 442 rows: 2 threads took 1.2x
/// the time of one per iteration).
inline constexpr double lm_parallel_work = 1 << 18;

/// One lbfgs or lm iteration on the full data set (X: rows x d, Y: rows x q, sample_weight may be
/// null). EpochResult::loss is J before the iteration. The epoch is rolled back on a non-finite J,
/// when `poll` (called after every evaluation) asks to stop, and when it stalls.
template <class T>
EpochResult fullbatch_epoch(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                            const T* sample_weight, Index rows, const EpochOptions& options,
                            const std::function<bool()>* poll = nullptr);

/// lm's normal equations at the network's parameters: JtJ = Jac^T Jac (P x P, both triangles) and
/// Jte = Jac^T e (P), as defined above. Returns J = 1/2 ||e||^2. Bitwise the same for any
/// `n_threads`.
template <class T>
double lm_normal_equations(const Network<T>& net, const T* X, const T* Y, const T* sample_weight,
                           Index rows, int n_threads, Eigen::MatrixXd& JtJ, Eigen::VectorXd& Jte);

/// The lm step: the solution of (JtJ + mu I) Dtheta = Jte by Cholesky (LLT, LDLT if LLT fails).
Eigen::VectorXd lm_step(const Eigen::MatrixXd& JtJ, const Eigen::VectorXd& Jte, double mu);

#define BPCORE_EXTERN_FULLBATCH(T)                                                               \
  extern template EpochResult fullbatch_epoch<T>(Network<T>&, Optimizer<T>&, const T*, const T*, \
                                                 const T*, Index, const EpochOptions&,           \
                                                 const std::function<bool()>*);                  \
  extern template double lm_normal_equations<T>(const Network<T>&, const T*, const T*, const T*, \
                                                Index, int, Eigen::MatrixXd&, Eigen::VectorXd&);
BPCORE_EXTERN_FULLBATCH(float)
BPCORE_EXTERN_FULLBATCH(double)
#undef BPCORE_EXTERN_FULLBATCH

}  // namespace bpcore
