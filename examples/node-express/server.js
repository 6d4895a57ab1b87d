// A payment service payrace has never seen: node:http, PostgreSQL through `pg`, Stripe through
// the official `stripe` package, and a reconciler with a lease. See README.md.
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { Pool } = require('pg');
const Stripe = require('stripe');

const MODE = process.env.MODE || 'correct'; // correct | flawed
if (!['correct', 'flawed'].includes(MODE)) {
  console.error(`MODE must be correct or flawed, got ${MODE}`);
  process.exit(2);
}
const LEASE_S = Number(process.env.LEASE_S || 1.5);
const stripeUrl = new URL(process.env.STRIPE_URL || 'http://127.0.0.1:12111');
// The one setting the SDK needs to talk to payrace's stand-in instead of Stripe.
const stripe = new Stripe(process.env.STRIPE_KEY || 'sk_test_payrace', {
  host: stripeUrl.hostname,
  port: Number(stripeUrl.port),
  protocol: stripeUrl.protocol.replace(':', ''),
  maxNetworkRetries: 0,
  timeout: Number(process.env.PROVIDER_TIMEOUT_MS || 1000),
});
const db = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
// A connection the database terminated is dropped from the pool, never the process.
db.on('error', () => {});

const SCHEMA = `CREATE TABLE IF NOT EXISTS node_payments (
  id text PRIMARY KEY, amount integer NOT NULL CHECK (amount > 0), currency text NOT NULL,
  customer text, status text NOT NULL DEFAULT 'pending', intent_id text, charge_id text,
  attempts integer NOT NULL DEFAULT 0, lease_until timestamptz)`;

function view(row) {
  return {
    id: row.id, status: row.status, charge_id: row.charge_id, amount: row.amount,
    currency: row.currency,
  };
}

// Two phases: the PaymentIntent is created (no money moves) and its id stored before it is
// confirmed, so whoever finishes the payment later can look it up instead of charging again.
async function drive(row) {
  const suffix = MODE === 'flawed' ? `-${row.attempts}` : '';
  let intentId = row.intent_id;
  if (!intentId || MODE === 'flawed') {
    // The flaw: every attempt creates (and confirms) a PaymentIntent of its own.
    const intent = await stripe.paymentIntents.create({
      amount: row.amount, currency: row.currency,
      payment_method: row.customer === 'decline' ? 'pm_card_chargeDeclined' : 'pm_card_visa',
      metadata: { payment_id: row.id },
    }, { idempotencyKey: `node-${row.id}-create${suffix}` });
    intentId = intent.id;
    await db.query('UPDATE node_payments SET intent_id = $1 WHERE id = $2', [intentId, row.id]);
  }
  let intent = await stripe.paymentIntents.retrieve(intentId);
  if (intent.status === 'requires_confirmation') {
    try {
      intent = await stripe.paymentIntents.confirm(
        intentId, {}, { idempotencyKey: `node-${row.id}-confirm${suffix}` });
    } catch (err) {
      if (err.type !== 'StripeCardError') throw err;
      intent = { status: 'requires_payment_method' };
    }
  }
  if (intent.status === 'succeeded') return { status: 'completed', charge: intentId };
  if (intent.status === 'requires_payment_method') return { status: 'failed', charge: null };
  return null; // not known yet: the lease brings it back
}

async function record(id, outcome) {
  const { rows } = await db.query(
    `UPDATE node_payments SET status = $1, charge_id = $2, lease_until = NULL
     WHERE id = $3 AND status = 'processing' RETURNING *`, [outcome.status, outcome.charge, id]);
  return rows[0];
}

async function charge(id) {
  const { rows } = await db.query(
    `UPDATE node_payments SET status = 'processing', attempts = attempts + 1,
     lease_until = clock_timestamp() + make_interval(secs => $2)
     WHERE id = $1 AND status = 'pending' RETURNING *`, [id, LEASE_S]);
  if (rows.length === 0) {
    const found = await db.query('SELECT * FROM node_payments WHERE id = $1', [id]);
    if (found.rows.length === 0) return [404, { error: { code: 'not_found' } }];
    return [409, { error: { code: 'already_processed', status: found.rows[0].status } }];
  }
  let outcome;
  try {
    outcome = await drive(rows[0]);
  } catch (err) {
    outcome = null; // a timeout, a reset, a 5xx: unknown, never "not charged"
  }
  if (outcome === null) return [202, { id, status: 'processing' }];
  const done = await record(id, outcome);
  if (outcome.status === 'failed') return [402, { error: { code: 'card_declined' } }];
  return [200, view(done)];
}

async function reconcile() {
  const { rows } = await db.query(
    `UPDATE node_payments SET lease_until = clock_timestamp() + make_interval(secs => $1),
     attempts = attempts + 1
     WHERE id IN (SELECT id FROM node_payments WHERE status = 'processing'
                  AND lease_until < clock_timestamp() FOR UPDATE SKIP LOCKED)
     RETURNING *`, [LEASE_S]);
  for (const row of rows) {
    try {
      const outcome = await drive(row);
      if (outcome !== null) await record(row.id, outcome);
    } catch (err) {
      // still unknown: the lease brings it back
    }
  }
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function route(req, raw) {
  const match = req.url.match(/^\/payments(?:\/([^/?]+))?(\/charge)?$/);
  if (!match) return [404, { error: { code: 'not_found' } }];
  const [, id, isCharge] = match;
  if (req.method === 'POST' && !id) {
    let body;
    try { body = JSON.parse(raw || '{}'); } catch (err) { body = null; }
    if (!body || !Number.isInteger(body.amount) || body.amount <= 0) {
      return [422, { error: { code: 'invalid_amount', message: 'amount must be an integer > 0' } }];
    }
    const { rows } = await db.query(
      `INSERT INTO node_payments (id, amount, currency, customer) VALUES ($1, $2, $3, $4)
       RETURNING *`,
      [`np_${crypto.randomUUID().replace(/-/g, '')}`, body.amount, body.currency || 'usd',
        body.customer ?? null]);
    return [201, view(rows[0])];
  }
  if (req.method === 'POST' && id && isCharge) return charge(id);
  if (req.method === 'GET' && id && !isCharge) {
    const { rows } = await db.query('SELECT * FROM node_payments WHERE id = $1', [id]);
    return rows.length ? [200, view(rows[0])] : [404, { error: { code: 'not_found' } }];
  }
  return [405, { error: { code: 'method_not_allowed' } }];
}

async function main() {
  await db.query(SCHEMA);
  setInterval(() => { reconcile().catch(() => {}); }, 200);
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => { raw += chunk; });
    req.on('end', () => {
      route(req, raw).then(([status, body]) => send(res, status, body)).catch((err) => {
        send(res, 503, { error: { code: 'unavailable', message: String(err.message || err) } });
      });
    });
  });
  server.listen(Number(process.env.PORT || 8000), '127.0.0.1', () => {
    console.log(`LISTENING http://127.0.0.1:${server.address().port} PID ${process.pid}`);
  });
  // Exit with whoever started us (payrace's tests hold a pipe on stdin).
  if (process.env.EXIT_WITH_STDIN) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
