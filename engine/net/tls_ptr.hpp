// A connection's owning pointer to its TLS stream (engine/net/tls_stream.hpp), usable
// where only this declaration is seen (the connection slot).
#pragma once
#include <memory>

namespace ringcast::engine {

class TlsStream;
struct TlsStreamDelete {
  void operator()(TlsStream* t) const noexcept;
};
using TlsPtr = std::unique_ptr<TlsStream, TlsStreamDelete>;

}  // namespace ringcast::engine
