// Subnormal numbers are flushed to zero inside the core's calls, on the calling thread and on the
// OpenMP threads, and the caller's floating-point mode is restored when a call returns (and for
// calls out of the core, with CallerFpMode).
#include <cfloat>
#include <cmath>
#include <vector>

#include "bpcore/fp_mode.hpp"
#include "bpcore/network.hpp"
#include "bpcore/parallel.hpp"
#include "doctest.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using bpcore::Activation;
using bpcore::CallerFpMode;
using bpcore::FlushSubnormals;
using bpcore::Index;
using bpcore::Loss;
using bpcore::Network;

namespace {

// DBL_MIN / 4, computed at run time in the thread's current mode (0 when results are flushed)
double quarter_of_smallest_normal() {
  volatile double x = DBL_MIN;
  volatile double four = 4.0;
  return x / four;
}

// a subnormal operand, read in the thread's current mode (0 when operands are flushed)
double subnormal_times_one() {
  volatile double tiny = DBL_MIN;
  volatile double quarter = 0.25;
  volatile double s = tiny * quarter;  // a subnormal when written outside any flush scope
  return s;
}

bool is_subnormal(double v) { return v != 0 && std::fabs(v) < DBL_MIN; }

bool any_subnormal(const double* p, Index n) {
  for (Index i = 0; i < n; ++i)
    if (is_subnormal(p[i])) return true;
  return false;
}

}  // namespace

#if defined(BPCORE_FP_MODE_X86) || defined(BPCORE_FP_MODE_ARM64)
TEST_CASE("FlushSubnormals flushes for its scope and restores the mode it found") {
  const auto before = bpcore::fp_mode::get() & bpcore::fp_mode::kFlush;
  REQUIRE(is_subnormal(quarter_of_smallest_normal()));
  {
    const FlushSubnormals flush;
    CHECK(quarter_of_smallest_normal() == 0.0);
    {
      const FlushSubnormals nested;
      CHECK(quarter_of_smallest_normal() == 0.0);
      {
        // a call out of the core sees the caller's mode, and the core's comes back after it
        const CallerFpMode caller;
        CHECK(is_subnormal(quarter_of_smallest_normal()));
      }
      CHECK(quarter_of_smallest_normal() == 0.0);
    }
    CHECK(quarter_of_smallest_normal() == 0.0);
  }
  CHECK((bpcore::fp_mode::get() & bpcore::fp_mode::kFlush) == before);
  CHECK(is_subnormal(quarter_of_smallest_normal()));
  CHECK(is_subnormal(subnormal_times_one()));
  {
    // outside any flush scope, CallerFpMode changes nothing
    const CallerFpMode caller;
    CHECK((bpcore::fp_mode::get() & bpcore::fp_mode::kFlush) == before);
  }
}

TEST_CASE("a saturated softmax gives exact zeros, on one thread and on several") {
  // two outputs whose logits differ by about 720: e^-720 is subnormal in double
  for (const Index rows : {Index(3), Index(40000)}) {
    CAPTURE(rows);
    Network<double> net({2, 2}, {Activation::softmax}, Loss::cross_entropy);
    net.W(0) << 360.0, -360.0, 0.0, 0.0;
    net.b(0) << 0.0, 0.0;
    std::vector<double> X(std::size_t(rows * 2), 0.0), Y(std::size_t(rows * 2), 0.0);
    for (Index i = 0; i < rows; ++i) {
      X[std::size_t(2 * i)] = i % 2 ? 1.0 : -1.0;
      Y[std::size_t(2 * i + (i % 2 ? 0 : 1))] = 1.0;
    }
    for (const int threads : {1, 2}) {
      CAPTURE(threads);
      const auto before = bpcore::fp_mode::get() & bpcore::fp_mode::kFlush;
      net.forward(X.data(), rows, threads);
      CHECK((bpcore::fp_mode::get() & bpcore::fp_mode::kFlush) == before);
      const auto H = net.cached_H(0);
      CHECK_FALSE(any_subnormal(H.data(), H.size()));
      CHECK(H(0, 0) == 0.0);
      CHECK(H(0, 1) == 1.0);
      const double J = net.backward(X.data(), Y.data(), nullptr, rows, threads);
      CHECK((bpcore::fp_mode::get() & bpcore::fp_mode::kFlush) == before);
      CHECK(J == doctest::Approx(0.0));
      CHECK_FALSE(any_subnormal(net.grads(), net.n_params()));
      const auto D = net.cached_delta(0);
      CHECK_FALSE(any_subnormal(D.data(), D.size()));
    }
  }
  CHECK(is_subnormal(quarter_of_smallest_normal()));
}

TEST_CASE("the OpenMP threads flush inside the core's parallel regions, and only there") {
  if (!bpcore::has_openmp()) return;
  const Index blocks = 8;
  std::vector<double> got(std::size_t(blocks), -1.0);
  bpcore::for_each_block(blocks, 2, true,
                         [&](Index b) { got[std::size_t(b)] = quarter_of_smallest_normal(); });
  for (double v : got) CHECK(v == 0.0);
  CHECK(is_subnormal(quarter_of_smallest_normal()));
#ifdef _OPENMP
  // the same threads, in a parallel region of the caller's own: their mode was restored
  std::vector<double> after(2, -1.0);
#pragma omp parallel num_threads(2)
  after[std::size_t(omp_get_thread_num())] = quarter_of_smallest_normal();
  for (double v : after) CHECK(is_subnormal(v));
#endif
}
#endif
