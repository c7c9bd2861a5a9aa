"""`app.state` (`AppState`) keeps Starlette's `State` behaviour, with each value an attribute of
the object itself, so that reading one on every request needs no failed look-up first."""

from __future__ import annotations

import pytest

from app.main import AppState


def test_a_value_is_set_read_and_deleted_as_on_starlettes_state() -> None:
    state = AppState()

    state.clock = "the clock"
    state.clock = "another clock"

    assert state.clock == vars(state)["clock"] == state._state["clock"] == "another clock"
    del state.clock
    with pytest.raises(AttributeError):
        _ = state.clock
    assert "clock" not in state._state


def test_a_missing_value_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="'AppState' object has no attribute 'missing'"):
        _ = AppState().missing
