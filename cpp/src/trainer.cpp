#include "bpcore/trainer.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace bpcore {

template <class T>
EpochResult train_epoch(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                        const T* sample_weight, Index rows, const EpochOptions& options,
                        const std::function<bool()>* poll) {
  require(rows > 0, "training needs at least one sample");
  require(options.batch_size >= 0, "batch_size must be positive (or 0 for the full batch)");
  require(options.epoch >= 0, "epoch must be non-negative");
  Index batch = options.batch_size == 0 ? rows : options.batch_size;
  if (!options.drop_last) batch = std::min(batch, rows);
  const Index n_batches = options.drop_last ? rows / batch : (rows + batch - 1) / batch;
  require(n_batches > 0, "drop_last leaves no batch: batch_size " +
                             std::to_string(options.batch_size) + " > " + std::to_string(rows) +
                             " samples");
  const Index d = net.n_inputs(), q = net.n_outputs();

  std::vector<Index> order;
  if (options.shuffle) order = epoch_permutation(rows, options.seed, std::uint64_t(options.epoch));

  // Gathered batches (only when shuffling; otherwise batches are read in place).
  Matrix<T> Xb, Yb;
  Eigen::Matrix<T, Eigen::Dynamic, 1> wb;
  if (options.shuffle) {
    Xb.resize(std::min(batch, rows), d);
    Yb.resize(std::min(batch, rows), q);
    if (sample_weight) wb.resize(std::min(batch, rows));
  }

  // Snapshot to fall back on: the epoch is all or nothing.
  const Eigen::Matrix<T, Eigen::Dynamic, 1> start =
      Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), net.n_params());
  const Optimizer<T> optimizer_start = optimizer;
  auto roll_back = [&] {
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), net.n_params()) = start;
    optimizer = optimizer_start;
  };

  EpochResult result;
  result.lr = learning_rate(optimizer.config(), options.epoch);
  double loss_total = 0, weight_total = 0;
  for (Index bi = 0; bi < n_batches; ++bi) {
    const Index r0 = bi * batch, nb = std::min(batch, rows - r0);
    const T *xb = X + r0 * d, *yb = Y + r0 * q, *w = sample_weight ? sample_weight + r0 : nullptr;
    if (options.shuffle) {
      for (Index i = 0; i < nb; ++i) {
        const Index src = order[std::size_t(r0 + i)];
        Xb.row(i) = ConstMatrixMap<T>(X, rows, d).row(src);
        Yb.row(i) = ConstMatrixMap<T>(Y, rows, q).row(src);
        if (sample_weight) wb[i] = sample_weight[src];
      }
      xb = Xb.data();
      yb = Yb.data();
      w = sample_weight ? wb.data() : nullptr;
    }
    double batch_weight = double(nb);
    if (w) {
      batch_weight = 0;
      for (Index i = 0; i < nb; ++i) batch_weight += double(w[i]);
      if (batch_weight == 0) continue;  // nothing to learn from this batch
    }
    const double J = net.backward(xb, yb, w, nb, options.n_threads);
    if (!std::isfinite(J)) {
      roll_back();
      result.status = EpochStatus::nonfinite;
      return result;
    }
    loss_total += J * batch_weight;
    weight_total += batch_weight;
    optimizer.step(net, result.lr);
    ++result.batches;
    result.samples += nb;
    if (poll && (*poll)()) {
      roll_back();
      result.status = EpochStatus::interrupted;
      return result;
    }
  }
  if (!Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(net.params(), net.n_params())
           .isFinite()
           .all()) {
    roll_back();
    result.status = EpochStatus::nonfinite;
    return result;
  }
  result.loss = weight_total > 0 ? loss_total / weight_total : 0.0;
  return result;
}

template EpochResult train_epoch<float>(Network<float>&, Optimizer<float>&, const float*,
                                        const float*, const float*, Index, const EpochOptions&,
                                        const std::function<bool()>*);
template EpochResult train_epoch<double>(Network<double>&, Optimizer<double>&, const double*,
                                         const double*, const double*, Index,
                                         const EpochOptions&, const std::function<bool()>*);

}  // namespace bpcore
