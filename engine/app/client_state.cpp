#include "engine/app/client_state.hpp"

#include <algorithm>

namespace ringcast::engine {
namespace {

thread_local std::vector<ClientState> t_states;

void clear(ClientState& c, std::uint32_t gen) noexcept {
  c.gen = gen;
  c.user.clear();
  c.conn_info.clear();
  c.expire_at = 0;
  c.grants.clear();
  c.presence.clear();
  c.rate_cells.clear();
}

}  // namespace

ClientState& client_state(Session& s) {
  Session::Id id = s.id();
  if (id.slot >= t_states.size()) t_states.resize(std::max<std::size_t>(id.slot + 1, t_states.size() * 2));
  ClientState& c = t_states[id.slot];
  if (c.gen != id.gen) clear(c, id.gen);
  return c;
}

ClientState* find_client_state(Session& s) noexcept {
  Session::Id id = s.id();
  if (id.slot >= t_states.size() || t_states[id.slot].gen != id.gen) return nullptr;
  return &t_states[id.slot];
}

void forget_client_state(Session& s) noexcept {
  if (ClientState* c = find_client_state(s)) clear(*c, c->gen);
}

}  // namespace ringcast::engine
