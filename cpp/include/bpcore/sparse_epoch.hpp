// The training epochs over a CSR data set (sparse.hpp): the same rules, options and results as
// train_epoch (trainer.hpp) and fullbatch_epoch (fullbatch.hpp) with a dense X. A shuffled batch's
// rows are gathered into a small CSR buffer; an unshuffled batch is a view of X's own arrays.
#pragma once

#include <functional>

#include "bpcore/fullbatch.hpp"
#include "bpcore/sparse.hpp"
#include "bpcore/trainer.hpp"

namespace bpcore {

/// train_epoch with a CSR X (X.rows rows): Network::backward on each CSR batch.
template <class T>
EpochResult train_epoch(Network<T>& net, Optimizer<T>& optimizer, const Csr<T>& X, const T* Y,
                        const T* sample_weight, const EpochOptions& options,
                        const std::function<bool()>* poll = nullptr,
                        const GradientReducer<T>* reduce = nullptr);

/// fullbatch_epoch (lbfgs, lm) with a CSR X.
template <class T>
EpochResult fullbatch_epoch(Network<T>& net, Optimizer<T>& optimizer, const Csr<T>& X, const T* Y,
                            const T* sample_weight, const EpochOptions& options,
                            const std::function<bool()>* poll = nullptr);

/// lm_normal_equations with a CSR X.
template <class T>
double lm_normal_equations(const Network<T>& net, const Csr<T>& X, const T* Y,
                           const T* sample_weight, int n_threads, Eigen::MatrixXd& JtJ,
                           Eigen::VectorXd& Jte);

#define BPCORE_EXTERN_SPARSE_EPOCH(T)                                                       \
  extern template EpochResult train_epoch<T>(                                               \
      Network<T>&, Optimizer<T>&, const Csr<T>&, const T*, const T*, const EpochOptions&,   \
      const std::function<bool()>*, const GradientReducer<T>*);                             \
  extern template EpochResult fullbatch_epoch<T>(Network<T>&, Optimizer<T>&, const Csr<T>&, \
                                                 const T*, const T*, const EpochOptions&,   \
                                                 const std::function<bool()>*);             \
  extern template double lm_normal_equations<T>(const Network<T>&, const Csr<T>&, const T*, \
                                                const T*, int, Eigen::MatrixXd&,            \
                                                Eigen::VectorXd&);
BPCORE_EXTERN_SPARSE_EPOCH(float)
BPCORE_EXTERN_SPARSE_EPOCH(double)
#undef BPCORE_EXTERN_SPARSE_EPOCH

}  // namespace bpcore
