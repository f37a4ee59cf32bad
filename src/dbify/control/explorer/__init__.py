"""The table explorer's API: a project's schema summary and a read-only row browser."""
