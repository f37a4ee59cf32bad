"""External systems behind small interfaces: each an embedded default plus real adapters.

``loader.py`` builds the configured adapter from the settings; nothing else chooses one.
"""

__all__: list[str] = []
