#pragma once
// float32 -> 16-bit storage types, rounding to nearest, ties to even (how numpy and PyTorch
// narrow), for writing float16 / bfloat16 corpora.
#include <cstdint>

#include "ratrace/detail/float_convert.hpp"

namespace ratrace::synth {

// IEEE binary16 bits. Overflow gives Inf, NaN stays a (quiet) NaN, tiny values become subnormal.
// After F. Giesen's float_to_half_fast3_rtne: the float unit does the rounding.
inline std::uint16_t float_to_half_bits(float value) {
  std::uint32_t bits = detail::float_to_bits(value);
  const std::uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  std::uint32_t out;
  if (bits >= (127u + 16u) << 23) {  // |value| >= 65536: Inf, or NaN
    out = bits > 0x7f800000u ? 0x7e00u : 0x7c00u;
  } else if (bits < (113u << 23)) {  // |value| < 2^-14: subnormal half or zero
    // Adding 0.5 aligns the half's 10 mantissa bits at the bottom of the float's mantissa.
    const std::uint32_t magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    const float sum = detail::bits_to_float(bits) + detail::bits_to_float(magic);
    out = detail::float_to_bits(sum) - magic;
  } else {
    const std::uint32_t mantissa_odd = (bits >> 13) & 1u;
    bits += (static_cast<std::uint32_t>(15 - 127) << 23) + 0xfffu + mantissa_odd;
    out = bits >> 13;  // a carry into the exponent may round up to Inf: correct
  }
  return static_cast<std::uint16_t>(out | (sign >> 16));
}

// bfloat16 bits: the upper half of the float32, rounded to nearest even; NaN stays NaN.
inline std::uint16_t float_to_bfloat16_bits(float value) {
  const std::uint32_t bits = detail::float_to_bits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  const std::uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

}  // namespace ratrace::synth
