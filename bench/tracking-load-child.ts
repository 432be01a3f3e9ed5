import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * Load generator for the tracking benchmark, in its own process: GETs the
 * paths listed in a file (one per line), round robin, without following
 * redirects. Prints a JSON summary with the count of each status.
 * argv: origin pathsFile seconds connections
 */
const [origin, pathsFile, seconds, connections] = process.argv.slice(2);
const paths = readFileSync(pathsFile as string, 'utf8')
  .split('\n')
  .filter(Boolean);
let n = 0;

const result = await autocannon({
  url: origin as string,
  method: 'GET',
  connections: Number(connections ?? 16),
  duration: Number(seconds ?? 10),
  headers: {
    'user-agent':
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  },
  requests: [
    {
      setupRequest: (request) => {
        const path = paths[n++ % paths.length] as string;
        return { ...request, path };
      },
    },
  ],
});
const statuses: Record<string, number> = {};
for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0;
const cpu = process.cpuUsage();
process.stdout.write(
  `${JSON.stringify({
    requestsPerSecond: result.requests.average,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    errors: result.errors,
    total: result.requests.total,
    statuses,
    // What driving the load cost this process per request, for the benchmark's account of the machine's CPU.
    loadCpuUs: (cpu.user + cpu.system) / Math.max(1, result.requests.total),
  })}\n`,
);
