// One request of a service's protocol from the node it runs in (deploy readiness, tests):
//   node nmt-check.mjs SERVICE IP [TIMEOUT_MS]  → prints the answering server, exit 1 on failure.
import { check, type ServiceKind } from './clients.ts';

const [service, ip, timeout] = process.argv.slice(2);
check(service as ServiceKind, ip ?? '', Number(timeout ?? 2000)).then(
  (server) => console.log(server),
  (e: Error) => {
    console.error(`${service} at ${ip}: ${(e as { code?: string }).code ?? e.message}`);
    process.exit(1);
  },
);
