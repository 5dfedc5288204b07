#include "bpcore/lbfgs_run.hpp"

#include "bpcore/fp_mode.hpp"

// LBFGSpp's own header (it includes Param.h before the line searches that need it)
#include <LBFGS.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "bpcore/names.hpp"
#include "lbfgs_objective.hpp"

namespace bpcore {

std::string_view lbfgs_stop_name(LbfgsStop stop) {
  return name_in(lbfgs_stop_table, stop, "lbfgs stop");
}

using detail::Interrupted;
using detail::LbfgsObjective;
using detail::NonFinite;
using detail::OutOfEvaluations;

template <class T>
LbfgsRunResult lbfgs_impl(Network<T>& net, const T* X, const Csr<T>* csr, const T* Y,
                          const T* sample_weight, Index rows, const LbfgsRunSettings& c,
                          const std::function<bool()>* poll) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require(rows > 0, "training needs at least one sample");
  require(c.history_size > 0,
          "history_size must be a positive integer; got " + std::to_string(c.history_size));
  require(c.max_iter > 0, "max_iter must be a positive integer; got " + std::to_string(c.max_iter));
  require(c.max_fun > 0, "max_fun must be a positive integer; got " + std::to_string(c.max_fun));
  require(c.max_linesearch > 0,
          "max_linesearch must be a positive integer; got " + std::to_string(c.max_linesearch));
  require(std::isfinite(c.grad_tol) && c.grad_tol >= 0, "grad_tol must be a non-negative number");
  require(std::isfinite(c.loss_tol) && c.loss_tol >= 0, "loss_tol must be a non-negative number");
  require(std::isfinite(c.l2) && c.l2 >= 0, "l2 must be a non-negative number");

  const Index P = net.n_params();
  LbfgsObjective<T> f{net, X, csr, Y, sample_weight, rows, c.n_threads, c.l2, poll};
  LbfgsRunResult result;
  Eigen::VectorXd x = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), P)
                          .template cast<double>();
  Eigen::VectorXd g(P), xp(P), gp(P), d(P);
  // theta, F and J of the last finite iterate; the network is set back to it on every early exit
  Eigen::VectorXd x_best = x;
  double F = 0, J_best = 0;
  auto finish = [&](LbfgsStop stop) {
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), P) = x_best.cast<T>();
    result.stop = stop;
    result.evaluations = f.evaluations;
    result.loss = J_best;
    result.penalty = f.penalty(x_best);
    return result;
  };
  try {
    F = f(x, g);
  } catch (const NonFinite&) {
    J_best = f.J;
    return finish(LbfgsStop::nonfinite);
  } catch (const Interrupted&) {
    J_best = f.J;
    return finish(LbfgsStop::interrupted);
  }
  J_best = f.J;
  if (!(g.template lpNorm<Eigen::Infinity>() > c.grad_tol))
    return finish(LbfgsStop::converged_grad);

  LBFGSpp::LBFGSParam<double> param;
  param.m = int(c.history_size);
  param.linesearch = LBFGSpp::LBFGS_LINESEARCH_BACKTRACKING_STRONG_WOLFE;
  LBFGSpp::BFGSMat<double> bfgs;
  bfgs.reset(int(P), int(c.history_size));
  d = -g;
  double step = 1.0 / d.norm();
  for (;;) {
    xp = x;
    gp = g;
    const double F0 = F;
    // A trial where F is not finite shortens the first step ten times and starts again, within
    // the line search's evaluations. LBFGSpp's line search takes at most max_linesearch + 1.
    // A non-finite trial can also come from the line search's own interpolation at the limit of
    // precision (0/0): starting again from a shorter first step covers both.
    Index left = c.max_linesearch;
    double first_step = step;
    bool moved = false;
    while (!moved && left > 0) {
      param.max_linesearch = int(left - 1);
      f.budget = left;
      try {
        LBFGSpp::LineSearchNocedalWright<double>::LineSearch(f, F, x, g, step, d, xp, param);
        moved = true;
      } catch (const NonFinite&) {
        left = f.budget;
        first_step *= 0.1;
        step = first_step;
        x = xp;  // the line search starts again from the iterate (F, g may hold a trial's)
        g = gp;
        F = F0;
      } catch (const Interrupted&) {
        return finish(LbfgsStop::interrupted);
      } catch (const std::exception&) {
        break;  // no step satisfies the Wolfe conditions
      } catch (const OutOfEvaluations&) {
        break;
      }
    }
    if (!moved || !(F < F0)) return finish(LbfgsStop::stalled);
    x_best = x;
    J_best = f.J;
    ++result.iterations;
    // scipy's order: the limits, then the tolerances
    if (result.iterations >= c.max_iter) return finish(LbfgsStop::max_iter);
    if (f.evaluations > c.max_fun) return finish(LbfgsStop::max_fun);
    if (!(g.template lpNorm<Eigen::Infinity>() > c.grad_tol))
      return finish(LbfgsStop::converged_grad);
    if ((F0 - F) <= c.loss_tol * std::max({std::abs(F0), std::abs(F), 1.0}))
      return finish(LbfgsStop::converged_loss);
    // s = theta_k+1 - theta_k, y = g_k+1 - g_k;  d = -H g
    bfgs.add_correction(x - xp, g - gp);
    bfgs.apply_Hv(g, -1.0, d);
    step = 1.0;
  }
}

template <class T>
LbfgsRunResult lbfgs_run(Network<T>& net, const T* X, const T* Y, const T* sample_weight,
                         Index rows, const LbfgsRunSettings& settings,
                         const std::function<bool()>* poll) {
  return lbfgs_impl(net, X, static_cast<const Csr<T>*>(nullptr), Y, sample_weight, rows, settings,
                    poll);
}

template <class T>
LbfgsRunResult lbfgs_run(Network<T>& net, const Csr<T>& X, const T* Y, const T* sample_weight,
                         const LbfgsRunSettings& settings, const std::function<bool()>* poll) {
  return lbfgs_impl(net, static_cast<const T*>(nullptr), &X, Y, sample_weight, X.rows, settings,
                    poll);
}

template LbfgsRunResult lbfgs_run<float>(Network<float>&, const float*, const float*, const float*,
                                         Index, const LbfgsRunSettings&,
                                         const std::function<bool()>*);
template LbfgsRunResult lbfgs_run<double>(Network<double>&, const double*, const double*,
                                          const double*, Index, const LbfgsRunSettings&,
                                          const std::function<bool()>*);

template LbfgsRunResult lbfgs_run<float>(Network<float>&, const Csr<float>&, const float*,
                                         const float*, const LbfgsRunSettings&,
                                         const std::function<bool()>*);
template LbfgsRunResult lbfgs_run<double>(Network<double>&, const Csr<double>&, const double*,
                                          const double*, const LbfgsRunSettings&,
                                          const std::function<bool()>*);

}  // namespace bpcore
