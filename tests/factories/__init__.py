"""Builders the tests share, one module per domain, each imported by its own name.

`accounts` (users, logins, a test's admin and buyer), `api_keys`, `sellers`, `catalog`
(categories, listings), `orders` (a test's market, cart, checkout, orders), `payments`
(balances, payouts, the books), `disputes` (returns, disputes), `reviews`, `conversations`,
`notifications`, `webhooks`, `audit`, `privacy` (exports, account deletion, a user with data in
every domain), `worker` (a sweep in the test's process), `races` (builders for tests on real
commits), `apps` (settings, and clients of apps of a test's own) and `cli` (the `marketplace`
command). `api` holds what every HTTP test speaks: JSON bodies, problem answers, money,
timestamps, idempotency keys.

A builder takes what it runs on (client, session, database, settings), or the one value a check
or converter works on (a response, a body, an amount), positionally; everything that says what
to build, or for whom, by keyword.
"""
