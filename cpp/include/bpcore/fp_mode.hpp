// The core computes with subnormal numbers flushed to zero.
//
// A saturated softmax or sigmoid gives outputs below the smallest normal number (about 2.2e-308 in
// double, 1.2e-38 in float), and they flow on into E, delta and the products of the backward pass.
// On x86-64 every arithmetic operation with a subnormal operand or result takes a microcode assist
// of about a hundred cycles, so a network that fits its data well can become several times slower
// per epoch as it trains (a 4-8-3 softmax network on 150 rows: from 25 to 97 microseconds an
// epoch). With FTZ (results) and DAZ (operands) set, such a value is 0 instead: a change below
// 2.2e-308 (1.2e-38) in absolute value, and none at all to any number that is normal.
//
// The mode is per thread and belongs to the caller, so it is set only for the duration of a core
// call, on the calling thread and on each OpenMP thread inside a parallel region, and the previous
// mode is restored when the scope ends. A call out of the core (to Python, during a core call)
// restores the caller's mode for its duration with `CallerFpMode`.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64) || defined(__SSE2__)
#include <xmmintrin.h>
#define BPCORE_FP_MODE_X86 1
#elif defined(__aarch64__)
#define BPCORE_FP_MODE_ARM64 1
#endif

namespace bpcore {

namespace fp_mode {

#if defined(BPCORE_FP_MODE_X86)
using Word = unsigned;
// MXCSR: FTZ is bit 15, DAZ bit 6
inline constexpr Word kFlush = (1u << 15) | (1u << 6);
inline Word get() noexcept { return _mm_getcsr(); }
inline void set(Word w) noexcept { _mm_setcsr(w); }
#elif defined(BPCORE_FP_MODE_ARM64)
using Word = std::uint64_t;
// FPCR: FZ (bit 24) flushes subnormal operands and results of single and double precision
inline constexpr Word kFlush = Word(1) << 24;
inline Word get() noexcept {
  Word w;
  __asm__ __volatile__("mrs %0, fpcr" : "=r"(w));
  return w;
}
inline void set(Word w) noexcept { __asm__ __volatile__("msr fpcr, %0" : : "r"(w)); }
#else
using Word = unsigned;
inline constexpr Word kFlush = 0;  // other processors: the caller's mode is left as it is
inline Word get() noexcept { return 0; }
inline void set(Word) noexcept {}
#endif

/// Sets the flush bits of the control register to `bits` (some of kFlush), keeping every other bit,
/// the sticky exception flags among them.
inline void set_flush(Word bits) noexcept { set((get() & ~kFlush) | bits); }

/// The flush bits this thread had when it entered the outermost FlushSubnormals scope.
inline Word& caller_mode() noexcept {
  thread_local Word mode = 0;
  return mode;
}
inline int& depth() noexcept {
  thread_local int d = 0;
  return d;
}

}  // namespace fp_mode

/// For its lifetime, this thread flushes subnormal operands and results to zero; the previous flush
/// bits come back at the end of the scope (only they are touched: exception flags raised meanwhile
/// stay raised). A nested scope costs one read of the control register.
class FlushSubnormals {
 public:
  FlushSubnormals() noexcept : saved_(fp_mode::get() & fp_mode::kFlush) {
    if (fp_mode::depth()++ == 0) fp_mode::caller_mode() = saved_;
    if (saved_ != fp_mode::kFlush) fp_mode::set_flush(fp_mode::kFlush);
  }
  ~FlushSubnormals() {
    --fp_mode::depth();
    if (saved_ != fp_mode::kFlush) fp_mode::set_flush(saved_);
  }
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
  fp_mode::Word saved_;
};

/// Inside a FlushSubnormals scope, for a call out of the core (user code): the flush bits the
/// thread had before it entered the core, for this scope's lifetime. Outside any such scope it does
/// nothing.
class CallerFpMode {
 public:
  CallerFpMode() noexcept : saved_(fp_mode::get() & fp_mode::kFlush) {
    if (fp_mode::depth() > 0) fp_mode::set_flush(fp_mode::caller_mode());
  }
  ~CallerFpMode() {
    if (fp_mode::depth() > 0) fp_mode::set_flush(saved_);
  }
  CallerFpMode(const CallerFpMode&) = delete;
  CallerFpMode& operator=(const CallerFpMode&) = delete;

 private:
  fp_mode::Word saved_;
};

}  // namespace bpcore
