// SPDX-License-Identifier: MIT
// A consumer of spindle: spawns a thread and checks what its join returns.
#include <spindle/spindle.hpp>

#include <cstdio>

int main() {
  auto handle = spindle::thread::Builder().name("consumer").spawn([](int x) { return x + 1; }, 16);
  if (!handle) {
    std::puts("could not spawn");
    return 1;
  }
  const int value = handle->join().unwrap();
  std::printf("consumer: the thread returned %d\n", value);
  return value == 17 ? 0 : 1;
}
