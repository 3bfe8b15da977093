#include "engine/app/demo_pages.hpp"

namespace ringcast::engine {
namespace {

constexpr std::string_view kTicker = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringcast ticker board</title>
<style>
body { font: 14px system-ui, sans-serif; background: #0d1117; color: #e6edf3; margin: 20px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 8px; }
#status { color: #8b949e; margin: 0 0 16px; }
.panes { display: flex; gap: 40px; align-items: flex-start; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { color: #8b949e; font-weight: normal; border-bottom: 1px solid #30363d; }
td, th { padding: 4px 12px; text-align: right; } td:first-child, th:first-child { text-align: left; }
.up { color: #3fb950; } .down { color: #f85149; }
tr.flash-up td { background: #12361f; } tr.flash-down td { background: #3d1416; }
#book td { padding: 2px 10px; } .bid { color: #3fb950; } .ask { color: #f85149; }
#delta { color: #8b949e; margin-top: 8px; }
</style></head><body>
<h1>ringcast ticker board</h1>
<p id="status">connecting&hellip;</p>
<div class="panes">
<table id="board"><thead><tr><th>Symbol</th><th>Last</th><th>Change %</th><th>Volume</th><th>Updates</th></tr></thead>
<tbody></tbody></table>
<div><h2 id="book-title">Order book</h2>
<table id="book"><thead><tr><th>Size</th><th>Bid</th><th>Ask</th><th>Size</th></tr></thead><tbody></tbody></table>
<p id="delta"></p></div>
</div>
<script src="/demo/centrifuge.js"></script>
<script>
"use strict";
const symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "ADA-USD", "DOGE-USD", "AAPL", "MSFT",
                 "NVDA", "AMZN", "GOOG", "META", "TSLA", "EURUSD", "USDJPY", "GBPUSD"];
const params = new URLSearchParams(location.search);
const bookSymbol = params.get("book") || "BTC-USD";
// ?max_frequency=500ms: this browser's tickers at most that often (the namespace's 100 ms is the floor).
const maxFrequency = params.get("max_frequency");
const status = document.getElementById("status");
window.demo = { updates: 0, books: 0, state: "loading" };
const rows = new Map();
for (const s of symbols) {
  const tr = document.createElement("tr");
  tr.innerHTML = "<td></td><td>&ndash;</td><td></td><td></td><td>0</td>";
  tr.cells[0].textContent = s;
  document.querySelector("#board tbody").appendChild(tr);
  rows.set(s, { tr, last: null, updates: 0 });
}
function onTicker(sym, d) {
  const r = rows.get(sym);
  const price = parseFloat(d.p);
  r.tr.cells[1].textContent = d.p;
  r.tr.cells[2].textContent = d.c;
  r.tr.cells[2].className = d.c.startsWith("-") ? "down" : "up";
  r.tr.cells[3].textContent = d.v.toLocaleString("en-US");
  r.tr.cells[4].textContent = ++r.updates;
  if (r.last !== null && price !== r.last) {
    r.tr.className = price > r.last ? "flash-up" : "flash-down";
    clearTimeout(r.timer);
    r.timer = setTimeout(() => { r.tr.className = ""; }, 300);
  }
  r.last = price;
  window.demo.updates++;
}
function onBook(d) {
  const body = document.querySelector("#book tbody");
  const n = Math.min(10, d.b.length, d.a.length);
  let html = "";
  for (let k = 0; k < n; k++) {
    html += "<tr><td>" + d.b[k][1] + "</td><td class=bid>" + d.b[k][0] + "</td><td class=ask>" + d.a[k][0] +
            "</td><td>" + d.a[k][1] + "</td></tr>";
  }
  body.innerHTML = html;
  document.getElementById("book-title").textContent = "Order book " + d.s + " #" + d.n;
  window.demo.books++;
}
if (typeof Centrifuge === "undefined") {
  status.textContent = "The SDK is not served here: start ringcast with --demo-sdk (scripts/run.sh does).";
  window.demo.state = "no sdk";
} else {
  const c = new Centrifuge((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/connection/websocket");
  c.on("connected", () => {
    status.textContent = "connected; prices come from ringcast-feed (build/bench/feed/ringcast-feed)";
    window.demo.state = "connected";
  });
  c.on("disconnected", (ctx) => { status.textContent = "disconnected: " + ctx.reason; });
  for (const s of symbols) {
    const sub = c.newSubscription("ticker:" + s, maxFrequency ? { data: { max_frequency: maxFrequency } } : {});
    sub.on("publication", (ctx) => onTicker(s, ctx.data));
    sub.subscribe();
  }
  const book = c.newSubscription("book:" + bookSymbol, { delta: "fossil" });
  book.on("publication", (ctx) => onBook(ctx.data));
  book.subscribe();
  setInterval(() => {
    const st = book.deltaStats();
    if (st.numPublications === 0) return;
    window.demo.delta = st;
    document.getElementById("delta").textContent = st.numDeltaPayloads + " of " + st.numPublications +
      " books as Fossil deltas: " + (100 * st.bytesReceived / st.bytesDecoded).toFixed(1) + " % of the bytes";
  }, 500);
  c.connect();
}
</script></body></html>
)html";

constexpr std::string_view kDanmaku = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringcast danmaku</title>
<style>
body { font: 14px system-ui, sans-serif; background: #111; color: #eee; margin: 20px; }
h1 { font-size: 20px; margin: 0 0 4px; }
#status { color: #999; margin: 0 0 12px; } #online { color: #ffd33d; font-weight: bold; }
#stage { position: relative; overflow: hidden; height: 360px; max-width: 960px;
         background: linear-gradient(160deg, #1f2a44, #3a1f44); border-radius: 6px; }
#stage .c { position: absolute; left: 100%; white-space: nowrap; font-size: 22px; font-weight: bold;
            text-shadow: 0 0 3px #000, 1px 1px 2px #000; animation: fly 8s linear forwards; }
@keyframes fly { to { transform: translateX(calc(-100vw - 100%)); } }
form { margin-top: 12px; display: flex; gap: 8px; max-width: 960px; }
#msg { flex: 1; font-size: 16px; padding: 6px; } #send { font-size: 16px; padding: 6px 16px; }
</style></head><body>
<h1>ringcast danmaku</h1>
<p id="status">connecting&hellip; <span id="online"></span></p>
<div id="stage"></div>
<form id="box"><input id="msg" maxlength="100" autocomplete="off" placeholder="say something"><button id="send">Send</button></form>
<script src="/demo/centrifuge.js"></script>
<script>
"use strict";
const room = new URLSearchParams(location.search).get("room") || "lobby";
const stage = document.getElementById("stage"), status = document.getElementById("status");
const online = document.getElementById("online");
window.demo = { comments: 0, online: 0, state: "loading", sent: 0 };
const colors = ["#fff", "#ffd33d", "#7ee787", "#79c0ff", "#ff7b72", "#d2a8ff"];
let lane = 0;
function fly(text) {
  const el = document.createElement("div");
  el.className = "c";
  el.textContent = text;
  el.style.top = (8 + 36 * (lane++ % 9)) + "px";
  el.style.color = colors[Math.floor(Math.random() * colors.length)];
  el.addEventListener("animationend", () => el.remove());
  stage.appendChild(el);
  window.demo.comments++;
}
if (typeof Centrifuge === "undefined") {
  status.textContent = "The SDK is not served here: start ringcast with --demo-sdk (scripts/run.sh does).";
  window.demo.state = "no sdk";
} else {
  const c = new Centrifuge((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/connection/websocket");
  const channel = "danmaku:" + room;
  const sub = c.newSubscription(channel);
  sub.on("subscribed", () => {
    status.firstChild.textContent = "room " + room + " ";
    window.demo.state = "subscribed";
  });
  sub.on("publication", (ctx) => {
    const d = ctx.data;
    if (d && typeof d.online === "number") {  // the server's count, every few seconds
      window.demo.online = d.online;
      online.textContent = d.online.toLocaleString("en-US") + " watching";
    } else if (d && typeof d.text === "string") {
      fly(d.text);
    }
  });
  sub.subscribe();
  document.getElementById("box").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = document.getElementById("msg");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    sub.publish({ text }).then(() => { window.demo.sent++; },
                               (err) => { status.firstChild.textContent = "not sent: " + err.message + " "; });
  });
  c.connect();
}
</script></body></html>
)html";

}  // namespace

std::string_view demo_page_html(std::string_view name) noexcept {
  if (name == "ticker") return kTicker;
  if (name == "danmaku") return kDanmaku;
  return {};
}

}  // namespace ringcast::engine
