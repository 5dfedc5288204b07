// A whole L-BFGS minimisation in one call, with the stopping rules of scipy's L-BFGS-B (the rules
// scikit-learn's MLP solver="lbfgs" runs under). The optimizer "lbfgs" of fit (fullbatch.hpp) takes
// one iteration per epoch; this runs every iteration inside the core.
//
// The objective is the (weighted) mean J of the data set plus an L2 term on the weights,
//   F(theta) = J(theta) + l2/2 sum_l ||W^[l]||^2,   dF/dW^[l] = dJ/dW^[l] + l2 W^[l]
// (biases and prelu slopes are not penalised). Each iteration takes d_k = -H_k dF/dtheta (the
// L-BFGS two-loop product with the last history_size pairs, LBFGSpp's BFGSMat) and a step along it
// from LBFGSpp's Nocedal–Wright line search (strong Wolfe conditions, at most max_linesearch
// evaluations); the first direction is -g with a first trial step 1/||g||, as in LBFGS-B.
//
// Stopping, checked after each iteration in this order (as scipy: the limits first), and for the
// gradient alone at the starting point:
//   max_iter        max_iter iterations done
//   max_fun         more than max_fun evaluations of F and dF/dtheta so far (the iteration that
//                   passes the limit is finished first, as in scipy)
//   converged_grad  max_p |dF/dtheta_p| <= grad_tol            (scipy's gtol, a max-norm)
//   converged_loss  (F_k - F_k+1) <= loss_tol max(|F_k|, |F_k+1|, 1)    (scipy's ftol)
//   stalled         the line search found no step that lowers F (also when every trial it had
//                   evaluations for gave a non-finite F: such a trial is retried from a first
//                   step ten times shorter): theta is left where it was
//   nonfinite       F or dF/dtheta is NaN or infinite at the starting point: theta unchanged
//   interrupted     `poll` (called after every evaluation) asked to stop: theta at the last iterate
#pragma once

#include <array>
#include <functional>
#include <string_view>

#include "bpcore/network.hpp"

namespace bpcore {

struct LbfgsRunSettings {
  Index history_size = 10;                  // curvature pairs kept (scipy's maxcor)
  Index max_iter = 15000;                   // iterations
  Index max_fun = 15000;                    // evaluations of F and dF/dtheta, over the whole run
  Index max_linesearch = 20;                // evaluations in one line search (scipy's maxls)
  double grad_tol = 1e-5;                   // on max_p |dF/dtheta_p|
  double loss_tol = 2.220446049250313e-09;  // relative decrease of F (scipy's default ftol)
  double l2 = 0;                            // F = J + l2/2 sum ||W^[l]||^2
  int n_threads = 0;
};

enum class LbfgsStop {
  converged_grad,
  converged_loss,
  max_iter,
  max_fun,
  stalled,
  nonfinite,
  interrupted
};

struct LbfgsStopInfo {
  LbfgsStop id;
  std::string_view name;
};

inline constexpr std::array<LbfgsStopInfo, 7> lbfgs_stop_table{{
    {LbfgsStop::converged_grad, "converged_grad"},
    {LbfgsStop::converged_loss, "converged_loss"},
    {LbfgsStop::max_iter, "max_iter"},
    {LbfgsStop::max_fun, "max_fun"},
    {LbfgsStop::stalled, "stalled"},
    {LbfgsStop::nonfinite, "nonfinite"},
    {LbfgsStop::interrupted, "interrupted"},
}};

std::string_view lbfgs_stop_name(LbfgsStop stop);

struct LbfgsRunResult {
  LbfgsStop stop = LbfgsStop::max_iter;
  Index iterations = 0;   // finished iterations
  Index evaluations = 0;  // evaluations of F and dF/dtheta
  double loss = 0;        // J at the final theta (the data term of F)
  double penalty = 0;     // l2/2 sum ||W^[l]||^2 at the final theta
};

/// Minimises F from the network's parameters, which hold the final theta afterwards (X: rows x d,
/// Y: rows x q, sample_weight may be null). Throws ArgumentError for settings out of range.
template <class T>
LbfgsRunResult lbfgs_run(Network<T>& net, const T* X, const T* Y, const T* sample_weight,
                         Index rows, const LbfgsRunSettings& settings,
                         const std::function<bool()>* poll = nullptr);

/// The same with a CSR X (sparse.hpp): Z^[1] and dJ/dW^[1] over its stored values only.
template <class T>
LbfgsRunResult lbfgs_run(Network<T>& net, const Csr<T>& X, const T* Y, const T* sample_weight,
                         const LbfgsRunSettings& settings,
                         const std::function<bool()>* poll = nullptr);

extern template LbfgsRunResult lbfgs_run<float>(Network<float>&, const float*, const float*,
                                                const float*, Index, const LbfgsRunSettings&,
                                                const std::function<bool()>*);
extern template LbfgsRunResult lbfgs_run<double>(Network<double>&, const double*, const double*,
                                                 const double*, Index, const LbfgsRunSettings&,
                                                 const std::function<bool()>*);

extern template LbfgsRunResult lbfgs_run<float>(Network<float>&, const Csr<float>&, const float*,
                                                const float*, const LbfgsRunSettings&,
                                                const std::function<bool()>*);
extern template LbfgsRunResult lbfgs_run<double>(Network<double>&, const Csr<double>&,
                                                 const double*, const double*,
                                                 const LbfgsRunSettings&,
                                                 const std::function<bool()>*);

}  // namespace bpcore
