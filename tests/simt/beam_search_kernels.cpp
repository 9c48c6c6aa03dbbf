// The kernels of kernels/beam_search.cu, built with the host compiler for the SIMT emulator (simt.hpp).
#include "kernels/beam_search.cu"
