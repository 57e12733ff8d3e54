"""Database columns whose values are stored sealed under the node's storage key.

The :class:`Encrypted` column type encrypts on the way into the database and
decrypts on the way out, with the :class:`gateway.crypto.atrest.Cipher` that
:func:`attach` gave the engine (see ``gateway.store.database.Store``). The format
of a sealed value is gateway.crypto.atrest's.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from gateway.crypto.atrest import Cipher, Ciphertext, StoredPayloadError, is_sealed

__all__ = ["Encrypted", "attach", "cipher_of"]

_CIPHERS: weakref.WeakKeyDictionary[Dialect, Cipher] = weakref.WeakKeyDictionary()


def attach(engine: Engine, cipher: Cipher) -> None:
    """Let the :class:`Encrypted` columns of statements run on ``engine`` use ``cipher``.

    Call it before the engine runs its first statement.
    """
    _CIPHERS[engine.dialect] = cipher


def cipher_of(dialect: Dialect) -> Cipher | None:
    return _CIPHERS.get(dialect)


class Encrypted(TypeDecorator[str]):
    """Text stored sealed (see the module's text); read back as its plaintext.

    The cipher is looked up once per dialect, when SQLAlchemy first builds a
    statement's processors: :func:`attach` comes first.
    """

    impl = Text
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[str | None], str | None]:
        cipher = _CIPHERS.get(dialect)

        def seal(value: str | None) -> str | None:
            if not value:
                return value  # NULL, or a purged payload
            if type(value) is Ciphertext:
                return str(value)  # sealed ahead (Store.seal)
            if cipher is None:
                raise StoredPayloadError(
                    "a payload cannot be stored: this database connection has no storage key"
                )
            return cipher.seal_text(value)

        return seal

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], str | None]:
        cipher = _CIPHERS.get(dialect)
        if cipher is not None:
            open_ = cipher.open
            return lambda value: open_(value) if value else value

        def refuse_sealed(value: str | None) -> str | None:
            if value and is_sealed(value):
                raise StoredPayloadError(
                    "a stored payload cannot be read: this database connection has no storage key"
                )
            return value

        return refuse_sealed
