#include "bpcore/trainer.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "bpcore/fp_mode.hpp"
#include "bpcore/fullbatch.hpp"
#include "bpcore/sparse_epoch.hpp"

namespace bpcore {

namespace {

// The two kinds of X an epoch reads, behind one interface: a batch of rows (`Batch`) taken in
// place (`rows_view`) or gathered by their indices (`gather`), and Network::backward on it.
template <class T>
struct DenseRows {
  using Batch = const T*;
  static constexpr bool dense = true;
  const T* X;
  Index d;
  Matrix<T> Xb;                // a shuffled batch's rows
  const Index* src = nullptr;  // … gathered from these rows of X, a row block at a time by the
                               // pass's threads (PassHooks::fill_rows)
  void reserve(Index capacity) { Xb.resize(capacity, d); }
  Batch rows_view(Index first, Index) {
    src = nullptr;
    return X + first * d;
  }
  Batch gather(const Index* rows, Index) {
    src = rows;
    return Xb.data();
  }
  void fill(Index first, Index count) {
    if (!src) return;
    for (Index i = first; i < first + count; ++i)
      Xb.row(i) = ConstMatrixMap<T>(X + src[i] * d, 1, d);
  }
  static double backward(Network<T>& net, Batch xb, const T* yb, const T* w, Index nl, int threads,
                         const PassHooks* hooks) {
    return net.backward(xb, yb, w, nl, threads, hooks);
  }
};

template <class T>
struct CsrInput {
  using Batch = Csr<T>;
  static constexpr bool dense = false;
  const Csr<T>& X;
  CsrRows<T> Xb;  // a shuffled batch's rows
  void reserve(Index) {}
  Batch rows_view(Index first, Index count) const { return X.rows_view(first, count); }
  Batch gather(const Index* src, Index count) {
    if (count == 1) return X.rows_view(src[0], 1);  // one row: read in place
    Xb.gather(X, src, count);
    return Xb.view();
  }
  void fill(Index, Index) {}  // gathered whole above
  static double backward(Network<T>& net, const Batch& xb, const T* yb, const T* w, Index,
                         int threads, const PassHooks* hooks) {
    return net.backward(xb, yb, w, threads, hooks);
  }
};

template <class T, class Input>
EpochResult run_epoch(Network<T>& net, Optimizer<T>& optimizer, Input& input, const T* Y,
                      const T* sample_weight, Index rows, const EpochOptions& options,
                      const std::function<bool()>* poll, const GradientReducer<T>* reduce) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require(options.batch_size >= 0, "batch_size must be positive (or 0 for the full batch)");
  require(options.epoch >= 0, "epoch must be non-negative");
  require(options.global_rows >= 0 && options.row_offset >= 0,
          "global_rows and row_offset must be non-negative");
  const bool sharded = options.global_rows > 0;
  require(!sharded || reduce, "sharded training (global_rows > 0) needs a gradient reducer");
  // A shard may be empty (more processes than rows); the data set as a whole may not.
  const Index total = sharded ? options.global_rows : rows;
  const Index offset = sharded ? options.row_offset : 0;
  require(rows > 0 || (sharded && rows == 0), "training needs at least one sample");
  require(rows >= 0 && offset + rows <= total,
          "the shard (row_offset " + std::to_string(offset) + ", " + std::to_string(rows) +
              " rows) does not fit in global_rows " + std::to_string(total));
  Index batch = options.batch_size == 0 ? total : options.batch_size;
  if (!options.drop_last) batch = std::min(batch, total);
  const Index n_batches = options.drop_last ? total / batch : (total + batch - 1) / batch;
  require(n_batches > 0, "drop_last leaves no batch: batch_size " +
                             std::to_string(options.batch_size) + " > " + std::to_string(total) +
                             " samples");
  const Index q = net.n_outputs(), n_params = net.n_params();
  require(optimizer.n_params() == n_params, "optimizer and network sizes differ");
  require(!net.has_dropout() || !optimizer_info(optimizer.config().kind).full_batch,
          "dropout needs a mini-batch optimizer: " +
              std::string(optimizer_name(optimizer.config().kind)) +
              " trains on the full batch; set every dropout rate to 0");

  std::vector<Index> order;
  if (options.shuffle) order = epoch_permutation(total, options.seed, std::uint64_t(options.epoch));

  // Gathered batches (only when shuffling; otherwise a batch's rows are read in place).
  const Index local_capacity = std::min(batch, rows);
  const bool online = Input::dense && batch == 1 && !reduce;  // the loop below, for dense X
  std::vector<Index> src_rows;
  Matrix<T> Yb;
  Eigen::Matrix<T, Eigen::Dynamic, 1> wb;
  if (options.shuffle && local_capacity > 0 && !online) {
    input.reserve(local_capacity);
    src_rows.resize(std::size_t(local_capacity));
    Yb.resize(local_capacity, q);
    if (sample_weight) wb.resize(local_capacity);
  }

  // Snapshot to fall back on: the epoch is all or nothing.
  const Eigen::Matrix<T, Eigen::Dynamic, 1> start =
      Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), n_params);
  const Optimizer<T> optimizer_start = optimizer;
  auto roll_back = [&] {
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(net.params(), n_params) = start;
    optimizer = optimizer_start;
  };
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> gradient(net.grads(), n_params);

  // Training mode for dropout (dropout.hpp): the masks follow each row's index in the data set.
  DropoutRows drop{options.seed, options.epoch, nullptr, 0};
  std::vector<Index> drop_ids(net.has_dropout() && options.shuffle ? std::size_t(local_capacity)
                                                                   : 0);
  struct EvaluationAfter {
    Network<T>& net;
    ~EvaluationAfter() { net.set_dropout_rows(nullptr); }
  } evaluation_after{net};
  if (net.has_dropout()) net.set_dropout_rows(&drop);

  EpochResult result;
  result.lr = learning_rate(optimizer.config(), options.epoch);
  double loss_total = 0, weight_total = 0;
  // A shuffled batch's rows of X and Y are gathered by the row blocks that read them (Y's rows
  // are scattered through a large data set: a serial gather of them waited on a cache miss a row,
  // long enough for the other threads to fall asleep between two batches); without a reducer the
  // step is taken on each range of the gradient as backward finishes it.
  PassHooks in_pass, gather_only;
  in_pass.fill_rows = gather_only.fill_rows = [&](Index first, Index count) {
    input.fill(first, count);
    if (options.shuffle)
      for (Index i = first; i < first + count; ++i)
        Yb.row(i) = ConstMatrixMap<T>(Y, rows, q).row(src_rows[std::size_t(i)]);
  };
  in_pass.gradient_done = [&](Index begin, Index end, bool weights) {
    optimizer.step_range(net.params(), net.grads(), begin, end, weights, result.lr);
  };
  try {
    if constexpr (Input::dense) {
      if (online) {
        // Online training: each sample is read where it lies, and plain sgd's step is taken inside
        // the gradient pass (Network::sgd_row); the same bits as the general loop below. The W, b
        // part of grads() is written on the last sample only (or always, with sample weights,
        // which may skip the last): after the epoch it holds what the general loop leaves there.
        // `poll` is asked after every kOnlinePoll-th sample.
        const bool fused = optimizer.plain_sgd();
        const T lr = T(result.lr);
        for (Index bi = 0; bi < n_batches; ++bi) {
          const Index src = options.shuffle ? order[std::size_t(bi)] : bi;
          const T* x = input.X + src * input.d;
          const T* y = Y + src * q;
          drop.first = src;
          double weight = 1;
          if (sample_weight) {
            weight = double(sample_weight[src]);
            if (weight == 0) continue;  // nothing to learn from this sample
          }
          double J = 0;
          if (fused && !(weight < 0) && std::isfinite(weight)) {
            // a weight's batch mean over one row is the row itself
            J = net.sgd_row(x, y, lr, sample_weight || bi + 1 == n_batches);
            optimizer.count_step();
          } else {
            J = net.backward(x, y, sample_weight ? sample_weight + src : nullptr, 1,
                             options.n_threads);
            optimizer.step(net, result.lr);
          }
          if (!std::isfinite(J)) {
            roll_back();
            result.status = EpochStatus::nonfinite;
            return result;
          }
          loss_total += J * weight;
          weight_total += weight;
          ++result.batches;
          ++result.samples;
          if (poll && bi % kOnlinePoll == kOnlinePoll - 1 && (*poll)()) {
            roll_back();
            result.status = EpochStatus::interrupted;
            return result;
          }
        }
      }
    }
    for (Index bi = 0; bi < (online ? 0 : n_batches); ++bi) {
      // Batch bi is rows order[r0 … r0+nb-1] of the data set; nl of them are this process's.
      const Index r0 = bi * batch, nb = std::min(batch, total - r0);
      typename Input::Batch xb{};
      const T *yb = nullptr, *w = nullptr;
      Index nl = 0;
      if (options.shuffle) {
        for (Index i = 0; i < nb; ++i) {
          const Index src = order[std::size_t(r0 + i)] - offset;
          if (src < 0 || src >= rows) continue;
          src_rows[std::size_t(nl)] = src;
          // (the rows of Y: by the row block that reads them, PassHooks::fill_rows)
          if (sample_weight) wb[nl] = sample_weight[src];
          if (!drop_ids.empty()) drop_ids[std::size_t(nl)] = src + offset;
          ++nl;
        }
        drop.ids = drop_ids.data();
        if (nl > 0) xb = input.gather(src_rows.data(), nl);
        yb = Yb.data();
        w = sample_weight ? wb.data() : nullptr;
      } else {
        const Index lo = std::max(r0, offset), hi = std::min(r0 + nb, offset + rows);
        nl = std::max<Index>(0, hi - lo);
        drop.first = lo;
        if (nl > 0) {
          xb = input.rows_view(lo - offset, nl);
          yb = Y + (lo - offset) * q;
          w = sample_weight ? sample_weight + (lo - offset) : nullptr;
        }
      }
      double local_weight = double(nl);
      if (w) {
        local_weight = 0;
        for (Index i = 0; i < nl; ++i) local_weight += double(w[i]);
      }

      double J = 0, batch_weight = local_weight;
      if (!reduce) {
        if (batch_weight == 0) continue;  // nothing to learn from this batch
        // (a non-finite J below rolls the epoch back, the step taken in the pass included)
        optimizer.start_step();
        J = Input::backward(net, xb, yb, w, nl, options.n_threads, &in_pass);
      } else {
        // This process's sums, the all-reduce, then the batch mean from the global sums.
        double J_local = 0;
        if (nl > 0 && local_weight != 0) {
          J_local = Input::backward(net, xb, yb, w, nl, options.n_threads, &gather_only);
          gradient *= T(local_weight);
        } else {
          gradient.setZero();
        }
        std::array<double, kReduceSums> sums{J_local * local_weight, local_weight,
                                             poll && (*poll)() ? 1.0 : 0.0};
        (*reduce)(net.grads(), n_params, sums.data(), kReduceSums);
        if (sums[2] > 0) {
          roll_back();
          result.status = EpochStatus::interrupted;
          return result;
        }
        batch_weight = sums[1];
        if (batch_weight == 0) continue;
        J = sums[0] / batch_weight;
        gradient /= T(batch_weight);
      }
      if (!std::isfinite(J)) {
        roll_back();
        result.status = EpochStatus::nonfinite;
        return result;
      }
      loss_total += J * batch_weight;
      weight_total += batch_weight;
      if (reduce) optimizer.step(net, result.lr);
      ++result.batches;
      result.samples += reduce ? nb : nl;
      if (!reduce && poll && (*poll)()) {
        roll_back();
        result.status = EpochStatus::interrupted;
        return result;
      }
    }
  } catch (...) {
    roll_back();
    throw;
  }
  if (!Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(net.params(), n_params)
           .isFinite()
           .all()) {
    roll_back();
    result.status = EpochStatus::nonfinite;
    return result;
  }
  result.loss = weight_total > 0 ? loss_total / weight_total : 0.0;
  return result;
}

}  // namespace

template <class T>
EpochResult train_epoch(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                        const T* sample_weight, Index rows, const EpochOptions& options,
                        const std::function<bool()>* poll, const GradientReducer<T>* reduce) {
  DenseRows<T> input{X, net.n_inputs(), {}};
  return run_epoch(net, optimizer, input, Y, sample_weight, rows, options, poll, reduce);
}

template <class T>
EpochResult train_epoch(Network<T>& net, Optimizer<T>& optimizer, const Csr<T>& X, const T* Y,
                        const T* sample_weight, const EpochOptions& options,
                        const std::function<bool()>* poll, const GradientReducer<T>* reduce) {
  require_inputs(X, net.n_inputs());
  CsrInput<T> input{X, {}};
  return run_epoch(net, optimizer, input, Y, sample_weight, X.rows, options, poll, reduce);
}

template EpochResult train_epoch<float>(Network<float>&, Optimizer<float>&, const float*,
                                        const float*, const float*, Index, const EpochOptions&,
                                        const std::function<bool()>*,
                                        const GradientReducer<float>*);
template EpochResult train_epoch<double>(Network<double>&, Optimizer<double>&, const double*,
                                         const double*, const double*, Index, const EpochOptions&,
                                         const std::function<bool()>*,
                                         const GradientReducer<double>*);
template EpochResult train_epoch<float>(Network<float>&, Optimizer<float>&, const Csr<float>&,
                                        const float*, const float*, const EpochOptions&,
                                        const std::function<bool()>*,
                                        const GradientReducer<float>*);
template EpochResult train_epoch<double>(Network<double>&, Optimizer<double>&, const Csr<double>&,
                                         const double*, const double*, const EpochOptions&,
                                         const std::function<bool()>*,
                                         const GradientReducer<double>*);

template <class T>
void train_epochs(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                  const T* sample_weight, Index rows, const EpochOptions& options, Index epochs,
                  double tol, const std::function<bool()>* poll, std::vector<TimedEpoch>& out) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require(epochs >= 0, "epochs must be non-negative");
  EpochOptions o = options;
  const bool fullbatch = steps_in_fullbatch_epoch(optimizer.config().kind);
  for (Index e = 0; e < epochs; ++e, ++o.epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    TimedEpoch done;
    done.result = fullbatch ? fullbatch_epoch(net, optimizer, X, Y, sample_weight, rows, o, poll)
                            : train_epoch(net, optimizer, X, Y, sample_weight, rows, o, poll);
    done.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.push_back(done);
    if (done.result.status != EpochStatus::ok || done.result.loss < tol) return;
  }
}

template void train_epochs<float>(Network<float>&, Optimizer<float>&, const float*, const float*,
                                  const float*, Index, const EpochOptions&, Index, double,
                                  const std::function<bool()>*, std::vector<TimedEpoch>&);
template void train_epochs<double>(Network<double>&, Optimizer<double>&, const double*,
                                   const double*, const double*, Index, const EpochOptions&, Index,
                                   double, const std::function<bool()>*, std::vector<TimedEpoch>&);

}  // namespace bpcore
