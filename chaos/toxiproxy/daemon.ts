// The same server as `halab toxiproxy`, as a standalone entry point that lab/stacks/node-files.ts
// bundles into a lab node (no npm, no commander there): node toxiproxy.mjs --listen HOST:PORT.
import { parseArgs } from 'node:util';
import { serveToxiproxy } from './serve.ts';

const { values } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:8474' }, config: { type: 'string' }, quiet: { type: 'boolean' } } });
serveToxiproxy({ listen: values.listen!, config: values.config, quiet: values.quiet }).catch((err: Error) => {
  process.stderr.write(`toxiproxy: ${err.message}\n`);
  process.exit(1);
});
