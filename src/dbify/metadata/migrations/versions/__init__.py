"""The metadata store's migrations, one module per revision, applied in order by Alembic."""

__all__: list[str] = []
