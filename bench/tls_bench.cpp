// What sealing costs per message on a wss connection (engine/net/tls_stream): a batch of
// queued frames gathered into full 16 KiB records (what the shard does) against one record
// per frame, by frame size, on either record layer after the handshake (Records or
// OpenSSL's); opening client records; and a full handshake (server side) per second. The client is
// OpenSSL on memory BIOs in the same thread; the certificate is a P-256 one made at start.
#include <benchmark/benchmark.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/uio.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/net/frame_pool.hpp"
#include "engine/net/tls_context.hpp"
#include "engine/net/tls_stream.hpp"
#include "tests/support/tls_pair.hpp"

namespace {

using namespace ringcast::engine;

SslCtx* server_ctx() {
  static SslCtx* ctx = [] {
    std::string dir = ringcast::engine::test::make_tls_dir("tls_bench");
    auto pair = ringcast::engine::test::make_tls_pair(dir, "server");
    TlsConfig cfg;
    cfg.cert_file = pair.cert;
    cfg.key_file = pair.key;
    std::string error;
    SslCtx* c = make_tls_context(cfg, error);
    if (c == nullptr) std::fprintf(stderr, "tls_bench: %s\n", error.c_str()), std::abort();
    unlink(pair.cert.c_str());
    unlink(pair.key.c_str());
    rmdir(dir.c_str());
    X509_free(pair.x509);
    return c;
  }();
  return ctx;
}

// A server stream and an OpenSSL client talking through memory.
struct Pair {
  FramePool pool;
  TlsStream* server;
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* client = SSL_new(cctx);
  BIO* c_in = BIO_new(BIO_s_mem());   // what the server sent
  BIO* c_out = BIO_new(BIO_s_mem());  // what the client sends
  std::unique_ptr<std::uint8_t[]> plain{new std::uint8_t[TlsStream::kPlainBuffer]};

  explicit Pair(TlsStream::Layer layer = TlsStream::Layer::records) : server(TlsStream::create(server_ctx(), pool, layer)) {
    SSL_set_bio(client, c_in, c_out);
    SSL_set_connect_state(client);
    for (int i = 0; i < 20 && !(server->established() && SSL_is_init_finished(client)); ++i) {
      SSL_do_handshake(client);
      to_server();
      to_client();
    }
    if (!server->established()) std::fprintf(stderr, "tls_bench: no handshake\n"), std::abort();
  }
  ~Pair() {
    SSL_free(client);
    SSL_CTX_free(cctx);
    delete server;
  }
  void to_server() {
    char* data = nullptr;
    long n = BIO_get_mem_data(c_out, &data);
    if (n <= 0) return;
    server->give(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(n));
    while (server->read(plain.get()).status == TlsStream::Status::data) {
    }
    (void)BIO_reset(c_out);
  }
  void to_client() {
    for (auto w = server->wire(); !w.empty(); w = server->wire()) {
      BIO_write(c_in, w.data(), static_cast<int>(w.size()));
      server->wire_sent(w.size());
    }
  }
  // The sealed bytes leave (the kernel took them): what a send completion does.
  void drop_wire() {
    for (auto w = server->wire(); !w.empty(); w = server->wire()) server->wire_sent(w.size());
  }
};

// 256 queued frames of `size` bytes (a send's worth), sealed as the shard does: gathered.
// Second argument: the record layer after the handshake (0: Records, 1: OpenSSL's).
TlsStream::Layer layer_of(const benchmark::State& state) {
  return state.range(1) == 0 ? TlsStream::Layer::records : TlsStream::Layer::openssl;
}

void BM_SealGathered(benchmark::State& state) {
  Pair p(layer_of(state));
  auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> frame(size, 'x');
  std::vector<iovec> iov(256, iovec{frame.data(), size});
  std::unique_ptr<std::uint8_t[]> scratch(new std::uint8_t[TlsStream::kRecord]);
  for (auto _ : state) {
    std::size_t left = iov.size() * size, done = 0;
    while (done < left) {  // the seal budget (4 records) may need several sends
      std::size_t skip = done;
      std::vector<iovec> rest;
      for (const iovec& v : iov) {
        if (skip >= v.iov_len) {
          skip -= v.iov_len;
          continue;
        }
        rest.push_back({static_cast<std::uint8_t*>(v.iov_base) + skip, v.iov_len - skip});
        skip = 0;
      }
      done += p.server->seal(rest.data(), rest.size(), TlsStream::kSealBudget, scratch.get());
      p.drop_wire();
    }
  }
  state.SetItemsProcessed(state.iterations() * 256);
  state.SetBytesProcessed(state.iterations() * 256 * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_SealGathered)->ArgsProduct({{64, 512, 4096, 16384}, {0, 1}});

// The same frames, one record each (what sealing per frame would cost).
void BM_SealPerFrame(benchmark::State& state) {
  Pair p(layer_of(state));
  auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> frame(size, 'x');
  iovec one{frame.data(), size};
  std::unique_ptr<std::uint8_t[]> scratch(new std::uint8_t[TlsStream::kRecord]);
  for (auto _ : state) {
    for (int i = 0; i < 256; ++i) (void)p.server->seal(&one, 1, TlsStream::kSealBudget, scratch.get());
    p.drop_wire();
  }
  state.SetItemsProcessed(state.iterations() * 256);
  state.SetBytesProcessed(state.iterations() * 256 * static_cast<std::int64_t>(size));
}
BENCHMARK(BM_SealPerFrame)->ArgsProduct({{64, 512, 4096, 16384}, {0, 1}});

// 64 client records of `size` bytes opened by the server (what a chatty client costs);
// timed by hand: each batch needs a fresh pair, whose set-up is not the figure.
void BM_Open(benchmark::State& state) {
  auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> msg(size, 'y');
  for (auto _ : state) {
    Pair p(layer_of(state));
    for (int i = 0; i < 64; ++i) SSL_write(p.client, msg.data(), static_cast<int>(size));
    char* data = nullptr;
    long n = BIO_get_mem_data(p.c_out, &data);
    auto start = std::chrono::steady_clock::now();
    p.server->give(reinterpret_cast<const std::uint8_t*>(data), static_cast<std::size_t>(n));
    while (p.server->read(p.plain.get()).status == TlsStream::Status::data) {
    }
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_Open)->ArgsProduct({{64, 4096}, {0, 1}})->UseManualTime();

// A full TLS 1.3 handshake, both sides (the client's half is in the figure too).
void BM_Handshake(benchmark::State& state) {
  for (auto _ : state) {
    Pair p;
    benchmark::DoNotOptimize(p.server);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Handshake)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
