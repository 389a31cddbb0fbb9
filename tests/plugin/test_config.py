import pytest
from cryptography.fernet import Fernet

from plugin.config import ConfigError, load_settings


def test_embedded_default_needs_no_configuration(tmp_path):
    # given an empty environment
    # when
    settings = load_settings({}, instance_path=tmp_path)
    # then
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'backbell.sqlite3'}"
    assert settings.tasks_in_process is True
    assert settings.outbox_path == (tmp_path / "outbox").resolve()
    assert settings.shopify_api_version == "2026-10"
    assert settings.shopify_admin_origin == "https://{shop}"
    assert settings.dev_credentials is True


@pytest.mark.parametrize(
    "missing", ["SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "DATABASE_URL", "APP_URL", "BACKBELL_ENCRYPTION_KEYS",
                "BACKBELL_LINK_SECRETS"]
)
def test_production_names_the_missing_variable(missing, tmp_path):
    env = {
        "BACKBELL_ENV": "production",
        "SHOPIFY_API_KEY": "k",
        "SHOPIFY_API_SECRET": "s",
        "DATABASE_URL": "postgresql://u@h/db",
        "APP_URL": "https://backbell.example",
        "BACKBELL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BACKBELL_LINK_SECRETS": "l" * 32,
    }
    del env[missing]
    with pytest.raises(ConfigError) as err:
        load_settings(env, instance_path=tmp_path)
    assert err.value.variable == missing
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "variable,value",
    [
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://localhost"),
        ("SHOPIFY_API_VERSION", "2026-13"),
        ("SHOPIFY_ADMIN_ORIGIN", "ftp://{shop}"),
        ("SENDGRID_API_ORIGIN", "not a url"),
        ("BACKBELL_ENCRYPTION_KEYS", "short"),
        ("TWILIO_ACCOUNT_SID", "AC123"),
        ("BACKBELL_TRUSTED_PROXIES", "10.0.0.0/8, not-a-network"),
    ],
)
def test_malformed_setting_is_named(variable, value, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings({variable: value}, instance_path=tmp_path)
    expected = "TWILIO_AUTH_TOKEN" if variable == "TWILIO_ACCOUNT_SID" else variable
    assert err.value.variable == expected


def test_postgres_url_gets_the_psycopg_driver(tmp_path):
    settings = load_settings({"DATABASE_URL": "postgres://u@h:5432/db"}, instance_path=tmp_path)
    assert settings.database_url == "postgresql+psycopg://u@h:5432/db"


def test_old_secret_is_accepted_during_rotation(tmp_path):
    settings = load_settings({"SHOPIFY_API_SECRET": "new", "SHOPIFY_API_SECRET_OLD": "old"}, instance_path=tmp_path)
    assert settings.shopify_secrets == ("new", "old")


def test_link_secrets_are_read_newest_first(tmp_path):
    settings = load_settings({"BACKBELL_LINK_SECRETS": f"{'n' * 32}, {'o' * 40}"}, instance_path=tmp_path)
    assert settings.link_secrets == ("n" * 32, "o" * 40)
    assert settings.link_secret == "n" * 32


def test_a_short_link_secret_is_named(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings({"BACKBELL_LINK_SECRETS": f"{'n' * 32},short"}, instance_path=tmp_path)
    assert err.value.variable == "BACKBELL_LINK_SECRETS"
    assert str(err.value).startswith("BACKBELL_LINK_SECRETS: secret #2 is shorter than 32 characters")


@pytest.mark.parametrize("variable", ["BACKBELL_SENDGRID_TIMEOUT", "BACKBELL_TWILIO_TIMEOUT",
                                      "BACKBELL_DISPATCH_RETRY_BACKOFF", "BACKBELL_DISPATCH_LEASE_MARGIN",
                                      "BACKBELL_RETENTION_DAYS"])
def test_a_non_positive_number_is_named(variable, tmp_path):
    with pytest.raises(ConfigError) as err:
        load_settings({variable: "0"}, instance_path=tmp_path)
    assert err.value.variable == variable


def test_trusted_proxies_default_to_none_and_read_a_cidr_list(tmp_path):
    assert load_settings({}, instance_path=tmp_path).trusted_proxies == ()
    settings = load_settings({"BACKBELL_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32,192.0.2.1"}, instance_path=tmp_path)
    assert settings.trusted_proxies == ("10.0.0.0/8", "2001:db8::/32", "192.0.2.1")
