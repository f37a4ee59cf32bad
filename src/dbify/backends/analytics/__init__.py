"""Analytics stores: one Protocol, chDB embedded (default) and a ClickHouse server."""

from dbify.backends.analytics.base import AnalyticsStore, AnalyticsUnavailable, literal

__all__ = ["AnalyticsStore", "AnalyticsUnavailable", "literal"]
