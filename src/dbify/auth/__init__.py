"""Authentication: who is calling (API keys now; JWT and OAuth come with the auth issue)."""

from dbify.auth.api_keys import ApiKey, KeyRing, generate_api_key, hash_api_key
from dbify.auth.principal import Principal, authenticate

__all__ = ["ApiKey", "KeyRing", "Principal", "authenticate", "generate_api_key", "hash_api_key"]
