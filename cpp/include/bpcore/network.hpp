// A fully connected network of any depth: the forward pass and delta back-propagation.
//
// Layers l = 1 … L are stored at index k = l - 1. For a batch X (n × d), with H^[0] = X:
//   Z^[l] = H^[l-1] W^[l] + b^[l],   H^[l] = f^[l](Z^[l]),   Y_hat = H^[L]
//   delta^[L] = E ⊙ f'(Z^[L]), or Y - Y_hat for a loss whose table entry says delta_is_error
//   delta^[l] = (delta^[l+1] W^[l+1]^T) ⊙ f'(Z^[l])
//   dJ/dW^[l] = -(1/n) H^[l-1]^T delta^[l],   dJ/db^[l] = -(1/n) sum_rows delta^[l]
//   dJ/dalpha^[l] = -(1/n) sum (delta^[l+1] W^[l+1]^T) ⊙ min(0, Z^[l])     (prelu)
// delta^[l] = -dJ_i/dZ^[l] per sample i, as in the notes. All parameters live in one flat buffer
// (per layer: W^[l] row-major, b^[l], then alpha^[l] for prelu) that never moves, and the
// gradients in a second buffer of the same layout.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bpcore/activation.hpp"
#include "bpcore/dropout.hpp"
#include "bpcore/init.hpp"
#include "bpcore/kernels.hpp"
#include "bpcore/loss.hpp"
#include "bpcore/parallel.hpp"
#include "bpcore/sparse.hpp"

namespace bpcore {

struct LayerSpec {
  Index n_in = 0, n_out = 0;
  Activation f = Activation::identity;
  Index w_offset = 0, b_offset = 0;
  Index alpha_offset = -1;  // -1 unless f is prelu
};

/// What a training loop can hook into Network::backward; both are called from the pass's threads.
struct PassHooks {
  /// Called once for each row block, before the pass reads rows [first, first + count) of Y and of
  /// a dense X: the caller may write those rows then (a shuffled batch gathered by the threads
  /// that use it). Until every block has been filled, only the block itself reads them. Sample
  /// weights are read before the first call, so they must be there from the start.
  std::function<void(Index first, Index count)> fill_rows;
  /// Receives each finished range [begin, end) of dJ/dtheta; `weights` says it holds entries of
  /// some W^[l]. The ranges are disjoint, cover every parameter, and nothing later in the pass
  /// writes them: an optimizer can step on them while they are still in the cache.
  std::function<void(Index begin, Index end, bool weights)> gradient_done;
};

/// Rows p0 … p1-1 of dJ/dW^[l] at index `layer` (and dJ/db^[l] when p0 = 0) of a whole batch:
/// one task of a backward pass over several row blocks.
struct GradPiece {
  Index layer = 0, p0 = 0, p1 = 0;
};

/// The cut of every layer's dJ/dW^[l] into row ranges for the threads: by the sizes alone, so a
/// result does not depend on the number of threads. About `kGradPieces` pieces in all, each
/// layer's share by its n_{l-1} n_l, every piece a multiple of 16 rows except a layer's last.
inline constexpr Index kGradPieces = 8;
/// The pieces of theta that a backward pass with per-block gradient sums reduces, scales and hands
/// on, one per task of its second phase (a multiple of 16 values).
inline constexpr Index kSumPiece = 512;
std::vector<GradPiece> gradient_pieces(const std::vector<LayerSpec>& layers);

template <class T>
class Network {
 public:
  using Scalar = T;

  /// `sizes` = (d, n_1, …, q): L + 1 entries; `activations`: one per layer l = 1 … L.
  Network(std::vector<Index> sizes, std::vector<Activation> activations, Loss loss);

  Index n_layers() const { return static_cast<Index>(layers_.size()); }
  Index n_inputs() const { return layers_.front().n_in; }
  Index n_outputs() const { return layers_.back().n_out; }
  Index n_params() const { return static_cast<Index>(params_.size()); }
  Loss loss_kind() const { return loss_; }
  const LayerSpec& layer(Index k) const { return layers_.at(static_cast<std::size_t>(k)); }
  const std::vector<LayerSpec>& layers() const { return layers_; }

  T* params() { return params_.data(); }
  const T* params() const { return params_.data(); }
  T* grads() { return grads_.data(); }
  const T* grads() const { return grads_.data(); }

  MatrixMap<T> W(Index k);
  RowVectorMap<T> b(Index k);
  /// prelu slope of layer k (ArgumentError if layer k is not prelu).
  T& alpha(Index k);
  T alpha_or_zero(Index k) const;

  /// Sets every parameter from `seed` (see init.hpp); `scale` is small_uniform's bound.
  void initialize(Init init, std::uint64_t seed, double scale = small_uniform_scale);

  /// Forward pass of a batch; Z^[l], H^[l] of every layer stay readable until the next call.
  void forward(const T* X, Index rows, int n_threads);
  /// Forward and back-propagation of a batch: fills grads() with dJ/dtheta of the batch mean J and
  /// returns that J. `sample_weight` (may be null) weighs sample i by w_i / sum(w). `hooks` (may be
  /// null, either member empty): see PassHooks; a large network's W^[l] pieces reach
  /// gradient_done as the threads finish them, otherwise every layer's W, b and alpha at the end.
  double backward(const T* X, const T* Y, const T* sample_weight, Index rows, int n_threads,
                  const PassHooks* hooks = nullptr);
  /// Calls f(begin, end, weights) for every layer's ranges of params(): W^[l] (weights = true),
  /// b^[l] and a prelu alpha^[l], in layout order; disjoint, and together every parameter.
  template <class F>
  void for_each_param_range(F&& f) const {
    for (const auto& s : layers_) {
      f(s.w_offset, s.w_offset + s.n_in * s.n_out, true);
      f(s.b_offset, s.b_offset + s.n_out, false);
      if (s.alpha_offset >= 0) f(s.alpha_offset, s.alpha_offset + 1, false);
    }
  }
  /// One sample of the notes' online rule with sgd: forward, J, delta^[L] … delta^[1], and
  /// theta <- theta - lr dJ/dtheta, each layer updated as soon as delta^[l-1] (which needs W^[l]
  /// before its update) is known. Bitwise the same as backward(x, y, nullptr, 1, ·) followed by
  /// sgd's step; grads() and the cache hold the sample's values afterwards (with `write_grads`
  /// false the W, b part of grads() is not written: an online epoch writes it on its last sample
  /// only). On a small network each layer runs one fused forward kernel and one fused
  /// backward-and-step kernel (kernels::OnlineOps, picked at construction). Returns J.
  double sgd_row(const T* x, const T* y, T lr, bool write_grads = true);
  /// The batch mean J (weighted as in backward), computed in row chunks without the cache.
  double loss(const T* X, const T* Y, const T* sample_weight, Index rows, int n_threads) const;
  /// Y_hat = H^[L] of a batch into `out` (rows × q), in row chunks without the cache: safe to call
  /// from several threads at once. Returns false when some row of Z^[1] is not finite, which every
  /// NaN or infinite value in X causes (the caller can then look for one in X instead of checking
  /// all of X beforehand); a large finite input or a non-finite weight can cause it too.
  bool predict(const T* X, Index rows, T* out, int n_threads) const;

  /// The same four with a CSR batch X (sparse.hpp): layer 1 multiplies by X's stored values only.
  void forward(const Csr<T>& X, int n_threads);
  double backward(const Csr<T>& X, const T* Y, const T* sample_weight, int n_threads,
                  const PassHooks* hooks = nullptr);
  double loss(const Csr<T>& X, const T* Y, const T* sample_weight, int n_threads) const;
  bool predict(const Csr<T>& X, T* out, int n_threads) const;

  /// The cache of the last forward/backward: rows and Z^[l], H^[l], delta^[l] at index k = l - 1.
  Index cached_rows() const { return cached_rows_; }
  bool has_delta() const { return has_delta_; }
  ConstMatrixMap<T> cached_Z(Index k) const;
  ConstMatrixMap<T> cached_H(Index k) const;
  ConstMatrixMap<T> cached_delta(Index k) const;

  /// True when the network is narrow enough for the row kernels (kernels::is_small).
  bool small() const { return small_; }
  /// True when a call on `rows` rows (forward, backward, predict, loss alike) runs on the row
  /// kernels: a small network and at most kernels::kSmallRows rows. Larger batches go to Eigen's
  /// products, which pay off there. The choice depends on the sizes only, never on the threads.
  bool uses_row_kernels(Index rows) const { return small_ && rows <= kernels::kSmallRows; }
  /// The fixed row blocks of a batch of `rows` (at least kBlockWork multiply-adds each; they
  /// depend on the rows and the sizes only).
  RowBlocks row_blocks(Index rows) const;
  /// True when backward on `rows` rows (of a dense X) takes the deltas by row blocks and then each
  /// dJ/dW^[l] over the whole batch (backward_split); false: per-block sums added in block order.
  /// Either way the result does not depend on the number of threads.
  bool splits_backward(Index rows) const;

  /// Frees the per-batch workspace (it is sized again on the next call).
  void release_workspace();

  /// Dropout (dropout.hpp): the rates p_l of the hidden layers l = 1 … L-1, each in [0, 1); all 0
  /// (no dropout) by default. Setting them frees the workspace.
  void set_dropout(std::vector<double> rates);
  const std::vector<double>& dropout() const { return dropout_; }
  /// True when some hidden layer has a rate above 0.
  bool has_dropout() const { return has_dropout_; }
  /// Training mode: the forward/backward calls that follow mask the hidden layers for these
  /// rows (which must outlive them); null (the default) is evaluation: no masks.
  void set_dropout_rows(const DropoutRows* rows) { dropout_rows_ = rows; }
  /// True when the last forward/backward masked layer k.
  bool has_mask(Index k) const;
  /// M^[l] / (1 - p_l) (0 or 1 / (1 - p_l)) of layer k in the last forward/backward.
  ConstMatrixMap<T> cached_mask(Index k) const;

 private:
  void reserve_rows(Index rows);
  void forward_rows(const T* X, Index r0, Index nr);
  // The log-sum-exp of rows r0 … that forward_rows kept, or nullptr (other losses)
  const double* row_lse(Index r0) const { return lse_.empty() ? nullptr : lse_.data() + r0; }
  // Unscaled sums for rows r0 … r0+nr-1 into g: H^T delta, sum delta, sum G min(0, Z).
  void backward_rows(const T* X, const T* Y, const T* row_scale, Index r0, Index nr, T* g);
  bool parallel_worth(Index rows, int threads) const;
  // Dropout of hidden layer k on rows r0 … r0+nr-1 when masking_: H^[l] <- H^[l] ⊙ M / (1 - p)
  // (keeping f(Z^[l]) for f'), and G <- G ⊙ M / (1 - p) in back-propagation, which returns where
  // f(Z^[l]) lies for f' (Hp when layer k is not masked).
  void drop_forward(Index k, Index r0, Index nr);
  const T* drop_backward(Index k, Index r0, Index nr, T* G, const T* Hp);
  bool dropped(Index k) const;
  // backward of several row blocks: deltas by row blocks, then dJ/dW by grad_pieces_
  void backward_split(const T* X, const T* Y, const T* row_scale, Index rows, int threads,
                      const PassHooks* hooks);
  // predict and loss of a dense X, or of a CSR X when `csr` is set (X is then null)
  bool predict_impl(const T* X, const Csr<T>* csr, Index rows, T* out, int n_threads) const;
  double loss_impl(const T* X, const Csr<T>* csr, const T* Y, const T* sample_weight, Index rows,
                   int n_threads) const;

  std::vector<LayerSpec> layers_;
  Loss loss_;
  bool small_ = false;                         // kernels::is_small(layers_)
  double work_per_row_ = 0;                    // sum over l of n_{l-1} n_l: multiply-adds a row
  bool row_kernels_ = false;                   // uses_row_kernels(rows) of the current call
  const Csr<T>* csr_ = nullptr;                // the CSR X of the current forward/backward, if any
  std::vector<kernels::RowOps<T>> ops_;        // per layer, when small_
  std::vector<kernels::OnlineOps<T>> online_;  // per layer, when small_ (sgd_row)
  std::vector<T> fprime_;                      // f'(Z^[l]) of sgd_row's sample, layer after layer
  std::vector<Index> fprime_offset_;           // where layer k starts in fprime_
  std::vector<GradPiece> grad_pieces_;         // empty for prelu networks (per-block sums instead)
  Eigen::Matrix<T, Eigen::Dynamic, 1> params_, grads_;

  // Workspace, sized for `capacity_` rows and reused for every batch no larger.
  Index capacity_ = 0, cached_rows_ = 0;
  bool has_delta_ = false;
  std::vector<Matrix<T>> Z_, H_, D_;
  Matrix<T> block_grads_;                          // one row of n_params per row block
  Eigen::Matrix<T, Eigen::Dynamic, 1> row_scale_;  // n w_i / sum(w) when weighted
  std::vector<double> lse_;  // log-sum-exp of each row's Z^[L] (softmax + cross_entropy only)
  std::vector<double> block_loss_;

  std::vector<double> dropout_;  // p_l of hidden layer k = l - 1
  bool has_dropout_ = false;
  const DropoutRows* dropout_rows_ = nullptr;
  bool masking_ = false, masked_cache_ = false;  // this call masks; the cache holds masks
  std::vector<Matrix<T>> M_, F_;                 // M^[l] / (1 - p_l) and f(Z^[l]) of masked layers
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace bpcore
