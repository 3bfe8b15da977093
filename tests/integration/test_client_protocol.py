"""The Centrifugo client protocol on /connection/websocket: the real `centrifuge` SDK from
npm (tests/node/centrifuge_client.js) connects, subscribes, publishes and stays connected
across the server's pings, and with tokens (minted here with PyJWT) connects, refreshes
them before they run out and fetches a new one when the server answers 109; raw clients
check each answer of the protocol to bad input (error replies, the 3501/3500/3502/3012
disconnects, forged, expired and misdirected tokens, 3005 and 2501 expiry) and that
channels and chat rooms do not mix; a bad --config file is one line and exit 2."""
import http.client
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from harness import test  # noqa: E402
from protocol_clients import (NO_GRACE, OPEN, PATH, SECRET, TOKENS, Raw, b64url, config_file, expect_disconnect,  # noqa: E402
                              expect_metrics, require_node, sdk, server, sub_token, token)

# --- the real SDK -------------------------------------------------------------------------

@test
def sdk_clients_subscribe_and_publish_to_each_other():
    require_node()
    with server() as srv:
        a, b = sdk(srv), sdk(srv)
        try:
            ids = {a.next("connected")["client"], b.next("connected")["client"]}
            h.check(len(ids) == 2, f"two connections share a client id: {ids}")
            for s in (a, b):
                s.cmd(subscribe="news")
                s.next("subscribed", channel="news")
            a.cmd(publish="news", data={"text": "from a", "n": 1})
            a.next("published", channel="news")
            for s in (a, b):
                ev = s.next("publication", channel="news")
                h.check(ev["data"] == {"text": "from a", "n": 1}, f"publication {ev}")
            b.cmd(publish="news", data=["from b", 2, None, "é ✓"])
            for s in (a, b):
                h.check(s.next("publication", channel="news")["data"] == ["from b", 2, None, "é ✓"], "b's publication")
        finally:
            a.kill()
            b.kill()


@test
def sdk_holds_many_channels_on_one_connection():
    require_node()
    with server() as srv:
        sub, pub = sdk(srv), sdk(srv)
        try:
            sub.next("connected")
            pub.next("connected")
            channels = [f"comments:room{i}" for i in range(20)]
            for ch in channels:
                sub.cmd(subscribe=ch)
            for ch in channels:
                sub.next("subscribed", channel=ch)
            for i, ch in enumerate(channels):
                pub.cmd(publish=ch, data={"i": i})
            got = {}
            for _ in channels:
                ev = sub.next("publication")
                got[ev["channel"]] = ev["data"]["i"]
            h.check(got == {ch: i for i, ch in enumerate(channels)}, f"publications by channel: {got}")
            sub.cmd(unsubscribe="comments:room0")
            sub.next("unsubscribed", channel="comments:room0")
            time.sleep(0.2)
            pub.cmd(publish="comments:room0", data={"after": True})
            pub.cmd(publish="comments:room1", data={"after": True})
            ev = sub.next("publication")
            h.check(ev["channel"] == "comments:room1", f"an unsubscribed channel still delivers: {ev}")
        finally:
            sub.kill()
            pub.kill()


@test
def sdk_stays_connected_across_server_pings():
    require_node()
    with server() as srv:  # ping_interval 1s: the SDK pongs, nobody reconnects
        a, b = sdk(srv), sdk(srv)
        try:
            a.next("connected")
            b.next("connected")
            a.cmd(subscribe="news")
            a.next("subscribed", channel="news")
            a.quiet(3.5)
            b.cmd(subscribe="news")
            b.next("subscribed", channel="news")
            b.cmd(publish="news", data={"late": 1})
            h.check(a.next("publication", channel="news")["data"] == {"late": 1}, "publication after pings")
        finally:
            a.kill()
            b.kill()


@test
def sdk_gets_the_protocol_errors():
    require_node()
    with server() as srv:
        a = sdk(srv)
        try:
            a.next("connected")
            a.cmd(subscribe="nowhere:x")  # no such namespace
            h.check(a.next("unsubscribed", channel="nowhere:x")["code"] == 102, "unknown namespace")
            a.cmd(publish="ticker:AAPL", data={"px": 1})  # clients may not write the feed
            h.check(a.next("publish_error", channel="ticker:AAPL")["code"] == 103, "publish denied")
            a.cmd(publish="news", data={"x": 1})  # allowed for subscribers only
            h.check(a.next("publish_error", channel="news")["code"] == 103, "publish by a non-subscriber")
            a.cmd(subscribe="ticker:AAPL")
            a.next("subscribed", channel="ticker:AAPL")  # the connection survived the errors
        finally:
            a.kill()


@test
def sdk_refused_without_anonymous_access():
    require_node()
    with h.Server() as srv:  # no --config: Centrifugo's defaults refuse anonymous connections
        a = sdk(srv)
        try:
            ev = a.next("disconnected")
            h.check(ev["code"] == 3501, f"anonymous connect: {ev}")
            a.quiet(1.0)  # 3501 means: do not reconnect
        finally:
            a.kill()


@test
def sdk_refreshes_its_connection_token_before_it_runs_out():
    require_node()
    with server(TOKENS) as srv:
        a = sdk(srv, token("ann", ttl=2, info={"name": "Ann"}))
        try:
            a.next("connected")
            a.next("token_needed", timeout=4)  # at the ttl of the connect reply
            a.cmd(token=token("ann", ttl=600, info={"name": "Ann"}))
            a.quiet(3.5)  # past the first token's exp and grace: no disconnect, no reconnect
            a.cmd(subscribe="members:lounge")
            a.next("subscribed", channel="members:lounge")
            a.cmd(publish="members:lounge", data="hello")
            ev = a.next("publication", channel="members:lounge")
            h.check(ev["data"] == "hello" and ev["info"]["user"] == "ann" and
                    ev["info"]["connInfo"] == {"name": "Ann"}, f"publication {ev}")
        finally:
            a.kill()


@test
def sdk_gets_server_side_subscriptions_from_its_token():
    require_node()
    with server(dict(TOKENS, http_api={"key": "k"})) as srv:
        a = sdk(srv, token("ann", channels=["sealed:alerts", "$vip"]))
        try:
            a.next("connected")
            got = {a.until("server_subscribed")["channel"], a.until("server_subscribed")["channel"]}
            h.check(got == {"sealed:alerts", "$vip"}, f"server-side subscriptions {got}")
            raw = Raw(srv, token=token("bob"))
            h.check(raw.error({"publish": {"channel": "sealed:alerts", "data": 1}}) == 103, "bob may not publish")
            c = http.client.HTTPSConnection("127.0.0.1", srv.port, context=h.client_tls()) if srv.tls else \
                http.client.HTTPConnection("127.0.0.1", srv.port)
            c.request("POST", "/api/publish", body='{"channel":"sealed:alerts","data":"fire"}', headers={"X-API-Key": "k"})
            h.check(c.getresponse().status == 200, "API publish")
            c.close()
            ev = a.until("server_publication")
            h.check(ev["channel"] == "sealed:alerts" and ev["data"] == "fire", f"server-side publication {ev}")
        finally:
            a.kill()


@test
def a_channels_claim_is_checked():
    with server(dict(TOKENS, client=dict(TOKENS["client"], channel_limit=3))) as srv:
        c = Raw(srv, token=token("ann", channels=["news", "sealed:x"]))
        h.check(c.connected.get("subs") == {"news": {}, "sealed:x": {}}, f"connect subs {c.connected}")
        h.check(c.error({"subscribe": {"channel": "news"}}) == 105, "already subscribed by the server")
        for channels, code in ((["nope:x"], 3500), (["a", "b", "c", "d"], 3505)):
            d = Raw(srv, connect=False)
            d.send({"connect": {"token": token("ann", channels=channels)}})
            expect_disconnect(d, code)


@test
def sdk_fetches_a_new_token_when_the_server_says_109():
    require_node()
    with server(TOKENS) as srv:
        a = sdk(srv, token("ann", ttl=-10))
        try:
            a.until("token_needed")
            a.cmd(token=token("ann"))
            a.until("connected")
        finally:
            a.kill()


@test
def sdk_does_not_retry_a_forged_token():
    require_node()
    with server(TOKENS) as srv:
        a = sdk(srv, token("ann", key="guessed"))
        try:
            ev = a.next("disconnected")
            h.check(ev["code"] == 3500, f"forged token: {ev}")
            a.quiet(1.0)
        finally:
            a.kill()


@test
def sdk_private_channel_with_a_refreshed_subscription_token():
    require_node()
    with server(TOKENS) as srv:
        a = sdk(srv, token("ann"))
        try:
            a.next("connected")
            a.cmd(subscribe="$vip", token=sub_token("$vip", "ann", 2, info={"seat": 7}))
            a.next("subscribed", channel="$vip")
            a.next("sub_token_needed", channel="$vip", timeout=4)
            a.cmd(sub_token="$vip", token=sub_token("$vip", "ann", 600, info={"seat": 7}))
            a.quiet(3.5)  # still subscribed past the first token's exp and grace
            a.cmd(publish="$vip", data={"x": 1})
            ev = a.next("publication", channel="$vip")
            h.check(ev["info"]["user"] == "ann" and ev["info"]["chanInfo"] == {"seat": 7}, f"publication {ev}")
        finally:
            a.kill()


# --- raw clients: the protocol's answers -----------------------------------------------------

@test
def several_commands_in_one_frame_get_their_replies_in_one_frame():
    with server() as srv:
        c = Raw(srv)
        ids = c.send({"subscribe": {"channel": "a"}}, {"subscribe": {"channel": "b"}},
                     {"subscribe": {"channel": "nope:c"}}, {"publish": {"channel": "a", "data": {"v": 1}}})
        replies = c.frames()
        h.check([r["id"] for r in replies] == ids, f"replies out of order: {replies}")
        h.check(replies[0] == {"id": ids[0], "subscribe": {}} and replies[1] == {"id": ids[1], "subscribe": {}},
                f"subscribe replies {replies[:2]}")
        h.check(replies[2]["error"] == {"code": 102, "message": "unknown channel"}, f"{replies[2]}")
        h.check(replies[3] == {"id": ids[3], "publish": {}}, f"{replies[3]}")
        push = c.push()
        h.check(push == {"channel": "a", "pub": {"data": {"v": 1}, "info": {"user": "", "client": c.client}}},
                f"push {push}")


@test
def data_travels_as_the_publisher_wrote_it():
    with server() as srv:
        sub, pub = Raw(srv), Raw(srv)
        sub.call({"subscribe": {"channel": "comments:x"}})
        raw = '{"id":7,"publish":{"channel":"comments:x","data":{ "b" : [1, 2.50, "\\u00e9"], "a":true }}}'
        pub.c.send_text(raw)
        h.check(pub.frames() == [{"id": 7, "publish": {}}], "publish reply")
        text = sub.c.recv_text(5)
        h.check(text == '{"push":{"channel":"comments:x","pub":{"data":{ "b" : [1, 2.50, "\\u00e9"], "a":true },'
                        '"info":{"user":"","client":"%s"}}}}' % pub.client, f"push bytes: {text}")


@test
def error_replies_keep_the_connection():
    with server(dict(OPEN, client=dict(OPEN["client"], channel_limit=2))) as srv:
        c = Raw(srv)
        c.call({"subscribe": {"channel": "a"}})
        h.check(c.error({"subscribe": {"channel": "a"}}) == 105, "already subscribed")
        c.call({"subscribe": {"channel": "b"}})
        h.check(c.error({"subscribe": {"channel": "c"}}) == 106, "channel limit")
        h.check(c.error({"subscribe": {"channel": "x" * 256}}) == 106, "channel name too long")
        h.check(c.error({"subscribe": {"channel": "$private"}}) == 103, "private channel without a token")
        h.check(c.error({"history": {"channel": "a"}}) == 108, "history where none is kept")
        h.check(c.error({"presence_stats": {"channel": "a"}}) == 108, "presence stats")
        h.check(c.error({"rpc": {"method": "x"}}) == 104, "rpc without a handler")
        h.check(c.error({"frobnicate": {}}) == 104, "unknown method")
        c.call({"unsubscribe": {"channel": "a"}})
        c.call({"unsubscribe": {"channel": "never"}})  # nothing to undo: the same answer
        c.call({"subscribe": {"channel": "c"}})  # a's place is free again


@test
def bad_frames_get_the_bad_request_disconnect():
    with server() as srv:
        for frame in ("not json", '{"id":1,"connect":{}}\n[1,2]', '{"id":"x","connect":{}}', "{\"id\":1,"):
            c = Raw(srv, connect=False)
            c.c.send_text(frame)
            if frame.startswith('{"id":1,"connect"'):
                h.check("connect" in c.frames()[0], "the good line before the bad one is answered")
            expect_disconnect(c, 3501)
        c = Raw(srv, connect=False)
        c.c.send(h.OP_BINARY, b'{"id":1,"connect":{}}')  # JSON travels as text
        expect_disconnect(c, 3501)
        c = Raw(srv, connect=False)
        c.send({"subscribe": {"channel": "a"}})  # before connect
        expect_disconnect(c, 3501)
        c = Raw(srv)
        c.send({"connect": {}})  # a second connect
        expect_disconnect(c, 3501)
        c = Raw(srv)
        c.send({"subscribe": {"channel": ""}})
        expect_disconnect(c, 3501)
        c = Raw(srv)
        c.send({"publish": {"channel": "a"}})  # no data
        expect_disconnect(c, 3501)
        c = Raw(srv)  # the server took all that and still serves
        c.call({"subscribe": {"channel": "a"}})


@test
def connection_tokens_are_verified():
    cfg = dict(TOKENS, client=dict(TOKENS["client"], token={"hmac_secret_key": SECRET, "audience": "ringcast"}))
    with server(cfg) as srv:
        def refused(tok):
            c = Raw(srv, connect=False)
            c.send({"connect": {"token": tok}})
            expect_disconnect(c, 3500)
        good = token(aud="ringcast")
        head, body, sig = good.split(".")
        refused(token(key="not-the-secret", aud="ringcast"))
        # The log names the cause (one line a second: the rest of this storm is counted).
        h.wait_until(lambda: "connection token refused: bad token signature" in srv.log(), timeout=5, what="the log")
        refused(f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{body}.")
        refused(f"{b64url({'alg': 'HS256'})}.{b64url({'sub': 'admin', 'aud': 'ringcast'})}.{sig}")  # claims swapped
        refused(token(aud="someone-else"))
        refused(token())  # no audience
        refused("not.a.jwt")
        refused(token(aud="ringcast", channels=7))
        refused(token(aud="ringcast", channel="$vip"))  # a subscription token (same key by default)
        c = Raw(srv, connect=False)  # expired: the error the SDK answers with a fresh token
        h.check(c.error({"connect": {"token": token(ttl=-5, aud="ringcast")}}) == 109, "expired token")
        reply = c.call({"connect": {"token": good}})  # the same connection, now with a good one
        h.check(reply["connect"].get("expires") is True and 3590 <= reply["connect"]["ttl"] <= 3600,
                f"connect reply {reply}")
        no_exp = Raw(srv, token=token(ttl=None, aud="ringcast"))
        h.check("expires" not in no_exp.connected, f"a token without exp does not expire: {no_exp.connected}")
        expect_metrics(srv, 'ringcast_token_failures_total{reason="bad_signature"} 2',
                       'ringcast_token_failures_total{reason="bad_algorithm"} 1',
                       'ringcast_token_failures_total{reason="wrong_audience"} 2',
                       'ringcast_token_failures_total{reason="malformed"} 2',
                       'ringcast_token_failures_total{reason="expired"} 1',
                       'ringcast_client_errors_total{code="109"} 1',
                       'ringcast_token_failures_total{reason="not_connection"} 1',
                       'ringcast_client_commands_total{method="connect"} 11')


@test
def token_users_and_info_reach_publications():
    with server(TOKENS) as srv:
        ann = Raw(srv, token=token("ann", info={"name": "Ann"}))
        anon_cfg_refused = Raw(srv, connect=False)
        anon_cfg_refused.send({"connect": {}})  # tokens required here
        expect_disconnect(anon_cfg_refused, 3501)
        ann.call({"subscribe": {"channel": "members:lounge"}})  # members only: ann has a user
        ann.call({"publish": {"channel": "members:lounge", "data": {"hi": 1}}})
        push = ann.push()
        h.check(push["pub"]["info"] == {"user": "ann", "client": ann.client, "conn_info": {"name": "Ann"}},
                f"publication info {push}")
    open_cfg = dict(TOKENS, client=dict(TOKENS["client"], allow_anonymous_connect_without_token=True))
    with server(open_cfg) as srv:
        anon = Raw(srv)
        h.check(anon.error({"subscribe": {"channel": "members:lounge"}}) == 103, "anonymous in a members namespace")
        h.check(anon.error({"publish": {"channel": "members:lounge", "data": 1}}) == 103, "anonymous publish")


@test
def no_key_configured_refuses_every_token():
    with server() as srv:  # OPEN: anonymous allowed, no client.token
        c = Raw(srv, connect=False)
        c.send({"connect": {"token": token()}})
        expect_disconnect(c, 3500)
        h.wait_until(lambda: "no hmac_secret_key is configured" in srv.log(), timeout=5, what="the cause in the log")


@test
def refresh_extends_a_connection():
    with server(TOKENS) as srv:
        c = Raw(srv, token=token("ann", ttl=2))
        h.check(c.connected.get("expires") is True and c.connected["ttl"] <= 2, f"connect {c.connected}")
        reply = c.call({"refresh": {"token": token("ann", ttl=600)}})
        h.check(reply["refresh"]["client"] == c.client and reply["refresh"]["expires"] is True and
                590 <= reply["refresh"]["ttl"] <= 600, f"refresh reply {reply}")
        c.silent(3.5)  # past the first token's exp, pings answered: still connected
        c.call({"subscribe": {"channel": "news"}})
        h.check(c.error({"refresh": {"token": token("ann", ttl=-1)}}) == 109, "expired refresh token")
        c.send({"refresh": {"token": token("bob")}})  # another user's token
        expect_disconnect(c, 3500)


@test
def a_connection_past_its_token_is_closed_3005():
    with server(NO_GRACE) as srv:  # ping_interval 1s
        c = Raw(srv, token=token("ann", ttl=1))
        t0 = time.monotonic()
        h.check(c.close_code(timeout=5) == 3005, "expired connection")
        h.check(time.monotonic() - t0 < 4, f"closed after {time.monotonic() - t0:.1f}s")
        Raw(srv, token=token("ann"))  # the server still serves


@test
def subscription_tokens_grant_private_channels():
    with server(TOKENS) as srv:
        c = Raw(srv, token=token("ann"))
        h.check(c.error({"subscribe": {"channel": "$vip"}}) == 103, "a private channel without a token")
        reply = c.call({"subscribe": {"channel": "$vip", "token": sub_token("$vip", "ann", 600, info={"seat": 1})}})
        h.check(reply["subscribe"].get("expires") is True and 590 <= reply["subscribe"]["ttl"] <= 600, f"{reply}")
        # A token grants even where the namespace does not let clients subscribe.
        h.check(c.error({"subscribe": {"channel": "sealed:box"}}) == 103, "sealed without a token")
        reply = c.call({"subscribe": {"channel": "sealed:box", "token": sub_token("sealed:box", "ann", None)}})
        h.check(reply["subscribe"] == {}, f"a token without exp: {reply}")
        h.check(c.error({"subscribe": {"channel": "$later", "token": sub_token("$later", "ann", -1)}}) == 109,
                "expired subscription token")
        h.check(c.error({"sub_refresh": {"channel": "$other", "token": sub_token("$other", "ann")}}) == 103,
                "sub_refresh of a channel not subscribed")
        reply = c.call({"sub_refresh": {"channel": "$vip", "token": sub_token("$vip", "ann", 900)}})
        h.check(reply == {"id": reply["id"], "sub_refresh": {"expires": True, "ttl": reply["sub_refresh"]["ttl"]}} and
                890 <= reply["sub_refresh"]["ttl"] <= 900, f"sub_refresh reply {reply}")
        for tok in (sub_token("$vip2", "ann"), sub_token("$vip", "bob"),
                    token("ann", channel="$vip")):  # signed with the connection key
            d = Raw(srv, token=token("ann"))
            d.send({"subscribe": {"channel": "$vip", "token": tok}})
            expect_disconnect(d, 3500)
        h.wait_until(lambda: "token refused: a subscription token for another channel" in srv.log(), timeout=5,
                     what="the cause in the log")


@test
def an_expired_subscription_is_unsubscribed_2501():
    with server(NO_GRACE) as srv:
        c = Raw(srv, token=token("ann"))
        c.call({"subscribe": {"channel": "$vip", "token": sub_token("$vip", "ann", 1)}})
        c.call({"subscribe": {"channel": "news"}})
        push = c.push(timeout=4)
        h.check(push == {"channel": "$vip", "unsubscribe": {"code": 2501, "reason": "subscription expired"}}, f"{push}")
        h.check(c.error({"sub_refresh": {"channel": "$vip", "token": sub_token("$vip", "ann")}}) == 103,
                "the expired subscription is gone")
        c.call({"subscribe": {"channel": "$vip", "token": sub_token("$vip", "ann")}})  # subscribing again works


@test
def anonymous_connect_refused_by_default():
    with server(False) as srv:  # Centrifugo's default
        c = Raw(srv, connect=False)
        c.send({"connect": {}})
        expect_disconnect(c, 3501)


@test
def a_client_that_does_not_pong_is_closed_3012():
    with server() as srv:  # ping_interval 1s
        c = Raw(srv)
        t0 = time.monotonic()
        fin, op, payload = c.c.recv_frame(timeout=3)
        h.check(op == h.OP_TEXT and payload == b"{}", f"expected the server's ping, got {op} {payload!r}")
        expect_disconnect(c, 3012)  # not answered
        h.check(time.monotonic() - t0 < 4, "the no-pong close took too long")


@test
def a_client_that_never_connects_is_closed_3502():
    with server(None, "--handshake-timeout", "1s") as srv:
        t0 = time.monotonic()  # the deadline runs from the accept, before the upgrade
        c = Raw(srv, connect=False)
        expect_disconnect(c, 3502)
        h.check(0.85 < time.monotonic() - t0 < 3, f"stale close after {time.monotonic() - t0:.2f}s")


@test
def channels_and_chat_rooms_do_not_mix():
    with server() as srv:
        room = h.RawClient(srv.port, "/news")
        h.drain(room)
        c = Raw(srv)
        c.call({"subscribe": {"channel": "news"}})
        c.call({"publish": {"channel": "news", "data": {"x": 1}}})
        h.check(c.push()["pub"]["data"] == {"x": 1}, "the channel's own push")
        h.expect_silence(room, 0.5, ignore_notices=True)
        room.send_text("hello room")
        h.check(h.recv_texts_until(room, lambda t: "hello room" in t, timeout=5), "room message")
        c.silent(0.5)
        room.close()


@test
def ten_thousand_subscribes_on_one_connection_are_capped():
    with server() as srv:  # channel_limit 128 (Centrifugo's default)
        c = Raw(srv)
        other = Raw(srv)
        lines = [{"id": i + 1, "subscribe": {"channel": f"comments:c{i}"}} for i in range(10_000)]
        c.send(*lines)
        replies = []
        while len(replies) < 10_000:
            replies += c.frames(timeout=10)
        ok = [r for r in replies if "subscribe" in r]
        limited = [r for r in replies if r.get("error", {}).get("code") == 106]
        h.check(len(ok) == 128 and len(limited) == 10_000 - 128, f"{len(ok)} subscribed, {len(limited)} limited")
        h.check([r["id"] for r in replies] == list(range(1, 10_001)), "replies out of order")
        other.call({"subscribe": {"channel": "comments:c0"}})  # everyone else is still served
        c.call({"publish": {"channel": "comments:c0", "data": {"still": "here"}}})
        h.check(other.push()["pub"]["data"] == {"still": "here"}, "a publication after the storm")


@test
def a_comment_flood_is_rate_limited_per_connection():
    # Centrifugo PRO's client.rate_limit shape: publish 2 per 500 ms, and 6 commands of
    # any kind per second in total; over it the command gets 111 and the connection stays.
    cfg = dict(OPEN, client=dict(OPEN["client"], rate_limit={"client_command": {
        "publish": {"buckets": [{"interval": "500ms", "rate": 2}]},
        "total": {"buckets": [{"interval": "1s", "rate": 6}]}}}),
        channel=dict(OPEN["channel"], namespaces=[dict(OPEN["channel"]["namespaces"][1], max_publication_size=64)]))
    with server(cfg) as srv:
        flood, reader = Raw(srv), Raw(srv)  # connect: one of each total
        reader.call({"subscribe": {"channel": "comments:room"}})
        flood.send(*[{"publish": {"channel": "comments:room", "data": {"n": i}}} for i in range(4)])
        replies = []
        while len(replies) < 4:
            replies += flood.frames()
        codes = [r.get("error", {}).get("code") for r in replies]
        h.check(codes == [None, None, 111, 111], f"publish replies {replies}")
        got = [reader.push()["pub"]["data"]["n"] for _ in range(2)]
        h.check(got == [0, 1], f"the two admitted comments {got}")
        time.sleep(0.3)  # interval/rate = 250 ms: one more publish
        h.check("publish" in flood.call({"publish": {"channel": "comments:room", "data": {"n": 4}}}), "refilled")
        h.check(reader.push()["pub"]["data"] == {"n": 4}, "the refilled one delivered")
        flood.send(*[{"ping": {}} for _ in range(10)])  # total: 6 per second, 4 taken
        replies = []
        while len(replies) < 10:
            replies += flood.frames()
        admitted = sum(1 for r in replies if "ping" in r)
        h.check(1 <= admitted <= 6 and all(r["error"]["code"] == 111 for r in replies[admitted:]),
                f"pings over the total {replies}")
        h.check(reader.error({"publish": {"channel": "comments:room", "data": "x" * 70}}) == 106,
                "over the namespace's max_publication_size")
        h.check("publish" in reader.call({"publish": {"channel": "comments:room", "data": "short"}}), "under it")
        expect_metrics(srv, f'ringcast_client_errors_total{{code="111"}} {2 + 10 - admitted}',
                       'ringcast_client_errors_total{code="106"} 1')


@test
def huge_ids_and_wrong_types_get_the_bad_request_disconnect():
    with server() as srv:
        for line in ('{"id":4294967296,"subscribe":{"channel":"a"}}', '{"id":-1,"ping":{}}',
                     '{"id":1,"subscribe":{"channel":["a"]}}', '{"id":1,"subscribe":"a"}',
                     '{"id":1,"publish":{"channel":"a","data":1},"subscribe":{"channel":"a"}}'):
            c = Raw(srv)
            c.c.send_text(line)
            expect_disconnect(c, 3501)
        c = Raw(srv)
        c.call({"id": 4294967295, "subscribe": {"channel": "a"}})  # the largest id is fine


def upgrade_status(srv, path, origin, host=None):
    c = h.RawClient(srv.port, path, handshake=False)
    c.send_raw(h.RawClient.request(path, {"Host": host or f"127.0.0.1:{srv.port}", "Origin": origin}))
    status = c.read_http_response()[0]
    c.sock.close()
    return status


@test
def browser_upgrades_from_other_origins_get_403():
    with server() as srv:
        own = f"{'https' if srv.tls else 'http'}://127.0.0.1:{srv.port}"
        for path in (PATH, "/lobby", "/echo"):
            h.check(upgrade_status(srv, path, own) == 101, f"{path}: same origin")
            h.check(upgrade_status(srv, path, own.upper()) == 101, f"{path}: same origin, other case")
            h.check(upgrade_status(srv, path, "https://evil.example") == 403, f"{path}: another site")
            h.check(upgrade_status(srv, path, f"http://127.0.0.1:{srv.port + 1}") == 403, f"{path}: another port")
            h.check(upgrade_status(srv, path, "null") == 403, f"{path}: an opaque origin")
        h.check(upgrade_status(srv, PATH, None) == 101, "no Origin: not a browser")
        h.wait_until(lambda: "rejected: 403 (forbidden_origin)" in srv.log(), timeout=5, what="the cause in the log")
        expect_metrics(srv, 'ringcast_handshake_failures_total{reason="forbidden_origin"} 9')
    cfg = dict(OPEN, client=dict(OPEN["client"], allowed_origins=["https://*.example.com", "http://localhost:3000"]))
    with server(cfg) as srv:
        h.check(upgrade_status(srv, PATH, "https://app.example.com") == 101, "an allowed pattern")
        h.check(upgrade_status(srv, "/lobby", "http://localhost:3000") == 101, "an allowed origin, chat room too")
        h.check(upgrade_status(srv, PATH, "https://example.com.evil") == 403, "not the pattern")
    with server(dict(OPEN, client=dict(OPEN["client"], allowed_origins=["*"]))) as srv:
        h.check(upgrade_status(srv, PATH, "https://anything.example") == 101, "* allows any origin")


# --- --config ---------------------------------------------------------------------------------

def run_config(text):
    path = config_file(text, "bad.json")
    p = subprocess.run([h.ARGS.ringcast, "--port", "0", "--config", path, *h.backend_args()],
                       capture_output=True, timeout=10)
    return p.returncode, p.stderr.decode(errors="replace")


@test
def bad_config_files_are_one_line_and_exit_2():
    cases = [
        ("{not json", "not JSON"),
        ('{"client": []}', "client: expected an object"),
        ('{"client": {"channel_limit": -1}}', "client.channel_limit"),
        ('{"client": {"ping_interval": 25}}', "client.ping_interval"),
        ('{"client": {"allow_anonymous_connect_without_token": "yes"}}', "allow_anonymous_connect_without_token"),
        ('{"channel": {"namespaces": [{"name": "a"}]}}', "is not a namespace name"),
        ('{"channel": {"namespaces": [{"name": "ab"}, {"name": "ab"}]}}', "defined twice"),
        ('{"channel": {"namespaces": {}}}', "channel.namespaces"),
        ('{"client": {"allowed_origins": "*"}}', "client.allowed_origins: expected an array of strings"),
        ('{"client": {"allowed_origins": [1]}}', "client.allowed_origins"),
    ]
    for text, want in cases:
        rc, err = run_config(text)
        lines = err.strip().splitlines()
        h.check(rc == 2 and len(lines) == 1 and want in lines[0] and lines[0].startswith("ringcast: "),
                f"config {text!r}: exit {rc}, stderr {err!r}")
    p = subprocess.run([h.ARGS.ringcast, "--config", "/nonexistent/ringcast.json", *h.backend_args()],
                       capture_output=True, timeout=10)
    err = p.stderr.decode()
    h.check(p.returncode == 2 and "cannot read --config /nonexistent/ringcast.json" in err and
            len(err.strip().splitlines()) == 1, f"missing file: {p.returncode} {err!r}")


@test
def unknown_config_keys_are_logged_not_refused():
    cfg = dict(OPEN, http_server={"port": 8000}, client=dict(OPEN["client"], history_meta_ttl="1h"))
    with server(cfg) as srv:
        h.wait_until(lambda: "ignoring 'http_server'" in srv.log() and "ignoring 'client.history_meta_ttl'" in srv.log(),
                     timeout=5, what="the ignored keys in the log")
        Raw(srv).call({"subscribe": {"channel": "a"}})


if __name__ == "__main__":
    h.main()
