import autocannon from 'autocannon';

/**
 * Load generator for the event ingestion benchmark, in its own process:
 * POSTs Segment-shaped batches of `size` track events to `path`, each event
 * with a new messageId (so every one is stored, none deduplicated) and a
 * userId among `users` existing external ids. Prints a JSON summary.
 * argv: origin path authorization seconds connections size users
 */
const [origin, path, authorization, seconds, connections, size, users] = process.argv.slice(2);
const batchSize = Number(size ?? 500);
const userCount = Number(users ?? 1000);
const run = `${process.pid}-${Date.now().toString(36)}`;
const names = ['Viewed Product', 'Viewed Product', 'Added to Cart', 'Order Completed', 'Page Viewed'];
let seq = 0;

function batch(): string {
  const events: string[] = [];
  for (let i = 0; i < batchSize; i++) {
    const n = seq++;
    const name = names[n % names.length];
    events.push(
      `{"type":"track","messageId":"${run}-${n}","userId":"u${1 + ((n * 7919) % userCount)}","event":"${name}",` +
        `"properties":{"sku":"SKU-${n % 977}","price":${(n % 300) + 0.99},"currency":"EUR"},` +
        `"context":{"library":{"name":"analytics-node","version":"2.0.0"}}}`,
    );
  }
  return `{"batch":[${events.join(',')}],"sentAt":"${new Date().toISOString()}"}`;
}

const result = await autocannon({
  url: `${origin}${path}`,
  method: 'POST',
  connections: Number(connections ?? 4),
  duration: Number(seconds ?? 10),
  headers: { authorization: authorization as string, 'content-type': 'application/json' },
  requests: [{ setupRequest: (request) => ({ ...request, body: batch() }) }],
});
const statuses: Record<string, number> = {};
for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0;
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    errors: result.errors,
    total: result.requests.total,
    statuses,
  })}\n`,
);
