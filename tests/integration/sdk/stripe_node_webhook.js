// Verify one stand-in webhook delivery with stripe-node; reads {payload, header, secret} on stdin.
'use strict';
const Stripe = require('stripe');

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { payload, header, secret } = JSON.parse(input);
  const stripe = new Stripe('sk_test_payrace');
  const event = stripe.webhooks.constructEvent(payload, header, secret);
  const out = { type: event.type, id: event.id };
  try {
    stripe.webhooks.constructEvent(payload.replace('"livemode":false', '"livemode":true'), header, secret);
    out.tampered = 'accepted';
  } catch (err) {
    out.tampered = err.type;
  }
  console.log(JSON.stringify(out));
});
