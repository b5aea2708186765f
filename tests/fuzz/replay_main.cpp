// SPDX-License-Identifier: MIT
//
// main() for the replay builds of the fuzz targets: runs
// LLVMFuzzerTestOneInput on every file named on the command line, or found
// (recursively, in sorted order) under a directory named there. No
// libFuzzer, so it builds with any compiler, and the corpus is a regression
// test in every build. The fuzzer builds get their main() from libFuzzer and
// never compile this file.
//
// It also counts the heap (the replays link tests/support/counting_heap.cpp,
// which replaces the global operator new and delete): an input after which
// more blocks are live than before is a leak (an
// input is run a second time first, so that something allocated once and
// kept, say a lazily built table, is not taken for one). libFuzzer builds
// have LeakSanitizer for that instead.
//
// Exit status: 0 when every input ran clean, 1 on a leak or when no input
// was found; a divergence from a model aborts, naming the input.

#ifndef SPINDLE_FUZZ_REPLAY
#error "replay_main.cpp is main() for the replay executables only; libFuzzer brings its own main()"
#endif

#include <algorithm>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

#include "support/counting_heap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

// --- replay -----------------------------------------------------------------------

namespace {

// The input being run, for the message when a check aborts.
const char* current_input = nullptr;

extern "C" void on_abort(int /*signal*/) {
  if (current_input != nullptr) {
    std::fputs("replay: the input that aborted: ", stderr);
    std::fputs(current_input, stderr);
    std::fputs("\n", stderr);
  }
  std::signal(SIGABRT, SIG_DFL);
  std::raise(SIGABRT);
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs one input; false when it leaks.
bool run(const std::vector<std::uint8_t>& bytes) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const long before = spindle::test::heap_now().live;
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    if (spindle::test::heap_now().live == before) {
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> inputs;
  for (int a = 1; a < argc; ++a) {
    const std::filesystem::path arg(argv[a]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) {
          inputs.push_back(entry.path());
        }
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      inputs.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[a]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "replay: no inputs (usage: %s <corpus directory or file>...)\n",
                 argc > 0 ? argv[0] : "replay");
    return 1;
  }
  std::signal(SIGABRT, on_abort);
  std::size_t leaks = 0;
  for (const auto& path : inputs) {
    const std::string name = path.string();
    const std::vector<std::uint8_t> bytes = read_file(path);
    current_input = name.c_str();
    if (!run(bytes)) {
      std::fprintf(stderr, "replay: %s leaks heap blocks\n", current_input);
      ++leaks;
    }
    current_input = nullptr;
  }
  std::printf("replay: %zu inputs, %zu leaking\n", inputs.size(), leaks);
  return leaks == 0 ? 0 : 1;
}
