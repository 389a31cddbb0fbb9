"""``backbell demo`` on the embedded default: the narrated loop ends with notices in the outbox."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SHARED

CONTRACT_FIELDS = {"channel", "to", "shop", "kind", "variant_id", "subject", "text", "html", "url",
                   "discount_code", "locale", "sent_at"}


def test_demo_walks_the_loop_and_leaves_notices_in_the_outbox(tmp_path):
    # given a fresh instance folder and no configuration at all
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKBELL_", "SHOPIFY_", "SENDGRID_",
                                                                   "TWILIO_", "DATABASE_URL", "REDIS_URL"))}
    env.update(BACKBELL_INSTANCE=str(tmp_path / "instance"), BACKBELL_SHARED=str(SHARED))
    backbell = Path(sys.executable).parent / "backbell"

    # when
    result = subprocess.run([str(backbell), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)

    # then
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "GET /app → 200" in out
    assert "ADA.LOVELACE@GMAIL.COM (en) → 200 already_subscribed" in out
    assert "not-an-address@ (es) → 422" in out
    assert "Restock #1: 0 → 3 units" in out
    assert "3 notices written" in out
    assert "302 to https://backbell-demo.myshopify.com/products/aviator-sunglasses?variant=642667041472713922" in out
    outbox = tmp_path / "instance" / "demo" / "outbox" / "outbox.jsonl"
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert sorted(n["to"] for n in lines) == ["ada.lovelace@gmail.com", "chloe.martin@orange.fr",
                                             "kenji.sato@yahoo.co.jp"]
    assert all(CONTRACT_FIELDS <= set(n) for n in lines)
    assert {n["locale"] for n in lines} == {"en", "fr", "ja"}
    assert "ada.lovelace@gmail.com" not in result.stderr
