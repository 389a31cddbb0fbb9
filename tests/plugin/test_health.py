def test_health_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok"}}


def test_health_reports_redis_when_configured(app_config, redis_url):
    from plugin import create_app

    app = create_app({**app_config, "redis_url": redis_url})
    assert app.test_client().get("/healthz").get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_unreachable_redis_is_503_naming_it(app_config):
    from plugin import create_app

    app = create_app({**app_config, "redis_url": "redis://127.0.0.1:1/0"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["redis"].startswith("unreachable")


def test_root_says_what_this_is(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.get_json()["endpoints"]["health"] == "/healthz"


def test_a_database_that_is_down_answers_503_with_retry_after_and_no_traceback(app_config, capfd):
    # given the app pointed at a PostgreSQL nobody listens on
    from plugin import create_app
    from tests.webhooks.delivery import webhook_headers

    client = create_app({**app_config, "database_url": "postgresql+psycopg://postgres@127.0.0.1:1/none"}).test_client()
    body = b'{"id": 1, "name": "Demo", "myshopify_domain": "backbell-demo.myshopify.com"}'
    # when Shopify delivers a webhook
    response = client.post("/webhooks", data=body, headers=webhook_headers(body, "app/uninstalled"))
    # then Shopify is told to deliver again later, and the log says why without a stack trace
    assert response.status_code == 503
    assert (response.get_json()["error"]["code"], response.headers["Retry-After"]) == ("unavailable", "5")
    assert "Traceback" not in capfd.readouterr().err
