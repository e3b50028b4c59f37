// The one check every fuzz target uses: an invariant that breaks aborts, so that libFuzzer keeps
// the input that broke it and says which invariant it was.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace socketio::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace socketio::fuzz
