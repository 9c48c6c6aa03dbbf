// The kernels of kernels/row_topk.cu, built with the host compiler for the SIMT emulator (simt.hpp).
#include "kernels/row_topk.cu"
