#pragma once
// Exact widening of the 16-bit storage types to float32 (SPEC §2), shared by host and device.
#include <cstdint>

#include "ratrace/detail/host_device.hpp"

namespace ratrace::detail {

RATRACE_HD float bits_to_float(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  __builtin_memcpy(&f, &bits, sizeof(f));
  return f;
#endif
}

RATRACE_HD std::uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t bits;
  __builtin_memcpy(&bits, &f, sizeof(bits));
  return bits;
#endif
}

// IEEE binary16 -> float32 (exact; subnormals, Inf and NaN included). Branch-free, so that the
// host's loops over whole heads vectorise and a warp never diverges: normal values re-biased in
// place; subnormals (and zero) as mantissa x 2^-24, an exact int-to-float conversion and a power
// of two whose product is a normal float (no subnormal is ever an operand: x86 would take a slow
// assist, and flush-to-zero could not touch it); Inf and NaN keep their payload. The three are
// selected by masks: with ?: GCC keeps branches, as it may not compute the product speculatively.
RATRACE_HD float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  const std::uint32_t normal = ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  const std::uint32_t subnormal = float_to_bits(static_cast<float>(static_cast<std::int32_t>(mantissa)) * 0x1p-24f);
  const std::uint32_t special = 0x7f800000u | (mantissa << 13);
  const std::uint32_t zero_exponent = 0u - static_cast<std::uint32_t>(exponent == 0);
  const std::uint32_t max_exponent = 0u - static_cast<std::uint32_t>(exponent == 0x1fu);
  std::uint32_t magnitude = (subnormal & zero_exponent) | (normal & ~zero_exponent);
  magnitude = (special & max_exponent) | (magnitude & ~max_exponent);
  return bits_to_float((static_cast<std::uint32_t>(h & 0x8000u) << 16) | magnitude);
}

// bfloat16 -> float32: the upper half of the float32 bit pattern.
RATRACE_HD float bfloat16_bits_to_float(std::uint16_t b) {
  return bits_to_float(static_cast<std::uint32_t>(b) << 16);
}

}  // namespace ratrace::detail
