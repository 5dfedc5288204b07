// Products of small sizes without Eigen's GEMM: the three products of a mini-batch step on layers
// up to a few hundred wide and batches up to a few hundred rows.
//
// At these sizes a general matrix product spends as long choosing blocks and packing both
// operands as multiplying. These kernels read the row-major operands where they lie: a tile of
// 4 or 8 rows × up to 4 SIMD vectors of C stays in registers while the depth runs, one row of B is
// loaded per step and one element of A broadcast per row; 64 rows of C at a time share a panel of
// B, and a deep product runs in chunks of the depth that keep the panel's rows in the L1 cache.
// The last vector of a row is a masked one (AVX2, AVX-512), so every column runs the same
// instructions. For H = H^[l-1] (m × k), W = W^[l] (k × n, row-major), delta (m × n), b = b^[l]:
//   affine            Z = b + H W                   (the forward product, bias as the start)
//   times_transpose   G = delta W^T                 (m × k; W^T taken in panels on the stack)
//   transpose_times   gW = s H[:, p0:p0+kp]^T delta (kp × n; depth m, the rows of the batch)
// Every element is one sum over the depth, in order, one multiply-add at a time (fused on
// instruction sets with FMA), started from b or 0 (a chunk of the depth goes on from the value the
// previous one stored): its value does not depend on where its row lies in the batch, on the other
// sizes, or on the number of threads.
#pragma once

#include "bpcore/types.hpp"

namespace bpcore::small_gemm {

/// The three products, named by the functions below.
enum class Op { affine, times_transpose, transpose_times };

/// True when `op` with the sizes m, k, n of its function below runs faster here than with Eigen's
/// GEMM, by the sizes and the instruction set alone (measured against Eigen 3.4 on one thread;
/// never on the SSE2 baseline, where Eigen's kernels are faster).
template <class T>
bool worth(Op op, Index m, Index k, Index n);

/// Z = b + A W: A m × k (rows lda apart), W k × n, b 1 × n, Z m × n (all row-major, dense rows).
template <class T>
void affine(const T* A, Index lda, const T* W, const T* b, T* Z, Index m, Index k, Index n);

/// G = D W^T: D m × n, W k × n, G m × k.
template <class T>
void times_transpose(const T* D, const T* W, T* G, Index m, Index k, Index n);

/// C = s A[:, p0 … p0+kp-1]^T D for A with rows lda apart (pass A + p0), D m × n, C kp × n.
template <class T>
void transpose_times(const T* A, Index lda, const T* D, T* C, Index m, Index kp, Index n, T s);

/// c = s 1^T D, the column sums of D (m × n) into c (1 × n), for the gradient of b^[l]: each
/// column summed in one fixed order of the rows, (D_0j + ((D_1j + D_2j) + (D_3j + D_4j))) + …,
/// the last m - 1 mod 4 rows one at a time; any m, n, on every build (the SSE2 baseline too).
template <class T>
void column_sums(const T* D, T* c, Index m, Index n, T s);

}  // namespace bpcore::small_gemm
