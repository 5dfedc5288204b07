// Optimizers on the flat parameter vector theta, with gradient g = dJ/dtheta.
//
//   sgd       theta <- theta - lr g                         (the notes' rule, corrected sign)
//   momentum  v <- mu v - lr g;  theta <- theta + v
//   nesterov  v <- mu v - lr g;  theta <- theta + mu v - lr g
//   adam      m <- b1 m + (1-b1) g;  s <- b2 s + (1-b2) g^2;  t <- t + 1
//             theta <- theta - lr (m / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps)
//   rprop     iRPROP- (torch.optim.Rprop): s = sign(g g'), Delta <- clip(Delta * (eta+ if s > 0,
//             eta- if s < 0, 1 otherwise), Delta_min, Delta_max); where s < 0, g <- 0;
//             theta <- theta - sign(g) Delta;  g' <- g.  Delta starts at lr.
//   lbfgs     limited-memory BFGS with a strong Wolfe line search (fullbatch.hpp)
//   lm        Levenberg-Marquardt for mse (fullbatch.hpp)
// rprop, lbfgs and lm train on the full batch, one iteration per epoch; lbfgs and lm keep their
// memory (the curvature pairs, mu) in FullBatchMemory and step through fullbatch_epoch.
// L2 weight decay adds lambda W^[l] to the gradient of every weight matrix (not to b or alpha).
// Learning-rate schedules, per epoch e = 0, 1, …:
//   constant lr_e = lr;  invscaling lr_e = lr / (e+1)^power_t;  step lr_e = lr
//   gamma^floor(e/step_size)
// The state (v, m, s, t) lives here and survives between epochs and between calls.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "bpcore/network.hpp"

// clang-format off
// After network.hpp: bpcore/types.hpp configures Eigen (eigen_assert) before LBFGSpp includes it.
#include <LBFGSpp/BFGSMat.h>
// clang-format on

namespace bpcore {

enum class OptimizerKind { sgd, momentum, nesterov, adam, rprop, lbfgs, lm };
enum class Schedule { constant, invscaling, step };

/// One optimizer and the OptimizerConfig fields its rule reads (space-separated), as data. Every
/// optimizer also reads common_optimizer_options.
struct OptimizerInfo {
  OptimizerKind id;
  std::string_view name;
  std::string_view options;
  bool full_batch;  // trains on the whole data set, one iteration per epoch
};
struct ScheduleInfo {
  Schedule id;
  std::string_view name;
};

inline constexpr std::array<OptimizerInfo, 7> optimizer_table{{
    {OptimizerKind::sgd, "sgd", "lr", false},
    {OptimizerKind::momentum, "momentum", "lr momentum", false},
    {OptimizerKind::nesterov, "nesterov", "lr momentum", false},
    {OptimizerKind::adam, "adam", "lr beta1 beta2 epsilon", false},
    {OptimizerKind::rprop, "rprop", "lr etas step_sizes", true},
    {OptimizerKind::lbfgs, "lbfgs", "history_size max_fun grad_tol loss_tol", true},
    {OptimizerKind::lm, "lm", "grad_tol loss_tol", true},
}};
/// True for lbfgs and lm, whose epoch is one iteration of fullbatch_epoch (every other optimizer,
/// rprop too, steps in train_epoch).
inline constexpr bool steps_in_fullbatch_epoch(OptimizerKind kind) {
  return kind == OptimizerKind::lbfgs || kind == OptimizerKind::lm;
}
/// The most parameters lm accepts: its P x P normal equations take 8 P^2 bytes (128 MB here).
inline constexpr Index lm_max_params = 4000;
/// lm's damping mu: its start, its factor after an accepted (1/10) or rejected (10) step, and the
/// mu above which lm stops (stop status "stalled").
inline constexpr double lm_mu_start = 1e-3, lm_mu_down = 0.1, lm_mu_up = 10, lm_mu_max = 1e10;
/// The OptimizerConfig fields every optimizer reads: weight decay and the learning-rate schedule.
inline constexpr std::string_view common_optimizer_options =
    "weight_decay schedule power_t step_size gamma";
inline constexpr std::array<ScheduleInfo, 3> schedule_table{{
    {Schedule::constant, "constant"},
    {Schedule::invscaling, "invscaling"},
    {Schedule::step, "step"},
}};

std::string_view optimizer_name(OptimizerKind kind);
OptimizerKind optimizer_from_name(std::string_view name);
const OptimizerInfo& optimizer_info(OptimizerKind kind);
/// The words of a space-separated list such as OptimizerInfo::options.
std::vector<std::string_view> split_words(std::string_view words);
std::string_view schedule_name(Schedule schedule);
Schedule schedule_from_name(std::string_view name);

/// Every optimizer option with its default: the one place these defaults are written.
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.5;  // the notes' alpha
  double momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double weight_decay = 0.0;
  Schedule schedule = Schedule::constant;
  double power_t = 0.5;
  Index step_size = 10;
  double gamma = 0.1;
  std::array<double, 2> etas{0.5, 1.2};          // rprop's (eta-, eta+)
  std::array<double, 2> step_sizes{1e-6, 50.0};  // rprop's (Delta_min, Delta_max)
  Index history_size = 10;                       // lbfgs's curvature pairs
  Index max_fun = 20;      // lbfgs: the most J and dJ/dtheta evaluations in one iteration
  double grad_tol = 1e-5;  // lbfgs, lm: converged when ||dJ/dtheta||_2 <= grad_tol
  // lbfgs, lm: converged when |J_k - J_k+1| <= loss_tol max(|J_k|, |J_k+1|, 1)
  double loss_tol = 1e-12;
};

/// The memory lbfgs and lm keep between epochs (fullbatch.cpp), in double whatever T is, but for
/// lbfgs's curvature pairs: what an epoch's roll-back snapshot copies.
struct FullBatchState {
  bool started = false;
  Eigen::VectorXd x, g, direction;  // lbfgs: theta, dJ/dtheta at theta, the next direction
  double J = 0, step = 1;
  double mu = lm_mu_start;  // lm's damping
  Index evaluations = 0;    // J and dJ/dtheta evaluations so far
};

/// FullBatchState and lbfgs's curvature pairs, which an iteration changes only once it has
/// succeeded (they are most of the memory: 2 history_size n_params values).
struct FullBatchMemory : FullBatchState {
  // BFGSMat leaves its counters unset until reset(); set them here, so that copying the memory
  // never reads an unset value.
  FullBatchMemory() { bfgs.reset(0, 1); }
  LBFGSpp::BFGSMat<double> bfgs;
};

/// Throws ArgumentError for the first field out of range; the message starts with the field's
/// name, e.g. "lr must be a positive number; got 0". The one range check of these options.
void validate_config(const OptimizerConfig& config);
/// The learning rate of epoch `epoch` (0-based) under the config's schedule.
double learning_rate(const OptimizerConfig& config, Index epoch);

template <class T>
class Optimizer {
 public:
  Optimizer(const OptimizerConfig& config, Index n_params);

  const OptimizerConfig& config() const { return config_; }
  void set_config(const OptimizerConfig& config);
  /// One update of net.params() from net.grads() with learning rate `lr`.
  void step(Network<T>& net, double lr);
  /// The same update in pieces, for a gradient that is finished a range at a time
  /// (Network::backward's PassHooks::gradient_done): start_step() once, then step_range() over
  /// disjoint ranges [begin, end) of theta and g that together cover every parameter, from any
  /// threads; `weights` says the range holds entries of some W^[l] (weight decay applies to those
  /// only). Every rule is element by element, so the result has the bits of step().
  void start_step();
  void step_range(T* theta, const T* g, Index begin, Index end, bool weights, double lr);
  /// True for sgd without weight decay, whose step theta <- theta - lr g needs no state: the
  /// trainer may then take it inside the gradient pass (Network::sgd_row) and call count_step().
  bool plain_sgd() const {
    return config_.kind == OptimizerKind::sgd && !(config_.weight_decay > 0);
  }
  /// Counts one step taken outside step() in plain sgd's form.
  void count_step() { ++t_; }
  /// Forgets v, m, s and t (and the full-batch memory).
  void reset();
  /// lbfgs's and lm's memory between epochs.
  FullBatchMemory& memory() { return memory_; }
  const FullBatchMemory& memory() const { return memory_; }

  Index steps() const { return t_; }
  Index n_params() const { return static_cast<Index>(m_.size()); }

  /// The state a checkpoint keeps: the first moment m (the velocity v of momentum and nesterov),
  /// adam's second moment s (empty for the others) and the step count t.
  const Eigen::Array<T, Eigen::Dynamic, 1>& first_moment() const { return m_; }
  const Eigen::Array<T, Eigen::Dynamic, 1>& second_moment() const { return s_; }
  /// Restores a state written by first_moment(), second_moment() and steps() of an optimizer
  /// with the same kind and number of parameters.
  void set_state(const Eigen::Array<T, Eigen::Dynamic, 1>& m,
                 const Eigen::Array<T, Eigen::Dynamic, 1>& s, Index t) {
    require(m.size() == m_.size(), "optimizer state: m must have " + std::to_string(m_.size()) +
                                       " entries; got " + std::to_string(m.size()));
    require(s.size() == s_.size(), "optimizer state: s must have " + std::to_string(s_.size()) +
                                       " entries; got " + std::to_string(s.size()));
    require(t >= 0, "optimizer state: steps must be >= 0; got " + std::to_string(t));
    m_ = m;
    s_ = s;
    t_ = t;
  }

 private:
  // the rule on theta[begin, end) from g[0, end - begin): m_, s_ and t_ as after start_step()
  void apply(T* theta, const T* g, Index begin, Index end, T lr);

  OptimizerConfig config_;
  // m_ doubles as the velocity v and as rprop's g'; s_ as rprop's Delta
  Eigen::Array<T, Eigen::Dynamic, 1> m_, s_;
  Eigen::Array<T, Eigen::Dynamic, 1> g_decayed_;  // dJ/dtheta + lambda W, with weight decay
  Index t_ = 0;
  FullBatchMemory memory_;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace bpcore
