import os
import signal
import time

import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select

from plugin.models import Subscription, Variant
from plugin.intake.ratelimit import INTAKE_LIMITS, KEY_PREFIX, RateLimiter

VARIANT = 44012345678901


def test_eleventh_request_from_one_ip_in_a_minute_is_429(post_subscription, session, shop):
    # given a mirrored variant (no sync) and ten requests from one shopper IP
    session.add(Variant(shop_id=shop.id, variant_id=VARIANT, available=0))
    session.commit()
    headers = {"X-Forwarded-For": "203.0.113.9"}
    answers = [post_subscription({"variant_id": VARIANT, "email": f"s{n}@shopper.dev"}, headers=headers).status_code
               for n in range(10)]

    # when
    limited = post_subscription({"variant_id": VARIANT, "email": "s10@shopper.dev"}, headers=headers)
    other_ip = post_subscription({"variant_id": VARIANT, "email": "s11@shopper.dev"},
                                 headers={"X-Forwarded-For": "198.51.100.7"})

    # then
    assert answers == [201] * 10
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert other_ip.status_code == 201
    assert session.scalar(select(func.count()).select_from(Subscription)) == 11


def test_sixth_attempt_for_one_contact_in_an_hour_is_429(post_subscription):
    # given five attempts for one address, each from a different IP
    answers = [
        post_subscription({"variant_id": VARIANT + n, "email": "Jane@Shopper.dev"},
                          headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(5)
    ]

    # when
    limited = post_subscription({"variant_id": VARIANT + 9, "email": "jane@shopper.dev"},
                                headers={"X-Forwarded-For": "203.0.113.99"})

    # then
    assert answers == [201] * 5
    assert limited.status_code == 429
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600


@pytest.fixture(params=["memory", "redis"])
def storage(request) -> str:
    """Both counter stores: in memory (embedded default) and Redis (one script per hit)."""
    if request.param == "memory":
        return "memory://"
    url = request.getfixturevalue("redis_url")
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("backbell-rl*"):
        client.delete(key)
    return url


def test_shop_limit_applies_across_ips(storage):
    limiter = RateLimiter(storage, "secret", limits={**INTAKE_LIMITS, "shop": "3/minute"})

    answers = [limiter.hit(ip=f"10.0.0.{n}", shop="1").allowed for n in range(4)]

    assert answers == [True, True, True, False]
    assert limiter.hit(ip="10.0.0.9", shop="2").allowed is True


def test_refused_requests_do_not_extend_the_window(storage):
    limiter = RateLimiter(storage, "secret", limits={"ip": "2/minute"})
    limiter.hit(ip="a")
    limiter.hit(ip="a")

    refusals = [limiter.hit(ip="a") for _ in range(5)]

    assert {(d.allowed, d.scope) for d in refusals} == {(False, "ip")}
    assert all(50 <= d.retry_after <= 60 for d in refusals)


def test_a_refusal_in_one_scope_counts_in_none(storage):
    # given a contact at its limit
    limiter = RateLimiter(storage, "secret", limits={"ip": "5/minute", "contact": "1/hour", "shop": "5/minute"})
    assert limiter.hit(ip="b", contact="c", shop="1").allowed is True
    # when the same contact tries again from the same address, twice
    refusals = [limiter.hit(ip="b", contact="c", shop="1") for _ in range(2)]
    # then it is the contact's limit, and neither the address nor the shop spent anything on it
    assert [(d.allowed, d.scope) for d in refusals] == [(False, "contact")] * 2
    assert [limiter.hit(ip="b", contact=f"other{n}", shop="1").allowed for n in range(5)] == [True] * 4 + [False]
    assert limiter.hit(checks={"ip": "b"}).allowed is False


def test_redis_counters_are_shared_and_hold_no_raw_keys(redis_url):
    # given two limiters (two web processes) on the same Redis
    first = RateLimiter(redis_url, "secret", limits={"ip": "3/minute", "contact": "5/hour"})
    second = RateLimiter(redis_url, "secret", limits={"ip": "3/minute", "contact": "5/hour"})
    first.reset()
    try:
        # when
        answers = [first.hit(ip="203.0.113.5", contact="jane@shopper.dev").allowed,
                   second.hit(ip="203.0.113.5", contact="jane@shopper.dev").allowed,
                   first.hit(ip="203.0.113.5", contact="jane@shopper.dev").allowed,
                   second.hit(ip="203.0.113.5", contact="jane@shopper.dev")]

        # then
        assert answers[:3] == [True, True, True]
        assert (answers[3].allowed, answers[3].scope) == (False, "ip")
        keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("backbell-rl*")]
        assert keys and all("203.0.113.5" not in k and "jane" not in k for k in keys)
    finally:
        first.reset()


def test_the_script_counts_in_the_very_lists_the_limits_library_reads(redis_url):
    # given a limiter on Redis that counted one address to its limit (its one-round-trip script)
    limiter = RateLimiter(redis_url, "secret", limits={"ip": "2/minute"})
    limiter.reset()
    try:
        assert [limiter.hit(ip="198.51.100.7").allowed for _ in range(2)] == [True, True]
        # when the limits library's own moving window looks at that address's counter
        library = MovingWindowRateLimiter(storage_from_string(redis_url, key_prefix=KEY_PREFIX))
        stats = library.get_window_stats(parse("2/minute"), limiter._hash("ip", "198.51.100.7"))
        # then it sees both hits (Retry-After and the library's strategy read the same lists)
        assert stats.remaining == 0
        assert not library.test(parse("2/minute"), limiter._hash("ip", "198.51.100.7"))
    finally:
        limiter.reset()


def _forget_scripts(limiter: RateLimiter, client: redis.Redis) -> None:
    client.script_flush()


def _drop_connection(limiter: RateLimiter, client: redis.Redis) -> None:
    host, port = limiter._hit_all._connection()._sock.getsockname()[:2]
    assert client.client_kill(f"{host}:{port}") is True


@pytest.mark.parametrize("disturb", [_forget_scripts, _drop_connection], ids=["scripts forgotten", "connection dropped"])
def test_after_a_redis_restart_each_hit_still_counts_once(redis_url, disturb):
    # given a limiter that has run its script on its kept connection; then Redis forgets every
    # script, or closes that connection (as a restart does both)
    limiter = RateLimiter(redis_url, "secret", limits={"ip": "3/minute"})
    limiter.reset()
    try:
        assert limiter.hit(ip="198.51.100.8").allowed is True
        disturb(limiter, redis.Redis.from_url(redis_url))
        # when it counts on
        answers = [limiter.hit(ip="198.51.100.8").allowed for _ in range(3)]
        # then the script was loaded again, or sent once more on a new connection, and each hit counted once
        assert answers == [True, True, False]
    finally:
        limiter.reset()


def test_forked_web_processes_each_count_on_their_own_connection(redis_url):
    # given a limiter that holds a connection, then forked (gunicorn's workers, or a preloading master)
    limiter = RateLimiter(redis_url, "secret", limits={"ip": "100/minute"})
    limiter.reset()
    try:
        assert limiter.hit(ip="parent-warm").allowed is True

        def count(address: str) -> list[bool]:
            return [limiter.hit(ip=address).allowed for _ in range(150)]

        # when three children and the parent each count 150 hits on their own address, at once
        children = []
        for n in range(3):
            pid = os.fork()
            if pid == 0:  # the child: exit 0 only if its own answers came back, in order
                code = 1
                try:
                    code = 0 if count(f"child-{n}") == [True] * 100 + [False] * 50 else 2
                finally:
                    os._exit(code)
            children.append(pid)
        mine = count("parent")
        deadline = time.monotonic() + 30
        codes = []
        for pid in children:
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    done = os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
            codes.append(os.waitstatus_to_exitcode(done[1]))

        # then every process read its own answers
        assert mine == [True] * 100 + [False] * 50
        assert codes == [0, 0, 0]
    finally:
        limiter.reset()
