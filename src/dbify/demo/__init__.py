"""The sample database that ``dbify demo`` serves (a small shop; see ``sample.sql``)."""

from dbify.demo.database import DEMO_DATABASE_NAME, DemoDatabase, prepare_demo_database

__all__ = ["DEMO_DATABASE_NAME", "DemoDatabase", "prepare_demo_database"]
