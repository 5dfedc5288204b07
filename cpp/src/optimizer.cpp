#include "bpcore/optimizer.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bpcore/kernels.hpp"
#include "bpcore/names.hpp"

// The selects of rprop_step vectorise only when comparisons are taken not to trap (GCC keeps them
// as branches otherwise); that changes no value.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

namespace bpcore {

std::string_view optimizer_name(OptimizerKind id) {
  return name_in(optimizer_table, id, "optimizer");
}

OptimizerKind optimizer_from_name(std::string_view name) {
  return id_in(optimizer_table, name, "optimizer");
}

std::string_view schedule_name(Schedule id) { return name_in(schedule_table, id, "lr_schedule"); }

Schedule schedule_from_name(std::string_view name) {
  return id_in(schedule_table, name, "lr_schedule");
}

const OptimizerInfo& optimizer_info(OptimizerKind id) {
  return info_in(optimizer_table, id, "optimizer");
}

std::vector<std::string_view> split_words(std::string_view words) {
  std::vector<std::string_view> out;
  while (!words.empty()) {
    const auto start = words.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    const auto end = std::min(words.find(' ', start), words.size());
    out.push_back(words.substr(start, end - start));
    words.remove_prefix(end);
  }
  return out;
}

namespace {

// The shortest decimal form that reads back as x ("0", "0.1", "1e-08", "nan").
std::string number(double x) {
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, x);
    if (!std::isfinite(x) || std::strtod(text, nullptr) == x) break;
  }
  return text;
}

void check(bool ok, const char* field, const char* expected, double got) {
  require(ok, std::string(field) + " must be " + expected + "; got " + number(got));
}

void check_pair(bool ok, const char* field, const char* expected,
                const std::array<double, 2>& got) {
  require(ok, std::string(field) + " must be " + expected + "; got (" + number(got[0]) + ", " +
                  number(got[1]) + ")");
}

bool uses_s(OptimizerKind kind) {
  return kind == OptimizerKind::adam || kind == OptimizerKind::rprop;
}

}  // namespace

void validate_config(const OptimizerConfig& c) {
  auto positive = [](double x) { return std::isfinite(x) && x > 0; };
  auto non_negative = [](double x) { return std::isfinite(x) && x >= 0; };
  auto unit = [](double x) { return std::isfinite(x) && x >= 0 && x < 1; };
  check(positive(c.lr), "lr", "a positive number", c.lr);
  check(unit(c.momentum), "momentum", "a number in [0, 1)", c.momentum);
  check(unit(c.beta1), "beta1", "a number in [0, 1)", c.beta1);
  check(unit(c.beta2), "beta2", "a number in [0, 1)", c.beta2);
  check(positive(c.epsilon), "epsilon", "a positive number", c.epsilon);
  check(non_negative(c.weight_decay), "weight_decay", "a non-negative number", c.weight_decay);
  check(non_negative(c.power_t), "power_t", "a non-negative number", c.power_t);
  require(c.step_size > 0,
          "step_size must be a positive integer; got " + std::to_string(c.step_size));
  check(std::isfinite(c.gamma) && c.gamma > 0 && c.gamma <= 1, "gamma", "a number in (0, 1]",
        c.gamma);
  check_pair(positive(c.etas[0]) && c.etas[0] < 1 && positive(c.etas[1]) && c.etas[1] > 1, "etas",
             "a pair (eta-, eta+) with 0 < eta- < 1 < eta+", c.etas);
  check_pair(
      positive(c.step_sizes[0]) && positive(c.step_sizes[1]) && c.step_sizes[0] <= c.step_sizes[1],
      "step_sizes", "a pair (min, max) with 0 < min <= max", c.step_sizes);
  require(c.history_size > 0,
          "history_size must be a positive integer; got " + std::to_string(c.history_size));
  require(c.max_fun > 0, "max_fun must be a positive integer; got " + std::to_string(c.max_fun));
  check(non_negative(c.grad_tol), "grad_tol", "a non-negative number", c.grad_tol);
  check(non_negative(c.loss_tol), "loss_tol", "a non-negative number", c.loss_tol);
  if (steps_in_fullbatch_epoch(c.kind))
    check(c.weight_decay == 0, "weight_decay",
          "0 with lbfgs and lm (they minimise J itself; use sgd, adam or rprop for weight decay)",
          c.weight_decay);
}

double learning_rate(const OptimizerConfig& c, Index epoch) {
  switch (c.schedule) {
    case Schedule::constant:
      return c.lr;
    case Schedule::invscaling:
      return c.lr / std::pow(double(epoch + 1), c.power_t);
    case Schedule::step:
      return c.lr * std::pow(c.gamma, double(epoch / c.step_size));
  }
  return c.lr;
}

template <class T>
Optimizer<T>::Optimizer(const OptimizerConfig& config, Index n_params) : config_(config) {
  validate_config(config_);
  require(n_params > 0, "the optimizer needs at least one parameter");
  m_.setZero(n_params);
  s_.setZero(uses_s(config_.kind) ? n_params : 0);
}

template <class T>
void Optimizer<T>::set_config(const OptimizerConfig& config) {
  validate_config(config);
  const bool kind_changed = config.kind != config_.kind;
  config_ = config;
  if (kind_changed) {
    s_.setZero(uses_s(config_.kind) ? m_.size() : 0);
    reset();
  }
}

template <class T>
void Optimizer<T>::reset() {
  m_.setZero();
  s_.setZero();
  t_ = 0;
  memory_ = FullBatchMemory{};
}

namespace {

// theta <- theta - sign(g) Delta, iRPROP-'s step on n parameters (see apply); gp is g', delta is
// Delta, both updated.
template <class T>
void rprop_step(T* __restrict theta, const T* __restrict g, T* __restrict gp, T* __restrict delta,
                Index n, T eta_minus, T eta_plus, T step_min, T step_max) {
  for (Index i = 0; i < n; ++i) {
    const T gi = g[i];
    const T s = gi * gp[i];  // the sign of g g'
    const T factor = s > 0 ? eta_plus : (s < 0 ? eta_minus : T(1));
    // clipped to [step_min, step_max] as std::min(std::max(x, step_min), step_max), written out:
    // std::min and std::max are not inlined into a function of this file's optimize pragma
    const T x = delta[i] * factor;
    const T lo = x < step_min ? step_min : x;
    const T d = step_max < lo ? step_max : lo;
    delta[i] = d;
    const T gk = s < 0 ? T(0) : gi;  // after a sign change: no move, and g' <- 0
    const T sign = gk > 0 ? T(1) : (gk < 0 ? T(-1) : T(0));
    theta[i] -= sign * d;
    gp[i] = gk;
  }
}

}  // namespace

template <class T>
void Optimizer<T>::apply(T* theta_p, const T* g_p, Index begin, Index end, T lr) {
  const Index n = end - begin;
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> theta(theta_p + begin, n);
  Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> g(g_p, n);
  const T mu = T(config_.momentum);
  switch (config_.kind) {
    case OptimizerKind::sgd:
      // W <- W - lr dJ/dW
      theta -= lr * g;
      break;
    case OptimizerKind::momentum: {
      auto m = m_.segment(begin, n);
      m = mu * m - lr * g;
      theta += m;
      break;
    }
    case OptimizerKind::nesterov: {
      auto m = m_.segment(begin, n);
      m = mu * m - lr * g;
      theta += mu * m - lr * g;
      break;
    }
    case OptimizerKind::adam: {
      // 1 - beta in double: float(1 - 0.999) is not 1 - float(0.999)
      auto m = m_.segment(begin, n);
      auto v = s_.segment(begin, n);
      const T b1 = T(config_.beta1), b2 = T(config_.beta2);
      m = b1 * m + T(1.0 - config_.beta1) * g;
      v = b2 * v + T(1.0 - config_.beta2) * g.square();
      const T c1 = T(1.0 - std::pow(config_.beta1, double(t_)));
      const T c2 = T(1.0 - std::pow(config_.beta2, double(t_)));
      theta -= lr * (m / c1) / ((v / c2).sqrt() + T(config_.epsilon));
      break;
    }
    case OptimizerKind::rprop: {
      // iRPROP-, element by element as torch.optim.Rprop; m_ is g', s_ is Delta (starts at lr).
      // Selects, not branches (the signs of g g' are as good as random), on pointers that do not
      // alias, so that the loop vectorises: it took 9 ns a parameter as branches.
      if (t_ == 1) s_.segment(begin, n).setConstant(T(config_.lr));
      const T eta_minus = T(config_.etas[0]), eta_plus = T(config_.etas[1]);
      const T step_min = T(config_.step_sizes[0]), step_max = T(config_.step_sizes[1]);
      rprop_step(theta.data(), g.data(), m_.data() + begin, s_.data() + begin, n, eta_minus,
                 eta_plus, step_min, step_max);
      break;
    }
    case OptimizerKind::lbfgs:
    case OptimizerKind::lm:
      throw ArgumentError(std::string(optimizer_name(config_.kind)) +
                          " takes its steps in fullbatch_epoch (fullbatch.hpp), not step()");
  }
}

template <class T>
void Optimizer<T>::start_step() {
  if (optimizer_info(config_.kind).full_batch && config_.kind != OptimizerKind::rprop)
    throw ArgumentError(std::string(optimizer_name(config_.kind)) +
                        " takes its steps in fullbatch_epoch (fullbatch.hpp), not step()");
  if (config_.weight_decay > 0 && g_decayed_.size() != n_params()) g_decayed_.resize(n_params());
  ++t_;
}

template <class T>
void Optimizer<T>::step_range(T* theta, const T* g, Index begin, Index end, bool weights,
                              double lr) {
  if (!(weights && config_.weight_decay > 0)) return apply(theta, g + begin, begin, end, T(lr));
  // g + lambda W, in a buffer of its own so that g stays dJ/dtheta
  const Index n = end - begin;
  auto decayed = g_decayed_.segment(begin, n);
  decayed = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(g + begin, n) +
            T(config_.weight_decay) *
                Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(theta + begin, n);
  apply(theta, decayed.data(), begin, end, T(lr));
}

template <class T>
void Optimizer<T>::step(Network<T>& net, double lr) {
  if (net.n_params() != n_params()) throw ArgumentError("optimizer and network sizes differ");
  if (plain_sgd()) {
    ++t_;
    kernels::sgd_update(net.params(), net.grads(), T(lr), n_params());
    return;
  }
  start_step();
  net.for_each_param_range([&](Index begin, Index end, bool weights) {
    step_range(net.params(), net.grads(), begin, end, weights, lr);
  });
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace bpcore
