import json
import re

import pytest

from plugin.admin.i18n import CATALOGUE_DIR, Translator, catalogue
from plugin.dispatch.messages.locales import LOCALES

PLACEHOLDER = re.compile(r"\{(\w+)\}")
TEMPLATES = CATALOGUE_DIR.parent / "templates" / "admin"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_language_has_exactly_the_english_keys_and_placeholders(locale):
    # given
    english, strings = catalogue("en"), catalogue(locale)

    # when
    missing, extra = set(english) - set(strings), set(strings) - set(english)
    wrong = [key for key in english if key in strings
             and sorted(PLACEHOLDER.findall(english[key])) != sorted(PLACEHOLDER.findall(strings[key]))]

    # then
    assert (missing, extra, wrong) == (set(), set(), [])
    assert all(value.strip() for value in strings.values())


def test_every_key_the_templates_use_exists():
    # given every literal t('…') in the templates
    used = {key for path in TEMPLATES.glob("*.html") for key in re.findall(r"\bt\('([\w.]+)'[,)]", path.read_text())}

    # then
    assert used and used <= set(catalogue("en"))


def test_catalogues_are_utf8_json_files_named_after_the_shipped_locales():
    assert sorted(p.stem for p in CATALOGUE_DIR.glob("*.json")) == sorted(LOCALES)
    for path in CATALOGUE_DIR.glob("*.json"):
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


@pytest.mark.parametrize(("raw", "locale", "home"), [
    ("de", "de", "Start"), ("zh-CN", "zh-CN", "首页"), ("zh-TW", "zh-CN", "首页"), ("ja-JP", "ja", "ホーム"),
    ("fr-CA", "fr", "Accueil"), ("es", "es", "Inicio"), ("pt-BR", "en", "Home"), (None, "en", "Home"),
])
def test_the_admin_locale_picks_the_language(raw, locale, home):
    # when
    t = Translator(raw)

    # then
    assert (t.locale, t("nav.home")) == (locale, home)


def test_placeholders_are_filled_and_unknown_keys_fall_back_to_the_key():
    t = Translator("fr")

    assert t("home.theme_name", theme="Dawn") == "Thème en ligne : Dawn"
    assert t("no.such.key") == "no.such.key"
