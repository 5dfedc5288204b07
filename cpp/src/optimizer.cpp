#include "bpcore/optimizer.hpp"

#include <cmath>
#include <string>

#include "bpcore/kernels.hpp"
#include "bpcore/names.hpp"

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

void validate(const OptimizerConfig& c) {
  auto positive = [](double x) { return std::isfinite(x) && x > 0; };
  require(positive(c.lr), "lr must be positive and finite, got " + std::to_string(c.lr));
  require(std::isfinite(c.momentum) && c.momentum >= 0 && c.momentum < 1,
          "momentum must be in [0, 1), got " + std::to_string(c.momentum));
  require(std::isfinite(c.beta1) && c.beta1 >= 0 && c.beta1 < 1,
          "beta1 must be in [0, 1), got " + std::to_string(c.beta1));
  require(std::isfinite(c.beta2) && c.beta2 >= 0 && c.beta2 < 1,
          "beta2 must be in [0, 1), got " + std::to_string(c.beta2));
  require(positive(c.epsilon), "epsilon must be positive, got " + std::to_string(c.epsilon));
  require(std::isfinite(c.weight_decay) && c.weight_decay >= 0,
          "weight_decay must be non-negative, got " + std::to_string(c.weight_decay));
  require(std::isfinite(c.power_t) && c.power_t >= 0,
          "power_t must be non-negative, got " + std::to_string(c.power_t));
  require(c.step_size > 0, "step_size must be positive, got " + std::to_string(c.step_size));
  require(std::isfinite(c.gamma) && c.gamma > 0 && c.gamma <= 1,
          "gamma must be in (0, 1], got " + std::to_string(c.gamma));
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
  validate(config_);
  require(n_params > 0, "the optimizer needs at least one parameter");
  m_.setZero(n_params);
  s_.setZero(config_.kind == OptimizerKind::adam ? n_params : 0);
}

template <class T>
void Optimizer<T>::set_config(const OptimizerConfig& config) {
  validate(config);
  const bool kind_changed = config.kind != config_.kind;
  config_ = config;
  if (kind_changed) {
    s_.setZero(config_.kind == OptimizerKind::adam ? m_.size() : 0);
    reset();
  }
}

template <class T>
void Optimizer<T>::reset() {
  m_.setZero();
  s_.setZero();
  t_ = 0;
}

template <class T>
template <class Gradient>
void Optimizer<T>::apply(Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>& theta, const Gradient& g,
                         T lr) {
  ++t_;
  const T mu = T(config_.momentum);
  switch (config_.kind) {
    case OptimizerKind::sgd:
      // W <- W - lr dJ/dW
      theta -= lr * g;
      break;
    case OptimizerKind::momentum:
      m_ = mu * m_ - lr * g;
      theta += m_;
      break;
    case OptimizerKind::nesterov:
      m_ = mu * m_ - lr * g;
      theta += mu * m_ - lr * g;
      break;
    case OptimizerKind::adam: {
      // 1 - beta in double: float(1 - 0.999) is not 1 - float(0.999)
      const T b1 = T(config_.beta1), b2 = T(config_.beta2);
      m_ = b1 * m_ + T(1.0 - config_.beta1) * g;
      s_ = b2 * s_ + T(1.0 - config_.beta2) * g.square();
      const T c1 = T(1.0 - std::pow(config_.beta1, double(t_)));
      const T c2 = T(1.0 - std::pow(config_.beta2, double(t_)));
      theta -= lr * (m_ / c1) / ((s_ / c2).sqrt() + T(config_.epsilon));
      break;
    }
  }
}

template <class T>
void Optimizer<T>::step(Network<T>& net, double lr) {
  if (net.n_params() != n_params()) throw ArgumentError("optimizer and network sizes differ");
  if (plain_sgd()) {
    ++t_;
    kernels::sgd_update(net.params(), net.grads(), T(lr), n_params());
    return;
  }
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> theta(net.params(), n_params());
  Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> g(net.grads(), n_params());
  if (config_.weight_decay <= 0) {
    apply(theta, g, T(lr));
    return;
  }
  // g + lambda W (weights only), in a buffer of its own so net.grads() stays dJ/dtheta
  if (g_decayed_.size() != n_params()) g_decayed_.resize(n_params());
  g_decayed_ = g;
  const T lambda = T(config_.weight_decay);
  for (const auto& s : net.layers())
    g_decayed_.segment(s.w_offset, s.n_in * s.n_out) +=
        lambda * theta.segment(s.w_offset, s.n_in * s.n_out);
  apply(theta, g_decayed_, T(lr));
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace bpcore
