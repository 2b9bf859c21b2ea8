"""Webhooks: URLs that launch a run of a flow when another system posts JSON to them.

`receiving.py` answers `POST /hooks/<token>`; `signatures.py` checks a signed request (no Django);
`rate_limit.py` counts requests per trigger in Redis; `triggers.py` makes, rotates and revokes
triggers, and `trigger_views.py` is their section of the flow page.
"""
