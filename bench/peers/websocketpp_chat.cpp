// Chat-room peer for benchmarks on websocketpp (Debian libwebsocketpp-dev, standalone Asio
// from libasio-dev): every text message from any client goes to every client (sender
// included) as `ID<client port>: <text>`, like ringcast's chat room. One thread, the
// library's usual asio_no_tls configuration.
// Usage: websocketpp_chat [--host 127.0.0.1] [--port 9003]
#define ASIO_STANDALONE
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

using Server = websocketpp::server<websocketpp::config::asio>;
using Handle = websocketpp::connection_hdl;

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::string port = "9003";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--host") host = argv[i + 1];
    else if (flag == "--port") port = argv[i + 1];
    else {
      std::fprintf(stderr, "websocketpp_chat: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  Server server;
  std::map<Handle, std::string, std::owner_less<Handle>> clients;  // -> "ID<port>: "

  server.clear_access_channels(websocketpp::log::alevel::all);
  server.clear_error_channels(websocketpp::log::elevel::all);
  server.init_asio();
  server.set_reuse_addr(true);
  server.set_listen_backlog(4096);  // a 10,000-connection burst must not stall on SYN retransmits
  server.set_open_handler([&](Handle h) {
    auto con = server.get_con_from_hdl(h);
    clients[h] = "ID" + std::to_string(con->get_raw_socket().remote_endpoint().port()) + ": ";
  });
  server.set_close_handler([&](Handle h) { clients.erase(h); });
  server.set_fail_handler([&](Handle h) { clients.erase(h); });
  server.set_message_handler([&](Handle h, Server::message_ptr msg) {
    if (msg->get_opcode() != websocketpp::frame::opcode::text) return;
    auto it = clients.find(h);
    if (it == clients.end()) return;
    // One message object shared by every send: websocketpp's own way to broadcast without
    // re-framing per client.
    auto out = server.get_con_from_hdl(h)->get_message(websocketpp::frame::opcode::text, it->second.size() + msg->get_payload().size());
    out->set_payload(it->second + msg->get_payload());
    websocketpp::lib::error_code ec;
    for (const auto& [c, name] : clients) server.send(c, out, ec);
  });
  asio::signal_set signals(server.get_io_service(), SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int) { server.stop_listening(); server.stop(); });
  asio::error_code ec;
  server.listen(asio::ip::tcp::endpoint(asio::ip::make_address(host), static_cast<unsigned short>(std::stoi(port))), ec);
  if (ec) {
    std::fprintf(stderr, "websocketpp_chat: listen: %s\n", ec.message().c_str());
    return 1;
  }
  server.start_accept();
  std::fprintf(stderr, "websocketpp chat on ws://%s:%s/\n", host.c_str(), port.c_str());
  server.run();
  return 0;
}
