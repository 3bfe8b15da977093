// The fuzz targets' invariant check: a broken invariant aborts with its line, which
// libFuzzer reports as a crash and keeps the input that caused it.
#pragma once
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                             \
  do {                                                               \
    if (!(cond)) {                                                   \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                  \
    }                                                                \
  } while (0)
