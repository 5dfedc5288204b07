#include "bpcore/network.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "bpcore/fp_mode.hpp"
#include "bpcore/small_gemm.hpp"

namespace bpcore {

namespace {

// Rows per chunk of the cache-free paths (predict, loss): fixed, so results do not depend on the
// number of threads.
constexpr Index kChunkRows = 512;

// G <- G ⊙ D, with D = f'(Z) from the online forward (kernels::OnlineOps): the same bits as
// multiply_by_derivative.
template <class T>
inline void times_fprime(T* __restrict G, const T* __restrict D, Index n) {
  for (Index i = 0; i < n; ++i) G[i] *= D[i];
}

// Rows r0 … of a dense X (null when the batch is CSR: Network::csr_ or evaluate_chunk's csr).
template <class T>
inline const T* rows_from(const T* X, Index r0, Index d) {
  return X ? X + r0 * d : nullptr;
}

// Aligned like Eigen's own matrices: Eigen's vector kernels split work by alignment, so a buffer at
// a varying address could round differently from call to call.
template <class T>
struct ChunkScratch {
  std::vector<T, Eigen::aligned_allocator<T>> a, b, z;
};

}  // namespace

std::vector<GradPiece> gradient_pieces(const std::vector<LayerSpec>& layers) {
  double total = 0;
  for (const auto& s : layers) total += double(s.n_in) * double(s.n_out);
  std::vector<GradPiece> pieces;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const Index n_in = layers[k].n_in;
    const double share = double(n_in) * double(layers[k].n_out) / total;
    const Index wanted = std::max<Index>(1, Index(std::lround(double(kGradPieces) * share)));
    const Index count = std::min(wanted, std::max<Index>(1, n_in / 16));
    const Index size = (n_in + count - 1) / count;
    const Index step = count == 1 ? n_in : (size + 15) / 16 * 16;
    for (Index p0 = 0; p0 < n_in; p0 += step)
      pieces.push_back(GradPiece{Index(k), p0, std::min(n_in, p0 + step)});
  }
  return pieces;
}

template <class T>
Network<T>::Network(std::vector<Index> sizes, std::vector<Activation> activations, Loss loss)
    : loss_(loss) {
  constexpr Index kMaxSize = Index(1) << 31;
  constexpr Index kMaxParams = Index(1) << 36;
  require(sizes.size() >= 2,
          "sizes must list the input size, any hidden sizes and the output size (at least 2 "
          "entries), got " +
              std::to_string(sizes.size()));
  for (std::size_t i = 0; i < sizes.size(); ++i)
    require(sizes[i] > 0 && sizes[i] < kMaxSize, "sizes[" + std::to_string(i) +
                                                     "] must be positive and below 2^31, got " +
                                                     std::to_string(sizes[i]));
  const std::size_t L = sizes.size() - 1;
  require(activations.size() == L, "expected " + std::to_string(L) +
                                       " activations (one per layer), got " +
                                       std::to_string(activations.size()));
  for (std::size_t k = 0; k + 1 < L; ++k)
    require(activation_info(activations[k]).hidden,
            std::string(activation_name(activations[k])) +
                " is only allowed as the output activation (layer " + std::to_string(k + 1) +
                " is hidden)");
  check_output_pairing(activations.back(), loss);
  if (loss == Loss::cross_entropy)
    require(sizes.back() >= 2, "cross_entropy with softmax needs at least 2 outputs");

  Index offset = 0;
  for (std::size_t k = 0; k < L; ++k) {
    LayerSpec s;
    s.n_in = sizes[k];
    s.n_out = sizes[k + 1];
    s.f = activations[k];
    s.w_offset = offset;
    offset += s.n_in * s.n_out;
    s.b_offset = offset;
    offset += s.n_out;
    if (activation_info(s.f).learnable) s.alpha_offset = offset++;
    require(offset <= kMaxParams, "the network would have more than 2^36 parameters");
    layers_.push_back(s);
  }
  params_.setZero(offset);
  grads_.setZero(offset);
  dropout_.assign(L - 1, 0.0);
  for (const auto& s : layers_)
    if (s.alpha_offset >= 0) params_[s.alpha_offset] = T(prelu_alpha_init);
  bool prelu = false;
  for (const auto& s : layers_) prelu = prelu || s.alpha_offset >= 0;
  if (!prelu) grad_pieces_ = gradient_pieces(layers_);
  for (const auto& s : layers_) work_per_row_ += double(s.n_in) * double(s.n_out);
  // Chosen by the sizes alone; see uses_row_kernels.
  small_ = kernels::is_small(layers_);
  if (small_) {
    Index width = 0;
    for (const auto& s : layers_) {
      ops_.push_back(kernels::row_ops<T>(s.n_out));
      online_.push_back(kernels::online_ops<T>(s.n_out, s.f));
      fprime_offset_.push_back(width);
      width += s.n_out;
    }
    fprime_.assign(std::size_t(width), T(0));
  }
}

template <class T>
MatrixMap<T> Network<T>::W(Index k) {
  const auto& s = layer(k);
  return MatrixMap<T>(params_.data() + s.w_offset, s.n_in, s.n_out);
}

template <class T>
RowVectorMap<T> Network<T>::b(Index k) {
  const auto& s = layer(k);
  return RowVectorMap<T>(params_.data() + s.b_offset, s.n_out);
}

template <class T>
T& Network<T>::alpha(Index k) {
  const auto& s = layer(k);
  require(s.alpha_offset >= 0, "layer " + std::to_string(k + 1) + " is not prelu");
  return params_[s.alpha_offset];
}

template <class T>
T Network<T>::alpha_or_zero(Index k) const {
  const auto& s = layer(k);
  return s.alpha_offset >= 0 ? params_[s.alpha_offset] : T(0);
}

template <class T>
void Network<T>::initialize(Init init, std::uint64_t seed, double scale) {
  require(std::isfinite(scale) && scale > 0, "init scale must be positive and finite");
  Rng rng(seed);
  for (const auto& s : layers_) {
    double w_bound = scale, b_bound = scale;
    if (init == Init::xavier) {
      w_bound = std::sqrt(6.0 / double(s.n_in + s.n_out));
      b_bound = 0;
    } else if (init == Init::he) {
      w_bound = std::sqrt(6.0 / double(s.n_in));
      b_bound = 0;
    }
    for (Index i = 0; i < s.n_in * s.n_out; ++i)
      params_[s.w_offset + i] = T(rng.uniform(-w_bound, w_bound));
    for (Index j = 0; j < s.n_out; ++j)
      params_[s.b_offset + j] = b_bound > 0 ? T(rng.uniform(-b_bound, b_bound)) : T(0);
    if (s.alpha_offset >= 0) params_[s.alpha_offset] = T(prelu_alpha_init);
  }
}

template <class T>
void Network<T>::reserve_rows(Index rows) {
  if (rows <= capacity_) return;
  const std::size_t L = layers_.size();
  Z_.resize(L);
  H_.resize(L);
  D_.resize(L);
  for (std::size_t k = 0; k < L; ++k) {
    Z_[k].resize(rows, layers_[k].n_out);
    H_[k].resize(rows, layers_[k].n_out);
    D_[k].resize(rows, layers_[k].n_out);
  }
  row_scale_.resize(rows);
  if (loss_ == Loss::cross_entropy) lse_.resize(std::size_t(rows));
  M_.resize(L);
  F_.resize(L);
  for (std::size_t k = 0; k < L; ++k)
    if (dropped(Index(k))) {
      M_[k].resize(rows, layers_[k].n_out);
      F_[k].resize(rows, layers_[k].n_out);
    }
  capacity_ = rows;
}

template <class T>
void Network<T>::release_workspace() {
  Z_.clear();
  H_.clear();
  D_.clear();
  M_.clear();
  F_.clear();
  masked_cache_ = false;
  block_grads_.resize(0, 0);
  row_scale_.resize(0);
  lse_ = std::vector<double>();
  capacity_ = cached_rows_ = 0;
  has_delta_ = false;
}

template <class T>
RowBlocks Network<T>::row_blocks(Index rows) const {
  // blocks of at least kBlockWork multiply-adds: a block of a narrow network is not all call
  // overhead (the cut depends only on the rows and the sizes, never on the threads)
  const Index min_rows =
      std::max<Index>(kMinBlockRows, Index(std::ceil(kBlockWork / work_per_row_)));
  return partition_rows(rows, min_rows);
}

template <class T>
bool Network<T>::splits_backward(Index rows) const {
  // Per-block gradient sums cost a fixed-order reduction of n_params() values per extra block;
  // the split costs a barrier between its two phases (threads that wait sleep: tens of
  // microseconds). Small gradients take the sums (digits 64-16-10, 1797 rows: 1.27x faster an
  // epoch on 2 threads), large ones the split (784-256-128-10 at batch 128: 1.08x faster).
  const RowBlocks blocks = row_blocks(rows);
  return blocks.count > 1 && !grad_pieces_.empty() &&
         double(n_params()) * double(blocks.count - 1) > kSplitReduction;
}

template <class T>
bool Network<T>::parallel_worth(Index rows, int threads) const {
  if (threads <= 1) return false;
  return double(rows) * work_per_row_ >= kParallelWork;
}

template <class T>
void Network<T>::forward_rows(const T* X, Index r0, Index nr) {
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const auto& s = layers_[k];
    ConstMatrixMap<T> A(k == 0 ? rows_from(X, r0, s.n_in) : H_[k - 1].data() + r0 * s.n_in, nr,
                        s.n_in);
    ConstMatrixMap<T> Wk(params_.data() + s.w_offset, s.n_in, s.n_out);
    ConstRowVectorMap<T> bk(params_.data() + s.b_offset, s.n_out);
    MatrixMap<T> Z(Z_[k].data() + r0 * s.n_out, nr, s.n_out);
    // Z^[l] = H^[l-1] W^[l] + b^[l]
    if (k == 0 && csr_) {
      csr_affine(*csr_, r0, nr, Wk.data(), bk.data(), s.n_out, Z.data());
    } else if (row_kernels_) {
      ops_[k].affine(A.data(), Wk.data(), bk.data(), Z.data(), nr, s.n_in, s.n_out);
    } else if (small_gemm::worth<T>(small_gemm::Op::affine, nr, s.n_in, s.n_out)) {
      small_gemm::affine(A.data(), s.n_in, Wk.data(), bk.data(), Z.data(), nr, s.n_in, s.n_out);
    } else {
      // b^[l] first, then the product added in place: no separate zeroing or bias pass over Z
      Z.rowwise() = bk;
      Z.noalias() += A * Wk;
    }
    // H^[l] = f(Z^[l]); a softmax output keeps its rows' log-sum-exp for the cross-entropy
    if (s.f == Activation::softmax && !lse_.empty())
      softmax(Z.data(), H_[k].data() + r0 * s.n_out, nr, s.n_out, lse_.data() + r0);
    else
      activate(s.f, Z.data(), H_[k].data() + r0 * s.n_out, nr, s.n_out,
               alpha_or_zero(static_cast<Index>(k)));
    if (masking_) drop_forward(Index(k), r0, nr);  // H^[l] <- H^[l] ⊙ M^[l] / (1 - p_l)
  }
}

template <class T>
void Network<T>::backward_rows(const T* X, const T* Y, const T* row_scale, Index r0, Index nr,
                               T* g) {
  const Index L = n_layers();
  for (const auto& s : layers_)
    if (s.alpha_offset >= 0) g[s.alpha_offset] = T(0);

  {
    // Output layer: G = E = Y - Y_hat (scaled per row when weighted), then delta^[L].
    const auto& s = layers_[static_cast<std::size_t>(L - 1)];
    const Index size = nr * s.n_out;
    T* G = D_[L - 1].data() + r0 * s.n_out;
    const T* Zk = Z_[L - 1].data() + r0 * s.n_out;
    const T* Hk = H_[L - 1].data() + r0 * s.n_out;
    output_error(Hk, Y + r0 * s.n_out, G, size);
    if (row_scale) {
      MatrixMap<T> Gm(G, nr, s.n_out);
      for (Index i = 0; i < nr; ++i) Gm.row(i) *= row_scale[r0 + i];
    }
    if (!loss_info(loss_).delta_is_error) {
      if (s.alpha_offset >= 0) g[s.alpha_offset] += prelu_alpha_product(Zk, G, size);
      // delta^[L] = E ⊙ f'(Z^[L])
      multiply_by_derivative(s.f, Zk, Hk, G, size, alpha_or_zero(L - 1));
    }
  }

  for (Index k = L - 1; k >= 0; --k) {
    const auto& s = layers_[static_cast<std::size_t>(k)];
    ConstMatrixMap<T> delta(D_[k].data() + r0 * s.n_out, nr, s.n_out);
    ConstMatrixMap<T> A(k == 0 ? rows_from(X, r0, s.n_in) : H_[k - 1].data() + r0 * s.n_in, nr,
                        s.n_in);
    // sum over the rows of H^[l-1]^T delta^[l] and of delta^[l] (scaled by -1/n by the caller);
    // without g only the deltas (backward_split takes the sums over all blocks at once)
    if (g && k == 0 && csr_) {
      // X^T delta^[1] of a CSR batch is summed once over all its rows, in backward()
      small_gemm::column_sums(delta.data(), g + s.b_offset, nr, s.n_out, T(1));
    } else if (g && row_kernels_) {
      ops_[std::size_t(k)].grad(A.data(), delta.data(), g + s.w_offset, g + s.b_offset, nr, s.n_in,
                                s.n_out);
    } else if (g) {
      if (small_gemm::worth<T>(small_gemm::Op::transpose_times, nr, s.n_in, s.n_out))
        small_gemm::transpose_times(A.data(), s.n_in, delta.data(), g + s.w_offset, nr, s.n_in,
                                    s.n_out, T(1));
      else
        MatrixMap<T>(g + s.w_offset, s.n_in, s.n_out).noalias() = A.transpose() * delta;
      small_gemm::column_sums(delta.data(), g + s.b_offset, nr, s.n_out, T(1));
    }
    if (k == 0) break;
    const auto& p = layers_[static_cast<std::size_t>(k - 1)];
    ConstMatrixMap<T> Wk(params_.data() + s.w_offset, s.n_in, s.n_out);
    MatrixMap<T> G(D_[k - 1].data() + r0 * p.n_out, nr, p.n_out);
    // delta^[l-1] = (delta^[l] W^[l]^T) ⊙ f'(Z^[l-1])
    if (row_kernels_)
      ops_[std::size_t(k)].back(delta.data(), Wk.data(), G.data(), nr, s.n_in, s.n_out);
    else if (small_gemm::worth<T>(small_gemm::Op::times_transpose, nr, s.n_in, s.n_out))
      small_gemm::times_transpose(delta.data(), Wk.data(), G.data(), nr, s.n_in, s.n_out);
    else
      G.noalias() = delta * Wk.transpose();
    const T* Zp = Z_[k - 1].data() + r0 * p.n_out;
    const T* Hp = H_[k - 1].data() + r0 * p.n_out;
    if (masking_) Hp = drop_backward(k - 1, r0, nr, G.data(), Hp);  // G <- G ⊙ M / (1 - p)
    if (p.alpha_offset >= 0) g[p.alpha_offset] += prelu_alpha_product(Zp, G.data(), nr * p.n_out);
    multiply_by_derivative(p.f, Zp, Hp, G.data(), nr * p.n_out, alpha_or_zero(k - 1));
  }
}

template <class T>
void Network<T>::forward(const T* X, Index rows, int n_threads) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  if (rows <= 0) throw ArgumentError("forward needs at least one row");
  const int threads = resolve_threads(n_threads);
  reserve_rows(rows);
  row_kernels_ = uses_row_kernels(rows);
  masking_ = dropout_rows_ && has_dropout_;
  const RowBlocks blocks = row_blocks(rows);
  for_each_block(blocks.count, threads, parallel_worth(rows, threads),
                 [&](Index b) { forward_rows(X, blocks.begin(b), blocks.size(b)); });
  cached_rows_ = rows;
  has_delta_ = false;
  masked_cache_ = masking_;
}

template <class T>
double Network<T>::backward(const T* X, const T* Y, const T* sample_weight, Index rows,
                            int n_threads, const PassHooks* hooks) {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  if (rows <= 0) throw ArgumentError("backward needs at least one row");
  const int threads = resolve_threads(n_threads);
  reserve_rows(rows);
  const T* row_scale = nullptr;
  if (sample_weight) {
    double total = 0;
    for (Index i = 0; i < rows; ++i) {
      require(std::isfinite(double(sample_weight[i])) && sample_weight[i] >= 0,
              "sample_weight must be finite and non-negative");
      total += double(sample_weight[i]);
    }
    require(total > 0, "sample_weight must not be all zero");
    for (Index i = 0; i < rows; ++i)
      row_scale_[i] = T(double(rows) * double(sample_weight[i]) / total);
    row_scale = row_scale_.data();
  }
  row_kernels_ = uses_row_kernels(rows);
  masking_ = dropout_rows_ && has_dropout_;
  const RowBlocks blocks = row_blocks(rows);
  const Index L = n_layers();
  const Index q = n_outputs();
  block_loss_.assign(static_cast<std::size_t>(blocks.count), 0.0);
  // (a CSR X: its W^[1] sum is one pass over the stored values below, so blocks sum the rest)
  const bool split = !csr_ && splits_backward(rows);
  auto block_loss = [&](Index r0, Index nr) {
    return loss_sum(loss_, Z_[L - 1].data() + r0 * q, H_[L - 1].data() + r0 * q, Y + r0 * q,
                    row_scale ? row_scale + r0 : nullptr, nr, q, row_lse(r0));
  };
  const auto fill = [hooks](Index r0, Index nr) {
    if (hooks && hooks->fill_rows) hooks->fill_rows(r0, nr);
  };
  // one row block's pass, its sums into its row of block_grads_
  const auto block_sums = [&](Index b) {
    const Index r0 = blocks.begin(b), nr = blocks.size(b);
    fill(r0, nr);
    forward_rows(X, r0, nr);
    block_loss_[static_cast<std::size_t>(b)] = block_loss(r0, nr);
    backward_rows(X, Y, row_scale, r0, nr, block_grads_.row(b).data());
  };
  if (blocks.count == 1) {
    fill(0, rows);
    forward_rows(X, 0, rows);
    block_loss_[0] = block_loss(0, rows);
    backward_rows(X, Y, row_scale, 0, rows, grads_.data());
  } else if (split) {
    backward_split(X, Y, row_scale, rows, threads, hooks);
  } else {
    if (block_grads_.rows() < blocks.count || block_grads_.cols() != n_params())
      block_grads_.resize(blocks.count, n_params());
    if (!csr_) {
      // Per row block its sums (block_sums); then, in the same team, each fixed piece of theta
      // sums its column of them in block order (the same bits for any number of threads), scales
      // by -1/n and hands the piece on: no serial pass between two epochs' passes, in which the
      // other threads would fall asleep.
      const Index P = n_params(), pieces = (P + kSumPiece - 1) / kSumPiece;
      const T scale = T(-1.0 / double(rows));
      const auto sum_piece = [&](Index t) {
        const Index p0 = t * kSumPiece, n = std::min(kSumPiece, P - p0);
        auto g = grads_.segment(p0, n);
        g = block_grads_.row(0).segment(p0, n).transpose();
        for (Index k = 1; k < blocks.count; ++k)
          g += block_grads_.row(k).segment(p0, n).transpose();
        g *= scale;
        if (hooks && hooks->gradient_done)
          for_each_param_range([&](Index begin, Index end, bool weights) {
            const Index lo = std::max(begin, p0), hi = std::min(end, p0 + n);
            if (lo < hi) hooks->gradient_done(lo, hi, weights);
          });
      };
      for_each_block_then_task(blocks.count, pieces, threads, parallel_worth(rows, threads),
                               block_sums, sum_piece);
    } else {
      for_each_block(blocks.count, threads, parallel_worth(rows, threads), block_sums);
      // fixed-order reduction: the same bits for any number of threads (W^[1]: below)
      const Index tail = n_params() - layers_.front().n_in * layers_.front().n_out;
      grads_.tail(tail) = block_grads_.row(0).tail(tail).transpose();
      for (Index k = 1; k < blocks.count; ++k)
        grads_.tail(tail) += block_grads_.row(k).tail(tail).transpose();
    }
  }
  if (csr_) {
    // sum over the rows of X^T delta^[1]: one pass over the batch's stored values, in row order
    const auto& s = layers_.front();
    csr_transpose_product(*csr_, 0, rows, D_[0].data(), s.n_out, grads_.data() + s.w_offset,
                          static_cast<T*>(nullptr));
  }
  // dJ/dtheta = -(1/n) sum (the split and the per-block sums of a dense X scale as they sum,
  // and hand on their pieces)
  if (csr_ || blocks.count == 1) {
    grads_ *= T(-1.0 / double(rows));
    if (hooks && hooks->gradient_done) for_each_param_range(hooks->gradient_done);
  }
  double total = 0;
  for (double part : block_loss_) total += part;
  cached_rows_ = rows;
  has_delta_ = true;
  masked_cache_ = masking_;
  return total / double(rows);
}

template <class T>
void Network<T>::backward_split(const T* X, const T* Y, const T* row_scale, Index rows, int threads,
                                const PassHooks* hooks) {
  // Per row block: forward, J and delta^[L] … delta^[1]; then, over the whole batch at once,
  // dJ/dW^[l] = -(1/n) H^[l-1]^T delta^[l] a range of its rows at a time (a row range of a
  // product is exact), and dJ/db^[l] = -(1/n) sum_rows delta^[l]. No per-block gradient buffers
  // and no reduction; each weight-gradient product has the whole batch as its depth.
  const RowBlocks blocks = row_blocks(rows);
  const Index L = n_layers();
  const Index q = n_outputs();
  const T scale = T(-1.0 / double(rows));
  T* g = grads_.data();
  for_each_block_then_task(
      blocks.count, Index(grad_pieces_.size()), threads, parallel_worth(rows, threads),
      [&](Index b) {
        const Index r0 = blocks.begin(b), nr = blocks.size(b);
        if (hooks && hooks->fill_rows) hooks->fill_rows(r0, nr);
        forward_rows(X, r0, nr);
        block_loss_[std::size_t(b)] =
            loss_sum(loss_, Z_[L - 1].data() + r0 * q, H_[L - 1].data() + r0 * q, Y + r0 * q,
                     row_scale ? row_scale + r0 : nullptr, nr, q, row_lse(r0));
        backward_rows(X, Y, row_scale, r0, nr, nullptr);
      },
      [&](Index t) {
        const GradPiece& piece = grad_pieces_[std::size_t(t)];
        const auto& s = layers_[std::size_t(piece.layer)];
        const Index np = piece.p1 - piece.p0;
        ConstMatrixMap<T> A(piece.layer == 0 ? X : H_[std::size_t(piece.layer - 1)].data(), rows,
                            s.n_in);
        ConstMatrixMap<T> delta(D_[std::size_t(piece.layer)].data(), rows, s.n_out);
        T* gW = g + s.w_offset + piece.p0 * s.n_out;
        if (small_gemm::worth<T>(small_gemm::Op::transpose_times, rows, np, s.n_out))
          small_gemm::transpose_times(A.data() + piece.p0, s.n_in, delta.data(), gW, rows, np,
                                      s.n_out, scale);
        else
          MatrixMap<T>(gW, np, s.n_out).noalias() =
              scale * (A.middleCols(piece.p0, np).transpose() * delta);
        if (piece.p0 == 0)
          small_gemm::column_sums(delta.data(), g + s.b_offset, rows, s.n_out, scale);
        if (hooks && hooks->gradient_done) {
          hooks->gradient_done(s.w_offset + piece.p0 * s.n_out, s.w_offset + piece.p1 * s.n_out,
                               true);
          if (piece.p0 == 0) hooks->gradient_done(s.b_offset, s.b_offset + s.n_out, false);
        }
      });
}

template <class T>
double Network<T>::sgd_row(const T* x, const T* y, T lr, bool write_grads) {
  if (!small_ || (dropout_rows_ && has_dropout_)) {
    // the general path: backward on the row (masked when training with dropout), then sgd's
    // step over the flat buffer
    const double J = backward(x, y, nullptr, 1, 1);
    kernels::sgd_update(params_.data(), grads_.data(), lr, n_params());
    return J;
  }
  reserve_rows(1);
  const Index L = n_layers();
  T* theta = params_.data();
  T* fprime = fprime_.data();
  // Z^[l] = b^[l] + H^[l-1] W^[l], H^[l] = f(Z^[l]) (and f'(Z^[l]) for the fused activations)
  const T* in = x;
  for (Index k = 0; k < L; ++k) {
    const auto& s = layers_[std::size_t(k)];
    const auto& op = online_[std::size_t(k)];
    T* Zk = Z_[std::size_t(k)].data();
    T* Hk = H_[std::size_t(k)].data();
    op.forward(in, theta + s.w_offset, theta + s.b_offset, Zk, Hk,
               fprime + fprime_offset_[std::size_t(k)], s.n_in, s.n_out);
    if (!op.fused)
      activate(s.f, Zk, Hk, 1, s.n_out, s.alpha_offset >= 0 ? theta[s.alpha_offset] : T(0));
    in = Hk;
  }
  const auto& out = layers_.back();
  const bool out_fused = online_.back().fused;
  T* g = grads_.data();
  // As backward_rows on one row, with each layer's step taken once W^[l] has served delta^[l-1].
  for (const auto& s : layers_)
    if (s.alpha_offset >= 0) g[s.alpha_offset] = T(0);
  double J = 0;
  {
    T* G = D_[std::size_t(L - 1)].data();
    const T* Zk = Z_[std::size_t(L - 1)].data();
    const T* Hk = H_[std::size_t(L - 1)].data();
    const T* fp = fprime + fprime_offset_[std::size_t(L - 1)];
    if (loss_ == Loss::mse) {
      // E = Y - Y_hat, J = 1/2 sum_j e_j^2 (in order of j, as loss_sum), delta^[L] = E ⊙ f'
      T sum = 0;
      for (Index j = 0; j < out.n_out; ++j) {
        const T e = y[j] - Hk[j];
        sum += e * e;
        G[j] = out_fused ? e * fp[j] : e;
      }
      J = 0.5 * static_cast<double>(sum);
    } else {
      J = loss_sum<T>(loss_, Zk, Hk, y, nullptr, 1, out.n_out);
      output_error(Hk, y, G, out.n_out);
    }
    if (!loss_info(loss_).delta_is_error && !(loss_ == Loss::mse && out_fused)) {
      if (out.alpha_offset >= 0) g[out.alpha_offset] += prelu_alpha_product(Zk, G, out.n_out);
      // delta^[L] = E ⊙ f'(Z^[L])
      if (out_fused)
        times_fprime(G, fp, out.n_out);
      else
        multiply_by_derivative(out.f, Zk, Hk, G, out.n_out,
                               out.alpha_offset >= 0 ? theta[out.alpha_offset] : T(0));
    }
  }
  for (Index k = L - 1; k >= 0; --k) {
    const auto& s = layers_[std::size_t(k)];
    const auto& op = online_[std::size_t(k)];
    const T* delta = D_[std::size_t(k)].data();
    const T* A = k == 0 ? x : H_[std::size_t(k - 1)].data();
    // delta^[l-1] = (delta^[l] W^[l]^T) ⊙ f'(Z^[l-1]) with W^[l] before its step; then
    // dJ/dW^[l] = -(H^[l-1])^T delta^[l], dJ/db^[l] = -delta^[l]; W <- W - lr dJ/dW, b likewise
    T* G = k > 0 ? D_[std::size_t(k - 1)].data() : nullptr;
    const bool prev_fused = k > 0 && online_[std::size_t(k - 1)].fused;
    const T* fp = prev_fused ? fprime + fprime_offset_[std::size_t(k - 1)] : nullptr;
    (write_grads ? op.backward : op.backward_no_grads)(A, delta, theta + s.w_offset,
                                                       theta + s.b_offset, g + s.w_offset,
                                                       g + s.b_offset, G, fp, s.n_in, s.n_out, lr);
    if (k > 0 && !prev_fused) {
      const auto& p = layers_[std::size_t(k - 1)];
      const T* Zp = Z_[std::size_t(k - 1)].data();
      const T* Hp = H_[std::size_t(k - 1)].data();
      if (p.alpha_offset >= 0) g[p.alpha_offset] += prelu_alpha_product(Zp, G, p.n_out);
      multiply_by_derivative(p.f, Zp, Hp, G, p.n_out,
                             p.alpha_offset >= 0 ? theta[p.alpha_offset] : T(0));
    }
    if (s.alpha_offset >= 0) {
      g[s.alpha_offset] *= T(-1);
      kernels::sgd_update(theta + s.alpha_offset, g + s.alpha_offset, lr, 1);
    }
  }
  cached_rows_ = 1;
  has_delta_ = true;
  masked_cache_ = false;
  return J;
}

namespace {

// Runs rows [r0, r0+nr) through every layer with ping-pong buffers; the output layer's Z^[L] goes
// into `Zout` (may be null when not needed) and H^[L] into `Hout`. Returns false when the first
// column of Z^[1] is not finite in some row, which a NaN or infinite input always causes: such an x
// makes each of its products x·w NaN or infinite, and no sum of them is finite.
template <class T>
bool evaluate_chunk(const std::vector<LayerSpec>& layers, const kernels::RowOps<T>* ops,
                    const T* params, const T* X, Index r0, Index nr, ChunkScratch<T>& scratch,
                    T* Zout, T* Hout, const Csr<T>* csr = nullptr) {
  Index widest = 0;
  for (const auto& s : layers) widest = std::max(widest, s.n_out);
  if (scratch.a.size() < std::size_t(nr * widest)) {
    scratch.a.resize(std::size_t(nr * widest));
    scratch.b.resize(std::size_t(nr * widest));
  }
  const T* in = rows_from(X, r0, layers.front().n_in);
  bool finite = true;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    const auto& s = layers[k];
    const bool last = k + 1 == layers.size();
    T* z = last ? (Zout ? Zout : Hout) : (k % 2 == 0 ? scratch.a.data() : scratch.b.data());
    if (k == 0 && csr) {
      csr_affine(*csr, r0, nr, params + s.w_offset, params + s.b_offset, s.n_out, z);
    } else if (ops) {
      ops[k].affine(in, params + s.w_offset, params + s.b_offset, z, nr, s.n_in, s.n_out);
    } else if (small_gemm::worth<T>(small_gemm::Op::affine, nr, s.n_in, s.n_out)) {
      small_gemm::affine(in, s.n_in, params + s.w_offset, params + s.b_offset, z, nr, s.n_in,
                         s.n_out);
    } else {
      MatrixMap<T> Z(z, nr, s.n_out);
      Z.rowwise() = ConstRowVectorMap<T>(params + s.b_offset, s.n_out);
      Z.noalias() += ConstMatrixMap<T>(in, nr, s.n_in) *
                     ConstMatrixMap<T>(params + s.w_offset, s.n_in, s.n_out);
    }
    if (k == 0)
      for (Index i = 0; i < nr; ++i) finite = finite && std::isfinite(z[i * s.n_out]);
    const T alpha = s.alpha_offset >= 0 ? params[s.alpha_offset] : T(0);
    T* h = last ? Hout : z;  // hidden layers activate in place
    activate(s.f, z, h, nr, s.n_out, alpha);
    in = h;
  }
  return finite;
}

}  // namespace

template <class T>
bool Network<T>::predict(const T* X, Index rows, T* out, int n_threads) const {
  return predict_impl(X, nullptr, rows, out, n_threads);
}

template <class T>
bool Network<T>::predict_impl(const T* X, const Csr<T>* csr, Index rows, T* out,
                              int n_threads) const {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require(rows > 0, "predict needs at least one row");
  const int threads = resolve_threads(n_threads);
  const RowBlocks chunks = partition_rows(rows, kChunkRows, rows);
  const T* params = params_.data();
  const Index q = n_outputs();
  std::vector<char> finite(static_cast<std::size_t>(chunks.count), 1);
  for_each_block_with_scratch<ChunkScratch<T>>(
      chunks.count, threads, parallel_worth(rows, threads), [&](Index c, ChunkScratch<T>& scratch) {
        const Index r0 = chunks.begin(c);
        const Index nr = chunks.size(c);
        // Z^[L] into the aligned scratch, not straight into the caller's (unaligned) array
        if (scratch.z.size() < std::size_t(nr * q)) scratch.z.resize(std::size_t(nr * q));
        finite[std::size_t(c)] =
            evaluate_chunk(layers_, uses_row_kernels(rows) ? ops_.data() : nullptr, params, X, r0,
                           nr, scratch, scratch.z.data(), out + r0 * q, csr);
      });
  return std::all_of(finite.begin(), finite.end(), [](char f) { return f != 0; });
}

template <class T>
double Network<T>::loss(const T* X, const T* Y, const T* sample_weight, Index rows,
                        int n_threads) const {
  return loss_impl(X, nullptr, Y, sample_weight, rows, n_threads);
}

template <class T>
double Network<T>::loss_impl(const T* X, const Csr<T>* csr, const T* Y, const T* sample_weight,
                             Index rows, int n_threads) const {
  const FlushSubnormals flush;  // subnormals as 0 for this call (fp_mode.hpp)
  require(rows > 0, "loss needs at least one row");
  const int threads = resolve_threads(n_threads);
  double weight_total = double(rows);
  if (sample_weight) {
    weight_total = 0;
    for (Index i = 0; i < rows; ++i) {
      require(std::isfinite(double(sample_weight[i])) && sample_weight[i] >= 0,
              "sample_weight must be finite and non-negative");
      weight_total += double(sample_weight[i]);
    }
    require(weight_total > 0, "sample_weight must not be all zero");
  }
  const RowBlocks chunks = partition_rows(rows, kChunkRows, rows);
  std::vector<double> parts(static_cast<std::size_t>(chunks.count), 0.0);
  const T* params = params_.data();
  const Index q = n_outputs();
  for_each_block_with_scratch<ChunkScratch<T>>(
      chunks.count, threads, parallel_worth(rows, threads), [&](Index c, ChunkScratch<T>& scratch) {
        const Index r0 = chunks.begin(c), nr = chunks.size(c);
        if (scratch.z.size() < std::size_t(2 * nr * q)) scratch.z.resize(std::size_t(2 * nr * q));
        T* Z = scratch.z.data();
        T* H = Z + nr * q;
        evaluate_chunk(layers_, uses_row_kernels(rows) ? ops_.data() : nullptr, params, X, r0, nr,
                       scratch, Z, H, csr);
        parts[static_cast<std::size_t>(c)] =
            loss_sum(loss_, Z, H, Y + r0 * q, sample_weight ? sample_weight + r0 : nullptr, nr, q);
      });
  double total = 0;
  for (double part : parts) total += part;
  return total / weight_total;
}

template <class T>
ConstMatrixMap<T> Network<T>::cached_Z(Index k) const {
  require(cached_rows_ > 0, "no forward pass has been run yet");
  const auto& s = layer(k);
  return ConstMatrixMap<T>(Z_[static_cast<std::size_t>(k)].data(), cached_rows_, s.n_out);
}

template <class T>
ConstMatrixMap<T> Network<T>::cached_H(Index k) const {
  require(cached_rows_ > 0, "no forward pass has been run yet");
  const auto& s = layer(k);
  return ConstMatrixMap<T>(H_[static_cast<std::size_t>(k)].data(), cached_rows_, s.n_out);
}

template <class T>
ConstMatrixMap<T> Network<T>::cached_delta(Index k) const {
  require(has_delta_, "delta is only available after backward");
  const auto& s = layer(k);
  return ConstMatrixMap<T>(D_[static_cast<std::size_t>(k)].data(), cached_rows_, s.n_out);
}

template <class T>
bool Network<T>::dropped(Index k) const {
  return k + 1 < n_layers() && dropout_[std::size_t(k)] > 0;
}

template <class T>
void Network<T>::set_dropout(std::vector<double> rates) {
  require(rates.size() == dropout_.size(), "expected " + std::to_string(dropout_.size()) +
                                               " dropout rates (one per hidden layer), got " +
                                               std::to_string(rates.size()));
  check_dropout_rates(rates, "dropout");
  dropout_ = std::move(rates);
  has_dropout_ = false;
  for (double p : dropout_) has_dropout_ = has_dropout_ || p > 0;
  release_workspace();
}

template <class T>
void Network<T>::drop_forward(Index k, Index r0, Index nr) {
  if (!dropped(k)) return;
  const Index n = layers_[std::size_t(k)].n_out;
  T* H = H_[std::size_t(k)].data() + r0 * n;
  T* F = F_[std::size_t(k)].data() + r0 * n;
  T* M = M_[std::size_t(k)].data() + r0 * n;
  dropout_factors(dropout_key(dropout_rows_->seed, dropout_rows_->epoch, k),
                  dropout_[std::size_t(k)], *dropout_rows_, r0, nr, n, M);
  for (Index i = 0; i < nr * n; ++i) {
    F[i] = H[i];
    H[i] *= M[i];
  }
}

template <class T>
const T* Network<T>::drop_backward(Index k, Index r0, Index nr, T* G, const T* Hp) {
  if (!dropped(k)) return Hp;
  const Index n = layers_[std::size_t(k)].n_out;
  times_fprime(G, M_[std::size_t(k)].data() + r0 * n, nr * n);
  return F_[std::size_t(k)].data() + r0 * n;
}

template <class T>
bool Network<T>::has_mask(Index k) const {
  require(k >= 0 && k < n_layers(), "layer index out of range");
  return masked_cache_ && dropped(k);
}

template <class T>
ConstMatrixMap<T> Network<T>::cached_mask(Index k) const {
  require(has_mask(k), "layer " + std::to_string(k + 1) +
                           " has no dropout mask: the last forward/backward did not train it "
                           "with dropout");
  const auto& s = layer(k);
  return ConstMatrixMap<T>(M_[static_cast<std::size_t>(k)].data(), cached_rows_, s.n_out);
}

template class Network<float>;
template class Network<double>;

}  // namespace bpcore
