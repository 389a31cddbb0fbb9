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
