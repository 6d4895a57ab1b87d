// Core Stripe behaviours through stripe-node against payrace's stand-in; prints one JSON object.
'use strict';
const Stripe = require('stripe');

async function main() {
  const url = new URL(process.argv[2]);
  const stripe = new Stripe('sk_test_payrace', {
    host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0,
  });
  const out = {};
  const params = { amount: 1234, currency: 'usd', source: 'tok_visa', metadata: { payment_id: 'pay_node' } };
  const first = await stripe.charges.create(params, { idempotencyKey: 'node-key-1' });
  const again = await stripe.charges.create(params, { idempotencyKey: 'node-key-1' });
  out.created = first.id;
  out.replayed_same_id = again.id === first.id;
  out.replayed_header = again.lastResponse.headers['idempotent-replayed'] || null;
  try {
    await stripe.charges.create({ ...params, amount: 999 }, { idempotencyKey: 'node-key-1' });
    out.mismatch = 'accepted';
  } catch (err) {
    out.mismatch = `${err.statusCode} ${err.type}`;
  }
  try {
    await stripe.charges.create({ ...params, source: 'tok_chargeDeclined' });
    out.decline = 'accepted';
  } catch (err) {
    out.decline = `${err.statusCode} ${err.type} ${err.code}`;
  }
  const found = await stripe.charges.search({ query: "metadata['payment_id']:'pay_node'" });
  out.search = found.data.map((c) => [c.id, c.status]);
  const refund = await stripe.refunds.create({ charge: first.id });
  out.refund = `${refund.object} ${refund.amount} ${refund.status}`;
  const intent = await stripe.paymentIntents.create({
    amount: 500, currency: 'usd', payment_method: 'pm_card_visa', confirm: true,
    metadata: { payment_id: 'pay_node_pi' },
  }, { idempotencyKey: 'node-pi-1' });
  out.intent = intent.status;
  console.log(JSON.stringify(out));
}

main().catch((err) => { console.error(err); process.exit(1); });
