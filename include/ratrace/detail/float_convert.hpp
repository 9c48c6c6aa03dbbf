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

// IEEE binary16 -> float32 (exact; subnormals, Inf and NaN included).
RATRACE_HD float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) return bits_to_float(sign | 0x7f800000u | (mant << 13));  // Inf / NaN
  if (exp == 0) {
    if (mant == 0) return bits_to_float(sign);  // signed zero
    // Subnormal: normalise the mantissa.
    exp = 1;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    mant &= 0x3ffu;
  }
  return bits_to_float(sign | ((exp + (127 - 15)) << 23) | (mant << 13));
}

// bfloat16 -> float32: the upper half of the float32 bit pattern.
RATRACE_HD float bfloat16_bits_to_float(std::uint16_t b) {
  return bits_to_float(static_cast<std::uint32_t>(b) << 16);
}

}  // namespace ratrace::detail
