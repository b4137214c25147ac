"""A second factor: time-based one-time codes (TOTP, RFC 6238) from an authenticator app,
with single-use recovery codes for a lost device."""
