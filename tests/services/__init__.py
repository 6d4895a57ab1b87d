"""Foreign payment services for payrace's tests: real, independent targets written unlike
`reference_impl` (their own PostgreSQL schema, pre-forked workers, a leased reconciler), each
honouring only the three contract endpoints; `launch.running_own_service` starts one.

- `orders_threads`: stdlib ThreadingHTTPServer, raw psycopg, httpx, two-phase PaymentIntents.
- `charges_aiohttp`: aiohttp.web, async psycopg, the official stripe SDK, the Charges API.

They stand for a user's code: nothing here imports `harness` or `reference_impl` except the
launcher, which is a test helper.
"""
