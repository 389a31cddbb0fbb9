import httpx

from plugin.config import Settings
from plugin.shopify.http import AdminOriginTransport, shop_name, shopify_http_client


class Recorder(httpx.BaseTransport):
    """The innermost transport: records the request as it would go on the wire."""

    def __init__(self):
        self.requests: list[httpx.Request] = []

    def handle_request(self, request):
        self.requests.append(request)
        return httpx.Response(200, json={})


def _send(origin: str, url: str) -> httpx.Request:
    recorder = Recorder()
    transport = AdminOriginTransport(Settings(shopify_admin_origin=origin), inner=recorder)
    with httpx.Client(transport=transport) as client:
        client.post(url, json={})
    return recorder.requests[0]


def test_default_origin_leaves_shopify_urls_alone():
    # when
    sent = _send("https://{shop}", "https://demo.myshopify.com/admin/api/2026-10/graphql.json?x=1")

    # then
    assert str(sent.url) == "https://demo.myshopify.com/admin/api/2026-10/graphql.json?x=1"
    assert sent.headers["Host"] == "demo.myshopify.com"


def test_origin_with_a_path_prefix_moves_scheme_host_and_keeps_path_and_query():
    # when
    sent = _send("http://127.0.0.1:9999/{shop}", "https://demo.myshopify.com/admin/oauth/access_token?a=b")

    # then
    assert str(sent.url) == "http://127.0.0.1:9999/demo.myshopify.com/admin/oauth/access_token?a=b"
    assert sent.headers["Host"] == "127.0.0.1:9999"


def test_other_hosts_are_not_rewritten():
    # when
    sent = _send("http://127.0.0.1:9999/{shop}", "https://example.com/ping")

    # then
    assert str(sent.url) == "https://example.com/ping"


def test_the_client_always_has_timeouts():
    # when
    with shopify_http_client(Settings()) as client:
        timeout = client.timeout

    # then
    assert (timeout.connect, timeout.read) == (5.0, 20.0)


def test_shop_name_strips_the_myshopify_suffix():
    assert shop_name("demo.myshopify.com") == "demo"
    assert shop_name("demo") == "demo"
