// The backend type a shard drives. Production builds use io_uring; an engine built with
// RINGCAST_SCRIPTED_IO (tests and the whole-connection fuzzer) gets the scripted backend,
// where a driver plays the peers and the clock. Chosen at compile time: no virtual call
// on the I/O path.
#pragma once

#if defined(RINGCAST_SCRIPTED_IO)
#include "engine/scripted_backend.hpp"
namespace ringcast::engine {
using IoBackend = ScriptedBackend;
}
#else
#include "engine/uring_backend.hpp"
namespace ringcast::engine {
using IoBackend = UringBackend;
}
#endif
