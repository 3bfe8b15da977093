#include "engine/app/chat_page.hpp"

namespace ringcast::engine {

std::string_view chat_page_html() noexcept {
  // The socket URL is the page's own path on the same host, so /<room> chats in <room>.
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ringcast chat</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 48em; padding: 1em; }
#log { list-style: none; padding: 0.5em; height: 60vh; overflow-y: auto; border: 1px solid #ccc; }
#log li { padding: 0.1em 0; white-space: pre-wrap; word-break: break-word; }
form { display: flex; gap: 0.5em; margin-top: 0.5em; }
#msg { flex: 1; padding: 0.4em; }
#status { color: #666; }
</style>
</head>
<body>
<h1>ringcast <small>status: <span id="status">connecting</span></small></h1>
<ul id="log"></ul>
<form id="form" onsubmit="return false">
<input id="msg" autocomplete="off" autofocus placeholder="Say something">
<button id="send" type="button">Send</button>
</form>
<script>
(function () {
  var log = document.getElementById('log');
  var msg = document.getElementById('msg');
  var status = document.getElementById('status');
  var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var ws = new WebSocket(scheme + location.host + location.pathname);
  ws.binaryType = 'arraybuffer';
  function add(text) {
    var li = document.createElement('li');
    li.textContent = text;
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }
  ws.onopen = function () { status.textContent = 'connected'; };
  ws.onclose = function (e) { status.textContent = 'closed (' + e.code + ')'; };
  ws.onerror = function () { status.textContent = 'error'; };
  ws.onmessage = function (e) {
    add(typeof e.data === 'string' ? e.data : '[binary ' + e.data.byteLength + ' bytes]');
  };
  function send() {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(msg.value);
    msg.value = '';
    msg.focus();
  }
  document.getElementById('send').addEventListener('click', send);
  msg.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); send(); }
  });
})();
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace ringcast::engine
