// Runs the Toxiproxy-compatible server in its own process for the benchmark (a real
// Toxiproxy is a separate daemon too). Prints {"url": ...} once listening; exits when
// stdin closes or on SIGTERM/SIGINT.
import { startToxiproxyServer } from '../../chaos/toxiproxy/server.ts';

const server = await startToxiproxyServer({ host: '127.0.0.1', port: 0 });
process.stdout.write(JSON.stringify({ url: server.url }) + '\n');
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
