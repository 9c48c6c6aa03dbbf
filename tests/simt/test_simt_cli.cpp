// The CLI with a device present (the emulated one): `--device auto` picks it and says so on stderr
// and in the results' `device` attribute; the GPU's results file holds the CPU's results (SPEC §2);
// stderr says where the engine's time went; with no device, or one the build cannot run on (below
// compute capability 8.0, or without code for it), `--device gpu` refuses (exit 2) and `--device
// auto` falls back to the CPU; the aggregate kernel fits the device's shared memory.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <regex>

#include "ratrace/results.hpp"
#include "ratrace/results_writer.hpp"
#include "support/cli_runner.hpp"
#include "verify/compare.hpp"

namespace {

using ratrace::testing::run_cli;
using ratrace::testing::TempDir;

constexpr const char* kEmulatedCard = "gpu: ratrace SIMT emulator (CPU)";

std::string quoted(const std::string& path) { return "'" + path + "'"; }

TEST(SimtCli, DeviceAutoPicksThePresentGpuAndItsFileMatchesTheCpuFile) {
  TempDir dir;
  const std::string corpus = dir.file("corpus.h5");
  ASSERT_EQ(run_cli("synth -o " + quoted(corpus) + " --sequences 2 --layers 2 --heads 3 --min-len 40 --max-len 90 "
                    "--dtype bfloat16 --mask --seed 11").exit_code, 0);
  const std::string trace = " --layers all --heads all,mean --targets all -K 7 -B 4 --length-norm sqrt";

  const auto gpu = run_cli("trace " + quoted(corpus) + " -o " + quoted(dir.file("gpu.h5")) + trace);
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  EXPECT_NE(gpu.err.find(kEmulatedCard), std::string::npos) << gpu.err;
  // Where the GPU engine's time went: reading (float32 rows packed as they are read, so no pack
  // phase), the device; the copy and delivery of the results on a results thread when the results
  // writer takes batches from any thread (a thread-safe HDF5 library), else on the calling thread.
  const std::string delivery = ratrace::ResultsWriter::may_run_beside_reader()
                                   ? R"(; results thread: fetch [0-9.]+ s, deliver [0-9.]+ s\n)"
                                   : R"(, fetch [0-9.]+ s, deliver [0-9.]+ s(, other [0-9.]+ s)?\n)";
  EXPECT_TRUE(std::regex_search(
      gpu.err, std::regex(R"(\nratrace: engine [0-9.]+ s: read [0-9.]+ s[^\n]*?)" + delivery)))
      << gpu.err;
  const auto cpu = run_cli("trace " + quoted(corpus) + " -o " + quoted(dir.file("cpu.h5")) + trace + " --device cpu");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;

  const ratrace::ResultsFile on_gpu = ratrace::read_results_file(dir.file("gpu.h5"));
  const ratrace::ResultsFile on_cpu = ratrace::read_results_file(dir.file("cpu.h5"));
  EXPECT_EQ(on_gpu.device, kEmulatedCard);
  EXPECT_EQ(on_cpu.device.rfind("cpu", 0), 0u) << on_cpu.device;
  ASSERT_GT(on_cpu.results.num_jobs(), 0);
  EXPECT_EQ(on_gpu.results.num_jobs(), on_cpu.results.num_jobs());
  ratrace::SearchParams params;
  params.top_k = 7;
  params.top_beam = 4;
  params.length_norm = ratrace::LengthNorm::parse("sqrt");
  const ratrace::CompareReport report = ratrace::compare_results(on_cpu.results, on_gpu.results, params);
  EXPECT_EQ(report.jobs_compared, on_cpu.results.num_jobs());
  EXPECT_EQ(report.mismatches, 0);
  ASSERT_TRUE(on_gpu.stats.has_value() && on_cpu.stats.has_value());
}

// A memory bound above the device's free memory is refused before anything runs (exit 2, no
// results file), naming the bound and what is free; the emulated device has 2 GiB.
TEST(SimtCli, GpuMemAboveTheFreeMemoryIsRefusedUpFront) {
  TempDir dir;
  const std::string corpus = dir.file("corpus.h5");
  ASSERT_EQ(run_cli("synth -o " + quoted(corpus) + " --sequences 1 --layers 1 --heads 2 --len 32 --seed 3").exit_code, 0);
  const auto refused = run_cli("trace " + quoted(corpus) + " -o " + quoted(dir.file("gpu.h5")) + " --device gpu --gpu-mem 3");
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--gpu-mem 3.00 GiB is more than the 2.00 GiB free on ratrace SIMT emulator"),
            std::string::npos)
      << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("gpu.h5")));
  EXPECT_EQ(run_cli("verify " + quoted(corpus) + " --gpu-mem 3").exit_code, 2);
  // Within the free memory, the same run goes through.
  const auto bounded = run_cli("trace " + quoted(corpus) + " -o " + quoted(dir.file("gpu.h5")) + " --device gpu --gpu-mem 1.5");
  EXPECT_EQ(bounded.exit_code, 0) << bounded.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("gpu.h5")));
}

// An emulator setting (tests/simt/include/cuda_runtime_api.h) while it lives; children inherit it.
struct EmulatedSetting {
  EmulatedSetting(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~EmulatedSetting() { unsetenv(name_); }
  EmulatedSetting(const EmulatedSetting&) = delete;
  EmulatedSetting& operator=(const EmulatedSetting&) = delete;

 private:
  const char* name_;
};

// On a machine without a usable GPU: `--device gpu` and `verify` refuse (exit 2, no results file),
// `--device auto` runs on the CPU; both say why, with every one of `why`.
void expect_no_usable_gpu(const std::initializer_list<std::string> why) {
  TempDir dir;
  const std::string corpus = dir.file("corpus.h5");
  ASSERT_EQ(run_cli("synth -o " + quoted(corpus) + " --sequences 1 --layers 1 --heads 2 --len 32 --seed 3").exit_code, 0);
  const auto said_why = [&why](const std::string& command, const std::string& err) {
    for (const std::string& part : why) EXPECT_NE(err.find(part), std::string::npos) << command << "\nmissing: " << part << "\n" << err;
  };
  for (const std::string command : {"trace " + quoted(corpus) + " -o " + quoted(dir.file("gpu.h5")) + " --device gpu",
                                    "verify " + quoted(corpus)}) {
    const auto refused = run_cli(command);
    EXPECT_EQ(refused.exit_code, 2) << command << "\n" << refused.err;
    EXPECT_NE(refused.err.find("no usable GPU"), std::string::npos) << refused.err;
    said_why(command, refused.err);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("gpu.h5")));

  const std::string command = "trace " + quoted(corpus) + " -o " + quoted(dir.file("auto.h5"));
  const auto fallback = run_cli(command);
  ASSERT_EQ(fallback.exit_code, 0) << fallback.err;
  EXPECT_NE(fallback.err.find("): using the CPU reference engine"), std::string::npos) << fallback.err;
  said_why(command, fallback.err);
  EXPECT_EQ(ratrace::read_results_file(dir.file("auto.h5")).device.rfind("cpu", 0), 0u);
}

TEST(SimtCli, WithoutADeviceGpuRefusesAndAutoFallsBackToTheCpu) {
  const EmulatedSetting no_device("RATRACE_SIMT_DEVICES", "0");
  expect_no_usable_gpu({"no CUDA-capable device is detected"});
}

// A GPU below compute capability 8.0 (the kernels' warp reductions) is not usable.
TEST(SimtCli, AGpuBelowComputeCapability8IsNotUsable) {
  const EmulatedSetting turing("RATRACE_SIMT_COMPUTE_CAPABILITY", "7.5");
  expect_no_usable_gpu({"ratrace SIMT emulator (CPU) has compute capability 7.5; ratrace's kernels need 8.0 or newer"});
}

// Nor is a GPU that the build has no code for (an sm_86 card and a build for sm_90 only, say): it
// is refused before anything runs, with the build's architectures and the CMake option that adds
// the card's.
TEST(SimtCli, AGpuTheBuildHasNoCodeForIsNotUsableAndTheMessageSaysHowToBuildForIt) {
  const EmulatedSetting ampere("RATRACE_SIMT_COMPUTE_CAPABILITY", "8.6");
  const EmulatedSetting no_image("RATRACE_SIMT_NO_KERNEL_IMAGE", "1");
  expect_no_usable_gpu({"(compute capability 8.6): this build has no kernels it can run (no kernel image is available",
                        "built for CUDA architectures simt); rebuild with -DCMAKE_CUDA_ARCHITECTURES=86"});
}

// The mean and max of many heads on a GPU with less shared memory per block than sm_90's 227 KiB:
// 128 heads' per-thread sums take 128 KiB in a block of 128 threads, above sm_86's 99 KiB, so the
// aggregate kernel runs narrower blocks there (a fixed limit made cudaFuncSetAttribute fail), and
// the results are the CPU's.
TEST(SimtCli, MeanAndMaxOfManyHeadsFitTheSharedMemoryOfTheGpu) {
  TempDir dir;
  const std::string corpus = dir.file("corpus.h5");
  ASSERT_EQ(run_cli("synth -o " + quoted(corpus) + " --sequences 1 --layers 1 --heads 128 --len 40 --seed 9").exit_code, 0);
  const EmulatedSetting ampere("RATRACE_SIMT_COMPUTE_CAPABILITY", "8.6");
  const EmulatedSetting shared("RATRACE_SIMT_SHARED_OPTIN_KB", "99");

  const auto verify = run_cli("verify " + quoted(corpus) + " --heads mean,max --targets all");
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("verify: 80 jobs compared (all jobs), 0 mismatches"), std::string::npos) << verify.out;
}

}  // namespace
