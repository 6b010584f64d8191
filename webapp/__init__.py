"""A server-rendered admin for async SQLAlchemy databases, and a demo app that uses it."""
