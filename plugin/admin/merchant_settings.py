"""The merchant's settings as the embedded admin reads and changes them (``/api/settings``).

Every setting is shown with its current value, defaults filled in (``plugin.shop_settings``). A
change is validated as a whole against the current settings and stored in the same transaction,
with the shop row locked: a bad value, or a name that is no setting, stores nothing of the request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import Decision, Shop
from plugin.shop_settings import SettingsError, ShopSettings, setting_names, settings_for, updated_settings


def settings_payload(settings: ShopSettings) -> dict[str, Any]:
    return {name: _jsonable(getattr(settings, name)) for name in setting_names()}


def change_settings(session: Session, shop_id: int, changes: Any) -> ShopSettings:
    """Apply ``changes`` (a JSON object) to the shop's settings; raises ``SettingsError``."""
    if not isinstance(changes, dict) or not changes:
        raise SettingsError(None, "send a JSON object of the settings to change, e.g. {\"batch_per_unit\": 3}")
    unknown = sorted(name for name in changes if name not in setting_names())
    if unknown:
        raise SettingsError(unknown[0], "is not a setting (GET /api/settings lists them)")
    shop = session.scalar(select(Shop).where(Shop.id == shop_id).with_for_update())
    settings = updated_settings(settings_for(shop), changes)
    shop.settings = settings.to_json()
    session.add(Decision(shop_id=shop_id, decision="settings changed", detail={"changed": sorted(changes)}))
    return settings


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
