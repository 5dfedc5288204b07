// One training epoch in one call: shuffle (seeded), cut batches, forward, delta backward, update.
//
// The notes' BP algorithm is the case batch_size = 1 with optimizer sgd: for each sample, forward,
// J, delta^[L] … delta^[1], W <- W - lr dJ/dW. Larger batches are the same rule with n > 1.
// The epoch either finishes or leaves the parameters and optimizer state as they were at its start
// (on a non-finite J or parameter, or when `poll` asks to stop).
#pragma once

#include <cstdint>
#include <functional>

#include "bpcore/optimizer.hpp"

namespace bpcore {

struct EpochOptions {
  Index batch_size = 1;  // 0 means the whole data set (full batch)
  bool shuffle = true;
  bool drop_last = false;
  std::uint64_t seed = 0;
  Index epoch = 0;  // picks the shuffle order and the scheduled learning rate
  int n_threads = 0;
};

enum class EpochStatus { ok, nonfinite, interrupted };

struct EpochResult {
  EpochStatus status = EpochStatus::ok;
  double loss = 0;     // mean J over the epoch's samples (weighted), before each batch's update
  double lr = 0;       // the learning rate used
  Index batches = 0;   // batches completed
  Index samples = 0;   // samples seen
};

/// Runs one epoch. `poll`, if given, is called after every batch; returning true stops the epoch.
/// `sample_weight` may be null.
template <class T>
EpochResult train_epoch(Network<T>& net, Optimizer<T>& optimizer, const T* X, const T* Y,
                        const T* sample_weight, Index rows, const EpochOptions& options,
                        const std::function<bool()>* poll = nullptr);

extern template EpochResult train_epoch<float>(Network<float>&, Optimizer<float>&, const float*,
                                               const float*, const float*, Index,
                                               const EpochOptions&,
                                               const std::function<bool()>*);
extern template EpochResult train_epoch<double>(Network<double>&, Optimizer<double>&,
                                                const double*, const double*, const double*,
                                                Index, const EpochOptions&,
                                                const std::function<bool()>*);

}  // namespace bpcore
