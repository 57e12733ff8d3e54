"""The node's database: tables, engine, transactions, migrations, backups.

The tables (tables), the Store that opens the engine and runs transactions with
group commit on SQLite (database, groupcommit), advisory and file locks (locks),
columns stored sealed under the storage key (encrypted_columns), the Alembic
migrations that alone make and upgrade the schema (migrate, migrations/),
appending audit entries (audit_entries) and backups (backup).

It may import: gateway.crypto, gateway.tlog, the top-level modules, SQLAlchemy
and Alembic. Nothing above it: it knows no node configuration, peer or HTTP.
"""
