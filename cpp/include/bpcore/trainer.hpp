// One training epoch in one call: shuffle (seeded), cut batches, forward, delta backward, update.
//
// The notes' BP algorithm is the case batch_size = 1 with optimizer sgd: for each sample, forward,
// J, delta^[L] … delta^[1], W <- W - lr dJ/dW. Larger batches are the same rule with n > 1.
// The epoch either finishes or leaves the parameters and optimizer state as they were at its start
// (on a non-finite J or parameter, or when `poll` asks to stop).
//
// Data-parallel training (synchronous): P processes each hold a shard, rows [row_offset,
// row_offset + rows) of a data set of global_rows rows. Every process cuts the same batches from
// the same global order. For a batch B, process p computes its part of the batch's sums,
//   g_p = sum_{i in B_p} w_i dJ_i/dtheta,   s_p = [sum_{i in B_p} w_i J_i,  sum_{i in B_p} w_i],
// (nothing, when no row of B is its own), `reduce` sums them over the processes in place (an
// all-reduce), and every process applies the same update with dJ/dtheta = (sum_p g_p) / (sum_p w).
// That is the batch mean of the single-process epoch on the whole data, so the processes stay
// identical and equal single-process training up to rounding. Every process runs every batch, so
// uneven shards (even empty ones) cannot leave one waiting. What stops an epoch (a non-finite J,
// `poll`) is decided on the reduced sums, by every process alike.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "bpcore/names.hpp"
#include "bpcore/optimizer.hpp"

namespace bpcore {

struct EpochOptions {
  Index batch_size = 1;  // 0 means the whole data set (full batch)
  bool shuffle = true;
  bool drop_last = false;
  std::uint64_t seed = 0;
  Index epoch = 0;  // picks the shuffle order and the scheduled learning rate
  int n_threads = 0;
  // Sharded data (see above): 0 means this process holds the whole data set (global_rows = rows).
  Index global_rows = 0;
  Index row_offset = 0;
};

/// Number of values in the `sums` of a GradientReducer: sum w_i J_i, sum w_i, and a stop flag
/// (1 when some process's `poll` asked to stop).
inline constexpr Index kReduceSums = 3;

/// Replaces this process's `gradient` (n_params values, net.grads()) and `sums` (kReduceSums
/// values) by their sums over all processes, in place. It is called once per batch by every
/// process; it must not return before every process has called it (an all-reduce).
template <class T>
using GradientReducer =
    std::function<void(T* gradient, Index n_params, double* sums, Index n_sums)>;

enum class EpochStatus { ok, nonfinite, interrupted, converged, stalled };

struct EpochStatusInfo {
  EpochStatus id;
  std::string_view name;
};

inline constexpr std::array<EpochStatusInfo, 5> epoch_status_table{{
    {EpochStatus::ok, "ok"},
    {EpochStatus::nonfinite, "nonfinite"},      // a non-finite J or parameter: rolled back
    {EpochStatus::interrupted, "interrupted"},  // `poll` asked to stop: rolled back
    // full-batch methods (fullbatch.hpp) only, on a finished epoch:
    {EpochStatus::converged, "converged"},  // a tolerance met (grad_tol, loss_tol)
    {EpochStatus::stalled, "stalled"},      // no step lowers J (lm: mu > lm_mu_max): rolled back
}};

inline std::string_view epoch_status_name(EpochStatus status) {
  return name_in(epoch_status_table, status, "epoch status");
}

struct EpochResult {
  EpochStatus status = EpochStatus::ok;
  double loss = 0;    // mean J over the epoch's samples (weighted), before each batch's update
  double lr = 0;      // the learning rate used
  Index batches = 0;  // batches completed
  Index samples = 0;  // samples seen (by all processes, when sharded)
};

/// Online training (batch_size 1, one process) asks `poll` after every kOnlinePoll-th sample only.
inline constexpr Index kOnlinePoll = 8;

/// Runs one epoch. `poll`, if given, is called after every batch (in online training, after every
/// kOnlinePoll-th); returning true stops the epoch.
/// `sample_weight` may be null. With `reduce` the epoch is this process's part of data-parallel
/// training (see above); `poll` is then called before every reduction.
/// If `poll` or `reduce` throws, the epoch is rolled back and the exception passes on.
template <class T>
EpochResult train_epoch(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                        const T* sample_weight, Index rows, const EpochOptions& options,
                        const std::function<bool()>* poll = nullptr,
                        const GradientReducer<T>* reduce = nullptr);

extern template EpochResult train_epoch<float>(Network<float>&, Optimizer<float>&, const float*,
                                               const float*, const float*, Index,
                                               const EpochOptions&, const std::function<bool()>*,
                                               const GradientReducer<float>*);
extern template EpochResult train_epoch<double>(Network<double>&, Optimizer<double>&, const double*,
                                                const double*, const double*, Index,
                                                const EpochOptions&, const std::function<bool()>*,
                                                const GradientReducer<double>*);

/// One finished (or stopped) epoch of train_epochs and the seconds it took.
struct TimedEpoch {
  EpochResult result;
  double seconds = 0;
};

/// Runs epochs options.epoch, options.epoch + 1, … one after the other in one call (at most
/// `epochs` of them, one process, the same poll for all), each exactly as train_epoch runs it (as
/// fullbatch_epoch for lbfgs and lm: one iteration each; converged and stalled end the run too),
/// and stops after the first whose status is not ok or, when `tol` is not NaN, whose loss is below
/// tol. Appends each epoch run to `out` as it ends (so `out` holds the finished ones when an
/// exception passes on). For a caller with nothing to do between epochs (bpcore.fit without
/// validation, callbacks or reporting): no round trip per epoch.
template <class T>
void train_epochs(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                  const T* sample_weight, Index rows, const EpochOptions& options, Index epochs,
                  double tol, const std::function<bool()>* poll, std::vector<TimedEpoch>& out);

extern template void train_epochs<float>(Network<float>&, Optimizer<float>&, const float*,
                                         const float*, const float*, Index, const EpochOptions&,
                                         Index, double, const std::function<bool()>*,
                                         std::vector<TimedEpoch>&);
extern template void train_epochs<double>(Network<double>&, Optimizer<double>&, const double*,
                                          const double*, const double*, Index, const EpochOptions&,
                                          Index, double, const std::function<bool()>*,
                                          std::vector<TimedEpoch>&);

}  // namespace bpcore
