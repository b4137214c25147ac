"""Accounts, sessions (JWT access + rotating refresh tokens) and roles."""
