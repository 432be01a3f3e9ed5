import autocannon from 'autocannon';

/**
 * Load generator, run as its own process so it does not share an event loop
 * with the server it measures. Prints the autocannon summary as JSON.
 * argv: url authorization seconds connections
 */
const [url, authorization, seconds, connections] = process.argv.slice(2);
let n = 0;
const prefix = `${process.pid}-${Date.now()}`;

const result = await autocannon({
  url: url as string,
  method: 'PUT',
  connections: Number(connections ?? 16),
  duration: Number(seconds ?? 10),
  headers: { 'content-type': 'application/json', authorization: authorization ?? '' },
  requests: [
    {
      setupRequest: (request) => {
        n++;
        // Two out of three requests create a contact, one updates an earlier one.
        const id = n % 3 === 0 ? Math.max(1, n - 2) : n;
        return {
          ...request,
          body: JSON.stringify({
            email: `bench-${prefix}-${id}@example.com`,
            attributes: { first_name: 'Bench', plan: n % 2 ? 'pro' : 'free', visits: n },
            tags: ['bench'],
          }),
        };
      },
    },
  ],
});
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  })}\n`,
);
