"""The one registry of event types (`app.messaging.events`) against what reads it and what
feeds it: notification rules, webhook subscriptions, and the events the state machines'
transitions name."""

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

import app
from app.core.events import EventType
from app.core.state import StateMachine
from app.messaging.events import ALL_EVENT_TYPES, PERSONAL_EVENT_TYPES, WEBHOOK_EVENT_TYPES
from app.messaging.notifications.rules import RULES, SILENT
from app.messaging.webhooks.events import read_scope_of

Machine = StateMachine[Any, Any, Any, Any]


def state_machines() -> list[Machine]:
    """Every domain's state machines (`app/<domain>/state.py`)."""
    found: list[Machine] = []
    for path in sorted(Path(app.__file__).parent.glob("*/state.py")):
        module = importlib.import_module(f"app.{path.parent.name}.state")
        found.extend(v for v in vars(module).values() if isinstance(v, StateMachine))
    return found


def events_named_by(machine: Machine) -> set[EventType]:
    """Every event a table may emit; an event computed from the reached state is asked of
    every state the machine has."""
    return {
        event
        for (state, action) in machine.table
        for reached in type(state)
        if (event := machine.event_of(state, action, reached)) is not None
    }


def test_event_names_are_unique_dotted_and_described() -> None:
    names = [event.value for event in ALL_EVENT_TYPES]
    assert len(names) == len(set(names))
    for event in ALL_EVENT_TYPES:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", event.value), event
        assert event.description, event


def test_every_event_is_notified_or_explicitly_silent() -> None:
    registered = set(ALL_EVENT_TYPES)
    assert set(RULES) <= registered, set(RULES) - registered
    assert registered >= SILENT, SILENT - registered
    assert not SILENT & set(RULES), "an event is either notified or silent"
    assert set(RULES) | SILENT == registered, registered - set(RULES) - SILENT


@pytest.mark.parametrize("machine", state_machines(), ids=lambda m: m.name)
def test_every_transition_names_a_registered_event(machine: Machine) -> None:
    assert events_named_by(machine) <= set(ALL_EVENT_TYPES)


def test_the_state_machines_are_found() -> None:
    names = {machine.name for machine in state_machines()}
    assert {"order", "return", "dispute", "listing"} <= names


def test_webhooks_offer_every_event_but_the_personal_ones() -> None:
    """A new API key and a report's outcome are told to one person and name no shop."""
    personal = set(PERSONAL_EVENT_TYPES)
    assert {"api_key.created", "listing_report.dismissed", "listing_report.upheld"} <= personal
    assert list(WEBHOOK_EVENT_TYPES) == [e for e in ALL_EVENT_TYPES if e not in personal]
    for event in WEBHOOK_EVENT_TYPES:
        assert read_scope_of(event).endswith(":read"), event


def test_every_rule_has_a_body_that_always_renders_and_a_link() -> None:
    """Each rule's last wording names only what its event always carries, so a body never
    falls back to the title; the seller hears of an order once it is paid, not created."""
    from app.messaging.notifications.service import render_body

    always = {
        "total": {"amount": 1500, "currency": "USD"},
        "amount": {"amount": 1350, "currency": "USD"},
        "title": "Film camera",
        "quantity": 2,
        "name": "CI",
        "prefix": "mk_live_ab",
    }
    for event_type, rule in RULES.items():
        body = render_body(rule, always)
        assert body, event_type
        assert "{" not in body, event_type
        assert body != rule.title, event_type
        assert rule.link.key.endswith("_id"), event_type
    assert "order.created" in SILENT
    assert RULES["order.paid"].audience == "seller"
