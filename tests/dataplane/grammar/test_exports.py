"""The grammar package's public surface is exactly what ``__all__`` lists."""

from __future__ import annotations

import dbify.dataplane.grammar as grammar


def test_all_lists_the_public_names() -> None:
    assert grammar.__all__ == ["parse_request"]
    for name in grammar.__all__:
        assert callable(getattr(grammar, name))
