"""Channels chosen by configuration: a provider when its credentials are set, else the outbox."""

from __future__ import annotations

from plugin.dispatch.channels.base import Channel, DeliveryResult, OutgoingMessage
from plugin.dispatch.channels.outbox import OutboxChannel
from plugin.dispatch.channels.sendgrid import SendGridChannel
from plugin.dispatch.channels.twilio import TwilioChannel
from plugin.config import Settings

CHANNELS = ("email", "sms")

__all__ = ["Channel", "DeliveryResult", "OutgoingMessage", "channel_for", "CHANNELS"]


def channel_for(settings: Settings, channel: str) -> Channel:
    if channel == "email":
        if settings.sendgrid_api_key:
            return SendGridChannel(settings.sendgrid_api_key, settings.sendgrid_api_origin,
                                   settings.sendgrid_from_email, timeout_seconds=settings.sendgrid_timeout_seconds)
        return OutboxChannel(settings.outbox_path, name="email")
    if channel == "sms":
        if settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
            return TwilioChannel(settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from,
                                 settings.twilio_api_origin, status_callback=f"{settings.app_url}/webhooks/twilio",
                                 timeout_seconds=settings.twilio_timeout_seconds)
        return OutboxChannel(settings.outbox_path, name="sms")
    raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
